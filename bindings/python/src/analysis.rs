//! Terrain and (later) per-parcel features.

use crate::convert::{band_from_py, raster_to_py, NpBand};
use crate::run;
use landopp::terrain::{terrain as core_terrain, TerrainOptions, TerrainProduct};
use landopp::zonal::{Stat, ZonalOptions};
use landopp::{BandView, Crs, GeoTransform, Raster};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(terrain, m)?)?;
    m.add_function(wrap_pyfunction!(terrain_file, m)?)?;
    m.add_function(wrap_pyfunction!(color_relief, m)?)?;
    m.add_function(wrap_pyfunction!(zonal_stats, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_indices, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(formula_variables, m)?)?;
    m.add_function(wrap_pyfunction!(scene_meta, m)?)?;
    m.add_function(wrap_pyfunction!(features, m)?)?;
    m.add_function(wrap_pyfunction!(score, m)?)?;
    m.add_class::<SearchIndex>()?;
    m.add_class::<Scores>()?;
    m.add_function(wrap_pyfunction!(ml_folds, m)?)?;
    m.add_function(wrap_pyfunction!(ml_cross_val_predict, m)?)?;
    m.add_function(wrap_pyfunction!(ml_fit_explain, m)?)?;
    m.add_function(wrap_pyfunction!(ml_drift, m)?)?;
    m.add_function(wrap_pyfunction!(ml_ab_assign, m)?)?;
    m.add_class::<Model>()?;
    Ok(())
}

/// Terrain product of a DEM given as arrays + transform (+ CRS, nodata); options as JSON.
#[pyfunction]
#[pyo3(signature = (bands, transform, crs, nodata, product, options_json))]
fn terrain<'py>(
    py: Python<'py>,
    bands: Vec<Bound<'py, PyAny>>,
    transform: [f64; 6],
    crs: Option<String>,
    nodata: Option<f64>,
    product: String,
    options_json: String,
) -> PyResult<Bound<'py, PyDict>> {
    let data = bands.iter().map(band_from_py).collect::<PyResult<Vec<_>>>()?;
    let out = run(py, move || {
        let opts = TerrainOptions::parse(&options_json)?;
        let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
        let dem = Raster::new(data, GeoTransform(transform), crs, nodata)?;
        core_terrain(&dem, TerrainProduct::parse(&product)?, &opts)
    })?;
    raster_to_py(py, out)
}

/// `gdaldem color-relief` of a raster given as arrays: the colour table from a file (`colors_path`)
/// or as text (`colors_text`); options as JSON.
#[pyfunction]
#[pyo3(signature = (bands, transform, crs, nodata, colors_path, colors_text, options_json))]
#[allow(clippy::too_many_arguments)]
fn color_relief<'py>(
    py: Python<'py>,
    bands: Vec<Bound<'py, PyAny>>,
    transform: [f64; 6],
    crs: Option<String>,
    nodata: Option<f64>,
    colors_path: Option<String>,
    colors_text: Option<String>,
    options_json: String,
) -> PyResult<Bound<'py, PyDict>> {
    use landopp::color_relief::{ColorReliefOptions, ColorTable};
    let data = bands.iter().map(band_from_py).collect::<PyResult<Vec<_>>>()?;
    let out = run(py, move || {
        let opts = ColorReliefOptions::parse(&options_json)?;
        let table = match (colors_path, colors_text) {
            (Some(p), None) => ColorTable::open(p)?,
            (None, Some(t)) => ColorTable::parse(&t)?,
            _ => return Err(landopp::Error::InvalidInput("give a colour table file or its text, not both".into())),
        };
        let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
        let raster = Raster::new(data, GeoTransform(transform), crs, nodata)?;
        landopp::color_relief::color_relief(&raster, &table, &opts)
    })?;
    raster_to_py(py, out)
}

