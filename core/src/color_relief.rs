//! `gdaldem color-relief`: a DEM (or any single-band raster) coloured through a colour table,
//! equal to gdaldem (GDAL 3.6) byte for byte.
//!
//! The colour table is gdaldem's text format ([`ColorTable::parse`]): one entry per line, a value
//! then `R G B [A]` (0–255) or a colour name (`white`, `black`, `red`, `green`, `blue`, `yellow`,
//! `magenta`, `cyan`, `aqua`, `grey`/`gray`, `orange`, `brown`, `purple`/`violet`, `indigo`) with an
//! optional alpha; fields separated by spaces, tabs, commas or colons; a line whose first field
//! starts with `#` or `/` is a comment. A value is a number, `nv` (the raster's nodata value; ignored without one) or a
//! percentage `P%` of the raster's range of valid values. GMT `.cpt` tables
//! (`# COLOR_MODEL = RGB`, `z0 r g b z1 r g b` lines, `N r g b` for nodata) are read too.
//!
//! Values between two entries are interpolated linearly ([`ColorMode::Interpolate`], the default),
//! take the nearest entry's colour ([`ColorMode::NearestEntry`], `-nearest_color_entry`), or are
//! transparent black unless they equal an entry ([`ColorMode::ExactEntry`],
//! `-exact_color_entry`); values beyond the first or last entry take its colour. Cells are read as
//! f32, as gdaldem reads them; nodata cells are coloured like any other value (give an `nv`
//! entry to choose their colour), and the output has no nodata value.

use crate::error::{Error, Result};
use crate::raster::{BandData, Raster};
use std::path::Path;

/// How values between two entries of the table are coloured.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColorMode {
    /// Linear interpolation between the two entries around the value (gdaldem's default).
    #[default]
    Interpolate,
    /// The colour of the nearest entry (`-nearest_color_entry`).
    NearestEntry,
    /// Only values equal to an entry are coloured; others are transparent black
    /// (`-exact_color_entry`).
    ExactEntry,
}

/// Options of [`color_relief`].
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColorReliefOptions {
    /// How values between entries are coloured.
    pub mode: ColorMode,
    /// Add an alpha band (`-alpha`).
    pub alpha: bool,
    /// Band number of the input (1-based, as gdaldem `-b`; default 1).
    pub band: usize,
}

impl Default for ColorReliefOptions {
    fn default() -> Self {
        ColorReliefOptions { mode: ColorMode::default(), alpha: false, band: 1 }
    }
}

impl ColorReliefOptions {
    /// Options from JSON (`null`: the defaults); errors are `INVALID_INPUT`.
    pub fn from_json(v: serde_json::Value) -> Result<Self> {
        <Self as crate::config::Config>::from_value(v)
    }

    /// Options from JSON text (`mode`: `interpolate`, `nearest_entry`, `exact_entry`; `alpha`;
    /// `band`); an unknown key is refused.
    pub fn parse(text: &str) -> Result<Self> {
        <Self as crate::config::Config>::from_text(text)
    }
}

/// Where an entry's value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EntryValue {
    /// A value of the raster.
    Value(f64),
    /// The raster's nodata value (`nv`, a `.cpt` file's `N`).
    NoData,
    /// A share (0..=1) of the range of the raster's valid values.
    Percent(f64),
}

/// One entry of a colour table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorEntry {
    /// The value the colour belongs to.
    pub value: EntryValue,
    /// Red, green, blue and alpha.
    pub rgba: [u8; 4],
}

/// A colour table in gdaldem's format, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorTable {
    /// The entries in file order.
    pub entries: Vec<ColorEntry>,
}

/// Longest line of a colour table (gdaldem reads lines of at most 10 KiB).
const MAX_LINE: usize = 10 * 1024;

