//! FlatGeobuf reading: the `flatgeobuf` crate's generated FlatBuffers tables, read with the
//! FlatBuffers verifier, and everything around them — sizes, the spatial index, geometries and
//! property tables — decoded here with every length checked against the bytes that hold it.
//!
//! Why not the crate's reader: it allocates whatever a size prefix claims before reading it
//! (a 0xFFFFFFFF feature size is a 4 GiB allocation), asserts on index node sizes, and decodes
//! property tables leniently (a property repeated in a row silently shifted a column).

use super::{ColumnBuilder, OwnedValue, TypeHint, VectorLayer};
use crate::crs::Crs;
use crate::error::{Error, Result};
use flatgeobuf::{ColumnType, GeometryType};
use geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};
use std::path::Path;

const FMT: &str = "FlatGeobuf";
/// Bytes of one node of the packed Hilbert R-tree index.
const NODE_BYTES: u64 = 40;
/// Deepest nesting of geometry parts accepted (collections of collections).
const MAX_DEPTH: usize = 32;

/// Size in bytes of the packed R-tree of `items` features with nodes of `node_size` children
/// (FlatGeobuf's `PackedRTree::index_size`), or `None` when it would exceed `limit`.
fn index_size(items: u64, node_size: u16, limit: u64) -> Option<u64> {
    let node = u64::from(node_size.max(2));
    let mut n = items;
    let mut nodes = n;
    while n > 1 {
        n = n.div_ceil(node);
        nodes = nodes.checked_add(n)?;
    }
    let bytes = nodes.checked_mul(NODE_BYTES)?;
    (bytes <= limit).then_some(bytes)
}

/// Read a FlatGeobuf file.
pub fn read(path: &Path) -> Result<VectorLayer> {
    let bytes = crate::error::read_file_bounded(path, u64::MAX, "FlatGeobuf file")?;
    parse(&bytes, path)
}

/// Parse the bytes of a FlatGeobuf file (`path` names it in errors).
pub fn parse(b: &[u8], path: &Path) -> Result<VectorLayer> {
    let ferr = |m: String| Error::format(FMT, path, m);
    if b.len() < 12 || &b[..3] != b"fgb" || &b[4..7] != b"fgb" || b[3] > 3 {
        return Err(ferr("not a FlatGeobuf file (bad magic bytes)".into()));
    }
    let u32_at = |at: usize| b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize);
    let header_len = u32_at(8).unwrap_or(0);
    let header_end = 12usize.saturating_add(header_len);
    if header_len < 8 || header_end > b.len() {
        return Err(ferr(format!("header of {header_len} bytes does not fit in the {}-byte file", b.len())));
    }
    let header = flatgeobuf::size_prefixed_root_as_header(&b[8..header_end])
        .map_err(|e| ferr(format!("corrupt header: {e}")))?;
    let crs = match header.crs() {
        Some(c) if c.code() > 0 && c.org().is_none_or(|o| o.eq_ignore_ascii_case("EPSG")) => {
            Some(Crs::from_epsg(c.code() as u32)?)
        }
        Some(c) => c.wkt().map(Crs::from_wkt).transpose()?,
        None => None,
    };
    let columns: Vec<(String, ColumnType)> =
        header.columns().map(|cs| cs.iter().map(|c| (c.name().to_string(), c.type_())).collect()).unwrap_or_default();
    let mut builders: Vec<ColumnBuilder> = columns
        .iter()
        .map(|(name, t)| {
            let hint = match *t {
                ColumnType::Bool => TypeHint::Bool,
                ColumnType::Float | ColumnType::Double => TypeHint::Float,
                ColumnType::DateTime => TypeHint::DateTime,
                ColumnType::String | ColumnType::Json => TypeHint::Text,
                ColumnType::Binary => TypeHint::None,
                _ => TypeHint::Int,
            };
            ColumnBuilder::new(name.clone(), hint)
        })
        .collect();
    let geometry_type = header.geometry_type();
    let gtype = type_name(geometry_type).to_string();
    let name = header.name().map(str::to_string).unwrap_or_else(|| super::stem(path));
    // the spatial index, skipped (its size follows from the feature count and node size)
    let mut pos = header_end;
    let (count, node_size) = (header.features_count(), header.index_node_size());
    if node_size == 1 {
        return Err(ferr("index node size 1 (must be 0, for no index, or at least 2)".into()));
    }
    if node_size > 0 && count > 0 {
        let rest = (b.len() - pos) as u64;
        let size = index_size(count, node_size, rest).ok_or_else(|| {
            ferr(format!("the index of {count} features does not fit in the {rest} bytes after the header"))
        })?;
        pos += size as usize;
    }
    let mut geoms = Vec::new();
    let mut fids = Vec::new();
    while pos < b.len() {
        let n = geoms.len();
        let size = u32_at(pos).ok_or_else(|| ferr(format!("feature {n}: truncated size prefix")))?;
        let end = pos.saturating_add(4).saturating_add(size);
        if end > b.len() {
            return Err(ferr(format!(
                "feature {n} claims {size} bytes at byte {pos}; the file ends at byte {}",
                b.len()
            )));
        }
        let feat = flatgeobuf::size_prefixed_root_as_feature(&b[pos..end])
            .map_err(|e| ferr(format!("feature {n}: corrupt: {e}")))?;
        if feat.columns().is_some_and(|c| !c.is_empty()) {
            return Err(Error::Unsupported(format!(
                "{}: feature {n} carries its own column schema (not supported)",
                path.display()
            )));
        }
        let g = feat
            .geometry()
            .map(|g| geometry(&g, geometry_type, 0))
            .transpose()
            .map_err(|m| ferr(format!("feature {n}: {m}")))?;
        if let Some(props) = feat.properties() {
            properties(props.bytes(), &columns, &mut builders, n).map_err(|m| ferr(format!("feature {n}: {m}")))?;
        }
        geoms.push(g);
        fids.push(n as i64);
        pos = end;
    }
    if count > 0 && count != geoms.len() as u64 {
        return Err(ferr(format!("the header counts {count} features, the file holds {}", geoms.len())));
    }
    let total = geoms.len();
    let columns = builders
        .into_iter()
        .map(|mut c| {
            c.pad_to(total);
            c.finish()
        })
        .collect();
    Ok(VectorLayer { name, crs, fids, geometries: geoms, columns, geometry_type: gtype })
}

