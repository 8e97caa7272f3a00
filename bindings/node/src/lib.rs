//! napi-rs glue for landopp: conversion, error mapping and AsyncTask wrappers only.
//! Every error carries `err.code` = the core's stable code (`NOT_FOUND`, `FORMAT`, ...).

// napi-rs macros and the ToNapiValue impl below are FFI glue: unsafe is inherent here.
#![allow(missing_docs, unsafe_code, missing_debug_implementations)]

use landopp::vector::{self, ReadOptions};
use landopp::{Crs, Transformer, Window};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

// The addon's allocator: see `landopp::alloc` (result buffers freed by V8's finalizers on the JS
// thread; with glibc malloc every 1 M-row `score` faulted its buffers in again, +60 %).
#[global_allocator]
static GLOBAL: landopp::alloc::Allocator = landopp::alloc::Allocator;

#[napi_derive::module_init]
fn init_allocator() {
    landopp::alloc::configure();
}

pub mod ml;

/// A core error as a JS error whose `code` is the landopp code.
fn js_err(e: &landopp::Error) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

/// A JSON value returned to JS as a plain object.
pub struct Json(pub(crate) serde_json::Value);

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

/// Parcel ids as they cross from JS (`Array<string>`): one `napi_get_value_string_utf8` per id
/// into a stack buffer — ids are short — where napi-rs's `String` asks for the length first and
/// copies second. 1 M ids: ~180 ms of a `buildSearchIndex` call's synchronous part before.
pub struct Ids(pub Vec<String>);

impl TypeName for Ids {
    fn type_name() -> &'static str {
        "Array<string>"
    }
    fn value_type() -> napi::ValueType {
        napi::ValueType::Object
    }
}

impl ValidateNapiValue for Ids {
    unsafe fn validate(env: napi::sys::napi_env, v: napi::sys::napi_value) -> napi::Result<napi::sys::napi_value> {
        unsafe { <Vec<String> as ValidateNapiValue>::validate(env, v) }
    }
}

impl FromNapiValue for Ids {
    unsafe fn from_napi_value(env: napi::sys::napi_env, v: napi::sys::napi_value) -> napi::Result<Self> {
        use napi::sys;
        let fail = |what: String| napi::Error::new(napi::Status::InvalidArg, what);
        let mut len = 0u32;
        if unsafe { sys::napi_get_array_length(env, v, &mut len) } != sys::Status::napi_ok {
            return Err(fail("ids: expected an array of strings".into()));
        }
        // a sparse array may claim 2^32 - 1 elements: grow as they are read
        let mut out = Vec::with_capacity((len as usize).min(1 << 16));
        let mut buf = [0u8; 256];
        let mut one = |i: u32| -> napi::Result<String> {
            let mut e = std::ptr::null_mut();
            if unsafe { sys::napi_get_element(env, v, i, &mut e) } != sys::Status::napi_ok {
                return Err(fail(format!("ids[{i}]: cannot be read")));
            }
            let mut n = 0usize;
            let st = unsafe { sys::napi_get_value_string_utf8(env, e, buf.as_mut_ptr().cast(), buf.len(), &mut n) };
            if st != sys::Status::napi_ok {
                return Err(fail(format!("ids[{i}]: expected a string")));
            }
            // `n` bytes were written and the terminating NUL fits after them: the whole string
            if n + 1 < buf.len() {
                String::from_utf8(buf[..n].to_vec()).map_err(|_| fail(format!("ids[{i}]: not UTF-8")))
            } else {
                unsafe { String::from_napi_value(env, e) }
            }
        };
        // element handles are released a block at a time (1 M handles in the call's own scope
        // would stay alive until it returns); the scope is closed on every path
        for b0 in (0..len).step_by(4096) {
            let mut scope: sys::napi_handle_scope = std::ptr::null_mut();
            if unsafe { sys::napi_open_handle_scope(env, &mut scope) } != sys::Status::napi_ok {
                return Err(fail("ids: cannot open a handle scope".into()));
            }
            let r = (b0..(b0 + 4096).min(len)).try_for_each(|i| one(i).map(|id| out.push(id)));
            unsafe { sys::napi_close_handle_scope(env, scope) };
            r?;
        }
        Ok(Ids(out))
    }
}

impl ToNapiValue for Ids {
    unsafe fn to_napi_value(env: napi::sys::napi_env, val: Self) -> napi::Result<napi::sys::napi_value> {
        unsafe { Vec::<String>::to_napi_value(env, val.0) }
    }
}

/// A count, size or index from JS. Taken as a JS number (napi's `u32` conversion wraps: `-1`
/// becomes 4294967295 and `NaN` 0) and checked here: a whole number from 0 to 2^53 - 1.
pub(crate) fn whole(v: f64, what: &str) -> landopp::Result<usize> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 {
        Ok(v as usize)
    } else {
        Err(landopp::Error::InvalidInput(format!("{what} must be a whole number ≥ 0, got {v}")))
    }
}

/// Reject an AsyncTask with a JS error carrying `code` (napi keeps the JS object as is).
pub(crate) fn reject_with_code(env: &Env, e: landopp::Error) -> napi::Error {
    let js = napi::JsError::from(js_err(&e)).into_unknown(*env);
    napi::Error::from(js)
}

/// Core work on the JS thread: errors become JS errors with the core's `code`, and a panic an
/// `INTERNAL` one instead of aborting the process (AsyncTasks wrap their work the same way).
pub(crate) fn guard<T>(env: &Env, f: impl FnOnce() -> landopp::Result<T>) -> napi::Result<T> {
    landopp::error::catch_panic(f).map_err(|e| reject_with_code(env, e))
}

/// The library version.
#[napi]
pub fn version() -> String {
    landopp::VERSION.to_string()
}

/// The band and constant names a spectral index expression uses, in order of first use, as
/// landopp's formula parser reads it (`+ - * / **`, parentheses, numbers, names); an expression it
/// refuses throws an error with code `INVALID_INPUT`.
#[napi]
pub fn formula_variables(env: Env, expr: String) -> napi::Result<Vec<String>> {
    guard(&env, || landopp::spectral::formula_variables(&expr))
}

/// Test hook: a panic inside the addon (on the JS thread, or on a worker with `onWorker`), to
/// check that a bug rejects / throws with `code: 'INTERNAL'` instead of aborting the process.
#[napi(ts_return_type = "Promise<void> | void")]
pub fn panic_for_tests(env: Env, on_worker: bool) -> napi::Result<Either<AsyncTask<ml::Job<()>>, ()>> {
    let boom = || -> landopp::Result<()> { panic!("a panic raised on purpose by panicForTests") };
    if on_worker {
        return Ok(Either::A(ml::Job::new(boom)));
    }
    guard(&env, boom).map(Either::B)
}

/// A band's cells as the typed array of its data type: `Uint8Array` (Byte), `Int8Array`,
/// `Int16Array`, `Uint16Array`, `Int32Array`, `Uint32Array`, `Float32Array`, `Float64Array`.
pub type Cells =
    Either8<Float64Array, Float32Array, Uint16Array, Int16Array, Uint8Array, Int8Array, Int32Array, Uint32Array>;

