//! Terrain products and colour relief of a DEM given as arrays or a path.

use crate::convert::{config, raster_to_py, RasterArg};
use crate::run;
use landopp::terrain::{terrain as core_terrain, TerrainOptions, TerrainProduct};
use pyo3::prelude::*;
use pyo3::types::PyDict;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(terrain, m)?)?;
    m.add_function(wrap_pyfunction!(terrain_file, m)?)?;
    m.add_function(wrap_pyfunction!(color_relief, m)?)?;
    Ok(())
}

/// Terrain product of a DEM given as arrays + transform (+ CRS, nodata); options a dict.
#[pyfunction]
#[pyo3(signature = (bands, transform, crs, nodata, product, options))]
pub(crate) fn terrain<'py>(
    py: Python<'py>,
    bands: Vec<Bound<'py, PyAny>>,
    transform: [f64; 6],
    crs: Option<String>,
    nodata: Option<f64>,
    product: String,
    options: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let load = RasterArg::Arrays(bands, transform, crs, nodata).into_loader()?;
    let opts: TerrainOptions = config(options)?;
    let out = run(py, move || core_terrain(&load()?, TerrainProduct::parse(&product)?, &opts))?;
    raster_to_py(py, out)
}

/// `gdaldem color-relief` of a raster given as arrays: the colour table as a file name or its text
/// (the core's rule); options a dict.
#[pyfunction]
#[pyo3(signature = (bands, transform, crs, nodata, colors, options))]
pub(crate) fn color_relief<'py>(
    py: Python<'py>,
    bands: Vec<Bound<'py, PyAny>>,
    transform: [f64; 6],
    crs: Option<String>,
    nodata: Option<f64>,
    colors: String,
    options: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    use landopp::color_relief::{ColorReliefOptions, ColorTable};
    let load = RasterArg::Arrays(bands, transform, crs, nodata).into_loader()?;
    let opts: ColorReliefOptions = config(options)?;
    let out = run(py, move || {
        let table = ColorTable::from_text_or_file(&colors)?;
        landopp::color_relief::color_relief(&load()?, &table, &opts)
    })?;
    raster_to_py(py, out)
}

/// Terrain product of a DEM file streamed into a GeoTIFF (`compress`: "deflate" or "none").
#[pyfunction]
#[pyo3(signature = (input, output, product, options, compress))]
pub(crate) fn terrain_file(
    py: Python<'_>,
    input: String,
    output: String,
    product: String,
    options: &Bound<'_, PyAny>,
    compress: String,
) -> PyResult<()> {
    use landopp::raster::{Compression, GeoTiffWriteOptions};
    let opts: TerrainOptions = config(options)?;
    run(py, move || {
        let compression = Compression::parse(&compress)?;
        let write = GeoTiffWriteOptions { compression, ..Default::default() };
        landopp::terrain::terrain_file(&input, &output, TerrainProduct::parse(&product)?, &opts, &write)
    })
}
