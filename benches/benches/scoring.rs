//! Scoring, re-weighting and search on 1,064,300 parcels: the real Bangor parcels and features
//! replicated 100× (10 × 10 copies of the city, 15 km apart) at bench time.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use landopp::scoring::score;
use landopp::search::{Aoi, Filter, Query, SearchIndex};
use landopp_benches::{bangor_x100, bench_profile};
use std::hint::black_box;
use std::time::Instant;

fn bench(c: &mut Criterion) {
    let Some((parcels, table)) = bangor_x100() else {
        eprintln!("SKIPPED: scoring benches need ../shared/data");
        return;
    };
    let n = table.len();
    let p1 = bench_profile([3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.5]);
    let p2 = bench_profile([1.0, 3.0, 1.0, 1.0, 2.0, 1.0, 0.5, 1.0, 1.0, 0.5]);
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