#[napi(object)]
pub struct RasterBand {
    /// Data type name (GDAL's: Byte, Int8, Int16, UInt16, Int32, UInt32, Float32, Float64).
    pub dtype: String,
    /// Cells, row-major, in the typed array of `dtype` (nodata cells keep their value).
    #[napi(
        ts_type = "Float64Array | Float32Array | Uint16Array | Int16Array | Uint8Array | Int8Array | Int32Array | Uint32Array"
    )]
    pub data: Cells,
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
    pub window: Option<Vec<f64>>,
    /// 0-based band; default all bands.
    pub band: Option<f64>,
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
        Ok(landopp::error::catch_panic(|| {
            let t = landopp::GeoTiff::open(&path)?;
            let w = match opts.window.as_deref() {
                Some([r, c, h, w]) => Window::new(
                    whole(*r, "window row")?,
                    whole(*c, "window col")?,
                    whole(*h, "window rows")?,
                    whole(*w, "window cols")?,
                ),
                Some(other) => {
                    return Err(landopp::Error::InvalidInput(format!(
                        "window must be [row, col, rows, cols], got {other:?}"
                    )))
                }
                None => Window::new(0, 0, t.height(), t.width()),
            };
            Ok(match opts.band {
                // only that band is decoded
                Some(b) => t.read_window_raster_bands(w, &[whole(b, "band")?])?,
                None => t.read_window_raster(w)?,
            })
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let r = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(raster_js(r))
    }
}

/// Read a GeoTIFF off the JS thread. Resolves to each band in the typed array of its data type
/// (`Uint16Array` for a UInt16 band, ...); with `band`, only that band is read.
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
    /// Repeated parcel ids: `'refuse'` (default: an INVALID_INPUT error naming them) or
    /// `'suffix'` (`_2`, `_3`, … on the repeats).
    pub duplicate_ids: Option<String>,
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
        Ok(landopp::error::catch_panic(|| {
            let l = vector::read_layer(&path, &ReadOptions { layer: o.layer.clone() })?;
            if o.parcels.unwrap_or(false) {
                let dup = landopp::vector::DuplicateIds::parse(o.duplicate_ids.as_deref().unwrap_or("refuse"))?;
                let p = landopp::Parcels::from_layer_with(l, o.id_field.as_deref(), dup)?;
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
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(Json).map_err(|e| reject_with_code(&env, e))
    }
}

/// Read a vector layer (GeoPackage, GeoJSON, FlatGeobuf, Shapefile) as a GeoJSON
/// FeatureCollection (coordinates in the layer's CRS, named in `crs`). Dates and date-times are
/// ISO 8601 strings, their columns named in `'landopp:field_types'` (`{ sold: 'date' }`), which
/// `writeLayer` honours to write them back as the same types.
#[napi(ts_return_type = "Promise<any>")]
pub fn read_layer(path: String, options: Option<ReadLayerOptions>) -> AsyncTask<ReadLayerTask> {
    AsyncTask::new(ReadLayerTask { path, opts: options.unwrap_or_default() })
}

/// Feature layers of a vector file.
#[napi]
pub fn list_layers(env: Env, path: String) -> napi::Result<Vec<String>> {
    guard(&env, || vector::list_layers(&path))
}

/// A gdalinfo/ogrinfo-like summary.
#[napi(ts_return_type = "any")]
pub fn info(env: Env, path: String) -> napi::Result<Json> {
    guard(&env, || {
        let i = landopp::info::info(&path)?;
        serde_json::to_value(&i).map(Json).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
    })
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
    let c = guard(&env, || Crs::from_user_input(&crs))?;
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
    let c = guard(&env, || {
        if x.len() != y.len() {
            return Err(landopp::Error::InvalidInput(format!("x has {} values, y has {}", x.len(), y.len())));
        }
        let t = Transformer::new(&Crs::from_user_input(&src)?, &Crs::from_user_input(&dst)?)?;
        let mut c: Vec<landopp::geo_types::Coord<f64>> =
            x.iter().zip(y.iter()).map(|(a, b)| landopp::geo_types::Coord { x: *a, y: *b }).collect();
        t.transform_coords(&mut c)?;
        Ok(c)
    })?;
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
    let v = guard(&env, || {
        let crs = Crs::from_user_input(crs.as_deref().unwrap_or("EPSG:4326"))?;
        let layer = vector::geojson::parse(&geojson.to_string(), "input", std::path::Path::new("<argument>"))?;
        let p = landopp::Parcels::from_layer(layer, None)?;
        landopp::geodesic::area_perimeter(&p.geometries, Some(&crs))
    })?;
    Ok(AreaPerimeter {
        area_m2: Float64Array::new(v.iter().map(|a| a.0).collect()),
        perimeter_m: Float64Array::new(v.iter().map(|a| a.1).collect()),
    })
}

/// Write a GeoJSON FeatureCollection (coordinates in `crs`) as GeoJSON or GeoPackage.
#[napi]
pub fn write_layer(env: Env, path: String, geojson: serde_json::Value, crs: Option<String>) -> napi::Result<()> {
    guard(&env, || {
        let mut layer = vector::geojson::parse(&geojson.to_string(), "layer", std::path::Path::new("<argument>"))?;
        if let Some(c) = crs {
            layer.crs = Some(Crs::from_user_input(&c)?);
        }
        vector::write_layer(&path, &layer)
    })
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
    #[napi(ts_type = "Array<string>")]
    pub ids: Ids,
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
        Ok(landopp::error::catch_panic(|| {
            let mut s = landopp::pipeline::FeatureSpec::parse(&spec)?;
            if let Some(b) = base {
                s.resolve_paths(std::path::Path::new(&b));
            }
            s.run(&|_| {})
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let t = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(FeatureTableJs {
            ids: Ids(t.ids().to_vec()),
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

/// Feature columns without ids (a `FeatureTableJs` works too: its ids are not read).
#[napi(object)]
pub struct ColumnsJs {
    pub columns: Vec<FeatureColumnJs>,
}

pub struct ScoreTask {
    table: Option<landopp::FeatureTable>,
    profile: String,
    explain: bool,
}

/// Scores of every parcel, in the table's row order: typed arrays, plus explanations when asked
/// for.
#[napi(object, object_from_js = false)]
pub struct ScoreResultJs {
    /// Score in 0..1 (0 for excluded parcels).
    pub score: Float64Array,
    /// Rank, 1 = best; equal scores share ranks by the profile's `ties` rule (default `min`;
    /// `average` gives halves); excluded parcels rank last, as one tied group.
    pub rank: Float64Array,
    /// 1 when a hard constraint excluded the parcel.
    pub excluded: Uint8Array,
    /// Per parcel, an index into `reasonSets`.
    pub reasons: Uint32Array,
    /// The distinct sets of constraint codes that fired, `;`-joined; `reasonSets[0]` is `""`.
    pub reason_sets: Vec<String>,
    pub buildable_acres: Float64Array,
    pub method: String,
    /// Per parcel, per criterion: `{criterion, raw, transformed, weight, contribution, missing}`
    /// (only with `{explain: true}`).
    #[napi(
        ts_type = "Array<Array<{criterion: string, raw: number, label?: string, transformed: number, weight: number, contribution: number, missing: boolean}>> | undefined"
    )]
    pub explanations: Option<Json>,
}

/// A score result taken apart on the worker thread.
pub struct ScoreParts {
    score: Vec<f64>,
    rank: Vec<f64>,
    excluded: Vec<u8>,
    reasons: Vec<u32>,
    reason_sets: Vec<String>,
    buildable_acres: Vec<f64>,
    method: String,
    explanations: Option<serde_json::Value>,
}

impl Task for ScoreTask {
    type Output = landopp::Result<ScoreParts>;
    type JsValue = ScoreResultJs;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let t = self.table.take();
        let profile = self.profile.clone();
        let explain = self.explain;
        // on the core's pool, not on whichever libuv thread took the task: the result buffers are
        // allocated from the same few thread heaps call after call
        Ok(landopp::error::catch_panic(|| {
            rayon::scope(|_| {
                let t = t.ok_or_else(|| landopp::Error::InvalidInput("feature table already used".into()))?;
                let p = landopp::scoring::Profile::parse(&profile)?;
                // the result arrays are built side by side on the core's threads, while the ranks
                // are sorted
                use rayon::prelude::*;
                let (mut r, (((reasons, reason_sets), buildable_acres), excluded)) =
                    landopp::scoring::score_and(&t, &p, |r| {
                        rayon::join(
                            || r.reason_sets_and_buildable_acres(),
                            || r.excluded.par_iter().with_min_len(1 << 16).map(|v| *v as u8).collect(),
                        )
                    })?;
                let rank = std::mem::take(&mut r.rank);
                let ex = if explain {
                    let all: Vec<_> = (0..r.ids.len()).map(|i| r.explanation(i)).collect();
                    Some(serde_json::to_value(all).map_err(|e| landopp::Error::InvalidInput(e.to_string()))?)
                } else {
                    None
                };
                // everything the result needs is built here, off the JS thread
                Ok(ScoreParts {
                    reasons,
                    reason_sets,
                    buildable_acres,
                    rank,
                    excluded,
                    method: r.method,
                    score: r.score,
                    explanations: ex,
                })
            })
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let p = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(ScoreResultJs {
            reasons: Uint32Array::new(p.reasons),
            reason_sets: p.reason_sets,
            buildable_acres: Float64Array::new(p.buildable_acres),
            method: p.method,
            score: Float64Array::new(p.score),
            rank: Float64Array::new(p.rank),
            excluded: Uint8Array::new(p.excluded),
            explanations: p.explanations.map(Json),
        })
    }
}

#[napi(object)]
#[derive(Default)]
pub struct ScoreOptions {
    /// Include every parcel's explanation (default false: use a SearchIndex for explained hits).
    pub explain: Option<bool>,
}

/// Score a feature table (as `features()` returns it) with a scoring profile (object or JSON/TOML
/// text), off the JS thread. The numeric columns are read in place, not copied: do not write to
/// them until the Promise settles.
#[napi(ts_return_type = "Promise<ScoreResultJs>")]
pub fn score(
    env: Env,
    #[napi(ts_arg_type = "FeatureTableJs | ColumnsJs")] table: ColumnsJs,
    profile: serde_json::Value,
    options: Option<ScoreOptions>,
) -> napi::Result<AsyncTask<ScoreTask>> {
    // ids stay in JS (results are in row order): only the columns cross
    let n = table.columns.first().map_or(0, |c| c.values.len());
    let t = guard(&env, || columns_into_table(landopp::features::blank_ids(n), table.columns, Lend::Borrow))?;
    Ok(AsyncTask::new(ScoreTask {
        table: Some(t),
        profile: profile_text(profile),
        explain: options.and_then(|o| o.explain).unwrap_or(false),
    }))
}

/// A raster computed from a raster (file or typed arrays) on the worker pool: terrain products,
/// colour relief.
pub struct RasterOpTask {
    raster: RasterSource,
    op: Option<RasterOp>,
}

/// Parses its options first, then loads the raster (a bad option costs no read).
type RasterOp = Box<dyn FnOnce(RasterSource) -> landopp::Result<landopp::Raster> + Send>;

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

/// `gdaldem color-relief`: a raster (path or arrays) coloured through a gdaldem colour table file
/// (`value R G B [A]` or `value colourname` per line; `nv`, `P%`; GMT .cpt), as RGB(A) bytes
/// without nodata. Options: `{mode: 'interpolate' | 'nearest_entry' | 'exact_entry', alpha, band}`.
#[napi(
    ts_args_type = "raster: string | RasterInput, colors: string, options?: { mode?: 'interpolate' | 'nearest_entry' | 'exact_entry', alpha?: boolean, band?: number }",
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
            let table = ColorTable::open(&colors)?;
            color_relief(&r.load()?, &table, &opts)
        }),
    )
}

/// A band's cells, row-major, moved into the typed array of its type.
fn cells(b: landopp::BandData) -> Cells {
    use landopp::BandData as B;
    match b {
        B::F64(a) => Either8::A(Float64Array::new(row_major(a))),
        B::F32(a) => Either8::B(Float32Array::new(row_major(a))),
        B::U16(a) => Either8::C(Uint16Array::new(row_major(a))),
        B::I16(a) => Either8::D(Int16Array::new(row_major(a))),
        B::U8(a) => Either8::E(Uint8Array::new(row_major(a))),
        B::I8(a) => Either8::F(Int8Array::new(row_major(a))),
        B::I32(a) => Either8::G(Int32Array::new(row_major(a))),
        B::U32(a) => Either8::H(Uint32Array::new(row_major(a))),
    }
}

/// The cells of `a` in row-major order, without a copy when `a` is already laid out so.
fn row_major<T: Clone>(a: ndarray::Array2<T>) -> Vec<T> {
    let n = a.len();
    if a.is_standard_layout() {
        let (v, off) = a.into_raw_vec_and_offset();
        if v.len() == n {
            return v;
        }
        let o = off.unwrap_or(0);
        return v[o..o + n].to_vec();
    }
    a.iter().cloned().collect()
}

fn raster_js(mut r: landopp::Raster) -> RasterResult {
    let (width, height) = (r.width() as u32, r.height() as u32);
    let (transform, crs, nodata) = (r.transform.0.to_vec(), r.crs.as_ref().map(|c| c.to_user_string()), r.nodata);
    let names = std::mem::take(&mut r.band_names);
    let bands = r
        .into_bands()
        .into_iter()
        .zip(names)
        .map(|(b, description)| RasterBand { dtype: b.dtype().gdal_name().to_string(), data: cells(b), description })
        .collect();
    RasterResult { width, height, transform, crs, nodata, bands }
}

/// A gdaldem-identical terrain product (`slope`, `slope_percent`, `aspect`, `hillshade`, `tri`,
/// `tpi`, `roughness`) of a DEM file or an in-memory raster (typed arrays); options as in the Rust
/// `TerrainOptions` in its snake_case keys (`{compute_edges, z_factor, alg, hillshade, ...}`).
#[napi(ts_return_type = "Promise<RasterResult>")]
pub fn terrain(
    dem: Either<String, RasterInput>,
    product: String,
    options: Option<serde_json::Value>,
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
    options: Option<serde_json::Value>,
) -> napi::Result<AsyncTask<TerrainFileTask>> {
    Ok(AsyncTask::new(TerrainFileTask {
        input: dem,
        output,
        product,
        options: options.unwrap_or(serde_json::Value::Null),
    }))
}

/// Options of `spectralIndices`.
#[napi(object)]
#[derive(Default)]
pub struct SpectralOptions {
    /// `reflectance` (default: no scaling), `sentinel2_l2a`, `sentinel2_l1c`, `landsat89`,
    /// `landsat457` (Collection 2 Level-2 scaling).
    pub sensor: Option<String>,
    /// Sentinel-2 processing baseline (`"04.00"` and later apply the −1000 offset).
    pub baseline: Option<String>,
    /// Sentinel-2 scene classification band (file or raster), masked to NaN by class.
    pub scl: Option<Either<String, RasterInput>>,
    /// SCL classes to mask (default 0, 1, 3, 8, 9, 10, 11).
    pub scl_masked: Option<Vec<f64>>,
    /// Landsat QA_PIXEL band (file or raster), masked to NaN by bit.
    pub qa_pixel: Option<Either<String, RasterInput>>,
    /// QA_PIXEL bits to mask (default 0–5: fill, dilated cloud, cirrus, cloud, shadow, snow).
    pub qa_bits: Option<Vec<f64>>,
    /// Constant overrides (`L`, `g`, `C1`...).
    pub constants: Option<std::collections::HashMap<String, f64>>,
    /// Caller-provided outputs, like numpy's `out=`: one `Float32Array` of `width × height` cells
    /// per index, by index name, written in place and resolved as the result's bands (re-using
    /// them across scenes or tiles skips allocating fresh memory every call). Do not touch them
    /// until the Promise settles.
    pub out: Option<std::collections::HashMap<String, Float32Array>>,
}

pub struct SpectralTask {
    bands: Vec<(String, RasterSource)>,
    indices: Vec<String>,
    settings: landopp::Result<landopp::spectral::ImagerySettings>,
    scl: Option<RasterSource>,
    qa: Option<RasterSource>,
    out: Option<std::collections::HashMap<String, Float32Array>>,
    /// The caller's outputs in index order, once written.
    written: Vec<Float32Array>,
}

/// What a spectral call resolves to: fresh bands, or the grid of the caller's outputs.
pub enum SpectralOut {
    Fresh(landopp::Raster),
    Into(landopp::spectral::BandGrid),
}

/// A JS band's cells as the core's borrowed view, in their type.
fn view(c: &Cells) -> landopp::BandView<'_> {
    use landopp::BandView as V;
    match c {
        Either8::A(a) => V::F64(a),
        Either8::B(a) => V::F32(a),
        Either8::C(a) => V::U16(a),
        Either8::D(a) => V::I16(a),
        Either8::E(a) => V::U8(a),
        Either8::F(a) => V::I8(a),
        Either8::G(a) => V::I32(a),
        Either8::H(a) => V::U32(a),
    }
}

/// `(grid, band)` of a lent in-memory raster's first band.
fn lent_band<'r>(k: &str, r: &'r RasterInput) -> landopp::Result<(landopp::spectral::BandGrid, landopp::BandView<'r>)> {
    let grid = r.grid().map_err(|e| match e {
        landopp::Error::InvalidInput(m) => landopp::Error::InvalidInput(format!("band {k}: {m}")),
        e => e,
    })?;
    let band =
        r.bands.first().ok_or_else(|| landopp::Error::InvalidInput(format!("band {k}: the raster has no band")))?;
    Ok((grid, view(band)))
}

impl RasterInput {
    /// Size, geotransform and CRS, checked.
    fn grid(&self) -> landopp::Result<landopp::spectral::BandGrid> {
        let t: [f64; 6] = self.transform.as_slice().try_into().map_err(|_| {
            landopp::Error::InvalidInput(format!("transform needs 6 numbers, got {}", self.transform.len()))
        })?;
        Ok(landopp::spectral::BandGrid {
            width: whole(self.width, "width")?,
            height: whole(self.height, "height")?,
            transform: landopp::GeoTransform(t),
            crs: self.crs.as_deref().map(Crs::from_user_input).transpose()?,
        })
    }
}

/// A mask band (SCL, QA_PIXEL) of a spectral call: read from a file, or lent typed arrays.
enum MaskSource {
    File(landopp::Raster),
    Lent(RasterInput),
}

impl MaskSource {
    fn of(s: RasterSource) -> landopp::Result<Self> {
        Ok(match s {
            RasterSource::Js(r) => MaskSource::Lent(r),
            other => MaskSource::File(other.load()?),
        })
    }

    fn mask(&self, what: &str) -> landopp::Result<landopp::spectral::Mask<'_>> {
        Ok(match self {
            MaskSource::File(r) => r.into(),
            MaskSource::Lent(r) => {
                // the core checks the cell count against the mask's own grid
                let (g, cells) = lent_band(what, r)?;
                landopp::spectral::Mask::Cells { cells, width: g.width, height: g.height, transform: g.transform }
            }
        })
    }
}

impl Task for SpectralTask {
    type Output = landopp::Result<SpectralOut>;
    type JsValue = RasterResult;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let bands = std::mem::take(&mut self.bands);
        let scl = self.scl.take();
        let qa = self.qa.take();
        let out = self.out.take();
        let settings = std::mem::replace(&mut self.settings, Err(landopp::Error::InvalidInput("taken".into())));
        let written = &mut self.written;
        let indices = &self.indices;
        Ok(landopp::error::catch_panic(|| {
            let settings = settings?;
            // bands given as typed arrays are read in place; files are read here
            let mut files = Vec::new();
            let mut lent = Vec::new();
            for (k, b) in bands {
                match b {
                    RasterSource::Js(r) => lent.push((k, r)),
                    other => files.push((k, other.load()?)),
                }
            }
            let mut views = std::collections::BTreeMap::new();
            let mut grids = Vec::new();
            for (k, r) in &files {
                let v = r
                    .band(0)?
                    .view()
                    .ok_or_else(|| landopp::Error::InvalidInput(format!("band {k} is not contiguous in memory")))?;
                let grid = landopp::spectral::BandGrid::of(r);
                views.insert(k.clone(), (v, r.nodata));
                grids.push((k.as_str(), grid));
            }
            for (k, r) in &lent {
                let (grid, v) = lent_band(k, r)?;
                views.insert(k.clone(), (v, r.nodata));
                grids.push((k.as_str(), grid));
            }
            let grid = landopp::spectral::BandGrid::common(&grids)?;
            // masks given as typed arrays are read in place too
            let (scl, qa) = (scl.map(MaskSource::of).transpose()?, qa.map(MaskSource::of).transpose()?);
            let (scl, qa) =
                (scl.as_ref().map(|m| m.mask("scl")).transpose()?, qa.as_ref().map(|m| m.mask("qaPixel")).transpose()?);
            let opts = settings.options(scl, qa);
            let names: Vec<&str> = indices.iter().map(String::as_str).collect();
            match out {
                None => landopp::spectral::index_views(&views, grid, &names, &opts).map(SpectralOut::Fresh),
                Some(mut out) => {
                    let mut arrays = Vec::with_capacity(names.len());
                    for k in &names {
                        arrays.push(
                            out.remove(*k).ok_or_else(|| {
                                landopp::Error::InvalidInput(format!("out has no Float32Array for {k}"))
                            })?,
                        );
                    }
                    {
                        // SAFETY: the caller lent these arrays for the duration of the call (the
                        // documented contract of `out`, like the lent columns of `score`); they
                        // are distinct JS objects checked below not to share memory.
                        #[allow(unsafe_code)]
                        let mut slices: Vec<&mut [f32]> = arrays.iter_mut().map(|a| unsafe { a.as_mut() }).collect();
                        let spans: Vec<(usize, usize)> =
                            slices.iter().map(|s| (s.as_ptr() as usize, s.as_ptr() as usize + 4 * s.len())).collect();
                        if spans.iter().enumerate().any(|(i, a)| spans[i + 1..].iter().any(|b| a.0 < b.1 && b.0 < a.1))
                        {
                            return Err(landopp::Error::InvalidInput(
                                "out: two indices were given the same (or overlapping) array".into(),
                            ));
                        }
                        landopp::spectral::index_views_into(&views, grid, &names, &opts, &mut slices)?;
                    }
                    *written = arrays;
                    Ok(SpectralOut::Into(grid.clone()))
                }
            }
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        match output.map_err(|e| reject_with_code(&env, e))? {
            SpectralOut::Fresh(r) => Ok(raster_js(r)),
            SpectralOut::Into(g) => Ok(RasterResult {
                width: g.width as u32,
                height: g.height as u32,
                transform: g.transform.0.to_vec(),
                crs: g.crs.as_ref().map(|c| c.to_user_string()),
                nodata: Some(f64::NAN),
                bands: std::mem::take(&mut self.written)
                    .into_iter()
                    .zip(&self.indices)
                    .map(|(a, k)| RasterBand {
                        dtype: "Float32".into(),
                        data: Either8::B(a),
                        description: Some(k.clone()),
                    })
                    .collect(),
            }),
        }
    }
}

/// Spectral indices of the Awesome Spectral Indices catalogue (`NDVI`, `EVI`, `SAVI`, ...) from
/// band rasters (file paths or typed arrays) keyed by catalogue band name (`N`, `R`, `G`, `B`,
/// `S1`, ...), scaled per sensor and masked by SCL / QA_PIXEL; resolves to one Float32 band per
/// index (nodata NaN), as Python's `landopp.spectral_indices`.
#[napi(ts_return_type = "Promise<RasterResult>")]
pub fn spectral_indices(
    bands: std::collections::HashMap<String, Either<String, RasterInput>>,
    indices: Vec<String>,
    options: Option<SpectralOptions>,
) -> napi::Result<AsyncTask<SpectralTask>> {
    let o = options.unwrap_or_default();
    let mut sorted: Vec<(String, Either<String, RasterInput>)> = bands.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let bands =
        sorted.into_iter().map(|(k, v)| RasterSource::from_js(v).map(|r| (k, r))).collect::<napi::Result<Vec<_>>>()?;
    let sensor = o.sensor.unwrap_or_else(|| "reflectance".into());
    let settings = (|| {
        let sens = landopp::spectral::Sensor::from_name(&sensor, o.baseline.as_deref())?;
        let to_u8 = |v: Option<Vec<f64>>, what: &str| -> landopp::Result<Option<Vec<u8>>> {
            v.map(|v| {
                v.into_iter()
                    .map(|x| {
                        u8::try_from(whole(x, what)?)
                            .map_err(|_| landopp::Error::InvalidInput(format!("{what} value {x} > 255")))
                    })
                    .collect()
            })
            .transpose()
        };
        let json = serde_json::json!({
            "sensor": sens,
            "scl_masked": to_u8(o.scl_masked, "sclMasked")?,
            "qa_bits": to_u8(o.qa_bits, "qaBits")?,
            "constants": o.constants.unwrap_or_default(),
        });
        serde_json::from_value::<landopp::spectral::ImagerySettings>(json)
            .map_err(|e| landopp::Error::InvalidInput(format!("spectral options: {e}")))
    })();
    Ok(AsyncTask::new(SpectralTask {
        bands,
        indices,
        settings,
        scl: o.scl.map(RasterSource::from_js).transpose()?,
        qa: o.qa_pixel.map(RasterSource::from_js).transpose()?,
        out: o.out,
        written: Vec::new(),
    }))
}

/// An in-memory raster from JS: one typed array per band (row-major, `width × height` cells),
/// a GDAL geotransform, an optional CRS and nodata. The arrays are read off the JS thread while
/// the call runs: do not write to them until its Promise settles.
#[napi(object)]
pub struct RasterInput {
    pub width: f64,
    pub height: f64,
    /// GDAL geotransform `[x0, dx, rx, y0, ry, dy]`.
    pub transform: Vec<f64>,
    pub crs: Option<String>,
    pub nodata: Option<f64>,
    /// One typed array per band, kept in its type (a `Uint16Array` Sentinel-2 band stays u16:
    /// the spectral kernel's fast integer path, a quarter of the memory of a `Float64Array`).
    #[napi(
        ts_type = "Array<Float64Array | Float32Array | Uint16Array | Int16Array | Uint8Array | Int8Array | Int32Array | Uint32Array>"
    )]
    pub bands: Vec<Cells>,
}

/// A raster argument: a path, or typed arrays from JS read on the worker thread (the call's
/// Promise settles before the caller may write to them again), so a large in-memory raster
/// is not copied on the JS thread and its errors reject with the core's codes.
pub enum RasterSource {
    Path(String),
    Js(RasterInput),
    Taken,
}

impl RasterSource {
    fn from_js(v: Either<String, RasterInput>) -> napi::Result<Self> {
        Ok(match v {
            Either::A(p) => RasterSource::Path(p),
            Either::B(r) => RasterSource::Js(r),
        })
    }

    /// A raster from JS typed arrays, each band copied into the core's own (in its type).
    fn from_input(r: RasterInput) -> landopp::Result<landopp::Raster> {
        let g = r.grid()?;
        let bands = r.bands.iter().map(|b| view(b).to_band(g.height, g.width)).collect::<landopp::Result<Vec<_>>>()?;
        landopp::Raster::new(bands, g.transform, g.crs, r.nodata)
    }

    fn load(self) -> landopp::Result<landopp::Raster> {
        match self {
            RasterSource::Path(p) => landopp::Raster::open(p),
            RasterSource::Js(r) => Self::from_input(r),
            RasterSource::Taken => Err(landopp::Error::InvalidInput("raster already used".into())),
        }
    }
}

/// Polygons from JS: a vector file path (with its layer) or a GeoJSON FeatureCollection object.
fn parcels_from_js(
    v: serde_json::Value,
    layer: Option<&str>,
    id_field: Option<&str>,
    duplicate_ids: Option<&str>,
) -> landopp::Result<landopp::Parcels> {
    let dup = landopp::vector::DuplicateIds::parse(duplicate_ids.unwrap_or("refuse"))?;
    match v {
        serde_json::Value::String(path) => landopp::Parcels::read_with(&path, layer, id_field, dup),
        v => {
            let layer = vector::geojson::parse(&v.to_string(), "geojson", std::path::Path::new("<geojson>"))?;
            landopp::Parcels::from_layer_with(layer, id_field, dup)
        }
    }
}

#[napi(object)]
pub struct NamedColumn {
    pub name: String,
    pub values: Float64Array,
}

#[napi(object)]
#[derive(Default)]
pub struct ZonalOptionsJs {
    /// Statistics (`count`, `sum`, `mean`, `min`, `max`, `stdev`, `median`, `quantile(q=0.9)`,
    /// `majority`, `minority`, `variety`, `frac`, `weighted_mean`, `circular_mean`...). Default
    /// `["count", "mean"]`.
    pub stats: Option<Vec<String>>,
    /// 0-based band.
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
            let stats = o
                .stats
                .unwrap_or_else(|| vec!["count".into(), "mean".into()])
                .iter()
                .map(|s| landopp::zonal::Stat::parse(s))
                .collect::<landopp::Result<Vec<_>>>()?;
            let opts = landopp::zonal::ZonalOptions {
                stats,
                band: whole(o.band.unwrap_or(0.0), "band")?,
                min_coverage_frac: o.min_coverage_frac.unwrap_or(0.0),
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
    polygons: serde_json::Value,
    options: Option<ZonalOptionsJs>,
) -> napi::Result<AsyncTask<ZonalTask>> {
    Ok(AsyncTask::new(ZonalTask {
        raster: RasterSource::from_js(raster)?,
        polygons,
        opts: options.unwrap_or_default(),
    }))
}

/// A JS `Float64Array` lent to the core without copying (napi-rs keeps a reference to it, released
/// on the JS thread whenever the last holder drops).
struct JsColumn(Float64Array);

impl std::fmt::Debug for JsColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Float64Array({})", self.0.len())
    }
}

impl landopp::ColumnStore for JsColumn {
    fn as_slice(&self) -> &[f64] {
        &self.0
    }
}

/// How numeric columns reach the core.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Lend {
    /// Borrowed in place for one call (the caller must not write to the arrays until it settles).
    Borrow,
    /// Copied (in parallel), for objects kept in Rust across calls.
    Copy,
}

