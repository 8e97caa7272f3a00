//! Terrain, exact zonal statistics, spectral indices and the feature pipeline on real data
//! (shared data when present, bundled fixtures otherwise).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
use landopp::zonal::{zonal_stats, Stat, ZonalOptions};
use landopp::{Parcels, Raster};
use landopp_benches::{fixtures, shared_data};
use std::hint::black_box;

fn terrain_bench(c: &mut Criterion) {
    let dem_path = shared_data()
        .map(|s| s.join("dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif"))
        .unwrap_or_else(|| fixtures().join("slovenia/dem.tif"));
    let mut dem = Raster::read(&dem_path).expect("dem");
    dem.crs = landopp::Crs::from_epsg(32632).ok(); // metric grid: the projected code path
    let mut g = c.benchmark_group("terrain");
    g.throughput(Throughput::Elements((dem.width() * dem.height()) as u64));
    for p in [TerrainProduct::SlopeDegrees, TerrainProduct::Aspect, TerrainProduct::Tri] {
        g.bench_function(format!("{p:?}"), |b| {
            b.iter(|| black_box(terrain(&dem, p, &TerrainOptions::default()).expect("terrain")))
        });
    }
    // file to file, streamed (read + compute + write, uncompressed)
    let out = std::env::temp_dir().join(format!("landopp-bench-slope-{}.tif", std::process::id()));
    let wopts =
        landopp::raster::GeoTiffWriteOptions { compression: landopp::raster::Compression::None, ..Default::default() };
    g.bench_function("terrain_file_slope", |b| {
        b.iter(|| {
            landopp::terrain::terrain_file(
                &dem_path,
                &out,
                TerrainProduct::SlopeDegrees,
                &TerrainOptions::default(),
                &wopts,
            )
            .expect("terrain_file")
        })
    });
    let _ = std::fs::remove_file(&out);
    g.finish();
}

fn zonal_bench(c: &mut Criterion) {
    let (r, p) = match shared_data() {
        Some(s) => (
            s.join("bangor_me/dem_tin_from_spot_elevations_10m_DERIVED.tif"),
            Parcels::read(s.join("bangor_me/parcels.gpkg"), None, None).expect("parcels"),
        ),
        None => (
            fixtures().join("slovenia/dem.tif"),
            Parcels::read(fixtures().join("slovenia/lulc_polygons.gpkg"), None, None).expect("p"),
        ),
    };
    let r_path = r;
    let r = Raster::read(&r_path).expect("raster");
    let p = p.to_crs(r.crs.as_ref().expect("crs")).expect("reproject");
    let mut g = c.benchmark_group("zonal");
    g.throughput(Throughput::Elements(p.len() as u64));
    let opts =
        ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Min, Stat::Max, Stat::Stdev], ..Default::default() };
    g.bench_function("parcels_x_dem", |b| {
        b.iter(|| black_box(zonal_stats(&r, &p.geometries, p.crs.as_ref(), &opts).expect("zonal")))
    });
    // raster-sequential from the file, one 256-row block strip at a time
    let src = landopp::raster::GeoTiff::open(&r_path).expect("geotiff");
    g.bench_function("parcels_x_dem_file_strips", |b| {
        b.iter(|| {
            black_box(
                landopp::zonal::zonal_stats_file(&src, &p.geometries, p.crs.as_ref(), &opts, 1).expect("zonal file"),
            )
        })
    });
    g.finish();
}

fn spectral_bench(c: &mut Criterion) {
    use landopp::spectral::{index_rasters, ImageryOptions, Sensor};
    let Some(s) = shared_data() else { return };
    let d = s.join("sentinel2_l2a_29RKH_2020-02-19");
    let mut bands = std::collections::BTreeMap::new();
    for (k, f) in [("B", "B02"), ("G", "B03"), ("R", "B04"), ("N", "B08")] {
        bands.insert(k.to_string(), Raster::read(d.join(format!("{f}.tif"))).expect("band"));
    }
    let scl = Raster::read(d.join("SCL.tif")).expect("scl");
    let opts = ImageryOptions {
        sensor: Sensor::sentinel2_l2a("02.14").expect("a baseline"),
        scl: Some((&scl).into()),
        ..Default::default()
    };
    let n = bands["N"].width() * bands["N"].height();
    let mut g = c.benchmark_group("spectral");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("ndvi_ndwi_savi_evi_scl", |b| {
        b.iter(|| black_box(index_rasters(&bands, &["NDVI", "NDWI", "SAVI", "EVI"], &opts).expect("indices")))
    });
    // the same into outputs allocated once (numpy's out=): no page faults on fresh memory
    let views: std::collections::BTreeMap<String, (landopp::BandView<'_>, Option<f64>)> = bands
        .iter()
        .map(|(k, r)| (k.clone(), (r.band(0).expect("band").view().expect("contiguous"), r.nodata)))
        .collect();
    let first = &bands["N"];
    let grid = landopp::spectral::BandGrid {
        width: first.width(),
        height: first.height(),
        transform: first.transform,
        crs: first.crs.clone(),
    };
    let mut outs = vec![vec![0f32; n]; 4];
    g.bench_function("ndvi_ndwi_savi_evi_scl_into", |b| {
        b.iter(|| {
            let mut o: Vec<&mut [f32]> = outs.iter_mut().map(|v| v.as_mut_slice()).collect();
            landopp::spectral::index_views_into(&views, &grid, &["NDVI", "NDWI", "SAVI", "EVI"], &opts, &mut o)
                .expect("indices");
            black_box(&o);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(std::time::Duration::from_secs(1));
    targets = terrain_bench, zonal_bench, spectral_bench
}
criterion_main!(benches);