/// gdaldem's named colours (GRASS's), as fractions of 255 truncated like gdaldem.
const NAMED: [(&str, [f32; 3]); 16] = [
    ("white", [1.0, 1.0, 1.0]),
    ("black", [0.0, 0.0, 0.0]),
    ("red", [1.0, 0.0, 0.0]),
    ("green", [0.0, 1.0, 0.0]),
    ("blue", [0.0, 0.0, 1.0]),
    ("yellow", [1.0, 1.0, 0.0]),
    ("magenta", [1.0, 0.0, 1.0]),
    ("cyan", [0.0, 1.0, 1.0]),
    ("aqua", [0.0, 0.75, 0.75]),
    ("grey", [0.75, 0.75, 0.75]),
    ("gray", [0.75, 0.75, 0.75]),
    ("orange", [1.0, 0.5, 0.0]),
    ("brown", [0.75, 0.5, 0.25]),
    ("purple", [0.5, 0.0, 1.0]),
    ("violet", [0.5, 0.0, 1.0]),
    ("indigo", [0.0, 0.5, 1.0]),
];

impl ColorTable {
    /// A colour table from a string as the bindings take it: the table's text (several lines) or
    /// a file name — [`ConfigSource::text_or_file`](crate::config::ConfigSource::text_or_file)'s rule.
    pub fn from_text_or_file(s: &str) -> Result<Self> {
        match crate::config::ConfigSource::text_or_file(s) {
            crate::config::ConfigSource::File(path) => ColorTable::read(path),
            _ => ColorTable::parse(s),
        }
    }

