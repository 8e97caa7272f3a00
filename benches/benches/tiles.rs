//! Map tiles on 1,064,300 parcels (Bangor's real parcels and features replicated 100×): parcel
//! vector tiles at zoom 14 and the zoom 10 overview, score PNG tiles at zoom 10 (the dashboard's
//! overview), the detail zoom, and hillshade tiles from Bangor's 10 m DEM.
//! Besides criterion's figures for one tile of each kind, prints p50 / p95 over 200 tiles at
//! deterministic random places (the targets are p95 figures).

use criterion::{criterion_group, criterion_main, Criterion};
use landopp::crs::{Crs, Transformer};
use landopp::search::SearchIndex;
use landopp::terrain::TerrainOptions;
use landopp::tiles::{hillshade_tile, tile_of, ParcelTileOptions, ScoreTileOptions, TileId};
use landopp::Raster;
use landopp_benches::{bangor_x100, bench_profile, shared_data};
use std::hint::black_box;
use std::time::Instant;

/// `n` tiles at zoom `z` whose centres fall at random in `area` (UTM 19N), deterministic.
fn tiles(area: [f64; 4], z: u32, n: usize, seed: u64) -> Vec<TileId> {
    let t = Transformer::new(&Crs::from_epsg(26919).expect("crs"), &Crs::wgs84()).expect("transformer");
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| {
            let (x, y) = (area[0] + next() * (area[2] - area[0]), area[1] + next() * (area[3] - area[1]));
            let (lon, lat) = t.transform_point(x, y).expect("point");
            tile_of(lon, lat, z).expect("tile")
        })
        .collect()
}

fn percentiles(label: &str, mut ms: Vec<f64>, extra: &str) {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "{label}: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} tiles{extra}",
        p(0.5),
        p(0.95),
        p(1.0),
        ms.len()
    );
}

fn bench(c: &mut Criterion) {
    let Some((parcels, table)) = bangor_x100() else {
        eprintln!("SKIPPED: tile benches need ../shared/data");
        return;
    };
    let profile = bench_profile([3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0, 1.5]);
    let idx = SearchIndex::from_parcels(parcels, table, Some(&profile)).expect("index");
    let scores = landopp::scoring::score(idx.features(), &profile).expect("scores");
    let opts = ParcelTileOptions {
        columns: landopp_benches::COLS.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    // the replicated city: copies of Bangor on a 10 × 10 grid 15 km apart
    let area = [505_000.0, 4_955_000.0, 655_000.0, 5_105_000.0];
    for (z, n) in [(14, 200), (10, 100)] {
        let mut ms = Vec::new();
        let (mut bytes, mut feats) = (0usize, 0usize);
        for t in tiles(area, z, n, 7 + u64::from(z)) {
            let t0 = Instant::now();
            let b = idx.parcel_tile(t, Some(&scores), &opts).expect("tile");
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
            bytes += b.len();
            feats += b.len().min(1);
        }
        percentiles(
            &format!("parcel tile z{z} (1 M parcels, 10 criteria as properties)"),
            ms,
            &format!(", mean {:.0} kB, {feats} non-empty", bytes as f64 / n as f64 / 1e3),
        );
    }
    let so = ScoreTileOptions::default();
    let mut ms = Vec::new();
    for t in tiles(area, 10, 100, 17) {
        let t0 = Instant::now();
        black_box(idx.score_png(t, &scores, &so).expect("tile"));
        ms.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    percentiles("score PNG tile z10 (1 M parcels, every parcel painted)", ms, "");
    let t0 = Instant::now();
    let dz = idx.detail_zoom(2_000).expect("zoom");
    eprintln!("detail zoom (≤ 2,000 parcels a tile): {dz}, in {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    let busy = |z: u32| {
        tiles(area, z, 50, 99)
            .into_iter()
            .max_by_key(|t| idx.parcel_tile(*t, Some(&scores), &opts).map(|b| b.len()).unwrap_or(0))
            .expect("tile")
    };
    let (t14, t10) = (busy(14), busy(10));
    let mut g = c.benchmark_group("tiles_1m");
    g.bench_function("parcel_tile_z14_busiest_of_50", |b| {
        b.iter(|| black_box(idx.parcel_tile(t14, Some(&scores), &opts).expect("tile")))
    });
    g.bench_function("parcel_tile_z10_busiest_of_50", |b| {
        b.iter(|| black_box(idx.parcel_tile(t10, Some(&scores), &opts).expect("tile")))
    });
    g.bench_function("score_png_z10_busiest_of_50", |b| {
        b.iter(|| black_box(idx.score_png(t10, &scores, &so).expect("tile")))
    });
    let dem = shared_data().map(|d| d.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"));
    if let Some(dem) = dem.and_then(|p| Raster::read(p).ok()) {
        let b = dem.bounds();
        let t = Transformer::new(dem.crs.as_ref().expect("crs"), &Crs::from_epsg(26919).expect("crs")).expect("t");
        let (x0, y0) = t.transform_point(b[0], b[1]).expect("p");
        let (x1, y1) = t.transform_point(b[2], b[3]).expect("p");
        let o = TerrainOptions::default();
        let list = tiles([x0, y0, x1, y1], 14, 200, 3);
        let mut ms = Vec::new();
        for tile in &list {
            let t0 = Instant::now();
            black_box(hillshade_tile(&dem, *tile, &o).expect("tile"));
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        percentiles("hillshade tile z14 (Bangor 10 m DEM, warp + gdaldem hillshade)", ms, "");
        let one = list[0];
        g.bench_function("hillshade_tile_z14", |b| b.iter(|| black_box(hillshade_tile(&dem, one, &o).expect("tile"))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
