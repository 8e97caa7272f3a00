//! Transparent multi-criteria scoring of parcels (Esri Suitability Modeler vocabulary): criteria
//! on feature columns with transforms to 0..1, weights (direct or AHP), hard and partial
//! constraints, aggregation (weighted sum, weighted product, TOPSIS, OWA, SPOTIS) and a per-parcel
//! explanation.
//!
//! * A [`Profile`] (serde JSON/TOML, `version` 1) is validated completely before any work
//!   ([`Profile::validate`]); errors name the offending field (`criteria[2].transform.max`).
//! * Transforms use FIXED bounds given in the profile, so adding or removing candidate parcels never
//!   reorders the others with `weighted_sum`, `weighted_product`, `owa` and `spotis` (rank-reversal
//!   free). `topsis` normalises over the candidate set and is not.
//! * NaN policy: a criterion value that is NaN (missing feature) transforms to 0 (worst) and the
//!   explanation marks it `missing`; constraints on a NaN value do not fire.
//! * Weights: direct weights must be finite and ≥ 0 and are normalised to sum 1 (the explanation
//!   shows the normalised weight); AHP weights are the principal eigenvector, and a consistency ratio
//!   above 0.10 is refused unless `allow_inconsistent` is set.

use crate::error::{Error, Result};
use crate::features::FeatureTable;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a raw feature value becomes a 0..1 suitability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// 0 at `min`, 1 at `max`, linear between, clamped.
    LinearBenefit {
        /// Value scoring 0.
        min: f64,
        /// Value scoring 1.
        max: f64,
    },
    /// 1 at `min`, 0 at `max`.
    LinearCost {
        /// Value scoring 1.
        min: f64,
        /// Value scoring 0.
        max: f64,
    },
    /// Logistic: 1 / (1 + exp(−(x − midpoint)/spread)); a negative spread favours low values.
    Sigmoid {
        /// Value scoring 0.5.
        midpoint: f64,
        /// Steepness (non-zero).
        spread: f64,
    },
    /// exp(−(x − mean)² / (2 sd²)).
    Gaussian {
        /// Ideal value.
        mean: f64,
        /// Width (> 0).
        sd: f64,
    },
    /// 0 below `a`, rising to 1 at `b`, 1 until `c`, falling to 0 at `d`.
    Trapezoid {
        /// Start of the rise.
        a: f64,
        /// Full suitability from.
        b: f64,
        /// Full suitability until.
        c: f64,
        /// End of the fall.
        d: f64,
    },
    /// 1 at `target`, falling linearly to 0 at `target ± tolerance`.
    Target {
        /// Ideal value.
        target: f64,
        /// Distance at which suitability reaches 0 (> 0).
        tolerance: f64,
    },
    /// Categories (labels of a categorical column, or numbers formatted as text) to scores.
    Categorical {
        /// Label → score in 0..1.
        scores: BTreeMap<String, f64>,
        /// Score of labels not listed.
        #[serde(default)]
        default: f64,
    },
    /// Piecewise-linear through `points` `[[x, y], ...]` (x increasing), flat outside.
    Piecewise {
        /// Break points.
        points: Vec<[f64; 2]>,
    },
}

