//! numpy / Python object conversions.

use landopp::{BandData, BandView, Raster};
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods};
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

/// `$m!(rust type, variant)` for every raster sample type numpy arrays can hold.
macro_rules! for_each_dtype {
    ($m:ident) => {
        $m!(u8, U8);
        $m!(i8, I8);
        $m!(i16, I16);
        $m!(u16, U16);
        $m!(i32, I32);
        $m!(u32, U32);
        $m!(f32, F32);
        $m!(f64, F64);
    };
}

/// A 2-D numpy array of a supported dtype → `BandData` (one copy into Rust-owned memory).
pub(crate) fn band_from_py(a: &Bound<'_, PyAny>) -> PyResult<BandData> {
    let u = a.cast::<PyUntypedArray>().map_err(|_| PyTypeError::new_err("expected a numpy array"))?;
    if u.ndim() != 2 {
        return Err(PyTypeError::new_err(format!("expected a 2-D array, got {} dimensions", u.ndim())));
    }
    let invalid = |m: String| crate::error::to_py(a.py(), landopp::Error::InvalidInput(m));
    macro_rules! try_t {
        ($t:ty, $v:ident) => {
            if let Ok(x) = a.cast::<PyArray2<$t>>() {
                let r = x.try_readonly().map_err(|_| {
                    invalid("an input array is also written by this call (given as an output too?): pass a copy".into())
                })?;
                let v = r.as_array();
                // row-major whatever the array's order; the copy is allocated fallibly (a
                // zero-stride view can claim far more cells than memory holds)
                let mut cells = Vec::new();
                cells.try_reserve_exact(v.len()).map_err(|_| {
                    pyo3::exceptions::PyMemoryError::new_err(format!(
                        "a {} x {} array cannot be copied: not enough memory",
                        v.nrows(),
                        v.ncols()
                    ))
                })?;
                cells.extend(v.iter().copied());
                let arr = ndarray::Array2::from_shape_vec(v.dim(), cells).map_err(|e| invalid(e.to_string()))?;
                return Ok(BandData::$v(arr));
            }
        };
    }
    for_each_dtype!(try_t);
    Err(PyTypeError::new_err(format!("unsupported array dtype {}", u.dtype())))
}

/// A 2-D numpy band borrowed read-only for the duration of one call: the core reads it in place.
pub(crate) enum NpBand<'py> {
    U8(PyReadonlyArray2<'py, u8>),
    I8(PyReadonlyArray2<'py, i8>),
    I16(PyReadonlyArray2<'py, i16>),
    U16(PyReadonlyArray2<'py, u16>),
    I32(PyReadonlyArray2<'py, i32>),
    U32(PyReadonlyArray2<'py, u32>),
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

impl<'py> NpBand<'py> {
    /// The array borrowed, if it is a C-contiguous 2-D array of a supported type (else `None`:
    /// the caller copies it through [`band_from_py`]).
    pub(crate) fn borrow(a: &Bound<'py, PyAny>) -> Option<Self> {
        macro_rules! try_t {
            ($t:ty, $v:ident) => {
                if let Ok(x) = a.cast::<PyArray2<$t>>() {
                    let r = x.try_readonly().ok()?;
                    // C order only: `as_slice` also accepts Fortran-ordered arrays
                    return (r.is_c_contiguous() && r.as_slice().is_ok()).then_some(NpBand::$v(r));
                }
            };
        }
        for_each_dtype!(try_t);
        None
    }
    /// (rows, columns) and the cells, row-major.
    pub(crate) fn dim_and_view(&self) -> ((usize, usize), BandView<'_>) {
        macro_rules! arm {
            ($a:ident, $v:ident) => {{
                let s = $a.shape();
                ((s[0], s[1]), BandView::$v($a.as_slice().unwrap_or(&[])))
            }};
        }
        match self {
            NpBand::U8(a) => arm!(a, U8),
            NpBand::I8(a) => arm!(a, I8),
            NpBand::I16(a) => arm!(a, I16),
            NpBand::U16(a) => arm!(a, U16),
            NpBand::I32(a) => arm!(a, I32),
            NpBand::U32(a) => arm!(a, U32),
            NpBand::F32(a) => arm!(a, F32),
            NpBand::F64(a) => arm!(a, F64),
        }
    }
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

/// `INVALID_INPUT` when a Python value nests lists, tuples or dicts deeper than `max` (walked
/// without recursion): converting it to Rust recurses once per level, and 100,000 levels
/// overflowed the stack.
pub(crate) fn check_nesting(obj: &Bound<'_, PyAny>, max: usize) -> PyResult<()> {
    use pyo3::types::{PyDict, PyList, PyTuple};
    let mut stack: Vec<(Bound<'_, PyAny>, usize)> = vec![(obj.clone(), 0)];
    while let Some((o, depth)) = stack.pop() {
        let children: Vec<Bound<'_, PyAny>> = if let Ok(l) = o.cast::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = o.cast::<PyTuple>() {
            t.iter().collect()
        } else if let Ok(d) = o.cast::<PyDict>() {
            d.values().iter().collect()
        } else {
            continue;
        };
        if depth >= max {
            let e = landopp::Error::InvalidInput(format!("a value nested deeper than {max} levels"));
            return Err(crate::error::to_py(obj.py(), e));
        }
        stack.extend(children.into_iter().map(|c| (c, depth + 1)));
    }
    Ok(())
}
