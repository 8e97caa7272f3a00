//! GeoTIFF and GeoPackage reading on the real shared data (fixtures when it is absent).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use landopp::vector::{read_layer, ReadOptions};
use landopp::GeoTiff;
use landopp_benches::{fixtures, shared_data};
use std::hint::black_box;

fn geotiff(c: &mut Criterion) {
    let mut g = c.benchmark_group("geotiff_read");
    let files = match shared_data() {
        Some(s) => vec![
            s.join("dem_sao_tome_copernicus30m/copernicus_dem_glo30_sao_tome.tif"),
            s.join("dem_new_zealand_1km/nz_elev.tif"),
            s.join("sentinel2_l2a_29RKH_2020-02-19/B04.tif"),
        ],
        None => vec![fixtures().join("jacksboro/jacksboro_fault_dem.tif")],
    };
    for f in files {
        let t = GeoTiff::open(&f).expect("open");
        g.throughput(Throughput::Elements((t.width() * t.height() * t.band_count()) as u64));
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("tif").to_string();
        g.bench_function(&name, |b| b.iter(|| black_box(GeoTiff::open(&f).and_then(|t| t.read()).expect("read"))));
    }
    g.finish();
}

fn geopackage(c: &mut Criterion) {
    let mut g = c.benchmark_group("geopackage_read");
    let files = match shared_data() {
        Some(s) => vec![s.join("bangor_me/parcels.gpkg"), s.join("bangor_me/roads.gpkg")],
        None => vec![fixtures().join("olinda/olinda_census_tracts.gpkg")],
    };
    for f in files {
        let n = read_layer(&f, &ReadOptions::default()).expect("read").len();
        g.throughput(Throughput::Elements(n as u64));
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("gpkg").to_string();
        g.bench_function(&name, |b| b.iter(|| black_box(read_layer(&f, &ReadOptions::default()).expect("read"))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).warm_up_time(std::time::Duration::from_secs(1));
    targets = geotiff, geopackage
}
criterion_main!(benches);