impl Transform {
    fn validate(&self, at: &str) -> Result<()> {
        let bad = |f: &str, m: &str| Err(Error::InvalidInput(format!("{at}.{f}: {m}")));
        let fin = |v: f64| v.is_finite();
        match self {
            Transform::LinearBenefit { min, max } | Transform::LinearCost { min, max } => {
                if !(fin(*min) && fin(*max)) || min >= max {
                    return bad("max", &format!("needs finite min < max (got {min}, {max})"));
                }
            }
            Transform::Sigmoid { midpoint, spread } => {
                if !fin(*midpoint) || !fin(*spread) || *spread == 0.0 {
                    return bad("spread", "must be finite and non-zero");
                }
            }
            Transform::Gaussian { mean, sd } => {
                if !(fin(*mean) && fin(*sd) && *sd > 0.0) {
                    return bad("sd", "must be > 0");
                }
            }
            Transform::Trapezoid { a, b, c, d } => {
                if !([*a, *b, *c, *d].iter().all(|v| fin(*v)) && a <= b && b <= c && c <= d && a < d) {
                    return bad("a", "needs a <= b <= c <= d with a < d");
                }
            }
            Transform::Target { target, tolerance } => {
                if !(fin(*target) && fin(*tolerance) && *tolerance > 0.0) {
                    return bad("tolerance", "must be > 0");
                }
            }
            Transform::Categorical { scores, default } => {
                if let Some((k, v)) = scores.iter().find(|(_, v)| !(0.0..=1.0).contains(*v)) {
                    return bad(&format!("scores.{k}"), &format!("{v} is outside 0..1"));
                }
                if !(0.0..=1.0).contains(default) {
                    return bad("default", "must be in 0..1");
                }
            }
            Transform::Piecewise { points } => {
                if points.len() < 2 || points.windows(2).any(|w| w[1][0] <= w[0][0]) {
                    return bad("points", "needs at least two points with increasing x");
                }
                if points.iter().any(|p| !(0.0..=1.0).contains(&p[1]) || !p[0].is_finite()) {
                    return bad("points", "y values must be in 0..1");
                }
            }
        }
        Ok(())
    }

    /// Apply to a raw value (NaN → NaN); `label` is used by categorical transforms.
    pub fn apply(&self, x: f64, label: Option<&str>) -> f64 {
        let clamp = |v: f64| v.clamp(0.0, 1.0);
        match self {
            Transform::Categorical { scores, default } => {
                let key = label.map(str::to_string).or_else(|| (!x.is_nan()).then(|| fmt_num(x)));
                match key {
                    Some(k) => scores.get(&k).copied().unwrap_or(*default),
                    None => f64::NAN,
                }
            }
            _ if x.is_nan() => f64::NAN,
            Transform::LinearBenefit { min, max } => clamp((x - min) / (max - min)),
            Transform::LinearCost { min, max } => clamp((max - x) / (max - min)),
            Transform::Sigmoid { midpoint, spread } => 1.0 / (1.0 + (-(x - midpoint) / spread).exp()),
            Transform::Gaussian { mean, sd } => (-(x - mean).powi(2) / (2.0 * sd * sd)).exp(),
            Transform::Trapezoid { a, b, c, d } => {
                if x < *a || x > *d {
                    0.0
                } else if x < *b {
                    (x - a) / (b - a)
                } else if x <= *c {
                    1.0
                } else {
                    (d - x) / (d - c)
                }
            }
            Transform::Target { target, tolerance } => clamp(1.0 - (x - target).abs() / tolerance),
            Transform::Piecewise { points } => {
                if x <= points[0][0] {
                    return points[0][1];
                }
                for w in points.windows(2) {
                    if x <= w[1][0] {
                        let t = (x - w[0][0]) / (w[1][0] - w[0][0]);
                        return w[0][1] + t * (w[1][1] - w[0][1]);
                    }
                }
                points[points.len() - 1][1]
            }
        }
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// One criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criterion {
    /// Feature column.
    pub column: String,
    /// Transform to 0..1.
    pub transform: Transform,
    /// Direct weight (ignored when the profile has an AHP matrix).
    #[serde(default)]
    pub weight: Option<f64>,
    /// Display name (default: the column).
    #[serde(default)]
    pub name: Option<String>,
}

/// A comparison operator of a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Greater than.
    #[serde(rename = ">")]
    Gt,
    /// Greater or equal.
    #[serde(rename = ">=")]
    Ge,
    /// Less than.
    #[serde(rename = "<")]
    Lt,
    /// Less or equal.
    #[serde(rename = "<=")]
    Le,
    /// Equal.
    #[serde(rename = "==")]
    Eq,
    /// Not equal.
    #[serde(rename = "!=")]
    Ne,
}

