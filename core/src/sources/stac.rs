//! STAC API item search and the best scene per parcel.
//!
//! [`search`] asks a STAC API's `/search` (POST by default, GET on request) for items by
//! collection, bounding box or geometry, date-time, scene cloud cover (`eo:cloud_cover`, sent as
//! the `query` extension and also checked on every item returned) and sort order, following
//! `next` links (GET links, and POST links with their `body` and `merge`) until `max_items`.
//! Items become [`ImageryRecord`]s: the scene's metadata, its footprint and its assets with
//! absolute hrefs, ready for the spectral step or [`best_scenes`].
//!
//! ```no_run
//! use landopp::sources::stac::{search, StacSearch};
//! let q = StacSearch {
//!     collections: vec!["sentinel-2-l2a".into()],
//!     bbox: Some([-11.5, 24.5, -11.4, 24.6]),
//!     datetime: Some("2020-02-01/2020-02-29".into()),
//!     max_cloud_cover: Some(20.0),
//!     ..StacSearch::new("https://earth-search.aws.element84.com/v1")
//! };
//! let found = search(&q)?;
//! for item in &found.items {
//!     println!("{} {} {:?}", item.scene_id, item.datetime, item.cloud_cover);
//! }
//! # Ok::<(), landopp::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use geo_types::MultiPolygon;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::raster::{BandData, GeoTiff, GeoTransform, Raster, Window};
use crate::remote::display_url;
use crate::spectral::{qa_pixel_valid, scl_valid, SceneMeta, QA_PIXEL_DEFAULT_BITS, SCL_DEFAULT_MASK};
use crate::zonal::{zonal_stats, Stat, ZonalOptions};
use crate::{Crs, Error, Result};

/// How the search is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum SearchMethod {
    /// A JSON body (every STAC API that searches implements it).
    #[default]
    Post,
    /// Query parameters (for APIs that only answer GET).
    Get,
}

/// A STAC item search: what [`search`] asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StacSearch {
    /// The API's root (`https://earth-search.aws.element84.com/v1`) or its `/search` endpoint.
    pub url: String,
    /// Collection ids (`sentinel-2-l2a`, `landsat-c2-l2`, ...); empty: all.
    #[serde(default)]
    pub collections: Vec<String>,
    /// `[west, south, east, north]` in WGS 84 degrees (west > east crosses the antimeridian).
    #[serde(default)]
    pub bbox: Option<[f64; 4]>,
    /// A GeoJSON geometry in WGS 84 the items must intersect (instead of `bbox`).
    #[serde(default)]
    pub intersects: Option<Value>,
    /// An RFC 3339 date-time or interval: `2020-02-19T00:00:00Z`, `2020-01-01/2020-03-31`,
    /// `2020-01-01T00:00:00Z/..`.
    #[serde(default)]
    pub datetime: Option<String>,
    /// Items whose scene-wide `eo:cloud_cover` is above this percentage (or missing) are left
    /// out.
    #[serde(default)]
    pub max_cloud_cover: Option<f64>,
    /// Sort fields, `-` for descending: `["properties.eo:cloud_cover", "-properties.datetime"]`
    /// (a bare property name is taken under `properties.`).
    #[serde(default)]
    pub sortby: Vec<String>,
    /// Items per page asked of the server (1..=10,000; default 100).
    #[serde(default = "default_limit")]
    pub limit: usize,
    /// Stop after this many items (default 10,000).
    #[serde(default = "default_max_items")]
    pub max_items: usize,
    /// POST (default) or GET.
    #[serde(default)]
    pub method: SearchMethod,
    /// Seconds a request may take, connection included (default 120; 0.1..=3600). A server
    /// that does not answer in time is a `REMOTE` error, not asked again.
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
    /// A file to keep the pages in as they arrive: a search that fails leaves it, and the same
    /// search run again with it goes on after the last page it holds (removed on success).
    #[serde(default)]
    pub resume_file: Option<std::path::PathBuf>,
}

fn default_timeout() -> f64 {
    120.0
}

fn default_limit() -> usize {
    100
}

fn default_max_items() -> usize {
    10_000
}

/// Pages followed at most, whatever the server's links say.
const MAX_PAGES: usize = 10_000;

