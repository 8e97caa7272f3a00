//! USDA Soil Data Access (SDA): SSURGO map units, components and map-unit aggregates for
//! parcels, from the SDA REST service's SQL endpoint.
//!
//! - **Map units by the parcels' shapes**: the parcels, in WGS 84, are sent in chunks as a
//!   `MULTIPOLYGON` WKT; SDA answers the `mupolygon` rows whose geometry intersects it (mukey,
//!   mupolygonkey and the polygon's WKT). A polygon several chunks touch is kept once.
//! - **Tables by map-unit key**: `component` (mukey, cokey, comppct_r, majcompflag, drainagecl,
//!   hydgrp), `mapunit` (mukey, farmlndcl) and the chosen `muaggatt` columns, 1,000 keys a query.
//! - **Limits**: SDA refuses an answer over 100,000 rows or 32 MB. A spatial chunk holds at most
//!   [`SdaQuery::parcels_per_request`] parcels and 256 KiB of WKT; a chunk SDA refuses (400, 413
//!   or 500 after the retries) is split in two and each half asked again, down to one parcel.
//!
//! [`SoilData::tables`] turns the answer into the soils step's [`SoilTables`]; the map units are
//! a layer in EPSG:4326 with `mukey` and `mupolygonkey` columns, ready for
//! [`crate::overlay::soil_features`].

use std::collections::{HashMap, HashSet};

use geo_types::{Geometry, MultiPolygon};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::crs::{Crs, Transformer};
use crate::overlay::SoilTables;
use crate::remote::display_url;
use crate::vector::{Column, ColumnData, VectorLayer};
use crate::{Error, Result};

/// The public SDA endpoint.
pub const SDA_URL: &str = "https://sdmdataaccess.sc.egov.usda.gov/tabular/post.rest";

/// WKT bytes a spatial request carries at most.
const MAX_WKT: usize = 256 * 1024;
/// Map-unit keys per tabular query.
const KEYS_PER_QUERY: usize = 1000;

/// A Soil Data Access request for parcels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SdaQuery {
    /// The SDA REST endpoint (default: the public service,
    /// `https://sdmdataaccess.sc.egov.usda.gov/tabular/post.rest`).
    #[serde(default = "sda_url")]
    pub url: String,
    /// Parcels per spatial request (default 200; a chunk SDA refuses is split).
    #[serde(default = "default_chunk")]
    pub parcels_per_request: usize,
    /// `muaggatt` columns to fetch (default: slopegradwta, brockdepmin, wtdepannmin, aws0150wta,
    /// hydclprs, flodfreqdcd). Numeric ones become area-weighted means per parcel, the others
    /// the class with the largest area share.
    #[serde(default = "default_muaggatt")]
    pub muaggatt: Vec<String>,
    /// Seconds a request may take (default 120).
    #[serde(default = "default_timeout")]
    pub timeout_s: f64,
}

fn sda_url() -> String {
    SDA_URL.into()
}
fn default_chunk() -> usize {
    200
}
fn default_timeout() -> f64 {
    120.0
}
fn default_muaggatt() -> Vec<String> {
    ["slopegradwta", "brockdepmin", "wtdepannmin", "aws0150wta", "hydclprs", "flodfreqdcd"].map(String::from).to_vec()
}

impl Default for SdaQuery {
    fn default() -> Self {
        SdaQuery {
            url: sda_url(),
            parcels_per_request: default_chunk(),
            muaggatt: default_muaggatt(),
            timeout_s: default_timeout(),
        }
    }
}

impl SdaQuery {
    /// Check every field (`INVALID_INPUT` naming it).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(format!("Soil Data Access: {m}")));
        if !crate::remote_path(std::path::Path::new(&self.url)) {
            return bad("url must be an http:// or https:// address".into());
        }
        if !(1..=10_000).contains(&self.parcels_per_request) {
            return bad(format!("parcels_per_request {} outside 1..=10000", self.parcels_per_request));
        }
        if !(0.1..=3600.0).contains(&self.timeout_s) {
            return bad(format!("timeout_s {} outside 0.1..=3600", self.timeout_s));
        }
        for c in &self.muaggatt {
            if c.is_empty()
                || c.len() > 64
                || !c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                || c == "mukey"
            {
                return bad(format!("muaggatt column {c:?} is not a column name (lower-case letters, digits, _)"));
            }
        }
        Ok(())
    }
}