impl Op {
    fn test(self, a: f64, b: f64) -> bool {
        match self {
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// A hard constraint (excludes the parcel, with a reason code) or, with `reduce_area_column`, a
/// partial constraint that removes that share of the parcel from its buildable area instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    /// Reason code reported when it fires, e.g. `SLOPE_GT_15`.
    pub code: String,
    /// Feature column tested (hard constraints).
    #[serde(default)]
    pub column: Option<String>,
    /// Operator.
    #[serde(default)]
    pub op: Option<Op>,
    /// Threshold.
    #[serde(default)]
    pub value: Option<f64>,
    /// Partial constraint: a 0..1 share column (e.g. `sfha_in_share`) removed from the buildable area.
    #[serde(default)]
    pub reduce_area_column: Option<String>,
}

/// Aggregation of the transformed criteria.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Method {
    /// Σ wᵢ sᵢ (additive: contributions sum to the score).
    WeightedSum,
    /// Π sᵢ^wᵢ.
    WeightedProduct,
    /// TOPSIS closeness over the candidate set (vector normalisation of the transformed values).
    Topsis,
    /// Ordered weighted average: order weights applied to the criteria sorted high to low.
    Owa {
        /// Order weights (one per criterion, normalised).
        order_weights: Vec<f64>,
    },
    /// 1 − SPOTIS distance to the ideal (1 for every criterion) with bounds [0, 1].
    Spotis,
}

/// An AHP pairwise comparison matrix (Saaty 1..9 and reciprocals), rows/columns in criteria order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ahp {
    /// The n × n matrix.
    pub matrix: Vec<Vec<f64>>,
    /// Accept a consistency ratio above 0.10.
    #[serde(default)]
    pub allow_inconsistent: bool,
}

/// A scoring profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Schema version (1).
    pub version: u32,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Criteria.
    pub criteria: Vec<Criterion>,
    /// AHP weights (instead of direct weights).
    #[serde(default)]
    pub ahp: Option<Ahp>,
    /// Constraints.
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    /// Aggregation.
    pub method: Method,
    /// Column with the parcel area in acres (for buildable acres; default `area_acres`).
    #[serde(default = "acres")]
    pub area_column: String,
}

fn acres() -> String {
    "area_acres".into()
}

/// Random index of Saaty for n = 1..=10.
const RI: [f64; 10] = [0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49];

/// AHP weights (principal eigenvector, normalised) and consistency ratio.
pub fn ahp_weights(m: &[Vec<f64>]) -> Result<(Vec<f64>, f64)> {
    let n = m.len();
    if n == 0 || m.iter().any(|r| r.len() != n) {
        return Err(Error::InvalidInput(format!("ahp.matrix must be square ({n} rows)")));
    }
    for (i, r) in m.iter().enumerate() {
        for (j, v) in r.iter().enumerate() {
            if !(v.is_finite() && *v > 0.0) {
                return Err(Error::InvalidInput(format!("ahp.matrix[{i}][{j}] = {v} must be positive")));
            }
            if ((v * m[j][i]) - 1.0).abs() > 1e-6 {
                return Err(Error::InvalidInput(format!(
                    "ahp.matrix[{i}][{j}] = {v} is not the reciprocal of ahp.matrix[{j}][{i}] = {}",
                    m[j][i]
                )));
            }
        }
    }
    let mut w = vec![1.0 / n as f64; n];
    for _ in 0..1000 {
        let mut nw: Vec<f64> = (0..n).map(|i| (0..n).map(|j| m[i][j] * w[j]).sum()).collect();
        let s: f64 = nw.iter().sum();
        nw.iter_mut().for_each(|v| *v /= s);
        let diff: f64 = nw.iter().zip(&w).map(|(a, b)| (a - b).abs()).sum();
        w = nw;
        if diff < 1e-15 {
            break;
        }
    }
    let lambda: f64 = (0..n).map(|i| (0..n).map(|j| m[i][j] * w[j]).sum::<f64>() / w[i]).sum::<f64>() / n as f64;
    let ci = if n > 1 { (lambda - n as f64) / (n as f64 - 1.0) } else { 0.0 };
    let ri = RI.get(n - 1).copied().unwrap_or(1.49);
    let cr = if ri > 0.0 { ci / ri } else { 0.0 };
    Ok((w, cr))
}

