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
        let p: Profile = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| Error::InvalidInput(format!("profile: {e}")))?
        } else {
            toml::from_str(text).map_err(|e| Error::InvalidInput(format!("profile: {e}")))?
        };
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

/// Scores of every parcel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreResult {
    /// Parcel ids.
    pub ids: Vec<String>,
    /// Score in 0..1 (0 for excluded parcels).
    pub score: Vec<f64>,
    /// Rank (1 = best) among non-excluded parcels; excluded parcels rank after them.
    pub rank: Vec<usize>,
    /// Excluded by a hard constraint.
    pub excluded: Vec<bool>,
    /// Codes of every constraint that fired.
    pub reasons: Vec<Vec<String>>,
    /// Buildable acres (area minus partial constraints), NaN without an area column.
    pub buildable_acres: Vec<f64>,
    /// Per-parcel explanation.
    pub explanations: Vec<Vec<Contribution>>,
    /// The method's name.
    pub method: String,
}

/// Score a feature table with a profile.
pub fn score(features: &FeatureTable, profile: &Profile) -> Result<ScoreResult> {
    profile.validate()?;
    let n = features.len();
    if n == 0 {
        return Err(Error::Empty("no candidate parcel to score".into()));
    }
    let weights = profile.weights()?;
    let cols = profile.criteria.iter().map(|c| features.column(&c.column)).collect::<Result<Vec<_>>>()?;
    // transformed matrix (n × k)
    let k = cols.len();
    let mut raw = vec![0.0; n * k];
    let mut tr = vec![0.0; n * k];
    let mut missing = vec![false; n * k];
    for (j, (c, col)) in profile.criteria.iter().zip(&cols).enumerate() {
        for i in 0..n {
            let x = col.values[i];
            let t = c.transform.apply(x, col.label(i));
            raw[i * k + j] = x;
            missing[i * k + j] = t.is_nan();
            tr[i * k + j] = if t.is_nan() { 0.0 } else { t };
        }
    }
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
    let mut scores = vec![0.0; n];
    let mut contrib = vec![0.0; n * k];
    match &profile.method {
        Method::WeightedSum => {
            for i in 0..n {
                let mut s = 0.0;
                for j in 0..k {
                    let c = weights[j] * tr[i * k + j];
                    contrib[i * k + j] = c;
                    s += c;
                }
                scores[i] = s;
            }
        }
        Method::WeightedProduct => {
            for i in 0..n {
                let mut s = 1.0;
                for j in 0..k {
                    let c = tr[i * k + j].powf(weights[j]);
                    contrib[i * k + j] = c;
                    s *= c;
                }
                scores[i] = s;
            }
        }
        Method::Spotis => {
            // bounds [0, 1], ideal 1: distance = Σ w |s − 1|
            for i in 0..n {
                let mut d = 0.0;
                for j in 0..k {
                    let c = weights[j] * (1.0 - tr[i * k + j]).abs();
                    contrib[i * k + j] = weights[j] - c;
                    d += c;
                }
                scores[i] = 1.0 - d;
            }
        }
        Method::Owa { order_weights } => {
            let s: f64 = order_weights.iter().sum();
            let ow: Vec<f64> = order_weights.iter().map(|w| w / s).collect();
            for i in 0..n {
                let mut idx: Vec<usize> = (0..k).collect();
                idx.sort_by(|a, b| tr[i * k + b].total_cmp(&tr[i * k + a]));
                let mut sc = 0.0;
                for (pos, &j) in idx.iter().enumerate() {
                    let c = ow[pos] * tr[i * k + j];
                    contrib[i * k + j] = c;
                    sc += c;
                }
                scores[i] = sc;
            }
        }
        Method::Topsis => {
            let cand: Vec<usize> = (0..n).filter(|i| !excluded[*i]).collect();
            let norms: Vec<f64> =
                (0..k).map(|j| cand.iter().map(|&i| tr[i * k + j].powi(2)).sum::<f64>().sqrt()).collect();
            let v = |i: usize, j: usize| if norms[j] > 0.0 { weights[j] * tr[i * k + j] / norms[j] } else { 0.0 };
            let pis: Vec<f64> =
                (0..k).map(|j| cand.iter().map(|&i| v(i, j)).fold(f64::NEG_INFINITY, f64::max)).collect();
            let nis: Vec<f64> = (0..k).map(|j| cand.iter().map(|&i| v(i, j)).fold(f64::INFINITY, f64::min)).collect();
            for i in 0..n {
                let (mut dp, mut dm) = (0.0, 0.0);
                for j in 0..k {
                    let x = v(i, j);
                    dp += (x - pis[j]).powi(2);
                    dm += (x - nis[j]).powi(2);
                    contrib[i * k + j] = x;
                }
                let (dp, dm) = (dp.sqrt(), dm.sqrt());
                scores[i] = if dp + dm > 0.0 { dm / (dp + dm) } else { 0.0 };
            }
        }
    }
    for i in 0..n {
        if excluded[i] {
            scores[i] = 0.0;
        }
    }
    // rank: non-excluded by score desc (ties by id), then excluded
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        excluded[a]
            .cmp(&excluded[b])
            .then(scores[b].total_cmp(&scores[a]))
            .then_with(|| features.ids()[a].cmp(&features.ids()[b]))
    });
    let mut rank = vec![0; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i] = r + 1;
    }
    let explanations = (0..n)
        .map(|i| {
            (0..k)
                .map(|j| Contribution {
                    criterion: profile.criteria[j].name.clone().unwrap_or_else(|| profile.criteria[j].column.clone()),
                    raw: raw[i * k + j],
                    label: cols[j].label(i).map(str::to_string),
                    transformed: tr[i * k + j],
                    weight: weights[j],
                    contribution: contrib[i * k + j],
                    missing: missing[i * k + j],
                })
                .collect()
        })
        .collect();
    let method = serde_json::to_value(&profile.method)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(ScoreResult {
        ids: features.ids().to_vec(),
        score: scores,
        rank,
        excluded,
        reasons,
        buildable_acres: buildable,
        explanations,
        method,
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
        let sum: f64 = r.explanations[0].iter().map(|c| c.contribution).sum();
        assert!((sum - r.score[0]).abs() < 1e-15);
        assert!(r.explanations[2][0].missing && r.explanations[2][0].transformed == 0.0);
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
