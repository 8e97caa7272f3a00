//! GeoJSON (RFC 7946, plus the legacy `crs` member GDAL still writes) reading and writing.

use super::{ColumnBuilder, OwnedValue, TypeHint, Value, VectorLayer};
use crate::crs::Crs;
use crate::error::{Error, Result};
use geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use serde_json::{json, Map, Value as J};
use std::collections::HashMap;
use std::path::Path;

const FMT: &str = "GeoJSON";

fn coord(v: &J) -> Result<Coord<f64>> {
    let a = v.as_array().ok_or_else(|| Error::InvalidGeometry("GeoJSON position is not an array".into()))?;
    let x = a.first().and_then(J::as_f64);
    let y = a.get(1).and_then(J::as_f64);
    match (x, y) {
        (Some(x), Some(y)) => Ok(Coord { x, y }),
        _ => Err(Error::InvalidGeometry(format!("GeoJSON position {v} is not numeric"))),
    }
}

fn ring(v: &J) -> Result<LineString<f64>> {
    let a = v.as_array().ok_or_else(|| Error::InvalidGeometry("GeoJSON ring is not an array".into()))?;
    a.iter().map(coord).collect::<Result<Vec<_>>>().map(LineString)
}

fn polygon(v: &J) -> Result<Polygon<f64>> {
    let a = v.as_array().ok_or_else(|| Error::InvalidGeometry("GeoJSON polygon is not an array".into()))?;
    let mut rings = a.iter().map(ring).collect::<Result<Vec<_>>>()?.into_iter();
    let ext = rings.next().unwrap_or_else(|| LineString(vec![]));
    Ok(Polygon::new(ext, rings.collect()))
}

fn arr(v: &J) -> Result<&Vec<J>> {
    v.as_array().ok_or_else(|| Error::InvalidGeometry("GeoJSON coordinates are not an array".into()))
}

/// Parse a GeoJSON geometry object (`null` → `None`).
pub fn parse_geometry(g: &J) -> Result<Option<Geometry<f64>>> {
    if g.is_null() {
        return Ok(None);
    }
    let t = g.get("type").and_then(J::as_str).ok_or_else(|| Error::InvalidGeometry("geometry without type".into()))?;
    let c = g.get("coordinates").unwrap_or(&J::Null);
    Ok(Some(match t {
        "Point" => Geometry::Point(Point(coord(c)?)),
        "LineString" => Geometry::LineString(ring(c)?),
        "Polygon" => Geometry::Polygon(polygon(c)?),
        "MultiPoint" => {
            Geometry::MultiPoint(MultiPoint(arr(c)?.iter().map(|p| coord(p).map(Point)).collect::<Result<_>>()?))
        }
        "MultiLineString" => {
            Geometry::MultiLineString(MultiLineString(arr(c)?.iter().map(ring).collect::<Result<_>>()?))
        }
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(arr(c)?.iter().map(polygon).collect::<Result<_>>()?)),
        "GeometryCollection" => Geometry::GeometryCollection(GeometryCollection(
            g.get("geometries")
                .and_then(J::as_array)
                .map(|v| v.iter().filter_map(|x| parse_geometry(x).transpose()).collect::<Result<Vec<_>>>())
                .transpose()?
                .unwrap_or_default(),
        )),
        // the file's text is not quoted back
        _ => {
            return Err(Error::InvalidGeometry(
                "unknown GeoJSON geometry type (expected Point, LineString, Polygon, their Multi- forms or GeometryCollection)"
                    .into(),
            ))
        }
    }))
}

/// Parse a GeoJSON text (FeatureCollection, Feature or bare geometry) into a layer.
pub fn parse(text: &str, name: &str, path: &Path) -> Result<VectorLayer> {
    let v: J = serde_json::from_str(text).map_err(|e| Error::format(FMT, path, e.to_string()))?;
    parse_value(&v, name, path)
}