impl StacSearch {
    /// A search of everything at `url`, 100 items a page, at most 10,000 items.
    pub fn new(url: impl Into<String>) -> Self {
        StacSearch {
            url: url.into(),
            collections: Vec::new(),
            bbox: None,
            intersects: None,
            datetime: None,
            max_cloud_cover: None,
            sortby: Vec::new(),
            limit: default_limit(),
            max_items: default_max_items(),
            method: SearchMethod::Post,
            timeout_s: default_timeout(),
            resume_file: None,
        }
    }

    /// Check every field (`INVALID_INPUT` naming it).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(format!("STAC search: {m}")));
        if !crate::remote_path(Path::new(&self.url)) {
            return bad("url must be an http:// or https:// address".into());
        }
        if self.bbox.is_some_and(|b| !super::is_wgs84_bbox(b)) {
            return bad("bbox must be [west, south, east, north] in degrees, south <= north".into());
        }
        if self.bbox.is_some() && self.intersects.is_some() {
            return bad("give bbox or intersects, not both".into());
        }
        if let Some(g) = &self.intersects {
            if !g.get("type").is_some_and(Value::is_string)
                || g.get("coordinates").is_none() && g.get("geometries").is_none()
            {
                return bad("intersects must be a GeoJSON geometry (type and coordinates)".into());
            }
        }
        if let Some(d) = &self.datetime {
            let parts: Vec<&str> = d.split('/').collect();
            let ok = parts.len() <= 2
                && parts.iter().all(|p| *p == ".." || (p.len() == 10 || p.len() >= 20) && is_date(p))
                && parts.iter().any(|p| *p != "..");
            if !ok {
                return bad(format!(
                    "datetime {d:?} is not an RFC 3339 date-time or interval (2020-02-19T00:00:00Z, \
                     2020-01-01/2020-03-31, 2020-01-01/..)"
                ));
            }
        }
        if let Some(c) = self.max_cloud_cover {
            if !(0.0..=100.0).contains(&c) {
                return bad(format!("max_cloud_cover {c} is not a percentage (0..=100)"));
            }
        }
        if !(1..=10_000).contains(&self.limit) {
            return bad(format!("limit {} outside 1..=10000", self.limit));
        }
        if !(0.1..=3600.0).contains(&self.timeout_s) {
            return bad(format!("timeout_s {} outside 0.1..=3600", self.timeout_s));
        }
        if self.max_items == 0 {
            return bad("max_items must be at least 1".into());
        }
        if let Some(s) = self.sortby.iter().find(|s| s.trim_start_matches(['-', '+']).is_empty()) {
            return bad(format!("sortby field {s:?} is empty"));
        }
        Ok(())
    }

    /// The `/search` endpoint.
    fn endpoint(&self) -> String {
        let base = self.url.split(['?', '#']).next().unwrap_or(&self.url).trim_end_matches('/');
        if base.ends_with("/search") {
            base.to_string()
        } else {
            format!("{base}/search")
        }
    }

    /// `(field, ascending)` pairs, fields under `properties.` unless they name a top-level member.
    fn sort_fields(&self) -> Vec<(String, bool)> {
        self.sortby
            .iter()
            .map(|s| {
                let desc = s.starts_with('-');
                let f = s.trim_start_matches(['-', '+']);
                let f = if f.contains('.') || matches!(f, "id" | "collection") || f.starts_with("properties") {
                    f.to_string()
                } else {
                    format!("properties.{f}")
                };
                (f, !desc)
            })
            .collect()
    }

    /// The POST body of the first page.
    fn body(&self) -> Value {
        let mut b = serde_json::Map::new();
        b.insert("limit".into(), json!(self.limit.min(self.max_items)));
        if !self.collections.is_empty() {
            b.insert("collections".into(), json!(self.collections));
        }
        if let Some(x) = self.bbox {
            b.insert("bbox".into(), json!(x));
        }
        if let Some(g) = &self.intersects {
            b.insert("intersects".into(), g.clone());
        }
        if let Some(d) = &self.datetime {
            b.insert("datetime".into(), json!(d));
        }
        if let Some(c) = self.max_cloud_cover {
            b.insert("query".into(), json!({"eo:cloud_cover": {"lte": c}}));
        }
        let sort = self.sort_fields();
        if !sort.is_empty() {
            let s: Vec<Value> = sort
                .iter()
                .map(|(f, asc)| json!({"field": f, "direction": if *asc { "asc" } else { "desc" }}))
                .collect();
            b.insert("sortby".into(), Value::Array(s));
        }
        Value::Object(b)
    }

    /// The GET URL of the first page.
    fn get_url(&self) -> String {
        let mut q: Vec<(String, String)> = vec![("limit".into(), self.limit.min(self.max_items).to_string())];
        if !self.collections.is_empty() {
            q.push(("collections".into(), self.collections.join(",")));
        }
        if let Some(b) = self.bbox {
            q.push(("bbox".into(), b.iter().map(f64::to_string).collect::<Vec<_>>().join(",")));
        }
        if let Some(g) = &self.intersects {
            q.push(("intersects".into(), g.to_string()));
        }
        if let Some(d) = &self.datetime {
            q.push(("datetime".into(), d.clone()));
        }
        if let Some(c) = self.max_cloud_cover {
            q.push(("query".into(), json!({"eo:cloud_cover": {"lte": c}}).to_string()));
        }
        let sort = self.sort_fields();
        if !sort.is_empty() {
            let s: Vec<String> = sort.iter().map(|(f, asc)| format!("{}{f}", if *asc { "+" } else { "-" })).collect();
            q.push(("sortby".into(), s.join(",")));
        }
        let query: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
        format!("{}?{}", self.endpoint(), query.join("&"))
    }
}

