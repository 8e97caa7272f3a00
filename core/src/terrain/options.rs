//! Terrain products and gdaldem's options, parsed and validated once ([`TerrainOptions::parse`] refuses unknown keys).

use super::*;

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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Band number of the DEM (1-based, as gdaldem `-b`; default 1).
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
            band: 1,
            gradient: Gradient::Horn,
            hillshade: HillshadeMode::Standard,
            tri: TriAlgorithm::Riley,
            zero_for_flat: false,
            trigonometric: false,
        }
    }
}

/// [`TerrainOptions`] as written: every field, plus gdaldem's `alg`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields, expecting = "terrain options (an object)")]
pub(super) struct TerrainOptionsJson {
    pub(super) compute_edges: bool,
    pub(super) scale: Option<f64>,
    pub(super) z_factor: f64,
    pub(super) azimuth: f64,
    pub(super) altitude: f64,
    pub(super) band: usize,
    pub(super) gradient: Option<Gradient>,
    pub(super) hillshade: HillshadeMode,
    pub(super) tri: Option<TriAlgorithm>,
    pub(super) zero_for_flat: bool,
    pub(super) trigonometric: bool,
    pub(super) alg: Option<String>,
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
        <Self as crate::config::Config>::from_value(v)
    }

    /// Options from JSON text (see [`TerrainOptions::from_json`]).
    pub fn parse(text: &str) -> Result<Self> {
        <Self as crate::config::Config>::from_text(text)
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