fn type_name(t: GeometryType) -> &'static str {
    match t {
        GeometryType::Point => "POINT",
        GeometryType::LineString => "LINESTRING",
        GeometryType::Polygon => "POLYGON",
        GeometryType::MultiPoint => "MULTIPOINT",
        GeometryType::MultiLineString => "MULTILINESTRING",
        GeometryType::MultiPolygon => "MULTIPOLYGON",
        GeometryType::GeometryCollection => "GEOMETRYCOLLECTION",
        _ => "UNKNOWN",
    }
}

/// The coordinates of `xy` split into rings at `ends` (cumulative coordinate counts).
fn rings(
    xy: &[Coord<f64>],
    ends: Option<flatbuffers::Vector<'_, u32>>,
) -> std::result::Result<Vec<LineString<f64>>, String> {
    let Some(ends) = ends.filter(|e| !e.is_empty()) else {
        return Ok(vec![LineString(xy.to_vec())]);
    };
    let mut out = Vec::with_capacity(ends.len());
    let mut start = 0usize;
    for e in ends.iter() {
        let e = e as usize;
        if e < start || e > xy.len() {
            return Err(format!("ring end {e} outside the {} coordinates (or decreasing)", xy.len()));
        }
        out.push(LineString(xy[start..e].to_vec()));
        start = e;
    }
    if start != xy.len() {
        return Err(format!("ring ends stop at {start} of {} coordinates", xy.len()));
    }
    Ok(out)
}