impl Profile {
    /// Parse JSON or TOML, then validate.
    pub fn parse(text: &str) -> Result<Self> {
        let p: Profile = crate::error::parse_config(text, "profile")?;
        p.validate()?;
        Ok(p)
    }

    /// Check the whole profile; errors name the field.
    pub fn validate(&self) -> Result<()> {
        if self.version != 1 {
            return Err(Error::InvalidInput(format!("version: {} is not supported (1)", self.version)));
        }
        if self.criteria.is_empty() {
            return Err(Error::InvalidInput("criteria: at least one criterion is needed".into()));
        }
        for (i, c) in self.criteria.iter().enumerate() {
            c.transform.validate(&format!("criteria[{i}].transform"))?;
            if let Some(w) = c.weight {
                if !(w.is_finite() && w >= 0.0) {
                    return Err(Error::InvalidInput(format!("criteria[{i}].weight: {w} must be finite and >= 0")));
                }
            }
        }
        match &self.ahp {
            Some(a) => {
                if a.matrix.len() != self.criteria.len() {
                    return Err(Error::InvalidInput(format!(
                        "ahp.matrix: {} rows for {} criteria",
                        a.matrix.len(),
                        self.criteria.len()
                    )));
                }
                let (_, cr) = ahp_weights(&a.matrix)?;
                if cr > 0.10 && !a.allow_inconsistent {
                    return Err(Error::InvalidInput(format!(
                        "ahp.matrix: consistency ratio {cr:.3} > 0.10 (inconsistent judgements; set allow_inconsistent to accept)"
                    )));
                }
            }
            None => {
                if let Some(i) = self.criteria.iter().position(|c| c.weight.is_none()) {
                    return Err(Error::InvalidInput(format!("criteria[{i}].weight: missing (or give an ahp matrix)")));
                }
                let s: f64 = self.criteria.iter().filter_map(|c| c.weight).sum();
                if s <= 0.0 {
                    return Err(Error::InvalidInput("criteria[*].weight: weights sum to 0".into()));
                }
            }
        }
        for (i, c) in self.constraints.iter().enumerate() {
            match (&c.column, c.op, c.value, &c.reduce_area_column) {
                (Some(_), Some(_), Some(v), None) if v.is_finite() => {}
                (None, None, None, Some(_)) => {}
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "constraints[{i}]: give column + op + value (hard) or reduce_area_column (partial)"
                    )))
                }
            }
        }
        if let Method::Owa { order_weights } = &self.method {
            if order_weights.len() != self.criteria.len() || order_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
            {
                return Err(Error::InvalidInput(format!(
                    "method.order_weights: {} non-negative weights needed",
                    self.criteria.len()
                )));
            }
        }
        Ok(())
    }

    /// Normalised criterion weights (direct weights / their sum, or AHP).
    pub fn weights(&self) -> Result<Vec<f64>> {
        match &self.ahp {
            Some(a) => Ok(ahp_weights(&a.matrix)?.0),
            None => {
                let w: Vec<f64> = self.criteria.iter().map(|c| c.weight.unwrap_or(0.0)).collect();
                let s: f64 = w.iter().sum();
                Ok(w.iter().map(|v| v / s).collect())
            }
        }
    }
}

/// One criterion's part of a parcel's explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Criterion name.
    pub criterion: String,
    /// Raw feature value (NaN when missing).
    pub raw: f64,
    /// Category label, for categorical columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Transformed value in 0..1.
    pub transformed: f64,
    /// Normalised weight.
    pub weight: f64,
    /// Contribution to the score (weighted sum: weight × transformed; other methods: the
    /// method's per-criterion term).
    pub contribution: f64,
    /// True when the raw value was missing (scored 0).
    pub missing: bool,
}