/// Terrain product of a DEM file streamed into a GeoTIFF (`compress`: "deflate" or "none").
#[pyfunction]
#[pyo3(signature = (input, output, product, options_json, compress))]
fn terrain_file(
    py: Python<'_>,
    input: String,
    output: String,
    product: String,
    options_json: String,
    compress: String,
) -> PyResult<()> {
    use landopp::raster::{Compression, GeoTiffWriteOptions};
    run(py, move || {
        let opts = TerrainOptions::parse(&options_json)?;
        let compression = Compression::parse(&compress)?;
        let write = GeoTiffWriteOptions { compression, ..Default::default() };
        landopp::terrain::terrain_file(&input, &output, TerrainProduct::parse(&product)?, &opts, &write)
    })
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
            RasterArg::Path(p) => Box::new(move || Raster::open(&p)),
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

/// Exact zonal statistics of WKB polygons (in `crs`), or of the polygons of a vector file
/// (`polygons_path`, read in Rust), over a raster; returns `[(name, values)]`.
#[pyfunction]
#[pyo3(signature = (raster, wkb, crs, stats, band=0, min_coverage_frac=0.0, weights=None, polygons_path=None, layer=None, max_cells=None))]
#[allow(clippy::too_many_arguments)]
fn zonal_stats<'py>(
    py: Python<'py>,
    raster: RasterArg<'py>,
    wkb: crate::io::GeomItems<'py>,
    crs: Option<String>,
    stats: Vec<String>,
    band: usize,
    min_coverage_frac: f64,
    weights: Option<RasterArg<'py>>,
    polygons_path: Option<String>,
    layer: Option<String>,
    max_cells: Option<usize>,
) -> PyResult<Vec<(String, Bound<'py, numpy::PyArray1<f64>>)>> {
    use landopp::zonal::{zonal, ZonalPolygons, ZonalRaster};
    use numpy::IntoPyArray;
    let path = match &raster {
        RasterArg::Path(p) => Some(p.clone()),
        _ => None,
    };
    let load = raster.into_loader()?;
    let load_w = weights.map(RasterArg::into_loader).transpose()?;
    let wkb = wkb.refs();
    let cols = run(py, move || {
        let w = load_w.map(|f| f()).transpose()?;
        let stats = stats.iter().map(|s| Stat::parse(s)).collect::<landopp::Result<Vec<_>>>()?;
        let opts = ZonalOptions { stats, band, min_coverage_frac, weights: w.as_ref() };
        let parsed;
        let polygons = match &polygons_path {
            Some(p) => ZonalPolygons::File { path: std::path::Path::new(p), layer: layer.as_deref() },
            None => {
                let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
                parsed = (landopp::vector::to_multipolygons(crate::io::parse_geometries(&wkb)?)?, crs);
                ZonalPolygons::Memory { polygons: &parsed.0, crs: parsed.1.as_ref() }
            }
        };
        // a file goes to the core as a file (read in strips); arrays as a raster
        let loaded;
        let source = match &path {
            Some(p) => ZonalRaster::File(std::path::Path::new(p)),
            None => {
                loaded = load()?;
                ZonalRaster::Memory(&loaded)
            }
        };
        Ok(zonal(source, polygons, &opts, max_cells)?.columns)
    })?;
    Ok(cols.into_iter().map(|(n, v)| (n, v.into_pyarray(py))).collect())
}

/// Geotransform, CRS and nodata of a raster given as arrays.
type RasterMeta = ([f64; 6], Option<String>, Option<f64>);
/// A numpy band lent to the core, with its grid and nodata.
type LentArray<'py> = (NpBand<'py>, RasterMeta);

/// A single-band C-contiguous numpy raster is lent in place; anything else gets a loader that
/// reads or copies it off the GIL.
fn lend_or_load(r: RasterArg<'_>) -> PyResult<Result<LentArray<'_>, Loader>> {
    Ok(match r {
        RasterArg::Arrays(b, t, crs, nd) if b.len() == 1 => match NpBand::borrow(&b[0]) {
            Some(np) => Ok((np, (t, crs, nd))),
            None => Err(RasterArg::Arrays(b, t, crs, nd).into_loader()?),
        },
        other => Err(other.into_loader()?),
    })
}
/// A lent numpy mask band: ((rows, columns), cells) and its transform.
type LentMask<'a> = (((usize, usize), BandView<'a>), [f64; 6]);

/// One band of `spectral_indices` as the core sees it: cells (borrowed) on a grid.
struct GridBand<'a> {
    name: String,
    cells: BandView<'a>,
    nodata: Option<f64>,
    /// (rows, columns)
    dim: (usize, usize),
    transform: GeoTransform,
    crs: Option<Crs>,
}

