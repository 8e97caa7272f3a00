//! Machine learning: folds, cross-validation, models (fit, predict, explain, save), drift, A/B routing.

use crate::convert::{build_table, config, to_object, Lend, PyColumns};
use crate::run;
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ml_folds, m)?)?;
    m.add_function(wrap_pyfunction!(ml_cross_val_predict, m)?)?;
    m.add_function(wrap_pyfunction!(ml_fit_explain, m)?)?;
    m.add_function(wrap_pyfunction!(ml_drift, m)?)?;
    m.add_function(wrap_pyfunction!(ml_ab_assign, m)?)?;
    m.add_class::<Model>()?;
    Ok(())
}

/// Fold labels: `kfold` (n rows), `spatial` (k-means blocks of the coordinates `xy`), or
/// `holdout` (0 = training, 1 = test; whole blocks when `xy` is given).
#[pyfunction]
#[pyo3(signature = (kind, n, k=None, seed=None, xy=None, blocks=None, test_fraction=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn ml_folds<'py>(
    py: Python<'py>,
    kind: String,
    n: usize,
    k: Option<usize>,
    seed: Option<u64>,
    xy: Option<numpy::PyReadonlyArray2<'py, f64>>,
    blocks: Option<usize>,
    test_fraction: Option<f64>,
) -> PyResult<Bound<'py, numpy::PyArray1<usize>>> {
    use numpy::IntoPyArray;
    let d = landopp::ml::FoldDefaults::default();
    let (k, seed, blocks, test_fraction) = (
        k.unwrap_or(d.k),
        seed.unwrap_or(d.seed),
        blocks.unwrap_or(d.blocks),
        test_fraction.unwrap_or(d.test_fraction),
    );
    let pts: Option<Vec<[f64; 2]>> = match xy.map(|a| a.as_array().to_owned()) {
        Some(a) if a.ncols() != 2 => {
            let e = landopp::Error::InvalidInput(format!("xy has {} columns: (n, 2) coordinates expected", a.ncols()));
            return Err(crate::error::to_py(py, e));
        }
        a => a.map(|a| a.rows().into_iter().map(|r| [r[0], r[1]]).collect()),
    };
    let f = run(py, move || match (kind.as_str(), pts) {
        ("kfold", _) => landopp::ml::kfold(n, k, seed),
        ("spatial", Some(p)) => landopp::ml::spatial_blocks(&p, blocks, k, seed),
        ("holdout", p) => landopp::ml::holdout(n, test_fraction, seed, p.as_deref().map(|p| (p, blocks))),
        (other, _) => Err(landopp::Error::InvalidInput(format!("folds {other:?}: kfold, or spatial with xy"))),
    })?;
    Ok(f.into_pyarray(py))
}

pub(crate) fn dataset(
    x: &numpy::PyReadonlyArray2<'_, f64>,
    y: Option<&numpy::PyReadonlyArray1<'_, f64>>,
) -> PyResult<landopp::ml::Dataset> {
    let a = x.as_array();
    Ok(landopp::ml::Dataset {
        x: a.iter().copied().collect(),
        p: a.ncols(),
        y: match y {
            Some(y) => y.as_slice()?.to_vec(),
            None => vec![0.0; a.nrows()],
        },
    })
}

/// Out-of-fold predictions of a model (params: `{"model": ..., ...}`) for `x` (n × p), `y`, `folds`.
#[pyfunction]
pub(crate) fn ml_cross_val_predict<'py>(
    py: Python<'py>,
    x: numpy::PyReadonlyArray2<'py, f64>,
    y: numpy::PyReadonlyArray1<'py, f64>,
    folds: Vec<usize>,
    params: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
    use numpy::IntoPyArray;
    let d = dataset(&x, Some(&y))?;
    let p: landopp::ml::Params = config(params)?;
    let out = run(py, move || landopp::ml::cross_val_predict(&d, &p, &folds))?;
    Ok(out.into_pyarray(py))
}

/// Fit on (`x`, `y`) and return predictions of `x_new` and the explanation of each of its rows
/// (`[{value, bias, contributions}]`).
#[pyfunction]
pub(crate) fn ml_fit_explain<'py>(
    py: Python<'py>,
    x: numpy::PyReadonlyArray2<'py, f64>,
    y: numpy::PyReadonlyArray1<'py, f64>,
    x_new: numpy::PyReadonlyArray2<'py, f64>,
    params: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, numpy::PyArray1<f64>>, Bound<'py, PyAny>)> {
    use numpy::IntoPyArray;
    let d = dataset(&x, Some(&y))?;
    let q = dataset(&x_new, None)?;
    let p: landopp::ml::Params = config(params)?;
    let (pred, ex) = run(py, move || {
        let f = landopp::ml::Estimator::fit(&d, &p)?;
        let ex = f.explain_rows(&q.x, q.p)?;
        Ok((f.predict(&q.x)?, ex))
    })?;
    Ok((pred.into_pyarray(py), to_object(py, &ex)?))
}