    /// Read a colour table file (UTF-8, at most 16 MiB).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let text = crate::error::read_config_text(path.as_ref(), "colour table")?;
        ColorTable::parse(&text)
    }

    /// Parse a colour table (see the module docs). Errors name the line, never quote it.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |line: usize, what: &str| Error::InvalidInput(format!("colour table line {line}: {what}"));
        // a UTF-8 byte order mark (Notepad's) is not part of the first value
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut entries = Vec::new();
        let mut cpt = false;
        for (k, line) in text.lines().enumerate() {
            let n = k + 1;
            if line.len() > MAX_LINE {
                return Err(bad(n, "longer than 10 KiB"));
            }
            if line.starts_with('#') && line.contains("COLOR_MODEL") {
                if !line.contains("COLOR_MODEL = RGB") {
                    return Err(bad(n, "only COLOR_MODEL = RGB is supported"));
                }
                cpt = true;
            }
            let f: Vec<&str> = line.split([' ', ',', '\t', ':', '\r']).filter(|t| !t.is_empty()).collect();
            // comment lines: the first field starts with `#` or `/`
            if f.first().is_some_and(|t| t.starts_with('#') || t.starts_with('/')) {
                continue;
            }
            let num = |t: &str| -> Result<f64> { t.parse::<f64>().map_err(|_| bad(n, "a value is not a number")) };
            let comp = |t: &str| -> Result<u8> {
                let v: i64 = t.parse().map_err(|_| bad(n, "a colour component is not an integer"))?;
                u8::try_from(v).map_err(|_| bad(n, "colour components must be in 0..=255"))
            };
            if cpt {
                match f.len() {
                    8 => {
                        for h in [0, 4] {
                            let rgba = [comp(f[h + 1])?, comp(f[h + 2])?, comp(f[h + 3])?, 255];
                            entries.push(ColorEntry { value: EntryValue::Value(num(f[h])?), rgba });
                        }
                    }
                    4 if f[0].eq_ignore_ascii_case("N") => {
                        let rgba = [comp(f[1])?, comp(f[2])?, comp(f[3])?, 255];
                        entries.push(ColorEntry { value: EntryValue::NoData, rgba });
                    }
                    // B (background) and F (foreground) lines, as gdaldem: not used
                    _ => {}
                }
                continue;
            }
            if f.len() < 2 {
                continue;
            }
            let value = if f[0].eq_ignore_ascii_case("nv") {
                EntryValue::NoData
            } else if f[0].len() > 1 && f[0].ends_with('%') {
                let p = num(&f[0][..f[0].len() - 1])? / 100.0;
                if !(0.0..=1.0).contains(&p) {
                    return Err(bad(n, "a percentage must be in 0..=100"));
                }
                EntryValue::Percent(p)
            } else {
                EntryValue::Value(num(f[0])?)
            };
            let rgba = if f.len() >= 4 {
                [comp(f[1])?, comp(f[2])?, comp(f[3])?, if f.len() >= 5 { comp(f[4])? } else { 255 }]
            } else {
                let name = f[1];
                let Some((_, c)) = NAMED.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) else {
                    return Err(bad(n, "unknown colour name (white, black, red, green, blue, yellow, magenta, cyan, aqua, grey, orange, brown, purple, violet, indigo)"));
                };
                let to = |x: f32| (255.0f32 * x) as u8;
                [to(c[0]), to(c[1]), to(c[2]), if f.len() >= 3 { comp(f[2])? } else { 255 }]
            };
            entries.push(ColorEntry { value, rgba });
        }
        if entries.is_empty() {
            return Err(Error::InvalidInput("colour table: no colour entry".into()));
        }
        Ok(ColorTable { entries })
    }

    /// The entries with values resolved for a raster (nodata value, range of valid values),
    /// sorted, with gdaldem's adjustments of entries at the nodata value and of repeated values.
    fn resolve(&self, nodata: Option<f64>, range: Option<(f64, f64)>, mode: ColorMode) -> Result<Vec<(f64, [u8; 4])>> {
        let mut v: Vec<(f64, [u8; 4])> = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let x = match e.value {
                EntryValue::Value(x) => x,
                // gdaldem ignores `nv` (and `N`) without a nodata value
                EntryValue::NoData => match nodata {
                    Some(nd) => nd,
                    None => continue,
                },
                EntryValue::Percent(p) => match range {
                    Some((lo, hi)) => lo + p * (hi - lo),
                    None => {
                        return Err(Error::InvalidInput(
                            "colour table: a percentage needs a raster with at least one valid value".into(),
                        ))
                    }
                },
            };
            v.push((x, e.rgba));
        }
        if v.is_empty() {
            return Err(Error::InvalidInput("colour table: no entry applies to this raster".into()));
        }
        // NaN first, then ascending; stable
        let order = |a: &(f64, [u8; 4]), b: &(f64, [u8; 4])| match (a.0.is_nan(), b.0.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal),
        };
        v.sort_by(order);
        let initial = v.len();
        let mut repeated = 0usize;
        for i in 1..initial {
            let (prev, cur) = (v[i - 1], v[i]);
            let interpolating = mode != ColorMode::ExactEntry;
            if interpolating && nodata.is_some_and(|nd| cur.0 == nd) {
                // an entry just below the nodata value keeps the colours below it apart
                let below = next_toward(cur.0, f64::NEG_INFINITY);
                if below > prev.0 {
                    v.push((below, prev.1));
                }
            } else if interpolating && nodata.is_some_and(|nd| prev.0 == nd) {
                let above = next_toward(prev.0, f64::INFINITY);
                if above < cur.0 {
                    v.push((above, cur.1));
                }
            } else if repeated == 0 && cur.0 == prev.0 {
                repeated = i;
            } else if repeated != 0 && cur.0 != prev.0 {
                // spread a run of equal values by a few ulps, keeping their order
                let (total, left) = if repeated >= 2 {
                    let lower = v[repeated - 2].0;
                    (cur.0 - lower, prev.0 - lower)
                } else {
                    (cur.0 - prev.0, 0.0)
                };
                let count = i - repeated + 1;
                if total > prev.0.abs() * count as f64 * f64::EPSILON {
                    let mut m = 0.5 - count as f64 * left / total;
                    for e in v.iter_mut().take(i).skip(repeated - 1) {
                        e.0 += (prev.0.abs() * m) * f64::EPSILON;
                        m += 1.0;
                    }
                }
                repeated = 0;
            }
        }
        if v.len() != initial {
            v.sort_by(order);
        }
        Ok(v)
    }
}

