//! Terrain derivatives of a DEM with gdaldem's (GDAL 3.6) 3×3 algorithms: slope (degrees or
//! percent), aspect, hillshade, TRI, TPI and roughness, with gdaldem's options
//! ([`TerrainOptions`]): `-alg Horn | ZevenbergenThorne` ([`Gradient`]) for slope, aspect and
//! hillshade; `-combined`, `-multidirectional`, `-igor` ([`HillshadeMode`]); TRI `-alg Riley |
//! Wilson` ([`TriAlgorithm`]); aspect `-zero_for_flat` and `-trigonometric`; `-z -az -alt -s`.
//!
//! Every value equals `gdaldem` on projected DEMs (asserted in `core/tests/it/terrain.rs`, bit for
//! bit for every option):
//!
//! * window sums are done in gdaldem's working type — `i32` for 8/16-bit integer DEMs, `f32`
//!   otherwise — in gdaldem's order, then widened to `f64`;
//! * output is `f32` with nodata −9999 (hillshade: `u8`, nodata 0); a flat cell's aspect is −9999
//!   (0, and no output nodata, with `zero_for_flat`);
//! * [`TerrainOptions::compute_edges`] (default `true`) is `gdaldem -compute_edges`: a missing
//!   outside row/column is extrapolated as `2a − b` from the two nearest inside cells (columns are
//!   clamped on the first and last rows) and a nodata neighbour of a valid centre takes the
//!   centre's value. With `false`, the one-cell border and every cell whose window touches nodata
//!   is nodata, as plain `gdaldem`.
//!
//! On geographic DEMs (degrees) gdaldem needs `-s 111120` and is still wrong away from the
//! equator. landopp instead uses the metric size of one cell at each row's latitude on the WGS 84
//! ellipsoid (meridian and prime-vertical radii of curvature), unless an explicit
//! [`TerrainOptions::scale`] is given: `scale: Some(1.0)` is gdaldem's own default (degrees
//! taken as metres), `Some(111_120.0)` its usual advice.

use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::raster::{
    BandData, DataType, GeoTiff, GeoTiffWriteOptions, GeoTiffWriter, GeoTransform, Raster, TiffLayout, Window,
};
use ndarray::Array2;
use rayon::prelude::*;
use std::path::Path;

/// Output nodata of the float products (gdaldem's default).
pub const NODATA: f32 = -9999.0;

/// Which derivative to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerrainProduct {
    /// Slope in degrees (`gdaldem slope`).
    SlopeDegrees,
    /// Slope in percent (`gdaldem slope -p`).
    SlopePercent,
    /// Aspect, degrees clockwise from north (`gdaldem aspect`).
    Aspect,
    /// Hillshade 1..255 (`gdaldem hillshade`).
    Hillshade,
    /// Terrain ruggedness index, Riley (`gdaldem TRI`).
    Tri,
    /// Topographic position index (`gdaldem TPI`).
    Tpi,
    /// Roughness: max − min of the 3×3 window (`gdaldem roughness`).
    Roughness,
}

impl TerrainProduct {
    /// Parse `slope`, `slope_percent`, `aspect`, `hillshade`, `tri`, `tpi`, `roughness`.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "slope" | "slope_deg" | "slope_degrees" => TerrainProduct::SlopeDegrees,
            "slope_pct" | "slope_percent" => TerrainProduct::SlopePercent,
            "aspect" => TerrainProduct::Aspect,
            "hillshade" => TerrainProduct::Hillshade,
            "tri" => TerrainProduct::Tri,
            "tpi" => TerrainProduct::Tpi,
            "roughness" => TerrainProduct::Roughness,
            other => {
                return Err(Error::InvalidInput(format!(
                    "unknown terrain product {other:?} (slope, slope_percent, aspect, hillshade, tri, tpi, roughness)"
                )))
            }
        })
    }
}

/// Options shared by the terrain products, with gdaldem's meaning. As JSON (feature specs, the
/// bindings): these snake_case keys, every one optional, plus gdaldem's `alg` (`"Horn"`,
/// `"ZevenbergenThorne"`, `"Riley"`, `"Wilson"`), which sets [`TerrainOptions::gradient`] or
/// [`TerrainOptions::tri`]; an unknown key is refused.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, try_from = "TerrainOptionsJson")]
pub struct TerrainOptions {
    /// `gdaldem -compute_edges` behaviour (default true).
    pub compute_edges: bool,
    /// Ratio of vertical units to horizontal units (`gdaldem -s`). `None`: 1 for projected
    /// DEMs (the CRS unit; US-foot CRSs are converted), per-row metric cell size for geographic ones.
    pub scale: Option<f64>,
    /// Hillshade vertical exaggeration (`-z`).
    pub z_factor: f64,
    /// Hillshade light azimuth in degrees (`-az`).
    pub azimuth: f64,
    /// Hillshade light altitude in degrees (`-alt`).
    pub altitude: f64,
    /// 0-based band of the DEM.
    pub band: usize,
    /// Gradient of slope, aspect and hillshade (`gdaldem -alg`): Horn (default) or
    /// Zevenbergen–Thorne.
    pub gradient: Gradient,
    /// Hillshade variant (`gdaldem hillshade -combined | -multidirectional | -igor`).
    pub hillshade: HillshadeMode,
    /// TRI variant (`gdaldem TRI -alg Riley | Wilson`).
    pub tri: TriAlgorithm,
    /// Aspect: flat cells are 0 instead of nodata, and the output has no nodata value (cells
    /// with nodata in the DEM are 0 too), as `gdaldem aspect -zero_for_flat`.
    pub zero_for_flat: bool,
    /// Aspect as a trigonometric angle, counter-clockwise from east (`gdaldem aspect
    /// -trigonometric`), instead of an azimuth clockwise from north.
    pub trigonometric: bool,
}

impl Default for TerrainOptions {
    fn default() -> Self {
        TerrainOptions {
            compute_edges: true,
            scale: None,
            z_factor: 1.0,
            azimuth: 315.0,
            altitude: 45.0,
            band: 0,
            gradient: Gradient::Horn,
            hillshade: HillshadeMode::Standard,
            tri: TriAlgorithm::Riley,
            zero_for_flat: false,
            trigonometric: false,
        }
    }
}