/// Scores of every parcel. Explanations are built on demand ([`ScoreResult::explanation`]) from
/// the stored matrices, so scoring a million parcels does not allocate ten million records; the
/// JSON form includes every explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreResult {
    /// Parcel ids (shared with the feature table).
    pub ids: std::sync::Arc<Vec<String>>,
    /// Score in 0..1 (0 for excluded parcels).
    pub score: Vec<f64>,
    /// Rank (1 = best) among non-excluded parcels; excluded parcels rank after them; ties keep
    /// input order.
    pub rank: Vec<usize>,
    /// Excluded by a hard constraint.
    pub excluded: Vec<bool>,
    /// Codes of every constraint that fired.
    pub reasons: Vec<Vec<String>>,
    /// Buildable acres (area minus partial constraints), NaN without an area column.
    pub buildable_acres: Vec<f64>,
    /// The method's name.
    pub method: String,
    criteria: Vec<String>,
    categories: Vec<Option<Vec<String>>>,
    weights: Vec<f64>,
    raw: Vec<f64>,
    transformed: Vec<f64>,
    contrib: Vec<f64>,
    missing: Vec<bool>,
}

impl ScoreResult {
    /// Number of criteria.
    pub fn criteria(&self) -> &[String] {
        &self.criteria
    }
    /// Normalised weights.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// The explanation of parcel `i`: per criterion raw value, transformed value, weight,
    /// contribution.
    pub fn explanation(&self, i: usize) -> Vec<Contribution> {
        let k = self.criteria.len();
        (0..k)
            .map(|j| {
                let raw = self.raw[i * k + j];
                let label = self.categories[j]
                    .as_ref()
                    .and_then(|c| (!raw.is_nan()).then(|| c.get(raw as usize).cloned()).flatten());
                Contribution {
                    criterion: self.criteria[j].clone(),
                    raw,
                    label,
                    transformed: self.transformed[i * k + j],
                    weight: self.weights[j],
                    contribution: self.contrib[i * k + j],
                    missing: self.missing[i * k + j],
                }
            })
            .collect()
    }
    /// Transformed (0..1) value of parcel `i`, criterion `j`.
    pub fn transformed(&self, i: usize, j: usize) -> f64 {
        self.transformed[i * self.criteria.len() + j]
    }
}

impl Serialize for ScoreResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ScoreResult", 8)?;
        st.serialize_field("ids", &*self.ids)?;
        st.serialize_field("score", &self.score)?;
        st.serialize_field("rank", &self.rank)?;
        st.serialize_field("excluded", &self.excluded)?;
        st.serialize_field("reasons", &self.reasons)?;
        st.serialize_field("buildable_acres", &self.buildable_acres)?;
        let ex: Vec<Vec<Contribution>> = (0..self.ids.len()).map(|i| self.explanation(i)).collect();
        st.serialize_field("explanations", &ex)?;
        st.serialize_field("method", &self.method)?;
        st.end()
    }
}

