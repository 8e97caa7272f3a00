//! numpy / Python object conversions.

use crate::run;
use landopp::config::{Config, ConfigSource};
use landopp::{BandData, BandView, Crs, GeoTransform, Raster};
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

/// Check a Python value before serde reads it (pythonize walks dicts, mappings, sequences, sets
/// and dataclasses): `INVALID_INPUT` when containers nest deeper than `max` (walked without
/// recursion: reading recurses once per level, and 100,000 levels overflowed the stack) or a
/// number is NaN or infinite (no configuration value may be, and a NaN bound would silently
/// match nothing), naming where. Returns whether the value holds numbers that are not Python's
/// own (numpy scalars), which serde reads only in typed fields: [`builtin_copy`] then converts.
pub(crate) fn check_value(obj: &Bound<'_, PyAny>, max: usize, what: &str) -> PyResult<bool> {
    let mut foreign_numbers = false;
    use pyo3::types::{
        PyBool, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMapping, PySequence, PySet, PyTuple,
    };
    let refuse =
        |msg: String| Err(crate::error::to_py(obj.py(), landopp::Error::InvalidInput(format!("{what}: {msg}"))));
    let mut stack: Vec<(Bound<'_, PyAny>, usize, String)> = vec![(obj.clone(), 0, String::new())];
    while let Some((o, depth, at)) = stack.pop() {
        let at_or_top = || if at.is_empty() { "the value".to_string() } else { at.clone() };
        let children: Vec<(Bound<'_, PyAny>, String)> = if let Ok(d) = o.cast::<PyDict>() {
            d.iter().map(|(k, v)| (v, join_key(&at, &plain_key(&k)))).collect()
        } else if let Ok(l) = o.cast::<PyList>() {
            l.iter().enumerate().map(|(i, v)| (v, format!("{at}[{i}]"))).collect()
        } else if let Ok(t) = o.cast::<PyTuple>() {
            t.iter().enumerate().map(|(i, v)| (v, format!("{at}[{i}]"))).collect()
        } else if o.is_instance_of::<pyo3::types::PyString>()
            || o.is_instance_of::<PyBytes>()
            || o.is_instance_of::<PyBool>()
            || o.is_instance_of::<PyInt>()
        {
            continue;
        } else if let Ok(f) = o.cast::<PyFloat>() {
            if !f.value().is_finite() {
                return refuse(format!("{} is not a finite number", at_or_top()));
            }
            continue;
        } else if o.is_instance_of::<PySet>() || o.is_instance_of::<PyFrozenSet>() {
            o.try_iter()?.enumerate().map(|(i, v)| v.map(|v| (v, format!("{at}[{i}]")))).collect::<PyResult<_>>()?
        } else if o.hasattr("__dataclass_fields__")? {
            let fields = o.getattr("__dataclass_fields__")?;
            let names: Vec<String> =
                fields.cast::<PyDict>()?.keys().iter().map(|k| k.extract()).collect::<PyResult<_>>()?;
            names.into_iter().map(|n| Ok((o.getattr(n.as_str())?, join_key(&at, &n)))).collect::<PyResult<_>>()?
        } else if let Ok(m) = o.cast::<PyMapping>() {
            m.items()?
                .iter()
                .map(|kv| {
                    let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = kv.extract()?;
                    Ok((v, join_key(&at, &plain_key(&k))))
                })
                .collect::<PyResult<_>>()?
        } else if let Ok(s) = o.cast::<PySequence>() {
            (0..s.len()?).map(|i| Ok((s.get_item(i)?, format!("{at}[{i}]")))).collect::<PyResult<_>>()?
        } else {
            // numpy scalars and other numbers: checked through their float value
            if let Ok(v) = o.extract::<f64>() {
                if !v.is_finite() {
                    return refuse(format!("{} is not a finite number", at_or_top()));
                }
                foreign_numbers = true;
            }
            continue;
        };
        if depth >= max && !children.is_empty() {
            return refuse(format!("a value nested deeper than {max} levels"));
        }
        stack.extend(children.into_iter().map(|(c, p)| (c, depth + 1, p)));
    }
    Ok(foreign_numbers)
}

/// A copy of a checked value with numbers that are not Python's own (numpy scalars) as Python
/// ints and floats (`.item()`), dicts and sequences rebuilt around them: serde reads untyped
/// places (internally tagged enums buffer their content) only from Python's own numbers.
/// Recursion is bounded by [`check_value`]'s depth limit.
fn builtin_copy<'py>(o: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
    let py = o.py();
    if let Ok(d) = o.cast::<PyDict>() {
        let out = PyDict::new(py);
        for (k, v) in d.iter() {
            out.set_item(k, builtin_copy(&v)?)?;
        }
        Ok(out.into_any())
    } else if o.is_instance_of::<PyList>() || o.is_instance_of::<PyTuple>() {
        let items = o.try_iter()?.map(|v| builtin_copy(&v?)).collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, items)?.into_any())
    } else if o.is_instance_of::<PyString>()
        || o.is_instance_of::<PyBool>()
        || o.is_instance_of::<PyInt>()
        || o.is_instance_of::<PyFloat>()
    {
        Ok(o.clone())
    } else if o.hasattr("item")? && o.extract::<f64>().is_ok() {
        o.call_method0("item")
    } else {
        Ok(o.clone())
    }
}

