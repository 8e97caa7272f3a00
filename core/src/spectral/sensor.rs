//! Sensors: band maps and DN → reflectance scaling, including the Sentinel-2 processing-baseline
//! offset rule.

use super::*;

/// A sensor, for band maps and reflectance scaling. As JSON: `{"sensor": "landsat89"}`, or for
/// Sentinel-2 `{"sensor": "sentinel2_l2a", "baseline": "04.00"}` (the processing baseline sets
/// the offset) or `{"sensor": "sentinel2_l2a", "offset": -1000}`; without either the offset is 0.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "sensor", try_from = "SensorJson")]
pub enum Sensor {
    /// Sentinel-2 Level-1C top-of-atmosphere: reflectance = DN / 10000 (− 1000 offset from
    /// processing baseline 04.00).
    Sentinel2L1c {
        /// Radiometric offset added to DN (−1000 from baseline 04.00, else 0).
        offset: f64,
    },
    /// Sentinel-2 Level-2A surface reflectance: (DN + BOA_ADD_OFFSET) / 10000.
    Sentinel2L2a {
        /// BOA_ADD_OFFSET (−1000 from baseline 04.00, else 0).
        offset: f64,
    },
    /// Landsat 4/5/7 Collection 2 Level-2 surface reflectance: DN × 0.0000275 − 0.2.
    Landsat457,
    /// Landsat 8/9 Collection 2 Level-2 surface reflectance: DN × 0.0000275 − 0.2.
    Landsat89,
    /// Values already in reflectance (0..1): no scaling.
    #[default]
    Reflectance,
}

/// [`Sensor`] as written: a Sentinel-2 offset given directly or by a processing baseline.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(serde::Deserialize)]
#[serde(
    rename_all = "snake_case",
    tag = "sensor",
    deny_unknown_fields,
    expecting = "a sensor: {\"sensor\": \"sentinel2_l2a\", ...}"
)]
enum SensorJson {
    Sentinel2L1c {
        #[serde(default)]
        offset: Option<f64>,
        #[serde(default)]
        baseline: Option<String>,
    },
    Sentinel2L2a {
        #[serde(default)]
        offset: Option<f64>,
        #[serde(default)]
        baseline: Option<String>,
    },
    // struct variants, so that a stray key (a baseline for Landsat) is refused
    Landsat457 {},
    Landsat89 {},
    Reflectance {},
}

impl TryFrom<SensorJson> for Sensor {
    type Error = Error;
    fn try_from(j: SensorJson) -> Result<Self> {
        let offset = |offset: Option<f64>, baseline: Option<String>| -> Result<f64> {
            match (offset, baseline) {
                (Some(_), Some(_)) => {
                    Err(Error::InvalidInput("give a Sentinel-2 offset or its processing baseline, not both".into()))
                }
                (Some(o), None) if o.is_finite() => Ok(o),
                (Some(o), None) => Err(Error::InvalidInput(format!("Sentinel-2 offset {o} is not finite"))),
                (None, Some(b)) => s2_offset(&b),
                (None, None) => Ok(0.0),
            }
        };
        Ok(match j {
            SensorJson::Sentinel2L1c { offset: o, baseline } => Sensor::Sentinel2L1c { offset: offset(o, baseline)? },
            SensorJson::Sentinel2L2a { offset: o, baseline } => Sensor::Sentinel2L2a { offset: offset(o, baseline)? },
            SensorJson::Landsat457 {} => Sensor::Landsat457,
            SensorJson::Landsat89 {} => Sensor::Landsat89,
            SensorJson::Reflectance {} => Sensor::Reflectance,
        })
    }
}

impl Sensor {
    /// Sentinel-2 L2A with the offset implied by a processing baseline such as `"02.14"` or `"04.00"`.
    pub fn sentinel2_l2a(baseline: &str) -> Result<Self> {
        Ok(Sensor::Sentinel2L2a { offset: s2_offset(baseline)? })
    }

