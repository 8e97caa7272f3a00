//! Coordinate reference systems and reprojection (pure Rust).
//!
//! A [`Crs`] is built from an EPSG code, an OGC WKT string (GeoTIFF geokeys, GeoPackage
//! `gpkg_spatial_ref_sys`, ESRI `.prj`) or a PROJ string. Transformations run through
//! [`proj4rs`] with EPSG definitions from `crs-definitions`, so no system PROJ library is
//! needed. Where PROJ (and therefore pyproj) picks a specific datum transformation that differs
//! from the legacy proj4 definition, landopp uses PROJ's choice (see [`Crs::from_epsg`]).
//!
//! Accuracy against pyproj 3.7 / PROJ 9.5 on every CRS of the shared test data is asserted in the
//! integration tests (`core/tests/it/crs.rs`): under 1 cm.

use crate::error::{Error, Result};
use geo_types::{Coord, Geometry};
use rayon::prelude::*;
use std::fmt;

/// Datum transformations that PROJ 9 chooses when no grid files are installed (the pyproj wheel
/// default), keyed by EPSG code of the geographic CRS. The proj4 definitions in the EPSG table
/// use other parameters or a grid (`+datum=NAD27` → `@conus`), which would disagree with pyproj
/// by metres.
const DATUM_OVERRIDES: &[(u32, &str, &str)] = &[
    // NAD27 to WGS 84 (4), EPSG:1173, "USA - CONUS" (PROJ's pick for CONUS without NADCON grids).
    (4267, "+datum=NAD27", "+ellps=clrk66 +towgs84=-8,160,176,0,0,0,0"),
    // Amersfoort to WGS 84 (4), EPSG:15739 (PROJ's pick without the RDNAPTRANS grid).
    (
        4289,
        "+towgs84=565.2369,50.0087,465.658,-0.406857,0.350733,-1.87035,4.0812",
        "+towgs84=565.4171,50.3319,465.5524,-0.398957388243134,0.343987817378283,-1.87740163998045,4.0725",
    ),
];

/// Projected CRSs whose base geographic CRS is in [`DATUM_OVERRIDES`].
fn base_geographic(code: u32) -> Option<u32> {
    match code {
        4267 | 26701..=26799 | 26801..=26899 if code != 26847 => Some(4267),
        4289 | 28991 | 28992 => Some(4289),
        _ => None,
    }
}

/// A coordinate reference system.
#[derive(Clone)]
pub struct Crs {
    epsg: Option<u32>,
    name: String,
    proj: String,
    geographic: bool,
    /// Metres per horizontal unit (1 for metres, 0.3048006096 for US survey feet; for geographic
    /// CRSs the value is NaN: units are degrees).
    unit_m: f64,
}

impl fmt::Debug for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.epsg {
            Some(c) => write!(f, "Crs(EPSG:{c})"),
            None => write!(f, "Crs({:?})", self.proj),
        }
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.epsg {
            Some(c) => write!(f, "EPSG:{c} ({})", self.name),
            None => write!(f, "{}", self.proj),
        }
    }
}

impl PartialEq for Crs {
    fn eq(&self, other: &Self) -> bool {
        match (self.epsg, other.epsg) {
            (Some(a), Some(b)) => a == b,
            _ => self.proj == other.proj,
        }
    }
}

impl Crs {
    /// WGS 84 geographic (EPSG:4326), longitude/latitude in degrees.
    pub fn wgs84() -> Self {
        Self::from_epsg(4326).expect("EPSG:4326 is in the built-in table")
    }

    /// Look up an EPSG code.
    ///
    /// ```
    /// let crs = landopp::Crs::from_epsg(26919)?;
    /// assert_eq!(crs.epsg(), Some(26919));
    /// assert!(!crs.is_geographic());
    /// assert_eq!(landopp::Crs::from_epsg(99999).unwrap_err().code(), "CRS");
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn from_epsg(code: u32) -> Result<Self> {
        let def = u16::try_from(code)
            .ok()
            .and_then(crs_definitions::from_code)
            .ok_or_else(|| Error::Crs(format!("unknown EPSG code {code}")))?;
        let mut proj = def.proj4.to_string();
        if let Some(base) = base_geographic(code) {
            for (c, from, to) in DATUM_OVERRIDES {
                if *c == base {
                    proj = proj.replace(from, to);
                }
            }
        }
        let name = wkt_name(def.wkt).unwrap_or_default();
        let mut crs = Self::from_proj_inner(&proj, name)?;
        crs.epsg = Some(code);
        Ok(crs)
    }

