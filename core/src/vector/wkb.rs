//! Well-Known Binary (ISO and EWKB flavours) to and from `geo_types`. Z and M values are read
//! and dropped (landopp's geometry model is 2-D).

use crate::error::{Error, Result};
use geo_types::{
    Coord, Geometry, GeometryCollection, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon,
};

struct Cur<'a> {
    b: &'a [u8],
    p: usize,
    le: bool,
}

fn bad(m: impl Into<String>) -> Error {
    Error::InvalidGeometry(format!("malformed WKB: {}", m.into()))
}

impl Cur<'_> {
    fn u8(&mut self) -> Result<u8> {
        let v = *self.b.get(self.p).ok_or_else(|| bad("truncated"))?;
        self.p += 1;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32> {
        let s = self.b.get(self.p..self.p + 4).ok_or_else(|| bad("truncated"))?;
        self.p += 4;
        let a = [s[0], s[1], s[2], s[3]];
        Ok(if self.le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    }
    fn f64(&mut self) -> Result<f64> {
        let s = self.b.get(self.p..self.p + 8).ok_or_else(|| bad("truncated"))?;
        self.p += 8;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(if self.le { f64::from_le_bytes(a) } else { f64::from_be_bytes(a) })
    }
    fn count(&mut self, min_bytes_each: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes_each) > self.b.len().saturating_sub(self.p) {
            return Err(bad(format!("count {n} larger than the remaining bytes")));
        }
        Ok(n)
    }
}

/// Deepest nesting of geometry collections accepted (real data nests one or two levels).
pub const MAX_DEPTH: usize = 32;

/// Parse one WKB geometry.
pub fn read(b: &[u8]) -> Result<Geometry<f64>> {
    let mut c = Cur { b, p: 0, le: true };
    geom(&mut c, 0)
}

fn coords(c: &mut Cur<'_>, dims: usize) -> Result<Vec<Coord<f64>>> {
    let n = c.count(8 * dims)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let x = c.f64()?;
        let y = c.f64()?;
        for _ in 2..dims {
            c.f64()?;
        }
        v.push(Coord { x, y });
    }
    Ok(v)
}

fn geom(c: &mut Cur<'_>, depth: usize) -> Result<Geometry<f64>> {
    if depth > MAX_DEPTH {
        return Err(bad(format!("geometry collections nested deeper than {MAX_DEPTH} levels")));
    }
    c.le = match c.u8()? {
        0 => false,
        1 => true,
        o => return Err(bad(format!("byte order {o}"))),
    };
    let raw = c.u32()?;
    let (mut has_z, mut has_m) = (raw & 0x8000_0000 != 0, raw & 0x4000_0000 != 0);
    if raw & 0x2000_0000 != 0 {
        c.u32()?; // EWKB SRID
    }
    let iso = raw & 0x0FFF_FFFF;
    let base = iso % 1000;
    match iso / 1000 {
        1 => has_z = true,
        2 => has_m = true,
        3 => {
            has_z = true;
            has_m = true;
        }
        _ => {}
    }
    let dims = 2 + has_z as usize + has_m as usize;
    Ok(match base {
        1 => {
            let x = c.f64()?;
            let y = c.f64()?;
            for _ in 2..dims {
                c.f64()?;
            }
            Geometry::Point(Point::new(x, y))
        }
        2 => Geometry::LineString(LineString(coords(c, dims)?)),
        3 => {
            let n = c.count(4)?;
            let mut rings = Vec::with_capacity(n);
            for _ in 0..n {
                rings.push(LineString(coords(c, dims)?));
            }
            let mut it = rings.into_iter();
            let ext = it.next().unwrap_or_else(|| LineString(vec![]));
            Geometry::Polygon(Polygon::new(ext, it.collect()))
        }
        4..=7 => {
            let n = c.count(5)?;
            let mut parts = Vec::with_capacity(n);
            for _ in 0..n {
                parts.push(geom(c, depth + 1)?);
            }
            // a part of another type is corrupt WKB, not something to drop silently
            let wrong =
                || Error::InvalidGeometry(format!("WKB multi-geometry (type {base}) with a part of another type"));
            match base {
                4 => Geometry::MultiPoint(MultiPoint(
                    parts
                        .into_iter()
                        .map(|g| if let Geometry::Point(p) = g { Ok(p) } else { Err(wrong()) })
                        .collect::<Result<_>>()?,
                )),
                5 => Geometry::MultiLineString(MultiLineString(
                    parts
                        .into_iter()
                        .map(|g| if let Geometry::LineString(p) = g { Ok(p) } else { Err(wrong()) })
                        .collect::<Result<_>>()?,
                )),
                6 => Geometry::MultiPolygon(MultiPolygon(
                    parts
                        .into_iter()
                        .map(|g| if let Geometry::Polygon(p) = g { Ok(p) } else { Err(wrong()) })
                        .collect::<Result<_>>()?,
                )),
                _ => Geometry::GeometryCollection(GeometryCollection(parts)),
            }
        }
        t => return Err(Error::Unsupported(format!("WKB geometry type {t} (curves and surfaces are not supported)"))),
    })
}