/// Indices from band rasters keyed by catalogue band name; `options_json`: sensor, masks, constants.
/// `out`: one writeable C-contiguous float32 array per index (the grid's shape) written in place;
/// the returned dict then has no `bands`.
#[pyfunction]
#[pyo3(signature = (bands, indices, options_json, scl=None, qa_pixel=None, out=None))]
#[allow(clippy::too_many_arguments)]
fn spectral_indices<'py>(
    py: Python<'py>,
    bands: Vec<(String, RasterArg<'py>)>,
    indices: Vec<String>,
    options_json: String,
    scl: Option<RasterArg<'py>>,
    qa_pixel: Option<RasterArg<'py>>,
    out: Option<Vec<Bound<'py, numpy::PyArray2<f32>>>>,
) -> PyResult<Bound<'py, PyDict>> {
    use landopp::spectral::{index_views, index_views_into, BandGrid, ImagerySettings};
    use numpy::{PyArrayMethods, PyUntypedArrayMethods};
    let invalid = |m: String| crate::error::to_py(py, landopp::Error::InvalidInput(m));
    let mut out_rw = Vec::new();
    for (k, a) in out.iter().flatten().enumerate() {
        let name = indices.get(k).map_or("?", String::as_str);
        let rw = a.try_readwrite().map_err(|_| invalid(format!("out[{name}] is not writeable or is in use")))?;
        out_rw.push(rw);
    }
    let mut out_slices: Vec<(&mut [f32], (usize, usize))> = Vec::new();
    for (k, rw) in out_rw.iter_mut().enumerate() {
        let name = indices.get(k).map_or("?", String::as_str);
        let shape = (rw.shape()[0], rw.shape()[1]);
        let c_order = rw.is_c_contiguous();
        let sl = match rw.as_slice_mut() {
            Ok(sl) if c_order => sl,
            _ => return Err(invalid(format!("out[{name}] is not C-contiguous"))),
        };
        out_slices.push((sl, shape));
    }
    let with_out = out.is_some();
    let band_names: Vec<Option<String>> = indices.iter().cloned().map(Some).collect();
    // numpy bands are lent to the core in place (C-contiguous, one band each); paths and other
    // arrays are loaded (or copied) off the GIL
    let mut lent: Vec<(String, NpBand<'py>, RasterMeta)> = Vec::new();
    let mut loaders: Vec<(String, Loader)> = Vec::new();
    for (k, r) in bands {
        match lend_or_load(r)? {
            Ok((np, meta)) => lent.push((k, np, meta)),
            Err(l) => loaders.push((k, l)),
        }
    }
    let lent_views: Vec<_> = lent.iter().map(|(k, np, meta)| (k.clone(), np.dim_and_view(), meta.clone())).collect();
    // masks too: a numpy SCL/QA_PIXEL band is lent, anything else loaded
    let mask_arg = |m: Option<RasterArg<'py>>| -> PyResult<(Option<LentArray<'py>>, Option<Loader>)> {
        Ok(match m.map(lend_or_load).transpose()? {
            None => (None, None),
            Some(Ok(lent)) => (Some(lent), None),
            Some(Err(l)) => (None, Some(l)),
        })
    };
    let (scl_np, scl_loader) = mask_arg(scl)?;
    let (qa_np, qa_loader) = mask_arg(qa_pixel)?;
    let scl_lent = scl_np.as_ref().map(|(np, meta)| (np.dim_and_view(), meta.0));
    let qa_lent = qa_np.as_ref().map(|(np, meta)| (np.dim_and_view(), meta.0));
    let out = run(py, move || {
        let o: ImagerySettings = serde_json::from_str(&options_json)
            .map_err(|e| landopp::Error::InvalidInput(format!("spectral options: {e}")))?;
        let loaded: Vec<(String, Raster)> =
            loaders.into_iter().map(|(k, l)| l().map(|r| (k, r))).collect::<landopp::Result<_>>()?;
        let mut all: Vec<GridBand<'_>> = Vec::new();
        for (name, (dim, cells), (t, crs, nodata)) in lent_views {
            let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
            all.push(GridBand { name, cells, nodata, dim, transform: GeoTransform(t), crs });
        }
        for (k, r) in &loaded {
            let cells =
                r.band(0)?.view().ok_or_else(|| landopp::Error::InvalidInput(format!("band {k} is not contiguous")))?;
            let dim = (r.height(), r.width());
            all.push(GridBand {
                name: k.clone(),
                cells,
                nodata: r.nodata,
                dim,
                transform: r.transform,
                crs: r.crs.clone(),
            });
        }
        // one grid check, the core's
        let grids: Vec<(&str, BandGrid)> = all
            .iter()
            .map(|b| {
                let g = BandGrid { width: b.dim.1, height: b.dim.0, transform: b.transform, crs: b.crs.clone() };
                (b.name.as_str(), g)
            })
            .collect();
        let grid = BandGrid::common(&grids)?.clone();
        let dim = (grid.height, grid.width);
        let views: std::collections::BTreeMap<_, _> = all.into_iter().map(|b| (b.name, (b.cells, b.nodata))).collect();
        use landopp::spectral::Mask;
        let scl_r = scl_loader.map(|f| f()).transpose()?;
        let qa_r = qa_loader.map(|f| f()).transpose()?;
        fn mask<'a>(lent: Option<LentMask<'a>>, loaded: Option<&'a Raster>) -> Option<Mask<'a>> {
            lent.map(|(((h, w), cells), t)| Mask::Cells { cells, width: w, height: h, transform: GeoTransform(t) })
                .or(loaded.map(Mask::Raster))
        }
        let opts = o.options(mask(scl_lent, scl_r.as_ref()), mask(qa_lent, qa_r.as_ref()));
        let names: Vec<&str> = indices.iter().map(String::as_str).collect();
        if !with_out {
            return index_views(&views, &grid, &names, &opts).map(Ok);
        }
        if let Some((k, (_, shape))) = out_slices.iter().enumerate().find(|(_, (_, s))| *s != dim) {
            return Err(landopp::Error::InvalidInput(format!(
                "out[{}] has shape {shape:?}, the bands have {dim:?}",
                names.get(k).unwrap_or(&"?")
            )));
        }
        let mut outs: Vec<&mut [f32]> = out_slices.into_iter().map(|(s, _)| s).collect();
        index_views_into(&views, &grid, &names, &opts, &mut outs)?;
        Ok(Err(grid))
    })?;
    match out {
        Ok(raster) => raster_to_py(py, raster),
        Err(grid) => {
            let d = PyDict::new(py);
            d.set_item("transform", grid.transform.0.to_vec())?;
            d.set_item("crs", grid.crs.as_ref().map(|c| c.to_user_string()))?;
            d.set_item("nodata", f64::NAN)?;
            d.set_item("band_names", band_names)?;
            d.set_item("bands", py.None())?;
            Ok(d)
        }
    }
}

