//! ESRI Shapefile reading: `.shp` geometries, `.dbf` attributes (text in the encoding of the
//! `.cpg` sidecar or the dBASE language driver), CRS from the `.prj` sidecar.
//!
//! Both files are parsed here with every count and length checked against the bytes that hold
//! it before anything is sized from it (the `shapefile` crate allocated what a record header
//! claimed, up to gigabytes from a 2 KB file). Z and M values are skipped (2-D model).

use super::{ColumnBuilder, OwnedValue, TypeHint, VectorLayer};
use crate::crs::Crs;
use crate::error::{Error, Result};
use geo_types::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};
use std::path::Path;

const FMT: &str = "Shapefile";

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at + 4).map(|s| i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}
fn le_i32(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at + 4).map(|s| i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn le_f64(b: &[u8], at: usize) -> Option<f64> {
    b.get(at..at + 8).map(|s| f64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]))
}

/// Read a shapefile.
pub fn read(path: &Path) -> Result<VectorLayer> {
    let shp = crate::error::read_file_bounded(path, u64::MAX, "shapefile")?;
    let dbf_path = path.with_extension("dbf");
    let dbf = match dbf_path.exists() {
        true => Some(crate::error::read_file_bounded(&dbf_path, u64::MAX, "dBASE file")?),
        false => None,
    };
    let prj = path.with_extension("prj");
    let crs = match prj.exists() {
        true => Some(Crs::from_wkt(&crate::error::read_text_bounded(&prj, 1 << 20, ".prj file")?)?),
        false => None,
    };
    let cpg = std::fs::read_to_string(path.with_extension("cpg")).ok();
    let geometries = parse_shp(&shp).map_err(|m| Error::format(FMT, path, m))?;
    let n = geometries.len();
    let columns = match dbf {
        Some(d) => parse_dbf(&d, n, cpg.as_deref()).map_err(|m| Error::format(FMT, &dbf_path, m))?,
        None => vec![],
    };
    Ok(VectorLayer {
        name: super::stem(path),
        crs,
        fids: (0..n as i64).collect(),
        geometries,
        columns,
        geometry_type: "GEOMETRY".into(),
    })
}

/// The geometries of a `.shp` file, one per record (`None` for null shapes).
fn parse_shp(b: &[u8]) -> std::result::Result<Vec<Option<Geometry<f64>>>, String> {
    if b.len() < 100 || be_i32(b, 0) != Some(9994) {
        return Err("not a shapefile (no file code 9994 in a 100-byte header)".into());
    }
    // the header's file length (16-bit words) may be short or long on real files: the bytes rule
    let mut out = Vec::new();
    let mut pos = 100usize;
    while pos + 8 <= b.len() {
        let n = out.len();
        let words = be_i32(b, pos + 4).unwrap_or(-1);
        let len = usize::try_from(words).map_err(|_| format!("record {n}: negative content length"))? * 2;
        let start = pos + 8;
        let end = start.checked_add(len).filter(|e| *e <= b.len()).ok_or_else(|| {
            format!("record {n} claims {len} bytes at byte {start}; the file ends at byte {}", b.len())
        })?;
        out.push(shape(&b[start..end]).map_err(|m| format!("record {n}: {m}"))?);
        pos = end;
    }
    Ok(out)
}

