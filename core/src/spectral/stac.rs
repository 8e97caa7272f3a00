//! Scene metadata from a STAC item, carried into feature provenance.

use super::*;

/// Scene metadata carried into feature provenance (from a STAC item).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SceneMeta {
    /// Scene id.
    pub scene_id: String,
    /// Capture date-time (ISO 8601).
    pub datetime: String,
    /// Scene cloud cover, percent.
    pub cloud_cover: Option<f64>,
    /// Ground sample distance of the finest band, metres.
    pub resolution_m: Option<f64>,
    /// Platform (`sentinel-2a`, `landsat-8`, ...).
    pub platform: String,
    /// Sentinel-2 processing baseline, when given.
    pub processing_baseline: Option<String>,
}

impl SceneMeta {
    /// Read a STAC item JSON file.
    pub fn from_stac(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::error::read_text_bounded(path, crate::error::MAX_CONFIG_BYTES, "STAC item")?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::format("STAC", path, e.to_string()))?;
        Self::from_item(&v, path)
    }

    /// Scene metadata of a parsed STAC item (`path`: where it came from, for messages).
    pub fn from_item(v: &serde_json::Value, path: &std::path::Path) -> Result<Self> {
        let p = &v["properties"];
        // an item over an interval has `datetime: null` and its start
        let datetime = p["datetime"].as_str().or(p["start_datetime"].as_str()).unwrap_or_default().to_string();
        if v["id"].as_str().is_none() || datetime.is_empty() {
            return Err(Error::format("STAC", path, "an item needs \"id\" and properties.datetime"));
        }
        let gsd = p["gsd"].as_f64().or_else(|| {
            v["assets"].as_object().and_then(|a| a.values().filter_map(|x| x["gsd"].as_f64()).reduce(f64::min))
        });
        Ok(SceneMeta {
            scene_id: v["id"].as_str().unwrap_or_default().to_string(),
            datetime,
            cloud_cover: p["eo:cloud_cover"].as_f64(),
            resolution_m: gsd,
            platform: p["platform"].as_str().unwrap_or_default().to_string(),
            processing_baseline: match p["s2:processing_baseline"].as_str() {
                Some(b) => {
                    s2_offset(b).map_err(|_| {
                        Error::format("STAC", path, "properties.s2:processing_baseline is not a version number")
                    })?;
                    Some(b.to_string())
                }
                None => None,
            },
        })
    }
    /// The sensor implied by the platform / product (L2A unless the id says L1C).
    pub fn sensor(&self) -> Sensor {
        let pl = self.platform.to_ascii_lowercase();
        if pl.starts_with("sentinel-2") {
            // checked by `from_stac`; a baseline set by hand that is not a number counts as 0
            let off = self.processing_baseline.as_deref().map_or(0.0, |b| s2_offset(b).unwrap_or(0.0));
            if self.scene_id.contains("L1C") {
                Sensor::Sentinel2L1c { offset: off }
            } else {
                Sensor::Sentinel2L2a { offset: off }
            }
        } else if pl.contains("landsat-8") || pl.contains("landsat-9") {
            Sensor::Landsat89
        } else if pl.contains("landsat") {
            Sensor::Landsat457
        } else {
            Sensor::Reflectance
        }
    }
}
