//! The Awesome Spectral Indices catalogue: index formulas, bands and constants.

use super::*;

/// One catalogue entry.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct SpectralIndex {
    /// Formula in the catalogue's notation (`(N - R)/(N + R)`).
    pub formula: String,
    /// Bands and constants the formula uses (`N`, `R`, `L`, ...).
    pub bands: Vec<String>,
    /// Long name.
    pub long_name: String,
    /// Application domain (vegetation, water, urban, burn, snow, ...).
    pub domain: String,
    /// Reference (DOI or URL).
    pub reference: String,
}

#[derive(Debug, Deserialize)]
struct ConstantDef {
    default: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct BandDef {}

struct Catalogue {
    indices: BTreeMap<String, SpectralIndex>,
    constants: BTreeMap<String, ConstantDef>,
    bands: BTreeMap<String, BandDef>,
}

fn catalogue() -> &'static Catalogue {
    static C: OnceLock<Catalogue> = OnceLock::new();
    C.get_or_init(|| Catalogue {
        indices: serde_json::from_str(include_str!("../../data/spectral-indices.json")).unwrap_or_default(),
        constants: serde_json::from_str(include_str!("../../data/spectral-constants.json")).unwrap_or_default(),
        bands: serde_json::from_str(include_str!("../../data/spectral-bands.json")).unwrap_or_default(),
    })
}

/// Every index of the catalogue, by short name.
pub fn indices() -> &'static BTreeMap<String, SpectralIndex> {
    &catalogue().indices
}

/// One index by short name (case-sensitive as in the catalogue, e.g. `NDVI`, `kNDVI`).
pub fn index(name: &str) -> Result<&'static SpectralIndex> {
    indices().get(name).ok_or_else(|| {
        let close: Vec<String> = indices().keys().filter(|k| k.eq_ignore_ascii_case(name)).cloned().collect::<Vec<_>>();
        Error::not_found("spectral index", name, close)
    })
}

/// Default value of a catalogue constant (`L` = 1, `g` = 2.5, `C1` = 6, `C2` = 7.5, ...).
pub fn constant_default(name: &str) -> Option<f64> {
    catalogue().constants.get(name).and_then(|c| c.default)
}

/// True when `name` is a catalogue band (`B`, `G`, `R`, `N`, `S1`, `RE1`, ...) rather than a constant.
pub fn is_band(name: &str) -> bool {
    catalogue().bands.contains_key(name)
}