/// One record's content.
fn shape(c: &[u8]) -> std::result::Result<Option<Geometry<f64>>, String> {
    let t = le_i32(c, 0).ok_or("empty record")?;
    let short = || "record shorter than its shape needs".to_string();
    let xy = |at: usize| -> std::result::Result<Coord<f64>, String> {
        Ok(Coord { x: le_f64(c, at).ok_or_else(short)?, y: le_f64(c, at + 8).ok_or_else(short)? })
    };
    Ok(Some(match t {
        0 => return Ok(None),
        1 | 11 | 21 => Geometry::Point(Point(xy(4)?)),
        8 | 18 | 28 => {
            let np = count(c, 36, 16, 40)?;
            Geometry::MultiPoint(MultiPoint(
                (0..np).map(|i| xy(40 + 16 * i).map(Point)).collect::<std::result::Result<_, _>>()?,
            ))
        }
        3 | 13 | 23 | 5 | 15 | 25 => {
            let parts = count(c, 36, 4, 44)?;
            let np = le_i32(c, 40).ok_or_else(short)?;
            let np = usize::try_from(np).map_err(|_| "negative point count".to_string())?;
            let pts_at = 44 + 4 * parts;
            if np > c.len().saturating_sub(pts_at) / 16 {
                return Err(format!("{np} points do not fit in a {}-byte record", c.len()));
            }
            let mut starts = Vec::with_capacity(parts);
            for i in 0..parts {
                let s = le_i32(c, 44 + 4 * i).ok_or_else(short)?;
                let s = usize::try_from(s).map_err(|_| "negative part start".to_string())?;
                if s > np || starts.last().is_some_and(|p| s < *p) || (i == 0 && s != 0) {
                    return Err(format!("part {i} starts at point {s} of {np} (out of order)"));
                }
                starts.push(s);
            }
            let pts: Vec<Coord<f64>> = (0..np).map(|i| xy(pts_at + 16 * i)).collect::<std::result::Result<_, _>>()?;
            let rings: Vec<LineString<f64>> = starts
                .iter()
                .enumerate()
                .map(|(i, &s)| LineString(pts[s..starts.get(i + 1).copied().unwrap_or(np)].to_vec()))
                .collect();
            if matches!(t, 3 | 13 | 23) {
                Geometry::MultiLineString(MultiLineString(rings))
            } else {
                let mut polys = assemble(rings);
                // single-part polygons are Polygons, as GDAL reports them
                if polys.len() == 1 {
                    Geometry::Polygon(polys.remove(0))
                } else {
                    Geometry::MultiPolygon(MultiPolygon(polys))
                }
            }
        }
        31 => return Err("MultiPatch shapes are not supported".into()),
        other => return Err(format!("unknown shape type {other}")),
    }))
}

/// A non-negative count at `at` whose `each`-byte items (after `after` bytes) fit in the record.
fn count(c: &[u8], at: usize, each: usize, after: usize) -> std::result::Result<usize, String> {
    let n = le_i32(c, at).ok_or("record shorter than its shape needs")?;
    let n = usize::try_from(n).map_err(|_| format!("negative count {n}"))?;
    if n > c.len().saturating_sub(after) / each {
        return Err(format!("count {n} does not fit in a {}-byte record", c.len()));
    }
    Ok(n)
}

/// Twice the signed area of a ring (positive: counter-clockwise).
fn signed_area2(r: &LineString<f64>) -> f64 {
    r.0.windows(2).map(|w| w[0].x * w[1].y - w[1].x * w[0].y).sum()
}

fn ring_contains(r: &LineString<f64>, p: Coord<f64>) -> bool {
    let mut inside = false;
    for w in r.0.windows(2) {
        let (a, b) = (w[0], w[1]);
        if (a.y > p.y) != (b.y > p.y) && p.x < (b.x - a.x) * (p.y - a.y) / (b.y - a.y) + a.x {
            inside = !inside;
        }
    }
    inside
}

/// Shapefile rings into polygons: clockwise rings are shells, counter-clockwise ones holes, each
/// hole in the smallest shell holding its first vertex (a hole no shell holds becomes a shell).
fn assemble(rings: Vec<LineString<f64>>) -> Vec<Polygon<f64>> {
    let (shells, holes): (Vec<_>, Vec<_>) = rings.into_iter().partition(|r| signed_area2(r) <= 0.0);
    let mut polys: Vec<(LineString<f64>, Vec<LineString<f64>>)> = shells.into_iter().map(|s| (s, vec![])).collect();
    for h in holes {
        let probe = h.0.first().copied();
        let home = probe.and_then(|p| {
            polys
                .iter()
                .enumerate()
                .filter(|(_, (s, _))| ring_contains(s, p))
                .min_by(|a, b| signed_area2(&a.1 .0).abs().total_cmp(&signed_area2(&b.1 .0).abs()))
                .map(|(i, _)| i)
        });
        match home {
            Some(i) => polys[i].1.push(h),
            None => polys.push((h, vec![])),
        }
    }
    polys.into_iter().map(|(s, hs)| Polygon::new(s, hs)).collect()
}

/// The text encoding of the `.dbf` strings: the `.cpg` sidecar, else the language driver id.
fn latin1(cpg: Option<&str>, ldid: u8) -> Option<bool> {
    if let Some(c) = cpg {
        let c = c.trim().to_ascii_uppercase().replace(['-', '_'], "");
        return Some(!(c == "UTF8" || c == "65001"));
    }
    // 0: unknown (UTF-8 when it decodes, else Latin-1); everything else is a code page
    (ldid != 0).then_some(true)
}

