//! Data validation: a declarative table schema checked against the real Slovenian land-use
//! parcels, clean and with one violation of every kind planted.

use crate::common::fixture;
use landopp::config::Config;
use landopp::geo_types::{Geometry, LineString, Polygon};
use landopp::vector::validate::{validate, TableSchema};
use landopp::vector::{read_layer, ColumnData, ReadOptions};

/// The source's own vocabulary: it spells "schrubland" and leaves some names empty.
const SCHEMA: &str = r#"{
    "id_field": "index",
    "crs": "EPSG:32633",
    "geometry": {"types": ["Polygon", "MultiPolygon"]},
    "columns": [
        {"name": "RABA_ID", "type": "integer", "min": 1000, "max": 9999},
        {"name": "AREA", "type": "number", "min": 0},
        {"name": "LULC_NAME", "type": "text", "nullable": false,
         "values": ["cultivated land", "grassland", "forest", "schrubland", "artificial surface", ""]},
        {"name": "OWNER", "required": false}
    ]
}"#;

#[test]
fn a_clean_layer_passes_and_every_planted_violation_is_reported_by_row() {
    let schema = TableSchema::from_text(SCHEMA).expect("schema");
    let mut layer = read_layer(fixture("slovenia/lulc_polygons.gpkg"), &ReadOptions::default()).expect("layer");
    let clean = validate(&layer, &schema).expect("validate");
    assert!(clean.is_valid(), "{:#?}", &clean.violations[..clean.violations.len().min(5)]);
    assert_eq!(clean.rows, layer.len());

    // plant: a repeated id (row 7 takes row 3's), a null name (row 10), a negative area (row 12),
    // a bow-tie polygon (row 20), a point (row 21), a missing geometry (row 22)
    let col = |layer: &mut landopp::VectorLayer, name: &str| -> usize {
        layer.columns.iter().position(|c| c.name == name).expect("column")
    };
    let k = col(&mut layer, "index");
    if let ColumnData::Text(v) = &mut layer.columns[k].data {
        v[7] = v[3].clone();
    } else if let ColumnData::Int(v) = &mut layer.columns[k].data {
        v[7] = v[3];
    }
    let k = col(&mut layer, "LULC_NAME");
    if let ColumnData::Text(v) = &mut layer.columns[k].data {
        v[10] = None;
        v[11] = Some("moonscape".into());
    }
    let k = col(&mut layer, "AREA");
    if let ColumnData::Float(v) = &mut layer.columns[k].data {
        v[12] = Some(-5.0);
    }
    let bow = LineString::from(vec![(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]);
    layer.geometries[20] = Some(Geometry::Polygon(Polygon::new(bow, vec![])));
    layer.geometries[21] = Some(Geometry::Point((1.0, 2.0).into()));
    layer.geometries[22] = None;
    let r = validate(&layer, &schema).expect("validate");
    let got: Vec<(Option<usize>, Option<&str>, &str)> =
        r.violations.iter().map(|v| (v.row, v.column.as_deref(), v.rule.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (Some(7), Some("index"), "duplicate"),
            (Some(10), Some("LULC_NAME"), "null"),
            (Some(11), Some("LULC_NAME"), "not_allowed"),
            (Some(12), Some("AREA"), "min"),
            (Some(20), None, "geometry_invalid"),
            (Some(21), None, "geometry_type"),
            (Some(22), None, "geometry_missing"),
        ]
    );
    assert_eq!(r.violations[0].message, "repeats the value of row 3");
    assert_eq!(r.violations[3].message, "-5 is below the minimum 0");
    assert!(r.violations[4].message.contains("elf-intersection"), "{}", r.violations[4].message);
    assert!(!r.violations[2].message.contains("moonscape"), "text values are not repeated");
    assert_eq!(r.violations[6].fid, Some(layer.fids[22]));

    // table-wide rules: another CRS, a missing column, a column of another type
    let wrong = TableSchema::from_text(
        r#"{"crs": "EPSG:4326", "columns": [{"name": "PRICE"}, {"name": "LULC_NAME", "type": "integer"}]}"#,
    )
    .expect("schema");
    let r = validate(&layer, &wrong).expect("validate");
    let table: Vec<&str> = r.violations.iter().filter(|v| v.row.is_none()).map(|v| v.rule.as_str()).collect();
    assert_eq!(table, vec!["crs", "missing_column", "type"]);
    // a schema that contradicts itself is refused before any row is read
    for bad in [
        r#"{"columns": [{"name": "A", "min": 5, "max": 1}]}"#,
        r#"{"columns": [{"name": "A", "type": "text", "min": 0}]}"#,
        r#"{"geometry": {"types": ["Blob"]}}"#,
        r#"{"crs": "EPSG:999999"}"#,
        r#"{"colums": []}"#,
    ] {
        let e = TableSchema::from_text(bad).map(|_| ()).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT", "{bad}: {e}");
    }
}
