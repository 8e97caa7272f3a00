//! Terrain products and colour relief, in memory or file to file.

use crate::convert::{raster_js, RasterInput, RasterResult, RasterSource};
use crate::error::reject_with_code;
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

/// A raster computed from a raster (file or typed arrays) on the worker pool: terrain products,
/// colour relief.
pub struct RasterOpTask {
    raster: RasterSource,
    op: Option<RasterOp>,
}

/// Parses its options first, then loads the raster (a bad option costs no read).
pub(crate) type RasterOp = Box<dyn FnOnce(RasterSource) -> landopp::Result<landopp::Raster> + Send>;

impl RasterOpTask {
    fn new(raster: Either<String, RasterInput>, op: RasterOp) -> napi::Result<AsyncTask<Self>> {
        Ok(AsyncTask::new(RasterOpTask { raster: RasterSource::from_js(raster)?, op: Some(op) }))
    }
}

impl Task for RasterOpTask {
    type Output = landopp::Result<landopp::Raster>;
    type JsValue = RasterResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let raster = std::mem::replace(&mut self.raster, RasterSource::Taken);
        let op = self.op.take();
        Ok(landopp::error::catch_panic(|| {
            let op = op.ok_or_else(|| landopp::Error::InvalidInput("task already run".into()))?;
            op(raster)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let r = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(raster_js(r))
    }
}

/// `gdaldem color-relief`: a raster (path or arrays) coloured through a gdaldem colour table (a
/// file, or its text of several lines: `value R G B [A]` or `value colourname` per line; `nv`,
/// `P%`; GMT .cpt), as RGB(A) bytes
/// without nodata. Options: `{mode: 'interpolate' | 'nearest_entry' | 'exact_entry', alpha, band}`.
#[napi(
    ts_args_type = "raster: string | RasterInput, colors: string, options?: import('./types').ColorReliefOptions",
    ts_return_type = "Promise<RasterResult>"
)]
pub fn color_relief(
    raster: Either<String, RasterInput>,
    colors: String,
    options: Option<serde_json::Value>,
) -> napi::Result<AsyncTask<RasterOpTask>> {
    use landopp::color_relief::{color_relief, ColorReliefOptions, ColorTable};
    let options = options.unwrap_or(serde_json::Value::Null);
    RasterOpTask::new(
        raster,
        Box::new(move |r| {
            let opts = ColorReliefOptions::from_json(options)?;
            let table = ColorTable::from_text_or_file(&colors)?;
            color_relief(&r.load()?, &table, &opts)
        }),
    )
}

/// A gdaldem-identical terrain product (`slope`, `slope_percent`, `aspect`, `hillshade`, `tri`,
/// `tpi`, `roughness`) of a DEM file or an in-memory raster (typed arrays); options as in the Rust
/// `TerrainOptions` in its snake_case keys (`{compute_edges, z_factor, alg, hillshade, ...}`).
#[napi(ts_return_type = "Promise<RasterResult>")]
pub fn terrain(
    dem: Either<String, RasterInput>,
    product: String,
    #[napi(ts_arg_type = "import('./types').TerrainOptions")] options: Option<serde_json::Value>,
) -> napi::Result<AsyncTask<RasterOpTask>> {
    use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
    let options = options.unwrap_or(serde_json::Value::Null);
    RasterOpTask::new(
        dem,
        Box::new(move |r| {
            let opts = TerrainOptions::from_json(options)?;
            terrain(&r.load()?, TerrainProduct::parse(&product)?, &opts)
        }),
    )
}

pub struct TerrainFileTask {
    input: String,
    output: String,
    product: String,
    options: serde_json::Value,
}

impl Task for TerrainFileTask {
    type Output = landopp::Result<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        use landopp::raster::{Compression, GeoTiffWriteOptions};
        let mut options = self.options.clone();
        Ok(landopp::error::catch_panic(|| {
            // `compress` ("deflate" | "none") is the writer's; the rest are TerrainOptions
            let compress = match options.as_object_mut().and_then(|o| o.remove("compress")) {
                None | Some(serde_json::Value::Null) => "deflate".to_string(),
                Some(serde_json::Value::String(s)) => s,
                Some(v) => return Err(landopp::Error::InvalidInput(format!("compress must be a string, got {v}"))),
            };
            let compression = Compression::parse(&compress)?;
            let opts = landopp::terrain::TerrainOptions::from_json(options)?;
            let product = landopp::terrain::TerrainProduct::parse(&self.product)?;
            let write = GeoTiffWriteOptions { compression, ..Default::default() };
            landopp::terrain::terrain_file(&self.input, &self.output, product, &opts, &write)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map_err(|e| reject_with_code(&env, e))
    }
}

/// Like `gdaldem PRODUCT DEM OUTPUT`: the terrain product of a DEM file written as a tiled GeoTIFF,
/// streamed a strip of rows at a time (memory stays at a few MB whatever the DEM's size). Options
/// as `terrain`'s plus `compress: 'deflate' | 'none'`.
#[napi(ts_return_type = "Promise<void>")]
pub fn terrain_to_file(
    dem: String,
    output: String,
    product: String,
    #[napi(ts_arg_type = "import('./types').TerrainOptions & { compress?: 'deflate' | 'none' }")] options: Option<
        serde_json::Value,
    >,
) -> napi::Result<AsyncTask<TerrainFileTask>> {
    Ok(AsyncTask::new(TerrainFileTask {
        input: dem,
        output,
        product,
        options: options.unwrap_or(serde_json::Value::Null),
    }))
}
