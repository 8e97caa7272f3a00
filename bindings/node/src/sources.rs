//! Live data sources: STAC item search and the best scene per parcel; county parcel services;
//! SSURGO soils from Soil Data Access.

use crate::convert::{config_source, parcels_from_js, to_value, Json};
use crate::ml::Job;
use landopp::config::Config;
use landopp::sources::stac::{ImageryRecord, SceneChoiceOptions, StacSearch};
use napi::bindgen_prelude::*;
use napi_derive::napi;

/// Search a STAC API for items off the JS thread, following `next` links: resolves to
/// `{items, pages, matched, filteredOut}`, one imagery record per item (scene id, capture
/// date-time, cloud cover, gsd, platform, assets with absolute hrefs). Failures reject with
/// `code: 'REMOTE'` naming the URL (without its query) and the HTTP status.
#[napi(ts_return_type = "Promise<import('./types').StacResults>")]
pub fn stac_search(
    #[napi(ts_arg_type = "import('./types').StacSearch")] query: serde_json::Value,
) -> AsyncTask<Job<Json>> {
    Job::new(move || {
        let q = StacSearch::from_source(config_source(query))?;
        Ok(Json(to_value(&landopp::sources::stac::search(&q)?)?))
    })
}

/// For every parcel (a vector file path or a GeoJSON FeatureCollection), the item that sees it
/// clearest: each item's `scl` / `qa_pixel` mask is read over the parcels' extent and a parcel's
/// clear share is the part of its area on clear cells. `items`: the records `stacSearch` gave.
/// Resolves to `{best, clear}`: per parcel the best item's index (or null), and `clear[i][p]`.
#[napi(ts_return_type = "Promise<import('./types').SceneChoice>")]
pub fn best_scenes(
    #[napi(ts_arg_type = "import('./types').ImageryRecord[]")] items: serde_json::Value,
    #[napi(ts_arg_type = "string | import('geojson').FeatureCollection")] parcels: serde_json::Value,
    #[napi(ts_arg_type = "import('./types').SceneChoiceOptions")] options: Option<serde_json::Value>,
) -> AsyncTask<Job<Json>> {
    Job::new(move || {
        let items = Vec::<ImageryRecord>::from_value(items)?;
        let opts = SceneChoiceOptions::from_value(options.unwrap_or(serde_json::Value::Null))?;
        let p = parcels_from_js(parcels, None, None, None)?;
        let c = landopp::sources::stac::best_scenes(&items, &p.geometries, p.crs.as_ref(), &opts)?;
        Ok(Json(to_value(&c)?))
    })
}

/// Every feature of an ArcGIS REST feature layer matching the query (`{url, where, out_fields,
/// bbox, page_size, max_features, timeout_s}`), paged to the end off the JS thread: resolves to a
/// GeoJSON FeatureCollection in WGS 84, as `readLayer` gives (dates as ISO strings named in
/// `'landopp:field_types'`). Failures reject with `code: 'REMOTE'`.
#[napi(ts_return_type = "Promise<import('geojson').FeatureCollection>")]
pub fn arcgis_features(
    #[napi(ts_arg_type = "import('./types').ArcGisQuery")] query: serde_json::Value,
) -> AsyncTask<Job<Json>> {
    Job::new(move || {
        let q = landopp::sources::features::ArcGisQuery::from_source(config_source(query))?;
        Ok(Json(landopp::vector::geojson::to_json(&landopp::sources::features::arcgis(&q)?)))
    })
}

/// Every item of an OGC API – Features collection (`{url, collection, bbox, limit, max_features,
/// timeout_s}`), following `next` links off the JS thread: resolves to a GeoJSON
/// FeatureCollection, as `readLayer` gives.
#[napi(ts_return_type = "Promise<import('geojson').FeatureCollection>")]
pub fn ogc_features(
    #[napi(ts_arg_type = "import('./types').OgcQuery")] query: serde_json::Value,
) -> AsyncTask<Job<Json>> {
    Job::new(move || {
        let q = landopp::sources::features::OgcQuery::from_source(config_source(query))?;
        Ok(Json(landopp::vector::geojson::to_json(&landopp::sources::features::ogc_features(&q)?)))
    })
}

/// Check a parcels table — a vector file path or a GeoJSON FeatureCollection — against a
/// declarative table schema (`{id_field, crs, geometry, columns}`; an object, JSON/TOML text or a
/// file) off the JS thread: resolves to `{rows, violations: [{row, fid, column, rule, message}],
/// notListed}`, every violation by row (none: valid).
#[napi(ts_return_type = "Promise<import('./types').ValidationReport>")]
pub fn validate(
    #[napi(ts_arg_type = "string | import('geojson').FeatureCollection")] data: serde_json::Value,
    #[napi(ts_arg_type = "import('./types').TableSchema | string")] schema: serde_json::Value,
) -> AsyncTask<Job<Json>> {
    Job::new(move || {
        let schema = landopp::vector::validate::TableSchema::from_source(config_source(schema))?;
        let layer = match data {
            serde_json::Value::String(p) => landopp::vector::read_layer(&p, &Default::default())?,
            v => landopp::vector::geojson::parse_value(&v, "geojson", std::path::Path::new("<geojson>"))?,
        };
        Ok(Json(to_value(&landopp::vector::validate::validate(&layer, &schema)?)?))
    })
}

/// SSURGO soils under the parcels (a vector file path or a GeoJSON FeatureCollection) from USDA
/// Soil Data Access (`{url, parcels_per_request, muaggatt, timeout_s}`, all optional) off the JS
/// thread: resolves to `{mapunits, component, mapunit, muaggatt, requests}` — the map-unit
/// polygons as a GeoJSON FeatureCollection (WGS 84, `mukey`, `mupolygonkey`) and each table as
/// `{columns, rows}` (values as SDA sends them: text or null). Failures reject with
/// `code: 'REMOTE'`.
#[napi(
    ts_return_type = "Promise<{ mapunits: import('geojson').FeatureCollection, component: import('./types').SdaTable, mapunit: import('./types').SdaTable, muaggatt: import('./types').SdaTable, requests: number }>"
)]
pub fn soil_data_access(
    #[napi(ts_arg_type = "string | import('geojson').FeatureCollection")] parcels: serde_json::Value,
    #[napi(ts_arg_type = "import('./types').SdaQuery")] query: Option<serde_json::Value>,
) -> AsyncTask<Job<Json>> {
    Job::new(move || {
        let q = landopp::sources::sda::SdaQuery::from_value(query.unwrap_or(serde_json::Value::Null))?;
        let p = parcels_from_js(parcels, None, None, None)?;
        let d = landopp::sources::sda::soil_data_access(&p.geometries, p.crs.as_ref(), &q)?;
        Ok(Json(serde_json::json!({
            "mapunits": landopp::vector::geojson::to_json(&d.mapunits),
            "component": to_value(&d.component)?,
            "mapunit": to_value(&d.mapunit)?,
            "muaggatt": to_value(&d.muaggatt)?,
            "requests": d.requests,
        })))
    })
}
