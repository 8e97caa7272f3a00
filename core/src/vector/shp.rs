//! ESRI Shapefile reading (`.shp` + `.dbf`, CRS from the `.prj` sidecar).

use super::{ColumnBuilder, OwnedValue, TypeHint, VectorLayer};
use crate::crs::Crs;
use crate::error::{Error, Result};
use shapefile::dbase::FieldValue;
use std::collections::HashMap;
use std::path::Path;

const FMT: &str = "Shapefile";

/// Read a shapefile.
pub fn read(path: &Path) -> Result<VectorLayer> {
    let ferr = |e: shapefile::Error| match e {
        shapefile::Error::IoError(io) => Error::io(path, io),
        other => Error::format(FMT, path, other.to_string()),
    };
    let mut reader = shapefile::Reader::from_path(path).map_err(ferr)?;
    let prj = path.with_extension("prj");
    let crs = if prj.exists() {
        let wkt = std::fs::read_to_string(&prj).map_err(|e| Error::io(&prj, e))?;
        Some(Crs::from_wkt(&wkt)?)
    } else {
        None
    };
    let mut order: Vec<String> = Vec::new();
    let mut builders: HashMap<String, ColumnBuilder> = HashMap::new();
    let mut geoms = Vec::new();
    for (i, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item.map_err(ferr)?;
        let g = match shape {
            shapefile::Shape::NullShape => None,
            s => Some(
                match geo_types::Geometry::<f64>::try_from(s)
                    .map_err(|e| Error::format(FMT, path, format!("record {i}: {e}")))?
                {
                    // Shapefile polygons are multi-part by nature; report single-part ones as
                    // Polygon, as GDAL does.
                    geo_types::Geometry::MultiPolygon(mut m) if m.0.len() == 1 => {
                        geo_types::Geometry::Polygon(m.0.remove(0))
                    }
                    g => g,
                },
            ),
        };
        geoms.push(g);
        let mut fields: Vec<(String, FieldValue)> = record.into_iter().collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, v) in fields {
            let (val, hint) = match v {
                FieldValue::Character(s) => (s.map_or(OwnedValue::Null, OwnedValue::Text), TypeHint::Text),
                FieldValue::Memo(s) => (OwnedValue::Text(s), TypeHint::Text),
                FieldValue::Numeric(n) => (
                    n.map_or(OwnedValue::Null, |x| {
                        if x.fract() == 0.0 && x.abs() < 9e15 {
                            OwnedValue::Int(x as i64)
                        } else {
                            OwnedValue::Float(x)
                        }
                    }),
                    TypeHint::None,
                ),
                FieldValue::Float(n) => (n.map_or(OwnedValue::Null, |x| OwnedValue::Float(x as f64)), TypeHint::Float),
                FieldValue::Double(x) | FieldValue::Currency(x) => (OwnedValue::Float(x), TypeHint::Float),
                FieldValue::Integer(x) => (OwnedValue::Int(x as i64), TypeHint::Int),
                FieldValue::Logical(b) => (b.map_or(OwnedValue::Null, OwnedValue::Bool), TypeHint::Bool),
                FieldValue::Date(d) => (
                    d.map_or(OwnedValue::Null, |d| {
                        OwnedValue::Text(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
                    }),
                    TypeHint::Text,
                ),
                FieldValue::DateTime(dt) => {
                    let d = dt.date();
                    let t = dt.time();
                    (
                        OwnedValue::Text(format!(
                            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                            d.year(),
                            d.month(),
                            d.day(),
                            t.hours(),
                            t.minutes(),
                            t.seconds()
                        )),
                        TypeHint::Text,
                    )
                }
            };
            let b = builders.entry(name.clone()).or_insert_with(|| {
                order.push(name.clone());
                ColumnBuilder::new(name.clone(), hint)
            });
            b.pad_to(i);
            b.push(val);
        }
    }
    let n = geoms.len();
    // Keep the .dbf field order.
    let dbf_order: Vec<String> = {
        let dbf = path.with_extension("dbf");
        shapefile::dbase::Reader::from_path(&dbf)
            .map(|r| r.fields().iter().map(|f| f.name().to_string()).filter(|n| n != "DeletionFlag").collect())
            .unwrap_or(order)
    };
    let columns = dbf_order
        .into_iter()
        .filter_map(|k| builders.remove(&k))
        .map(|mut b| {
            b.pad_to(n);
            b.finish()
        })
        .collect();
    Ok(VectorLayer {
        name: super::stem(path),
        crs,
        fids: (0..n as i64).collect(),
        geometries: geoms,
        columns,
        geometry_type: "GEOMETRY".into(),
    })
}
