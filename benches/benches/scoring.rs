//! Scoring, re-weighting and search on 1,064,300 parcels: the real Bangor parcels and features
//! replicated 100× (10 × 10 copies of the city, 15 km apart) at bench time.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use landopp::pipeline::FeatureSpec;
use landopp::scoring::{score, Profile};
use landopp::search::{Aoi, Filter, Query, SearchIndex};
use landopp::{FeatureTable, Parcels};
use landopp_benches::shared_data;
use std::hint::black_box;
use std::time::Instant;

const COLS: [&str; 10] = [
    "slope_mean",
    "area_acres",
    "road_distance_m",
    "stream_distance_m",
    "polsby_popper",
    "mrr_fill",
    "elev_mean",
    "wetland_any_share",
    "sfha_in_share",
    "slope_share_le_15",
];

fn replicated() -> Option<(Parcels, FeatureTable)> {
    let _ = shared_data()?;
    let spec =
        FeatureSpec::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compare/city_features.json")).ok()?;
    let base = spec.run(&|_| {}).ok()?;
    let parcels = landopp_benches::replicate_parcels(&spec.parcels.path, spec.parcels.id_field.as_deref(), 100).ok()?;
    let ids = parcels.ids.clone();
    let mut t = FeatureTable::new(ids);
    for c in COLS {
        let v = &base.column(c).ok()?.values;
        t.add_column(c, (0..100).flat_map(|_| v.iter().copied()).collect(), Default::default()).ok()?;
    }
    Some((parcels, t))
}

fn profile(w: [f64; 10]) -> Profile {
    let b = [
        (0.0, 15.0, false),
        (0.0, 50.0, true),
        (0.0, 1000.0, false),
        (0.0, 2000.0, true),
        (0.0, 1.0, true),
        (0.0, 1.0, true),
        (0.0, 100.0, true),
        (0.0, 1.0, false),
        (0.0, 1.0, false),
        (0.0, 1.0, true),
    ];
    let crit: Vec<String> = COLS
        .iter()
        .zip(b)
        .zip(w)
        .map(|((c, (lo, hi, benefit)), w)| {
            format!(
                r#"{{"column": "{c}", "weight": {w}, "transform": {{"type": "{}", "min": {lo}, "max": {hi}}}}}"#,
                if benefit { "linear_benefit" } else { "linear_cost" }
            )
        })
        .collect();
    Profile::parse(&format!(
        r#"{{"version": 1, "criteria": [{}], "constraints": [{{"code": "SLOPE_GT_15", "column": "slope_mean", "op": ">", "value": 15}}], "method": {{"type": "weighted_sum"}}}}"#,
        crit.join(",")
    ))
    .expect("profile")
}

fn bench(c: &mut Criterion) {
    let Some((parcels, table)) = replicated() else {
        eprintln!("SKIPPED: scoring benches need ../shared/data");
        return;
    };
    let n = table.len();
    let p1 = profile([3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.5]);
    let p2 = profile([1.0, 3.0, 1.0, 1.0, 2.0, 1.0, 0.5, 1.0, 1.0, 0.5]);
    let mut g = c.benchmark_group("scoring_1m");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("weighted_sum_10_criteria", |b| b.iter(|| black_box(score(&table, &p1).expect("score"))));
    let mut topsis = p1.clone();
    topsis.method = landopp::scoring::Method::Topsis { normalization: Default::default() };
    g.bench_function("topsis_10_criteria", |b| b.iter(|| black_box(score(&table, &topsis).expect("score"))));
    g.finish();

    let t0 = Instant::now();
    let mut idx = SearchIndex::build(&parcels, table.clone(), Some(&p1)).expect("index");
    eprintln!("index build (incl. scoring) for {n} parcels: {:.3} s", t0.elapsed().as_secs_f64());
    let mut g = c.benchmark_group("search_1m");
    g.sample_size(10);
    g.bench_function("reweight_rerank", |b| b.iter(|| idx.rescore(&p2).expect("rescore")));
    idx.rescore(&p1).expect("rescore");
    g.finish();

    // latency percentiles of 1,000 queries at random places (deterministic)
    for (label, size) in [("2 km bbox + 2 filters + top 100", 2_000.0), ("10 km bbox + 2 filters + top 100", 10_000.0)]
    {
        let mut lat = Vec::with_capacity(1000);
        let mut s: u64 = 42;
        let mut hits = 0usize;
        for _ in 0..1000 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let fx = (s >> 11) as f64 / (1u64 << 53) as f64;
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let fy = (s >> 11) as f64 / (1u64 << 53) as f64;
            let (x0, y0) = (505_000.0 + fx * 150_000.0, 4_955_000.0 + fy * 150_000.0);
            let q = Query {
                aoi: Some(Aoi::Bbox([x0, y0, x0 + size, y0 + size])),
                filters: vec![
                    Filter { column: "slope_mean".into(), min: None, max: Some(10.0), any_of: None },
                    Filter { column: "area_acres".into(), min: Some(0.25), max: None, any_of: None },
                ],
                limit: 100,
                ..Default::default()
            };
            let t = Instant::now();
            let page = idx.query(&q).expect("query");
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            hits += page.total;
        }
        lat.sort_by(f64::total_cmp);
        eprintln!(
            "search {label} on {n} parcels: p50 {:.3} ms, p99 {:.3} ms (mean candidates after filters {:.0})",
            lat[500],
            lat[990],
            hits as f64 / 1000.0
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