/// `YYYY-MM-DD` or an RFC 3339 date-time (`YYYY-MM-DDThh:mm:ss[.f](Z|±hh:mm)`).
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let date = b.len() >= 10 && digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10);
    if b.len() == 10 {
        return date;
    }
    date && matches!(b[10], b'T' | b't' | b' ')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (s.ends_with(['Z', 'z']) || s[19..].contains(['+', '-']))
}

/// Percent-encoding of a query value (RFC 3986 unreserved characters kept).
pub(super) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One asset of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Asset {
    /// Absolute href (a relative one is resolved against the item's own link).
    pub href: String,
    /// Media type (`image/tiff; application=geotiff; profile=cloud-optimized`, ...).
    #[serde(alias = "mediaType")]
    pub media_type: Option<String>,
    /// Roles (`data`, `thumbnail`, `cloud`, ...).
    pub roles: Vec<String>,
    /// The band's common name (`red`, `nir`, ...) or name, from `eo:bands`.
    pub band: Option<String>,
    /// Ground sample distance, metres.
    pub gsd: Option<f64>,
}

/// A scene found by a search: what the `satellite_imagery` table holds, plus the assets. Read
/// back with snake_case or camelCase keys (the Node package returns camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImageryRecord {
    /// Scene id.
    #[serde(alias = "sceneId")]
    pub scene_id: String,
    /// Capture date-time (ISO 8601).
    pub datetime: String,
    /// Scene-wide cloud cover, percent (`eo:cloud_cover`).
    #[serde(alias = "cloudCover")]
    pub cloud_cover: Option<f64>,
    /// Ground sample distance of the finest band, metres.
    #[serde(alias = "resolutionM")]
    pub resolution_m: Option<f64>,
    /// Platform (`sentinel-2a`, `landsat-8`, ...).
    pub platform: String,
    /// Sentinel-2 processing baseline, when given.
    #[serde(alias = "processingBaseline")]
    pub processing_baseline: Option<String>,
    /// Collection id.
    pub collection: Option<String>,
    /// The item's own URL (its `self` link), when given: the record's `image_url`.
    #[serde(alias = "itemUrl")]
    pub item_url: Option<String>,
    /// Footprint bounding box, WGS 84.
    pub bbox: Option<[f64; 4]>,
    /// Footprint geometry (GeoJSON, WGS 84).
    pub geometry: Option<Value>,
    /// Assets by key.
    pub assets: BTreeMap<String, Asset>,
}