    /// Parse a PROJ string such as `+proj=utm +zone=19 +datum=NAD83 +units=m`.
    pub fn from_proj(proj: &str) -> Result<Self> {
        Self::from_proj_inner(proj, String::new())
    }

    fn from_proj_inner(proj: &str, name: String) -> Result<Self> {
        // PROJ strings are ASCII; proj4rs's parser also panics on some multi-byte input
        if !proj.is_ascii() {
            return Err(Error::Crs("a PROJ string must be ASCII text".into()));
        }
        // numbers that parse as NaN or infinite (`+to_meter=NaN`, `+k=inf`) make every coordinate garbage
        for tok in proj.split_whitespace() {
            if let Some((key, value)) = tok.split_once('=') {
                if value.split(',').any(|v| v.trim().parse::<f64>().is_ok_and(|x| !x.is_finite())) {
                    return Err(Error::Crs(format!(
                        "PROJ parameter {} must be a finite number",
                        key.trim_start_matches('+')
                    )));
                }
            }
        }
        let parsed = std::panic::catch_unwind(|| proj4rs::Proj::from_proj_string(proj))
            .map_err(|_| Error::Crs(format!("cannot parse PROJ string {proj:?}")))?;
        let p = parsed.map_err(|e| Error::Crs(format!("cannot parse PROJ string {proj:?}: {e}")))?;
        let geographic = p.is_latlong();
        let unit_m = if geographic { f64::NAN } else { p.to_meter() };
        let positive_length = unit_m.is_finite() && unit_m > 0.0;
        if !geographic && !positive_length {
            return Err(Error::Crs(format!("the unit of PROJ string {proj:?} is not a positive length")));
        }
        Ok(Crs { epsg: None, name, proj: proj.trim().to_string(), geographic, unit_m })
    }

    /// Parse OGC WKT (WKT1 as in GeoPackage and GeoTIFF citations, ESRI `.prj`, or WKT2 with an
    /// `ID["EPSG",...]`). The root authority code is used when present; otherwise WKT1
    /// projection parameters are converted to a PROJ string.
    pub fn from_wkt(wkt: &str) -> Result<Self> {
        let root = wkt::parse(wkt)?;
        if let Some(code) = root.epsg() {
            return Self::from_epsg(code);
        }
        if let Some(code) = root.known_geographic() {
            return Self::from_epsg(code);
        }
        let proj = root.to_proj()?;
        let mut crs = Self::from_proj_inner(&proj, root.name().to_string())?;
        if crs.proj == "+proj=longlat +datum=WGS84 +no_defs" {
            crs.epsg = Some(4326);
        }
        Ok(crs)
    }

    /// Parse whatever a user types: `EPSG:4326`, `4326`, `urn:ogc:def:crs:EPSG::32633`,
    /// `OGC:CRS84`, a PROJ string or WKT.
    pub fn from_user_input(s: &str) -> Result<Self> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        if upper == "OGC:CRS84" || upper.ends_with("CRS84") {
            return Self::from_epsg(4326);
        }
        if let Ok(code) = t.parse::<u32>() {
            return Self::from_epsg(code);
        }
        if let Some(rest) = upper.strip_prefix("EPSG:") {
            return rest
                .trim()
                .parse::<u32>()
                .map_err(|_| Error::Crs(format!("invalid EPSG code in {t:?}")))
                .and_then(Self::from_epsg);
        }
        if upper.starts_with("URN:OGC:DEF:CRS:EPSG:") {
            let code = upper.rsplit(':').next().unwrap_or_default();
            return code
                .parse::<u32>()
                .map_err(|_| Error::Crs(format!("invalid EPSG URN {t:?}")))
                .and_then(Self::from_epsg);
        }
        if t.starts_with('+') || t.starts_with("proj=") {
            return Self::from_proj(t);
        }
        if t.contains('[') {
            return Self::from_wkt(t);
        }
        Err(Error::Crs(format!("unrecognised CRS {t:?} (expected EPSG:code, WKT or a PROJ string)")))
    }

    /// The EPSG code, when known.
    pub fn epsg(&self) -> Option<u32> {
        self.epsg
    }

    /// The CRS name from the EPSG table or WKT (may be empty).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The PROJ string used for transformations.
    pub fn proj_string(&self) -> &str {
        &self.proj
    }

    /// True for longitude/latitude CRSs (coordinates in degrees).
    pub fn is_geographic(&self) -> bool {
        self.geographic
    }

    /// Metres per linear unit of a projected CRS (`None` for geographic CRSs).
    ///
    /// ```
    /// let ft = landopp::Crs::from_epsg(26847)?; // NAD83 / Maine East (ftUS)
    /// assert!((ft.linear_unit_m().unwrap() - 1200.0 / 3937.0).abs() < 1e-12);
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn linear_unit_m(&self) -> Option<f64> {
        (!self.geographic).then_some(self.unit_m)
    }

    /// The WKT1 definition for writers (EPSG table text when the code is known).
    pub fn to_wkt(&self) -> Option<String> {
        let code = u16::try_from(self.epsg?).ok()?;
        crs_definitions::from_code(code).map(|d| d.wkt.to_string())
    }

    /// `EPSG:code` when known, else the PROJ string.
    pub fn to_user_string(&self) -> String {
        match self.epsg {
            Some(c) => format!("EPSG:{c}"),
            None => self.proj.clone(),
        }
    }
}

