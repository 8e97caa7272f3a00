//! Scoring a feature table with a profile; results as typed arrays with lazy explanations.

use crate::convert::{columns_into_table, config_source, Json, Lend};
use crate::error::{guard, reject_with_code};
use crate::features::FeatureColumnJs;
use landopp::config::{Config, ConfigSource};
use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;

/// Feature columns without ids (a `FeatureTable` works too: its ids are not read).
#[napi(object, js_name = "FeatureColumns")]
pub struct ColumnsJs {
    pub columns: Vec<FeatureColumnJs>,
}

pub struct ScoreTask {
    table: Option<landopp::FeatureTable>,
    profile: ConfigSource,
    explain: bool,
}

/// Scores of every parcel, in the table's row order: typed arrays, plus explanations when asked
/// for.
#[napi(object, object_from_js = false, js_name = "ScoreResult")]
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
    #[napi(ts_type = "Array<Array<import('./types').Contribution>> | undefined")]
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
                let p = landopp::scoring::Profile::from_source(profile)?;
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
                    Some(crate::convert::to_value(&all)?)
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
#[napi(ts_return_type = "Promise<ScoreResult>")]
pub fn score(
    env: Env,
    #[napi(ts_arg_type = "FeatureTable | FeatureColumns")] table: ColumnsJs,
    #[napi(ts_arg_type = "import('./types').Profile | string")] profile: serde_json::Value,
    options: Option<ScoreOptions>,
) -> napi::Result<AsyncTask<ScoreTask>> {
    // ids stay in JS (results are in row order): only the columns cross
    let n = table.columns.first().map_or(0, |c| c.values.len());
    let t = guard(&env, || columns_into_table(landopp::features::blank_ids(n), table.columns, Lend::Borrow))?;
    Ok(AsyncTask::new(ScoreTask {
        table: Some(t),
        profile: config_source(profile),
        explain: options.and_then(|o| o.explain).unwrap_or(false),
    }))
}
