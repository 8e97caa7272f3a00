//! The feature pipeline from a spec.

use crate::convert::config_source;
use crate::convert::Ids;
use crate::error::reject_with_code;
use landopp::config::{Config, ConfigSource};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

/// A feature column returned to JS.
#[napi(object, js_name = "FeatureColumn")]
pub struct FeatureColumnJs {
    pub name: String,
    /// Values (category codes for categorical columns; NaN = missing).
    pub values: Float64Array,
    /// Category labels of a categorical column.
    pub categories: Option<Vec<String>>,
    /// Provenance: source, unit, method.
    pub source: String,
    pub unit: String,
    pub method: String,
}

#[napi(object, js_name = "FeatureTable")]
pub struct FeatureTableJs {
    #[napi(ts_type = "Array<string>")]
    pub ids: Ids,
    pub columns: Vec<FeatureColumnJs>,
}

pub struct FeaturesTask {
    spec: Option<ConfigSource>,
    base_dir: Option<String>,
}

impl Task for FeaturesTask {
    type Output = landopp::Result<landopp::FeatureTable>;
    type JsValue = FeatureTableJs;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (spec, base) = (self.spec.take(), self.base_dir.clone());
        Ok(landopp::error::catch_panic(|| {
            let spec = spec.ok_or_else(|| landopp::Error::Internal("feature task run twice".into()))?;
            // a spec file's relative paths are relative to its folder; `baseDir` is for the others
            let from_file = matches!(spec, ConfigSource::File(_));
            let mut s = landopp::pipeline::FeatureSpec::from_source(spec)?;
            if let (Some(b), false) = (base, from_file) {
                s.resolve_paths(std::path::Path::new(&b));
            }
            s.run(&|_| {})
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let t = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(FeatureTableJs {
            ids: Ids(t.ids().to_vec()),
            columns: t
                .columns()
                .iter()
                .map(|c| FeatureColumnJs {
                    name: c.name.clone(),
                    values: Float64Array::new(c.values.to_vec()),
                    categories: c.categories.clone(),
                    source: c.meta.source.clone(),
                    unit: c.meta.unit.clone(),
                    method: c.meta.method.clone(),
                })
                .collect(),
        })
    }
}

/// Run a feature spec (an object, JSON/TOML text or a spec file: the same spec as the CLI and
/// Python); relative paths resolve against `baseDir` (a file's against its folder). Runs off the
/// JS thread.
#[napi(ts_return_type = "Promise<FeatureTable>")]
pub fn features(
    #[napi(ts_arg_type = "import('./types').FeatureSpec | string")] spec: serde_json::Value,
    base_dir: Option<String>,
) -> AsyncTask<FeaturesTask> {
    AsyncTask::new(FeaturesTask { spec: Some(config_source(spec)), base_dir })
}