/// A parsed GeoJSON document (FeatureCollection, Feature or bare geometry) as a layer (`path`:
/// where it came from, for messages).
pub fn parse_value(v: &J, name: &str, path: &Path) -> Result<VectorLayer> {
    let crs = match v.pointer("/crs/properties/name").and_then(J::as_str) {
        // the file's text is not quoted back
        Some(n) => Crs::from_user_input(n).map_err(|_| {
            Error::Crs(format!(
                "{}: its crs member names a CRS landopp does not know (expected an EPSG code or OGC URN)",
                path.display()
            ))
        })?,
        None => Crs::wgs84(),
    };
    let feats: Vec<J> = match v.get("type").and_then(J::as_str) {
        Some("FeatureCollection") => v.get("features").and_then(J::as_array).cloned().unwrap_or_default(),
        Some("Feature") => vec![v.clone()],
        Some(_) => vec![json!({"type": "Feature", "geometry": v, "properties": {}})],
        None => return Err(Error::format(FMT, path, "top-level object has no \"type\"")),
    };
    // the types landopp wrote (see `to_json`); other columns are typed from their values
    let types = v.get(FIELD_TYPES).and_then(J::as_object);
    let declared = |k: &str| match types.and_then(|t| t.get(k)).and_then(J::as_str) {
        Some("date") => TypeHint::Date,
        Some("datetime") => TypeHint::DateTime,
        _ => TypeHint::None,
    };
    let mut order: Vec<String> = Vec::new();
    let mut builders: HashMap<String, ColumnBuilder> = HashMap::new();
    let mut geoms = Vec::with_capacity(feats.len());
    let mut fids = Vec::with_capacity(feats.len());
    for (i, f) in feats.iter().enumerate() {
        geoms.push(
            parse_geometry(f.get("geometry").unwrap_or(&J::Null))
                .map_err(|e| Error::format(FMT, path, format!("feature {i}: {e}")))?,
        );
        fids.push(f.get("id").and_then(J::as_i64).unwrap_or(i as i64));
        if let Some(props) = f.get("properties").and_then(J::as_object) {
            for (k, val) in props {
                let b = builders.entry(k.clone()).or_insert_with(|| {
                    order.push(k.clone());
                    ColumnBuilder::new(k.clone(), declared(k))
                });
                b.pad_to(i);
                b.push(match val {
                    J::Null => OwnedValue::Null,
                    J::Bool(x) => OwnedValue::Bool(*x),
                    J::Number(n) => {
                        n.as_i64().map_or_else(|| OwnedValue::Float(n.as_f64().unwrap_or(f64::NAN)), OwnedValue::Int)
                    }
                    J::String(s) => OwnedValue::Text(s.clone()),
                    other => OwnedValue::Text(other.to_string()),
                });
            }
        }
    }
    let n = geoms.len();
    let columns = order
        .into_iter()
        .filter_map(|k| builders.remove(&k))
        .map(|mut b| {
            b.pad_to(n);
            b.finish()
        })
        .collect();
    Ok(VectorLayer {
        name: name.to_string(),
        crs: Some(crs),
        fids,
        geometries: geoms,
        columns,
        geometry_type: "GEOMETRY".into(),
    })
}

/// Read a GeoJSON file.
pub fn read(path: &Path) -> Result<VectorLayer> {
    let text = crate::error::read_text_bounded(path, u64::MAX, "GeoJSON file")?;
    parse(&text, &super::stem(path), path)
}

fn pos(c: &Coord<f64>) -> J {
    json!([c.x, c.y])
}

