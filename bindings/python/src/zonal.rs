//! Exact zonal statistics of a raster (arrays or path) over polygons (WKB or a path).

use crate::convert::RasterArg;
use crate::run;
use landopp::zonal::{Stat, ZonalOptions};
use landopp::Crs;
use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(zonal_stats, m)?)?;
    Ok(())
}

/// Exact zonal statistics of WKB polygons (in `crs`), or of the polygons of a vector file
/// (`polygons_path`, read in Rust), over a raster; returns `[(name, values)]`.
#[pyfunction]
#[pyo3(signature = (raster, wkb, crs, stats, band=1, min_coverage_frac=0.0, weights=None, polygons_path=None, layer=None, max_cells=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn zonal_stats<'py>(
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
