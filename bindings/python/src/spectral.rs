//! Spectral indices from band arrays (lent in place) with cloud masks; catalogue and scene metadata.

use crate::convert::{config, lend_or_load, to_object, LentArray, Loader, RasterArg, RasterMeta};
use crate::convert::{raster_to_py, NpBand};
use crate::run;
use landopp::{BandView, Crs, GeoTransform, Raster};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(spectral_indices, m)?)?;
    m.add_function(wrap_pyfunction!(spectral_catalogue, m)?)?;
    m.add_function(wrap_pyfunction!(formula_variables, m)?)?;
    m.add_function(wrap_pyfunction!(scene_meta, m)?)?;
    Ok(())
}

/// A lent numpy mask band: ((rows, columns), cells) and its transform.
pub(crate) type LentMask<'a> = (((usize, usize), BandView<'a>), [f64; 6]);

/// One band of `spectral_indices` as the core sees it: cells (borrowed) on a grid.
pub(crate) struct GridBand<'a> {
    name: String,
    cells: BandView<'a>,
    nodata: Option<f64>,
    /// (rows, columns)
    dim: (usize, usize),
    transform: GeoTransform,
    crs: Option<Crs>,
}

/// Indices from band rasters keyed by catalogue band name; `options` (a dict): sensor, masks, constants.
/// `out`: one writeable C-contiguous float32 array per index (the grid's shape) written in place;
/// the returned dict then has no `bands`.
#[pyfunction]
#[pyo3(signature = (bands, indices, options, scl=None, qa_pixel=None, out=None))]
#[allow(clippy::too_many_arguments)]
// Long by design: conversion only: each kind of band and mask argument (numpy lent in place or
// loaded off the GIL) and the optional `out=` arrays; the core call is one line.
pub(crate) fn spectral_indices<'py>(
    py: Python<'py>,
    bands: Vec<(String, RasterArg<'py>)>,
    indices: Vec<String>,
    options: &Bound<'py, PyAny>,
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
    let o: ImagerySettings = config(options)?;
    let out = run(py, move || {
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

/// The spectral index catalogue (a dict by index name).
#[pyfunction]
pub(crate) fn spectral_catalogue(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    to_object(py, landopp::spectral::indices())
}

/// The variables of a spectral index expression, in order of first use.
#[pyfunction]
pub(crate) fn formula_variables(py: Python<'_>, expr: String) -> PyResult<Vec<String>> {
    run(py, move || landopp::spectral::formula_variables(&expr))
}

/// Scene metadata of a STAC item (a dict).
#[pyfunction]
pub(crate) fn scene_meta(py: Python<'_>, path: String) -> PyResult<Bound<'_, PyAny>> {
    let m = run(py, move || landopp::spectral::SceneMeta::from_stac(&path))?;
    to_object(py, &m)
}