/// One SDA answer: column names and rows of text (SDA sends every value as text or null).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SdaTable {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Option<String>>>,
}

impl SdaTable {
    fn append(&mut self, other: SdaTable) {
        if self.columns.is_empty() {
            self.columns = other.columns;
        }
        self.rows.extend(other.rows);
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }
}

/// SSURGO data for a set of parcels.
#[derive(Debug, Clone)]
pub struct SoilData {
    /// Map-unit polygons touching the parcels (EPSG:4326), with `mukey` and `mupolygonkey`.
    pub mapunits: VectorLayer,
    /// `component` rows of those map units.
    pub component: SdaTable,
    /// `mapunit` rows (mukey, farmlndcl).
    pub mapunit: SdaTable,
    /// `muaggatt` rows (mukey and the asked columns).
    pub muaggatt: SdaTable,
    /// Requests sent (spatial chunks, splits and tabular queries).
    pub requests: usize,
}

impl SoilData {
    /// The tables as the soils step takes them.
    pub fn tables(&self) -> Result<SoilTables> {
        let col = |t: &SdaTable, n: &str| {
            t.index(n).ok_or_else(|| Error::Remote {
                url: "Soil Data Access".into(),
                status: None,
                message: format!("the answer has no {n} column"),
            })
        };
        let mut out = SoilTables::default();
        if !self.component.rows.is_empty() {
            let idx: Vec<usize> = ["mukey", "comppct_r", "majcompflag", "drainagecl", "hydgrp"]
                .iter()
                .map(|n| col(&self.component, n))
                .collect::<Result<_>>()?;
            for r in &self.component.rows {
                let get = |k: usize| r.get(idx[k]).cloned().flatten().filter(|s| !s.trim().is_empty());
                let Some(mukey) = get(0) else { continue };
                // SDA leaves comppct_r null for some minor components: they weigh nothing
                let pct = get(1).and_then(|s| s.trim().parse::<f64>().ok()).filter(|p| p.is_finite()).unwrap_or(0.0);
                let major = get(2).is_some_and(|s| s.trim().eq_ignore_ascii_case("yes"));
                out.components.entry(mukey).or_default().push((pct, major, get(3), get(4)));
            }
        }
        if !self.mapunit.rows.is_empty() {
            let (k, f) = (col(&self.mapunit, "mukey")?, col(&self.mapunit, "farmlndcl")?);
            for r in &self.mapunit.rows {
                if let Some(Some(m)) = r.get(k) {
                    out.farmland.insert(m.clone(), r.get(f).cloned().flatten().filter(|s| !s.trim().is_empty()));
                }
            }
        }
        if !self.muaggatt.rows.is_empty() {
            let k = col(&self.muaggatt, "mukey")?;
            for (j, name) in self.muaggatt.columns.iter().enumerate() {
                if j == k {
                    continue;
                }
                let m: HashMap<String, String> =
                    self.muaggatt.rows.iter().filter_map(|r| Some((r.get(k)?.clone()?, r.get(j)?.clone()?))).collect();
                out.aggregates.insert(name.to_ascii_lowercase(), m);
            }
        }
        Ok(out)
    }
}

/// Run one SQL query on the SDA endpoint at `url`.
pub fn query(url: &str, sql: &str, timeout_s: f64) -> Result<SdaTable> {
    let agent = crate::remote::agent_with(std::time::Duration::from_secs_f64(timeout_s));
    run(&agent, url, sql)
}

fn remote(url: &str, message: String) -> Error {
    Error::Remote { url: display_url(url), status: None, message }
}

fn run(agent: &ureq::Agent, url: &str, sql: &str) -> Result<SdaTable> {
    run_with(agent, url, sql, &[])
}

