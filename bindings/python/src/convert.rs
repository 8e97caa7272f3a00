//! numpy / Python object conversions.

use landopp::{BandData, Raster};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// A band as a numpy array of its native dtype (moved, not copied).
pub(crate) fn band_to_py(py: Python<'_>, b: BandData) -> Bound<'_, PyAny> {
    match b {
        BandData::U8(a) => a.into_pyarray(py).into_any(),
        BandData::I8(a) => a.into_pyarray(py).into_any(),
        BandData::I16(a) => a.into_pyarray(py).into_any(),
        BandData::U16(a) => a.into_pyarray(py).into_any(),
        BandData::I32(a) => a.into_pyarray(py).into_any(),
        BandData::U32(a) => a.into_pyarray(py).into_any(),
        BandData::F32(a) => a.into_pyarray(py).into_any(),
        BandData::F64(a) => a.into_pyarray(py).into_any(),
    }
}

/// A 2-D numpy array of a supported dtype → `BandData` (one copy into Rust-owned memory).
pub(crate) fn band_from_py(a: &Bound<'_, PyAny>) -> PyResult<BandData> {
    let u = a.cast::<PyUntypedArray>().map_err(|_| PyTypeError::new_err("expected a numpy array"))?;
    if u.ndim() != 2 {
        return Err(PyTypeError::new_err(format!("expected a 2-D array, got {} dimensions", u.ndim())));
    }
    macro_rules! try_t {
        ($t:ty, $v:ident) => {
            if let Ok(x) = a.cast::<PyArray2<$t>>() {
                return Ok(BandData::$v(x.readonly().as_array().to_owned()));
            }
        };
    }
    try_t!(u8, U8);
    try_t!(i8, I8);
    try_t!(i16, I16);
    try_t!(u16, U16);
    try_t!(i32, I32);
    try_t!(u32, U32);
    try_t!(f32, F32);
    try_t!(f64, F64);
    Err(PyTypeError::new_err(format!("unsupported array dtype {}", u.dtype())))
}

pub(crate) fn raster_to_py(py: Python<'_>, r: Raster) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    d.set_item("transform", r.transform.0.to_vec())?;
    d.set_item("crs", r.crs.as_ref().map(|c| c.to_user_string()))?;
    d.set_item("nodata", r.nodata)?;
    d.set_item("band_names", r.band_names.clone())?;
    let bands: Vec<Bound<'_, PyAny>> = r.into_bands().into_iter().map(|b| band_to_py(py, b)).collect();
    d.set_item("bands", bands)?;
    Ok(d)
}
