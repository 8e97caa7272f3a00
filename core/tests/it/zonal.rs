//! Memory-bounded zonal statistics (raster read in strips) equal the in-memory computation bit for
//! bit, for every statistic, on polygons that span many strips.

use crate::common::*;
use landopp::raster::GeoTiff;
use landopp::zonal::{zonal_stats, zonal_stats_file, Stat, ZonalOptions};
use landopp::{Parcels, Raster};
use std::path::Path;

fn all_stats() -> Vec<Stat> {
    ["count", "sum", "mean", "min", "max", "stdev", "median", "quantile(q=0.1)", "majority", "minority", "variety"]
        .iter()
        .map(|s| Stat::parse(s).unwrap())
        .collect()
}

fn check(raster: &Path, polygons: &Path, budgets: &[usize]) {
    let p = Parcels::read(polygons, None, None).unwrap();
    let mem = Raster::read(raster).unwrap();
    let src = GeoTiff::open(raster).unwrap();
    let opts = ZonalOptions { stats: all_stats(), ..Default::default() };
    let expected = zonal_stats(&mem, &p.geometries, p.crs.as_ref(), &opts).unwrap();
    for &cells in budgets {
        let got = zonal_stats_file(&src, &p.geometries, p.crs.as_ref(), &opts, cells).unwrap();
        assert_eq!(got.columns.len(), expected.columns.len());
        for ((name, a), (name_b, b)) in got.columns.iter().zip(&expected.columns) {
            assert_eq!(name, name_b);
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert!(
                    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                    "{} max_cells {cells}: {name}[{i}] {x} != {y}",
                    raster.display()
                );
            }
        }
    }
}

#[test]
fn strips_equal_in_memory_on_fixtures() {
    // 20- and 18-row strips; tracts reprojected from EPSG:4674 to UTM
    check(&fixture("slovenia/dem.tif"), &fixture("slovenia/lulc_polygons.gpkg"), &[1, 2_000, 1 << 30]);
    check(&fixture("olinda/srtm_dem_utm25s.tif"), &fixture("olinda/olinda_census_tracts.gpkg"), &[1, 5_000]);
}

#[test]
fn strips_equal_in_memory_on_bangor() {
    let Some(s) = shared() else { return };
    let b = s.join("bangor_me");
    // 256-row blocks: one block row per strip, and two
    check(&b.join("dem_tin_from_spot_elevations_10m_DERIVED.tif"), &b.join("parcels.gpkg"), &[1, 600_000]);
}

#[test]
fn streamed_zonal_errors() {
    let p = Parcels::read(fixture("slovenia/lulc_polygons.gpkg"), None, None).unwrap();
    let src = GeoTiff::open(fixture("slovenia/dem.tif")).unwrap();
    let opts = ZonalOptions { band: 4, ..Default::default() };
    let e = zonal_stats_file(&src, &p.geometries, p.crs.as_ref(), &opts, 1000).unwrap_err();
    assert_eq!(e.code(), "NOT_FOUND");
    let opts = ZonalOptions { band: 0, ..Default::default() };
    let e = zonal_stats_file(&src, &p.geometries, p.crs.as_ref(), &opts, 1000).unwrap_err();
    assert_eq!(e.code(), "INVALID_INPUT");
    let opts = ZonalOptions { stats: vec![], ..Default::default() };
    let e = zonal_stats_file(&src, &p.geometries, p.crs.as_ref(), &opts, 1000).unwrap_err();
    assert_eq!(e.code(), "INVALID_INPUT");
    // empty polygon layer: empty columns, no error
    let opts = ZonalOptions::default();
    let r = zonal_stats_file(&src, &[], p.crs.as_ref(), &opts, 1000).unwrap();
    assert!(r.columns.iter().all(|c| c.1.is_empty()));
}

fn ring(v: &serde_json::Value) -> landopp::geo_types::Polygon<f64> {
    let pts: Vec<(f64, f64)> =
        v.as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap())).collect();
    landopp::geo_types::Polygon::new(pts.into(), vec![])
}

/// Cells a polygon covers by a sliver (1e-7 .. 1e-12 of their area) count, as in exactextract,
/// whose default minimum coverage keeps any positive area: min / max / variety / majority /
/// minority equal exactextract's (`fixtures/expected/edge_cases.json`, make_edge_cases.py).
/// Cells were dropped below 1e-12 of coverage before.
#[test]
fn sliver_cells_count_like_exactextract() {
    let exp = expected("edge_cases.json");
    let dem = Raster::read(fixture("slovenia/dem.tif")).unwrap();
    let names = ["count", "min", "max", "variety", "majority", "minority"];
    let stats: Vec<Stat> = names.iter().map(|s| Stat::parse(s).unwrap()).collect();
    let opts = ZonalOptions { stats, ..Default::default() };
    let cases = exp["zonal_slivers"]["cases"].as_array().unwrap();
    let polys: Vec<_> = cases.iter().map(|c| landopp::geo_types::MultiPolygon(vec![ring(&c["ring"])])).collect();
    let r = zonal_stats(&dem, &polys, dem.crs.as_ref(), &opts).unwrap();
    for (i, c) in cases.iter().enumerate() {
        for name in names {
            let (got, want) = (r.column(name).unwrap()[i], c["values"][name].as_f64().unwrap());
            // exactextract keeps coverage fractions as float32
            let tol = if name == "count" { 1e-7 * want } else { 0.0 };
            assert!(
                (got - want).abs() <= tol,
                "sliver {} {}: {name} {got} vs exactextract {want}",
                c["sliver"],
                c["side"]
            );
        }
    }
}