fn wkt_name(wkt: &str) -> Option<String> {
    let start = wkt.find('"')? + 1;
    let end = start + wkt[start..].find('"')?;
    Some(wkt[start..end].to_string())
}

/// A reusable transformation between two CRSs. Coordinates are (x, y) = (easting, northing) or
/// (longitude, latitude) in degrees — the "always_xy" order of pyproj.
pub struct Transformer {
    src: proj4rs::Proj,
    dst: proj4rs::Proj,
    src_geo: bool,
    dst_geo: bool,
    noop: bool,
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transformer").field("noop", &self.noop).finish_non_exhaustive()
    }
}

struct CoordSlice<'a>(&'a mut [Coord<f64>]);

impl proj4rs::transform::Transform for CoordSlice<'_> {
    fn transform_coordinates<F: proj4rs::transform::TransformClosure>(
        &mut self,
        f: &mut F,
    ) -> proj4rs::errors::Result<()> {
        // Called once per pipeline stage: no unit conversion here.
        for c in self.0.iter_mut() {
            let (x, y, _) = f(c.x, c.y, 0.0)?;
            *c = Coord { x, y };
        }
        Ok(())
    }
}

impl Transformer {
    /// Build a transformation from `src` to `dst`.
    pub fn new(src: &Crs, dst: &Crs) -> Result<Self> {
        let mk = |c: &Crs| {
            proj4rs::Proj::from_proj_string(&c.proj).map_err(|e| Error::Crs(format!("cannot use CRS {c}: {e}")))
        };
        Ok(Transformer {
            src: mk(src)?,
            dst: mk(dst)?,
            src_geo: src.geographic,
            dst_geo: dst.geographic,
            noop: src == dst,
        })
    }

    /// True when source and destination are the same CRS.
    pub fn is_noop(&self) -> bool {
        self.noop
    }