/// Aggregate transformed values (row-major n × k) with `weights`; returns (scores, contributions).
/// `active` limits TOPSIS's ideal points to those rows.
fn aggregate(
    method: &Method,
    tr: &[f64],
    n: usize,
    k: usize,
    weights: &[f64],
    active: &[bool],
) -> (Vec<f64>, Vec<f64>) {
    use rayon::prelude::*;
    let mut scores = vec![0.0; n];
    let mut contrib = vec![0.0; n * k];
    let rows = scores.par_iter_mut().zip(contrib.par_chunks_mut(k.max(1))).enumerate();
    match method {
        Method::WeightedSum => rows.for_each(|(i, (s, c))| {
            *s = 0.0;
            for j in 0..k {
                c[j] = weights[j] * tr[i * k + j];
                *s += c[j];
            }
        }),
        Method::WeightedProduct => rows.for_each(|(i, (s, c))| {
            *s = 1.0;
            for j in 0..k {
                c[j] = tr[i * k + j].powf(weights[j]);
                *s *= c[j];
            }
        }),
        Method::Spotis => rows.for_each(|(i, (s, c))| {
            let mut d = 0.0;
            for j in 0..k {
                let x = weights[j] * (1.0 - tr[i * k + j]).abs();
                c[j] = weights[j] - x;
                d += x;
            }
            *s = 1.0 - d;
        }),
        Method::Owa { order_weights } => {
            let tot: f64 = order_weights.iter().sum();
            let ow: Vec<f64> = order_weights.iter().map(|w| w / tot).collect();
            rows.for_each(|(i, (s, c))| {
                let mut idx: Vec<usize> = (0..k).collect();
                idx.sort_by(|a, b| tr[i * k + b].total_cmp(&tr[i * k + a]));
                *s = 0.0;
                for (pos, &j) in idx.iter().enumerate() {
                    c[j] = ow[pos] * tr[i * k + j];
                    *s += c[j];
                }
            })
        }
        Method::Topsis => {
            let norms: Vec<f64> = (0..k)
                .map(|j| (0..n).filter(|i| active[*i]).map(|i| tr[i * k + j].powi(2)).sum::<f64>().sqrt())
                .collect();
            let v = |i: usize, j: usize| if norms[j] > 0.0 { weights[j] * tr[i * k + j] / norms[j] } else { 0.0 };
            let pis: Vec<f64> = (0..k)
                .map(|j| (0..n).filter(|i| active[*i]).map(|i| v(i, j)).fold(f64::NEG_INFINITY, f64::max))
                .collect();
            let nis: Vec<f64> =
                (0..k).map(|j| (0..n).filter(|i| active[*i]).map(|i| v(i, j)).fold(f64::INFINITY, f64::min)).collect();
            rows.for_each(|(i, (s, c))| {
                let (mut dp, mut dm) = (0.0, 0.0);
                for j in 0..k {
                    let x = v(i, j);
                    dp += (x - pis[j]).powi(2);
                    dm += (x - nis[j]).powi(2);
                    c[j] = x;
                }
                let (dp, dm) = (dp.sqrt(), dm.sqrt());
                *s = if dp + dm > 0.0 { dm / (dp + dm) } else { 0.0 };
            })
        }
    }
    (scores, contrib)
}

/// Ranks (1 = best): non-excluded by score descending, ties in input order, then excluded ones.
fn ranks(scores: &[f64], excluded: &[bool]) -> Vec<usize> {
    use rayon::prelude::*;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.par_sort_unstable_by(|&a, &b| {
        excluded[a].cmp(&excluded[b]).then(scores[b].total_cmp(&scores[a])).then(a.cmp(&b))
    });
    let mut rank = vec![0; scores.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    rank
}

/// Score a feature table with a profile.
pub fn score(features: &FeatureTable, profile: &Profile) -> Result<ScoreResult> {
    use rayon::prelude::*;
    profile.validate()?;
    let n = features.len();
    if n == 0 {
        return Err(Error::Empty("no candidate parcel to score".into()));
    }
    let weights = profile.weights()?;
    let cols = profile.criteria.iter().map(|c| features.column(&c.column)).collect::<Result<Vec<_>>>()?;
    let k = cols.len();
    let mut raw = vec![0.0; n * k];
    let mut tr = vec![0.0; n * k];
    let mut missing = vec![false; n * k];
    raw.par_chunks_mut(k).zip(tr.par_chunks_mut(k)).zip(missing.par_chunks_mut(k)).enumerate().for_each(
        |(i, ((r, t), m))| {
            for (j, (c, col)) in profile.criteria.iter().zip(&cols).enumerate() {
                let x = col.values[i];
                let v = c.transform.apply(x, col.label(i));
                r[j] = x;
                m[j] = v.is_nan();
                t[j] = if v.is_nan() { 0.0 } else { v };
            }
        },
    );
    let mut excluded = vec![false; n];
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut buildable: Vec<f64> = match features.column(&profile.area_column) {
        Ok(c) => c.values.clone(),
        Err(_) => vec![f64::NAN; n],
    };
    for c in &profile.constraints {
        if let (Some(col), Some(op), Some(v)) = (&c.column, c.op, c.value) {
            let fc = features.column(col)?;
            for i in 0..n {
                let x = fc.values[i];
                if !x.is_nan() && op.test(x, v) {
                    excluded[i] = true;
                    reasons[i].push(c.code.clone());
                }
            }
        } else if let Some(col) = &c.reduce_area_column {
            let fc = features.column(col)?;
            for i in 0..n {
                let s = fc.values[i];
                if !s.is_nan() && s > 0.0 {
                    buildable[i] *= (1.0 - s).clamp(0.0, 1.0);
                    reasons[i].push(c.code.clone());
                }
            }
        }
    }
    let active: Vec<bool> = excluded.iter().map(|e| !e).collect();
    let (mut scores, contrib) = aggregate(&profile.method, &tr, n, k, &weights, &active);
    for (s, e) in scores.iter_mut().zip(&excluded) {
        if *e {
            *s = 0.0;
        }
    }
    let rank = ranks(&scores, &excluded);
    let method = serde_json::to_value(&profile.method)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(ScoreResult {
        ids: features.ids_shared(),
        score: scores,
        rank,
        excluded,
        reasons,
        buildable_acres: buildable,
        method,
        criteria: profile.criteria.iter().map(|c| c.name.clone().unwrap_or_else(|| c.column.clone())).collect(),
        categories: cols.iter().map(|c| c.categories.clone()).collect(),
        weights,
        raw,
        transformed: tr,
        contrib,
        missing,
    })
}

/// Rank stability of one parcel under weight perturbation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stability {
    /// Parcel id.
    pub id: String,
    /// Rank with the profile's weights.
    pub rank: usize,
    /// Best (lowest) rank seen.
    pub best_rank: usize,
    /// Worst rank seen.
    pub worst_rank: usize,
    /// Share of runs in which the parcel stayed in the top k.
    pub p_top_k: f64,
}

