//! Typed configurations, parsed once: params → [`Config::check`] → valid params (as linfa does).
//!
//! Every configuration a caller hands over — a scoring [`Profile`](crate::scoring::Profile), a
//! [`FeatureSpec`](crate::pipeline::FeatureSpec), a search [`Query`](crate::search::Query), model
//! [`Params`](crate::ml::Params), [`TerrainOptions`](crate::terrain::TerrainOptions), ... — is
//! a serde type that implements [`Config`]. It is built from any [`ConfigSource`]: a structured
//! value (a Python dict through pythonize, a JS object through napi's serde, a `serde_json::Value`
//! in Rust), JSON or TOML text, or a file. The value is deserialised, then checked, whatever the
//! source; errors are `INVALID_INPUT` naming the configuration and where in it the problem is (the
//! field path, or the line and column of text), and a value that does not parse is never quoted
//! (configurations come from strangers). Names the caller chose and the library looks up (a
//! statistic, an index, a CRS) are quoted in the errors of the lookups when short and plain.
//!
//! ```
//! use landopp::config::{Config, ConfigSource};
//! use landopp::scoring::Profile;
//! let v = serde_json::json!({"version": 1, "method": {"type": "weighted_sum"}, "criteria": [
//!     {"column": "slope", "weight": 1, "transform": {"type": "linear_cost", "min": 0, "max": 10}}]});
//! let from_value = Profile::from_source(ConfigSource::Value(v.clone()))?;
//! let from_text = Profile::from_source(ConfigSource::Text(v.to_string()))?;
//! assert_eq!(from_value, from_text);
//! let bad = Profile::from_value(serde_json::json!({"version": 1, "criteria": []})).unwrap_err();
//! assert_eq!(bad.code(), "INVALID_INPUT");
//! # Ok::<(), landopp::Error>(())
//! ```

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigSource {
    /// A structured value (a Python dict, a JS object, `serde_json::json!`).
    Value(serde_json::Value),
    /// JSON text (starting with `{`) or TOML text.
    Text(String),
    /// A JSON or TOML file (a regular file of at most 16 MiB).
    File(PathBuf),
}

impl ConfigSource {
    /// A string as the bindings take it (the one rule, for every binding): JSON text (an object
    /// or an array) and text of several lines are text; otherwise an existing path is that file, a
    /// one-line `key = value` is TOML text, and anything else is a file name (so a mistyped
    /// path is `NOT_FOUND` naming it, not a TOML syntax error).
    pub fn text_or_file(s: impl Into<String>) -> Self {
        let s = s.into();
        if crate::error::is_json(s.trim_start_matches('\u{feff}')) || s.contains('\n') {
            ConfigSource::Text(s)
        } else if Path::new(&s).exists() || !s.contains('=') {
            ConfigSource::File(PathBuf::from(s))
        } else {
            ConfigSource::Text(s)
        }
    }
}

impl From<serde_json::Value> for ConfigSource {
    fn from(v: serde_json::Value) -> Self {
        ConfigSource::Value(v)
    }
}

/// A configuration: deserialised from any [`ConfigSource`], then checked once.
pub trait Config: DeserializeOwned {
    /// What the configuration is called in errors (`"scoring profile"`).
    const WHAT: &'static str;

    /// The value of an absent configuration (`null`, `None`), when it has defaults.
    fn absent() -> Option<Self> {
        None
    }

    /// Check the whole value; errors name the field.
    fn check(&self) -> Result<()> {
        Ok(())
    }

    /// After reading from a file: make relative paths relative to the file's folder.
    fn relative_to(&mut self, _dir: &Path) {}

    /// From a structured value (`null`: [`Config::absent`], else refused).
    fn from_value(v: serde_json::Value) -> Result<Self> {
        if v.is_null() {
            let c = Self::absent().ok_or_else(|| Error::InvalidInput(format!("{}: a value is needed", Self::WHAT)))?;
            c.check()?;
            return Ok(c);
        }
        Self::from_deserializer(v)
    }

    /// From any serde deserializer (pythonize's, to read a Python dict straight into the type);
    /// errors give the field path (`criteria[0].weight`).
    fn from_deserializer<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Self> {
        let c: Self = serde_path_to_error::deserialize(d).map_err(|e| {
            let msg = crate::error::redact(&e.inner().to_string());
            match e.path().to_string().as_str() {
                "." => Error::InvalidInput(format!("{}: {msg}", Self::WHAT)),
                path => Error::InvalidInput(format!("{}: {path}: {msg}", Self::WHAT)),
            }
        })?;
        c.check()?;
        Ok(c)
    }

    /// From JSON (starting with `{`) or TOML text; errors give the line and column.
    fn from_text(text: &str) -> Result<Self> {
        let c: Self = crate::error::parse_config(text, Self::WHAT)?;
        c.check()?;
        Ok(c)
    }

