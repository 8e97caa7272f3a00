//! Live data sources: STAC item search and the best scene per parcel.

use crate::convert::{config, to_object};
use crate::run;
use landopp::sources::stac::{ImageryRecord, SceneChoiceOptions, StacSearch};
use landopp::Crs;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stac_search, m)?)?;
    m.add_function(wrap_pyfunction!(best_scenes, m)?)?;
    m.add_function(wrap_pyfunction!(arcgis_features, m)?)?;
    m.add_function(wrap_pyfunction!(ogc_features, m)?)?;
    m.add_function(wrap_pyfunction!(soil_data_access, m)?)?;
    Ok(())
}

/// A STAC item search (a dict of `StacSearch` fields); returns `{items, pages, matched,
/// filtered_out}` with one dict per imagery record.
#[pyfunction]
pub(crate) fn stac_search<'py>(py: Python<'py>, query: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let q: StacSearch = config(query)?;
    let found = run(py, move || landopp::sources::stac::search(&q))?;
    to_object(py, &found)
}

/// The best item per polygon and the clear share of every polygon in every item.
type Choice = (Vec<Option<usize>>, Vec<Vec<f64>>);

/// The clear share of every WKB polygon (in `crs`) in every item's cloud mask, and the best item
/// per polygon: `(best, clear)`.
#[pyfunction]
#[pyo3(signature = (items, wkb, crs, options=None))]
pub(crate) fn best_scenes<'py>(
    py: Python<'py>,
    items: &Bound<'py, PyAny>,
    wkb: crate::io::GeomItems<'py>,
    crs: Option<String>,
    options: Option<&Bound<'py, PyAny>>,
) -> PyResult<Choice> {
    let items: Vec<ImageryRecord> = config(items)?;
    let opts: SceneChoiceOptions = match options {
        Some(o) => config(o)?,
        None => SceneChoiceOptions::default(),
    };
    let wkb = wkb.refs();
    let c = run(py, move || {
        let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
        let polys = landopp::vector::to_multipolygons(crate::io::parse_geometries(&wkb)?)?;
        landopp::sources::stac::best_scenes(&items, &polys, crs.as_ref(), &opts)
    })?;
    Ok((c.best, c.clear))
}

/// Every feature of an ArcGIS REST feature layer matching the query (a dict of `ArcGisQuery`
/// fields), as the dict `read_layer` returns.
#[pyfunction]
pub(crate) fn arcgis_features<'py>(py: Python<'py>, query: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let q: landopp::sources::features::ArcGisQuery = config(query)?;
    let layer = run(py, move || landopp::sources::features::arcgis(&q))?;
    crate::io::layer_to_py(py, layer, None, None)
}

/// Every item of an OGC API – Features collection (a dict of `OgcQuery` fields), as the dict
/// `read_layer` returns.
#[pyfunction]
pub(crate) fn ogc_features<'py>(py: Python<'py>, query: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
    let q: landopp::sources::features::OgcQuery = config(query)?;
    let layer = run(py, move || landopp::sources::features::ogc_features(&q))?;
    crate::io::layer_to_py(py, layer, None, None)
}

/// SSURGO soils for WKB parcels (in `crs`; `None` is WGS 84) from Soil Data Access (a dict of
/// `SdaQuery` fields): `(mapunits, component, mapunit, muaggatt, requests)`, the map units as the
/// dict `read_layer` returns and each table as `{columns, rows}`.
#[pyfunction]
#[pyo3(signature = (wkb, crs, query=None))]
pub(crate) fn soil_data_access<'py>(
    py: Python<'py>,
    wkb: crate::io::GeomItems<'py>,
    crs: Option<String>,
    query: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
    let q: landopp::sources::sda::SdaQuery = match query {
        Some(q) => config(q)?,
        None => landopp::sources::sda::SdaQuery::default(),
    };
    let wkb = wkb.refs();
    let d = run(py, move || {
        let crs = crs.map(|c| Crs::from_user_input(&c)).transpose()?;
        let polys = landopp::vector::to_multipolygons(crate::io::parse_geometries(&wkb)?)?;
        landopp::sources::sda::soil_data_access(&polys, crs.as_ref(), &q)
    })?;
    let layer = crate::io::layer_to_py(py, d.mapunits, None, None)?;
    (layer, to_object(py, &d.component)?, to_object(py, &d.mapunit)?, to_object(py, &d.muaggatt)?, d.requests)
        .into_pyobject(py)
}
