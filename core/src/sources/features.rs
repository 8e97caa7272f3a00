//! County parcel services: ArcGIS REST feature layers (FeatureServer / MapServer) and OGC API –
//! Features collections, paged to the end into one [`VectorLayer`] with typed attributes.
//!
//! - [`arcgis`]: reads the layer's description (`?f=json`: fields and their types, the page size
//!   the server allows, the object id field), then `query` pages of GeoJSON ordered by object id
//!   (`resultOffset` / `resultRecordCount`) while the server says `exceededTransferLimit` or a
//!   page comes back full. Date fields (milliseconds since 1970 in ArcGIS's GeoJSON) become
//!   date-time columns (UTC), integer and double fields stay numbers even when every value on a
//!   page is null.
//! - [`ogc_features`]: `…/collections/{id}/items` pages of `limit` items, following `next`
//!   links.
//!
//! Nothing is returned unless every page arrived: a failure is a `REMOTE` error, never a layer
//! cut short. Pages are asked in order and the features of each page are checked before the next.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{Journal, PageProgress};
use crate::remote::display_url;
use crate::vector::{ColumnData, Timestamp, VectorLayer};
use crate::{Error, Result};

/// An ArcGIS REST feature layer query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ArcGisQuery {
    /// The layer's URL: `https://host/arcgis/rest/services/Parcels/FeatureServer/0` (or
    /// `MapServer/0`).
    pub url: String,
    /// SQL `where` clause (default `1=1`: every feature).
    #[serde(default = "everything", rename = "where")]
    pub where_clause: String,
    /// Fields to return (default: all).
    #[serde(default)]
    pub out_fields: Vec<String>,
    /// `[west, south, east, north]` in WGS 84 degrees: only features intersecting it.
    #[serde(default)]
    pub bbox: Option<[f64; 4]>,
    /// Features per page (default: the layer's `maxRecordCount`, at most 2,000).
    #[serde(default)]
    pub page_size: Option<usize>,
    /// Stop with an error past this many features (default 1,000,000).
    #[serde(default = "default_max_features")]
    pub max_features: usize,
    /// Seconds a request may take (default 120).
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// A file to keep the pages in as they arrive: a fetch that fails leaves it, and the same
    /// query run again with it goes on after the last page it holds (removed on success).
    #[serde(default)]
    pub resume_file: Option<std::path::PathBuf>,
}

/// An OGC API – Features collection query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct OgcQuery {
    /// The collection's items URL (`https://host/ogc/collections/parcels/items`), or the API's
    /// root with `collection`.
    pub url: String,
    /// The collection id, when `url` is the API's root.
    #[serde(default)]
    pub collection: Option<String>,
    /// `[west, south, east, north]` in WGS 84 degrees (CRS84).
    #[serde(default)]
    pub bbox: Option<[f64; 4]>,
    /// Items per page (default 1,000).
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Stop with an error past this many features (default 1,000,000).
    #[serde(default = "default_max_features")]
    pub max_features: usize,
    /// Seconds a request may take (default 120).
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// A file to keep the pages in as they arrive: a fetch that fails leaves it, and the same
    /// query run again with it goes on after the last page it holds (removed on success).
    #[serde(default)]
    pub resume_file: Option<std::path::PathBuf>,
}

fn everything() -> String {
    "1=1".into()
}
fn default_max_features() -> usize {
    1_000_000
}
fn default_timeout() -> f64 {
    120.0
}
fn default_limit() -> usize {
    1000
}

/// Pages followed at most.
const MAX_PAGES: usize = 100_000;

fn check_common(url: &str, bbox: Option<[f64; 4]>, max: usize, timeout: f64, what: &str) -> Result<()> {
    let bad = |m: String| Err(Error::InvalidInput(format!("{what}: {m}")));
    if !crate::remote_path(std::path::Path::new(url)) {
        return bad("url must be an http:// or https:// address".into());
    }
    if bbox.is_some_and(|b| !super::is_wgs84_bbox(b)) {
        return bad("bbox must be [west, south, east, north] in degrees".into());
    }
    if max == 0 {
        return bad("max_features must be at least 1".into());
    }
    if !(0.1..=3600.0).contains(&timeout) {
        return bad(format!("timeout_s {timeout} outside 0.1..=3600"));
    }
    Ok(())
}