/// The spectral index catalogue as JSON text.
#[pyfunction]
fn spectral_catalogue() -> PyResult<String> {
    serde_json::to_string(landopp::spectral::indices())
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))
}

/// The variables of a spectral index expression, in order of first use.
#[pyfunction]
fn formula_variables(py: Python<'_>, expr: String) -> PyResult<Vec<String>> {
    run(py, move || landopp::spectral::formula_variables(&expr))
}

/// Scene metadata of a STAC item as JSON text.
#[pyfunction]
fn scene_meta(py: Python<'_>, path: String) -> PyResult<String> {
    run(py, move || {
        let m = landopp::spectral::SceneMeta::from_stac(&path)?;
        serde_json::to_string(&m).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
    })
}

/// Run a feature spec (JSON text, paths relative to `base_dir`); `progress(done, total, message)`
/// is called between steps. Returns `(ids, [(name, values, categories or None, meta json)])`.
#[pyfunction]
#[pyo3(signature = (spec_json, base_dir=None, progress=None))]
#[allow(clippy::type_complexity)]
fn features<'py>(
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

/// A feature table `(ids, [(name, values, categories)])` from Python.
pub(crate) type PyColumns<'py> = Vec<(String, numpy::PyReadonlyArray1<'py, f64>, Option<Vec<Option<String>>>)>;