pub(crate) fn table_from_js(table: FeatureTableJs, lend: Lend) -> landopp::Result<landopp::FeatureTable> {
    columns_into_table(std::sync::Arc::new(table.ids.0), table.columns, lend)
}

/// A feature table over `ids` from JS columns.
fn columns_into_table(
    ids: std::sync::Arc<Vec<String>>,
    columns: Vec<FeatureColumnJs>,
    lend: Lend,
) -> landopp::Result<landopp::FeatureTable> {
    use rayon::prelude::*;
    let copy = |c: &FeatureColumnJs| lend == Lend::Copy && c.categories.is_none();
    // numeric columns to copy are copied out of JS memory in parallel (the JS thread waits, briefly)
    let slices: Vec<&[f64]> = columns.iter().map(|c| if copy(c) { &c.values[..] } else { &[][..] }).collect();
    let mut owned: Vec<Vec<f64>> = slices.par_iter().map(|v| v.to_vec()).collect();
    let mut t = landopp::FeatureTable::from_shared_ids(ids);
    for (k, c) in columns.into_iter().enumerate() {
        let copied = copy(&c);
        match c.categories {
            Some(cats) => t.add_coded(c.name, &c.values, cats, Default::default())?,
            None if copied => t.add_column(c.name, std::mem::take(&mut owned[k]), Default::default())?,
            None => t.add_values(c.name, landopp::Values::from_store(JsColumn(c.values)), Default::default())?,
        }
    }
    Ok(t)
}