fn decode(s: &[u8], latin1: Option<bool>) -> String {
    match latin1 {
        Some(true) => s.iter().map(|&b| b as char).collect(),
        Some(false) => String::from_utf8_lossy(s).into_owned(),
        None => match std::str::from_utf8(s) {
            Ok(t) => t.to_string(),
            Err(_) => s.iter().map(|&b| b as char).collect(),
        },
    }
}

/// The columns of a `.dbf` file for the first `rows` records (one per shape).
fn parse_dbf(b: &[u8], rows: usize, cpg: Option<&str>) -> std::result::Result<Vec<super::Column>, String> {
    if b.len() < 33 {
        return Err("dBASE file shorter than its 32-byte header".into());
    }
    let records = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    let header_len = u16::from_le_bytes([b[8], b[9]]) as usize;
    let record_len = u16::from_le_bytes([b[10], b[11]]) as usize;
    if header_len < 33 || header_len > b.len() {
        return Err(format!("header of {header_len} bytes in a {}-byte file", b.len()));
    }
    let enc = latin1(cpg, b[29]);
    // field descriptors: 32 bytes each until the 0x0D terminator
    let mut fields = Vec::new();
    let mut at = 32;
    let mut offset = 1; // after the deletion flag
    while at + 32 <= header_len && b[at] != 0x0D {
        let d = &b[at..at + 32];
        let name_end = d[..11].iter().position(|&c| c == 0).unwrap_or(11);
        let name = decode(&d[..name_end], enc).trim().to_string();
        let (kind, width, decimals) = (d[11], d[16] as usize, d[17] as usize);
        fields.push((name, kind, offset, width, decimals));
        offset += width;
        at += 32;
    }
    if offset > record_len {
        return Err(format!("fields of {offset} bytes in records of {record_len}"));
    }
    let available = (b.len() - header_len) / record_len;
    if records.min(available) < rows {
        return Err(format!(
            "{rows} shapes but {} attribute records ({records} claimed, {available} in the file)",
            records.min(available)
        ));
    }
    let mut builders: Vec<ColumnBuilder> = fields
        .iter()
        .map(|(name, kind, _, width, decimals)| {
            let hint = match kind {
                b'N' if *decimals == 0 && *width <= 18 => TypeHint::Int,
                b'N' | b'F' | b'O' | b'B' | b'Y' => TypeHint::Float,
                b'I' | b'+' => TypeHint::Int,
                b'L' => TypeHint::Bool,
                b'D' => TypeHint::Date,
                _ => TypeHint::Text,
            };
            ColumnBuilder::new(name.clone(), hint)
        })
        .collect();
    for r in 0..rows {
        let rec = &b[header_len + r * record_len..header_len + (r + 1) * record_len];
        for (k, (_, kind, off, width, _)) in fields.iter().enumerate() {
            let raw = &rec[*off..off + width];
            let text = || decode(raw, enc).trim().to_string();
            let v = match kind {
                b'C' | b'V' => match text() {
                    t if t.is_empty() => OwnedValue::Null,
                    t => OwnedValue::Text(t),
                },
                b'N' | b'F' => match text() {
                    t if t.is_empty() || t.starts_with('*') => OwnedValue::Null,
                    t => match (builders[k].hint, t.parse::<i64>()) {
                        (TypeHint::Int, Ok(i)) => OwnedValue::Int(i),
                        _ => t.parse::<f64>().map_or(OwnedValue::Null, OwnedValue::Float),
                    },
                },
                b'L' => match raw.first().map(|c| c.to_ascii_uppercase()) {
                    Some(b'T' | b'Y') => OwnedValue::Bool(true),
                    Some(b'F' | b'N') => OwnedValue::Bool(false),
                    _ => OwnedValue::Null,
                },
                // blanks and GDAL's `00000000` (and any impossible date) are nulls, as GDAL reads them
                b'D' => match text() {
                    t if super::temporal::parse_yyyymmdd(&t).is_some() => {
                        OwnedValue::Text(format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..]))
                    }
                    _ => OwnedValue::Null,
                },
                b'I' | b'+' if *width == 4 => {
                    OwnedValue::Int(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as i64)
                }
                b'O' | b'B' if *width == 8 => {
                    OwnedValue::Float(f64::from_le_bytes(raw.try_into().map_err(|_| "width")?))
                }
                b'Y' if *width == 8 => {
                    OwnedValue::Float(i64::from_le_bytes(raw.try_into().map_err(|_| "width")?) as f64 / 10_000.0)
                }
                _ => OwnedValue::Null,
            };
            builders[k].push(v);
        }
    }
    Ok(builders.into_iter().map(ColumnBuilder::finish).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(shape_type: i32, body: &[u8]) -> Vec<u8> {
        let mut c = shape_type.to_le_bytes().to_vec();
        c.extend_from_slice(body);
        let mut r = 1i32.to_be_bytes().to_vec();
        r.extend_from_slice(&((c.len() / 2) as i32).to_be_bytes());
        r.extend(c);
        r
    }

    fn file(records: &[Vec<u8>]) -> Vec<u8> {
        let mut h = vec![0u8; 100];
        h[..4].copy_from_slice(&9994i32.to_be_bytes());
        records.iter().for_each(|r| h.extend_from_slice(r));
        h
    }

    fn square(x0: f64, y0: f64, s: f64, clockwise: bool) -> Vec<Coord<f64>> {
        let mut v = vec![(x0, y0), (x0, y0 + s), (x0 + s, y0 + s), (x0 + s, y0), (x0, y0)];
        if !clockwise {
            v.reverse();
        }
        v.into_iter().map(|(x, y)| Coord { x, y }).collect()
    }

    fn polygon_record(rings: &[Vec<Coord<f64>>]) -> Vec<u8> {
        let mut b = vec![0u8; 32];
        let np: usize = rings.iter().map(Vec::len).sum();
        b.extend_from_slice(&(rings.len() as i32).to_le_bytes());
        b.extend_from_slice(&(np as i32).to_le_bytes());
        let mut s = 0;
        for r in rings {
            b.extend_from_slice(&(s as i32).to_le_bytes());
            s += r.len();
        }
        for c in rings.iter().flatten() {
            b.extend_from_slice(&c.x.to_le_bytes());
            b.extend_from_slice(&c.y.to_le_bytes());
        }
        rec(5, &b)
    }

    #[test]
    fn shells_and_holes_are_assembled_by_containment() {
        // shell A, shell B, then a hole that lies in B (not in the last shell read)
        let shp = file(&[polygon_record(&[
            square(0.0, 0.0, 10.0, true),
            square(20.0, 0.0, 10.0, true),
            square(1.0, 1.0, 2.0, false),
        ])]);
        let g = parse_shp(&shp).unwrap().remove(0).unwrap();
        let Geometry::MultiPolygon(mp) = g else { panic!("{g:?}") };
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1, "the hole belongs to the first shell");
    }

    #[test]
    fn counts_that_do_not_fit_are_errors_not_allocations() {
        let mut r = polygon_record(&[square(0.0, 0.0, 1.0, true)]);
        // numPoints at content offset 40 (+8 record header) set to 2^31 - 1
        r[48..52].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(parse_shp(&file(&[r.clone()])).unwrap_err().contains("do not fit"));
        r[44..48].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(parse_shp(&file(&[r])).is_err());
        // a record length past the end of the file
        let mut r = polygon_record(&[square(0.0, 0.0, 1.0, true)]);
        r[4..8].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(parse_shp(&file(&[r])).unwrap_err().contains("claims"));
    }

    #[test]
    fn dbf_counts_are_checked_and_latin1_decoded() {
        let mut h = vec![0u8; 32];
        h[0] = 3;
        h[29] = 0x57;
        let mut f = vec![0u8; 32];
        f[..4].copy_from_slice(b"NAME");
        f[11] = b'C';
        f[16] = 6;
        h.extend_from_slice(&f);
        h.push(0x0D);
        let header_len = h.len();
        h[4..8].copy_from_slice(&1u32.to_le_bytes());
        h[8..10].copy_from_slice(&(header_len as u16).to_le_bytes());
        h[10..12].copy_from_slice(&7u16.to_le_bytes());
        h.extend_from_slice(b" Na\xe7\xe3o ");
        let cols = parse_dbf(&h, 1, None).unwrap();
        assert_eq!(cols[0].data.get(0), super::super::Value::Text("Nação"));
        assert!(parse_dbf(&h, 2, None).unwrap_err().contains("2 shapes but 1"));
        // a record count far beyond the file
        h[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_dbf(&h, 2, None).is_err());
    }
}