/// `at.key` (`key` at the top).
fn join_key(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// A dict key as a path component: short plain keys as they are, anything else not echoed.
fn plain_key(k: &Bound<'_, PyAny>) -> String {
    match k.extract::<String>() {
        Ok(s) if s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') => s,
        _ => "<key>".into(),
    }
}

/// A typed configuration from a Python argument, checked by the core: a dict (or list) is read
/// straight into the type through pythonize (numbers keep their type: numpy scalars work, NaN is
/// refused with its path), a `str` as JSON/TOML text or a file name (the core's rule), an
/// `os.PathLike` as a file, `None` as absent.
pub(crate) fn config<T: Config>(obj: &Bound<'_, PyAny>) -> PyResult<T> {
    let c = if obj.is_none() {
        T::from_value(serde_json::Value::Null)
    } else if let Ok(s) = obj.cast::<pyo3::types::PyString>() {
        // JSON/TOML text or a file name, by the core's rule
        T::from_source(ConfigSource::text_or_file(s.to_str()?))
    } else if obj.hasattr("__fspath__")? {
        T::from_file(obj.extract::<std::path::PathBuf>()?)
    } else if check_value(obj, 64, T::WHAT)? {
        T::from_deserializer(&mut pythonize::Depythonizer::from_object(&builtin_copy(obj)?))
    } else {
        T::from_deserializer(&mut pythonize::Depythonizer::from_object(obj))
    };
    c.map_err(|e| crate::error::to_py(obj.py(), e))
}

/// A serialisable result as Python objects (dicts, lists, floats, strings): no JSON text.
pub(crate) fn to_object<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    pythonize::pythonize(py, v).map_err(|e| crate::error::to_py(py, landopp::Error::Internal(e.to_string())))
}

/// Loads a raster off the GIL.
pub(crate) type Loader = Box<dyn FnOnce() -> landopp::Result<Raster> + Send>;

/// A raster given either as a path or as (bands, transform, crs, nodata).
#[derive(FromPyObject)]
pub(crate) enum RasterArg<'py> {
    Path(String),
    Arrays(Vec<Bound<'py, PyAny>>, [f64; 6], Option<String>, Option<f64>),
}

impl RasterArg<'_> {
    pub(crate) fn into_loader(self) -> PyResult<Loader> {
        Ok(match self {
            RasterArg::Path(p) => Box::new(move || Raster::read(&p)),
            RasterArg::Arrays(b, t, crs, nd) => {
                let data = b.iter().map(band_from_py).collect::<PyResult<Vec<_>>>()?;
                Box::new(move || {
                    let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
                    Raster::new(data, GeoTransform(t), crs, nd)
                })
            }
        })
    }
}

/// Geotransform, CRS and nodata of a raster given as arrays.
pub(crate) type RasterMeta = ([f64; 6], Option<String>, Option<f64>);
/// A numpy band lent to the core, with its grid and nodata.
pub(crate) type LentArray<'py> = (NpBand<'py>, RasterMeta);