/// A contiguous float64 numpy array lent to the core without copying; the reference keeps the
/// array alive as long as any result that reads it.
#[derive(Debug)]
struct NumpyColumn {
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
enum Lend {
    /// Borrowed from numpy without copying (results that outlive the call hold a reference).
    Borrow,
    /// Copied (in parallel, GIL released): for objects kept in Rust, so later changes to the
    /// caller's arrays do not reach them.
    Copy,
}

fn build_table<T: Send>(
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

/// Score a feature table `(ids, [(name, values, categories)])` with a profile (JSON text).
#[pyfunction]
#[pyo3(signature = (ids, columns, profile_json))]
fn score(py: Python<'_>, ids: Option<Vec<String>>, columns: PyColumns<'_>, profile_json: String) -> PyResult<Scores> {
    // ids stay on the Python side (the DataFrame index) unless given
    let n = columns.first().map_or(0, |c| c.1.len().unwrap_or(0));
    let ids = ids.map_or_else(|| landopp::features::blank_ids(n), std::sync::Arc::new);
    let (inner, parts) = build_table(py, ids, columns, Lend::Borrow, move |t| {
        let p = landopp::scoring::Profile::parse(&profile_json)?;
        // the arrays `take_arrays` hands over are built while the ranks are sorted
        landopp::scoring::score_and(&t, &p, score_parts)
    })?;
    Ok(Scores { inner, parts: Some(parts) })
}

/// Reason codes and reason sets, buildable acres.
type ScoreParts = ((ReasonCodes, Vec<String>), Vec<f64>);

fn score_parts(r: &landopp::scoring::ScoreResult) -> ScoreParts {
    let ((codes, sets), acres) = r.reason_sets_and_buildable_acres();
    ((ReasonCodes::narrow(codes, sets.len()), sets), acres)
}

/// Reason codes in the integer type pandas keeps for that many categories (int8 below 128, int16
/// below 32,768, else int32), so `pd.Categorical.from_codes` takes them without converting.
#[derive(Debug)]
enum ReasonCodes {
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
}

impl ReasonCodes {
    fn narrow(codes: Vec<u32>, categories: usize) -> Self {
        use rayon::prelude::*;
        let m = 1 << 16;
        if categories < 1 << 7 {
            ReasonCodes::I8(codes.par_iter().with_min_len(m).map(|&c| c as i8).collect())
        } else if categories < 1 << 15 {
            ReasonCodes::I16(codes.par_iter().with_min_len(m).map(|&c| c as i16).collect())
        } else {
            // same size and alignment: collected in place, no allocation
            ReasonCodes::I32(codes.into_iter().map(|c| c as i32).collect())
        }
    }

    fn into_py(self, py: Python<'_>) -> Bound<'_, PyAny> {
        use numpy::IntoPyArray;
        match self {
            ReasonCodes::I8(v) => v.into_pyarray(py).into_any(),
            ReasonCodes::I16(v) => v.into_pyarray(py).into_any(),
            ReasonCodes::I32(v) => v.into_pyarray(py).into_any(),
        }
    }
}

/// Scores of every parcel, kept in Rust: arrays are handed to numpy without copying,
/// explanations are built on request.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct Scores {
    inner: landopp::scoring::ScoreResult,
    /// Built with the scores, until `take_arrays` takes them.
    parts: Option<ScoreParts>,
}

#[pymethods]
impl Scores {
    /// `(score, rank, excluded, reason codes, reason sets, buildable acres)` as numpy arrays
    /// (moved out: callable once): rank as float64 (as pandas' `rank` gives it: `average` ties
    /// are halves) and reason codes in the smallest integer type for the number of sets, built
    /// with the GIL released.
    #[allow(clippy::type_complexity)]
    fn take_arrays<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<(
        Bound<'py, numpy::PyArray1<f64>>,
        Bound<'py, numpy::PyArray1<f64>>,
        Bound<'py, numpy::PyArray1<bool>>,
        Bound<'py, PyAny>,
        Vec<String>,
        Bound<'py, numpy::PyArray1<f64>>,
    )> {
        use numpy::IntoPyArray;
        let r = &mut self.inner;
        let parts = self.parts.take();
        let (score, rank, excluded, codes, sets, acres) = run(py, move || {
            let rank = std::mem::take(&mut r.rank);
            let (score, excluded) = (std::mem::take(&mut r.score), std::mem::take(&mut r.excluded));
            let ((codes, sets), acres) = parts.unwrap_or_else(|| score_parts(r));
            Ok((score, rank, excluded, codes, sets, acres))
        })?;
        Ok((
            score.into_pyarray(py),
            rank.into_pyarray(py),
            excluded.into_pyarray(py),
            codes.into_py(py),
            sets,
            acres.into_pyarray(py),
        ))
    }

    /// Ids, shared with the table.
    fn ids(&self) -> Vec<String> {
        self.inner.ids.to_vec()
    }

    /// Buildable acres of every parcel.
    fn buildable_acres<'py>(&self, py: Python<'py>) -> Bound<'py, numpy::PyArray1<f64>> {
        use numpy::IntoPyArray;
        let r = &self.inner;
        py.detach(|| r.buildable_acres()).into_pyarray(py)
    }

    /// Reasons as `(codes, categories)`: per parcel an index into the distinct ";"-joined sets.
    fn reasons<'py>(&self, py: Python<'py>) -> (Bound<'py, numpy::PyArray1<u32>>, Vec<String>) {
        use numpy::IntoPyArray;
        let r = &self.inner;
        let (codes, cats) = py.detach(|| r.reason_sets());
        (codes.into_pyarray(py), cats)
    }

    /// Explanations of the given rows (all when `None`) as JSON text.
    #[pyo3(signature = (rows=None))]
    fn explanations(&self, py: Python<'_>, rows: Option<Vec<usize>>) -> PyResult<String> {
        let r = &self.inner;
        let n = r.ids.len();
        run(py, move || {
            let rows = rows.unwrap_or_else(|| (0..n).collect());
            if let Some(bad) = rows.iter().find(|&&i| i >= n) {
                return Err(landopp::Error::InvalidInput(format!("row {bad} out of range ({n} parcels)")));
            }
            let ex: Vec<Vec<landopp::scoring::Contribution>> = rows.iter().map(|&i| r.explanation(i)).collect();
            serde_json::to_string(&ex).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })
    }

    /// The aggregation method.
    #[getter]
    fn method(&self) -> String {
        self.inner.method.clone()
    }

    fn __len__(&self) -> usize {
        self.inner.ids.len()
    }
}

/// A parcel search index (R-tree + features + scores) kept in Rust between queries.
#[pyclass(module = "landopp._landopp")]
#[derive(Debug)]
pub struct SearchIndex {
    inner: landopp::search::SearchIndex,
}

