//! `landopp train`, `landopp predict`, `landopp drift`.

use landopp::ml::lifecycle::{FitOptions, LoadOptions, Model, SaveOptions, UnseenCategory};
use landopp::ml::{self as core_ml, metrics, Estimator, Params, Task};
use landopp::{Error, FeatureTable};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Feature table CSV (first column: parcel id).
    features: PathBuf,
    /// Target column.
    #[arg(long)]
    target: String,
    /// Feature columns (comma-separated; default: every column but the target and --xy).
    /// Categorical (text) columns are one-hot encoded.
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
    /// `regression` or `classification`.
    #[arg(long, default_value = "regression")]
    task: String,
    /// Coordinate columns `x,y` (projected, metres) for spatial-block folds. Default: columns
    /// `x,y` or `centroid_x,centroid_y` when the table has them (spatial validation is the
    /// default wherever parcel coordinates exist); shuffled k-fold otherwise or with --random-folds.
    #[arg(long, value_delimiter = ',')]
    xy: Vec<String>,
    /// Shuffled k-fold (or hold-out) even when coordinates are there.
    #[arg(long)]
    random_folds: bool,
    /// Folds.
    #[arg(long, default_value_t = 5)]
    k: usize,
    /// Validate on a hold-out share of the rows instead of k folds (e.g. 0.2): whole k-means
    /// blocks of --xy when given (spatial), else shuffled rows.
    #[arg(long)]
    holdout: Option<f64>,
    /// Model family: `random_forest`, `gradient_boosting` or `linear` (ridge / logistic).
    #[arg(long, default_value = "random_forest")]
    model: String,
    /// Trees (random forest).
    #[arg(long, default_value_t = 100)]
    n_estimators: usize,
    /// More hyper-parameters as JSON, e.g. `{"learning_rate": 0.05, "max_iter": 300}`.
    #[arg(long)]
    params: Option<String>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A category unseen in training at prediction: `error` or `ignore` (no category).
    #[arg(long, default_value = "error")]
    unseen_category: String,
    /// Model version recorded in the card.
    #[arg(long, default_value = "0.1.0")]
    version: String,
    /// Output model file.
    #[arg(short, long)]
    output: PathBuf,
    /// Environment variable holding the HMAC signing key.
    #[arg(long)]
    hmac_key_env: Option<String>,
    /// Environment variable holding a 64-hex-digit AES-256 key.
    #[arg(long)]
    key_env: Option<String>,
}

/// Bytes of a key from an environment variable (hex for the AES key).
pub fn env_bytes(var: Option<&str>, hex: bool) -> Result<Option<Vec<u8>>, Error> {
    landopp::ml::lifecycle::key_from_env(var, hex)
}

fn key32(k: &Option<Vec<u8>>) -> Option<[u8; 32]> {
    k.as_ref().and_then(|k| <[u8; 32]>::try_from(k.as_slice()).ok())
}