/// One geometry table as `geo_types` (`t` is the header's type, used when the table has none).
fn geometry(g: &flatgeobuf::Geometry<'_>, t: GeometryType, depth: usize) -> std::result::Result<Geometry<f64>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("geometry parts nested deeper than {MAX_DEPTH} levels"));
    }
    let t = if g.type_() == GeometryType::Unknown { t } else { g.type_() };
    let raw = g.xy().map(|v| v.iter().collect::<Vec<f64>>()).unwrap_or_default();
    if raw.len() % 2 == 1 {
        return Err(format!("{} xy values (odd)", raw.len()));
    }
    let xy: Vec<Coord<f64>> = raw.chunks_exact(2).map(|c| Coord { x: c[0], y: c[1] }).collect();
    let parts = |pt: GeometryType| -> std::result::Result<Vec<Geometry<f64>>, String> {
        g.parts().map_or(Ok(vec![]), |ps| ps.iter().map(|p| geometry(&p, pt, depth + 1)).collect())
    };
    Ok(match t {
        GeometryType::Point => {
            Geometry::Point(Point(*xy.first().ok_or_else(|| "a point without coordinates".to_string())?))
        }
        GeometryType::LineString => Geometry::LineString(LineString(xy)),
        GeometryType::MultiPoint => Geometry::MultiPoint(MultiPoint(xy.into_iter().map(Point).collect())),
        GeometryType::MultiLineString => Geometry::MultiLineString(MultiLineString(rings(&xy, g.ends())?)),
        GeometryType::Polygon => {
            let mut rs = rings(&xy, g.ends())?.into_iter();
            let ext = rs.next().unwrap_or_else(|| LineString(vec![]));
            Geometry::Polygon(Polygon::new(ext, rs.collect()))
        }
        GeometryType::MultiPolygon => {
            let polys = parts(GeometryType::Polygon)?
                .into_iter()
                .map(|p| match p {
                    Geometry::Polygon(p) => Ok(p),
                    other => Err(format!("a {} inside a multipolygon", super::geometry_name(&other))),
                })
                .collect::<std::result::Result<_, _>>()?;
            Geometry::MultiPolygon(MultiPolygon(polys))
        }
        GeometryType::GeometryCollection => {
            Geometry::GeometryCollection(GeometryCollection(parts(GeometryType::Unknown)?))
        }
        other => return Err(format!("geometry type {} is not supported", other.0)),
    })
}