#[pymethods]
impl SearchIndex {
    /// Build from a parcel file (or WKB + CRS + ids), a feature table and an optional profile.
    #[new]
    #[pyo3(signature = (parcels, ids, columns, profile_json=None, id_field=None, layer=None, wkb=None, crs=None,
                        duplicate_ids="refuse"))]
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn new(
        py: Python<'_>,
        parcels: Option<String>,
        ids: Vec<String>,
        columns: Vec<(String, numpy::PyReadonlyArray1<'_, f64>, Option<Vec<Option<String>>>)>,
        profile_json: Option<String>,
        id_field: Option<String>,
        layer: Option<String>,
        wkb: Option<crate::io::GeomItems<'_>>,
        crs: Option<String>,
        duplicate_ids: &str,
    ) -> PyResult<Self> {
        let wkb = wkb.as_ref().map(|w| w.refs());
        let dup = landopp::vector::DuplicateIds::parse(duplicate_ids).map_err(|e| crate::error::to_py(py, e))?;
        let inner = build_table(py, ids.clone(), columns, Lend::Copy, move |t| {
            let p = match (parcels, wkb) {
                (Some(path), _) => landopp::Parcels::read_with(&path, layer.as_deref(), id_field.as_deref(), dup)?,
                (None, Some(w)) => {
                    // in-memory parcels for search: parsed and checked for finite coordinates,
                    // not validated ring by ring (the index does not need it; `read_parcels` does)
                    use landopp::geo::CoordsIter;
                    let geometries = landopp::vector::to_multipolygons(crate::io::parse_geometries(&w)?)?;
                    if geometries.len() != ids.len() {
                        return Err(landopp::Error::InvalidInput(format!(
                            "{} geometries for {} feature rows",
                            geometries.len(),
                            ids.len()
                        )));
                    }
                    if let Some(i) =
                        geometries.iter().position(|g| g.coords_iter().any(|c| !c.x.is_finite() || !c.y.is_finite()))
                    {
                        return Err(landopp::Error::InvalidGeometry(format!(
                            "parcel {} has a non-finite coordinate",
                            ids[i]
                        )));
                    }
                    landopp::Parcels {
                        ids: ids.clone(),
                        geometries,
                        crs: crs.map(|c| Crs::from_user_input(&c)).transpose()?,
                        columns: vec![],
                        status: vec![],
                        name: "parcels".into(),
                    }
                }
                (None, None) => {
                    return Err(landopp::Error::InvalidInput("give a parcel path or WKB geometries".into()))
                }
            };
            let prof = profile_json.map(|p| landopp::scoring::Profile::parse(&p)).transpose()?;
            landopp::search::SearchIndex::from_parcels(p, t, prof.as_ref())
        })?;
        Ok(SearchIndex { inner })
    }

    /// Run a query (JSON text) and return the page as JSON text.
    fn query(&self, py: Python<'_>, query_json: String) -> PyResult<String> {
        let idx = &self.inner;
        py.detach(|| {
            let q: landopp::search::Query =
                serde_json::from_str(&query_json).map_err(|e| landopp::Error::InvalidInput(format!("query: {e}")))?;
            let page = idx.query(&q)?;
            serde_json::to_string(&page).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })
        .map_err(|e| crate::error::to_py(py, e))
    }

    /// Run many queries (JSON array text) in parallel; hits as columns:
    /// `(query, row, score, rank, excluded, sort_value, totals, criteria, contribution (hits × k))`.
    #[allow(clippy::type_complexity)]
    fn query_many<'py>(&self, py: Python<'py>, queries: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        use numpy::IntoPyArray;
        // JSON text, or the Python list of query dicts read directly (no JSON round trip)
        let qs: Vec<landopp::search::Query> = match queries.extract::<String>() {
            Ok(text) => serde_json::from_str(&text).map_err(|e| format!("queries: {e}")),
            Err(_) => {
                crate::convert::check_nesting(queries, 64)?;
                pythonize::depythonize(queries).map_err(|e| format!("queries: {e}"))
            }
        }
        .map_err(|m| crate::error::to_py(py, landopp::Error::InvalidInput(m)))?;
        let idx = &self.inner;
        let t = run(py, move || idx.query_many(&qs))?;
        let d = PyDict::new(py);
        let n = t.row.len();
        let k = t.criteria.len();
        d.set_item("query", t.query.into_pyarray(py))?;
        d.set_item("row", t.row.into_pyarray(py))?;
        d.set_item("score", t.score.into_pyarray(py))?;
        d.set_item("rank", t.rank.into_pyarray(py))?;
        d.set_item("excluded", t.excluded.into_pyarray(py))?;
        d.set_item("sort_value", t.sort_value.into_pyarray(py))?;
        d.set_item("totals", t.totals)?;
        d.set_item("criteria", t.criteria)?;
        let c = numpy::ndarray::Array2::from_shape_vec((if k == 0 { 0 } else { n }, k), t.contribution)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        d.set_item("contribution", c.into_pyarray(py))?;
        Ok(d)
    }

    /// Re-score with a new profile (JSON text) without recomputing features.
    fn rescore(&mut self, py: Python<'_>, profile_json: String) -> PyResult<()> {
        let idx = &mut self.inner;
        py.detach(|| {
            let p = landopp::scoring::Profile::parse(&profile_json)?;
            idx.rescore(&p)
        })
        .map_err(|e| crate::error::to_py(py, e))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Sites of adjacent matching parcels (JSON text query) as JSON text.
    fn assemble_sites(&self, py: Python<'_>, query_json: String, tolerance_m: f64, min_acres: f64) -> PyResult<String> {
        let idx = &self.inner;
        py.detach(|| {
            let q: landopp::search::Query =
                serde_json::from_str(&query_json).map_err(|e| landopp::Error::InvalidInput(format!("query: {e}")))?;
            let sites = idx.assemble_sites(&q, tolerance_m, min_acres)?;
            serde_json::to_string(&sites).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })
        .map_err(|e| crate::error::to_py(py, e))
    }

    /// Rank stability under weight perturbation (JSON options) as JSON text.
    fn sensitivity(&self, py: Python<'_>, options_json: String) -> PyResult<String> {
        let idx = &self.inner;
        py.detach(|| idx.sensitivity_json(&options_json)).map_err(|e| crate::error::to_py(py, e))
    }
}

