//! The feature pipeline from a spec, with a progress callback.

use crate::convert::{config, to_object};
use crate::run;
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(features, m)?)?;
    m.add_function(wrap_pyfunction!(feature_spec, m)?)?;
    Ok(())
}

/// The feature spec as landopp reads it, as a dict: checked, every path absolute (a spec file's
/// relative paths are relative to its folder, a document's to the working directory) — the
/// document each Dask worker runs on its partition.
#[pyfunction]
pub(crate) fn feature_spec<'py>(py: Python<'py>, spec: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let mut spec: landopp::pipeline::FeatureSpec = config(spec)?;
    spec.validate().map_err(|e| crate::error::to_py(py, e))?;
    let cwd = std::env::current_dir()
        .map_err(|e| crate::error::to_py(py, landopp::Error::io(std::path::Path::new("."), e)))?;
    spec.resolve_paths(&cwd);
    to_object(py, &spec)
}

/// Parcel ids and `(name, values, categories or None, provenance)` per column.
type FeatureColumns<'py> =
    (Vec<String>, Vec<(String, Bound<'py, numpy::PyArray1<f64>>, Option<Vec<String>>, Bound<'py, PyAny>)>);

/// Run a feature spec (a dict, JSON/TOML text or a spec file, whose relative paths are relative
/// to its folder); `progress(done, total, message)` is called between steps. Returns
/// `(ids, [(name, values, categories or None, provenance dict)])`.
#[pyfunction]
#[pyo3(signature = (spec, progress=None))]
pub(crate) fn features<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<FeatureColumns<'py>> {
    use numpy::IntoPyArray;
    let spec: landopp::pipeline::FeatureSpec = config(spec)?;
    let cb = progress.map(|p| p.unbind());
    // the first exception a callback raises (a KeyboardInterrupt in a notebook, a bug in the
    // callback) is raised when the run returns; the callback is not called again
    let raised: std::sync::Mutex<Option<PyErr>> = std::sync::Mutex::new(None);
    let table = run(py, || {
        spec.run(&|p| {
            if let Some(cb) = &cb {
                let lock = || raised.lock().unwrap_or_else(|e| e.into_inner());
                if lock().is_none() {
                    if let Err(e) = crate::attach_from_worker(|py| cb.call1(py, (p.done, p.total, p.message))) {
                        lock().get_or_insert(e);
                    }
                }
            }
        })
    });
    if let Some(e) = raised.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let table = table?;
    let ids = table.ids().to_vec();
    let cols = table
        .columns()
        .iter()
        .map(|c| {
            Ok((c.name.clone(), c.values.to_vec().into_pyarray(py), c.categories.clone(), to_object(py, &c.meta)?))
        })
        .collect::<PyResult<_>>()?;
    Ok((ids, cols))
}
