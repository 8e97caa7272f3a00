//! Readers, writers, layer and raster info, CRS helpers.

use crate::convert::{raster_js, whole, Json, RasterResult};
use crate::error::{guard, reject_with_code};
use landopp::vector::{self, ReadOptions};
use landopp::{Crs, Transformer, Window};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

#[napi(object)]
#[derive(Clone, Default)]
pub struct ReadRasterOptions {
    /// `[row, col, rows, cols]`.
    pub window: Option<Vec<f64>>,
    /// Band number (1-based, as GDAL numbers bands); default all bands.
    pub band: Option<f64>,
    /// Read this overview (0 = the finest) instead of the full image; the window is in its cells.
    pub overview: Option<f64>,
    /// Read the coarsest image (an overview, or the full one) whose cells are no larger than
    /// this, in CRS units.
    pub resolution: Option<f64>,
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
            let window = match opts.window.as_deref() {
                Some([r, c, h, w]) => Some(Window::new(
                    whole(*r, "window row")?,
                    whole(*c, "window col")?,
                    whole(*h, "window rows")?,
                    whole(*w, "window cols")?,
                )),
                Some(other) => {
                    return Err(landopp::Error::InvalidInput(format!(
                        "window must be [row, col, rows, cols], got {other:?}"
                    )))
                }
                None => None,
            };
            let band = opts.band.map(|b| whole(b, "band")).transpose()?;
            let overview = opts.overview.map(|k| whole(k, "overview")).transpose()?;
            let resolution = opts.resolution;
            landopp::Raster::read_with(&path, &landopp::raster::ReadOptions { window, band, overview, resolution })
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
                let dup = landopp::vector::DuplicateIds::parse_or_default(o.duplicate_ids.as_deref())?;
                let p = landopp::Parcels::from_layer_with(l, o.id_field.as_deref(), dup)?;
                let mut fc = vector::geojson::to_json(&p.to_layer());
                if let Some(feats) = fc["features"].as_array_mut() {
                    for (i, f) in feats.iter_mut().enumerate() {
                        f["id"] = serde_json::json!(p.ids[i]);
                        f["properties"]["geometry_status"] = crate::convert::to_value(&p.status[i]).unwrap_or_default();
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
#[napi(ts_return_type = "Promise<import('geojson').FeatureCollection>")]
pub fn read_layer(path: String, options: Option<ReadLayerOptions>) -> AsyncTask<ReadLayerTask> {
    AsyncTask::new(ReadLayerTask { path, opts: options.unwrap_or_default() })
}

/// Feature layers of a vector file.
#[napi]
pub fn list_layers(env: Env, path: String) -> napi::Result<Vec<String>> {
    guard(&env, || vector::list_layers(&path))
}

/// A gdalinfo/ogrinfo-like summary.
#[napi(ts_return_type = "import('./types').Info")]
pub fn info(env: Env, path: String) -> napi::Result<Json> {
    guard(&env, || {
        let i = landopp::info::info(&path)?;
        crate::convert::to_value(&i).map(Json)
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
    #[napi(ts_arg_type = "import('geojson').FeatureCollection | import('geojson').Geometry[]")]
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
pub fn write_layer(
    env: Env,
    path: String,
    #[napi(ts_arg_type = "import('geojson').FeatureCollection")] geojson: serde_json::Value,
    crs: Option<String>,
) -> napi::Result<()> {
    guard(&env, || {
        let mut layer = vector::geojson::parse(&geojson.to_string(), "layer", std::path::Path::new("<argument>"))?;
        if let Some(c) = crs {
            layer.crs = Some(Crs::from_user_input(&c)?);
        }
        vector::write_layer(&path, &layer)
    })
}