/// [`TerrainOptions`] as written: every field, plus gdaldem's `alg`.
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TerrainOptionsJson {
    compute_edges: bool,
    scale: Option<f64>,
    z_factor: f64,
    azimuth: f64,
    altitude: f64,
    band: usize,
    gradient: Option<Gradient>,
    hillshade: HillshadeMode,
    tri: Option<TriAlgorithm>,
    zero_for_flat: bool,
    trigonometric: bool,
    alg: Option<String>,
}

impl Default for TerrainOptionsJson {
    fn default() -> Self {
        let o = TerrainOptions::default();
        TerrainOptionsJson {
            compute_edges: o.compute_edges,
            scale: o.scale,
            z_factor: o.z_factor,
            azimuth: o.azimuth,
            altitude: o.altitude,
            band: o.band,
            gradient: None,
            hillshade: o.hillshade,
            tri: None,
            zero_for_flat: o.zero_for_flat,
            trigonometric: o.trigonometric,
            alg: None,
        }
    }
}

impl TryFrom<TerrainOptionsJson> for TerrainOptions {
    type Error = Error;
    fn try_from(j: TerrainOptionsJson) -> Result<Self> {
        let mut o = TerrainOptions {
            compute_edges: j.compute_edges,
            scale: j.scale,
            z_factor: j.z_factor,
            azimuth: j.azimuth,
            altitude: j.altitude,
            band: j.band,
            gradient: j.gradient.unwrap_or_default(),
            hillshade: j.hillshade,
            tri: j.tri.unwrap_or_default(),
            zero_for_flat: j.zero_for_flat,
            trigonometric: j.trigonometric,
        };
        if let Some(a) = &j.alg {
            if j.gradient.is_some() || j.tri.is_some() {
                return Err(Error::InvalidInput("give gdaldem's alg or gradient / tri, not both".into()));
            }
            o.set_alg(a)?;
        }
        Ok(o)
    }
}

/// The 3×3 gradient of slope, aspect and hillshade (`gdaldem -alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gradient {
    /// Horn (1981): the weighted 3×3 differences; best on rough terrain (gdaldem's default).
    #[default]
    Horn,
    /// Zevenbergen & Thorne (1987): the central differences; smoother terrain.
    ZevenbergenThorne,
}

/// The hillshade variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HillshadeMode {
    /// One light source at `azimuth`, `altitude` (gdaldem's default).
    #[default]
    Standard,
    /// Shading combined with slope (`-combined`): flat areas light, steep areas dark.
    Combined,
    /// Four lights at 225°, 270°, 315° and 360°, weighted by aspect (`-multidirectional`, USGS
    /// Open-File Report 92-422); `azimuth` is not used.
    Multidirectional,
    /// Igor's hillshade (`-igor`): a shade of slope and aspect only, for terrain behind a map.
    Igor,
}

/// The terrain ruggedness index variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriAlgorithm {
    /// Riley et al. (1999): the root of the summed squared differences to the 8 neighbours
    /// (terrestrial; gdaldem's default).
    #[default]
    Riley,
    /// Wilson et al. (2007): the mean absolute difference to the 8 neighbours (bathymetry).
    Wilson,
}

impl TerrainOptions {
    /// Options from JSON (`null`: the defaults); errors are `INVALID_INPUT` naming the key.
    pub fn from_json(v: serde_json::Value) -> Result<Self> {
        if v.is_null() {
            return Ok(TerrainOptions::default());
        }
        serde_json::from_value(v).map_err(|e| Error::InvalidInput(format!("terrain options: {e}")))
    }

    /// Options from JSON text (see [`TerrainOptions::from_json`]).
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::InvalidInput(format!("terrain options: {e}")))
    }

    /// Apply gdaldem's `-alg` value (case-insensitive): `Horn` or `ZevenbergenThorne` set the
    /// gradient, `Riley` or `Wilson` the TRI variant.
    pub fn set_alg(&mut self, alg: &str) -> Result<()> {
        match alg.to_ascii_lowercase().replace('_', "").as_str() {
            "horn" => self.gradient = Gradient::Horn,
            "zevenbergenthorne" => self.gradient = Gradient::ZevenbergenThorne,
            "riley" => self.tri = TriAlgorithm::Riley,
            "wilson" => self.tri = TriAlgorithm::Wilson,
            _ => {
                // not quoted: the value may come from a file
                return Err(Error::InvalidInput("unknown terrain alg (Horn, ZevenbergenThorne, Riley, Wilson)".into()));
            }
        }
        Ok(())
    }

    /// Refuse options that do not apply to `product` (an option set to a non-default value for
    /// another product would otherwise be silently ignored) and meaningless values.
    pub fn check(&self, product: TerrainProduct) -> Result<()> {
        use TerrainProduct::*;
        let d = TerrainOptions::default();
        let bad = |name: &str, applies: &str| {
            Err(Error::InvalidInput(format!("terrain option {name} applies to {applies}, not to {product:?}")))
        };
        if self.gradient != d.gradient && !matches!(product, SlopeDegrees | SlopePercent | Aspect | Hillshade) {
            return bad("gradient", "slope, aspect and hillshade");
        }
        if self.hillshade != d.hillshade && product != Hillshade {
            return bad("hillshade", "hillshade");
        }
        if self.tri != d.tri && product != Tri {
            return bad("tri", "tri");
        }
        if (self.zero_for_flat || self.trigonometric) && product != Aspect {
            return bad(if self.zero_for_flat { "zero_for_flat" } else { "trigonometric" }, "aspect");
        }
        if product == Hillshade {
            for (name, v) in [("z_factor", self.z_factor), ("azimuth", self.azimuth), ("altitude", self.altitude)] {
                if !v.is_finite() {
                    return Err(Error::InvalidInput(format!("terrain option {name} must be finite, got {v}")));
                }
            }
        }
        Ok(())
    }
}

/// gdaldem's working sample: integers for 8/16-bit DEMs, f32 otherwise.
trait Work: Copy + Send + Sync + PartialEq + PartialOrd + 'static {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn f64(self) -> f64;
    /// gdaldem's TPI, `centre − sum·0.125` in f32 (an integer sum is converted, not divided).
    fn tpi(centre: Self, sum: Self) -> f32;
    /// `|self − o|` in the working type.
    fn abs_diff(self, o: Self) -> Self;
    /// `self · 0.125` in f32 (an integer is converted first), as gdaldem's Wilson TRI.
    fn eighth(self) -> f32;
    fn interp(a: Self, b: Self) -> Self;
    fn from_f64(v: f64) -> Self;
}

