//! Machine learning from Node: cross-validation, training, prediction with explanations,
//! permutation importance, model files (signed, encrypted), drift and A/B routing. Heavy calls are
//! AsyncTasks (Promises); fold labels and A/B assignment are synchronous.

use crate::convert::{table_from_js, to_value, whole, whole_or, Json, Lend};
use crate::error::{guard, reject_with_code};
use crate::features::FeatureTableJs;
use crate::scoring::ColumnsJs;
use landopp::ml::lifecycle::{FitOptions, LoadOptions, Model as CoreModel, SaveOptions};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use std::sync::Arc;

fn columns_table(c: ColumnsJs) -> landopp::Result<landopp::FeatureTable> {
    let n = c.columns.first().map_or(0, |c| c.values.len());
    table_from_js(
        FeatureTableJs { ids: crate::convert::Ids((0..n).map(|i| format!("row {i}")).collect()), columns: c.columns },
        Lend::Borrow,
    )
}

/// A generic off-thread job: `work` runs on the libuv pool, its result becomes a JS value.
pub struct Job<T: Send + 'static> {
    work: Option<Box<dyn FnOnce() -> landopp::Result<T> + Send>>,
}

impl<T: Send + ToNapiValue + TypeName + 'static> Job<T> {
    pub(crate) fn new(f: impl FnOnce() -> landopp::Result<T> + Send + 'static) -> AsyncTask<Job<T>> {
        AsyncTask::new(Job { work: Some(Box::new(f)) })
    }
}

impl<T: Send + ToNapiValue + TypeName + 'static> Task for Job<T> {
    type Output = landopp::Result<T>;
    type JsValue = T;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let f = self.work.take().ok_or_else(|| napi::Error::from_reason("task already ran"))?;
        // a panic becomes an `INTERNAL` rejection, never a process abort
        Ok(landopp::error::catch_panic(f))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<T> {
        output.map_err(|e| reject_with_code(&env, e))
    }
}

/// Fold of each of `n` rows for shuffled k-fold cross-validation.
#[napi]
pub fn kfold(env: Env, n: f64, k: f64, seed: Option<i64>) -> napi::Result<Uint32Array> {
    let seed = seed.map_or(landopp::ml::FoldDefaults::default().seed, |s| s as u64);
    guard(&env, || landopp::ml::kfold(whole(n, "n")?, whole(k, "k")?, seed).map(labels))
}

#[napi(object)]
#[derive(Default)]
pub struct SpatialFoldOptions {
    /// k-means blocks (default 25).
    pub blocks: Option<f64>,
    /// Folds (default 5).
    pub k: Option<f64>,
    pub seed: Option<i64>,
}

/// Fold of each row for spatial block cross-validation: k-means blocks of projected coordinates
/// (`x`, `y` in metres), dealt to folds so neighbours share one.
#[napi(ts_return_type = "Promise<Uint32Array>")]
pub fn spatial_folds(
    x: Float64Array,
    y: Float64Array,
    options: Option<SpatialFoldOptions>,
) -> AsyncTask<Job<Uint32Array>> {
    let o = options.unwrap_or_default();
    Job::new(move || {
        let d = landopp::ml::FoldDefaults::default();
        let f = landopp::ml::spatial_blocks(
            &points(&x, &y)?,
            whole_or(o.blocks, d.blocks, "blocks")?,
            whole_or(o.k, d.k, "k")?,
            o.seed.map_or(d.seed, |s| s as u64),
        )?;
        Ok(labels(f))
    })
}

/// Coordinate pairs from two typed arrays of the same length.
fn points(x: &[f64], y: &[f64]) -> landopp::Result<Vec<[f64; 2]>> {
    if x.len() != y.len() {
        return Err(landopp::Error::InvalidInput(format!("{} x for {} y", x.len(), y.len())));
    }
    Ok(x.iter().zip(y).map(|(a, b)| [*a, *b]).collect())
}

/// Fold labels as a typed array.
fn labels(f: Vec<usize>) -> Uint32Array {
    Uint32Array::new(f.into_iter().map(|v| v as u32).collect())
}

