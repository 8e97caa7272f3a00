//! PyO3 glue for landopp: conversions and error mapping only. Public API and docs live in the
//! Python package (`python/landopp`).

mod analysis;
mod convert;
mod error;
mod io;

use pyo3::prelude::*;

/// Run core work with the GIL released, mapping errors to landopp's Python exceptions.
/// Every call that does real work goes through here.
pub(crate) fn run<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> landopp::Result<T> + Send,
{
    py.detach(f).map_err(|e| error::to_py(py, e))
}

#[pymodule]
fn _landopp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", landopp::VERSION)?;
    m.add("BUILD_PROFILE", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    io::register(m)?;
    analysis::register(m)?;
    Ok(())
}