pub fn train(mut a: TrainArgs) -> Result<(), Error> {
    landopp::output::ensure_distinct(&a.output, &[&a.features])?;
    let hmac_key = env_bytes(a.hmac_key_env.as_deref(), false)?;
    let key_bytes = env_bytes(a.key_env.as_deref(), true)?;
    let t = FeatureTable::read_csv(&a.features)?;
    let task = match a.task.as_str() {
        "regression" => Task::Regression,
        "classification" => Task::Classification,
        o => return Err(Error::InvalidInput(format!("--task {o:?}: regression or classification"))),
    };
    if a.xy.is_empty() && !a.random_folds {
        let has = |c: &str| t.column(c).is_ok_and(|c| !c.is_categorical());
        if let Some((x, y)) = [("x", "y"), ("centroid_x", "centroid_y")].into_iter().find(|(x, y)| has(x) && has(y)) {
            outln!("spatial validation on columns {x},{y} (--random-folds for shuffled folds)");
            a.xy = vec![x.to_string(), y.to_string()];
        }
    }
    let cols: Vec<String> = if a.columns.is_empty() {
        t.columns().iter().filter(|c| c.name != a.target && !a.xy.contains(&c.name)).map(|c| c.name.clone()).collect()
    } else {
        a.columns.clone()
    };
    let mut pj = serde_json::json!({"model": a.model, "task": a.task});
    match a.model.as_str() {
        "random_forest" => {
            pj["n_estimators"] = a.n_estimators.into();
            pj["seed"] = a.seed.into();
        }
        "gradient_boosting" => pj["seed"] = a.seed.into(),
        _ => {}
    }
    if let Some(extra) = &a.params {
        let extra: serde_json::Value =
            serde_json::from_str(extra).map_err(|e| Error::InvalidInput(format!("--params: {e}")))?;
        for (k, v) in extra.as_object().ok_or_else(|| Error::InvalidInput("--params must be a JSON object".into()))? {
            pj[k] = v.clone();
        }
    }
    let params = <Params as landopp::config::Config>::from_value(pj)?;
    let unseen_category = match a.unseen_category.as_str() {
        "error" => UnseenCategory::Error,
        "ignore" => UnseenCategory::Ignore,
        o => return Err(Error::InvalidInput(format!("--unseen-category {o:?}: error or ignore"))),
    };
    let opts = FitOptions { model_version: Some(a.version.clone()), metrics: Default::default(), unseen_category };
    let (mut card, d) = Model::table_dataset(&t, &cols, &a.target, &params, &opts)?;
    let pts: Option<Vec<[f64; 2]>> = match a.xy.as_slice() {
        _ if a.random_folds => None,
        [x, y] => {
            let (x, y) = (t.column(x)?, t.column(y)?);
            Some(x.values.iter().zip(y.values.iter()).map(|(a, b)| [*a, *b]).collect())
        }
        [] => None,
        _ => return Err(Error::InvalidInput("--xy takes two columns: x,y".into())),
    };
    let blocks = (a.k * 5).min(d.len());
    let spatial = if pts.is_some() { "spatial" } else { "random" };
    let (folds, scheme) = match (a.holdout, &pts) {
        (Some(f), p) => {
            (core_ml::holdout(d.len(), f, a.seed, p.as_deref().map(|p| (p, blocks)))?, format!("{spatial}_holdout"))
        }
        (None, Some(p)) => (core_ml::spatial_blocks(p, blocks, a.k, a.seed)?, format!("spatial_{}fold", a.k)),
        (None, None) => (core_ml::kfold(d.len(), a.k, a.seed)?, format!("kfold_{}fold", a.k)),
    };
    let oof = core_ml::cross_val_predict(&d, &params, &folds)?;
    // with a hold-out split only the test side (fold 1, predicted by a model fitted on the
    // training side) is scored
    let w = oof.len() / d.len();
    let rows: Vec<usize> = (0..d.len()).filter(|&i| a.holdout.is_none() || folds[i] == 1).collect();
    let y_eval: Vec<f64> = rows.iter().map(|&i| d.y[i]).collect();
    let oof: Vec<f64> = rows.iter().flat_map(|&i| oof[i * w..(i + 1) * w].iter().copied()).collect();
    let mut m = std::collections::BTreeMap::new();
    match task {
        Task::Regression => {
            m.insert(format!("r2_{scheme}"), metrics::r2(&y_eval, &oof));
            m.insert(format!("rmse_{scheme}"), metrics::rmse(&y_eval, &oof));
            m.insert(format!("mae_{scheme}"), metrics::mae(&y_eval, &oof));
        }
        Task::Classification => {
            let y: Vec<usize> = y_eval.iter().map(|v| *v as usize).collect();
            let pred: Vec<usize> = oof
                .chunks(w)
                .map(|p| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |x| x.0))
                .collect();
            m.insert(format!("accuracy_{scheme}"), metrics::accuracy(&y, &pred));
            m.insert(format!("balanced_accuracy_{scheme}"), metrics::balanced_accuracy(&y, &pred, w));
            if w == 2 {
                let s: Vec<f64> = oof.chunks(2).map(|p| p[1]).collect();
                m.insert(format!("roc_auc_{scheme}"), metrics::roc_auc(&y, &s));
            }
        }
    }
    for (k, v) in &m {
        outln!("{k}: {v:.4}");
    }
    let estimator = Estimator::fit(&d, &params)?;
    card.metrics = m;
    let key = key32(&key_bytes); // env_bytes(.., true) guarantees 32 bytes
    Model { card, estimator }
        .save(&a.output, &SaveOptions { hmac_key: hmac_key.as_deref(), encryption_key: key.as_ref() })?;
    outln!("model {} ({} features, {} rows) written to {}", a.version, cols.len(), d.len(), a.output.display());
    Ok(())
}

pub fn predict(
    model: &Path,
    features: &Path,
    output: Option<&Path>,
    hmac_key: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
) -> Result<(), Error> {
    let k = key32(&key);
    let m = Model::load(
        model,
        &LoadOptions { hmac_key: hmac_key.as_deref(), encryption_key: k.as_ref(), expect_features: None },
    )?;
    let t = FeatureTable::read_csv(features)?;
    let pred = m.predict_table(&t)?;
    let mut out = FeatureTable::new(t.ids().to_vec());
    let w = m.estimator.n_classes().max(1);
    if w == 1 {
        out.add_column("prediction", pred, Default::default())?;
    } else {
        for c in 0..w {
            let name =
                m.card.classes.as_ref().and_then(|l| l.get(c)).map_or(format!("p_class_{c}"), |l| format!("p_{l}"));
            out.add_column(name, pred.iter().skip(c).step_by(w).copied().collect(), Default::default())?;
        }
    }
    out.add_categorical("model_version", vec![Some(m.card.model_version.clone()); t.len()], Default::default())?;
    match output {
        Some(o) => out.write_csv(o),
        None => out.write_csv_to(std::io::stdout()).map_err(|e| Error::InvalidInput(e.to_string())),
    }
}

pub fn drift(reference: &Path, current: &Path, psi: f64, ks: f64) -> Result<(), Error> {
    let (r, c) = (FeatureTable::read_csv(reference)?, FeatureTable::read_csv(current)?);
    let rep = core_ml::drift::report_tables(&r, &c, Some(psi), Some(ks))?;
    outln!("{}", serde_json::to_string_pretty(&rep).map_err(|e| Error::InvalidInput(e.to_string()))?);
    Ok(())
}