#[napi(object)]
#[derive(Default)]
pub struct HoldoutOptions {
    /// Share of rows on the test side (default 0.2).
    pub test_fraction: Option<f64>,
    /// k-means blocks for `spatialHoldout` (default 25).
    pub blocks: Option<f64>,
    pub seed: Option<i64>,
}

/// Hold-out split of `n` rows as fold labels (0 = training, 1 = test), a shuffled share of the
/// rows; prefer `spatialHoldout` for parcels.
#[napi]
pub fn holdout(env: Env, n: f64, options: Option<HoldoutOptions>) -> napi::Result<Uint32Array> {
    let o = options.unwrap_or_default();
    let d = landopp::ml::FoldDefaults::default();
    guard(&env, || {
        landopp::ml::holdout(
            whole(n, "n")?,
            o.test_fraction.unwrap_or(d.test_fraction),
            o.seed.map_or(d.seed, |s| s as u64),
            None,
        )
        .map(labels)
    })
}

/// Spatial hold-out split (0 = training, 1 = test): whole k-means blocks of the projected
/// coordinates go to the test side until it holds `testFraction` of the rows, so test parcels
/// are not neighbours of training ones. Off the JS thread.
#[napi(ts_return_type = "Promise<Uint32Array>")]
pub fn spatial_holdout(
    x: Float64Array,
    y: Float64Array,
    options: Option<HoldoutOptions>,
) -> AsyncTask<Job<Uint32Array>> {
    let o = options.unwrap_or_default();
    Job::new(move || {
        let pts = points(&x, &y)?;
        let d = landopp::ml::FoldDefaults::default();
        let f = landopp::ml::holdout(
            pts.len(),
            o.test_fraction.unwrap_or(d.test_fraction),
            o.seed.map_or(d.seed, |s| s as u64),
            Some((&pts, whole_or(o.blocks, d.blocks, "blocks")?)),
        )?;
        Ok(labels(f))
    })
}

#[napi(object)]
pub struct TrainOptions {
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// Target column (numeric; for classification class codes, or a categorical column).
    pub target: String,
    /// `{model: "random_forest" | "gradient_boosting" | "linear", task: "regression" |
    /// "classification", ...hyper-parameters by scikit-learn's names}`, or a file or JSON / TOML text.
    #[napi(ts_type = "import('./types').Params | string")]
    pub params: serde_json::Value,
    pub model_version: Option<String>,
    /// Metrics to record in the card.
    pub metrics: Option<std::collections::HashMap<String, f64>>,
    /// `"error"` (default) or `"ignore"`: a category unseen in training at prediction.
    pub unseen_category: Option<String>,
}

fn params_of(v: &serde_json::Value) -> landopp::Result<landopp::ml::Params> {
    use landopp::config::Config;
    landopp::ml::Params::from_source(crate::convert::config_source(v.clone()))
}

/// Out-of-fold predictions (`n`, or `n × classes` probabilities row-major) of a model family on
/// columns `features` → `target`, folds from `kfold` / `spatialFolds`.
#[napi(ts_return_type = "Promise<Float64Array>")]
pub fn cross_val_predict(
    #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] table: ColumnsJs,
    folds: Uint32Array,
    options: TrainOptions,
) -> AsyncTask<Job<Float64Array>> {
    Job::new(move || {
        let t = columns_table(table)?;
        let p = params_of(&options.params)?;
        let (_, d) = CoreModel::table_dataset(&t, &options.features, &options.target, &p, &FitOptions::default())?;
        let f: Vec<usize> = folds.iter().map(|v| *v as usize).collect();
        Ok(Float64Array::new(landopp::ml::cross_val_predict(&d, &p, &f)?))
    })
}

/// A trained model with its card (kept in Rust; predictions run off the JS thread).
#[napi]
pub struct Model {
    inner: Arc<CoreModel>,
}