/// Sensitivity of the ranking to the weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensitivity {
    /// `top_k` used.
    pub top_k: usize,
    /// Number of weight sets evaluated.
    pub runs: usize,
    /// One entry per parcel.
    pub parcels: Vec<Stability>,
}

/// How weights are perturbed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Perturbation {
    /// One weight at a time multiplied by (1 ± `delta`), others renormalised.
    OneAtATime {
        /// Relative change, e.g. 0.2.
        delta: f64,
    },
    /// `runs` weight sets: each weight multiplied by a uniform factor in [1 − spread, 1 + spread]
    /// (deterministic with `seed`), then renormalised.
    MonteCarlo {
        /// Number of runs.
        runs: usize,
        /// Relative spread.
        spread: f64,
        /// Seed.
        seed: u64,
    },
}

/// Rank stability under weight perturbation, reusing the transformed matrix (features are not
/// recomputed). Excluded parcels keep their exclusion.
pub fn sensitivity(result: &ScoreResult, profile: &Profile, how: Perturbation, top_k: usize) -> Result<Sensitivity> {
    let k = result.criteria.len();
    let n = result.ids.len();
    if top_k == 0 {
        return Err(Error::InvalidInput("top_k must be > 0".into()));
    }
    let base = result.weights.clone();
    let mut sets: Vec<Vec<f64>> = Vec::new();
    let norm = |w: Vec<f64>| {
        let s: f64 = w.iter().sum();
        w.into_iter().map(|x| x / s).collect::<Vec<_>>()
    };
    match how {
        Perturbation::OneAtATime { delta } => {
            if !(delta > 0.0 && delta < 1.0) {
                return Err(Error::InvalidInput(format!("delta {delta} must be in (0, 1)")));
            }
            for j in 0..k {
                for f in [1.0 - delta, 1.0 + delta] {
                    let mut w = base.clone();
                    w[j] *= f;
                    sets.push(norm(w));
                }
            }
        }
        Perturbation::MonteCarlo { runs, spread, seed } => {
            if runs == 0 || !(0.0..1.0).contains(&spread) {
                return Err(Error::InvalidInput("runs must be > 0 and spread in [0, 1)".into()));
            }
            // splitmix64: deterministic, dependency-free
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            };
            for _ in 0..runs {
                sets.push(norm(base.iter().map(|w| w * (1.0 - spread + 2.0 * spread * next())).collect()));
            }
        }
    }
    let active: Vec<bool> = result.excluded.iter().map(|e| !e).collect();
    let mut best = result.rank.clone();
    let mut worst = result.rank.clone();
    let mut in_top = vec![0usize; n];
    for w in &sets {
        let (mut s, _) = aggregate(&profile.method, &result.transformed, n, k, w, &active);
        for (x, e) in s.iter_mut().zip(&result.excluded) {
            if *e {
                *x = 0.0;
            }
        }
        let r = ranks(&s, &result.excluded);
        for i in 0..n {
            best[i] = best[i].min(r[i]);
            worst[i] = worst[i].max(r[i]);
            if r[i] <= top_k && !result.excluded[i] {
                in_top[i] += 1;
            }
        }
    }
    let runs = sets.len();
    Ok(Sensitivity {
        top_k,
        runs,
        parcels: (0..n)
            .map(|i| Stability {
                id: result.ids[i].clone(),
                rank: result.rank[i],
                best_rank: best[i],
                worst_rank: worst[i],
                p_top_k: in_top[i] as f64 / runs as f64,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> FeatureTable {
        let mut t = FeatureTable::new(vec!["a".into(), "b".into(), "c".into()]);
        t.add_column("slope", vec![2.0, 12.0, f64::NAN], Default::default()).unwrap();
        t.add_column("area_acres", vec![10.0, 40.0, 5.0], Default::default()).unwrap();
        t.add_column("flood", vec![0.0, 0.5, 0.0], Default::default()).unwrap();
        t
    }

    fn profile(method: &str) -> Profile {
        Profile::parse(&format!(
            r#"{{"version": 1, "criteria": [
              {{"column": "slope", "weight": 2, "transform": {{"type": "linear_cost", "min": 0, "max": 15}}}},
              {{"column": "area_acres", "weight": 1, "transform": {{"type": "linear_benefit", "min": 0, "max": 50}}}}],
              "constraints": [{{"code": "SLOPE_GT_10", "column": "slope", "op": ">", "value": 10}},
                              {{"code": "IN_SFHA", "reduce_area_column": "flood"}}],
              "method": {{"type": "{method}"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn weighted_sum_explains_itself_and_constraints_fire() {
        let r = score(&table(), &profile("weighted_sum")).unwrap();
        assert!(r.excluded[1] && r.reasons[1] == vec!["SLOPE_GT_10", "IN_SFHA"]);
        assert_eq!(r.buildable_acres[1], 20.0);
        let sum: f64 = r.explanation(0).iter().map(|c| c.contribution).sum();
        assert!((sum - r.score[0]).abs() < 1e-15);
        assert!(r.explanation(2)[0].missing && r.explanation(2)[0].transformed == 0.0);
        assert_eq!(r.rank[0], 1);
    }

    #[test]
    fn fixed_bounds_do_not_reorder() {
        let p = profile("weighted_product");
        let full = score(&table(), &p).unwrap();
        let mut t = FeatureTable::new(vec!["a".into(), "c".into()]);
        t.add_column("slope", vec![2.0, f64::NAN], Default::default()).unwrap();
        t.add_column("area_acres", vec![10.0, 5.0], Default::default()).unwrap();
        t.add_column("flood", vec![0.0, 0.0], Default::default()).unwrap();
        let part = score(&t, &p).unwrap();
        assert_eq!(part.score[0], full.score[0]);
    }

    #[test]
    fn ahp_and_validation() {
        let (w, cr) = ahp_weights(&[vec![1.0, 3.0], vec![1.0 / 3.0, 1.0]]).unwrap();
        assert!((w[0] - 0.75).abs() < 1e-12 && cr == 0.0);
        assert!(ahp_weights(&[vec![1.0, 3.0], vec![0.5, 1.0]]).unwrap_err().to_string().contains("reciprocal"));
        let e = Profile::parse(r#"{"version": 1, "criteria": [], "method": {"type": "topsis"}}"#).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT");
        assert!(score(&FeatureTable::new(vec![]), &profile("spotis")).unwrap_err().code() == "EMPTY");
    }
}