fn profile_text(v: serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s,
        v => v.to_string(),
    }
}

type SharedIndex = std::sync::Arc<std::sync::RwLock<landopp::search::SearchIndex>>;

fn read_index(i: &SharedIndex) -> landopp::Result<std::sync::RwLockReadGuard<'_, landopp::search::SearchIndex>> {
    i.read().map_err(|_| landopp::Error::InvalidInput("search index poisoned by an earlier panic".into()))
}

/// Parcels + features + scores in an R-tree, built once and queried many times (concurrently:
/// queries share a read lock; `rescore` takes the write lock).
#[napi]
pub struct SearchIndex {
    inner: SharedIndex,
}

#[napi(object)]
#[derive(Default)]
pub struct SearchIndexOptions {
    /// Id attribute of a parcel file (default: the feature id).
    pub id_field: Option<String>,
    /// Layer of a multi-layer file.
    pub layer: Option<String>,
    /// Repeated parcel ids: `'refuse'` (default) or `'suffix'`.
    pub duplicate_ids: Option<String>,
}

/// Where a [`BuildIndexTask`] gets its parcels.
enum ParcelSource {
    /// A parcel file, read on its own thread since the call (while the table crossed).
    Reading(std::sync::mpsc::Receiver<landopp::Result<landopp::Parcels>>),
    /// A GeoJSON FeatureCollection, parsed in the task.
    GeoJson(serde_json::Value),
    /// Already handed to the task's `compute`.
    Taken,
}