/// Decode one feature's property table into the column builders (row `row`): each property is
/// a column index (u16) and a value of the column's type; a value running past the table, an
/// unknown column or a column given twice is an error, never a shifted column.
fn properties(
    p: &[u8],
    columns: &[(String, ColumnType)],
    builders: &mut [ColumnBuilder],
    row: usize,
) -> std::result::Result<(), String> {
    let mut seen = vec![false; columns.len()];
    let mut i = 0usize;
    let take = |i: &mut usize, n: usize| -> std::result::Result<&[u8], String> {
        let s = p.get(*i..i.saturating_add(n)).ok_or_else(|| format!("property table truncated at byte {i}"))?;
        *i += n;
        Ok(s)
    };
    while i < p.len() {
        let k = take(&mut i, 2).map(|s| u16::from_le_bytes([s[0], s[1]]) as usize)?;
        let (name, t) =
            columns.get(k).ok_or_else(|| format!("property of column {k}; the header has {}", columns.len()))?;
        if std::mem::replace(&mut seen[k], true) {
            return Err(format!("column {name:?} given twice in one feature"));
        }
        macro_rules! num {
            ($t:ty, $n:expr) => {{
                let s = take(&mut i, $n)?;
                <$t>::from_le_bytes(s.try_into().map_err(|_| "bad width".to_string())?)
            }};
        }
        let v = match *t {
            ColumnType::Byte => OwnedValue::Int(num!(i8, 1) as i64),
            ColumnType::UByte => OwnedValue::Int(num!(u8, 1) as i64),
            ColumnType::Bool => OwnedValue::Bool(num!(u8, 1) != 0),
            ColumnType::Short => OwnedValue::Int(num!(i16, 2) as i64),
            ColumnType::UShort => OwnedValue::Int(num!(u16, 2) as i64),
            ColumnType::Int => OwnedValue::Int(num!(i32, 4) as i64),
            ColumnType::UInt => OwnedValue::Int(num!(u32, 4) as i64),
            ColumnType::Long => OwnedValue::Int(num!(i64, 8)),
            ColumnType::ULong => OwnedValue::Int(num!(u64, 8) as i64),
            ColumnType::Float => OwnedValue::Float(num!(f32, 4) as f64),
            ColumnType::Double => OwnedValue::Float(num!(f64, 8)),
            ColumnType::String | ColumnType::Json | ColumnType::DateTime | ColumnType::Binary => {
                let n = num!(u32, 4) as usize;
                let s = take(&mut i, n)?;
                if *t == ColumnType::Binary {
                    OwnedValue::Binary(s.to_vec())
                } else {
                    OwnedValue::Text(String::from_utf8_lossy(s).into_owned())
                }
            }
            other => return Err(format!("column {name:?} has unknown type {}", other.0)),
        };
        let b = &mut builders[k];
        b.pad_to(row);
        b.push(v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Vec<u8> {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/formats/olinda_tracts.fgb")).unwrap()
    }

    #[test]
    fn index_sizes_match_the_packed_rtree() {
        // 1 item: just the root; 16 items, node 16: 16 leaves + 1 root
        assert_eq!(index_size(1, 16, u64::MAX), Some(40));
        assert_eq!(index_size(16, 16, u64::MAX), Some(17 * 40));
        assert_eq!(index_size(17, 16, u64::MAX), Some((17 + 2 + 1) * 40));
        assert_eq!(index_size(u64::MAX, 2, u64::MAX), None);
        assert_eq!(index_size(1000, 16, 100), None);
    }

    #[test]
    fn hostile_headers_and_sizes_are_format_errors() {
        let b = fixture();
        let ok = parse(&b, Path::new("t.fgb")).unwrap();
        assert_eq!(ok.len(), 470);
        let code = |b: &[u8]| parse(b, Path::new("t.fgb")).unwrap_err().code();
        // a feature size prefix of 0xFFFFFFFF used to allocate 4 GiB before failing
        let header_end = 12 + u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize;
        let mut huge = b[..header_end].to_vec();
        huge.extend_from_slice(&[0xFF; 4]);
        huge.extend_from_slice(&[0; 64]);
        assert_eq!(code(&huge), "FORMAT");
        // truncated anywhere: an error, never a panic
        for cut in [0, 7, 11, 12, header_end - 1, header_end + 5, b.len() - 1] {
            assert!(parse(&b[..cut], Path::new("t.fgb")).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn property_tables_are_strict() {
        let cols = vec![("a".to_string(), ColumnType::Int), ("b".to_string(), ColumnType::String)];
        let mut bs = vec![ColumnBuilder::new("a", TypeHint::Int), ColumnBuilder::new("b", TypeHint::Text)];
        let mut row = vec![0, 0, 7, 0, 0, 0, 1, 0, 2, 0, 0, 0, b'h', b'i'];
        properties(&row, &cols, &mut bs, 0).unwrap();
        // the same column twice in one row used to shift the following rows' values
        row.extend_from_slice(&[0, 0, 8, 0, 0, 0]);
        assert!(properties(&row, &cols, &mut bs, 1).unwrap_err().contains("twice"));
        // a string length past the table, an unknown column
        assert!(properties(&[1, 0, 200, 0, 0, 0, b'x'], &cols, &mut bs, 2).unwrap_err().contains("truncated"));
        assert!(properties(&[9, 0, 1], &cols, &mut bs, 3).unwrap_err().contains("column 9"));
    }

    /// A FlatGeobuf file of just a header with these counts (and `tail` bytes after it).
    fn header_only(features_count: u64, index_node_size: u16, tail: &[u8]) -> Vec<u8> {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let h = flatgeobuf::Header::create(
            &mut fbb,
            &flatgeobuf::HeaderArgs {
                geometry_type: GeometryType::Polygon,
                features_count,
                index_node_size,
                ..Default::default()
            },
        );
        fbb.finish_size_prefixed(h, None);
        let mut b = b"fgb\x03fgb\x00".to_vec();
        b.extend_from_slice(fbb.finished_data());
        b.extend_from_slice(tail);
        b
    }

    #[test]
    fn index_headers_are_checked() {
        let code = |b: &[u8]| parse(b, Path::new("t.fgb")).unwrap_err().code();
        // node size 1 made the crate's index-size computation panic
        assert_eq!(code(&header_only(10, 1, &[0; 400])), "FORMAT");
        // a huge count with an index: its size is checked against the file, not allocated
        assert_eq!(code(&header_only(u64::MAX, 16, &[0; 64])), "FORMAT");
        assert_eq!(code(&header_only(1 << 40, 2, &[0; 64])), "FORMAT");
        // features_count 0 with an index node size (3 GB, 8 s in the crate): no index, no features
        let empty = parse(&header_only(0, 16, &[]), Path::new("t.fgb")).unwrap();
        assert_eq!(empty.len(), 0);
        // a count that the features do not match
        assert_eq!(code(&header_only(3, 0, &[])), "FORMAT");
    }
}
