//! napi-rs glue for landopp: conversion, error mapping and AsyncTask wrappers only.
//! Every error carries `err.code` = the core's stable code (`NOT_FOUND`, `FORMAT`, ...).

// napi-rs macros and the ToNapiValue impl below are FFI glue: unsafe is inherent here.
#![allow(missing_docs, unsafe_code, missing_debug_implementations)]

use landopp::vector::{self, ReadOptions};
use landopp::{Crs, Transformer, Window};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

/// A core error as a JS error whose `code` is the landopp code.
fn js_err(e: &landopp::Error) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

/// A JSON value returned to JS as a plain object.
pub struct Json(serde_json::Value);

impl TypeName for Json {
    fn type_name() -> &'static str {
        "Object"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl ToNapiValue for Json {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> napi::Result<napi::sys::napi_value> {
        unsafe { serde_json::Value::to_napi_value(env, val.0) }
    }
}

/// Reject an AsyncTask with a JS error carrying `code` (napi keeps the JS object as is).
fn reject_with_code(env: &Env, e: landopp::Error) -> napi::Error {
    let js = napi::JsError::from(js_err(&e)).into_unknown(*env);
    napi::Error::from(js)
}

/// The library version.
#[napi]
pub fn version() -> String {
    landopp::VERSION.to_string()
}

#[napi(object)]
pub struct RasterBand {
    /// Data type name (GDAL's: Byte, Int16, UInt16, Int32, Float32, Float64, ...).
    pub dtype: String,
    /// Cells as float64, row-major (nodata cells keep their value).
    pub data: Float64Array,
    pub description: Option<String>,
}

#[napi(object)]
pub struct RasterResult {
    pub width: u32,
    pub height: u32,
    /// GDAL geotransform.
    pub transform: Vec<f64>,
    pub crs: Option<String>,
    pub nodata: Option<f64>,
    pub bands: Vec<RasterBand>,
}

#[napi(object)]
#[derive(Clone, Default)]
pub struct ReadRasterOptions {
    /// `[row, col, rows, cols]`.
    pub window: Option<Vec<u32>>,
    /// 0-based band; default all bands.
    pub band: Option<u32>,
}

pub struct ReadRasterTask {
    path: String,
    opts: ReadRasterOptions,
}

impl Task for ReadRasterTask {
    type Output = landopp::Result<landopp::Raster>;
    type JsValue = RasterResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let path = self.path.clone();
        let opts = self.opts.clone();
        Ok((|| {
            let t = landopp::GeoTiff::open(&path)?;
            let w = match opts.window.as_deref() {
                Some([r, c, h, w]) => Window::new(*r as usize, *c as usize, *h as usize, *w as usize),
                Some(other) => {
                    return Err(landopp::Error::InvalidInput(format!(
                        "window must be [row, col, rows, cols], got {other:?}"
                    )))
                }
                None => Window::new(0, 0, t.height(), t.width()),
            };
            let r = t.read_window_raster(w)?;
            Ok(match opts.band {
                Some(b) => {
                    let data = r.band(b as usize)?.clone();
                    let mut one = landopp::Raster::new(vec![data], r.transform, r.crs.clone(), r.nodata)?;
                    one.band_names = vec![r.band_names[b as usize].clone()];
                    one
                }
                None => r,
            })
        })())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let r = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(raster_js(r))
    }
}

/// Read a GeoTIFF off the JS thread. Resolves to bands as Float64Arrays.
#[napi(ts_return_type = "Promise<RasterResult>")]
pub fn read_raster(path: String, options: Option<ReadRasterOptions>) -> AsyncTask<ReadRasterTask> {
    AsyncTask::new(ReadRasterTask { path, opts: options.unwrap_or_default() })
}

#[napi(object)]
#[derive(Clone, Default)]
pub struct ReadLayerOptions {
    /// GeoPackage layer name.
    pub layer: Option<String>,
    /// Validate as parcels (polygons only, invalid rings flagged) with ids from this field.
    pub parcels: Option<bool>,
    pub id_field: Option<String>,
}

