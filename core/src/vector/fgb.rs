//! FlatGeobuf reading (through the `flatgeobuf` crate).

use super::{ColumnBuilder, OwnedValue, TypeHint, VectorLayer};
use crate::crs::Crs;
use crate::error::{Error, Result};
use flatgeobuf::{ColumnType, FallibleStreamingIterator, FeatureProperties, FgbReader};
use geozero::{ColumnValue, PropertyProcessor, ToGeo};
use std::io::BufReader;
use std::path::Path;

const FMT: &str = "FlatGeobuf";

struct Row<'a>(&'a mut [ColumnBuilder], usize);

impl PropertyProcessor for Row<'_> {
    fn property(&mut self, i: usize, _name: &str, v: &ColumnValue<'_>) -> geozero::error::Result<bool> {
        let val = match v {
            ColumnValue::Byte(x) => OwnedValue::Int(*x as i64),
            ColumnValue::UByte(x) => OwnedValue::Int(*x as i64),
            ColumnValue::Bool(x) => OwnedValue::Bool(*x),
            ColumnValue::Short(x) => OwnedValue::Int(*x as i64),
            ColumnValue::UShort(x) => OwnedValue::Int(*x as i64),
            ColumnValue::Int(x) => OwnedValue::Int(*x as i64),
            ColumnValue::UInt(x) => OwnedValue::Int(*x as i64),
            ColumnValue::Long(x) => OwnedValue::Int(*x),
            ColumnValue::ULong(x) => OwnedValue::Int(*x as i64),
            ColumnValue::Float(x) => OwnedValue::Float(*x as f64),
            ColumnValue::Double(x) => OwnedValue::Float(*x),
            ColumnValue::String(s) | ColumnValue::Json(s) | ColumnValue::DateTime(s) => OwnedValue::Text(s.to_string()),
            ColumnValue::Binary(b) => OwnedValue::Binary(b.to_vec()),
        };
        if let Some(b) = self.0.get_mut(i) {
            b.pad_to(self.1);
            b.push(val);
        }
        Ok(false)
    }
}

/// Read a FlatGeobuf file.
pub fn read(path: &Path) -> Result<VectorLayer> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::new(f);
    let ferr = |e: flatgeobuf::Error| Error::format(FMT, path, e.to_string());
    let reader = FgbReader::open(&mut r).map_err(ferr)?;
    let header = reader.header();
    let crs = match header.crs() {
        Some(c) if c.code() > 0 && c.org().is_none_or(|o| o.eq_ignore_ascii_case("EPSG")) => {
            Some(Crs::from_epsg(c.code() as u32)?)
        }
        Some(c) => c.wkt().map(Crs::from_wkt).transpose()?,
        None => None,
    };
    let mut builders: Vec<ColumnBuilder> = header
        .columns()
        .map(|cols| {
            cols.iter()
                .map(|c| {
                    let h = match c.type_() {
                        ColumnType::Bool => TypeHint::Bool,
                        ColumnType::Float | ColumnType::Double => TypeHint::Float,
                        ColumnType::String | ColumnType::DateTime | ColumnType::Json => TypeHint::Text,
                        _ => TypeHint::Int,
                    };
                    ColumnBuilder::new(c.name(), h)
                })
                .collect()
        })
        .unwrap_or_default();
    let gtype = format!("{:?}", header.geometry_type()).to_ascii_uppercase();
    let name = header.name().map(str::to_string).unwrap_or_else(|| super::stem(path));
    let mut it = reader.select_all_seq().map_err(ferr)?;
    let mut geoms = Vec::new();
    let mut fids = Vec::new();
    while let Some(feat) = it.next().map_err(ferr)? {
        let n = geoms.len();
        let g = feat.to_geo().map_err(|e| Error::format(FMT, path, format!("feature {n}: {e}")))?;
        feat.process_properties(&mut Row(&mut builders, n)).map_err(|e| Error::format(FMT, path, e.to_string()))?;
        geoms.push(Some(g));
        fids.push(n as i64);
    }
    let total = geoms.len();
    let columns = builders
        .into_iter()
        .map(|mut b| {
            b.pad_to(total);
            b.finish()
        })
        .collect();
    Ok(VectorLayer { name, crs, fids, geometries: geoms, columns, geometry_type: gtype })
}
