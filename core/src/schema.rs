//! JSON Schemas (draft-07) of the documents landopp reads and writes: the configurations a caller
//! writes — scoring profile, feature spec, search query, model parameters, terrain and
//! colour-relief options, sensitivity options, retrain policy, A/B split — and the results it
//! returns — search pages, sites, sensitivity, model cards and explanations, drift reports, file
//! summaries. Generated from the Rust types (schemars), so they cannot drift from what the
//! library accepts; editors validate profile and spec files with them, and the Node package's
//! TypeScript declarations are compiled from them.
//!
//! ```
//! let s = landopp::schema::configs();
//! assert!(s["definitions"]["Profile"]["properties"]["criteria"].is_object());
//! ```

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// A schema whose `definitions` hold every configuration document, by name (`Profile`,
/// `FeatureSpec`, `Query`, `Params`, `TerrainOptions`, `ColorReliefOptions`, `SensitivityOptions`,
/// `ImagerySettings`, `RetrainPolicy`, `AbSplit`) and the types they use.
pub fn configs() -> Value {
    let mut g = SchemaSettings::draft07().into_generator();
    for root in CONFIGS.iter().chain(REMOTE_CONFIGS) {
        (root.add)(&mut g);
    }
    bundle(g)
}

/// A schema whose `definitions` hold every result document (`Page`, `Site`, `Sensitivity`,
/// `ModelCard`, `Explained`, `DriftReport`, `Info`) and the types they use, with the library's
/// own (snake_case) keys.
pub fn results() -> Value {
    let mut g = SchemaSettings::draft07().into_generator();
    for root in RESULTS.iter().chain(REMOTE_RESULTS) {
        (root.add)(&mut g);
    }
    bundle(g)
}

/// The names of the configuration documents in [`configs`].
pub fn config_names() -> impl Iterator<Item = &'static str> {
    CONFIGS.iter().chain(REMOTE_CONFIGS).map(|r| r.name)
}

struct Root {
    name: &'static str,
    add: fn(&mut schemars::SchemaGenerator),
}

macro_rules! roots {
    ($($t:ty => $name:literal),* $(,)?) => {
        [$(Root { name: $name, add: |g| { g.subschema_for::<$t>(); } }),*]
    };
}

const CONFIGS: [Root; 11] = roots![
    crate::vector::validate::TableSchema => "TableSchema",
    crate::scoring::Profile => "Profile",
    crate::pipeline::FeatureSpec => "FeatureSpec",
    crate::search::Query => "Query",
    crate::ml::Params => "Params",
    crate::terrain::TerrainOptions => "TerrainOptions",
    crate::color_relief::ColorReliefOptions => "ColorReliefOptions",
    crate::search::SensitivityOptions => "SensitivityOptions",
    crate::spectral::ImagerySettings => "ImagerySettings",
    crate::ml::registry::RetrainPolicy => "RetrainPolicy",
    crate::ml::drift::AbSplit => "AbSplit",
];

/// The live sources' documents (feature `remote`).
#[cfg(feature = "remote")]
const REMOTE_CONFIGS: &[Root] = &roots![
    crate::sources::stac::StacSearch => "StacSearch",
    crate::sources::stac::SceneChoiceOptions => "SceneChoiceOptions",
    crate::sources::features::ArcGisQuery => "ArcGisQuery",
    crate::sources::features::OgcQuery => "OgcQuery",
    crate::sources::sda::SdaQuery => "SdaQuery",
];
#[cfg(not(feature = "remote"))]
const REMOTE_CONFIGS: &[Root] = &[];

#[cfg(feature = "remote")]
const REMOTE_RESULTS: &[Root] = &roots![
    crate::sources::stac::StacResults => "StacResults",
    crate::sources::stac::SceneChoice => "SceneChoice",
    crate::sources::sda::SdaTable => "SdaTable",
];
#[cfg(not(feature = "remote"))]
const REMOTE_RESULTS: &[Root] = &[];

const RESULTS: [Root; 8] = roots![
    crate::vector::validate::ValidationReport => "ValidationReport",
    crate::search::Page => "Page",
    crate::search::Site => "Site",
    crate::scoring::Sensitivity => "Sensitivity",
    crate::ml::lifecycle::ModelCard => "ModelCard",
    crate::ml::Explained => "Explained",
    crate::ml::drift::DriftReport => "DriftReport",
    crate::info::Info => "Info",
];

fn bundle(mut g: schemars::SchemaGenerator) -> Value {
    let defs: Map<String, Value> = g.take_definitions(true);
    let mut out = Map::new();
    out.insert("$schema".into(), "http://json-schema.org/draft-07/schema#".into());
    out.insert("definitions".into(), Value::Object(defs));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_root_is_defined_and_refs_resolve() {
        for (s, names) in [(configs(), CONFIGS.iter().map(|r| r.name).collect::<Vec<_>>()), (results(), vec![])] {
            let defs = s["definitions"].as_object().unwrap();
            for n in names {
                assert!(defs.contains_key(n), "{n} missing");
            }
            let text = s.to_string();
            for r in text.split("\"$ref\":\"#/definitions/").skip(1) {
                let name = &r[..r.find('"').unwrap()];
                assert!(defs.contains_key(name), "dangling $ref {name}");
            }
        }
        let r = results();
        for n in ["Page", "Site", "Sensitivity", "ModelCard", "Explained", "DriftReport", "Info"] {
            assert!(r["definitions"].get(n).is_some(), "{n} missing");
        }
    }

    #[test]
    fn defaults_make_fields_optional() {
        let q = &configs()["definitions"]["Query"];
        // every query field has a default: none is required
        assert!(q.get("required").is_none_or(|r| r.as_array().unwrap().is_empty()), "{q}");
        assert_eq!(q["properties"]["limit"]["default"], 100);
    }
}