impl Work for f32 {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self - o
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tpi(centre: Self, sum: Self) -> f32 {
        centre - sum * 0.125
    }
    #[inline(always)]
    fn abs_diff(self, o: Self) -> Self {
        (self - o).abs()
    }
    #[inline(always)]
    fn eighth(self) -> f32 {
        self * 0.125
    }
    #[inline(always)]
    fn interp(a: Self, b: Self) -> Self {
        2.0 * a - b
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Work for i32 {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tpi(centre: Self, sum: Self) -> f32 {
        centre as f32 - sum as f32 * 0.125
    }
    #[inline(always)]
    fn abs_diff(self, o: Self) -> Self {
        self.wrapping_sub(o).wrapping_abs()
    }
    #[inline(always)]
    fn eighth(self) -> f32 {
        self as f32 * 0.125
    }
    #[inline(always)]
    fn interp(a: Self, b: Self) -> Self {
        2 * a - b
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_json_take_gdaldems_alg_and_refuse_unknown_keys() {
        assert_eq!(TerrainOptions::from_json(serde_json::Value::Null).unwrap(), TerrainOptions::default());
        assert_eq!(TerrainOptions::parse("{}").unwrap(), TerrainOptions::default());
        let o = TerrainOptions::parse(r#"{"alg": "ZevenbergenThorne", "hillshade": "igor", "z_factor": 2}"#).unwrap();
        assert_eq!((o.gradient, o.hillshade, o.z_factor), (Gradient::ZevenbergenThorne, HillshadeMode::Igor, 2.0));
        assert_eq!(TerrainOptions::parse(r#"{"alg": "wilson"}"#).unwrap().tri, TriAlgorithm::Wilson);
        // what serialises parses back
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(TerrainOptions::parse(&text).unwrap(), o);
        for bad in [
            r#"{"computeEdges": false}"#,
            r#"{"alg": "Sobel"}"#,
            r#"{"hillshade": "flat"}"#,
            "[1]",
            r#"{"alg": "Horn", "gradient": "zevenbergen_thorne"}"#,
        ] {
            let e = TerrainOptions::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT", "{bad}");
            assert!(e.to_string().starts_with("invalid input: terrain options"), "{e}");
            assert!(!e.to_string().contains("Sobel"), "{e}");
        }
    }

    #[test]
    fn fast_atan_matches_std() {
        let mut worst: f64 = 0.0;
        for i in 0..200_000 {
            let x = (i as f64 / 1000.0).powi(2) / 10.0;
            worst = worst.max((super::fast_atan(x) - x.atan()).abs());
        }
        assert!(worst < 1e-15, "{worst}");
    }
}

/// Per-row cell sizes and constants of one product.
struct Params {
    product: TerrainProduct,
    /// (ewres, nsres) per row (nsres negative for north-up, as the geotransform).
    res: Vec<(f64, f64)>,
    scale: f64,
    /// Standard Horn hillshade: sin(alt)·254, cos(az)·cos(alt)·z·254, sin(az)·cos(alt)·z·254, z².
    hs: [f64; 4],
    gradient: Gradient,
    hillshade: HillshadeMode,
    tri: TriAlgorithm,
    zero_for_flat: bool,
    trigonometric: bool,
    /// The other hillshades' constants, in gdaldem's names.
    shade: Shade,
}

/// gdaldem's constants of the combined, multidirectional and Igor hillshades and of the
/// Zevenbergen–Thorne one (z is `z_factor / 8`, or `/ 2` for Zevenbergen–Thorne).
#[derive(Debug, Clone, Copy, Default)]
struct Shade {
    sin_alt: f64,
    cos_az_cos_alt_z: f64,
    sin_az_cos_alt_z: f64,
    square_z: f64,
    z: f64,
    az: f64,
    sin_alt_127: f64,
    sin_alt_254: f64,
    cos_alt_z_127: f64,
    cos225_cos_alt_z_127: f64,
}

#[inline(always)]
fn horn_dx<W: Work>(w: &[W; 9]) -> W {
    // (a + 2d + g) - (c + 2f + i)
    (w[0].add(w[3]).add(w[3]).add(w[6])).sub(w[2].add(w[5]).add(w[5]).add(w[8]))
}

#[inline(always)]
fn horn_dy<W: Work>(w: &[W; 9]) -> W {
    (w[6].add(w[7]).add(w[7]).add(w[8])).sub(w[0].add(w[1]).add(w[1]).add(w[2]))
}

#[inline(always)]
fn compute<W: Work>(w: &[W; 9], p: &Params, res: (f64, f64)) -> f32 {
    match p.product {
        TerrainProduct::SlopeDegrees | TerrainProduct::SlopePercent => {
            let (gx, gy, div) = match p.gradient {
                Gradient::Horn => (horn_dx(w), horn_dy(w), 8.0),
                Gradient::ZevenbergenThorne => (w[3].sub(w[5]), w[7].sub(w[1]), 2.0),
            };
            let dx = gx.f64() / res.0;
            let dy = gy.f64() / res.1;
            let key = dx * dx + dy * dy;
            if p.product == TerrainProduct::SlopeDegrees {
                (fast_atan(key.sqrt() / (div * p.scale)).to_degrees()) as f32
            } else {
                (100.0 * (key.sqrt() / (div * p.scale))) as f32
            }
        }
        TerrainProduct::Aspect => {
            let (dx, dy) = match p.gradient {
                Gradient::Horn => {
                    (w[2].add(w[5]).add(w[5]).add(w[8]).sub(w[0].add(w[3]).add(w[3]).add(w[6])).f64(), horn_dy(w).f64())
                }
                Gradient::ZevenbergenThorne => (w[5].sub(w[3]).f64(), w[7].sub(w[1]).f64()),
            };
            if dx == 0.0 && dy == 0.0 {
                return NODATA;
            }
            let mut a = (dy.atan2(-dx) / (std::f64::consts::PI / 180.0)) as f32;
            if p.trigonometric {
                if a < 0.0 {
                    a += 360.0;
                }
            } else {
                a = if a > 90.0 { 450.0 - a } else { 90.0 - a };
            }
            if a == 360.0 {
                a = 0.0;
            }
            a
        }
        TerrainProduct::Hillshade if p.gradient != Gradient::Horn || p.hillshade != HillshadeMode::Standard => {
            shade_variant(w, p, res)
        }
        TerrainProduct::Hillshade => {
            // gdaldem's two formulations: on square cells (|ewres| = |nsres|) the Horn sums are
            // taken as differences first (finite where the sums would overflow) with the light
            // constants folded with 1/res; otherwise sums, then × 1/res.
            let [sin_alt_254, cos_az_254, sin_az_254, square_z] = p.hs;
            let inv_ew = 1.0 / (res.0 * p.scale);
            let (num, den) = if res.0 == -res.1 {
                let d08 = w[0].sub(w[8]);
                let d62 = w[6].sub(w[2]);
                let d35 = w[3].sub(w[5]);
                let d17 = w[1].sub(w[7]);
                let x = d08.add(d35).add(d35).add(d62).f64();
                let y = d08.add(d17).add(d17).sub(d62).f64();
                let (kx, ky) = (sin_az_254 * inv_ew, cos_az_254 * -inv_ew);
                (sin_alt_254 + (x * kx + y * ky), 1.0 + square_z * inv_ew * inv_ew * (x * x + y * y))
            } else {
                let x = horn_dx(w).f64() * inv_ew;
                let y = horn_dy(w).f64() * (1.0 / (res.1 * p.scale));
                (sin_alt_254 - (y * cos_az_254 - x * sin_az_254), 1.0 + square_z * (x * x + y * y))
            };
            let cang = div_sqrt_like_gdal(num, den);
            (if cang <= 0.0 { 1.0 } else { 1.0 + cang }) as f32
        }
        TerrainProduct::Tri if p.tri == TriAlgorithm::Wilson => {
            let c = w[4];
            w[0].abs_diff(c)
                .add(w[1].abs_diff(c))
                .add(w[2].abs_diff(c))
                .add(w[3].abs_diff(c))
                .add(w[5].abs_diff(c))
                .add(w[6].abs_diff(c))
                .add(w[7].abs_diff(c))
                .add(w[8].abs_diff(c))
                .eighth()
        }
        TerrainProduct::Tri => {
            let c = w[4];
            let sq = |v: W| {
                let d = v.sub(c).f64();
                d * d
            };
            (sq(w[0]) + sq(w[1]) + sq(w[2]) + sq(w[3]) + sq(w[5]) + sq(w[6]) + sq(w[7]) + sq(w[8])).sqrt() as f32
        }
        TerrainProduct::Tpi => {
            let s = w[0].add(w[1]).add(w[2]).add(w[3]).add(w[5]).add(w[6]).add(w[7]).add(w[8]);
            W::tpi(w[4], s)
        }
        TerrainProduct::Roughness => {
            let (mut lo, mut hi) = (w[0], w[0]);
            for v in &w[1..] {
                if *v < lo {
                    lo = *v;
                }
                if *v > hi {
                    hi = *v;
                }
            }
            hi.sub(lo).f64() as f32
        }
    }
}

/// The hillshades other than the standard Horn one, as gdaldem computes them: the gradient as
/// sums (or central differences) × 1/res, then each variant's shade.
#[cold]
fn shade_variant<W: Work>(w: &[W; 9], p: &Params, res: (f64, f64)) -> f32 {
    let sh = &p.shade;
    let (inv_ew, inv_ns) = (1.0 / (res.0 * p.scale), 1.0 / (res.1 * p.scale));
    let (x, y) = match p.gradient {
        Gradient::Horn => (horn_dx(w).f64() * inv_ew, horn_dy(w).f64() * inv_ns),
        Gradient::ZevenbergenThorne => (w[3].sub(w[5]).f64() * inv_ew, w[7].sub(w[1]).f64() * inv_ns),
    };
    match p.hillshade {
        HillshadeMode::Standard => {
            let [sin_alt_254, cos_az_254, sin_az_254, square_z] = p.hs;
            let cang =
                div_sqrt_like_gdal(sin_alt_254 - (y * cos_az_254 - x * sin_az_254), 1.0 + square_z * (x * x + y * y));
            (if cang <= 0.0 { 1.0 } else { 1.0 + cang }) as f32
        }
        HillshadeMode::Combined => {
            let slope = (x * x + y * y) * sh.square_z;
            let cang =
                div_sqrt_like_gdal(sh.sin_alt - (y * sh.cos_az_cos_alt_z - x * sh.sin_az_cos_alt_z), 1.0 + slope)
                    .acos();
            let cang = 1.0 - cang * slope.sqrt().atan() * (1.0 / ((std::f64::consts::PI * std::f64::consts::PI) / 4.0));
            if cang <= 0.0 {
                1.0
            } else {
                (1.0 + 254.0 * cang) as f32
            }
        }
        HillshadeMode::Multidirectional => {
            let (xx, yy) = (x * x, y * y);
            let xx_plus_yy = xx + yy;
            if xx_plus_yy == 0.0 {
                return (1.0 + sh.sin_alt_254) as f32;
            }
            let pos = |v: f64| if v <= 0.0 { 0.0 } else { v };
            let v225 = pos(sh.sin_alt_127 + (x - y) * sh.cos225_cos_alt_z_127);
            let v270 = pos(sh.sin_alt_127 - x * sh.cos_alt_z_127);
            let v315 = pos(sh.sin_alt_127 + (x + y) * sh.cos225_cos_alt_z_127);
            let v360 = pos(sh.sin_alt_127 - y * sh.cos_alt_z_127);
            let w225 = 0.5 * xx_plus_yy - x * y;
            let w315 = xx_plus_yy - w225;
            let cang = div_sqrt_like_gdal(
                (w225 * v225 + xx * v270 + w315 * v315 + yy * v360) / xx_plus_yy,
                1.0 + sh.square_z * xx_plus_yy,
            );
            (1.0 + cang) as f32
        }
        HillshadeMode::Igor => {
            // Igor's slope and aspect take the gradient in gdaldem's aspect orientation
            let slope_deg = ((x * x + y * y).sqrt() * sh.z).atan() * (180.0 / std::f64::consts::PI);
            let aspect = match p.gradient {
                Gradient::Horn => {
                    let dx = w[2].add(w[5]).add(w[5]).add(w[8]).sub(w[0].add(w[3]).add(w[3]).add(w[6])).f64();
                    horn_dy(w).f64().atan2(-dx)
                }
                Gradient::ZevenbergenThorne => w[7].sub(w[1]).f64().atan2(-w[5].sub(w[3]).f64()),
            };
            let two_pi = std::f64::consts::PI * 2.0;
            let norm = |a: f64| {
                let a = a % two_pi;
                if a < 0.0 {
                    two_pi + a
                } else {
                    a
                }
            };
            let mut diff = (norm(aspect) - norm(std::f64::consts::PI * 3.0 / 2.0 - sh.az)).abs();
            if diff > two_pi / 2.0 {
                diff = two_pi - diff;
            }
            let aspect_strength = 1.0 - diff / std::f64::consts::PI;
            (255.0 * (1.0 - slope_deg / 90.0 * aspect_strength)) as f32
        }
    }
}

/// atan for x ≥ 0 with Cephes' range reduction and rational approximation (error ~1e-16 rad),
/// branch-light so the slope loop vectorizes.
#[inline(always)]
fn fast_atan(x: f64) -> f64 {
    const T3P8: f64 = 2.414_213_562_373_095;
    const P: [f64; 5] = [
        -8.750_608_600_031_904e-1,
        -1.615_753_718_733_365e1,
        -7.500_855_792_314_705e1,
        -1.228_866_684_490_136e2,
        -6.485_021_904_942_025e1,
    ];
    const Q: [f64; 5] = [
        2.485_846_490_142_306e1,
        1.650_270_098_316_988e2,
        4.328_810_604_912_903e2,
        4.853_903_996_359_137e2,
        1.945_506_571_482_614e2,
    ];
    let big = x > T3P8;
    let mid = x > 0.66 && !big;
    // Cephes' reductions −1/x and (x−1)/(x+1) (or x itself) as one selected division: the same
    // IEEE results, and no branch in the vectorised loop
    let num = if big {
        -1.0
    } else if mid {
        x - 1.0
    } else {
        x
    };
    let den = if big {
        x
    } else if mid {
        x + 1.0
    } else {
        1.0
    };
    let xr = num / den;
    let y0 = if big {
        std::f64::consts::FRAC_PI_2
    } else if mid {
        std::f64::consts::FRAC_PI_4
    } else {
        0.0
    };
    let z = xr * xr;
    let num = (((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4];
    let den = ((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4];
    let r = xr * (z * num / den) + xr;
    // Cephes adds these low-order bits back
    let more = if big {
        6.123_233_995_736_766e-17
    } else if mid {
        0.5 * 6.123_233_995_736_766e-17
    } else {
        0.0
    };
    y0 + (r + more)
}

// Slope of the interior cells of one row (f32 DEM, no nodata in the three rows): window sums in
// f32 and gradient, square root and arctangent in f64 exactly as gdaldem, in lanes the compiler
// vectorises. On x86-64 with AVX2+FMA (detected at run time) the loop runs 4 doubles wide.
crate::simd::dispatch! {
    #[allow(clippy::too_many_arguments)]
    fn slope_row_f32(
        up: &[f32],
        mid: &[f32],
        dn: &[f32],
        out: &mut [f32],
        res: (f64, f64),
        scale8: f64,
        degrees: bool,
    ) {
        if degrees {
            slope_cells::<true>(up, mid, dn, out, res, scale8)
        } else {
            slope_cells::<false>(up, mid, dn, out, res, scale8)
        }
    }
}

#[inline(always)]
fn slope_cells<const DEGREES: bool>(
    up: &[f32],
    mid: &[f32],
    dn: &[f32],
    out: &mut [f32],
    res: (f64, f64),
    scale8: f64,
) {
    let n = out.len();
    let (up, mid, dn) = (&up[..n + 2], &mid[..n + 2], &dn[..n + 2]);
    for k in 0..n {
        let (a, b, cc) = (up[k], up[k + 1], up[k + 2]);
        let (d, f) = (mid[k], mid[k + 2]);
        let (g, h, i) = (dn[k], dn[k + 1], dn[k + 2]);
        let dx = (((a + d + d + g) - (cc + f + f + i)) as f64) / res.0;
        let dy = (((g + h + h + i) - (a + b + b + cc)) as f64) / res.1;
        let root = (dx * dx + dy * dy).sqrt();
        let t = root / scale8;
        out[k] = if DEGREES { fast_atan(t).to_degrees() as f32 } else { (100.0 * t) as f32 };
    }
}

/// Converts stored samples to the working type and tests nodata like gdaldem (`ARE_REAL_EQUAL`).
trait Src: Copy + Send + Sync + 'static {
    type W: Work;
    fn w(self) -> Self::W;
    /// The data as f32 when it is f32 (the vectorised slope path).
    fn as_f32(_s: &[Self]) -> Option<&[f32]> {
        None
    }
}

macro_rules! src {
    ($t:ty, $w:ty) => {
        impl Src for $t {
            type W = $w;
            #[inline(always)]
            fn w(self) -> $w {
                self as $w
            }
        }
    };
}
src!(u8, i32);
src!(i8, i32);
src!(i16, i32);
src!(u16, i32);
src!(i32, f32);
src!(u32, f32);
impl Src for f32 {
    type W = f32;
    #[inline(always)]
    fn w(self) -> f32 {
        self
    }
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
}
src!(f64, f32);

#[inline(always)]
fn is_nd<W: Work>(v: W, nd: Option<W>, nd_nan: bool) -> bool {
    if nd_nan {
        v.f64().is_nan()
    } else {
        match nd {
            Some(n) => v == n || (v.f64() - n.f64()).abs() < 1e-10 * n.f64().abs(),
            None => false,
        }
    }
}

fn run<T: Src>(a: &Array2<T>, nodata: Option<f64>, p: &Params, edges: bool) -> Array2<f32> {
    let (h, w) = a.dim();
    let owned;
    let data: &[T] = match a.as_slice() {
        Some(s) => s,
        None => {
            owned = a.iter().copied().collect::<Vec<T>>();
            &owned
        }
    };
    // zeroed allocation: pages are mapped lazily, by the worker that writes them
    let mut out = vec![0f32; h * w];
    run_rows(data, 0, h, w, &mut out, 0, nodata, p, edges);
    Array2::from_shape_vec((h, w), out).expect("h × w cells")
}

/// Compute output rows `o0 .. o0 + out.len() / w` of a DEM `h` rows high whose rows
/// `b0 .. b0 + buf.len() / w` are in `buf`. The buffer must hold the row above and the row below
/// every output row where those exist in the DEM. Every output cell is written.
#[allow(clippy::too_many_arguments)]
fn run_rows<T: Src>(
    buf: &[T],
    b0: usize,
    h: usize,
    w: usize,
    out: &mut [f32],
    o0: usize,
    nodata: Option<f64>,
    p: &Params,
    edges: bool,
) {
    if w == 0 {
        return;
    }
    let nd_nan = nodata.is_some_and(f64::is_nan);
    // the nodata value in the working type, as gdaldem casts it
    let nd: Option<T::W> = nodata.filter(|v| !v.is_nan()).map(T::W::from_f64);
    let has_nd = nd.is_some() || nd_nan;
    let b1 = b0 + buf.len() / w;
    debug_assert!(o0 == 0 || o0 > b0);
    debug_assert!(o0 + out.len() / w == h || o0 + out.len() / w < b1);
    // rows of the buffer that hold nodata (only these need the per-cell checks)
    let row_nd: Vec<bool> = if has_nd {
        buf.par_chunks(w).map(|row| row.iter().any(|v| is_nd(v.w(), nd, nd_nan))).collect()
    } else {
        Vec::new()
    };
    let clean = |rr: usize| !has_nd || !row_nd[rr - b0];
    let is_slope = matches!(p.product, TerrainProduct::SlopeDegrees | TerrainProduct::SlopePercent)
        && p.gradient == Gradient::Horn;
    let f32_data = T::as_f32(buf);
    out.par_chunks_mut(w).enumerate().for_each(|(i, orow)| {
        let r = o0 + i;
        let res = p.res[r];
        let at = |rr: usize, cc: usize| buf[(rr - b0) * w + cc].w();
        let generic = |c: usize| -> f32 {
            let centre = at(r, c);
            if is_nd(centre, nd, nd_nan) {
                return NODATA;
            }
            let mut win = [centre; 9];
            let interior = r >= 1 && r + 1 < h && c >= 1 && c + 1 < w;
            if interior {
                for (k, (dr, dc)) in OFFS.iter().enumerate() {
                    win[k] = at((r as isize + dr) as usize, (c as isize + dc) as usize);
                }
            } else {
                if !edges || h < 2 || w < 2 {
                    return NODATA;
                }
                fill_edge_window(&at, h, w, r, c, nd, nd_nan, &mut win);
            }
            for v in win.iter_mut() {
                if is_nd(*v, nd, nd_nan) {
                    if edges {
                        *v = centre;
                    } else {
                        return NODATA;
                    }
                }
            }
            compute(&win, p, res)
        };
        if r == 0 || r + 1 >= h || w < 3 {
            for (c, o) in orow.iter_mut().enumerate() {
                *o = generic(c);
            }
            return;
        }
        let row = |rr: usize| (rr - b0) * w..(rr - b0 + 1) * w;
        let rows_clean = clean(r - 1) && clean(r) && clean(r + 1);
        // interior row of an f32 DEM without nodata in its window rows, slope: vectorised kernel
        if let (Some(f), true, true) = (f32_data, is_slope, rows_clean) {
            slope_row_f32(
                &f[row(r - 1)],
                &f[row(r)],
                &f[row(r + 1)],
                &mut orow[1..w - 1],
                res,
                8.0 * p.scale,
                p.product == TerrainProduct::SlopeDegrees,
            );
            orow[0] = generic(0);
            orow[w - 1] = generic(w - 1);
            return;
        }
        // interior row: three row slices, no per-cell edge logic
        let (up, mid, dn) = (&buf[row(r - 1)], &buf[row(r)], &buf[row(r + 1)]);
        orow[0] = generic(0);
        orow[w - 1] = generic(w - 1);
        for c in 1..w - 1 {
            let win = [
                up[c - 1].w(),
                up[c].w(),
                up[c + 1].w(),
                mid[c - 1].w(),
                mid[c].w(),
                mid[c + 1].w(),
                dn[c - 1].w(),
                dn[c].w(),
                dn[c + 1].w(),
            ];
            if !rows_clean && win.iter().any(|v| is_nd(*v, nd, nd_nan)) {
                orow[c] = generic(c);
            } else {
                orow[c] = compute(&win, p, res);
            }
        }
    });
}

const OFFS: [(isize, isize); 9] = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)];

/// gdaldem's edge window: missing rows/columns extrapolated as 2a − b (nodata if either is
/// nodata); on the first and last rows, columns are clamped.
#[allow(clippy::too_many_arguments)]
fn fill_edge_window<W: Work>(
    at: &impl Fn(usize, usize) -> W,
    h: usize,
    w: usize,
    r: usize,
    c: usize,
    nd: Option<W>,
    nd_nan: bool,
    win: &mut [W; 9],
) {
    let interp = |a: W, b: W| {
        if is_nd(a, nd, nd_nan) || is_nd(b, nd, nd_nan) {
            // keep the nodata marker; ComputeVal then substitutes the centre
            if is_nd(a, nd, nd_nan) {
                a
            } else {
                b
            }
        } else {
            W::interp(a, b)
        }
    };
    if r == 0 || r == h - 1 {
        // first/last row: columns clamped; the missing row extrapolated from the two nearest rows
        let cmin = if c == 0 { c } else { c - 1 };
        let cmax = if c == w - 1 { c } else { c + 1 };
        let cols = [cmin, c, cmax];
        let inner = if r == 0 { r + 1 } else { r - 1 };
        for (k, &cc) in cols.iter().enumerate() {
            let here = at(r, cc);
            let next = at(inner, cc);
            let missing = interp(here, next);
            if r == 0 {
                win[k] = missing;
                win[3 + k] = here;
                win[6 + k] = next;
            } else {
                win[k] = next;
                win[3 + k] = here;
                win[6 + k] = missing;
            }
        }
    } else {
        // interior row, first or last column
        for (k, rr) in [r - 1, r, r + 1].into_iter().enumerate() {
            if c == 0 {
                let (a, b) = (at(rr, 0), at(rr, 1));
                win[3 * k] = interp(a, b);
                win[3 * k + 1] = a;
                win[3 * k + 2] = b;
            } else {
                let (a, b) = (at(rr, w - 1), at(rr, w - 2));
                win[3 * k] = b;
                win[3 * k + 1] = a;
                win[3 * k + 2] = interp(a, b);
            }
        }
    }
}

/// Metric `(ewres, nsres)` of one cell at each row. Projected: the geotransform in metres (CRS
/// unit converted). Geographic: WGS 84 radii of curvature at each row's centre latitude.
fn row_resolutions(
    transform: &GeoTransform,
    crs: Option<&Crs>,
    h: usize,
    explicit_scale: Option<f64>,
) -> Result<(Vec<(f64, f64)>, f64)> {
    let g = transform.0;
    if !transform.is_north_up() {
        return Err(Error::Unsupported("terrain on a rotated geotransform".into()));
    }
    if let Some(s) = explicit_scale {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::InvalidInput(format!("scale must be a positive number, got {s}")));
        }
        return Ok((vec![(g[1], g[5]); h], s));
    }
    match crs {
        Some(c) if c.is_geographic() => {
            const A: f64 = 6_378_137.0;
            const F: f64 = 1.0 / 298.257_223_563;
            let e2 = F * (2.0 - F);
            let res = (0..h)
                .map(|row| {
                    let lat = (g[3] + (row as f64 + 0.5) * g[5]).to_radians();
                    let s = lat.sin();
                    let w = (1.0 - e2 * s * s).sqrt();
                    let n = A / w; // prime vertical
                    let m = A * (1.0 - e2) / (w * w * w); // meridian
                    (n * lat.cos() * g[1].to_radians(), m * g[5].to_radians())
                })
                .collect();
            Ok((res, 1.0))
        }
        Some(c) => {
            // vertical units are metres; horizontal in the CRS unit (e.g. US survey feet)
            let u = c.linear_unit_m().unwrap_or(1.0);
            Ok((vec![(g[1] * u, g[5] * u); h], 1.0))
        }
        None => Ok((vec![(g[1], g[5]); h], 1.0)),
    }
}

/// Compute one terrain product of a DEM band. Returns a single-band raster on the same grid:
/// `f32` with nodata −9999, or `u8` with nodata 0 for hillshade.
///
/// ```
/// use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
/// # let dem = landopp::Raster::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/slovenia/dem.tif"))?;
/// let slope = terrain(&dem, TerrainProduct::SlopeDegrees, &TerrainOptions::default())?;
/// assert_eq!(slope.nodata, Some(-9999.0));
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn terrain(dem: &Raster, product: TerrainProduct, opts: &TerrainOptions) -> Result<Raster> {
    let band = dem.band(opts.band)?;
    let p = Params::new(product, opts, &dem.transform, dem.crs.as_ref(), dem.height())?;
    let out = match band {
        BandData::U8(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::I8(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::I16(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::U16(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::I32(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::U32(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::F32(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::F64(a) => run(a, dem.nodata, &p, opts.compute_edges),
    };
    let mut out = out;
    if let Some(cells) = out.as_slice_mut() {
        p.finish(cells);
    }
    let data =
        if product == TerrainProduct::Hillshade { BandData::U8(out.mapv(hillshade_byte)) } else { BandData::F32(out) };
    let mut r = Raster::new(vec![data], GeoTransform(dem.transform.0), dem.crs.clone(), p.nodata_out())?;
    r.band_names = vec![Some(format!("{product:?}").to_ascii_lowercase())];
    Ok(r)
}

impl Params {
    /// The output's nodata value: 0 for hillshade (bytes), none for aspect with
    /// `zero_for_flat` (flat and nodata cells are 0), −9999 otherwise.
    fn nodata_out(&self) -> Option<f64> {
        match self.product {
            TerrainProduct::Hillshade => Some(0.0),
            TerrainProduct::Aspect if self.zero_for_flat => None,
            _ => Some(NODATA as f64),
        }
    }

    /// Map computed cells to the output's values: nodata is 0 with `zero_for_flat`.
    fn finish(&self, cells: &mut [f32]) {
        if self.product == TerrainProduct::Aspect && self.zero_for_flat {
            cells.iter_mut().filter(|v| **v == NODATA).for_each(|v| *v = 0.0);
        }
    }

    fn new(
        product: TerrainProduct,
        opts: &TerrainOptions,
        t: &GeoTransform,
        crs: Option<&Crs>,
        h: usize,
    ) -> Result<Self> {
        opts.check(product)?;
        let (res, scale) = row_resolutions(t, crs, h, opts.scale)?;
        let deg = std::f64::consts::PI / 180.0;
        let (alt, az) = (opts.altitude * deg, opts.azimuth * deg);
        // gdaldem's constants, rounded in its order (the scale goes into 1/res, see `compute`)
        let z_factor = opts.z_factor / if opts.gradient == Gradient::ZevenbergenThorne { 2.0 } else { 8.0 };
        let cos_alt_z = alt.cos() * z_factor;
        let (cos_az_cos_alt_z, sin_az_cos_alt_z) = (az.cos() * cos_alt_z, az.sin() * cos_alt_z);
        Ok(Params {
            product,
            res,
            scale,
            hs: [254.0 * alt.sin(), 254.0 * cos_az_cos_alt_z, 254.0 * sin_az_cos_alt_z, z_factor * z_factor],
            gradient: opts.gradient,
            hillshade: opts.hillshade,
            tri: opts.tri,
            zero_for_flat: opts.zero_for_flat,
            trigonometric: opts.trigonometric,
            shade: Shade {
                sin_alt: alt.sin(),
                cos_az_cos_alt_z,
                sin_az_cos_alt_z,
                square_z: z_factor * z_factor,
                z: z_factor,
                az,
                sin_alt_127: 127.0 * alt.sin(),
                sin_alt_254: 254.0 * alt.sin(),
                cos_alt_z_127: 127.0 * cos_alt_z,
                cos225_cos_alt_z_127: 127.0 * (225.0 * deg).cos() * cos_alt_z,
            },
        })
    }
}

/// `a / sqrt(b)` as gdaldem's hillshade computes it on x86-64 (GDAL's SSE2 build): the f32
/// reciprocal-square-root estimate of `b` (`rsqrtss`) refined by one Newton step in f64. A
/// denominator beyond f32 range (near-vertical cells of absurd DEMs) makes the estimate 0 and the
/// shade 1, as gdaldem's. Other targets divide exactly, as GDAL's builds without SSE2 do.
#[inline(always)]
fn div_sqrt_like_gdal(a: f64, b: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rsqrt_ss, _mm_set_ss};
        #[allow(unsafe_code)]
        // SAFETY: SSE is part of the x86-64 baseline, so every x86-64 CPU has these instructions;
        // they only read and write registers.
        let est = f64::from(unsafe { _mm_cvtss_f32(_mm_rsqrt_ss(_mm_set_ss(b as f32))) });
        a * (est * (1.5 - (b * 0.5) * (est * est)))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a / b.sqrt()
    }
}

/// Hillshade's byte output (nodata 0).
fn hillshade_byte(v: f32) -> u8 {
    if v == NODATA {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}

/// Compute one terrain product of a DEM file straight into a tiled GeoTIFF, streaming: the DEM is
/// read a strip of its blocks at a time, each strip's rows are computed (with the row above and
/// below kept from the neighbouring strips) and written while the next strip is computed. Memory
/// stays at a few strips whatever the DEM's size; the cells equal [`terrain`]'s.
///
/// ```
/// use landopp::raster::GeoTiffWriteOptions;
/// use landopp::terrain::{terrain, terrain_file, TerrainOptions, TerrainProduct};
/// let dem = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/slovenia/dem.tif");
/// let dir = tempfile::tempdir().unwrap();
/// let out = dir.path().join("slope.tif");
/// let opts = TerrainOptions::default();
/// terrain_file(dem, &out, TerrainProduct::SlopeDegrees, &opts, &GeoTiffWriteOptions::default())?;
/// let in_memory = terrain(&landopp::Raster::open(dem)?, TerrainProduct::SlopeDegrees, &opts)?;
/// assert_eq!(landopp::Raster::open(&out)?, in_memory);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn terrain_file(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    product: TerrainProduct,
    opts: &TerrainOptions,
    write: &GeoTiffWriteOptions,
) -> Result<()> {
    crate::output::ensure_distinct(output.as_ref(), &[input.as_ref()])?;
    let src = GeoTiff::open(input.as_ref())?;
    if opts.band >= src.band_count() {
        return Err(Error::not_found("band", (opts.band + 1).to_string(), vec![format!("1..={}", src.band_count())]));
    }
    let (h, w) = (src.height(), src.width());
    // a header claiming more cells than the file can hold fails here, before per-row tables
    src.check_budget(Window::new(0, 0, h, w), 1)?;
    let p = Params::new(product, opts, &src.transform(), src.crs(), h)?;
    let hillshade = product == TerrainProduct::Hillshade;
    let layout = TiffLayout {
        width: w,
        height: h,
        bands: 1,
        dtype: if hillshade { DataType::U8 } else { DataType::F32 },
        transform: src.transform(),
        crs: src.crs().cloned(),
        nodata: p.nodata_out(),
        band_names: vec![Some(format!("{product:?}").to_ascii_lowercase())],
    };
    let mut out = GeoTiffWriter::create(output.as_ref(), layout, write)?;
    macro_rules! go {
        ($t:ty, $v:ident) => {
            stream::<$t>(&src, &p, opts, &mut out, |b| match b {
                BandData::$v(a) => Some(a),
                _ => None,
            })
        };
    }
    let streamed = crate::raster::with_dtype!(src.dtype(), go);
    let res = streamed.and_then(|_| out.finish());
    if res.is_err() {
        // no half-written GeoTIFF is left behind (a corrupt block, an interrupt, a full disk)
        let _ = std::fs::remove_file(output.as_ref());
    }
    res
}

fn stream<T: Src>(
    src: &GeoTiff,
    p: &Params,
    opts: &TerrainOptions,
    out: &mut GeoTiffWriter,
    typed: impl Fn(BandData) -> Option<Array2<T>>,
) -> Result<()> {
    let (h, w) = (src.height(), src.width());
    let ts = out.tile_size();
    // read whole input blocks: a multiple of the block height of at least one output strip
    let ch = src.block_size().0.max(1);
    let step = ch * ts.div_ceil(ch);
    let hillshade = p.product == TerrainProduct::Hillshade;
    // `buf` holds DEM rows b0.. ; `done` output rows are computed; `pending` holds computed rows
    // from `written · ts` on that are not yet a full output strip
    let (mut buf, mut b0, mut done): (Vec<T>, usize, usize) = (Vec::new(), 0, 0);
    let mut pending: Vec<f32> = Vec::new();
    let mut written = 0usize;
    let mut r0 = 0;
    while r0 < h {
        crate::interrupt::check("terrain")?;
        let n = step.min(h - r0);
        let block = src.read_window(opts.band, Window::new(r0, 0, n, w))?;
        let block = typed(block).ok_or_else(|| Error::InvalidInput("DEM block of an unexpected type".into()))?;
        // keep the rows still needed (from done − 1) and append the new ones
        let keep_from = done.saturating_sub(1).max(b0);
        buf.drain(..(keep_from - b0) * w);
        b0 = keep_from;
        match block.as_slice() {
            Some(s) => buf.extend_from_slice(s),
            None => buf.extend(block.iter().copied()),
        }
        r0 += n;
        // rows computable now: all but the last buffered one, unless the DEM ends here
        let upto = if r0 == h { h } else { r0 - 1 };
        let at = pending.len();
        pending.resize(at + (upto - done) * w, 0.0);
        run_rows(&buf, b0, h, w, &mut pending[at..], done, src.nodata(), p, opts.compute_edges);
        p.finish(&mut pending[at..]);
        done = upto;
        // write every complete output strip (the last one may be short)
        while pending.len() >= ts * w || (done == h && !pending.is_empty()) {
            let rows = ts.min(pending.len() / w);
            let strip = ndarray::ArrayView2::from_shape((rows, w), &pending[..rows * w])
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            if hillshade {
                out.write_strip(0, written, strip.mapv(hillshade_byte).view())?;
            } else {
                out.write_strip(0, written, strip)?;
            }
            pending.drain(..rows * w);
            written += 1;
        }
    }
    Ok(())
}