    /// Transform coordinates in place (parallel over chunks). Non-finite input or a coordinate
    /// outside the projection's domain is an error naming the coordinate.
    pub fn transform_coords(&self, coords: &mut [Coord<f64>]) -> Result<()> {
        if let Some(c) = coords.iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
            return Err(Error::InvalidGeometry(format!(
                "non-finite coordinate ({}, {}) cannot be reprojected",
                c.x, c.y
            )));
        }
        if self.noop {
            return Ok(());
        }
        let run = |chunk: &mut [Coord<f64>]| -> Result<()> {
            if self.src_geo {
                chunk.iter_mut().for_each(|c| *c = Coord { x: c.x.to_radians(), y: c.y.to_radians() });
            }
            proj4rs::transform::transform(&self.src, &self.dst, &mut CoordSlice(chunk))
                .map_err(|e| Error::Crs(format!("reprojection failed: {e}")))?;
            if self.dst_geo {
                chunk.iter_mut().for_each(|c| *c = Coord { x: c.x.to_degrees(), y: c.y.to_degrees() });
            }
            if let Some(c) = chunk.iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
                return Err(Error::Crs(format!("reprojection produced a non-finite coordinate ({}, {})", c.x, c.y)));
            }
            Ok(())
        };
        // small inputs (one geometry) stay on this thread; large ones are split across cores
        if coords.len() <= 8192 {
            run(coords)
        } else {
            coords.par_chunks_mut(4096).try_for_each(run)
        }
    }

    /// Transform one point.
    pub fn transform_point(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        let mut c = [Coord { x, y }];
        self.transform_coords(&mut c)?;
        Ok((c[0].x, c[0].y))
    }

    /// Transform every coordinate of a geometry in place (one batch for the whole geometry).
    pub fn transform_geometry(&self, g: &mut Geometry<f64>) -> Result<()> {
        use geo::{CoordsIter, MapCoordsInPlace};
        if self.noop {
            return Ok(());
        }
        let mut coords: Vec<Coord<f64>> = g.coords_iter().collect();
        self.transform_coords(&mut coords)?;
        // write back in the same traversal order as `coords_iter`
        let next = std::cell::Cell::new(0usize);
        let (next, coords) = (&next, &coords);
        g.map_coords_in_place(|c| {
            let i = next.get();
            next.set(i + 1);
            coords.get(i).copied().unwrap_or(c)
        });
        Ok(())
    }

    /// Transform a multipolygon (one batch).
    pub fn transform_multipolygon(&self, mp: &geo_types::MultiPolygon<f64>) -> Result<geo_types::MultiPolygon<f64>> {
        let mut m = mp.clone();
        self.transform_multipolygon_in_place(&mut m)?;
        Ok(m)
    }

    /// Transform a multipolygon in place (one batch).
    pub fn transform_multipolygon_in_place(&self, mp: &mut geo_types::MultiPolygon<f64>) -> Result<()> {
        if self.noop {
            return Ok(());
        }
        let mut g = Geometry::MultiPolygon(std::mem::replace(mp, geo_types::MultiPolygon(Vec::new())));
        self.transform_geometry(&mut g)?;
        match g {
            Geometry::MultiPolygon(m) => {
                *mp = m;
                Ok(())
            }
            _ => Err(Error::InvalidGeometry("reprojection changed the geometry type".into())),
        }
    }
}

/// A small WKT1/WKT2 reader: enough to find the root authority and convert WKT1 projection
/// parameters to PROJ.
mod wkt {
    use crate::error::{Error, Result};

    #[derive(Debug)]
    pub(super) struct Node {
        pub key: String,
        pub args: Vec<Arg>,
    }

    #[derive(Debug)]
    pub(super) enum Arg {
        Str(String),
        Num(f64),
        Word,
        Node(Node),
    }

    /// Deepest nesting accepted: real CRS definitions nest about 5 levels (WKT2 ~7).
    pub(super) const MAX_DEPTH: usize = 32;

    pub(super) fn parse(s: &str) -> Result<Node> {
        let b = s.trim().as_bytes();
        let mut pos = 0;
        let n = node(b, &mut pos, 0)?;
        Ok(n)
    }

    fn err(msg: &str) -> Error {
        Error::Crs(format!("cannot parse WKT: {msg}"))
    }

    fn skip_ws(b: &[u8], pos: &mut usize) {
        while *pos < b.len() && b[*pos].is_ascii_whitespace() {
            *pos += 1;
        }
    }

    fn is_word(c: u8) -> bool {
        c.is_ascii_alphanumeric() || c == b'_'
    }

