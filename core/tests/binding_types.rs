//! The schemas the bindings' types are generated from, from the Rust types:
//! - `node/types.schema.json`, compiled to `node/types.d.ts` (TypeScript): the configuration
//!   documents as they are written (snake_case keys, as in the files) and the results in Node's
//!   key case — struct fields camelCase, map keys (the user's names) unchanged — the rule
//!   `bindings/node/src/convert.rs` (`Camel`) applies at run time;
//! - `python/types.schema.json`, compiled to `python/landopp/types.py` (TypedDicts) by
//!   `python/gen_types.py`: the same documents with the library's own keys, as Python gets them.
//!
//! `LANDOPP_BLESS=1 cargo test -p landopp --features schema,remote --test binding_types` rewrites both;
//! then `npm run types` in `node/` and `python python/gen_types.py`.
#![allow(clippy::unwrap_used)]

use serde_json::{Map, Value};

use landopp::config::camel_case as camel;

/// Rename the properties (struct fields) of a schema and of every schema nested in it.
fn camelize(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::Object(props)) = o.get_mut("properties") {
                let renamed: Map<String, Value> =
                    std::mem::take(props).into_iter().map(|(k, v)| (camel(&k), v)).collect();
                *props = renamed;
            }
            if let Some(Value::Array(req)) = o.get_mut("required") {
                for r in req.iter_mut() {
                    if let Value::String(s) = r {
                        *s = camel(s);
                    }
                }
            }
            for (k, child) in o.iter_mut() {
                // `properties` holds schemas keyed by field; every other keyword's schemas nest directly
                if k == "properties" {
                    child.as_object_mut().into_iter().flat_map(|m| m.values_mut()).for_each(camelize);
                } else if k != "default" && k != "examples" && k != "const" && k != "enum" {
                    camelize(child);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(camelize),
        _ => {}
    }
}

/// `{properties, required, allOf: [X]}` (an internally tagged newtype variant) as
/// `{allOf: [{properties, required}, X]}`: the same schema, in the form json-schema-to-typescript
/// reads (it drops `properties` beside `allOf`).
fn hoist_all_of(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.contains_key("allOf") && o.contains_key("properties") {
                let mut own = Map::new();
                for k in ["type", "properties", "required"] {
                    if let Some(x) = o.remove(k) {
                        own.insert(k.into(), x);
                    }
                }
                if let Some(Value::Array(all)) = o.get_mut("allOf") {
                    all.insert(0, Value::Object(own));
                }
            }
            o.values_mut().for_each(hoist_all_of);
        }
        Value::Array(a) => a.iter_mut().for_each(hoist_all_of),
        _ => {}
    }
}

/// The definitions `root` refers to, directly or not.
fn reachable(defs: &Value, root: &str) -> Vec<String> {
    let mut seen = vec![root.to_string()];
    let mut k = 0;
    while k < seen.len() {
        let text = defs[&seen[k]].to_string();
        for r in text.split("\"$ref\":\"#/definitions/").skip(1) {
            let name = r[..r.find('"').unwrap()].to_string();
            if !seen.contains(&name) {
                seen.push(name);
            }
        }
        k += 1;
    }
    seen
}

fn node_schema() -> Value {
    let configs = landopp::schema::configs();
    let results = landopp::schema::results();
    let mut defs = configs["definitions"].as_object().unwrap().clone();
    let config_roots: Vec<&str> = landopp::schema::config_names().collect();
    let in_params = reachable(&configs["definitions"], "Params");
    for (name, def) in results["definitions"].as_object().unwrap() {
        // a configuration inside a result (a model card's hyper-parameters) stays a document
        if config_roots.contains(&name.as_str()) {
            continue;
        }
        let mut d = def.clone();
        camelize(&mut d);
        if let Some(same) = defs.get(name) {
            // a type of the hyper-parameters document (kept as written, above) is used as is
            assert!(
                same == &d || in_params.contains(name),
                "{name} is in a configuration and a result with different keys: give it two names"
            );
            continue;
        }
        defs.insert(name.clone(), d);
    }
    defs.values_mut().for_each(hoist_all_of);
    let mut out = Map::new();
    out.insert("$schema".into(), "http://json-schema.org/draft-07/schema#".into());
    out.insert("title".into(), "landopp".into());
    out.insert(
        "description".into(),
        "Configuration documents (snake_case keys, as in the files) and results (camelCase keys) of the landopp Node package. Generated from the Rust types by core/tests/binding_types.rs: do not edit.".into(),
    );
    out.insert("definitions".into(), Value::Object(defs));
    Value::Object(out)
}

/// Configurations and results with the library's own keys (Python's).
fn python_schema() -> Value {
    let mut defs = landopp::schema::configs()["definitions"].as_object().unwrap().clone();
    for (name, def) in landopp::schema::results()["definitions"].as_object().unwrap() {
        if let Some(same) = defs.get(name) {
            assert_eq!(same, def, "{name} differs between a configuration and a result");
            continue;
        }
        defs.insert(name.clone(), def.clone());
    }
    defs.values_mut().for_each(hoist_all_of);
    serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "landopp",
        "description": "Configuration documents and results of the landopp Python package. Generated from the Rust types by core/tests/binding_types.rs: do not edit.",
        "definitions": defs,
    })
}

fn check_current(rel: &str, schema: Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    if std::env::var_os("LANDOPP_BLESS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{rel} is out of date with the Rust types: LANDOPP_BLESS=1 cargo test -p landopp --features schema,remote \
         --test binding_types, then `npm run types` in node/ and `python python/gen_types.py`"
    );
}

#[test]
fn node_types_schema_is_current() {
    check_current("node/types.schema.json", node_schema());
}

#[test]
fn python_types_schema_is_current() {
    check_current("python/types.schema.json", python_schema());
}

#[test]
fn results_are_camel_case_and_user_maps_stay() {
    let s = node_schema();
    let d = &s["definitions"];
    assert!(d["Page"]["properties"].get("nextCursor").is_some(), "{}", d["Page"]);
    assert!(d["Hit"]["properties"].get("sortValue").is_some());
    assert!(d["Query"]["properties"].get("sort_by").is_some(), "configurations keep their keys");
    assert!(d["ModelCard"]["properties"].get("modelVersion").is_some());
    assert_eq!(camel("gap_to_anti_ideal"), "gapToAntiIdeal");
}