impl ImageryRecord {
    /// A record from a STAC item (`base`: the URL it came from, for relative hrefs).
    pub fn from_item(item: &Value, base: &str) -> Result<Self> {
        let scene = SceneMeta::from_item(item, Path::new(&display_url(base)))?;
        let self_href = item["links"].as_array().and_then(|l| {
            l.iter().find(|k| k["rel"] == "self").and_then(|k| k["href"].as_str()).map(|h| resolve(base, h))
        });
        let item_base = self_href.clone().unwrap_or_else(|| base.to_string());
        let mut assets = BTreeMap::new();
        if let Some(a) = item["assets"].as_object() {
            for (k, v) in a {
                let Some(href) = v["href"].as_str() else { continue };
                let band = v["eo:bands"]
                    .get(0)
                    .and_then(|b| b["common_name"].as_str().or(b["name"].as_str()))
                    .map(str::to_string);
                assets.insert(
                    k.clone(),
                    Asset {
                        href: resolve(&item_base, href),
                        media_type: v["type"].as_str().map(str::to_string),
                        roles: v["roles"]
                            .as_array()
                            .map(|r| r.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                            .unwrap_or_default(),
                        band,
                        gsd: v["gsd"].as_f64(),
                    },
                );
            }
        }
        let bbox = item["bbox"].as_array().and_then(|b| {
            let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
            // a 3-D bbox is [w, s, zmin, e, n, zmax]
            match v.len() {
                4 => Some([v[0], v[1], v[2], v[3]]),
                6 => Some([v[0], v[1], v[3], v[4]]),
                _ => None,
            }
        });
        Ok(ImageryRecord {
            scene_id: scene.scene_id,
            datetime: scene.datetime,
            cloud_cover: scene.cloud_cover,
            resolution_m: scene.resolution_m,
            platform: scene.platform,
            processing_baseline: scene.processing_baseline,
            collection: item["collection"].as_str().map(str::to_string),
            item_url: self_href,
            bbox,
            geometry: item.get("geometry").filter(|g| !g.is_null()).cloned(),
            assets,
        })
    }

    /// The scene's metadata (for feature provenance and the sensor's scaling).
    pub fn scene(&self) -> SceneMeta {
        SceneMeta {
            scene_id: self.scene_id.clone(),
            datetime: self.datetime.clone(),
            cloud_cover: self.cloud_cover,
            resolution_m: self.resolution_m,
            platform: self.platform.clone(),
            processing_baseline: self.processing_baseline.clone(),
        }
    }

    /// The cloud mask asset: `(key, kind)` of the first asset named `scl` or `qa_pixel` (any
    /// case).
    pub fn mask_asset(&self) -> Option<(&str, MaskKind)> {
        self.assets.keys().find_map(|k| match k.to_ascii_lowercase().as_str() {
            "scl" => Some((k.as_str(), MaskKind::Scl)),
            "qa_pixel" => Some((k.as_str(), MaskKind::QaPixel)),
            _ => None,
        })
    }
}

/// `href` made absolute against `base` (an absolute URL or a path of the server).
pub(super) fn resolve(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |k| k + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |k| scheme_end + k);
    if let Some(abs) = href.strip_prefix('/') {
        return format!("{}/{abs}", &base[..host_end]);
    }
    let clean = base.split(['?', '#']).next().unwrap_or(base);
    let mut dir: Vec<&str> = clean[host_end.min(clean.len())..].split('/').collect();
    dir.pop(); // the document's own name
    for part in href.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                if dir.len() > 1 {
                    dir.pop();
                }
            }
            p => dir.push(p),
        }
    }
    format!("{}{}", &base[..host_end], dir.join("/"))
}

/// What a search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StacResults {
    /// The items, in the server's order (cloud-cover filter applied).
    pub items: Vec<ImageryRecord>,
    /// Pages read.
    pub pages: usize,
    /// Items the server says match (`numberMatched` or `context.matched`), when it says.
    pub matched: Option<u64>,
    /// Items the server returned that the cloud-cover filter left out.
    pub filtered_out: usize,
}

/// Run a STAC item search, following `next` links until `max_items` items are kept or the
/// server has no more. See the module's text.
pub fn search(q: &StacSearch) -> Result<StacResults> {
    search_with(q, &|_| {})
}