pub struct ReadLayerTask {
    path: String,
    opts: ReadLayerOptions,
}

impl Task for ReadLayerTask {
    type Output = landopp::Result<serde_json::Value>;
    type JsValue = Json;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let path = self.path.clone();
        let o = self.opts.clone();
        Ok((|| {
            let l = vector::read_layer(&path, &ReadOptions { layer: o.layer.clone() })?;
            if o.parcels.unwrap_or(false) {
                let p = landopp::Parcels::from_layer(l, o.id_field.as_deref())?;
                let mut fc = vector::geojson::to_json(&p.to_layer());
                if let Some(feats) = fc["features"].as_array_mut() {
                    for (i, f) in feats.iter_mut().enumerate() {
                        f["id"] = serde_json::json!(p.ids[i]);
                        f["properties"]["geometry_status"] = serde_json::to_value(&p.status[i]).unwrap_or_default();
                    }
                }
                Ok(fc)
            } else {
                Ok(vector::geojson::to_json(&l))
            }
        })())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Json).map_err(|e| reject_with_code(&env, e))
    }
}

/// Read a vector layer (GeoPackage, GeoJSON, FlatGeobuf, Shapefile) as a GeoJSON
/// FeatureCollection (coordinates in the layer's CRS, named in `crs`).
#[napi(ts_return_type = "Promise<any>")]
pub fn read_layer(path: String, options: Option<ReadLayerOptions>) -> AsyncTask<ReadLayerTask> {
    AsyncTask::new(ReadLayerTask { path, opts: options.unwrap_or_default() })
}

/// Feature layers of a vector file.
#[napi]
pub fn list_layers(env: Env, path: String) -> napi::Result<Vec<String>> {
    vector::list_layers(&path).map_err(|e| reject_with_code(&env, e))
}

/// A gdalinfo/ogrinfo-like summary.
#[napi(ts_return_type = "any")]
pub fn info(env: Env, path: String) -> napi::Result<Json> {
    let i = landopp::info::info(&path).map_err(|e| reject_with_code(&env, e))?;
    serde_json::to_value(&i).map(Json).map_err(|e| reject_with_code(&env, landopp::Error::InvalidInput(e.to_string())))
}

#[napi(object)]
pub struct CrsInfo {
    pub epsg: Option<u32>,
    pub name: String,
    pub proj: String,
    pub is_geographic: bool,
    pub linear_unit_m: Option<f64>,
}

/// Parse a CRS (`EPSG:code`, WKT or a PROJ string).
#[napi]
pub fn crs_info(env: Env, crs: String) -> napi::Result<CrsInfo> {
    let c = Crs::from_user_input(&crs).map_err(|e| reject_with_code(&env, e))?;
    Ok(CrsInfo {
        epsg: c.epsg(),
        name: c.name().into(),
        proj: c.proj_string().into(),
        is_geographic: c.is_geographic(),
        linear_unit_m: c.linear_unit_m(),
    })
}

#[napi(object)]
pub struct XY {
    pub x: Float64Array,
    pub y: Float64Array,
}

/// Reproject coordinate arrays (x = easting/longitude, y = northing/latitude).
#[napi]
pub fn transform(env: Env, src: String, dst: String, x: Float64Array, y: Float64Array) -> napi::Result<XY> {
    if x.len() != y.len() {
        return Err(reject_with_code(
            &env,
            landopp::Error::InvalidInput(format!("x has {} values, y has {}", x.len(), y.len())),
        ));
    }
    let t = Transformer::new(
        &Crs::from_user_input(&src).map_err(|e| reject_with_code(&env, e))?,
        &Crs::from_user_input(&dst).map_err(|e| reject_with_code(&env, e))?,
    )
    .map_err(|e| reject_with_code(&env, e))?;
    let mut c: Vec<landopp::geo_types::Coord<f64>> =
        x.iter().zip(y.iter()).map(|(a, b)| landopp::geo_types::Coord { x: *a, y: *b }).collect();
    t.transform_coords(&mut c).map_err(|e| reject_with_code(&env, e))?;
    Ok(XY {
        x: Float64Array::new(c.iter().map(|p| p.x).collect()),
        y: Float64Array::new(c.iter().map(|p| p.y).collect()),
    })
}