pub struct BuildIndexTask {
    parcels: ParcelSource,
    table: Option<landopp::FeatureTable>,
    profile: Option<String>,
    opts: SearchIndexOptions,
}

impl Task for BuildIndexTask {
    type Output = landopp::Result<landopp::search::SearchIndex>;
    type JsValue = SearchIndex;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let parcels = std::mem::replace(&mut self.parcels, ParcelSource::Taken);
        let table = self.table.take();
        let profile = self.profile.take();
        let o = std::mem::take(&mut self.opts);
        Ok(landopp::error::catch_panic(|| {
            let p = match parcels {
                ParcelSource::Reading(rx) => rx
                    .recv()
                    .map_err(|_| landopp::Error::InvalidInput("the parcel reader stopped without a result".into()))??,
                ParcelSource::GeoJson(v) => {
                    parcels_from_js(v, o.layer.as_deref(), o.id_field.as_deref(), o.duplicate_ids.as_deref())?
                }
                ParcelSource::Taken => return Err(landopp::Error::InvalidInput("parcels already used".into())),
            };
            let t = table.ok_or_else(|| landopp::Error::InvalidInput("feature table already used".into()))?;
            let prof = profile.map(|p| landopp::scoring::Profile::parse(&p)).transpose()?;
            landopp::search::SearchIndex::from_parcels(p, t, prof.as_ref())
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let idx = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(SearchIndex { inner: std::sync::Arc::new(std::sync::RwLock::new(idx)) })
    }
}

/// Build a [`SearchIndex`] off the JS thread: parcels (file path or GeoJSON FeatureCollection,
/// ids matching the table's, same order), the feature table (as `features()` returns it) and an
/// optional scoring profile (object or JSON/TOML text).
#[napi(ts_return_type = "Promise<SearchIndex>")]
pub fn build_search_index(
    env: Env,
    parcels: serde_json::Value,
    #[napi(ts_arg_type = "FeatureTableJs")] table: Unknown<'_>,
    profile: Option<serde_json::Value>,
    options: Option<SearchIndexOptions>,
) -> napi::Result<AsyncTask<BuildIndexTask>> {
    let opts = options.unwrap_or_default();
    // a parcel file starts reading now, on a thread of its own, while the table crosses from JS
    // on this one (1 M ids: ~0.1 s of JS-thread work the read no longer waits for)
    let parcels = match parcels {
        serde_json::Value::String(path) => {
            let (tx, rx) = std::sync::mpsc::channel();
            let (layer, id_field, dup) = (opts.layer.clone(), opts.id_field.clone(), opts.duplicate_ids.clone());
            std::thread::Builder::new()
                .name("landopp-read-parcels".into())
                .spawn(move || {
                    // the receiver is gone only when the call failed below: the result is dropped
                    let read = || {
                        let dup = landopp::vector::DuplicateIds::parse(dup.as_deref().unwrap_or("refuse"))?;
                        landopp::Parcels::read_with(&path, layer.as_deref(), id_field.as_deref(), dup)
                    };
                    let _ = tx.send(landopp::error::catch_panic(read));
                })
                .map_err(|e| reject_with_code(&env, landopp::Error::io("<thread>", e)))?;
            ParcelSource::Reading(rx)
        }
        v => ParcelSource::GeoJson(v),
    };
    let v = table.value();
    // SAFETY: `v` is this call's argument, converted in its own scope like napi-rs's glue does.
    let table = unsafe { FeatureTableJs::from_napi_value(v.env, v.value) }?;
    let t = guard(&env, || table_from_js(table, Lend::Copy))?;
    Ok(AsyncTask::new(BuildIndexTask { parcels, table: Some(t), profile: profile.map(profile_text), opts }))
}

pub struct QueryTask {
    index: SharedIndex,
    query: serde_json::Value,
    split: bool,
}

/// A search page for JS: the page as JSON text (hits without explanations) and, when the query
/// asks for them, the explanations as numbers in one Float64Array — per hit, per criterion
/// `[raw, transformed, weight, contribution, missing]` — with the criterion names once and the
/// category labels (if any) as JSON. `landopp.js` builds a hit's `explanation` objects when it is
/// first read. Large JSON strings would land in V8's large-object space and make every few
/// queries pay a full garbage collection.
#[napi(object, object_from_js = false)]
pub struct QueryParts {
    pub page: String,
    pub criteria: Option<Vec<String>>,
    pub values: Option<Float64Array>,
    /// JSON `[[label | null, ...], ...]` per hit, only when a criterion has labels.
    pub labels: Option<String>,
    /// The method's own terms when it is not additive (`factor` for weighted product;
    /// `weightedValue`, `gapToIdeal`, `gapToAntiIdeal` for TOPSIS): their names, and the values
    /// per hit, per criterion, in that order.
    pub extra_names: Option<Vec<String>>,
    pub extra: Option<Float64Array>,
}

/// What a query produces off the JS thread (typed arrays are made on the JS thread).
pub struct QueryOut {
    page: String,
    explained: Option<Explained>,
}

/// A page's explanations as they cross: criterion names, the five numbers per hit and criterion,
/// labels as JSON, and the method's own terms (names, values) when it is not additive.
struct Explained {
    criteria: Vec<String>,
    values: Vec<f64>,
    labels: Option<String>,
    extra: Option<(Vec<String>, Vec<f64>)>,
}

fn run_query(index: &SharedIndex, query: serde_json::Value, split: bool) -> landopp::Result<QueryOut> {
    let mut q: landopp::search::Query =
        serde_json::from_value(query).map_err(|e| landopp::Error::InvalidInput(format!("query: {e}")))?;
    let idx = read_index(index)?;
    if !split {
        return Ok(QueryOut { page: to_json(&idx.query(&q)?)?, explained: None });
    }
    let explain = std::mem::replace(&mut q.explain, false);
    let page = idx.query(&q)?;
    let explained = if explain && idx.has_scores() {
        let ex: Vec<Vec<landopp::scoring::Contribution>> = page.hits.iter().map(|h| idx.explanation(h.row)).collect();
        let criteria = ex.first().map(|e| e.iter().map(|c| c.criterion.clone()).collect()).unwrap_or_default();
        let mut values = Vec::with_capacity(ex.iter().map(|e| e.len() * 5).sum());
        for c in ex.iter().flatten() {
            values.extend([c.raw, c.transformed, c.weight, c.contribution, c.missing as u8 as f64]);
        }
        let labels = if ex.iter().flatten().any(|c| c.label.is_some()) {
            let l: Vec<Vec<Option<&str>>> = ex.iter().map(|e| e.iter().map(|c| c.label.as_deref()).collect()).collect();
            Some(to_json(&l)?)
        } else {
            None
        };
        // non-additive methods are explained by their own terms (the core fills them per method)
        let first = ex.iter().flatten().next();
        let extra = match first {
            Some(c) if c.factor.is_some() => {
                Some((vec!["factor".to_string()], ex.iter().flatten().map(|c| c.factor.unwrap_or(f64::NAN)).collect()))
            }
            Some(c) if c.weighted_value.is_some() => Some((
                vec!["weightedValue".into(), "gapToIdeal".into(), "gapToAntiIdeal".into()],
                ex.iter()
                    .flatten()
                    .flat_map(|c| {
                        [c.weighted_value, c.gap_to_ideal, c.gap_to_anti_ideal].map(|v| v.unwrap_or(f64::NAN))
                    })
                    .collect(),
            )),
            _ => None,
        };
        Some(Explained { criteria, values, labels, extra })
    } else {
        None
    };
    Ok(QueryOut { page: to_json(&page)?, explained })
}

fn query_parts(out: QueryOut) -> QueryParts {
    match out.explained {
        Some(Explained { criteria, values, labels, extra }) => {
            let (extra_names, extra) = match extra {
                Some((n, v)) => (Some(n), Some(Float64Array::new(v))),
                None => (None, None),
            };
            QueryParts {
                page: out.page,
                criteria: Some(criteria),
                values: Some(Float64Array::new(values)),
                labels,
                extra_names,
                extra,
            }
        }
        None => {
            QueryParts { page: out.page, criteria: None, values: None, labels: None, extra_names: None, extra: None }
        }
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> landopp::Result<String> {
    serde_json::to_string(v).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
}

impl Task for QueryTask {
    type Output = landopp::Result<QueryOut>;
    type JsValue = QueryParts;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        Ok(landopp::error::catch_panic(|| run_query(&self.index, std::mem::take(&mut self.query), self.split)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map(query_parts).map_err(|e| reject_with_code(&env, e))
    }
}

pub struct RescoreTask {
    index: SharedIndex,
    profile: String,
}

impl Task for RescoreTask {
    type Output = landopp::Result<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let index = self.index.clone();
        let profile = self.profile.clone();
        Ok(landopp::error::catch_panic(|| {
            let p = landopp::scoring::Profile::parse(&profile)?;
            // score outside the lock, swap in under it: queries keep running meanwhile
            let scores = {
                let idx = read_index(&index)?;
                landopp::scoring::score(idx.features(), &p)?
            };
            let mut w = index.write().map_err(|_| landopp::Error::InvalidInput("search index poisoned".into()))?;
            w.set_scores(scores, p);
            Ok(())
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        output.map_err(|e| reject_with_code(&env, e))
    }
}

/// Hits of many queries as columns (one entry per hit).
#[napi(object, object_from_js = false)]
pub struct HitTableJs {
    /// Position of the query in the batch.
    pub query: Uint32Array,
    /// Row of the parcel in the index (`index.ids()[row]` is its id).
    pub row: Uint32Array,
    pub score: Float64Array,
    /// Rank among all parcels (the profile's tie rule; NaN without a profile).
    pub rank: Float64Array,
    pub excluded: Uint8Array,
    pub sort_value: Float64Array,
    /// Matches of each query (all pages).
    pub totals: Vec<u32>,
    /// Criterion names of `contribution`.
    pub criteria: Vec<String>,
    /// Per hit, per criterion contribution (hits × criteria, row-major); empty unless every query
    /// keeps `explain`.
    pub contribution: Float64Array,
}

pub struct QueryManyTask {
    index: SharedIndex,
    queries: String,
}

impl Task for QueryManyTask {
    type Output = landopp::Result<landopp::search::HitTable>;
    type JsValue = HitTableJs;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let queries = std::mem::take(&mut self.queries);
        Ok(landopp::error::catch_panic(|| {
            let qs: Vec<landopp::search::Query> =
                serde_json::from_str(&queries).map_err(|e| landopp::Error::InvalidInput(format!("queries: {e}")))?;
            read_index(&self.index)?.query_many(&qs)
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        let t = output.map_err(|e| reject_with_code(&env, e))?;
        Ok(HitTableJs {
            query: Uint32Array::new(t.query),
            row: Uint32Array::new(t.row),
            score: Float64Array::new(t.score),
            rank: Float64Array::new(t.rank),
            excluded: Uint8Array::new(t.excluded.into_iter().map(u8::from).collect()),
            sort_value: Float64Array::new(t.sort_value),
            totals: t.totals.into_iter().map(|v| v as u32).collect(),
            criteria: t.criteria,
            contribution: Float64Array::new(t.contribution),
        })
    }
}

#[napi]
impl SearchIndex {
    /// Run many queries (a JSON array text; `queryMany()` in landopp.js takes the array) at once,
    /// parsed and run in parallel off the JS thread; resolves to the hits as typed arrays (one
    /// entry per hit) — for batch work over thousands of areas.
    #[napi(ts_return_type = "Promise<HitTableJs>")]
    pub fn query_many_json(&self, queries_json: String) -> AsyncTask<QueryManyTask> {
        AsyncTask::new(QueryManyTask { index: self.inner.clone(), queries: queries_json })
    }

    /// Parcel ids in index order (`row` of a hit indexes this array).
    #[napi]
    pub fn ids(&self, env: Env) -> napi::Result<Vec<String>> {
        guard(&env, || Ok(read_index(&self.inner)?.features().ids().to_vec()))
    }

    /// Number of parcels.
    #[napi(getter)]
    pub fn length(&self, env: Env) -> napi::Result<u32> {
        guard(&env, || Ok(read_index(&self.inner)?.len() as u32))
    }

    /// Run a query off the JS thread; resolves to the page's parts (`query()` in landopp.js
    /// assembles them). Query: `{aoi, crs, filters, include_excluded, sort_by, ascending, limit,
    /// cursor, explain}`, as in Rust and Python.
    #[napi(ts_return_type = "Promise<QueryParts>")]
    pub fn query_json(&self, query: serde_json::Value) -> AsyncTask<QueryTask> {
        AsyncTask::new(QueryTask { index: self.inner.clone(), query, split: true })
    }

    /// The query off the JS thread, resolving to the whole page (explanations inline) as one
    /// JSON text in `page` — for services that forward it as the response body unparsed.
    #[napi(ts_return_type = "Promise<QueryParts>")]
    pub fn query_text(&self, query: serde_json::Value) -> AsyncTask<QueryTask> {
        AsyncTask::new(QueryTask { index: self.inner.clone(), query, split: false })
    }

    /// The same query on the JS thread (sub-millisecond for small areas).
    #[napi]
    pub fn query_json_sync(&self, env: Env, query: serde_json::Value) -> napi::Result<QueryParts> {
        guard(&env, || run_query(&self.inner, query, true).map(query_parts))
    }

    /// Re-score with a new profile without recomputing features (off the JS thread; queries
    /// running meanwhile see the old scores).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn rescore(&self, profile: serde_json::Value) -> AsyncTask<RescoreTask> {
        AsyncTask::new(RescoreTask { index: self.inner.clone(), profile: profile_text(profile) })
    }

    /// Sites of adjacent matching parcels: `[{parcel_ids, acres, score}]`, largest first.
    #[napi(ts_return_type = "any")]
    pub fn assemble_sites(
        &self,
        env: Env,
        query: serde_json::Value,
        tolerance_m: Option<f64>,
        min_acres: Option<f64>,
    ) -> napi::Result<Json> {
        guard(&env, || {
            let q: landopp::search::Query =
                serde_json::from_value(query).map_err(|e| landopp::Error::InvalidInput(format!("query: {e}")))?;
            let sites =
                read_index(&self.inner)?.assemble_sites(&q, tolerance_m.unwrap_or(0.0), min_acres.unwrap_or(0.0))?;
            serde_json::to_value(&sites).map(Json).map_err(|e| landopp::Error::InvalidInput(e.to_string()))
        })
    }
}