/// Drift report (a dict) of named columns: `[(name, reference, current)]`.
#[pyfunction]
#[pyo3(signature = (columns, psi_threshold=None, ks_threshold=None))]
pub(crate) fn ml_drift(
    py: Python<'_>,
    columns: Vec<(String, Vec<f64>, Vec<f64>)>,
    psi_threshold: Option<f64>,
    ks_threshold: Option<f64>,
) -> PyResult<Bound<'_, PyAny>> {
    let r = run(py, move || {
        let cols: Vec<(&str, &[f64], &[f64])> =
            columns.iter().map(|(n, r, c)| (n.as_str(), r.as_slice(), c.as_slice())).collect();
        landopp::ml::drift::report(&cols, psi_threshold, ks_threshold)
    })?;
    to_object(py, &r)
}

/// Model version serving each parcel id under an A/B split (`{salt, share_b, model_a, model_b}`).
#[pyfunction]
pub(crate) fn ml_ab_assign(py: Python<'_>, split: &Bound<'_, PyAny>, ids: Vec<String>) -> PyResult<Vec<String>> {
    let s: landopp::ml::drift::AbSplit = config(split)?;
    run(py, move || ids.iter().map(|i| s.assign(i).map(str::to_string)).collect())
}

/// A fitted model (forest, boosting or linear) with its model card, kept in Rust.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct Model {
    inner: landopp::ml::lifecycle::Model,
}

impl Model {
    pub(crate) fn core(&self) -> &landopp::ml::lifecycle::Model {
        &self.inner
    }
}

/// A feature table from Python columns (borrowed for the call), handed to `then` with the GIL
/// released.
pub(crate) fn with_table<T: Send>(
    py: Python<'_>,
    ids: Vec<String>,
    columns: PyColumns<'_>,
    then: impl FnOnce(landopp::FeatureTable) -> landopp::Result<T> + Send,
) -> PyResult<T> {
    build_table(py, ids, columns, Lend::Borrow, then)
}

