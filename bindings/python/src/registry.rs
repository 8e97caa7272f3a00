//! Model registry, feedback log and retraining.

use crate::convert::{config, to_object};
use crate::ml::key32;
use crate::run;
use landopp::ml::lifecycle::{LoadOptions, SaveOptions};
use landopp::ml::registry::{Feedback, FeedbackLog as CoreLog, Registry as CoreRegistry, RetrainPolicy};
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Registry>()?;
    m.add_class::<FeedbackLog>()?;
    Ok(())
}

/// A model registry on a directory.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct Registry {
    inner: CoreRegistry,
}

#[pymethods]
impl Registry {
    #[new]
    fn new(py: Python<'_>, path: String) -> PyResult<Self> {
        Ok(Registry { inner: run(py, move || CoreRegistry::open(&path))? })
    }

    /// Register a model under its card's version.
    #[pyo3(signature = (model, hmac_key=None, encryption_key=None))]
    fn add(
        &self,
        py: Python<'_>,
        model: &crate::ml::Model,
        hmac_key: Option<Vec<u8>>,
        encryption_key: Option<Vec<u8>>,
    ) -> PyResult<String> {
        let (r, m) = (&self.inner, model.core());
        run(py, move || {
            let k = key32(encryption_key)?;
            let p = r.add(m, &SaveOptions { hmac_key: hmac_key.as_deref(), encryption_key: k.as_ref() })?;
            Ok(p.display().to_string())
        })
    }

    /// Cards of every model.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = &self.inner;
        let cards = run(py, move || r.list())?;
        to_object(py, &cards)
    }

    /// The production version.
    fn production(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let r = &self.inner;
        run(py, move || r.production())
    }

    /// File of a version.
    fn model_path(&self, py: Python<'_>, version: String) -> PyResult<String> {
        let r = &self.inner;
        run(py, move || Ok(r.model_path(&version)?.display().to_string()))
    }

    fn promote(&self, py: Python<'_>, version: String) -> PyResult<()> {
        let r = &self.inner;
        run(py, move || r.promote(&version))
    }

    fn rollback(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.inner;
        run(py, move || r.rollback())
    }

    /// Retrain if due; the report as a dict. Columns as `score()` takes them; feedback as a log
    /// path; the policy a dict (`None`: the defaults).
    #[pyo3(signature = (ids, columns, feedback_path, policy, candidate_version, hmac_key=None, encryption_key=None))]
    #[allow(clippy::too_many_arguments)]
    fn retrain<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<String>,
        columns: crate::convert::PyColumns<'py>,
        feedback_path: String,
        policy: &Bound<'py, PyAny>,
        candidate_version: String,
        hmac_key: Option<Vec<u8>>,
        encryption_key: Option<Vec<u8>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = &self.inner;
        let policy: RetrainPolicy = config(policy)?;
        let report = crate::ml::with_table(py, ids, columns, move |t| {
            let fb = CoreLog::read(&feedback_path)?.records;
            let k = key32(encryption_key)?;
            let load = LoadOptions { hmac_key: hmac_key.as_deref(), encryption_key: k.as_ref(), expect_features: None };
            let save = SaveOptions { hmac_key: hmac_key.as_deref(), encryption_key: k.as_ref() };
            r.retrain(&t, &fb, &policy, &candidate_version, &load, &save)
        })?;
        to_object(py, &report)
    }
}

/// The append-only, fsynced feedback log.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct FeedbackLog {
    inner: std::sync::Mutex<CoreLog>,
}

#[pymethods]
impl FeedbackLog {
    #[new]
    fn new(py: Python<'_>, path: String) -> PyResult<Self> {
        Ok(FeedbackLog { inner: std::sync::Mutex::new(run(py, move || CoreLog::open(&path))?) })
    }

    /// Append one record; returns once it is on disk.
    fn append(
        &self,
        py: Python<'_>,
        parcel_id: String,
        model_version: String,
        predicted: f64,
        observed: f64,
        at_unix: u64,
    ) -> PyResult<()> {
        let log = &self.inner;
        run(py, move || {
            let mut l = log.lock().map_err(|_| landopp::Error::InvalidInput("feedback log poisoned".into()))?;
            l.append(&Feedback { parcel_id, model_version, predicted, observed, at_unix })
        })
    }

    /// The log's intact records and skipped lines (`{records, skipped}`).
    #[staticmethod]
    fn read(py: Python<'_>, path: String) -> PyResult<Bound<'_, PyAny>> {
        let log = run(py, move || CoreLog::read(&path))?;
        to_object(py, &log)
    }
}