/// Fold labels: `kfold` (n rows), `spatial` (k-means blocks of the coordinates `xy`), or
/// `holdout` (0 = training, 1 = test; whole blocks when `xy` is given).
#[pyfunction]
#[pyo3(signature = (kind, n, k, seed=0, xy=None, blocks=25, test_fraction=0.2))]
#[allow(clippy::too_many_arguments)]
fn ml_folds<'py>(
    py: Python<'py>,
    kind: String,
    n: usize,
    k: usize,
    seed: u64,
    xy: Option<numpy::PyReadonlyArray2<'py, f64>>,
    blocks: usize,
    test_fraction: f64,
) -> PyResult<Bound<'py, numpy::PyArray1<usize>>> {
    use numpy::IntoPyArray;
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

fn dataset(
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

/// Out-of-fold predictions of a model (params as JSON, `{"model": ..., ...}`) for `x` (n × p), `y`, `folds`.
#[pyfunction]
fn ml_cross_val_predict<'py>(
    py: Python<'py>,
    x: numpy::PyReadonlyArray2<'py, f64>,
    y: numpy::PyReadonlyArray1<'py, f64>,
    folds: Vec<usize>,
    params_json: String,
) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
    use numpy::IntoPyArray;
    let d = dataset(&x, Some(&y))?;
    let out = run(py, move || {
        let p = landopp::ml::Params::parse(&params_json)?;
        landopp::ml::cross_val_predict(&d, &p, &folds)
    })?;
    Ok(out.into_pyarray(py))
}

/// Fit on (`x`, `y`) and return predictions of `x_new` and the explanation of each of its rows
/// (JSON text: `[{value, bias, contributions}]`).
#[pyfunction]
fn ml_fit_explain<'py>(
    py: Python<'py>,
    x: numpy::PyReadonlyArray2<'py, f64>,
    y: numpy::PyReadonlyArray1<'py, f64>,
    x_new: numpy::PyReadonlyArray2<'py, f64>,
    params_json: String,
) -> PyResult<(Bound<'py, numpy::PyArray1<f64>>, String)> {
    use numpy::IntoPyArray;
    let d = dataset(&x, Some(&y))?;
    let q = dataset(&x_new, None)?;
    let (pred, ex) = run(py, move || {
        let p = landopp::ml::Params::parse(&params_json)?;
        let f = landopp::ml::Estimator::fit(&d, &p)?;
        let ex = f.explain_rows(&q.x, q.p)?;
        let pred = f.predict(&q.x)?;
        Ok((pred, serde_json::to_string(&ex).map_err(|e| landopp::Error::InvalidInput(e.to_string()))?))
    })?;
    Ok((pred.into_pyarray(py), ex))
}

/// Drift report (JSON text) of named columns: `[(name, reference, current)]`.
#[pyfunction]
#[pyo3(signature = (columns, psi_threshold=None, ks_threshold=None))]
fn ml_drift(
    py: Python<'_>,
    columns: Vec<(String, Vec<f64>, Vec<f64>)>,
    psi_threshold: Option<f64>,
    ks_threshold: Option<f64>,
) -> PyResult<String> {
    run(py, move || {
        let cols: Vec<(&str, &[f64], &[f64])> =
            columns.iter().map(|(n, r, c)| (n.as_str(), r.as_slice(), c.as_slice())).collect();
        let r = landopp::ml::drift::report(&cols, psi_threshold, ks_threshold)?;
        serde_json::to_string(&r).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
    })
}