/// Train a model on table columns; resolves to a `Model`.
#[napi(ts_return_type = "Promise<Model>")]
pub fn train_model(
    #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] table: ColumnsJs,
    options: TrainOptions,
) -> AsyncTask<Job<Model>> {
    Job::new(move || {
        let t = columns_table(table)?;
        let p = params_of(&options.params)?;
        let unseen = match options.unseen_category.as_deref() {
            None | Some("error") => landopp::ml::lifecycle::UnseenCategory::Error,
            Some("ignore") => landopp::ml::lifecycle::UnseenCategory::Ignore,
            Some(o) => return Err(landopp::Error::InvalidInput(format!("unseenCategory {o:?}: error or ignore"))),
        };
        let opts = FitOptions {
            model_version: options.model_version,
            metrics: options.metrics.unwrap_or_default().into_iter().collect(),
            unseen_category: unseen,
        };
        let m = CoreModel::fit_table(&t, &options.features, &options.target, &p, &opts)?;
        Ok(Model { inner: Arc::new(m) })
    })
}

#[napi(object)]
#[derive(Default)]
pub struct ModelKeys {
    /// HMAC-SHA256 signing key (a Buffer or Uint8Array).
    pub hmac_key: Option<Uint8Array>,
    /// AES-256-GCM key (32 bytes).
    pub encryption_key: Option<Uint8Array>,
    /// Refuse the model unless its features are exactly these (load only).
    pub expect_features: Option<Vec<String>>,
}

fn key32(k: &Option<Vec<u8>>) -> landopp::Result<Option<[u8; 32]>> {
    k.as_ref()
        .map(|k| {
            <[u8; 32]>::try_from(k.as_slice())
                .map_err(|_| landopp::Error::InvalidInput(format!("encryptionKey must be 32 bytes, got {}", k.len())))
        })
        .transpose()
}

/// Load and verify a model file (tampered / wrong key → `INTEGRITY`, not a model → `FORMAT`).
#[napi(ts_return_type = "Promise<Model>")]
pub fn load_model(path: String, keys: Option<ModelKeys>) -> AsyncTask<Job<Model>> {
    let k = keys.unwrap_or_default();
    let (hmac, enc, expect) = (k.hmac_key.map(|b| b.to_vec()), k.encryption_key.map(|b| b.to_vec()), k.expect_features);
    Job::new(move || {
        let key = key32(&enc)?;
        let m = CoreModel::load(
            &path,
            &LoadOptions {
                hmac_key: hmac.as_deref(),
                encryption_key: key.as_ref(),
                expect_features: expect.as_deref(),
            },
        )?;
        Ok(Model { inner: Arc::new(m) })
    })
}

#[napi(object)]
#[derive(Default)]
pub struct ImportanceOptions {
    /// Metric name (default `r2`, or `balanced_accuracy` for classes).
    pub metric: Option<String>,
    /// Shuffles per feature (default 5).
    pub n_repeats: Option<f64>,
    /// Seed of the shuffles (default 0).
    pub seed: Option<i64>,
}

#[napi]
impl Model {
    /// The model card: version, created-at, features, target, training-data SHA-256, metrics,
    /// hyper-parameters, library version, categories, classes. Keys in camelCase, except
    /// `hyperParameters`, which is a parameters document as `train` takes it (snake_case keys, as
    /// in the files).
    #[napi(getter, ts_return_type = "import('./types').ModelCard")]
    pub fn card(&self, env: Env) -> napi::Result<Json> {
        guard(&env, || {
            let mut card = to_value(&self.inner.card)?;
            card["hyperParameters"] = serde_json::to_value(&self.inner.card.hyper_parameters)
                .map_err(|e| landopp::Error::InvalidInput(e.to_string()))?;
            Ok(Json(card))
        })
    }

    /// Predictions for table columns (the card's features, by name): `n` values, or `n × classes`
    /// probabilities row-major.
    #[napi(ts_return_type = "Promise<Float64Array>")]
    pub fn predict(
        &self,
        #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] table: ColumnsJs,
    ) -> AsyncTask<Job<Float64Array>> {
        let m = self.inner.clone();
        Job::new(move || Ok(Float64Array::new(m.predict_table(&columns_table(table)?)?)))
    }

