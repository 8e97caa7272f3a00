//! Well-known text for polygonal geometries: `POLYGON` and `MULTIPOLYGON` (2D, with `Z`, `M` or
//! `ZM` ordinates dropped), as SQL Server's `STAsText()` and PostGIS's `ST_AsText` write them.
//!
//! The reader allocates only for what the text holds (never from a count it declares), nests at
//! most three levels deep, and names the byte offset of the first thing it cannot read, never the
//! text itself.

use geo_types::{Coord, LineString, MultiPolygon, Polygon};

use crate::{Error, Result};

/// Read a `POLYGON`, `MULTIPOLYGON` (either possibly `EMPTY`) into a multipolygon.
///
/// Rings are closed when the text leaves them open; a ring needs at least three distinct
/// positions.
pub fn parse_polygonal(text: &str) -> Result<MultiPolygon<f64>> {
    let mut p = Reader { s: text.as_bytes(), i: 0 };
    let kind = p.word().to_ascii_uppercase();
    // `Z`, `M`, `ZM` after the type name
    let save = p.i;
    let dims = p.word().to_ascii_uppercase();
    let ordinates = match dims.as_str() {
        "Z" | "M" => 3,
        "ZM" => 4,
        _ => {
            p.i = save;
            0
        }
    };
    let out = match kind.as_str() {
        "POLYGON" => match p.polygon(ordinates)? {
            Some(pg) => MultiPolygon(vec![pg]),
            None => MultiPolygon(vec![]),
        },
        "MULTIPOLYGON" => {
            if p.empty() {
                MultiPolygon(vec![])
            } else {
                p.expect(b'(')?;
                let mut polys = Vec::new();
                loop {
                    if let Some(pg) = p.polygon(ordinates)? {
                        polys.push(pg);
                    }
                    if !p.comma_or_close()? {
                        break;
                    }
                }
                MultiPolygon(polys)
            }
        }
        "" => return Err(p.error("no geometry type")),
        _ => return Err(Error::InvalidGeometry("WKT: expected POLYGON or MULTIPOLYGON".into())),
    };
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(p.error("text after the geometry"));
    }
    Ok(out)
}