    /// One `KEYWORD[args]` node. Every branch of the argument loop consumes at least one byte, and
    /// nesting deeper than [`MAX_DEPTH`] is refused, so hostile text can neither loop nor
    /// exhaust the stack.
    fn node(b: &[u8], pos: &mut usize, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(err(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        skip_ws(b, pos);
        let start = *pos;
        while *pos < b.len() && is_word(b[*pos]) {
            *pos += 1;
        }
        let key = String::from_utf8_lossy(&b[start..*pos]).to_ascii_uppercase();
        skip_ws(b, pos);
        if key.is_empty() || *pos >= b.len() || (b[*pos] != b'[' && b[*pos] != b'(') {
            return Err(err(&format!("expected KEYWORD[ at byte {}", *pos)));
        }
        *pos += 1;
        let mut args = Vec::new();
        loop {
            skip_ws(b, pos);
            if *pos >= b.len() {
                return Err(err("unbalanced brackets"));
            }
            match b[*pos] {
                b']' | b')' => {
                    *pos += 1;
                    break;
                }
                b',' => *pos += 1,
                b'"' => {
                    *pos += 1;
                    let s = *pos;
                    while *pos < b.len() && b[*pos] != b'"' {
                        *pos += 1;
                    }
                    args.push(Arg::Str(String::from_utf8_lossy(&b[s..*pos]).into_owned()));
                    *pos += 1;
                }
                c if c == b'-' || c == b'+' || c == b'.' || c.is_ascii_digit() => {
                    let s = *pos;
                    while *pos < b.len() && !matches!(b[*pos], b',' | b']' | b')') && !b[*pos].is_ascii_whitespace() {
                        *pos += 1;
                    }
                    let t = String::from_utf8_lossy(&b[s..*pos]);
                    args.push(Arg::Num(t.parse().map_err(|_| err(&format!("bad number at byte {s}")))?));
                }
                c if is_word(c) => {
                    let save = *pos;
                    while *pos < b.len() && is_word(b[*pos]) {
                        *pos += 1;
                    }
                    skip_ws(b, pos);
                    if *pos < b.len() && (b[*pos] == b'[' || b[*pos] == b'(') {
                        *pos = save;
                        args.push(Arg::Node(node(b, pos, depth + 1)?));
                    } else {
                        args.push(Arg::Word);
                    }
                }
                _ => return Err(err(&format!("unexpected character at byte {}", *pos))),
            }
        }
        Ok(Node { key, args })
    }

    impl Node {
        pub fn name(&self) -> &str {
            match self.args.first() {
                Some(Arg::Str(s)) => s,
                _ => "",
            }
        }
        fn children<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
            self.args.iter().filter_map(move |a| match a {
                Arg::Node(n) if n.key == key => Some(n),
                _ => None,
            })
        }
        fn child<'a>(&'a self, key: &'a str) -> Option<&'a Node> {
            self.children(key).next()
        }
        fn num(&self, i: usize) -> Option<f64> {
            match self.args.get(i) {
                Some(Arg::Num(v)) => Some(*v),
                Some(Arg::Str(s)) => s.parse().ok(),
                _ => None,
            }
        }
        pub fn epsg(&self) -> Option<u32> {
            let auth = self.child("AUTHORITY").or_else(|| self.child("ID"))?;
            match (auth.args.first(), auth.args.get(1)) {
                (Some(Arg::Str(org)), Some(Arg::Str(code))) if org.eq_ignore_ascii_case("EPSG") => code.parse().ok(),
                (Some(Arg::Str(org)), Some(Arg::Num(code))) if org.eq_ignore_ascii_case("EPSG") => Some(*code as u32),
                _ => None,
            }
        }

        /// EPSG code of a plain geographic CRS recognised by its datum name (ESRI `.prj` files
        /// carry no authority).
        pub fn known_geographic(&self) -> Option<u32> {
            if self.key != "GEOGCS" {
                return None;
            }
            let d = self.child("DATUM")?.name().to_ascii_uppercase();
            let d = d.trim_start_matches("D_");
            match d {
                "WGS_1984" | "WGS84" => Some(4326),
                "NORTH_AMERICAN_1983" | "NORTH_AMERICAN_DATUM_1983" => Some(4269),
                "NORTH_AMERICAN_1927" | "NORTH_AMERICAN_DATUM_1927" => Some(4267),
                "SIRGAS_2000" | "SISTEMA_DE_REFERENCIA_GEOCENTRICO_PARA_LAS_AMERICAS_2000" => Some(4674),
                _ => None,
            }
        }

        fn datum_proj(geog: &Node) -> Result<String> {
            let datum = geog.child("DATUM").ok_or_else(|| err("GEOGCS without DATUM"))?;
            let sph = datum
                .child("SPHEROID")
                .or_else(|| datum.child("ELLIPSOID"))
                .ok_or_else(|| err("DATUM without SPHEROID"))?;
            let a = sph.num(1).ok_or_else(|| err("SPHEROID without semi-major axis"))?;
            let rf = sph.num(2).unwrap_or(0.0);
            let mut s = if rf == 0.0 { format!("+a={a} +b={a}") } else { format!("+a={a} +rf={rf}") };
            let dname = datum.name().to_ascii_uppercase().replace(' ', "_");
            if let Some(t) = datum.child("TOWGS84") {
                let v: Vec<String> = (0..7).map(|i| t.num(i).unwrap_or(0.0).to_string()).collect();
                s.push_str(&format!(" +towgs84={}", v.join(",")));
            } else if dname.contains("WGS_1984") || dname.contains("WGS84") {
                s = "+datum=WGS84".into();
            } else if dname.contains("NORTH_AMERICAN_DATUM_1983") || dname == "D_NORTH_AMERICAN_1983" {
                s = "+datum=NAD83".into();
            } else if dname.contains("SIRGAS")
                || dname.contains("GDA")
                || dname.contains("ETRS")
                || dname.contains("NZGD2000")
            {
                s.push_str(" +towgs84=0,0,0,0,0,0,0");
            }
            Ok(s)
        }

        pub fn to_proj(&self) -> Result<String> {
            match self.key.as_str() {
                "GEOGCS" => Ok(format!("+proj=longlat {} +no_defs", Self::datum_proj(self)?)),
                "PROJCS" => {
                    let geog = self.child("GEOGCS").ok_or_else(|| err("PROJCS without GEOGCS"))?;
                    let datum = Self::datum_proj(geog)?;
                    let proj = self.child("PROJECTION").ok_or_else(|| err("PROJCS without PROJECTION"))?;
                    let mut p = std::collections::HashMap::new();
                    for par in self.children("PARAMETER") {
                        if let Some(v) = par.num(1) {
                            p.insert(par.name().to_ascii_lowercase(), v);
                        }
                    }
                    let g = |k: &[&str]| k.iter().find_map(|k| p.get(*k).copied()).unwrap_or(0.0);
                    let unit = self.child("UNIT").and_then(|u| u.num(1)).unwrap_or(1.0);
                    let lat0 = g(&["latitude_of_origin", "latitude_of_center"]);
                    let lon0 = g(&["central_meridian", "longitude_of_center", "longitude_of_origin"]);
                    let k = p.get("scale_factor").copied().unwrap_or(1.0);
                    let x0 = g(&["false_easting"]) * unit;
                    let y0 = g(&["false_northing"]) * unit;
                    let common = format!("+lat_0={lat0} +lon_0={lon0} +x_0={x0} +y_0={y0}");
                    let name = proj.name().to_ascii_lowercase();
                    let body = match name.as_str() {
                        "transverse_mercator" | "gauss_kruger" => {
                            format!("+proj=tmerc {common} +k={k}")
                        }
                        "mercator_1sp" | "mercator" => {
                            format!("+proj=merc +lon_0={lon0} +k={k} +x_0={x0} +y_0={y0}")
                        }
                        "mercator_2sp" => format!(
                            "+proj=merc +lon_0={lon0} +lat_ts={} +x_0={x0} +y_0={y0}",
                            g(&["standard_parallel_1"])
                        ),
                        "lambert_conformal_conic_1sp" => {
                            format!("+proj=lcc +lat_1={lat0} {common} +k_0={k}")
                        }
                        "lambert_conformal_conic_2sp" | "lambert_conformal_conic" => format!(
                            "+proj=lcc +lat_1={} +lat_2={} {common}",
                            g(&["standard_parallel_1"]),
                            g(&["standard_parallel_2"])
                        ),
                        "albers_conic_equal_area" | "albers" => format!(
                            "+proj=aea +lat_1={} +lat_2={} {common}",
                            g(&["standard_parallel_1"]),
                            g(&["standard_parallel_2"])
                        ),
                        "oblique_stereographic" | "double_stereographic" => {
                            format!("+proj=sterea {common} +k={k}")
                        }
                        "polar_stereographic" => format!("+proj=stere {common} +k={k}"),
                        "lambert_azimuthal_equal_area" => format!("+proj=laea {common}"),
                        other => return Err(Error::Crs(format!("WKT projection {other:?} is not supported"))),
                    };
                    Ok(format!("{body} {datum} +to_meter={unit} +no_defs"))
                }
                other => Err(Error::Crs(format!("WKT root {other} without an EPSG authority is not supported"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_user_inputs() {
        assert_eq!(Crs::from_user_input("EPSG:32633").unwrap().epsg(), Some(32633));
        assert_eq!(Crs::from_user_input("urn:ogc:def:crs:EPSG::2193").unwrap().epsg(), Some(2193));
        assert_eq!(Crs::from_user_input("OGC:CRS84").unwrap().epsg(), Some(4326));
        assert!(Crs::from_user_input("+proj=utm +zone=19 +datum=NAD83").unwrap().epsg().is_none());
        assert_eq!(Crs::from_user_input("EPSG:99999").unwrap_err().code(), "CRS");
        assert_eq!(Crs::from_user_input("not a crs").unwrap_err().code(), "CRS");
        // non-finite numbers and non-positive units are refused, not turned into NaN coordinates
        for bad in [
            "+proj=utm +zone=19 +datum=NAD83 +to_meter=NaN",
            "+proj=utm +zone=19 +datum=NAD83 +to_meter=0",
            "+proj=utm +zone=19 +datum=NAD83 +to_meter=-1",
            "+proj=tmerc +k=inf +datum=WGS84",
            "+proj=utm +zone=19 +towgs84=0,0,nan",
        ] {
            let e = Crs::from_user_input(bad).unwrap_err();
            assert_eq!(e.code(), "CRS", "{bad}: {e}");
        }
        let wkt0 = r#"PROJCS["x",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",-69.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",0.0]]"#;
        assert!(Crs::from_wkt(wkt0).is_err());
    }

    #[test]
    fn wkt_without_authority_converts_to_proj() {
        let prj = r#"PROJCS["NAD_1983_UTM_Zone_19N",GEOGCS["GCS_North_American_1983",DATUM["D_North_American_1983",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",-69.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;
        let a = Crs::from_wkt(prj).unwrap();
        let b = Crs::from_epsg(26919).unwrap();
        let t1 = Transformer::new(&Crs::wgs84(), &a).unwrap();
        let t2 = Transformer::new(&Crs::wgs84(), &b).unwrap();
        let p1 = t1.transform_point(-68.77, 44.8).unwrap();
        let p2 = t2.transform_point(-68.77, 44.8).unwrap();
        assert!((p1.0 - p2.0).abs() < 1e-6 && (p1.1 - p2.1).abs() < 1e-6, "{p1:?} {p2:?}");
    }

    #[test]
    fn batch_geometry_transform_equals_per_point() {
        use geo::CoordsIter;
        let t = Transformer::new(&Crs::wgs84(), &Crs::from_epsg(26919).unwrap()).unwrap();
        let poly = geo_types::Polygon::new(
            vec![(-68.8, 44.8), (-68.7, 44.8), (-68.7, 44.9), (-68.8, 44.8)].into(),
            vec![vec![(-68.78, 44.81), (-68.76, 44.81), (-68.76, 44.83), (-68.78, 44.81)].into()],
        );
        let mut g = Geometry::MultiPolygon(geo_types::MultiPolygon(vec![poly.clone(), poly]));
        let before: Vec<Coord<f64>> = g.coords_iter().collect();
        t.transform_geometry(&mut g).unwrap();
        for (a, b) in before.iter().zip(g.coords_iter()) {
            let (x, y) = t.transform_point(a.x, a.y).unwrap();
            assert_eq!((x, y), (b.x, b.y));
        }
    }

    #[test]
    fn nan_is_rejected() {
        let t = Transformer::new(&Crs::wgs84(), &Crs::from_epsg(32633).unwrap()).unwrap();
        assert_eq!(t.transform_point(f64::NAN, 1.0).unwrap_err().code(), "INVALID_GEOMETRY");
    }

    #[test]
    fn hostile_wkt_is_refused_without_recursing_or_looping() {
        // 10,000 levels used to overflow the stack; a stray character used to loop forever
        let deep = format!("{}{}", "A[".repeat(10_000), "]".repeat(10_000));
        let e = Crs::from_wkt(&deep).unwrap_err();
        assert_eq!(e.code(), "CRS");
        assert!(e.to_string().contains("nested deeper than"), "{e}");
        for bad in ["GEOGCS[#]", "GEOGCS[\"x\",DATUM[\"d\",SPHEROID[\"s\",6378137,298.25]],%]", "A[", "A[1e]"] {
            assert_eq!(Crs::from_wkt(bad).unwrap_err().code(), "CRS", "{bad}");
        }
        // the real nesting depth of WKT2 definitions still parses
        assert!(wkt::parse(&format!("{}{}", "A[".repeat(wkt::MAX_DEPTH), "]".repeat(wkt::MAX_DEPTH))).is_ok());
    }
}