#[pymethods]
impl Model {
    /// Fit on `x` (n × p) and `y`; `features` name the columns; params `{"model": ..., ...}`.
    #[staticmethod]
    #[pyo3(signature = (x, y, features, target, params, model_version="0.1.0".to_string(), metrics=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: numpy::PyReadonlyArray2<'_, f64>,
        y: numpy::PyReadonlyArray1<'_, f64>,
        features: Vec<String>,
        target: String,
        params: &Bound<'_, PyAny>,
        model_version: String,
        metrics: Option<std::collections::BTreeMap<String, f64>>,
    ) -> PyResult<Self> {
        let d = dataset(&x, Some(&y))?;
        let p: landopp::ml::Params = config(params)?;
        let inner = run(py, move || {
            if features.len() != d.p {
                return Err(landopp::Error::InvalidInput(format!(
                    "{} feature names for {} columns",
                    features.len(),
                    d.p
                )));
            }
            let estimator = landopp::ml::Estimator::fit(&d, &p)?;
            let names: Vec<&str> = features.iter().map(String::as_str).collect();
            let card = landopp::ml::lifecycle::ModelCard::new(
                &model_version,
                &names,
                &target,
                &d,
                metrics.unwrap_or_default(),
                &p,
            );
            Ok(landopp::ml::lifecycle::Model { card, estimator })
        })?;
        Ok(Model { inner })
    }

    /// Predictions (n, or n × classes flattened).
    fn predict<'py>(
        &self,
        py: Python<'py>,
        x: numpy::PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
        use numpy::IntoPyArray;
        let f = &self.inner.estimator;
        // C-contiguous: read in place (`as_slice` alone also accepts Fortran order)
        let c_order = {
            use numpy::PyUntypedArrayMethods;
            x.is_c_contiguous()
        };
        let out = match x.as_slice() {
            Ok(s) if c_order => run(py, move || f.predict(s))?,
            _ => {
                let q = dataset(&x, None)?;
                run(py, move || f.predict(&q.x))?
            }
        };
        Ok(out.into_pyarray(py))
    }

    /// Explanations of each row (`[{value, bias, contributions}]`).
    fn explain<'py>(&self, py: Python<'py>, x: numpy::PyReadonlyArray2<'py, f64>) -> PyResult<Bound<'py, PyAny>> {
        let q = dataset(&x, None)?;
        let f = &self.inner.estimator;
        let ex = run(py, move || f.explain_rows(&q.x, q.p))?;
        to_object(py, &ex)
    }

    /// Permutation importance `[(mean, std)]` per feature of `metric` on (`x`, `y`).
    #[pyo3(signature = (x, y, metric, n_repeats, seed))]
    fn permutation_importance(
        &self,
        py: Python<'_>,
        x: numpy::PyReadonlyArray2<'_, f64>,
        y: numpy::PyReadonlyArray1<'_, f64>,
        metric: Option<String>,
        n_repeats: usize,
        seed: u64,
    ) -> PyResult<Vec<(f64, f64)>> {
        let d = dataset(&x, Some(&y))?;
        let m = &self.inner.estimator;
        let opts = landopp::ml::ImportanceOptions { metric, n_repeats, seed };
        run(py, move || landopp::ml::permutation_importance(m, &d, &opts))
    }

    /// The model card as JSON text.
    fn card<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_object(py, &self.inner.card)
    }

    /// Save (optionally signed with an HMAC key and/or encrypted with a 32-byte key).
    #[pyo3(signature = (path, hmac_key=None, encryption_key=None))]
    fn save(
        &self,
        py: Python<'_>,
        path: String,
        hmac_key: Option<Vec<u8>>,
        encryption_key: Option<Vec<u8>>,
    ) -> PyResult<()> {
        let m = &self.inner;
        run(py, move || {
            let k = key32(encryption_key)?;
            m.save(
                &path,
                &landopp::ml::lifecycle::SaveOptions { hmac_key: hmac_key.as_deref(), encryption_key: k.as_ref() },
            )
        })
    }

    /// Load and verify.
    #[staticmethod]
    #[pyo3(signature = (path, hmac_key=None, encryption_key=None, expect_features=None))]
    fn load(
        py: Python<'_>,
        path: String,
        hmac_key: Option<Vec<u8>>,
        encryption_key: Option<Vec<u8>>,
        expect_features: Option<Vec<String>>,
    ) -> PyResult<Self> {
        let inner = run(py, move || {
            let k = key32(encryption_key)?;
            landopp::ml::lifecycle::Model::load(
                &path,
                &landopp::ml::lifecycle::LoadOptions {
                    hmac_key: hmac_key.as_deref(),
                    encryption_key: k.as_ref(),
                    expect_features: expect_features.as_deref(),
                },
            )
        })?;
        Ok(Model { inner })
    }

    /// Fit on named columns (numeric or categorical → one-hot); the target is one of them.
    #[staticmethod]
    #[pyo3(signature = (ids, columns, features, target, params, model_version, metrics, unseen_category))]
    #[allow(clippy::too_many_arguments)]
    fn fit_columns(
        py: Python<'_>,
        ids: Vec<String>,
        columns: PyColumns<'_>,
        features: Vec<String>,
        target: String,
        params: &Bound<'_, PyAny>,
        model_version: String,
        metrics: Option<std::collections::BTreeMap<String, f64>>,
        unseen_category: String,
    ) -> PyResult<Self> {
        let p: landopp::ml::Params = config(params)?;
        let inner = build_table(py, ids, columns, Lend::Borrow, move |t| {
            let unseen = serde_json::from_value(serde_json::Value::String(unseen_category.clone())).map_err(|_| {
                landopp::Error::InvalidInput(format!("unseen_category {unseen_category:?}: error or ignore"))
            })?;
            let opts = landopp::ml::lifecycle::FitOptions {
                model_version: Some(model_version),
                metrics: metrics.unwrap_or_default(),
                unseen_category: unseen,
            };
            landopp::ml::lifecycle::Model::fit_table(&t, &features, &target, &p, &opts)
        })?;
        Ok(Model { inner })
    }

    /// Predictions for named columns (the card's features, by name).
    fn predict_columns<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<String>,
        columns: PyColumns<'py>,
    ) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
        use numpy::IntoPyArray;
        let m = &self.inner;
        Ok(build_table(py, ids, columns, Lend::Borrow, move |t| m.predict_table(&t))?.into_pyarray(py))
    }

    /// Explanations per card feature for named columns.
    fn explain_columns<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<String>,
        columns: PyColumns<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let m = &self.inner;
        let ex = build_table(py, ids, columns, Lend::Borrow, move |t| m.explain_table(&t))?;
        to_object(py, &ex)
    }

    /// Permutation importance per card feature on named columns including the target.
    fn permutation_importance_columns(
        &self,
        py: Python<'_>,
        ids: Vec<String>,
        columns: PyColumns<'_>,
        metric: Option<String>,
        n_repeats: usize,
        seed: u64,
    ) -> PyResult<Vec<(f64, f64)>> {
        let m = &self.inner;
        let opts = landopp::ml::ImportanceOptions { metric, n_repeats, seed };
        build_table(py, ids, columns, Lend::Borrow, move |t| m.permutation_importance_table(&t, &opts))
    }
}

pub(crate) fn key32(k: Option<Vec<u8>>) -> landopp::Result<Option<[u8; 32]>> {
    k.map(|k| {
        <[u8; 32]>::try_from(k.as_slice())
            .map_err(|_| landopp::Error::InvalidInput(format!("encryption key must be 32 bytes, got {}", k.len())))
    })
    .transpose()
}