#[napi(object)]
pub struct AreaPerimeter {
    pub area_m2: Float64Array,
    pub perimeter_m: Float64Array,
}

/// Geodesic area (m²) and exterior perimeter (m) on WGS 84 of a GeoJSON FeatureCollection or
/// geometry list, whose coordinates are in `crs` (default EPSG:4326).
#[napi]
pub fn geodesic_area_perimeter(
    env: Env,
    geojson: serde_json::Value,
    crs: Option<String>,
) -> napi::Result<AreaPerimeter> {
    let crs = Crs::from_user_input(crs.as_deref().unwrap_or("EPSG:4326")).map_err(|e| reject_with_code(&env, e))?;
    let text = geojson.to_string();
    let layer = vector::geojson::parse(&text, "input", std::path::Path::new("<argument>"))
        .map_err(|e| reject_with_code(&env, e))?;
    let p = landopp::Parcels::from_layer(layer, None).map_err(|e| reject_with_code(&env, e))?;
    let v = landopp::geodesic::area_perimeter(&p.geometries, Some(&crs)).map_err(|e| reject_with_code(&env, e))?;
    Ok(AreaPerimeter {
        area_m2: Float64Array::new(v.iter().map(|a| a.0).collect()),
        perimeter_m: Float64Array::new(v.iter().map(|a| a.1).collect()),
    })
}

/// Write a GeoJSON FeatureCollection (coordinates in `crs`) as GeoJSON or GeoPackage.
#[napi]
pub fn write_layer(env: Env, path: String, geojson: serde_json::Value, crs: Option<String>) -> napi::Result<()> {
    let mut layer = vector::geojson::parse(&geojson.to_string(), "layer", std::path::Path::new("<argument>"))
        .map_err(|e| reject_with_code(&env, e))?;
    if let Some(c) = crs {
        layer.crs = Some(Crs::from_user_input(&c).map_err(|e| reject_with_code(&env, e))?);
    }
    vector::write_layer(&path, &layer).map_err(|e| reject_with_code(&env, e))
}

/// A feature column returned to JS.
#[napi(object)]
pub struct FeatureColumnJs {
    pub name: String,
    /// Values (category codes for categorical columns; NaN = missing).
    pub values: Float64Array,
    /// Category labels of a categorical column.
    pub categories: Option<Vec<String>>,
    /// Provenance: source, unit, method.
    pub source: String,
    pub unit: String,
    pub method: String,
}

#[napi(object)]
pub struct FeatureTableJs {
    pub ids: Vec<String>,
    pub columns: Vec<FeatureColumnJs>,
}

pub struct FeaturesTask {
    spec: String,
    base_dir: Option<String>,
}

impl Task for FeaturesTask {
    type Output = landopp::Result<landopp::FeatureTable>;
    type JsValue = FeatureTableJs;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (spec, base) = (self.spec.clone(), self.base_dir.clone());
        Ok((|| {
            let mut s = landopp::pipeline::FeatureSpec::parse(&spec)?;
            if let Some(b) = base {
                s.resolve_paths(std::path::Path::new(&b));
            }
            s.run(&|_| {})
        })())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let t = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(FeatureTableJs {
            ids: t.ids().to_vec(),
            columns: t
                .columns()
                .iter()
                .map(|c| FeatureColumnJs {
                    name: c.name.clone(),
                    values: Float64Array::new(c.values.to_vec()),
                    categories: c.categories.clone(),
                    source: c.meta.source.clone(),
                    unit: c.meta.unit.clone(),
                    method: c.meta.method.clone(),
                })
                .collect(),
        })
    }
}