/// A `geo_types` geometry as a GeoJSON geometry object.
pub fn geometry_to_json(g: &Geometry<f64>) -> J {
    let ls = |l: &LineString<f64>| J::Array(l.0.iter().map(pos).collect());
    let pg = |p: &Polygon<f64>| {
        let mut v = vec![ls(p.exterior())];
        v.extend(p.interiors().iter().map(ls));
        J::Array(v)
    };
    match g {
        Geometry::Point(p) => json!({"type": "Point", "coordinates": pos(&p.0)}),
        Geometry::LineString(l) => json!({"type": "LineString", "coordinates": ls(l)}),
        Geometry::Polygon(p) => json!({"type": "Polygon", "coordinates": pg(p)}),
        Geometry::MultiPoint(m) => {
            json!({"type": "MultiPoint", "coordinates": m.0.iter().map(|p| pos(&p.0)).collect::<Vec<_>>()})
        }
        Geometry::MultiLineString(m) => {
            json!({"type": "MultiLineString", "coordinates": m.0.iter().map(ls).collect::<Vec<_>>()})
        }
        Geometry::MultiPolygon(m) => {
            json!({"type": "MultiPolygon", "coordinates": m.0.iter().map(pg).collect::<Vec<_>>()})
        }
        Geometry::GeometryCollection(c) => {
            json!({"type": "GeometryCollection", "geometries": c.0.iter().map(geometry_to_json).collect::<Vec<_>>()})
        }
        Geometry::Line(l) => geometry_to_json(&Geometry::LineString(LineString(vec![l.start, l.end]))),
        Geometry::Rect(r) => geometry_to_json(&Geometry::Polygon(r.to_polygon())),
        Geometry::Triangle(t) => geometry_to_json(&Geometry::Polygon(t.to_polygon())),
    }
}

/// A JSON value for an attribute (NaN/inf become `null`, as JSON has no NaN).
pub fn value_to_json(v: Value<'_>) -> J {
    match v {
        Value::Null => J::Null,
        Value::Int(i) => json!(i),
        Value::Float(f) if f.is_finite() => json!(f),
        Value::Float(_) => J::Null,
        Value::Text(s) => json!(s),
        Value::Bool(b) => json!(b),
        Value::Binary(b) => json!(format!("<{} bytes>", b.len())),
        Value::Date(_) | Value::DateTime(_) => json!(v.to_string()),
    }
}

/// The foreign member naming the temporal columns of a FeatureCollection landopp writes
/// (`{"sold": "date", "updated": "datetime"}`): their values are ISO 8601 strings, and readers
/// of JSON (Node) learn their type without guessing.
pub const FIELD_TYPES: &str = "landopp:field_types";

/// Serialise a layer as a FeatureCollection. Layers not in EPSG:4326 carry the legacy `crs`
/// member (as GDAL writes it) so the CRS is not lost; dates and date-times are ISO 8601 strings,
/// their columns named in [`FIELD_TYPES`].
pub fn to_json(layer: &VectorLayer) -> J {
    let feats: Vec<J> = (0..layer.len())
        .map(|i| {
            let mut props = Map::new();
            for c in &layer.columns {
                props.insert(c.name.clone(), value_to_json(c.data.get(i)));
            }
            json!({"type": "Feature", "id": layer.fids[i],
                   "geometry": layer.geometries[i].as_ref().map_or(J::Null, geometry_to_json),
                   "properties": props})
        })
        .collect();
    let mut fc = json!({"type": "FeatureCollection", "name": layer.name, "features": feats});
    let temporal: Map<String, J> = layer
        .columns
        .iter()
        .filter(|c| matches!(c.data, super::ColumnData::Date(_) | super::ColumnData::DateTime(_)))
        .map(|c| (c.name.clone(), json!(c.data.type_name())))
        .collect();
    if !temporal.is_empty() {
        fc[FIELD_TYPES] = J::Object(temporal);
    }
    if let Some(c) = &layer.crs {
        if c.epsg() != Some(4326) {
            if let Some(code) = c.epsg() {
                fc["crs"] = json!({"type": "name", "properties": {"name": format!("urn:ogc:def:crs:EPSG::{code}")}});
            }
        }
    }
    fc
}

/// Write a layer as GeoJSON.
pub fn write(path: &Path, layer: &VectorLayer) -> Result<()> {
    let mut f = crate::output::AtomicFile::create(path)?;
    let mut w = std::io::BufWriter::new(f.file()?);
    serde_json::to_writer(&mut w, &to_json(layer)).map_err(|e| Error::io(path, e.into()))?;
    std::io::Write::flush(&mut w).map_err(|e| Error::io(path, e))?;
    drop(w);
    f.commit()
}