impl ArcGisQuery {
    /// A query of every feature of the layer at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        ArcGisQuery {
            url: url.into(),
            where_clause: everything(),
            out_fields: Vec::new(),
            bbox: None,
            page_size: None,
            max_features: default_max_features(),
            timeout_s: default_timeout(),
            resume_file: None,
        }
    }

    /// Check every field (`INVALID_INPUT` naming it).
    pub fn validate(&self) -> Result<()> {
        check_common(&self.url, self.bbox, self.max_features, self.timeout_s, "ArcGIS query")?;
        if self.where_clause.trim().is_empty() {
            return Err(Error::InvalidInput("ArcGIS query: where is empty (use 1=1 for every feature)".into()));
        }
        if matches!(self.page_size, Some(0)) || self.page_size.is_some_and(|p| p > 100_000) {
            return Err(Error::InvalidInput("ArcGIS query: page_size outside 1..=100000".into()));
        }
        Ok(())
    }
}

impl OgcQuery {
    /// A query of every item at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        OgcQuery {
            url: url.into(),
            collection: None,
            bbox: None,
            limit: default_limit(),
            max_features: default_max_features(),
            timeout_s: default_timeout(),
            resume_file: None,
        }
    }

    /// Check every field (`INVALID_INPUT` naming it).
    pub fn validate(&self) -> Result<()> {
        check_common(&self.url, self.bbox, self.max_features, self.timeout_s, "OGC API query")?;
        if !(1..=100_000).contains(&self.limit) {
            return Err(Error::InvalidInput(format!("OGC API query: limit {} outside 1..=100000", self.limit)));
        }
        if self.collection.as_deref().is_some_and(|c| c.is_empty() || c.contains(['/', '?', '#'])) {
            return Err(Error::InvalidInput("OGC API query: collection must be a plain id".into()));
        }
        Ok(())
    }
}

fn remote(url: &str, message: String) -> Error {
    Error::Remote { url: display_url(url), status: None, message }
}

/// `url` with `?`/`&` and the encoded parameters.
fn with_params(url: &str, params: &[(&str, String)]) -> String {
    let mut out = url.to_string();
    for (i, (k, v)) in params.iter().enumerate() {
        let sep = if i == 0 && !url.contains('?') { '?' } else { '&' };
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&super::stac::percent_encode(v));
    }
    out
}

/// Collects pages of GeoJSON features into one layer.
struct Pages {
    features: Vec<Value>,
    crs: Option<Value>,
    max: usize,
}

impl Pages {
    fn take(&mut self, page: &Value, url: &str) -> Result<usize> {
        // ArcGIS answers errors with 200 and an `error` member
        if let Some(code) = page.get("error").map(|e| e["code"].as_u64()) {
            return Err(Error::Remote {
                url: display_url(url),
                status: code.and_then(|c| u16::try_from(c).ok()),
                message: "the service answered an error".into(),
            });
        }
        let Some(f) = page["features"].as_array() else {
            return Err(remote(url, "the answer is not a GeoJSON FeatureCollection".into()));
        };
        if self.crs.is_none() {
            self.crs = page.get("crs").cloned();
        }
        if self.features.len() + f.len() > self.max {
            return Err(remote(
                url,
                format!("more than max_features ({}) features: narrow the query or raise it", self.max),
            ));
        }
        self.features.extend(f.iter().cloned());
        Ok(f.len())
    }

    /// Take back the pages of a resume file: `(the last one said it was the last, pages)`.
    fn resume(&mut self, resumed: &[Value]) -> (bool, usize) {
        for p in resumed {
            if self.crs.is_none() && !p["crs"].is_null() {
                self.crs = Some(p["crs"].clone());
            }
            if let Some(f) = p["features"].as_array() {
                self.features.extend(f.iter().cloned());
            }
        }
        (resumed.last().is_some_and(|p| p["next"].is_null()), resumed.len())
    }

    fn layer(self, name: &str, url: &str) -> Result<VectorLayer> {
        let mut fc = Map::new();
        fc.insert("type".into(), json!("FeatureCollection"));
        if let Some(c) = self.crs {
            fc.insert("crs".into(), c);
        }
        fc.insert("features".into(), Value::Array(self.features));
        crate::vector::geojson::parse_value(&Value::Object(fc), name, std::path::Path::new(&display_url(url)))
    }
}