fn next_toward(x: f64, to: f64) -> f64 {
    if x.is_nan() || x == to {
        return x;
    }
    if x == 0.0 {
        let tiny = f64::from_bits(1);
        return if to > 0.0 { tiny } else { -tiny };
    }
    let b = x.to_bits();
    let up = (to > x) == (x > 0.0);
    f64::from_bits(if up { b + 1 } else { b - 1 })
}

/// gdaldem's colour of `x` from sorted entries.
fn rgba_of(t: &[(f64, [u8; 4])], x: f64, mode: ColorMode) -> [u8; 4] {
    let mut lower = 0;
    if t[0].0.is_nan() {
        if x.is_nan() {
            return t[0].1;
        }
        lower = 1;
    }
    if lower >= t.len() {
        return if mode == ColorMode::ExactEntry { [0; 4] } else { t[0].1 };
    }
    // the first entry not smaller than x
    let mut upper = t.len() - 1;
    let i = loop {
        let mid = (lower + upper) / 2;
        if upper - lower <= 1 {
            break if x <= t[lower].0 {
                lower
            } else if x <= t[upper].0 {
                upper
            } else {
                upper + 1
            };
        } else if t[mid].0 >= x {
            upper = mid;
        } else {
            lower = mid;
        }
    };
    let exact = mode == ColorMode::ExactEntry;
    if i == 0 {
        return if exact && t[0].0 != x { [0; 4] } else { t[0].1 };
    }
    if i == t.len() {
        return if exact && t[i - 1].0 != x { [0; 4] } else { t[i - 1].1 };
    }
    if t[i - 1].0 == x {
        return t[i - 1].1;
    }
    if t[i].0 == x {
        return t[i].1;
    }
    if exact {
        return [0; 4];
    }
    if mode == ColorMode::NearestEntry {
        return if x - t[i - 1].0 < t[i].0 - x { t[i - 1].1 } else { t[i].1 };
    }
    if t[i - 1].0.is_nan() {
        return t[i].1;
    }
    let ratio = (x - t[i - 1].0) / (t[i].0 - t[i - 1].0);
    let (a, b) = (t[i - 1].1, t[i].1);
    let lerp = |p: u8, q: u8| {
        // gdaldem 3.6 rounds with 0.45 (later versions with 0.5)
        let v = 0.45 + p as f64 + ratio * (q as f64 - p as f64);
        (v as i64).clamp(0, 255) as u8
    };
    [lerp(a[0], b[0]), lerp(a[1], b[1]), lerp(a[2], b[2]), lerp(a[3], b[3])]
}