    /// Per row `{value, bias, contributions, scale}` (`bias + Σ contributions = value`,
    /// contributions per card feature).
    #[napi(ts_return_type = "Promise<import('./types').Explained[]>")]
    pub fn explain(
        &self,
        #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] table: ColumnsJs,
    ) -> AsyncTask<Job<Json>> {
        let m = self.inner.clone();
        Job::new(move || Ok(Json(to_value(&m.explain_table(&columns_table(table)?)?)?)))
    }

    /// Permutation importance per card feature on columns that include the target:
    /// `[{feature, importanceMean, importanceStd}]`, in card order.
    #[napi(ts_return_type = "Promise<Array<{feature: string, importanceMean: number, importanceStd: number}>>")]
    pub fn permutation_importance(
        &self,
        #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] table: ColumnsJs,
        options: Option<ImportanceOptions>,
    ) -> AsyncTask<Job<Json>> {
        let m = self.inner.clone();
        let o = options.unwrap_or_default();
        Job::new(move || {
            let d = landopp::ml::ImportanceOptions::default();
            let opts = landopp::ml::ImportanceOptions {
                metric: o.metric,
                n_repeats: whole_or(o.n_repeats, d.n_repeats, "nRepeats")?,
                seed: o.seed.map_or(d.seed, |s| s as u64),
            };
            let imp = m.permutation_importance_table(&columns_table(table)?, &opts)?;
            let rows: Vec<serde_json::Value> = m
                .card
                .features
                .iter()
                .zip(imp)
                .map(|(f, (a, s))| serde_json::json!({"feature": f, "importanceMean": a, "importanceStd": s}))
                .collect();
            Ok(Json(serde_json::Value::Array(rows)))
        })
    }

    /// Write the model (optionally signed and/or encrypted).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn save(&self, path: String, keys: Option<ModelKeys>) -> AsyncTask<Job<()>> {
        let m = self.inner.clone();
        let k = keys.unwrap_or_default();
        let (hmac, enc) = (k.hmac_key.map(|b| b.to_vec()), k.encryption_key.map(|b| b.to_vec()));
        Job::new(move || {
            let key = key32(&enc)?;
            m.save(&path, &SaveOptions { hmac_key: hmac.as_deref(), encryption_key: key.as_ref() })
        })
    }
}

#[napi(object)]
#[derive(Default)]
pub struct DriftOptions {
    /// PSI threshold (default 0.2).
    pub psi_threshold: Option<f64>,
    /// KS threshold (default 0.1).
    pub ks_threshold: Option<f64>,
}

/// Drift of every numeric column shared by `reference` (training data) and `current`: PSI and
/// KS per column, `drifted` names the columns over a threshold.
#[napi(ts_return_type = "Promise<import('./types').DriftReport>")]
pub fn drift_report(
    #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] reference: ColumnsJs,
    #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] current: ColumnsJs,
    options: Option<DriftOptions>,
) -> AsyncTask<Job<Json>> {
    let o = options.unwrap_or_default();
    Job::new(move || {
        let (r, c) = (columns_table(reference)?, columns_table(current)?);
        Ok(Json(to_value(&landopp::ml::drift::report_tables(&r, &c, o.psi_threshold, o.ks_threshold)?)?))
    })
}

#[napi(object)]
pub struct AbOptions {
    pub salt: String,
    /// Share of parcels served by model B (0..1).
    pub share_b: f64,
    pub model_a: String,
    pub model_b: String,
}

/// The model version serving each parcel: SHA-256 of salt + id, deterministic.
#[napi]
pub fn ab_assign(
    env: Env,
    #[napi(ts_arg_type = "Array<string>")] parcel_ids: crate::convert::Ids,
    options: AbOptions,
) -> napi::Result<Vec<String>> {
    let s = landopp::ml::drift::AbSplit {
        salt: options.salt,
        share_b: options.share_b,
        model_a: options.model_a,
        model_b: options.model_b,
    };
    guard(&env, || parcel_ids.0.iter().map(|i| s.assign(i).map(str::to_string)).collect())
}