/// Every feature of an ArcGIS REST feature layer matching the query, as one layer (WGS 84).
pub fn arcgis(q: &ArcGisQuery) -> Result<VectorLayer> {
    arcgis_with(q, &|_| {})
}

/// [`arcgis`], telling `progress` after every page.
pub fn arcgis_with(q: &ArcGisQuery, progress: &dyn Fn(PageProgress)) -> Result<VectorLayer> {
    q.validate()?;
    let (mut journal, resumed) = Journal::open(
        q.resume_file.as_deref(),
        &super::fingerprint(ArcGisQuery { resume_file: None, timeout_s: 0.0, ..q.clone() })?,
    )?;
    let agent = crate::remote::agent_with(std::time::Duration::from_secs_f64(q.timeout_s));
    let base = q.url.split(['?', '#']).next().unwrap_or(&q.url).trim_end_matches('/').to_string();
    let info = crate::remote::json_request(&agent, &with_params(&base, &[("f", "json".into())]), None)?;
    if info.get("error").is_some() {
        return Err(Error::Remote {
            url: display_url(&base),
            status: None,
            message: "the service answered an error".into(),
        });
    }
    let fields: Vec<(String, String)> = info["fields"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|x| Some((x["name"].as_str()?.to_string(), x["type"].as_str().unwrap_or("").to_string())))
                .collect()
        })
        .unwrap_or_default();
    let oid = info["objectIdField"]
        .as_str()
        .map(str::to_string)
        .or_else(|| fields.iter().find(|(_, t)| t == "esriFieldTypeOID").map(|(n, _)| n.clone()));
    let server_max = info["maxRecordCount"].as_u64().map_or(1000, |m| m.clamp(1, 100_000) as usize);
    let page = q.page_size.unwrap_or(server_max.min(2000)).min(server_max);
    let name = info["name"].as_str().unwrap_or("layer").to_string();
    let mut params: Vec<(&str, String)> = vec![
        ("where", q.where_clause.clone()),
        ("outFields", if q.out_fields.is_empty() { "*".into() } else { q.out_fields.join(",") }),
        ("returnGeometry", "true".into()),
        ("outSR", "4326".into()),
        ("f", "geojson".into()),
    ];
    if let Some(o) = &oid {
        params.push(("orderByFields", o.clone()));
    }
    if let Some(b) = q.bbox {
        params.push(("geometry", format!("{},{},{},{}", b[0], b[1], b[2], b[3])));
        params.push(("geometryType", "esriGeometryEnvelope".into()));
        params.push(("inSR", "4326".into()));
        params.push(("spatialRel", "esriSpatialRelIntersects".into()));
    }
    let mut pages = Pages { features: Vec::new(), crs: None, max: q.max_features };
    let (done, mut n) = pages.resume(&resumed);
    let query_url = format!("{base}/query");
    let mut finished = done;
    while !finished {
        if n == MAX_PAGES {
            return Err(remote(&base, format!("more than {MAX_PAGES} pages")));
        }
        crate::interrupt::check("ArcGIS query")?;
        let offset = pages.features.len();
        let mut p = params.clone();
        p.push(("resultOffset", offset.to_string()));
        p.push(("resultRecordCount", page.to_string()));
        let url = with_params(&query_url, &p);
        let v = crate::remote::json_request(&agent, &url, None)?;
        let got = pages.take(&v, &url)?;
        n += 1;
        let exceeded = v["exceededTransferLimit"].as_bool().or(v["properties"]["exceededTransferLimit"].as_bool());
        // more when the server says so, or (when it does not say) when the page came back full
        finished = got == 0 || !exceeded.unwrap_or(got >= page);
        let next = if finished { Value::Null } else { json!(offset + got) };
        journal.page(&next, &pages.features[offset..], json!({ "crs": pages.crs }))?;
        progress(PageProgress { pages: n, features: pages.features.len(), matched: None });
    }
    let mut layer = pages.layer(&name, &base)?;
    type_fields(&mut layer, &fields);
    journal.done();
    Ok(layer)
}