    /// A sensor by name (`reflectance`, `sentinel2_l2a`, `sentinel2_l1c`, `landsat89`,
    /// `landsat457`), with a Sentinel-2 processing baseline when known — the one place the
    /// baseline's offset rule lives.
    pub fn from_name(name: &str, baseline: Option<&str>) -> Result<Self> {
        let mut v = serde_json::json!({ "sensor": name });
        if let Some(b) = baseline {
            v["baseline"] = b.into();
        }
        serde_json::from_value(v).map_err(|e| Error::InvalidInput(format!("sensor: {e}")))
    }
    /// DN → reflectance.
    #[inline]
    pub fn scale(&self, dn: f64) -> f64 {
        match self {
            Sensor::Sentinel2L1c { offset } | Sensor::Sentinel2L2a { offset } => (dn + offset) / 10_000.0,
            Sensor::Landsat457 | Sensor::Landsat89 => dn * 0.000_027_5 - 0.2,
            Sensor::Reflectance => dn,
        }
    }
    /// The sensor's band id for a catalogue band name (`N` → `B08` on Sentinel-2, `B5` on
    /// Landsat 8/9, `B4` on Landsat 4/5/7), per the sensors' band definitions.
    pub fn band_id(&self, name: &str) -> Option<String> {
        let table: &[(&str, &str)] = match self {
            Sensor::Sentinel2L1c { .. } | Sensor::Sentinel2L2a { .. } => &[
                ("A", "B01"),
                ("B", "B02"),
                ("G", "B03"),
                ("R", "B04"),
                ("RE1", "B05"),
                ("RE2", "B06"),
                ("RE3", "B07"),
                ("N", "B08"),
                ("N2", "B8A"),
                ("WV", "B09"),
                ("S1", "B11"),
                ("S2", "B12"),
            ],
            Sensor::Landsat89 => &[
                ("A", "B1"),
                ("B", "B2"),
                ("G", "B3"),
                ("R", "B4"),
                ("N", "B5"),
                ("S1", "B6"),
                ("S2", "B7"),
                ("T1", "B10"),
                ("T2", "B11"),
            ],
            Sensor::Landsat457 => {
                &[("B", "B1"), ("G", "B2"), ("R", "B3"), ("N", "B4"), ("S1", "B5"), ("T", "B6"), ("S2", "B7")]
            }
            Sensor::Reflectance => &[],
        };
        table.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }
}

/// BOA/TOA offset of a Sentinel-2 processing baseline (`"02.14"`, `"04.00"`, `"05.11"`): −1000
/// from 04.00 on, else 0. A baseline that is not such a number is `INVALID_INPUT`.
pub fn s2_offset(baseline: &str) -> Result<f64> {
    match baseline.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(if v >= 4.0 { -1000.0 } else { 0.0 }),
        // not quoted: the value may come from a file
        _ => {
            Err(Error::InvalidInput("the Sentinel-2 processing baseline is not a version number like \"04.00\"".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensors() {
        assert_eq!(Sensor::sentinel2_l2a("04.00").unwrap().scale(2000.0), 0.1);
        assert_eq!(Sensor::sentinel2_l2a("02.14").unwrap().scale(2000.0), 0.2);
        // the baseline rule in one place: by name, by JSON, strict
        assert_eq!(
            Sensor::from_name("sentinel2_l1c", Some("05.11")).unwrap(),
            Sensor::Sentinel2L1c { offset: -1000.0 }
        );
        assert_eq!(Sensor::from_name("landsat89", None).unwrap(), Sensor::Landsat89);
        for (name, b) in [("sentinel2_l2a", Some("latest")), ("landsat89", Some("04.00")), ("sentinel3", None)] {
            assert_eq!(Sensor::from_name(name, b).unwrap_err().code(), "INVALID_INPUT", "{name} {b:?}");
        }
        let j: Sensor = serde_json::from_str(r#"{"sensor": "sentinel2_l2a", "offset": -1000}"#).unwrap();
        assert_eq!(j, Sensor::sentinel2_l2a("04.00").unwrap());
        assert!(
            serde_json::from_str::<Sensor>(r#"{"sensor": "sentinel2_l2a", "offset": 0, "baseline": "04.00"}"#).is_err()
        );
        assert!((Sensor::Landsat89.scale(10000.0) - 0.075).abs() < 1e-12);
        assert_eq!(Sensor::Landsat89.band_id("N").as_deref(), Some("B5"));
        assert_eq!(Sensor::Landsat457.band_id("N").as_deref(), Some("B4"));
        assert_eq!(Sensor::sentinel2_l2a("02.14").unwrap().band_id("N").as_deref(), Some("B08"));
        assert_eq!(Sensor::sentinel2_l2a("02.14").unwrap().band_id("S1").as_deref(), Some("B11"));
        assert_eq!(qa_pixel_valid(&[0b1000, 0b1000000], &QA_PIXEL_DEFAULT_BITS), vec![false, true]);
    }
}
