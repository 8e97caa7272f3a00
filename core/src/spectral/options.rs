//! How band rasters become indices: sensor, masks, constants (borrowed options and their
//! serializable settings).

use super::*;

/// How to turn band rasters into indices: sensor scaling, masks, constants.
#[derive(Debug, Clone)]
pub struct ImageryOptions<'a> {
    /// Sensor (scaling of stored DN to reflectance).
    pub sensor: Sensor,
    /// Sentinel-2 SCL band (same grid, or an integer factor coarser and aligned: nearest).
    pub scl: Option<Mask<'a>>,
    /// SCL classes to mask.
    pub scl_masked: Vec<u8>,
    /// Landsat QA_PIXEL band (same grid, or coarser as the SCL).
    pub qa_pixel: Option<Mask<'a>>,
    /// QA_PIXEL bits to mask.
    pub qa_bits: Vec<u8>,
    /// Constant overrides.
    pub constants: HashMap<String, f64>,
}

impl Default for ImageryOptions<'_> {
    fn default() -> Self {
        ImageryOptions {
            sensor: Sensor::Reflectance,
            scl: None,
            scl_masked: SCL_DEFAULT_MASK.to_vec(),
            qa_pixel: None,
            qa_bits: QA_PIXEL_DEFAULT_BITS.to_vec(),
            constants: HashMap::new(),
        }
    }
}

/// Serializable imagery settings (the `imagery` part of feature specs and binding options).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagerySettings {
    /// Sensor scaling (`{"sensor": "sentinel2_l2a", "offset": 0}`); default: values are reflectance.
    #[serde(default = "default_sensor")]
    pub sensor: Sensor,
    /// SCL classes to mask (default [`SCL_DEFAULT_MASK`]).
    #[serde(default)]
    pub scl_masked: Option<Vec<u8>>,
    /// QA_PIXEL bits to mask (default [`QA_PIXEL_DEFAULT_BITS`]).
    #[serde(default)]
    pub qa_bits: Option<Vec<u8>>,
    /// Constant overrides.
    #[serde(default)]
    pub constants: HashMap<String, f64>,
}

fn default_sensor() -> Sensor {
    Sensor::Reflectance
}

impl ImagerySettings {
    /// Options for [`index_rasters`] with these settings and the given mask bands.
    pub fn options<'a>(&self, scl: Option<Mask<'a>>, qa_pixel: Option<Mask<'a>>) -> ImageryOptions<'a> {
        ImageryOptions {
            sensor: self.sensor,
            scl,
            scl_masked: self.scl_masked.clone().unwrap_or_else(|| SCL_DEFAULT_MASK.to_vec()),
            qa_pixel,
            qa_bits: self.qa_bits.clone().unwrap_or_else(|| QA_PIXEL_DEFAULT_BITS.to_vec()),
            constants: self.constants.clone(),
        }
    }
}