/// ArcGIS field types onto the columns GeoJSON's inference made: dates (epoch milliseconds)
/// as UTC date-times, numbers as numbers even when every value is null.
fn type_fields(layer: &mut VectorLayer, fields: &[(String, String)]) {
    for c in &mut layer.columns {
        let Some((_, t)) = fields.iter().find(|(n, _)| *n == c.name) else { continue };
        let ms = |v: Option<f64>| {
            v.filter(|x| x.is_finite() && x.abs() < 1e15).map(|x| Timestamp { ms: x as i64, offset_min: Some(0) })
        };
        c.data = match (t.as_str(), &c.data) {
            ("esriFieldTypeDate", ColumnData::Int(v)) => {
                ColumnData::DateTime(v.iter().map(|x| ms(x.map(|i| i as f64))).collect())
            }
            ("esriFieldTypeDate", ColumnData::Float(v)) => ColumnData::DateTime(v.iter().map(|x| ms(*x)).collect()),
            (
                "esriFieldTypeSmallInteger" | "esriFieldTypeInteger" | "esriFieldTypeOID" | "esriFieldTypeBigInteger",
                ColumnData::Float(v),
            ) if v.iter().flatten().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15) => {
                ColumnData::Int(v.iter().map(|x| x.map(|f| f as i64)).collect())
            }
            ("esriFieldTypeDouble" | "esriFieldTypeSingle", ColumnData::Int(v)) => {
                ColumnData::Float(v.iter().map(|x| x.map(|i| i as f64)).collect())
            }
            _ => continue,
        };
    }
}

/// Every item of an OGC API – Features collection matching the query, as one layer.
pub fn ogc_features(q: &OgcQuery) -> Result<VectorLayer> {
    ogc_features_with(q, &|_| {})
}

/// [`ogc_features`], telling `progress` after every page.
pub fn ogc_features_with(q: &OgcQuery, progress: &dyn Fn(PageProgress)) -> Result<VectorLayer> {
    q.validate()?;
    let (mut journal, resumed) = Journal::open(
        q.resume_file.as_deref(),
        &super::fingerprint(OgcQuery { resume_file: None, timeout_s: 0.0, ..q.clone() })?,
    )?;
    let agent = crate::remote::agent_with(std::time::Duration::from_secs_f64(q.timeout_s));
    let base = q.url.split(['?', '#']).next().unwrap_or(&q.url).trim_end_matches('/').to_string();
    let items = match &q.collection {
        Some(c) => format!("{base}/collections/{c}/items"),
        None => base.clone(),
    };
    let name = items.rsplit('/').nth(1).unwrap_or("items").to_string();
    let mut params: Vec<(&str, String)> = vec![("limit", q.limit.to_string())];
    if let Some(b) = q.bbox {
        params.push(("bbox", format!("{},{},{},{}", b[0], b[1], b[2], b[3])));
    }
    let mut pages = Pages { features: Vec::new(), crs: None, max: q.max_features };
    let (_, mut n) = pages.resume(&resumed);
    let mut next = match resumed.last() {
        Some(p) => p["next"].as_str().map(str::to_string),
        None => Some(with_params(&items, &params)),
    };
    // the pages already read, resumed ones included: a next link back to one is a loop
    let mut seen: std::collections::HashSet<String> =
        resumed.iter().filter_map(|p| p["url"].as_str().map(str::to_string)).collect();
    while let Some(url) = next.take() {
        crate::interrupt::check("OGC API query")?;
        if !seen.insert(url.clone()) {
            return Err(remote(&url, "the server's next link repeats a page already read".into()));
        }
        if n >= MAX_PAGES {
            return Err(remote(&url, format!("more than {MAX_PAGES} pages")));
        }
        let v = crate::remote::json_request(&agent, &url, None)?;
        let before = pages.features.len();
        let got = pages.take(&v, &url)?;
        n += 1;
        if got > 0 {
            next = v["links"].as_array().and_then(|l| {
                l.iter()
                    .find(|k| k["rel"] == "next" && k["type"].as_str().is_none_or(|t| t.contains("json")))
                    .and_then(|k| k["href"].as_str())
                    .map(|h| super::stac::resolve(&url, h))
            });
        }
        let matched = v["numberMatched"].as_u64();
        journal.page(&json!(next), &pages.features[before..], json!({ "crs": pages.crs, "url": url }))?;
        progress(PageProgress { pages: n, features: pages.features.len(), matched });
    }
    let layer = pages.layer(&name, &items)?;
    journal.done();
    Ok(layer)
}
