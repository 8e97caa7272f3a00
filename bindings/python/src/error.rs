//! Core errors → the exception classes defined in `landopp/exceptions.py`, chosen by code.

use pyo3::prelude::*;

pub(crate) fn to_py(py: Python<'_>, e: landopp::Error) -> PyErr {
    let code = e.code();
    let msg = e.to_string();
    match py
        .import("landopp.exceptions")
        .and_then(|m| m.getattr("_from_code"))
        .and_then(|f| f.call1((code, msg.clone())))
    {
        Ok(exc) => PyErr::from_value(exc),
        Err(_) => pyo3::exceptions::PyRuntimeError::new_err(format!("[{code}] {msg}")),
    }
}