/// Encode a geometry as little-endian ISO WKB (2-D).
pub fn write(g: &Geometry<f64>, out: &mut Vec<u8>) {
    fn hdr(out: &mut Vec<u8>, t: u32) {
        out.push(1);
        out.extend_from_slice(&t.to_le_bytes());
    }
    fn pts(out: &mut Vec<u8>, cs: &[Coord<f64>]) {
        out.extend_from_slice(&(cs.len() as u32).to_le_bytes());
        for c in cs {
            out.extend_from_slice(&c.x.to_le_bytes());
            out.extend_from_slice(&c.y.to_le_bytes());
        }
    }
    fn poly(out: &mut Vec<u8>, p: &Polygon<f64>) {
        hdr(out, 3);
        out.extend_from_slice(&(1 + p.interiors().len() as u32).to_le_bytes());
        pts(out, &p.exterior().0);
        for r in p.interiors() {
            pts(out, &r.0);
        }
    }
    match g {
        Geometry::Point(p) => {
            hdr(out, 1);
            out.extend_from_slice(&p.x().to_le_bytes());
            out.extend_from_slice(&p.y().to_le_bytes());
        }
        Geometry::LineString(l) => {
            hdr(out, 2);
            pts(out, &l.0);
        }
        Geometry::Polygon(p) => poly(out, p),
        Geometry::MultiPoint(m) => {
            hdr(out, 4);
            out.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
            for p in &m.0 {
                write(&Geometry::Point(*p), out);
            }
        }
        Geometry::MultiLineString(m) => {
            hdr(out, 5);
            out.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
            for l in &m.0 {
                hdr(out, 2);
                pts(out, &l.0);
            }
        }
        Geometry::MultiPolygon(m) => {
            hdr(out, 6);
            out.extend_from_slice(&(m.0.len() as u32).to_le_bytes());
            for p in &m.0 {
                poly(out, p);
            }
        }
        Geometry::GeometryCollection(gc) => {
            hdr(out, 7);
            out.extend_from_slice(&(gc.0.len() as u32).to_le_bytes());
            for p in &gc.0 {
                write(p, out);
            }
        }
        Geometry::Line(l) => write(&Geometry::LineString(LineString(vec![l.start, l.end])), out),
        Geometry::Rect(r) => poly(out, &r.to_polygon()),
        Geometry::Triangle(t) => poly(out, &t.to_polygon()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn roundtrip() {
        let g: Geometry<f64> = Geometry::MultiPolygon(MultiPolygon(vec![Polygon::new(
            LineString::from(vec![(0., 0.), (1., 0.), (1., 1.), (0., 0.)]),
            vec![],
        )]));
        let mut b = Vec::new();
        write(&g, &mut b);
        assert_eq!(read(&b).unwrap(), g);
        assert_eq!(read(&b[..b.len() - 3]).unwrap_err().code(), "INVALID_GEOMETRY");
    }

    #[test]
    fn deep_collections_are_refused_without_recursing() {
        // 100,000 nested collections used to overflow the stack
        let mut b = Vec::new();
        for _ in 0..100_000 {
            b.extend_from_slice(&[1, 7, 0, 0, 0, 1, 0, 0, 0]);
        }
        let e = read(&b).unwrap_err();
        assert!(e.to_string().contains("nested deeper than"), "{e}");
    }

    #[test]
    fn a_multipolygon_with_a_point_part_is_refused() {
        // MultiPolygon of one part, that part a Point: was read as an empty multipolygon
        let mut b = vec![1, 6, 0, 0, 0, 1, 0, 0, 0];
        write(&Geometry::Point(Point::new(1.0, 2.0)), &mut b);
        let e = read(&b).unwrap_err();
        assert_eq!(e.code(), "INVALID_GEOMETRY");
        assert!(e.to_string().contains("part of another type"), "{e}");
    }
}
