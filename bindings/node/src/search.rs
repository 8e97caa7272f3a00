//! The search index over parcels: build, query, rescore, query many.

use crate::convert::{config_source, parcels_from_js, table_from_js, to_json, to_value, Json, Lend};
use crate::error::{guard, reject_with_code};
use crate::features::FeatureTableJs;
use landopp::config::{Config, ConfigSource};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

pub(crate) type SharedIndex = std::sync::Arc<std::sync::RwLock<landopp::search::SearchIndex>>;

pub(crate) fn read_index(
    i: &SharedIndex,
) -> landopp::Result<std::sync::RwLockReadGuard<'_, landopp::search::SearchIndex>> {
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
pub(crate) enum ParcelSource {
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
    profile: Option<ConfigSource>,
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
            let prof = profile.map(landopp::scoring::Profile::from_source).transpose()?;
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
    #[napi(ts_arg_type = "string | import('geojson').FeatureCollection")] parcels: serde_json::Value,
    #[napi(ts_arg_type = "FeatureTable")] table: Unknown<'_>,
    #[napi(ts_arg_type = "import('./types').Profile | string")] profile: Option<serde_json::Value>,
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
                        let dup = landopp::vector::DuplicateIds::parse_or_default(dup.as_deref())?;
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
    Ok(AsyncTask::new(BuildIndexTask { parcels, table: Some(t), profile: profile.map(config_source), opts }))
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
pub(crate) struct Explained {
    criteria: Vec<String>,
    values: Vec<f64>,
    labels: Option<String>,
    extra: Option<(Vec<String>, Vec<f64>)>,
}

pub(crate) fn run_query(index: &SharedIndex, query: serde_json::Value, split: bool) -> landopp::Result<QueryOut> {
    let mut q = landopp::search::Query::from_value(query)?;
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

pub(crate) fn query_parts(out: QueryOut) -> QueryParts {
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
    profile: ConfigSource,
}

impl Task for RescoreTask {
    type Output = landopp::Result<()>;
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<Self::Output> {
        let index = self.index.clone();
        let profile = self.profile.clone();
        Ok(landopp::error::catch_panic(|| {
            let p = landopp::scoring::Profile::from_source(profile)?;
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
#[napi(object, object_from_js = false, js_name = "HitTable")]
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
            let qs = Vec::<landopp::search::Query>::from_text(&queries)?;
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
    #[napi(ts_return_type = "Promise<HitTable>")]
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
    pub fn query_json(
        &self,
        #[napi(ts_arg_type = "import('./types').Query")] query: serde_json::Value,
    ) -> AsyncTask<QueryTask> {
        AsyncTask::new(QueryTask { index: self.inner.clone(), query, split: true })
    }

    /// The query off the JS thread, resolving to the whole page (explanations inline) as one
    /// JSON text in `page` — for services that forward it as the response body unparsed.
    #[napi(ts_return_type = "Promise<QueryParts>")]
    pub fn query_text(
        &self,
        #[napi(ts_arg_type = "import('./types').Query")] query: serde_json::Value,
    ) -> AsyncTask<QueryTask> {
        AsyncTask::new(QueryTask { index: self.inner.clone(), query, split: false })
    }

    /// The same query on the JS thread (sub-millisecond for small areas).
    #[napi]
    pub fn query_json_sync(
        &self,
        env: Env,
        #[napi(ts_arg_type = "import('./types').Query")] query: serde_json::Value,
    ) -> napi::Result<QueryParts> {
        guard(&env, || run_query(&self.inner, query, true).map(query_parts))
    }

    /// Re-score with a new profile without recomputing features (off the JS thread; queries
    /// running meanwhile see the old scores).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn rescore(
        &self,
        #[napi(ts_arg_type = "import('./types').Profile | string")] profile: serde_json::Value,
    ) -> AsyncTask<RescoreTask> {
        AsyncTask::new(RescoreTask { index: self.inner.clone(), profile: config_source(profile) })
    }

    /// Sites of adjacent matching parcels: `[{parcelIds, acres, score}]`, largest first.
    #[napi(ts_return_type = "import('./types').Site[]")]
    pub fn assemble_sites(
        &self,
        env: Env,
        #[napi(ts_arg_type = "import('./types').Query")] query: serde_json::Value,
        tolerance_m: Option<f64>,
        min_acres: Option<f64>,
    ) -> napi::Result<Json> {
        guard(&env, || {
            let q = landopp::search::Query::from_value(query)?;
            let sites =
                read_index(&self.inner)?.assemble_sites(&q, tolerance_m.unwrap_or(0.0), min_acres.unwrap_or(0.0))?;
            to_value(&sites).map(Json)
        })
    }
}
