use crate::common::*;
use landopp::vector::{read_layer, ReadOptions};
use landopp::{Crs, Parcels, Raster};
use std::io::Write;

/// Bad inputs fail with their stable code, as listed in fixtures/expected/errors.json (the same
/// file the Python and Node suites assert).
#[test]
fn error_codes_from_shared_list() {
    let dir = tempfile::tempdir().unwrap();
    let cases = landopp_error_cases(dir.path());
    let exp = expected("errors.json");
    for case in exp.as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let code = case["code"].as_str().unwrap();
        let f = cases.iter().find(|c| c.0 == name).unwrap_or_else(|| panic!("no Rust case for {name}"));
        let err = (f.1)().expect_err(name);
        assert_eq!(err.code(), code, "{name}: {err}");
        assert!(!err.to_string().is_empty());
    }
}

type Case = (&'static str, Box<dyn Fn() -> Result<(), landopp::Error>>);

fn landopp_error_cases(dir: &std::path::Path) -> Vec<Case> {
    let truncated = dir.join("truncated.tif");
    let bytes = std::fs::read(fixture("jacksboro/jacksboro_fault_dem.tif")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let corrupt = dir.join("corrupt.gpkg");
    let mut g = std::fs::read(fixture("slovenia/lulc_polygons.gpkg")).unwrap();
    for b in g.iter_mut().skip(100).take(4000) {
        *b = 0xA5;
    }
    std::fs::write(&corrupt, &g).unwrap();
    let empty = dir.join("empty.geojson");
    std::fs::write(&empty, r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
    let nan = dir.join("nan.gpkg");
    {
        // A polygon with a NaN vertex (GeoJSON cannot hold NaN; WKB can).
        let l = landopp::VectorLayer {
            name: "nan".into(),
            crs: Some(Crs::from_epsg(32633).unwrap()),
            fids: vec![1],
            geometries: vec![Some(landopp::geo_types::Geometry::Polygon(landopp::geo_types::Polygon::new(
                vec![(0.0, 0.0), (f64::NAN, 1.0), (1.0, 1.0), (0.0, 0.0)].into(),
                vec![],
            )))],
            columns: vec![],
            geometry_type: "POLYGON".into(),
        };
        landopp::vector::write_layer(&nan, &l).unwrap();
    }
    let mut f = std::fs::File::create(dir.join("not_a_tiff.tif")).unwrap();
    f.write_all(b"hello world, not a tiff").unwrap();
    let not_tiff = dir.join("not_a_tiff.tif");
    vec![
        ("missing_file", Box::new(|| Raster::read("/nonexistent/dem.tif").map(|_| ()))),
        ("missing_vector", Box::new(|| read_layer("/nonexistent/parcels.gpkg", &ReadOptions::default()).map(|_| ()))),
        ("truncated_tiff", Box::new(move || Raster::read(&truncated).map(|_| ()))),
        ("not_a_tiff", Box::new(move || Raster::read(&not_tiff).map(|_| ()))),
        ("corrupt_gpkg", Box::new(move || read_layer(&corrupt, &ReadOptions::default()).map(|_| ()))),
        ("unsupported_compression", Box::new(|| Raster::read(fixture("formats/unsupported_jpeg.tif")).map(|_| ()))),
        (
            "unknown_layer",
            Box::new(|| {
                read_layer(fixture("slovenia/lulc_polygons.gpkg"), &ReadOptions { layer: Some("nope".into()) })
                    .map(|_| ())
            }),
        ),
        ("unknown_epsg", Box::new(|| Crs::from_user_input("EPSG:99999").map(|_| ()))),
        ("empty_layer", Box::new(move || Parcels::read(&empty, None, None).map(|_| ()))),
        ("nan_coordinates", Box::new(move || Parcels::read(&nan, None, None).map(|_| ()))),
        (
            "unknown_id_field",
            Box::new(|| Parcels::read(fixture("slovenia/lulc_polygons.gpkg"), None, Some("NOPE")).map(|_| ())),
        ),
        (
            "lines_as_parcels",
            Box::new(|| {
                let l = read_layer(fixture("formats/olinda_tracts.shp"), &ReadOptions::default())?;
                let mut l = l;
                l.geometries[0] = Some(landopp::geo_types::Geometry::LineString(vec![(0.0, 0.0), (1.0, 1.0)].into()));
                Parcels::from_layer(l, None).map(|_| ())
            }),
        ),
        (
            "unsupported_vector_format",
            Box::new(|| read_layer(fixture("slovenia/dem.tif"), &ReadOptions::default()).map(|_| ())),
        ),
    ]
}

/// Values that used to be accepted and then gave garbage (issue: "values accepted that should be
/// refused"): absurd but finite weights score like their ratios, all-zero OWA weights and
/// negative radii are refused, NaN polygon vertices are `INVALID_GEOMETRY`, not NaN statistics.
#[test]
fn absurd_values_are_refused_or_handled() {
    use landopp::scoring::{score, Profile};
    let mut t = landopp::FeatureTable::new((0..5).map(|i| i.to_string()).collect());
    t.add_column("a", vec![0.0, 1.0, 2.0, 3.0, 4.0], Default::default()).unwrap();
    t.add_column("b", vec![4.0, 0.0, 3.0, 1.0, 2.0], Default::default()).unwrap();
    let profile = |wa: f64, wb: f64, method: &str| {
        Profile::parse(&format!(
            r#"{{"version": 1, "method": {method},
                "criteria": [{{"column": "a", "weight": {wa:e}, "transform": {{"type": "linear_benefit", "min": 0, "max": 4}}}},
                             {{"column": "b", "weight": {wb:e}, "transform": {{"type": "linear_benefit", "min": 0, "max": 4}}}}]}}"#
        ))
    };
    let ws = r#"{"type": "weighted_sum"}"#;
    // weights of 1e308 used to overflow their sum (every score 0): they score like 1 : 1.5
    let small = score(&t, &profile(1.0, 1.5, ws).unwrap()).unwrap();
    let huge = score(&t, &profile(1e308, 1.5e308, ws).unwrap()).unwrap();
    for (a, b) in huge.score.iter().zip(&small.score) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
    assert!(small.score.iter().any(|s| *s > 0.0));
    assert_eq!(profile(0.0, 0.0, ws).unwrap_err().code(), "INVALID_INPUT");
    let owa = |w: &str| profile(1.0, 1.0, &format!(r#"{{"type": "owa", "order_weights": {w}}}"#));
    assert_eq!(owa("[0, 0]").unwrap_err().code(), "INVALID_INPUT");
    let big = score(&t, &owa("[1e308, 1e308]").unwrap()).unwrap();
    let unit = score(&t, &owa("[1, 1]").unwrap()).unwrap();
    for (a, b) in big.score.iter().zip(&unit.score) {
        assert!((a - b).abs() < 1e-12, "OWA {a} vs {b}");
    }
    // a negative proximity radius: refused by the spec's validation and by the core call
    let spec = r#"{"version": 1, "parcels": {"path": "p.gpkg"},
                   "features": [{"type": "proximity", "layer": "roads.gpkg", "prefix": "road", "radius_m": -1}]}"#;
    assert_eq!(landopp::pipeline::FeatureSpec::parse(spec).unwrap_err().code(), "INVALID_INPUT");
    // a NaN vertex in polygons handed to zonal statistics
    let dem = Raster::read(fixture("slovenia/dem.tif")).unwrap();
    let poly = landopp::geo_types::MultiPolygon(vec![landopp::geo_types::Polygon::new(
        vec![(465_600.0, 5_079_400.0), (f64::NAN, 5_079_500.0), (465_700.0, 5_079_500.0), (465_600.0, 5_079_400.0)]
            .into(),
        vec![],
    )]);
    let opts = landopp::zonal::ZonalOptions { stats: vec![landopp::zonal::Stat::Mean], ..Default::default() };
    let e = landopp::zonal::zonal_stats(&dem, &[poly], dem.crs.as_ref(), &opts).unwrap_err();
    assert_eq!(e.code(), "INVALID_GEOMETRY", "{e}");
}