/// [`search`], telling `progress` after every page.
pub fn search_with(q: &StacSearch, progress: &dyn Fn(super::PageProgress)) -> Result<StacResults> {
    q.validate()?;
    let print = super::fingerprint(StacSearch { resume_file: None, timeout_s: 0.0, ..q.clone() })?;
    let (mut journal, resumed) = super::Journal::open(q.resume_file.as_deref(), &print)?;
    let agent = crate::remote::agent_with(std::time::Duration::from_secs_f64(q.timeout_s));
    let mut out = StacResults { items: Vec::new(), pages: 0, matched: None, filtered_out: 0 };
    // the items of a page, kept or counted out
    let absorb = |out: &mut StacResults, features: &[Value], url: &str| -> Result<()> {
        for f in features {
            let rec = ImageryRecord::from_item(f, url)
                .map_err(|e| remote(&display_url(url), format!("an item is unusable: {e}")))?;
            let keep = match q.max_cloud_cover {
                Some(c) => rec.cloud_cover.is_some_and(|v| v <= c),
                None => true,
            };
            if !keep {
                out.filtered_out += 1;
            } else if out.items.len() < q.max_items {
                out.items.push(rec);
            }
        }
        Ok(())
    };
    // the next request: a GET URL, or a POST URL and body
    let mut next: Option<(String, Option<Value>)> = Some(match q.method {
        SearchMethod::Post => (q.endpoint(), Some(q.body())),
        SearchMethod::Get => (q.get_url(), None),
    });
    let mut seen = std::collections::HashSet::new();
    for p in &resumed {
        let url = p["url"].as_str().unwrap_or_default();
        absorb(&mut out, p["features"].as_array().map(Vec::as_slice).unwrap_or_default(), url)?;
        out.pages += 1;
        out.matched = out.matched.or(p["matched"].as_u64());
        seen.insert((url.to_string(), p["body"].as_object().map(|b| Value::Object(b.clone()).to_string())));
        next = match &p["next"] {
            Value::Array(n) if n.len() == 2 => {
                n[0].as_str().map(|u| (u.to_string(), Some(n[1].clone()).filter(|b| !b.is_null())))
            }
            _ => None,
        };
    }
    while let Some((url, body)) = next.take() {
        if out.items.len() >= q.max_items {
            break;
        }
        crate::interrupt::check("STAC search")?;
        let shown = display_url(&url);
        if !seen.insert((url.clone(), body.as_ref().map(Value::to_string))) {
            return Err(remote(&shown, "the server's next link repeats a page already read".into()));
        }
        if out.pages == MAX_PAGES {
            return Err(remote(&shown, format!("more than {MAX_PAGES} pages: narrow the search or lower max_items")));
        }
        let page = crate::remote::json_request(&agent, &url, body.as_ref())?;
        out.pages += 1;
        let features = match (page["type"].as_str(), page["features"].as_array()) {
            (Some("FeatureCollection"), Some(f)) => f,
            _ => return Err(remote(&shown, "the answer is not a GeoJSON FeatureCollection of items".into())),
        };
        if out.matched.is_none() {
            out.matched = page["numberMatched"].as_u64().or(page["context"]["matched"].as_u64());
        }
        absorb(&mut out, features, &url)?;
        if out.items.len() < q.max_items && !features.is_empty() {
            next = next_link(&page, &url, body.as_ref());
        }
        let cursor = next.as_ref().map_or(Value::Null, |(u, b)| json!([u, b]));
        journal.page(&cursor, features, json!({ "url": url, "body": body, "matched": out.matched }))?;
        progress(super::PageProgress { pages: out.pages, features: out.items.len(), matched: out.matched });
    }
    journal.done();
    Ok(out)
}

fn remote(url: &str, message: String) -> Error {
    Error::Remote { url: url.to_string(), status: None, message }
}

/// The `next` link of a page: a GET URL, or a POST with its body (merged into the previous
/// body when the link says `merge`).
fn next_link(page: &Value, url: &str, body: Option<&Value>) -> Option<(String, Option<Value>)> {
    let link = page["links"].as_array()?.iter().find(|l| l["rel"] == "next")?;
    let href = resolve(url, link["href"].as_str()?);
    let method = link["method"].as_str().unwrap_or("GET").to_ascii_uppercase();
    if method != "POST" {
        return Some((href, None));
    }
    let mut b = match (link["merge"].as_bool().unwrap_or(false), body) {
        (true, Some(prev)) => prev.clone(),
        _ => json!({}),
    };
    match (link["body"].as_object(), b.as_object_mut()) {
        (Some(add), Some(to)) => {
            for (k, v) in add {
                to.insert(k.clone(), v.clone());
            }
        }
        // a POST link without a body repeats the previous body (some servers page by URL)
        (None, _) if body.is_some() => b = body.cloned().unwrap_or_default(),
        _ => {}
    }
    Some((href, Some(b)))
}

