//! Exact zonal statistics of a raster over polygons.

use crate::convert::{parcels_from_js, whole, whole_or, RasterInput, RasterSource};
use crate::error::reject_with_code;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

#[napi(object)]
pub struct NamedColumn {
    pub name: String,
    pub values: Float64Array,
}

#[napi(object, js_name = "ZonalOptions")]
#[derive(Default)]
pub struct ZonalOptionsJs {
    /// Statistics (`count`, `sum`, `mean`, `min`, `max`, `stdev`, `median`, `quantile(q=0.9)`,
    /// `majority`, `minority`, `variety`, `frac`, `weighted_mean`, `circular_mean`...). Default
    /// `["count", "mean"]`.
    pub stats: Option<Vec<String>>,
    /// Band number (1-based, as GDAL numbers bands; default 1).
    pub band: Option<f64>,
    /// Ignore cells covered less than this fraction.
    pub min_coverage_frac: Option<f64>,
    /// Raster files only: read the raster in strips of whole rows holding at most this many cells
    /// (exactextract's `--max-cells`), so memory stays bounded; results are identical.
    pub max_cells: Option<f64>,
}

pub struct ZonalTask {
    raster: RasterSource,
    polygons: serde_json::Value,
    opts: ZonalOptionsJs,
}

impl Task for ZonalTask {
    type Output = landopp::Result<Vec<(String, Vec<f64>)>>;
    type JsValue = Vec<NamedColumn>;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let raster = std::mem::replace(&mut self.raster, RasterSource::Taken);
        let polygons = std::mem::take(&mut self.polygons);
        let o = std::mem::take(&mut self.opts);
        Ok(landopp::error::catch_panic(|| {
            let p = parcels_from_js(polygons, None, None, None)?;
            let d = landopp::zonal::ZonalOptions::default();
            let stats = match &o.stats {
                Some(s) => s.iter().map(|s| landopp::zonal::Stat::parse(s)).collect::<landopp::Result<Vec<_>>>()?,
                None => d.stats,
            };
            let opts = landopp::zonal::ZonalOptions {
                stats,
                band: whole_or(o.band, d.band, "band")?,
                min_coverage_frac: o.min_coverage_frac.unwrap_or(d.min_coverage_frac),
                weights: None,
            };
            use landopp::zonal::{zonal, ZonalPolygons, ZonalRaster};
            let max_cells = o.max_cells.map(|c| whole(c, "maxCells")).transpose()?;
            let polygons = ZonalPolygons::Memory { polygons: &p.geometries, crs: p.crs.as_ref() };
            // a file goes to the core as a file (read in strips); typed arrays as a raster
            let res = match &raster {
                RasterSource::Path(path) => {
                    zonal(ZonalRaster::File(std::path::Path::new(path)), polygons, &opts, max_cells)?
                }
                _ => zonal(ZonalRaster::Memory(&raster.load()?), polygons, &opts, max_cells)?,
            };
            Ok(res.columns)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let cols = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(cols.into_iter().map(|(name, v)| NamedColumn { name, values: Float64Array::new(v) }).collect())
    }
}

/// Exact zonal statistics (exactextract's definitions) of a raster (file path or typed arrays)
/// over polygons (file path or GeoJSON FeatureCollection; reprojected to the raster CRS). Resolves
/// to one Float64Array per statistic, in polygon order.
#[napi(ts_return_type = "Promise<NamedColumn[]>")]
pub fn zonal_stats(
    raster: Either<String, RasterInput>,
    #[napi(ts_arg_type = "string | import('geojson').FeatureCollection")] polygons: serde_json::Value,
    options: Option<ZonalOptionsJs>,
) -> napi::Result<AsyncTask<ZonalTask>> {
    Ok(AsyncTask::new(ZonalTask {
        raster: RasterSource::from_js(raster)?,
        polygons,
        opts: options.unwrap_or_default(),
    }))
}
