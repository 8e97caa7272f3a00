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
        ("missing_file", Box::new(|| Raster::open("/nonexistent/dem.tif").map(|_| ()))),
        ("missing_vector", Box::new(|| read_layer("/nonexistent/parcels.gpkg", &ReadOptions::default()).map(|_| ()))),
        ("truncated_tiff", Box::new(move || Raster::open(&truncated).map(|_| ()))),
        ("not_a_tiff", Box::new(move || Raster::open(&not_tiff).map(|_| ()))),
        ("corrupt_gpkg", Box::new(move || read_layer(&corrupt, &ReadOptions::default()).map(|_| ()))),
        ("unsupported_compression", Box::new(|| Raster::open(fixture("formats/unsupported_jpeg.tif")).map(|_| ()))),
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