/// The kind of a cloud mask asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum MaskKind {
    /// Sentinel-2 Scene Classification Layer: cloudy where the class is masked.
    Scl,
    /// Landsat Collection 2 QA_PIXEL: cloudy where a masked bit is set.
    QaPixel,
}

/// Which mask cells count as cloud for [`best_scenes`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SceneChoiceOptions {
    /// SCL classes that are not a clear view (default: no data, defective, cloud shadow,
    /// clouds, cirrus, snow: `[0, 1, 3, 8, 9, 10, 11]`).
    pub scl_classes: Vec<u8>,
    /// QA_PIXEL bits that are not a clear view (default: fill, dilated cloud, cirrus, cloud,
    /// shadow, snow: `[0, 1, 2, 3, 4, 5]`).
    pub qa_pixel_bits: Vec<u8>,
}

impl Default for SceneChoiceOptions {
    fn default() -> Self {
        SceneChoiceOptions { scl_classes: SCL_DEFAULT_MASK.to_vec(), qa_pixel_bits: QA_PIXEL_DEFAULT_BITS.to_vec() }
    }
}

/// The best scene of every parcel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SceneChoice {
    /// `clear[i][p]`: the share of parcel `p`'s area item `i` sees clear (0..=1; cells outside
    /// the scene count as not clear).
    pub clear: Vec<Vec<f64>>,
    /// Per parcel, the item with the largest clear share (ties: the later capture, then the
    /// earlier item); `None` when no item sees any of it clear.
    pub best: Vec<Option<usize>>,
}

/// Cells of a mask window at most (one byte each).
const MASK_WINDOW_MAX: usize = 1 << 28;

/// For every parcel, the item that sees it clearest: each item's cloud mask (its `scl` or
/// `qa_pixel` asset, a URL or a local path) is read over the parcels' extent only, and the
/// clear share of each parcel is the coverage-weighted share of its area on clear cells (exact
/// cell coverage, as the zonal step). Polygons are in `crs` (reprojected to each mask's CRS).
pub fn best_scenes(
    items: &[ImageryRecord],
    polygons: &[MultiPolygon<f64>],
    crs: Option<&Crs>,
    opts: &SceneChoiceOptions,
) -> Result<SceneChoice> {
    if items.is_empty() {
        return Err(Error::Empty("no scene to choose from".into()));
    }
    crate::vector::check_finite(polygons)?;
    let mut clear = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        crate::interrupt::check("best scene")?;
        let (key, kind) = item.mask_asset().ok_or_else(|| {
            Error::InvalidInput(format!(
                "scene {} has no scl or qa_pixel asset: its clouds over the parcels cannot be judged",
                item.scene_id
            ))
        })?;
        let href = &item.assets[key].href;
        let at = format!("scene {} ({i}), asset {key}", item.scene_id);
        clear.push(clear_share(href, kind, polygons, crs, opts).map_err(|e| e.at(&at))?);
    }
    let best = (0..polygons.len())
        .map(|p| {
            let mut best: Option<usize> = None;
            for i in 0..items.len() {
                let c = clear[i][p];
                if c <= 0.0 {
                    continue;
                }
                best = match best {
                    Some(b) if clear[b][p] > c => Some(b),
                    Some(b) if clear[b][p] == c && items[b].datetime >= items[i].datetime => Some(b),
                    _ => Some(i),
                };
            }
            best
        })
        .collect();
    Ok(SceneChoice { clear, best })
}