/// Model version serving each parcel id under an A/B split (JSON: salt, share_b, model_a, model_b).
#[pyfunction]
fn ml_ab_assign(py: Python<'_>, split_json: String, ids: Vec<String>) -> PyResult<Vec<String>> {
    run(py, move || {
        let s: landopp::ml::drift::AbSplit =
            serde_json::from_str(&split_json).map_err(|e| landopp::Error::InvalidInput(format!("split: {e}")))?;
        ids.iter().map(|i| s.assign(i).map(str::to_string)).collect()
    })
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
    /// Fit on `x` (n × p) and `y`; `features` name the columns; params as JSON.
    #[staticmethod]
    #[pyo3(signature = (x, y, features, target, params_json, model_version="0.1.0".to_string(), metrics=None))]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        py: Python<'_>,
        x: numpy::PyReadonlyArray2<'_, f64>,
        y: numpy::PyReadonlyArray1<'_, f64>,
        features: Vec<String>,
        target: String,
        params_json: String,
        model_version: String,
        metrics: Option<std::collections::BTreeMap<String, f64>>,
    ) -> PyResult<Self> {
        let d = dataset(&x, Some(&y))?;
        let inner = run(py, move || {
            if features.len() != d.p {
                return Err(landopp::Error::InvalidInput(format!(
                    "{} feature names for {} columns",
                    features.len(),
                    d.p
                )));
            }
            let p = landopp::ml::Params::parse(&params_json)?;
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

    /// Explanations of each row as JSON text.
    fn explain(&self, py: Python<'_>, x: numpy::PyReadonlyArray2<'_, f64>) -> PyResult<String> {
        let q = dataset(&x, None)?;
        let f = &self.inner.estimator;
        run(py, move || {
            let ex = f.explain_rows(&q.x, q.p)?;
            serde_json::to_string(&ex).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })
    }

    /// Permutation importance `[(mean, std)]` per feature of `metric` on (`x`, `y`).
    #[pyo3(signature = (x, y, metric, n_repeats, seed))]
    fn permutation_importance(
        &self,
        py: Python<'_>,
        x: numpy::PyReadonlyArray2<'_, f64>,
        y: numpy::PyReadonlyArray1<'_, f64>,
        metric: String,
        n_repeats: usize,
        seed: u64,
    ) -> PyResult<Vec<(f64, f64)>> {
        let d = dataset(&x, Some(&y))?;
        let m = &self.inner.estimator;
        run(py, move || landopp::ml::permutation_importance(m, &d, &metric, n_repeats, seed))
    }

    /// The model card as JSON text.
    fn card(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.card).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
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
    #[pyo3(signature = (ids, columns, features, target, params_json, model_version, metrics, unseen_category))]
    #[allow(clippy::too_many_arguments)]
    fn fit_columns(
        py: Python<'_>,
        ids: Vec<String>,
        columns: PyColumns<'_>,
        features: Vec<String>,
        target: String,
        params_json: String,
        model_version: String,
        metrics: Option<std::collections::BTreeMap<String, f64>>,
        unseen_category: String,
    ) -> PyResult<Self> {
        let inner = build_table(py, ids, columns, Lend::Borrow, move |t| {
            let p = landopp::ml::Params::parse(&params_json)?;
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

    /// Explanations (JSON text) per card feature for named columns.
    fn explain_columns(&self, py: Python<'_>, ids: Vec<String>, columns: PyColumns<'_>) -> PyResult<String> {
        let m = &self.inner;
        build_table(py, ids, columns, Lend::Borrow, move |t| {
            let ex = m.explain_table(&t)?;
            serde_json::to_string(&ex).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })
    }

    /// Permutation importance per card feature on named columns including the target.
    fn permutation_importance_columns(
        &self,
        py: Python<'_>,
        ids: Vec<String>,
        columns: PyColumns<'_>,
        metric: String,
        n_repeats: usize,
        seed: u64,
    ) -> PyResult<Vec<(f64, f64)>> {
        let m = &self.inner;
        build_table(py, ids, columns, Lend::Borrow, move |t| {
            m.permutation_importance_table(&t, &metric, n_repeats, seed)
        })
    }
}

pub(crate) fn key32(k: Option<Vec<u8>>) -> landopp::Result<Option<[u8; 32]>> {
    k.map(|k| {
        <[u8; 32]>::try_from(k.as_slice())
            .map_err(|_| landopp::Error::InvalidInput(format!("encryption key must be 32 bytes, got {}", k.len())))
    })
    .transpose()
}
