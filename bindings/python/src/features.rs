//! The feature pipeline from a spec, with a progress callback.

use crate::run;
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(features, m)?)?;
    Ok(())
}

/// Run a feature spec (JSON text, paths relative to `base_dir`); `progress(done, total, message)`
/// is called between steps. Returns `(ids, [(name, values, categories or None, meta json)])`.
#[pyfunction]
#[pyo3(signature = (spec_json, base_dir=None, progress=None))]
#[allow(clippy::type_complexity)]
pub(crate) fn features<'py>(
    py: Python<'py>,
    spec_json: String,
    base_dir: Option<String>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<(Vec<String>, Vec<(String, Bound<'py, numpy::PyArray1<f64>>, Option<Vec<String>>, String)>)> {
    use numpy::IntoPyArray;
    let mut spec = landopp::pipeline::FeatureSpec::parse(&spec_json).map_err(|e| crate::error::to_py(py, e))?;
    if let Some(d) = base_dir {
        spec.resolve_paths(std::path::Path::new(&d));
    }
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
            (
                c.name.clone(),
                c.values.to_vec().into_pyarray(py),
                c.categories.clone(),
                serde_json::to_string(&c.meta).unwrap_or_default(),
            )
        })
        .collect();
    Ok((ids, cols))
}