/// [`run`], with `final_statuses` errors at once (not retried, not counted by the breaker).
fn run_with(agent: &ureq::Agent, url: &str, sql: &str, final_statuses: &[u16]) -> Result<SdaTable> {
    let body = json!({ "query": sql, "format": "JSON+COLUMNNAME" });
    let v = crate::remote::json_request_final(agent, url, Some(&body), final_statuses)?;
    let Some(obj) = v.as_object() else {
        return Err(remote(url, "the answer is not a JSON object".into()));
    };
    // no rows: SDA answers `{}`
    let Some(table) = obj.get("Table") else {
        return if obj.is_empty() {
            Ok(SdaTable::default())
        } else {
            Err(remote(url, "the answer has no Table member".into()))
        };
    };
    let Some(rows) = table.as_array() else {
        return Err(remote(url, "Table is not an array".into()));
    };
    let cell = |c: &Value| -> Option<Option<String>> {
        match c {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.clone())),
            Value::Number(n) => Some(Some(n.to_string())),
            Value::Bool(b) => Some(Some(b.to_string())),
            _ => None,
        }
    };
    let mut it = rows.iter();
    let Some(head) = it.next() else { return Ok(SdaTable::default()) };
    let columns: Vec<String> = head
        .as_array()
        .and_then(|h| h.iter().map(|c| c.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
        .ok_or_else(|| remote(url, "the first row of Table is not the column names".into()))?;
    let mut out = SdaTable { columns, rows: Vec::with_capacity(rows.len().saturating_sub(1)) };
    for (i, r) in it.enumerate() {
        let row = r
            .as_array()
            .filter(|a| a.len() == out.columns.len())
            .and_then(|a| a.iter().map(cell).collect::<Option<Vec<_>>>())
            .ok_or_else(|| remote(url, format!("row {} of Table is not {} values", i + 1, out.columns.len())))?;
        out.rows.push(row);
    }
    Ok(out)
}

/// A chunk SDA refused for its size (or any query it could not run): worth splitting.
fn refused(e: &Error) -> bool {
    matches!(e, Error::Remote { status: Some(400 | 413 | 500), .. })
}

/// SSURGO map units, components and aggregates for `parcels` (in `crs`; `None` is WGS 84).
pub fn soil_data_access(parcels: &[MultiPolygon<f64>], crs: Option<&Crs>, q: &SdaQuery) -> Result<SoilData> {
    q.validate()?;
    let wgs = Crs::wgs84();
    let to_wgs = match crs {
        Some(c) if c != &wgs => Some(Transformer::new(c, &wgs)?),
        _ => None,
    };
    let mut wkts = Vec::with_capacity(parcels.len());
    for p in parcels {
        let g = match &to_wgs {
            Some(t) => t.transform_multipolygon(p)?,
            None => p.clone(),
        };
        if g.0.is_empty() {
            continue;
        }
        let mut s = String::new();
        crate::vector::wkt::write_multipolygon(&g, Some(7), &mut s);
        if s.len() > MAX_WKT {
            return Err(Error::InvalidInput(format!(
                "a parcel's outline is {} KiB of WKT, over the {} KiB Soil Data Access takes in one request",
                s.len() >> 10,
                MAX_WKT >> 10
            )));
        }
        wkts.push(s);
    }
    let agent = crate::remote::agent_with(std::time::Duration::from_secs_f64(q.timeout_s));
    let mut requests = 0usize;
    // chunks of parcels, by count and WKT size
    let mut pending: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (i, w) in wkts.iter().enumerate() {
        if !cur.is_empty() && (cur.len() >= q.parcels_per_request || bytes + w.len() > MAX_WKT) {
            pending.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += w.len();
        cur.push(i);
    }
    if !cur.is_empty() {
        pending.push(cur);
    }
    pending.reverse();
    let mut seen: HashSet<String> = HashSet::new();
    let (mut mukeys, mut keys_seen) = (Vec::new(), HashSet::new());
    let (mut fids, mut geoms, mut mukey_col, mut poly_col) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    while let Some(chunk) = pending.pop() {
        crate::interrupt::check("Soil Data Access")?;
        let sql = spatial_sql(chunk.iter().map(|&i| wkts[i].as_str()));
        requests += 1;
        // a refusal of a chunk of several parcels is split at once, not retried
        let finals: &[u16] = if chunk.len() > 1 { &[500] } else { &[] };
        let t = match run_with(&agent, &q.url, &sql, finals) {
            Ok(t) => t,
            Err(e) if refused(&e) && chunk.len() > 1 => {
                let (a, b) = chunk.split_at(chunk.len() / 2);
                pending.push(b.to_vec());
                pending.push(a.to_vec());
                continue;
            }
            Err(e) => return Err(e),
        };
        if t.rows.is_empty() {
            continue;
        }
        let need =
            |n: &str| t.index(n).ok_or_else(|| remote(&q.url, format!("the mupolygon answer has no {n} column")));
        let (km, kp, kw) = (need("mukey")?, need("mupolygonkey")?, need("wkt")?);
        for r in &t.rows {
            let (Some(mk), Some(pk), Some(w)) = (r[km].clone(), r[kp].clone(), r[kw].as_deref()) else {
                return Err(remote(&q.url, "a mupolygon row has a null mukey, mupolygonkey or wkt".into()));
            };
            if !is_key(&mk) {
                return Err(remote(&q.url, "a mukey is not a number".into()));
            }
            if !seen.insert(pk.clone()) {
                continue;
            }
            let g = crate::vector::wkt::parse_polygonal(w)
                .map_err(|e| remote(&q.url, format!("the polygon of map unit {mk} is not readable: {e}")))?;
            if keys_seen.insert(mk.clone()) {
                mukeys.push(mk.clone());
            }
            fids.push(fids.len() as i64);
            geoms.push(Some(Geometry::MultiPolygon(g)));
            mukey_col.push(Some(mk));
            poly_col.push(Some(pk));
        }
    }
    mukeys.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    let mut component = SdaTable::default();
    let mut mapunit = SdaTable::default();
    let mut muaggatt = SdaTable::default();
    let agg_cols: Vec<&str> = std::iter::once("mukey").chain(q.muaggatt.iter().map(String::as_str)).collect();
    for keys in mukeys.chunks(KEYS_PER_QUERY) {
        crate::interrupt::check("Soil Data Access")?;
        let list = keys.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(",");
        component.append(run(
            &agent,
            &q.url,
            &format!(
                "SELECT mukey, cokey, comppct_r, majcompflag, drainagecl, hydgrp FROM component \
                 WHERE mukey IN ({list}) ORDER BY mukey, cokey"
            ),
        )?);
        mapunit.append(run(
            &agent,
            &q.url,
            &format!("SELECT mukey, farmlndcl FROM mapunit WHERE mukey IN ({list}) ORDER BY mukey"),
        )?);
        requests += 2;
        if !q.muaggatt.is_empty() {
            muaggatt.append(run(
                &agent,
                &q.url,
                &format!("SELECT {} FROM muaggatt WHERE mukey IN ({list}) ORDER BY mukey", agg_cols.join(", ")),
            )?);
            requests += 1;
        }
    }
    let mapunits = VectorLayer {
        name: "mupolygon".into(),
        crs: Some(wgs),
        fids,
        geometries: geoms,
        columns: vec![
            Column { name: "mukey".into(), data: ColumnData::Text(mukey_col) },
            Column { name: "mupolygonkey".into(), data: ColumnData::Text(poly_col) },
        ],
        geometry_type: "MULTIPOLYGON".into(),
    };
    Ok(SoilData { mapunits, component, mapunit, muaggatt, requests })
}

/// A map-unit key: digits only (it goes into SQL).
fn is_key(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `mupolygon` rows intersecting the union of the parcels.
fn spatial_sql<'a>(wkts: impl Iterator<Item = &'a str>) -> String {
    // each parcel's MULTIPOLYGON (((…))) contributes its polygons to one MULTIPOLYGON
    let mut polys = Vec::new();
    for w in wkts {
        if let Some(inner) = w.strip_prefix("MULTIPOLYGON (").and_then(|r| r.strip_suffix(')')) {
            polys.push(inner);
        }
    }
    format!(
        "SELECT P.mukey, P.mupolygonkey, P.mupolygongeo.STAsText() AS wkt FROM mupolygon AS P \
         WHERE P.mupolygongeo.STIntersects(geometry::STGeomFromText('MULTIPOLYGON ({})', 4326).MakeValid()) = 1 \
         ORDER BY P.mupolygonkey",
        polys.join(", ")
    )
}