/// Write a multipolygon as `MULTIPOLYGON (((x y, ...)))` with `decimals` digits after the point
/// (`None`: the shortest text that reads back to the same numbers).
pub fn write_multipolygon(mp: &MultiPolygon<f64>, decimals: Option<usize>, out: &mut String) {
    use std::fmt::Write;
    if mp.0.is_empty() {
        out.push_str("MULTIPOLYGON EMPTY");
        return;
    }
    out.push_str("MULTIPOLYGON (");
    for (k, pg) in mp.0.iter().enumerate() {
        if k > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for (r, ring) in std::iter::once(pg.exterior()).chain(pg.interiors()).enumerate() {
            if r > 0 {
                out.push_str(", ");
            }
            out.push('(');
            for (j, c) in ring.0.iter().enumerate() {
                if j > 0 {
                    out.push_str(", ");
                }
                let _ = match decimals {
                    Some(d) => write!(out, "{:.*} {:.*}", d, c.x, d, c.y),
                    None => write!(out, "{} {}", c.x, c.y),
                };
            }
            out.push(')');
        }
        out.push(')');
    }
    out.push(')');
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn error(&self, what: &str) -> Error {
        Error::InvalidGeometry(format!("WKT: {what} at byte {}", self.i))
    }

    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_alphabetic() {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", c as char)))
        }
    }

    /// `EMPTY` here (consumed), or not.
    fn empty(&mut self) -> bool {
        let save = self.i;
        if self.word().eq_ignore_ascii_case("EMPTY") {
            return true;
        }
        self.i = save;
        false
    }

    /// After an item: `,` (true: another follows) or `)` (false: the list ends).
    fn comma_or_close(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(b')') => {
                self.i += 1;
                Ok(false)
            }
            _ => Err(self.error("expected ',' or ')'")),
        }
    }

    fn number(&mut self) -> Result<f64> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            self.i += 1;
        }
        let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        match t.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => {
                self.i = start;
                Err(self.error("expected a finite number"))
            }
        }
    }

    /// `(x y, x y, ...)` with `ordinates` numbers per position (0: two or more, the rest dropped).
    fn ring(&mut self, ordinates: usize) -> Result<LineString<f64>> {
        self.expect(b'(')?;
        let mut pts = Vec::new();
        loop {
            let x = self.number()?;
            let y = self.number()?;
            let mut n = 2;
            // extra ordinates (Z, M) up to four in all
            while n < 4 && matches!(self.peek(), Some(b'0'..=b'9' | b'-' | b'+' | b'.')) {
                self.number()?;
                n += 1;
            }
            if ordinates != 0 && n != ordinates {
                return Err(self.error(&format!("expected {ordinates} ordinates per position, found {n}")));
            }
            pts.push(Coord { x, y });
            if !self.comma_or_close()? {
                break;
            }
        }
        if pts.first() != pts.last() {
            pts.push(pts[0]);
        }
        let mut distinct = pts.clone();
        distinct.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
        distinct.dedup();
        if distinct.len() < 3 {
            return Err(self.error("a ring needs at least three distinct positions"));
        }
        Ok(LineString(pts))
    }

    /// `((ring), (hole), ...)` or `EMPTY` (None).
    fn polygon(&mut self, ordinates: usize) -> Result<Option<Polygon<f64>>> {
        if self.empty() {
            return Ok(None);
        }
        self.expect(b'(')?;
        let exterior = self.ring(ordinates)?;
        let mut holes = Vec::new();
        while self.comma_or_close()? {
            holes.push(self.ring(ordinates)?);
        }
        Ok(Some(Polygon::new(exterior, holes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_sql_server_writes() {
        let mp = parse_polygonal("POLYGON ((-68.8 44.8, -68.7 44.8, -68.7 44.9, -68.8 44.8))").unwrap();
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].exterior().0.len(), 4);
        let mp =
            parse_polygonal("MULTIPOLYGON (((0 0, 4 0, 4 4, 0 4, 0 0), (1 1, 2 1, 2 2, 1 1)), ((5 5, 6 5, 6 6, 5 5)))")
                .unwrap();
        assert_eq!(mp.0.len(), 2);
        assert_eq!(mp.0[0].interiors().len(), 1);
        let z = parse_polygonal("polygon z ((0 0 1, 1 0 1, 1 1 1, 0 0 1))").unwrap();
        assert_eq!(z.0[0].exterior().0[1], Coord { x: 1.0, y: 0.0 });
        assert!(parse_polygonal("MULTIPOLYGON EMPTY").unwrap().0.is_empty());
        assert!(parse_polygonal("POLYGON EMPTY").unwrap().0.is_empty());
        // an open ring is closed
        let open = parse_polygonal("POLYGON ((0 0, 1 0, 1 1))").unwrap();
        assert_eq!(open.0[0].exterior().0.len(), 4);
    }

    #[test]
    fn round_trips_through_the_writer() {
        let src = "MULTIPOLYGON (((0.5 0.25, 4 0, 4 4, 0 4, 0.5 0.25)), ((5 5, 6 5, 6 6, 5 5)))";
        let mp = parse_polygonal(src).unwrap();
        let mut s = String::new();
        write_multipolygon(&mp, Some(2), &mut s);
        assert_eq!(parse_polygonal(&s).unwrap(), mp);
    }

    #[test]
    fn refuses_bad_text_without_quoting_it() {
        for bad in [
            "",
            "POINT (1 2)",
            "POLYGON ((0 0, 1 0))",
            "POLYGON ((0 0, 1 0, 1 1, 0 0)",
            "POLYGON ((0 0, 1 0, nan 1, 0 0))",
            "POLYGON ((0 0, 1 0, 1e400 1, 0 0))",
            "POLYGON ((0 0, 1 0, 1 1, 0 0)) secret",
            "POLYGON Z ((0 0, 1 0, 1 1, 0 0))",
            "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0))",
            "MULTIPOLYGON ((((0 0, 1 0, 1 1, 0 0))))",
        ] {
            let e = parse_polygonal(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_GEOMETRY", "{bad}");
            assert!(!e.to_string().contains("secret"));
        }
    }
}