/// The clear share of every polygon in one mask raster.
fn clear_share(
    href: &str,
    kind: MaskKind,
    polygons: &[MultiPolygon<f64>],
    crs: Option<&Crs>,
    opts: &SceneChoiceOptions,
) -> Result<Vec<f64>> {
    let src = GeoTiff::open(href)?;
    let gt = src.transform();
    if !gt.is_north_up() {
        return Err(Error::Unsupported("a rotated mask raster".into()));
    }
    let mcrs = src.crs().cloned();
    // reprojected when the mask's CRS differs, else borrowed as they are
    let polys: std::borrow::Cow<'_, [MultiPolygon<f64>]> = match (crs, &mcrs) {
        (Some(a), Some(b)) if a != b => {
            let t = crate::Transformer::new(a, b)?;
            polygons.iter().map(|p| t.transform_multipolygon(p)).collect::<Result<Vec<_>>>()?.into()
        }
        _ => polygons.into(),
    };
    let mut share = vec![0.0; polys.len()];
    let Some(ext) = extent(&polys) else { return Ok(share) };
    // the parcels' extent in cells, one cell wider each way, inside or outside the mask
    let [x0, y0, x1, y1] = ext;
    let c0 = ((x0 - gt.0[0]) / gt.0[1]).floor() - 1.0;
    let c1 = ((x1 - gt.0[0]) / gt.0[1]).ceil() + 1.0;
    let r0 = ((y1 - gt.0[3]) / gt.0[5]).floor() - 1.0;
    let r1 = ((y0 - gt.0[3]) / gt.0[5]).ceil() + 1.0;
    let (cols, rows) = (c1 - c0, r1 - r0);
    // NaN (a degenerate transform) is refused too
    if (cols * rows).partial_cmp(&(MASK_WINDOW_MAX as f64)) != Some(std::cmp::Ordering::Less) {
        return Err(Error::InvalidInput(format!(
            "the parcels span {cols} × {rows} mask cells (at most {MASK_WINDOW_MAX}): choose scenes for smaller groups of parcels"
        )));
    }
    let (cols, rows) = (cols as usize, rows as usize);
    let mut cells = vec![0u8; cols * rows];
    // the part inside the mask raster
    let (w, h) = (src.width() as f64, src.height() as f64);
    let (ic0, ic1, ir0, ir1) = (c0.max(0.0), c1.min(w), r0.max(0.0), r1.min(h));
    if ic0 < ic1 && ir0 < ir1 {
        let win = Window::new(ir0 as usize, ic0 as usize, (ir1 - ir0) as usize, (ic1 - ic0) as usize);
        let band = src.read_window(0, win)?;
        let clear = clear_cells(kind, opts, &band)?;
        let (dc, dr) = ((ic0 - c0) as usize, (ir0 - r0) as usize);
        for (r, from) in clear.chunks_exact(win.cols).enumerate() {
            let row = &mut cells[(dr + r) * cols + dc..][..win.cols];
            for (out, &c) in row.iter_mut().zip(from) {
                *out = u8::from(c);
            }
        }
    }
    let wgt = GeoTransform([gt.0[0] + c0 * gt.0[1], gt.0[1], 0.0, gt.0[3] + r0 * gt.0[5], 0.0, gt.0[5]]);
    let arr = ndarray::Array2::from_shape_vec((rows, cols), cells).map_err(|e| Error::Internal(e.to_string()))?;
    let mask = Raster::new(vec![BandData::U8(arr)], wgt, mcrs.clone(), None)?;
    let zopts = ZonalOptions { stats: vec![Stat::Sum, Stat::Count], ..Default::default() };
    let z = zonal_stats(&mask, &polys, mcrs.as_ref(), &zopts)?;
    let (sum, count) = (z.column("sum")?, z.column("count")?);
    for (p, s) in share.iter_mut().enumerate() {
        if count[p] > 0.0 && sum[p].is_finite() {
            *s = (sum[p] / count[p]).clamp(0.0, 1.0);
        }
    }
    Ok(share)
}

/// Clear or not for every cell of the window read (row-major), by the spectral step's mask rules.
fn clear_cells(kind: MaskKind, opts: &SceneChoiceOptions, band: &BandData) -> Result<Vec<bool>> {
    let contiguous = || Error::Internal("a window read is not contiguous".into());
    match (kind, band) {
        (MaskKind::Scl, BandData::U8(a)) => Ok(scl_valid(a.as_slice().ok_or_else(contiguous)?, &opts.scl_classes)),
        (MaskKind::QaPixel, BandData::U16(a)) => {
            Ok(qa_pixel_valid(a.as_slice().ok_or_else(contiguous)?, &opts.qa_pixel_bits))
        }
        (MaskKind::Scl, _) => Err(Error::InvalidInput("an SCL mask must be 8-bit unsigned".into())),
        (MaskKind::QaPixel, _) => Err(Error::InvalidInput("a QA_PIXEL mask must be 16-bit unsigned".into())),
    }
}