/// Colour a raster band through a colour table: an RGB (or RGBA) byte raster on the same grid,
/// without a nodata value, equal to `gdaldem color-relief [-alpha] [-exact_color_entry |
/// -nearest_color_entry] IN TABLE OUT`.
///
/// ```
/// use landopp::color_relief::{color_relief, ColorReliefOptions, ColorTable};
/// let dem = landopp::Raster::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dem.tif"))?;
/// let table = ColorTable::parse("0% 0 96 0\n50% yellow\n100% 120 60 20\n")?;
/// let rgb = color_relief(&dem, &table, &ColorReliefOptions::default())?;
/// assert_eq!((rgb.band_count(), rgb.nodata), (3, None));
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn color_relief(raster: &Raster, table: &ColorTable, opts: &ColorReliefOptions) -> Result<Raster> {
    let band = raster.band(crate::raster::band_index(opts.band, raster.band_count())?)?;
    // cells as gdaldem reads them: f32
    let cells: Vec<f32> = band.to_f64().iter().map(|v| *v as f32).collect();
    let nodata = raster.nodata;
    let range = if table.entries.iter().any(|e| matches!(e.value, EntryValue::Percent(_))) {
        let nd = nodata.map(|v| v as f32);
        cells.iter().filter(|v| !v.is_nan() && Some(**v) != nd).fold(None, |acc: Option<(f64, f64)>, v| {
            let v = *v as f64;
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })
    } else {
        None
    };
    let t = table.resolve(nodata, range, opts.mode)?;
    let nb = if opts.alpha { 4 } else { 3 };
    let (h, w) = (raster.height(), raster.width());
    let rgba: Vec<[u8; 4]> = {
        use rayon::prelude::*;
        cells.par_iter().with_min_len(1 << 14).map(|v| rgba_of(&t, *v as f64, opts.mode)).collect()
    };
    let out: Vec<Vec<u8>> = (0..nb).map(|b| rgba.iter().map(|c| c[b]).collect()).collect();
    let bands = out
        .into_iter()
        .map(|p| {
            ndarray::Array2::from_shape_vec((h, w), p).map(BandData::U8).map_err(|e| Error::InvalidInput(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut r = Raster::new(bands, raster.transform, raster.crs.clone(), None)?;
    r.band_names = ["red", "green", "blue", "alpha"][..nb].iter().map(|s| Some(s.to_string())).collect();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_like_gdaldem_and_errors_name_the_line_only() {
        let t = ColorTable::parse("\u{feff}# comment\n100 255 0 0\n50%,green,128\nnv:0:0:0:0\n\n/ c\n2000\twhite\n")
            .unwrap();
        assert_eq!(t.entries.len(), 4);
        assert_eq!(t.entries[1], ColorEntry { value: EntryValue::Percent(0.5), rgba: [0, 255, 0, 128] });
        assert_eq!(t.entries[2].value, EntryValue::NoData);
        assert_eq!(t.entries[3].rgba, [255, 255, 255, 255]);
        let g = ColorTable::parse("# COLOR_MODEL = RGB\n0 0 0 0 10 255 255 255\nB 1 2 3\nN 9 9 9\n").unwrap();
        assert_eq!(g.entries.len(), 3);
        for (bad, what) in [
            ("", "no colour entry"),
            ("1 2 3", "unknown colour name"),
            ("10 secret-colour", "line 1: unknown colour name"),
            ("x1 0 0 0", "not a number"),
            ("1 0 300 0", "0..=255"),
            ("101% 0 0 0", "percentage"),
            ("# COLOR_MODEL = HSV\n", "RGB"),
        ] {
            let e = ColorTable::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT");
            assert!(e.to_string().contains(what), "{bad}: {e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }

    #[test]
    fn lookups_interpolate_nearest_and_exact() {
        let t = ColorTable::parse("0 0 0 0\n10 100 200 255\n").unwrap();
        let r = t.resolve(None, None, ColorMode::Interpolate).unwrap();
        // gdaldem 3.6 rounds with 0.45: 127.5 + 0.45 truncates to 127
        assert_eq!(rgba_of(&r, 5.0, ColorMode::Interpolate), [50, 100, 127, 255]);
        assert_eq!(rgba_of(&r, -5.0, ColorMode::Interpolate), [0, 0, 0, 255]);
        assert_eq!(rgba_of(&r, 50.0, ColorMode::Interpolate), [100, 200, 255, 255]);
        assert_eq!(rgba_of(&r, 6.0, ColorMode::NearestEntry), [100, 200, 255, 255]);
        assert_eq!(rgba_of(&r, 6.0, ColorMode::ExactEntry), [0, 0, 0, 0]);
        assert_eq!(rgba_of(&r, 10.0, ColorMode::ExactEntry), [100, 200, 255, 255]);
        assert_eq!(rgba_of(&r, f64::NAN, ColorMode::Interpolate)[3], 255);
    }
}