    /// From a JSON or TOML file; errors name the file, never its content.
    fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut c: Self = crate::error::read_config(path, Self::WHAT)?;
        c.check()?;
        // relative to the file's folder, made absolute (provenance then names the real file)
        if let Some(dir) = std::path::absolute(path).ok().as_deref().and_then(Path::parent) {
            c.relative_to(dir);
        }
        Ok(c)
    }

    /// From any source.
    fn from_source(src: ConfigSource) -> Result<Self> {
        match src {
            ConfigSource::Value(v) => Self::from_value(v),
            ConfigSource::Text(t) => Self::from_text(&t),
            ConfigSource::File(p) => Self::from_file(p),
        }
    }
}

impl Config for crate::scoring::Profile {
    const WHAT: &'static str = "profile";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

impl Config for crate::pipeline::FeatureSpec {
    const WHAT: &'static str = "feature spec";
    fn check(&self) -> Result<()> {
        self.validate()
    }
    fn relative_to(&mut self, dir: &Path) {
        self.resolve_paths(dir)
    }
}

impl Config for crate::ml::Params {
    const WHAT: &'static str = "model parameters";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

impl Config for crate::search::Query {
    const WHAT: &'static str = "query";
    fn absent() -> Option<Self> {
        serde_json::from_value(serde_json::json!({})).ok()
    }
}

impl Config for crate::search::SensitivityOptions {
    const WHAT: &'static str = "sensitivity options";
}

impl Config for crate::terrain::TerrainOptions {
    const WHAT: &'static str = "terrain options";
    fn absent() -> Option<Self> {
        Some(Self::default())
    }
}

impl Config for crate::color_relief::ColorReliefOptions {
    const WHAT: &'static str = "color relief options";
    fn absent() -> Option<Self> {
        Some(Self::default())
    }
}

impl Config for crate::spectral::ImagerySettings {
    const WHAT: &'static str = "spectral options";
    fn absent() -> Option<Self> {
        Some(Self::default())
    }
}

/// Many search queries at once (`query_many`).
impl Config for Vec<crate::search::Query> {
    const WHAT: &'static str = "queries";
}

#[cfg(feature = "ml-files")]
impl Config for crate::ml::drift::AbSplit {
    const WHAT: &'static str = "A/B split";
}

#[cfg(feature = "ml-files")]
impl Config for crate::ml::registry::RetrainPolicy {
    const WHAT: &'static str = "retrain policy";
    fn absent() -> Option<Self> {
        Some(Self::default())
    }
}

#[cfg(feature = "remote")]
impl Config for crate::sources::stac::StacSearch {
    const WHAT: &'static str = "STAC search";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

impl Config for crate::vector::validate::TableSchema {
    const WHAT: &'static str = "table schema";
    fn check(&self) -> Result<()> {
        crate::vector::validate::TableSchema::check(self)
    }
}

#[cfg(feature = "remote")]
impl Config for crate::sources::features::ArcGisQuery {
    const WHAT: &'static str = "ArcGIS query";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

#[cfg(feature = "remote")]
impl Config for crate::sources::features::OgcQuery {
    const WHAT: &'static str = "OGC API query";
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

#[cfg(feature = "remote")]
impl Config for crate::sources::sda::SdaQuery {
    const WHAT: &'static str = "Soil Data Access query";
    fn absent() -> Option<Self> {
        Some(Self::default())
    }
    fn check(&self) -> Result<()> {
        self.validate()
    }
}

/// Imagery records (what a STAC search returns) given back to choose among.
#[cfg(feature = "remote")]
impl Config for Vec<crate::sources::stac::ImageryRecord> {
    const WHAT: &'static str = "imagery records";
}

#[cfg(feature = "remote")]
impl Config for crate::sources::stac::SceneChoiceOptions {
    const WHAT: &'static str = "scene choice options";
    fn absent() -> Option<Self> {
        Some(Self::default())
    }
}

/// `snake_case` → `camelCase` (`gap_to_anti_ideal` → `gapToAntiIdeal`; a leading `_` stays): the
/// key case of the results the Node package returns — their struct fields; map keys, which are the
/// user's names, are never renamed.
///
/// ```
/// assert_eq!(landopp::config::camel_case("next_cursor"), "nextCursor");
/// ```
pub fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut up = false;
    for (i, ch) in key.chars().enumerate() {
        match ch {
            '_' if i > 0 => up = true,
            c if up => {
                out.extend(c.to_uppercase());
                up = false;
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::Profile;
    use crate::terrain::TerrainOptions;

    const PROFILE: &str = r#"{"version": 1, "method": {"type": "weighted_sum"}, "criteria": [
        {"column": "slope", "weight": 1, "transform": {"type": "linear_cost", "min": 0, "max": 10}}]}"#;

    #[cfg(feature = "toml")]
    #[test]
    fn every_source_gives_the_same_checked_value() {
        let v: serde_json::Value = serde_json::from_str(PROFILE).unwrap();
        let dir = std::env::temp_dir().join(format!("landopp-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("p.json");
        std::fs::write(&file, PROFILE).unwrap();
        let a = Profile::from_source(ConfigSource::Value(v)).unwrap();
        let b = Profile::from_source(ConfigSource::text_or_file(PROFILE)).unwrap();
        let c = Profile::from_source(ConfigSource::text_or_file(file.to_str().unwrap())).unwrap();
        assert_eq!((&a, &a), (&b, &c));
        assert_eq!(ConfigSource::text_or_file(file.to_str().unwrap()), ConfigSource::File(file.clone()));
        // a mistyped path is a missing file, named; one-line TOML and JSON are text
        let e = Profile::from_source(ConfigSource::text_or_file("no/such/profile.toml")).unwrap_err();
        assert_eq!(e.code(), "NOT_FOUND", "{e}");
        assert!(matches!(ConfigSource::text_or_file("version = 1"), ConfigSource::Text(_)));
        assert!(matches!(ConfigSource::text_or_file(" {\"version\": 1}"), ConfigSource::Text(_)));
        // an array of queries is JSON; a TOML table header is TOML
        let qs = Vec::<crate::search::Query>::from_source(ConfigSource::text_or_file(r#"[{"limit": 3}, {}]"#)).unwrap();
        assert_eq!((qs.len(), qs[0].limit), (2, 3));
        assert!(Vec::<crate::search::Query>::from_text("[]").unwrap().is_empty());
        let s = crate::search::SensitivityOptions::from_text(
            "top_k = 3\n[perturbation]\ntype = \"one_at_a_time\"\ndelta = 0.1",
        )
        .unwrap();
        assert_eq!(s.top_k, 3);
        let braces = dir.join("{proj}");
        std::fs::create_dir_all(&braces).unwrap();
        std::fs::write(braces.join("p.json"), PROFILE).unwrap();
        let b = braces.join("p.json");
        assert_eq!(Profile::from_source(ConfigSource::text_or_file(b.to_str().unwrap())).unwrap(), a);
        // a byte-order mark before JSON
        assert_eq!(Profile::from_text(&format!("\u{feff}{PROFILE}")).unwrap(), a);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn values_are_checked_once_whatever_the_source_and_errors_do_not_quote_values() {
        let mut v: serde_json::Value = serde_json::from_str(PROFILE).unwrap();
        v["criteria"][0]["weight"] = serde_json::json!(-1.0);
        let e = Profile::from_value(v.clone()).unwrap_err();
        assert!(e.to_string().contains("criteria[0].weight"), "{e}");
        assert_eq!(Profile::from_text(&v.to_string()).unwrap_err().to_string(), e.to_string());
        // a type error in a value names the field path, not the value
        v["criteria"][0]["weight"] = serde_json::json!("s3cret");
        let e = Profile::from_value(v).unwrap_err();
        assert!(e.to_string().contains("profile: criteria[0].weight: invalid type"), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        let e = TerrainOptions::from_value(serde_json::json!({"alg": "s3cret"})).unwrap_err();
        assert!(e.to_string().starts_with("invalid input: terrain options"), "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert_eq!(TerrainOptions::from_value(serde_json::Value::Null).unwrap(), TerrainOptions::default());
        // serde's messages do not name the library's internal types
        for e in [
            TerrainOptions::from_value(serde_json::json!("slope")).unwrap_err(),
            crate::spectral::ImagerySettings::from_value(serde_json::json!({"sensor": "sentinel2_l2a"})).unwrap_err(),
        ] {
            assert!(!e.to_string().contains("Json"), "{e}");
        }
        // a step's check names the step once and keeps its code
        use crate::pipeline::FeatureSpec;
        let spec = |step: serde_json::Value| {
            FeatureSpec::from_value(
                serde_json::json!({"version": 1, "parcels": {"path": "p.gpkg"}, "features": [step]}),
            )
            .unwrap_err()
        };
        let e = spec(serde_json::json!({"type": "zonal", "raster": "r.tif", "stats": ["s3cret"]}));
        assert_eq!(e.code(), "INVALID_INPUT");
        assert!(e.to_string().starts_with("invalid input: features[0]: unknown statistic"), "{e}");
        let e = spec(serde_json::json!({"type": "spectral", "bands": {}, "indices": ["NOPE"], "stats": ["mean"]}));
        assert_eq!(e.code(), "NOT_FOUND", "{e}");
        assert_eq!(Profile::from_value(serde_json::Value::Null).unwrap_err().code(), "INVALID_INPUT");
    }
}