/// Run a feature spec (the same JSON as the CLI and Python); relative paths resolve against
/// `baseDir`. Runs off the JS thread.
#[napi(ts_return_type = "Promise<FeatureTableJs>")]
pub fn features(spec: serde_json::Value, base_dir: Option<String>) -> AsyncTask<FeaturesTask> {
    AsyncTask::new(FeaturesTask { spec: spec.to_string(), base_dir })
}

pub struct ScoreTask {
    ids: Vec<String>,
    columns: Vec<(String, Vec<f64>, Option<Vec<String>>)>,
    profile: String,
}

impl Task for ScoreTask {
    type Output = landopp::Result<serde_json::Value>;
    type JsValue = Json;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let ids = self.ids.clone();
        let cols = std::mem::take(&mut self.columns);
        let profile = self.profile.clone();
        Ok((|| {
            let mut t = landopp::FeatureTable::new(ids);
            for (name, values, cats) in cols {
                match cats {
                    Some(c) => {
                        let labels = values
                            .iter()
                            .map(|v| (!v.is_nan()).then(|| c.get(*v as usize).cloned()).flatten())
                            .collect();
                        t.add_categorical(name, labels, Default::default())?
                    }
                    None => t.add_column(name, values, Default::default())?,
                }
            }
            let p = landopp::scoring::Profile::parse(&profile)?;
            let r = landopp::scoring::score(&t, &p)?;
            serde_json::to_value(&r).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Json).map_err(|e| reject_with_code(&env, e))
    }
}

/// Score a feature table (as `features()` returns it) with a scoring profile (object or JSON).
/// Resolves to `{ids, score, rank, excluded, reasons, buildable_acres, explanations, method}`.
#[napi(ts_return_type = "Promise<any>")]
pub fn score(table: FeatureTableJs, profile: serde_json::Value) -> AsyncTask<ScoreTask> {
    let columns = table.columns.into_iter().map(|c| (c.name, c.values.to_vec(), c.categories)).collect();
    let profile = match profile {
        serde_json::Value::String(s) => s,
        v => v.to_string(),
    };
    AsyncTask::new(ScoreTask { ids: table.ids, columns, profile })
}

pub struct TerrainTask {
    path: String,
    product: String,
    options: serde_json::Value,
}

impl Task for TerrainTask {
    type Output = landopp::Result<landopp::Raster>;
    type JsValue = RasterResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let (path, product, options) = (self.path.clone(), self.product.clone(), self.options.clone());
        Ok((|| {
            let opts: landopp::terrain::TerrainOptions = if options.is_null() {
                Default::default()
            } else {
                serde_json::from_value(options)
                    .map_err(|e| landopp::Error::InvalidInput(format!("terrain options: {e}")))?
            };
            let dem = landopp::Raster::open(&path)?;
            landopp::terrain::terrain(&dem, landopp::terrain::TerrainProduct::parse(&product)?, &opts)
        })())
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let r = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(raster_js(r))
    }
}

fn raster_js(r: landopp::Raster) -> RasterResult {
    let names = r.band_names.clone();
    RasterResult {
        width: r.width() as u32,
        height: r.height() as u32,
        transform: r.transform.0.to_vec(),
        crs: r.crs.as_ref().map(|c| c.to_user_string()),
        nodata: r.nodata,
        bands: r
            .bands()
            .iter()
            .zip(names)
            .map(|(b, description)| RasterBand {
                dtype: b.dtype().gdal_name().to_string(),
                data: Float64Array::new(b.to_f64().into_raw_vec_and_offset().0),
                description,
            })
            .collect(),
    }
}

/// A gdaldem-identical terrain product of a DEM file (`slope`, `slope_percent`, `aspect`,
/// `hillshade`, `tri`, `tpi`, `roughness`); options as in the Rust `TerrainOptions`.
#[napi(ts_return_type = "Promise<RasterResult>")]
pub fn terrain(path: String, product: String, options: Option<serde_json::Value>) -> AsyncTask<TerrainTask> {
    AsyncTask::new(TerrainTask { path, product, options: options.unwrap_or(serde_json::Value::Null) })
}