/// The WGS 84 bounding box (`[west, south, east, north]`) of polygons in `crs` (`None`: taken
/// as WGS 84 already): what to search for imagery over a set of parcels. `None` when there are
/// no polygons.
pub fn bbox_wgs84(polygons: &[MultiPolygon<f64>], crs: Option<&Crs>) -> Result<Option<[f64; 4]>> {
    crate::vector::check_finite(polygons)?;
    match crs {
        Some(c) if *c != Crs::wgs84() => {
            let t = crate::Transformer::new(c, &Crs::wgs84())?;
            let p: Vec<MultiPolygon<f64>> =
                polygons.iter().map(|p| t.transform_multipolygon(p)).collect::<Result<_>>()?;
            Ok(extent(&p))
        }
        _ => Ok(extent(polygons)),
    }
}

/// The bounding box of finite polygons, `None` when there are none.
fn extent(polys: &[MultiPolygon<f64>]) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    polys.iter().filter_map(|p| p.bounding_rect()).fold(None, |acc, r| {
        let b = [r.min().x, r.min().y, r.max().x, r.max().y];
        Some(match acc {
            None => b,
            Some(a) => [a[0].min(b[0]), a[1].min(b[1]), a[2].max(b[2]), a[3].max(b[3])],
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_built_as_the_spec_says() {
        let q = StacSearch {
            collections: vec!["sentinel-2-l2a".into(), "landsat-c2-l2".into()],
            bbox: Some([-11.5, 24.5, -11.4, 24.6]),
            datetime: Some("2020-02-01/2020-02-29".into()),
            max_cloud_cover: Some(20.0),
            sortby: vec!["eo:cloud_cover".into(), "-properties.datetime".into()],
            limit: 50,
            ..StacSearch::new("https://example.com/v1/")
        };
        q.validate().unwrap();
        assert_eq!(q.endpoint(), "https://example.com/v1/search");
        let b = q.body();
        assert_eq!(b["query"]["eo:cloud_cover"]["lte"], 20.0);
        assert_eq!(b["sortby"][0]["field"], "properties.eo:cloud_cover");
        assert_eq!(b["sortby"][1]["direction"], "desc");
        assert_eq!(b["limit"], 50);
        let g = q.get_url();
        assert!(
            g.starts_with(
                "https://example.com/v1/search?limit=50&collections=sentinel-2-l2a%2Clandsat-c2-l2&bbox=-11.5%2C24.5"
            ),
            "{g}"
        );
        assert!(g.contains("&sortby=%2Bproperties.eo%3Acloud_cover%2C-properties.datetime"), "{g}");
        for bad in [
            StacSearch { bbox: Some([0.0, 10.0, 1.0, 5.0]), ..q.clone() },
            StacSearch { bbox: Some([f64::NAN, 0.0, 1.0, 5.0]), ..q.clone() },
            StacSearch { datetime: Some("last week".into()), ..q.clone() },
            StacSearch { datetime: Some("../..".into()), ..q.clone() },
            StacSearch { max_cloud_cover: Some(101.0), ..q.clone() },
            StacSearch { limit: 0, ..q.clone() },
            StacSearch { intersects: Some(json!({"type": "Point"})), bbox: None, ..q.clone() },
            StacSearch { url: "ftp://example.com".into(), ..q.clone() },
        ] {
            assert_eq!(bad.validate().unwrap_err().code(), "INVALID_INPUT", "{bad:?}");
        }
        for good in ["2020-02-19", "2020-02-19T11:34:25.405Z", "2020-01-01/..", "../2020-01-01T00:00:00+01:00"] {
            StacSearch { datetime: Some(good.into()), ..q.clone() }.validate().unwrap();
        }
    }

    #[test]
    fn hrefs_resolve_like_a_browser() {
        let b = "http://h:8/stac/items/a.json?x=1";
        assert_eq!(resolve(b, "https://o/b.tif"), "https://o/b.tif");
        assert_eq!(resolve(b, "/data/b.tif"), "http://h:8/data/b.tif");
        assert_eq!(resolve(b, "./b.tif"), "http://h:8/stac/items/b.tif");
        assert_eq!(resolve(b, "../cogs/b.tif"), "http://h:8/stac/cogs/b.tif");
        assert_eq!(resolve(b, "../../../../b.tif"), "http://h:8/b.tif");
    }
}