/// A single-band C-contiguous numpy raster is lent in place; anything else gets a loader that
/// reads or copies it off the GIL.
pub(crate) fn lend_or_load(r: RasterArg<'_>) -> PyResult<Result<LentArray<'_>, Loader>> {
    Ok(match r {
        RasterArg::Arrays(b, t, crs, nd) if b.len() == 1 => match NpBand::borrow(&b[0]) {
            Some(np) => Ok((np, (t, crs, nd))),
            None => Err(RasterArg::Arrays(b, t, crs, nd).into_loader()?),
        },
        other => Err(other.into_loader()?),
    })
}

/// A feature table `(ids, [(name, values, categories)])` from Python.
pub(crate) type PyColumns<'py> = Vec<(String, numpy::PyReadonlyArray1<'py, f64>, Option<Vec<Option<String>>>)>;

/// A contiguous float64 numpy array lent to the core without copying; the reference keeps the
/// array alive as long as any result that reads it.
#[derive(Debug)]
pub(crate) struct NumpyColumn {
    _owner: Py<numpy::PyArray1<f64>>,
    ptr: *const f64,
    len: usize,
}

// SAFETY: the pointer is into the numpy buffer owned by `_owner`, which is never resized while
// referenced; the core only reads it (the Python wrapper lends read-only views).
#[allow(unsafe_code)]
unsafe impl Send for NumpyColumn {}
#[allow(unsafe_code)]
unsafe impl Sync for NumpyColumn {}

impl landopp::ColumnStore for NumpyColumn {
    #[allow(unsafe_code)]
    fn as_slice(&self) -> &[f64] {
        // SAFETY: see above; `ptr` came from `as_slice()` of this array (contiguous, `len` long)
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// How the numeric columns reach the core.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Lend {
    /// Borrowed from numpy without copying (results that outlive the call hold a reference).
    Borrow,
    /// Copied (in parallel, GIL released): for objects kept in Rust, so later changes to the
    /// caller's arrays do not reach them.
    Copy,
}

pub(crate) fn build_table<T: Send>(
    py: Python<'_>,
    ids: impl Into<std::sync::Arc<Vec<String>>>,
    columns: PyColumns<'_>,
    lend: Lend,
    then: impl FnOnce(landopp::FeatureTable) -> landopp::Result<T> + Send,
) -> PyResult<T> {
    enum Col<'a> {
        Lent(landopp::Values),
        Slice(&'a [f64]),
        Labels(Option<Vec<Option<String>>>),
    }
    let views: Vec<(String, Col<'_>)> = columns
        .iter()
        .map(|(n, v, c)| {
            let col = match (c, v.as_slice()) {
                (Some(_), _) => Col::Labels(c.clone()),
                (None, Ok(s)) if lend == Lend::Borrow => Col::Lent(landopp::Values::from_store(NumpyColumn {
                    _owner: v.as_unbound().clone_ref(py),
                    ptr: s.as_ptr(),
                    len: s.len(),
                })),
                (None, Ok(s)) => Col::Slice(s),
                (None, Err(_)) => Col::Lent(v.as_array().to_vec().into()),
            };
            (n.clone(), col)
        })
        .collect();
    let ids = ids.into();
    run(py, move || {
        use rayon::prelude::*;
        let copied: Vec<Option<Vec<f64>>> =
            views.par_iter().map(|(_, c)| if let Col::Slice(s) = c { Some(s.to_vec()) } else { None }).collect();
        let mut t = landopp::FeatureTable::from_shared_ids(ids);
        for ((n, col), copy) in views.into_iter().zip(copied) {
            match (col, copy) {
                (Col::Labels(l), _) => t.add_categorical(n, l.unwrap_or_default(), Default::default())?,
                (_, Some(v)) => t.add_column(n, v, Default::default())?,
                (Col::Lent(v), None) => t.add_values(n, v, Default::default())?,
                (Col::Slice(_), None) => unreachable!("slices are copied"),
            }
        }
        then(t)
    })
}
