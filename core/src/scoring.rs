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
    /// TOPSIS closeness over the candidate set: distances to the ideal and anti-ideal points of
    /// the weighted transformed values (pymcdm's TOPSIS with the transformed matrix as its
    /// normalised matrix), after a second, data-derived normalisation only when `normalization`
    /// asks for one.
    Topsis {
        /// Second normalisation of the transformed values over the candidate set (default none).
        #[serde(default)]
        normalization: TopsisNormalization,
    },
    /// Ordered weighted average: order weights applied to the criteria sorted high to low.
    Owa {
        /// Order weights (one per criterion, normalised).
        order_weights: Vec<f64>,
    },
    /// 1 − SPOTIS distance to the ideal (1 for every criterion) with bounds [0, 1].
    Spotis,
}

/// A second normalisation of the transformed criteria TOPSIS applies over the candidate set
/// (pymcdm's normalisation functions on a profit column). Data-derived: adding or removing
/// candidates changes every score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TopsisNormalization {
    /// None: the transformed values (already 0..1 with fixed bounds) are the normalised matrix.
    #[default]
    None,
    /// t / √Σt² (pymcdm `vector_normalization`); a column of zeros stays 0.
    Vector,
    /// (t − min) / (max − min) (pymcdm `minmax_normalization`); a constant column becomes 1.
    MinMax,
}

/// How tied scores share ranks (pandas' `rank(method=…)` vocabulary). Listings keep a stable
/// order whatever the rule: ties are listed in input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ties {
    /// The mean of the positions the tied group occupies (pandas' default, pymcdm `rrankdata`).
    Average,
    /// The group's best position ("1224" competition ranking). The default.
    #[default]
    Min,
    /// The group's worst position ("1334").
    Max,
    /// Like `min`, but the next group follows on directly ("1223").
    Dense,
    /// Distinct ranks in input order ("1234").
    First,
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
    /// How equal scores share a rank (default `min`).
    #[serde(default)]
    pub ties: Ties,
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

    /// Read a profile file (JSON or TOML), then validate; errors name the file.
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let p: Profile = crate::error::read_config(path.as_ref(), "profile")?;
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
                if self.criteria.iter().all(|c| c.weight == Some(0.0)) {
                    return Err(Error::InvalidInput("criteria[*].weight: every weight is 0".into()));
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
            if order_weights.len() != self.criteria.len()
                || order_weights.iter().any(|w| !(w.is_finite() && *w >= 0.0))
                || order_weights.iter().all(|w| *w == 0.0)
            {
                return Err(Error::InvalidInput(format!(
                    "method.order_weights: {} finite, non-negative weights, not all 0, needed",
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
                // scaled by the largest first: weights of 1e308 must not overflow the sum
                let max = w.iter().fold(0.0f64, |a, b| a.max(*b));
                let s: f64 = w.iter().map(|v| v / max).sum();
                Ok(w.iter().map(|v| v / max / s).collect())
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
    /// This criterion's additive share of the score, for the methods whose score is a sum
    /// ([`Method::is_additive`]: weighted sum w·t, OWA its order weight × t, SPOTIS w − w·|1 − t|);
    /// NaN for weighted product and TOPSIS, which are explained by `factor` and by the gaps.
    pub contribution: f64,
    /// True when the raw value was missing (scored 0).
    pub missing: bool,
    /// Weighted product: this criterion's factor t^w (the score is the product of the factors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub factor: Option<f64>,
    /// TOPSIS: the weighted normalised value v = w · t / ‖t‖ over the candidate set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weighted_value: Option<f64>,
    /// TOPSIS: (v − v⁺)², the squared gap to the ideal (best) value of this criterion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_to_ideal: Option<f64>,
    /// TOPSIS: (v − v⁻)², the squared gap to the anti-ideal (worst) value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_to_anti_ideal: Option<f64>,
}

impl Method {
    /// True when a score is the sum of its criteria's `contribution`s.
    pub fn is_additive(&self) -> bool {
        matches!(self, Method::WeightedSum | Method::Owa { .. } | Method::Spotis)
    }

    /// How this method's explanation terms make the score, in words (printed beside
    /// explanations).
    pub fn explained_by(&self) -> &'static str {
        match self {
            Method::WeightedSum => "score = sum of contributions (weight x transformed)",
            Method::Owa { .. } => "score = sum of contributions (order weight of the criterion's rank x transformed)",
            Method::Spotis => "score = sum of contributions (weight - weight x |1 - transformed|)",
            Method::WeightedProduct => "score = product of factors (transformed ^ weight)",
            Method::Topsis { .. } => {
                "score = sqrt(sum of gaps to the anti-ideal) / (sqrt(sum of gaps to the ideal) + sqrt(sum of gaps to the anti-ideal))"
            }
        }
    }

    /// The score an explanation gives under this method (what [`ScoreResult::explanation`]
    /// documents; it equals the parcel's score unless the parcel is excluded).
    pub fn recombine(&self, ex: &[Contribution]) -> f64 {
        match self {
            Method::WeightedProduct => ex.iter().map(|c| c.factor.unwrap_or(f64::NAN)).product(),
            Method::Topsis { .. } => {
                let p: f64 = ex.iter().map(|c| c.gap_to_ideal.unwrap_or(f64::NAN)).sum::<f64>().sqrt();
                let m: f64 = ex.iter().map(|c| c.gap_to_anti_ideal.unwrap_or(f64::NAN)).sum::<f64>().sqrt();
                if p + m > 0.0 {
                    m / (p + m)
                } else {
                    0.0
                }
            }
            _ => ex.iter().map(|c| c.contribution).sum(),
        }
    }
}

/// A criterion bound to its feature column (shared, not copied).
#[derive(Debug, Clone, PartialEq)]
struct Bound {
    transform: Transform,
    values: crate::features::Values,
    categories: Option<Vec<String>>,
    /// Categorical transform on a categorical column: category code → score.
    lut: Option<Vec<f64>>,
}

impl Bound {
    fn new(c: &Criterion, col: &crate::features::FeatureColumn) -> Self {
        let lut = match (&c.transform, &col.categories) {
            (Transform::Categorical { .. }, Some(cats)) => {
                Some(cats.iter().map(|l| c.transform.apply(0.0, Some(l))).collect())
            }
            _ => None,
        };
        Bound { transform: c.transform.clone(), values: col.values.clone(), categories: col.categories.clone(), lut }
    }

    fn label(&self, i: usize) -> Option<&str> {
        let x = self.values[i];
        let c = self.categories.as_ref()?;
        (!x.is_nan()).then(|| c.get(x as usize).map(String::as_str)).flatten()
    }

    /// Transformed value of row `i` (NaN when missing).
    fn eval(&self, i: usize) -> f64 {
        let x = self.values[i];
        match &self.lut {
            Some(l) if x.is_nan() => f64::NAN,
            Some(l) => l.get(x as usize).copied().unwrap_or(f64::NAN),
            None => self.transform.apply(x, self.label(i)),
        }
    }

    /// Transformed values of rows `start..start + out.len()`, missing → 0 (the NaN policy).
    /// Same arithmetic as [`Bound::eval`], with the transform's match hoisted out of the loop.
    fn eval_into(&self, start: usize, out: &mut [f64]) {
        let xs = &self.values[start..start + out.len()];
        let nz = |v: f64| if v.is_nan() { 0.0 } else { v };
        match (&self.lut, &self.transform) {
            (None, Transform::LinearBenefit { min, max }) => {
                let d = max - min;
                for (o, x) in out.iter_mut().zip(xs) {
                    *o = nz(((x - min) / d).clamp(0.0, 1.0));
                }
            }
            (None, Transform::LinearCost { min, max }) => {
                let d = max - min;
                for (o, x) in out.iter_mut().zip(xs) {
                    *o = nz(((max - x) / d).clamp(0.0, 1.0));
                }
            }
            _ => {
                for (r, o) in out.iter_mut().enumerate() {
                    *o = nz(self.eval(start + r));
                }
            }
        }
    }
}

/// Parameters TOPSIS derives from the candidate set: the normalised value of a transformed value
/// t is `scale · t + offset` (per criterion; scale ≥ 0, so the extremes of t give the ideal and
/// anti-ideal points).
#[derive(Debug, Clone, PartialEq)]
struct TopsisParams {
    scale: Vec<f64>,
    offset: Vec<f64>,
    pis: Vec<f64>,
    nis: Vec<f64>,
}

impl TopsisParams {
    /// The weighted normalised value of transformed value `t` of criterion `j`.
    fn v(&self, w: f64, j: usize, t: f64) -> f64 {
        w * (self.scale[j] * t + self.offset[j])
    }
}

/// Scores of every parcel. Explanations are rebuilt on demand ([`ScoreResult::explanation`])
/// from the feature columns (shared with the table, not copied), so scoring a million parcels
/// allocates only the per-parcel vectors; the JSON form includes every explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreResult {
    /// Parcel ids (shared with the feature table).
    pub ids: std::sync::Arc<Vec<String>>,
    /// Score in 0..1 (0 for excluded parcels).
    pub score: Vec<f64>,
    /// Rank (1 = best) among non-excluded parcels; excluded parcels rank after them, as one tied
    /// group. Equal scores share ranks by the profile's [`Ties`] rule (`average` gives halves).
    pub rank: Vec<f64>,
    /// Excluded by a hard constraint.
    pub excluded: Vec<bool>,
    /// The method's name.
    pub method: String,
    criteria: Vec<String>,
    weights: Vec<f64>,
    bound: Vec<Bound>,
    agg: Method,
    topsis: Option<TopsisParams>,
    constraints: Vec<BoundConstraint>,
    area: Option<crate::features::Values>,
}

/// A constraint bound to its feature column.
#[derive(Debug, Clone, PartialEq)]
struct BoundConstraint {
    code: String,
    values: crate::features::Values,
    /// `Some` for hard constraints; `None` for partial ones (share removed from the area).
    test: Option<(Op, f64)>,
}

impl BoundConstraint {
    fn fires(&self, i: usize) -> bool {
        let x = self.values[i];
        !x.is_nan()
            && match self.test {
                Some((op, v)) => op.test(x, v),
                None => x > 0.0,
            }
    }
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
    /// Codes of every constraint that fired for parcel `i`, in profile order.
    pub fn reasons(&self, i: usize) -> Vec<&str> {
        self.constraints.iter().filter(|c| c.fires(i)).map(|c| c.code.as_str()).collect()
    }
    /// The reasons of every parcel, interned: per parcel an index into the distinct `;`-joined
    /// code sets, whose first entry is `""` (no constraint fired). What the bindings hand over
    /// instead of one list per parcel.
    pub fn reason_sets(&self) -> (Vec<u32>, Vec<String>) {
        if self.constraints.is_empty() {
            return (vec![0; self.ids.len()], vec![String::new()]);
        }
        let mut sets: Vec<String> = vec![String::new()];
        let mut seen: std::collections::HashMap<String, u32> = [(String::new(), 0)].into();
        let mut intern = |k: String| -> u32 {
            *seen.entry(k).or_insert_with_key(|k| {
                sets.push(k.clone());
                (sets.len() - 1) as u32
            })
        };
        let n = self.ids.len();
        if self.constraints.len() > 64 {
            let codes = (0..n)
                .map(|i| {
                    let k = self.reasons(i);
                    if k.is_empty() {
                        0
                    } else {
                        intern(k.join(";"))
                    }
                })
                .collect();
            return (codes, sets);
        }
        // which constraints fired, as one bit each, on the core's threads; then one pass interning
        // the distinct bit sets in row order (the same sets, in the same order, as joining codes
        // row by row)
        use rayon::prelude::*;
        let fired: Vec<u64> = (0..n)
            .into_par_iter()
            .with_min_len(CHUNK * 16)
            .map(|i| self.constraints.iter().enumerate().fold(0u64, |m, (j, c)| m | ((c.fires(i) as u64) << j)))
            .collect();
        let mut by_bits: std::collections::HashMap<u64, u32> = [(0u64, 0u32)].into();
        let (mut last_bits, mut last_code) = (0u64, 0u32);
        let codes = fired
            .iter()
            .map(|&bits| {
                if bits != last_bits {
                    last_bits = bits;
                    last_code = *by_bits.entry(bits).or_insert_with(|| {
                        let k: Vec<&str> = self
                            .constraints
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| bits >> j & 1 == 1)
                            .map(|(_, c)| c.code.as_str())
                            .collect();
                        intern(k.join(";"))
                    });
                }
                last_code
            })
            .collect();
        (codes, sets)
    }
    /// Buildable acres of parcel `i`: the area column minus the shares removed by partial
    /// constraints; NaN without an area column.
    pub fn buildable_acres_at(&self, i: usize) -> f64 {
        let mut a = self.area.as_ref().map_or(f64::NAN, |v| v[i]);
        for c in self.constraints.iter().filter(|c| c.test.is_none() && c.fires(i)) {
            a *= (1.0 - c.values[i]).clamp(0.0, 1.0);
        }
        a
    }
    /// [`ScoreResult::reason_sets`] and [`ScoreResult::buildable_acres`], computed side by side
    /// on the core's threads (the columns the bindings return with every score).
    #[allow(clippy::type_complexity)]
    pub fn reason_sets_and_buildable_acres(&self) -> ((Vec<u32>, Vec<String>), Vec<f64>) {
        rayon::join(|| self.reason_sets(), || self.buildable_acres())
    }
    /// Buildable acres of every parcel (see [`ScoreResult::buildable_acres_at`]).
    pub fn buildable_acres(&self) -> Vec<f64> {
        use rayon::prelude::*;
        (0..self.ids.len()).into_par_iter().with_min_len(CHUNK * 16).map(|i| self.buildable_acres_at(i)).collect()
    }
    /// The explanation of parcel `i`: per criterion raw value, transformed value, weight,
    /// contribution.
    ///
    /// The terms are the ones the method computes ([`Method::explained_by`] says how they make
    /// the score, [`Method::recombine`] recomputes it): additive methods fill `contribution`,
    /// weighted product `factor`, TOPSIS `weighted_value` and the two squared gaps.
    pub fn explanation(&self, i: usize) -> Vec<Contribution> {
        let k = self.criteria.len();
        let evals: Vec<f64> = self.bound.iter().map(|b| b.eval(i)).collect();
        let tr: Vec<f64> = evals.iter().map(|v| if v.is_nan() { 0.0 } else { *v }).collect();
        let w = &self.weights;
        let mut contrib = vec![0.0; k];
        self.contrib_of(&tr, &mut contrib);
        let topsis = match (&self.agg, &self.topsis) {
            (Method::Topsis { .. }, Some(t)) => Some(t),
            _ => None,
        };
        (0..k)
            .map(|j| {
                let v = topsis.map(|t| t.v(w[j], j, tr[j]));
                Contribution {
                    criterion: self.criteria[j].clone(),
                    raw: self.bound[j].values[i],
                    label: self.bound[j].label(i).map(str::to_string),
                    transformed: tr[j],
                    weight: w[j],
                    contribution: if self.agg.is_additive() { contrib[j] } else { f64::NAN },
                    missing: evals[j].is_nan(),
                    factor: matches!(self.agg, Method::WeightedProduct).then_some(contrib[j]),
                    weighted_value: v,
                    gap_to_ideal: topsis.zip(v).map(|(t, v)| (v - t.pis[j]).powi(2)),
                    gap_to_anti_ideal: topsis.zip(v).map(|(t, v)| (v - t.nis[j]).powi(2)),
                }
            })
            .collect()
    }
    /// The per-criterion contributions of parcel `i` into `out` (one per criterion), without
    /// building the full explanation.
    /// NaN for the methods that are not additive (see [`Contribution::contribution`]).
    pub fn contributions_into(&self, i: usize, out: &mut [f64]) {
        if !self.agg.is_additive() {
            out.fill(f64::NAN);
            return;
        }
        let tr: Vec<f64> = self.bound.iter().map(|b| b.eval(i)).map(|v| if v.is_nan() { 0.0 } else { v }).collect();
        self.contrib_of(&tr, out);
    }

    fn contrib_of(&self, tr: &[f64], out: &mut [f64]) {
        let w = &self.weights;
        let k = tr.len();
        match &self.agg {
            Method::WeightedSum => (0..k).for_each(|j| out[j] = w[j] * tr[j]),
            Method::WeightedProduct => (0..k).for_each(|j| out[j] = tr[j].powf(w[j])),
            Method::Spotis => (0..k).for_each(|j| out[j] = w[j] - w[j] * (1.0 - tr[j]).abs()),
            Method::Topsis { .. } => {
                let t = self.topsis.as_ref().expect("topsis parameters");
                (0..k).for_each(|j| out[j] = t.v(w[j], j, tr[j]))
            }
            Method::Owa { order_weights } => {
                owa_row(order_weights, tr, out);
            }
        }
    }

    /// The aggregation method (with its parameters) the scores were computed with.
    pub fn aggregation(&self) -> &Method {
        &self.agg
    }

    /// Transformed (0..1) value of parcel `i`, criterion `j`.
    pub fn transformed(&self, i: usize, j: usize) -> f64 {
        let v = self.bound[j].eval(i);
        if v.is_nan() {
            0.0
        } else {
            v
        }
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
        let reasons: Vec<Vec<&str>> = (0..self.ids.len()).map(|i| self.reasons(i)).collect();
        st.serialize_field("reasons", &reasons)?;
        st.serialize_field("buildable_acres", &self.buildable_acres())?;
        let ex: Vec<Vec<Contribution>> = (0..self.ids.len()).map(|i| self.explanation(i)).collect();
        st.serialize_field("explanations", &ex)?;
        st.serialize_field("method", &self.method)?;
        st.end()
    }
}

/// OWA of one row: order weights applied to the values sorted high to low; `c[j]` receives
/// criterion j's term. Returns the score.
fn owa_row(order_weights: &[f64], tr: &[f64], c: &mut [f64]) -> f64 {
    // scaled by the largest weight first: weights of 1e308 must not overflow the sum
    let max = order_weights.iter().fold(0.0f64, |a, b| a.max(*b));
    let tot: f64 = order_weights.iter().map(|w| w / max).sum();
    let mut idx: Vec<usize> = (0..tr.len()).collect();
    idx.sort_by(|a, b| tr[*b].total_cmp(&tr[*a]));
    let mut s = 0.0;
    for (pos, &j) in idx.iter().enumerate() {
        c[j] = order_weights[pos] / max / tot * tr[j];
        s += c[j];
    }
    s
}

/// Rows per work unit of the scoring passes (k columns × CHUNK f64 stay in L2).
const CHUNK: usize = 1024;

/// Scores of every row: criteria are transformed chunk by chunk (column-major, the transform's
/// match hoisted) and aggregated in the same pass; nothing n × k is materialised.
fn aggregate(
    method: &Method,
    bound: &[Bound],
    weights: &[f64],
    topsis: Option<&TopsisParams>,
    excluded: &[bool],
) -> Vec<f64> {
    use rayon::prelude::*;
    let n = excluded.len();
    let k = bound.len();
    let mut scores = vec![0.0; n];
    scores.par_chunks_mut(CHUNK).enumerate().for_each(|(c, s)| {
        let (start, len) = (c * CHUNK, s.len());
        let mut buf = vec![0.0; k * len];
        for (j, b) in bound.iter().enumerate() {
            b.eval_into(start, &mut buf[j * len..(j + 1) * len]);
        }
        let col = |j: usize| &buf[j * len..(j + 1) * len];
        match method {
            Method::WeightedSum => {
                for (j, w) in weights.iter().enumerate() {
                    for (o, t) in s.iter_mut().zip(col(j)) {
                        *o += w * t;
                    }
                }
            }
            Method::WeightedProduct => {
                s.fill(1.0);
                for (j, w) in weights.iter().enumerate() {
                    for (o, t) in s.iter_mut().zip(col(j)) {
                        *o *= t.powf(*w);
                    }
                }
            }
            Method::Spotis => {
                let mut d = vec![0.0; len];
                for (j, w) in weights.iter().enumerate() {
                    for (o, t) in d.iter_mut().zip(col(j)) {
                        *o += w * (1.0 - t).abs();
                    }
                }
                for (o, d) in s.iter_mut().zip(&d) {
                    *o = 1.0 - d;
                }
            }
            Method::Topsis { .. } => {
                let t = topsis.expect("topsis parameters");
                let (mut dp, mut dm) = (vec![0.0; len], vec![0.0; len]);
                for (j, w) in weights.iter().enumerate() {
                    for ((p, m), x) in dp.iter_mut().zip(dm.iter_mut()).zip(col(j)) {
                        let v = t.v(*w, j, *x);
                        *p += (v - t.pis[j]).powi(2);
                        *m += (v - t.nis[j]).powi(2);
                    }
                }
                for ((o, p), m) in s.iter_mut().zip(&dp).zip(&dm) {
                    let (p, m) = (p.sqrt(), m.sqrt());
                    *o = if p + m > 0.0 { m / (p + m) } else { 0.0 };
                }
            }
            Method::Owa { order_weights } => {
                let (mut row, mut cs) = (vec![0.0; k], vec![0.0; k]);
                for (r, o) in s.iter_mut().enumerate() {
                    for j in 0..k {
                        row[j] = buf[j * len + r];
                    }
                    *o = owa_row(order_weights, &row, &mut cs);
                }
            }
        }
        for (o, e) in s.iter_mut().zip(&excluded[start..start + len]) {
            if *e {
                *o = 0.0;
            }
        }
    });
    scores
}

/// TOPSIS parameters when `method` is TOPSIS: the normalisation and the ideal and anti-ideal
/// points over the non-excluded rows.
fn topsis_params(method: &Method, bound: &[Bound], weights: &[f64], excluded: &[bool]) -> Option<TopsisParams> {
    use rayon::prelude::*;
    let Method::Topsis { normalization } = method else {
        return None;
    };
    let k = bound.len();
    let n = excluded.len();
    let ident = || (vec![0.0; k], vec![f64::NEG_INFINITY; k], vec![f64::INFINITY; k]);
    let (sq, hi, lo) = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| {
            let (start, len) = (c * CHUNK, CHUNK.min(n - c * CHUNK));
            let mut acc = ident();
            let mut buf = vec![0.0; len];
            for (j, b) in bound.iter().enumerate() {
                b.eval_into(start, &mut buf);
                for (t, e) in buf.iter().zip(&excluded[start..start + len]) {
                    if !e {
                        acc.0[j] += t * t;
                        acc.1[j] = acc.1[j].max(*t);
                        acc.2[j] = acc.2[j].min(*t);
                    }
                }
            }
            acc
        })
        .reduce(ident, |mut a, b| {
            for j in 0..k {
                a.0[j] += b.0[j];
                a.1[j] = a.1[j].max(b.1[j]);
                a.2[j] = a.2[j].min(b.2[j]);
            }
            a
        });
    let (scale, offset): (Vec<f64>, Vec<f64>) = (0..k)
        .map(|j| match normalization {
            TopsisNormalization::None => (1.0, 0.0),
            TopsisNormalization::Vector => {
                let norm = sq[j].sqrt();
                (if norm > 0.0 { 1.0 / norm } else { 0.0 }, 0.0)
            }
            // pymcdm: a constant column (or none at all) normalises to ones
            TopsisNormalization::MinMax if hi[j] > lo[j] => {
                let d = hi[j] - lo[j];
                (1.0 / d, -lo[j] / d)
            }
            TopsisNormalization::MinMax => (0.0, 1.0),
        })
        .unzip();
    let mut t = TopsisParams { scale, offset, pis: vec![0.0; k], nis: vec![0.0; k] };
    for j in 0..k {
        // the normalisation is monotone in t, so the extremes of v are v of the extremes of t
        t.pis[j] = if hi[j].is_finite() { t.v(weights[j], j, hi[j]) } else { f64::NEG_INFINITY };
        t.nis[j] = if lo[j].is_finite() { t.v(weights[j], j, lo[j]) } else { f64::INFINITY };
    }
    Some(t)
}

/// Ranks (1 = best): non-excluded by score descending, then the excluded ones; equal scores (and
/// the excluded parcels, as one group) share ranks by the `ties` rule, listed in input order. The non-excluded rows are sorted by a stable LSD radix sort on the top 32
/// significant bits of an order-preserving key, then runs that share those bits are settled by
/// the full 64-bit key (a stable sort, so exact ties keep input order). Linear in n in practice.
fn ranks(scores: &[f64], excluded: &[bool], ties: Ties) -> Vec<f64> {
    use rayon::prelude::*;
    let n = scores.len();
    // ascending key = higher score: the total order of f64, reversed
    let full = |s: f64| -> u64 {
        let b = s.to_bits();
        !(if b >> 63 == 1 { !b } else { b | 1 << 63 })
    };
    let mut a: Vec<(u32, u32)> = (0..n as u32).filter(|&i| !excluded[i as usize]).map(|i| (0, i)).collect();
    let (lo, hi) = a
        .par_iter()
        .map(|&(_, i)| full(scores[i as usize]))
        .fold(|| (u64::MAX, 0), |(l, h), k| (l.min(k), h.max(k)))
        .reduce(|| (u64::MAX, 0), |x, y| (x.0.min(y.0), x.1.max(y.1)));
    let shift = 32u32.saturating_sub((hi.wrapping_sub(lo)).leading_zeros());
    let short = |i: u32| ((full(scores[i as usize]) - lo) >> shift) as u32;
    a.par_iter_mut().for_each(|p| p.0 = short(p.1));
    // two halves radix-sorted in parallel, then merged on (key, index): stable overall
    let m = a.len();
    let mut scratch: Vec<(u32, u32)> = vec![(0, 0); m];
    let h = if m > 1 << 16 { m / 2 } else { m };
    {
        let (x, y) = a.split_at_mut(h);
        let (sx, sy) = scratch.split_at_mut(h);
        rayon::join(|| radix_sort_pairs(x, sx), || radix_sort_pairs(y, sy));
    }
    let a = if h < m {
        let (x, y) = a.split_at(h);
        let (mut i, mut j) = (0, 0);
        for o in scratch.iter_mut() {
            if j == y.len() || (i < x.len() && x[i] <= y[j]) {
                *o = x[i];
                i += 1;
            } else {
                *o = y[j];
                j += 1;
            }
        }
        scratch
    } else {
        a
    };
    let mut a = a;
    // runs sharing the short key: order by the full key (stable: input order among exact ties)
    let mut s = 0;
    while s < m {
        let mut e = s + 1;
        while e < m && a[e].0 == a[s].0 {
            e += 1;
        }
        if e - s > 1 {
            let k0 = full(scores[a[s].1 as usize]);
            if a[s + 1..e].iter().any(|&(_, i)| full(scores[i as usize]) != k0) {
                a[s..e].sort_by_key(|&(_, i)| full(scores[i as usize]));
            }
        }
        s = e;
    }
    // the listing order: scores descending (ties in input order), then the excluded parcels in
    // input order, which share one tie group after every scored one
    let mut order: Vec<u32> = a.into_iter().map(|(_, i)| i).collect();
    order.extend((0..n as u32).filter(|&i| excluded[i as usize]));
    let mut rank = vec![0.0; n];
    let (mut s, mut dense) = (0, 0.0);
    while s < n {
        let mut e = s + 1;
        if s < m {
            let x = scores[order[s] as usize];
            while e < m && scores[order[e] as usize] == x {
                e += 1;
            }
        } else {
            e = n;
        }
        dense += 1.0;
        for (p, &i) in order[s..e].iter().enumerate() {
            rank[i as usize] = match ties {
                Ties::First => (s + p + 1) as f64,
                Ties::Min => (s + 1) as f64,
                Ties::Max => e as f64,
                Ties::Average => (s + 1 + e) as f64 / 2.0,
                Ties::Dense => dense,
            };
        }
        s = e;
    }
    rank
}

/// Stable LSD radix sort of (key, index) pairs on the 32-bit key (3 digits of 11 bits; digits on
/// which every key agrees are skipped); `buf` is scratch space of the same length.
fn radix_sort_pairs(a: &mut [(u32, u32)], buf: &mut [(u32, u32)]) {
    const BITS: usize = 11;
    const B: usize = 1 << BITS;
    let m = a.len();
    let mut hist = vec![[0usize; B]; 3];
    for (k, _) in a.iter() {
        for (p, h) in hist.iter_mut().enumerate() {
            h[((k >> (p * BITS)) as usize) & (B - 1)] += 1;
        }
    }
    let mut in_buf = false;
    for (p, h) in hist.iter().enumerate() {
        if h.contains(&m) {
            continue;
        }
        let mut off = vec![0usize; B];
        let mut acc = 0;
        for d in 0..B {
            off[d] = acc;
            acc += h[d];
        }
        type Pairs = [(u32, u32)];
        let (src, dst): (&Pairs, &mut Pairs) = if in_buf { (&*buf, &mut *a) } else { (&*a, &mut *buf) };
        for &(k, i) in src {
            let d = ((k >> (p * BITS)) as usize) & (B - 1);
            dst[off[d]] = (k, i);
            off[d] += 1;
        }
        in_buf = !in_buf;
    }
    if in_buf {
        a.copy_from_slice(buf);
    }
}

/// Score a feature table with a profile.
pub fn score(features: &FeatureTable, profile: &Profile) -> Result<ScoreResult> {
    score_and(features, profile, |_| ()).map(|(r, ())| r)
}

/// [`score`], also running `also` on the core's threads while the ranks are sorted: the ranking
/// has serial phases (merging the sorted halves, ordering ties, scattering the ranks) that leave
/// a core idle, and the bindings derive their result arrays there (reason sets, buildable
/// acres, `excluded` as bytes). `also` sees the result with `rank` still empty.
///
/// ```
/// use landopp::{scoring::{score_and, Profile}, ColumnMeta, FeatureTable};
/// let mut t = FeatureTable::new(vec!["a".into(), "b".into()]);
/// t.add_column("slope", vec![2.0, 9.0], ColumnMeta::default()).unwrap();
/// let p = Profile::parse(r#"{"version": 1, "method": {"type": "weighted_sum"}, "criteria": [{"column": "slope", "weight": 1,
///     "transform": {"type": "linear_cost", "min": 0, "max": 10}}]}"#).unwrap();
/// let (r, acres) = score_and(&t, &p, |r| r.buildable_acres()).unwrap();
/// assert_eq!(r.rank, vec![1.0, 2.0]);
/// assert!(acres.iter().all(|a| a.is_nan())); // no area column in this table
/// ```
pub fn score_and<T: Send>(
    features: &FeatureTable,
    profile: &Profile,
    also: impl FnOnce(&ScoreResult) -> T + Send,
) -> Result<(ScoreResult, T)> {
    profile.validate()?;
    let n = features.len();
    if n == 0 {
        return Err(Error::Empty("no candidate parcel to score".into()));
    }
    if n > u32::MAX as usize {
        return Err(Error::InvalidInput(format!("{n} parcels: at most {} can be scored at once", u32::MAX)));
    }
    let weights = profile.weights()?;
    let bound =
        profile.criteria.iter().map(|c| Ok(Bound::new(c, features.column(&c.column)?))).collect::<Result<Vec<_>>>()?;
    let constraints = profile
        .constraints
        .iter()
        .map(|c| {
            let (col, test) = match (&c.column, c.op, c.value, &c.reduce_area_column) {
                (Some(col), Some(op), Some(v), _) => (col, Some((op, v))),
                (_, _, _, Some(col)) => (col, None),
                _ => return Err(Error::InvalidInput(format!("constraint {}: incomplete", c.code))),
            };
            Ok(BoundConstraint { code: c.code.clone(), values: features.column(col)?.values.clone(), test })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut excluded = vec![false; n];
    {
        use rayon::prelude::*;
        for c in constraints.iter().filter(|c| c.test.is_some()) {
            excluded.par_chunks_mut(CHUNK * 16).enumerate().for_each(|(k, e)| {
                let start = k * CHUNK * 16;
                for (r, x) in e.iter_mut().enumerate() {
                    *x |= c.fires(start + r);
                }
            });
        }
    }
    let topsis = topsis_params(&profile.method, &bound, &weights, &excluded);
    let scores = aggregate(&profile.method, &bound, &weights, topsis.as_ref(), &excluded);
    let method = serde_json::to_value(&profile.method)
        .ok()
        .and_then(|v| v["type"].as_str().map(str::to_string))
        .unwrap_or_default();
    let mut r = ScoreResult {
        ids: features.ids_shared(),
        score: scores,
        rank: Vec::new(),
        excluded,
        method,
        criteria: profile.criteria.iter().map(|c| c.name.clone().unwrap_or_else(|| c.column.clone())).collect(),
        weights,
        bound,
        agg: profile.method.clone(),
        topsis,
        constraints,
        area: features.column(&profile.area_column).ok().map(|c| c.values.clone()),
    };
    let (rank, extra) = rayon::join(|| ranks(&r.score, &r.excluded, profile.ties), || also(&r));
    r.rank = rank;
    Ok((r, extra))
}

/// Rank stability of one parcel under weight perturbation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stability {
    /// Parcel id.
    pub id: String,
    /// Rank with the profile's weights.
    pub rank: f64,
    /// Best (lowest) rank seen.
    pub best_rank: f64,
    /// Worst rank seen.
    pub worst_rank: f64,
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

/// Most Monte Carlo runs of [`sensitivity`] (each rescores every parcel).
pub const MAX_SENSITIVITY_RUNS: usize = 10_000;

/// Rank stability under weight perturbation, reusing the bound feature columns (features are not
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
            if runs == 0 || runs > MAX_SENSITIVITY_RUNS || !(0.0..1.0).contains(&spread) {
                return Err(Error::InvalidInput(format!(
                    "runs {runs} must be in 1..={MAX_SENSITIVITY_RUNS} and spread {spread} in [0, 1)"
                )));
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
    let mut best = result.rank.clone();
    let mut worst = best.clone();
    let mut in_top = vec![0usize; n];
    for w in &sets {
        // every run rescores every parcel: a long analysis stops on request (Ctrl-C)
        crate::interrupt::check("sensitivity")?;
        let topsis = topsis_params(&profile.method, &result.bound, w, &result.excluded);
        let s = aggregate(&profile.method, &result.bound, w, topsis.as_ref(), &result.excluded);
        let r = ranks(&s, &result.excluded, profile.ties);
        for i in 0..n {
            let ri = r[i];
            best[i] = best[i].min(ri);
            worst[i] = worst[i].max(ri);
            if ri <= top_k as f64 && !result.excluded[i] {
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

    /// Each method's explanation, recombined by its own rule, reproduces the score (it read
    /// like additive contributions for TOPSIS and weighted product before, which did not add up).
    #[test]
    fn explanations_reproduce_the_score_for_every_method() {
        let n = 50;
        let mut t = FeatureTable::new((0..n).map(|i| i.to_string()).collect());
        t.add_column("a", (0..n).map(|i| ((i * 7) % 13) as f64).collect(), Default::default()).unwrap();
        t.add_column("b", (0..n).map(|i| ((i * 5) % 11) as f64 + 0.5).collect(), Default::default()).unwrap();
        t.add_column("c", (0..n).map(|i| (i % 4) as f64).collect(), Default::default()).unwrap();
        for method in [
            r#"{"type": "weighted_sum"}"#,
            r#"{"type": "weighted_product"}"#,
            r#"{"type": "topsis"}"#,
            r#"{"type": "spotis"}"#,
            r#"{"type": "owa", "order_weights": [0.5, 0.3, 0.2]}"#,
        ] {
            let p = Profile::parse(&format!(
                r#"{{"version": 1, "method": {method}, "criteria": [
                  {{"column": "a", "weight": 3, "transform": {{"type": "linear_benefit", "min": 0, "max": 12}}}},
                  {{"column": "b", "weight": 2, "transform": {{"type": "linear_cost", "min": 0, "max": 11}}}},
                  {{"column": "c", "weight": 1, "transform": {{"type": "linear_benefit", "min": 0, "max": 3}}}}]}}"#
            ))
            .unwrap();
            let r = score(&t, &p).unwrap();
            for i in 0..n {
                let ex = r.explanation(i);
                let back = p.method.recombine(&ex);
                assert!((back - r.score[i]).abs() < 1e-12, "{method} row {i}: {back} vs {}", r.score[i]);
                let additive = p.method.is_additive();
                assert_eq!(ex.iter().all(|c| c.contribution.is_finite()), additive, "{method}");
                if additive {
                    assert!((ex.iter().map(|c| c.contribution).sum::<f64>() - r.score[i]).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn reason_sets_equal_joining_codes_row_by_row() {
        // many rows, three constraints (two sharing a code), sets first seen in different rows
        let n = 200_000;
        let mut t = FeatureTable::new((0..n).map(|i| i.to_string()).collect());
        let col = |f: &dyn Fn(usize) -> f64| (0..n).map(f).collect::<Vec<f64>>();
        t.add_column("slope", col(&|i| ((i * 7919) % 23) as f64), Default::default()).unwrap();
        t.add_column("area_acres", col(&|i| (i % 50) as f64), Default::default()).unwrap();
        t.add_column("flood", col(&|i| if i % 5 == 0 { 0.3 } else { 0.0 }), Default::default()).unwrap();
        let p = Profile::parse(
            r#"{"version": 1, "criteria": [{"column": "area_acres", "weight": 1, "transform": {"type": "linear_benefit", "min": 0, "max": 50}}],
               "constraints": [{"code": "STEEP", "column": "slope", "op": ">", "value": 15},
                               {"code": "IN_SFHA", "reduce_area_column": "flood"},
                               {"code": "STEEP", "column": "slope", "op": ">", "value": 20}],
               "method": {"type": "weighted_sum"}}"#,
        )
        .unwrap();
        let r = score(&t, &p).unwrap();
        let (codes, sets) = r.reason_sets();
        let mut want_sets = vec![String::new()];
        for i in 0..n {
            let k = r.reasons(i).join(";");
            if !want_sets.contains(&k) {
                want_sets.push(k.clone());
            }
            assert_eq!(sets[codes[i] as usize], k, "row {i}");
        }
        assert_eq!(sets, want_sets);
        assert!(sets.contains(&"STEEP;IN_SFHA;STEEP".to_string()));
        // built alongside the ranking: the same parts, the same result
        let (r2, (parts, rank_seen)) =
            score_and(&t, &p, |r| (r.reason_sets_and_buildable_acres(), r.rank.len())).unwrap();
        assert_eq!(rank_seen, 0);
        assert_eq!(parts, r.reason_sets_and_buildable_acres());
        assert_eq!((&r2.score, &r2.rank, &r2.excluded), (&r.score, &r.rank, &r.excluded));
    }

    #[test]
    fn weighted_sum_explains_itself_and_constraints_fire() {
        let r = score(&table(), &profile("weighted_sum")).unwrap();
        assert!(r.excluded[1] && r.reasons(1) == vec!["SLOPE_GT_10", "IN_SFHA"]);
        assert_eq!(r.reason_sets(), (vec![0, 1, 0], vec![String::new(), "SLOPE_GT_10;IN_SFHA".into()]));
        assert_eq!(r.buildable_acres_at(1), 20.0);
        let sum: f64 = r.explanation(0).iter().map(|c| c.contribution).sum();
        assert!((sum - r.score[0]).abs() < 1e-15);
        assert!(r.explanation(2)[0].missing && r.explanation(2)[0].transformed == 0.0);
        assert_eq!(r.rank[0], 1.0);
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

    #[test]
    fn radix_ranks_equal_a_comparison_sort() {
        let mut st: u64 = 7;
        let mut next = || {
            st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            st >> 33
        };
        for n in [1usize, 2, 17, 5000, 150_000] {
            // few distinct values (ties), zeros, ones, subnormal-sized and excluded rows
            let scores: Vec<f64> = (0..n)
                .map(|_| match next() % 5 {
                    0 => 0.0,
                    1 => 1.0,
                    2 => (next() % 7) as f64 / 7.0,
                    3 => 1e-310 * (next() % 3) as f64,
                    _ => (next() % 1_000_000) as f64 / 1e6,
                })
                .collect();
            let excluded: Vec<bool> = (0..n).map(|_| next() % 4 == 0).collect();
            // excluded parcels score 0 (as `aggregate` leaves them)
            let scores: Vec<f64> = scores.iter().zip(&excluded).map(|(s, e)| if *e { 0.0 } else { *s }).collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| excluded[a].cmp(&excluded[b]).then(scores[b].total_cmp(&scores[a])).then(a.cmp(&b)));
            let mut want = vec![0.0; n];
            for (r, &i) in order.iter().enumerate() {
                want[i] = r as f64 + 1.0;
            }
            assert_eq!(ranks(&scores, &excluded, Ties::First), want, "n = {n}");
        }
    }

    #[test]
    fn tied_scores_share_ranks_by_the_pandas_rules() {
        // scores 0.9 twice, 0.5 three times, 0.1 once, and two excluded parcels (one tied group)
        let scores = [0.5, 0.9, 0.5, 0.0, 0.9, 0.1, 0.5, 0.0];
        let excluded = [false, false, false, true, false, false, false, true];
        let want = |v: [f64; 8]| v.to_vec();
        // pandas: Series(scores).rank(ascending=False, method=…) on the scored rows, then the
        // excluded group after them
        assert_eq!(ranks(&scores, &excluded, Ties::Average), want([4.0, 1.5, 4.0, 7.5, 1.5, 6.0, 4.0, 7.5]));
        assert_eq!(ranks(&scores, &excluded, Ties::Min), want([3.0, 1.0, 3.0, 7.0, 1.0, 6.0, 3.0, 7.0]));
        assert_eq!(ranks(&scores, &excluded, Ties::Max), want([5.0, 2.0, 5.0, 8.0, 2.0, 6.0, 5.0, 8.0]));
        assert_eq!(ranks(&scores, &excluded, Ties::Dense), want([2.0, 1.0, 2.0, 4.0, 1.0, 3.0, 2.0, 4.0]));
        assert_eq!(ranks(&scores, &excluded, Ties::First), want([3.0, 1.0, 4.0, 7.0, 2.0, 6.0, 5.0, 8.0]));
        // the default is `min`, named in profiles as pandas names it
        let p: Profile = Profile::parse(
            r#"{"version": 1, "method": {"type": "weighted_sum"}, "ties": "dense", "criteria": [{"column": "slope",
                "weight": 1, "transform": {"type": "linear_cost", "min": 0, "max": 10}}]}"#,
        )
        .unwrap();
        assert_eq!((p.ties, Ties::default()), (Ties::Dense, Ties::Min));
        let bad = p.clone();
        let e = Profile::parse(&serde_json::to_string(&bad).unwrap().replace("dense", "random")).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT");
    }

    #[test]
    fn topsis_normalisations_are_affine_and_refuse_unknown_names() {
        let mut t = FeatureTable::new(vec!["a".into(), "b".into(), "c".into()]);
        t.add_column("x", vec![2.0, 6.0, 10.0], Default::default()).unwrap();
        t.add_column("y", vec![5.0, 5.0, 5.0], Default::default()).unwrap();
        let prof = |norm: &str| {
            Profile::parse(&format!(
                r#"{{"version": 1, "method": {{"type": "topsis"{norm}}}, "criteria": [
                {{"column": "x", "weight": 3, "transform": {{"type": "linear_benefit", "min": 0, "max": 20}}}},
                {{"column": "y", "weight": 1, "transform": {{"type": "linear_benefit", "min": 0, "max": 10}}}}]}}"#
            ))
        };
        // the constant criterion y adds nothing; x transformed to 0.1, 0.3, 0.5
        let none = score(&t, &prof("").unwrap()).unwrap();
        assert_eq!(none.aggregation(), &Method::Topsis { normalization: TopsisNormalization::None });
        assert!((none.score[1] - 0.5).abs() < 1e-15 && none.score[0] == 0.0 && none.score[2] == 1.0);
        for n in ["vector", "min_max"] {
            let r = score(&t, &prof(&format!(r#", "normalization": "{n}""#)).unwrap()).unwrap();
            assert_eq!(r.rank, vec![3.0, 2.0, 1.0], "{n}");
            for i in 0..3 {
                assert!(
                    (Method::Topsis { normalization: TopsisNormalization::None }.recombine(&r.explanation(i))
                        - r.score[i])
                        .abs()
                        < 1e-12
                );
            }
        }
        assert_eq!(prof(r#", "normalization": "sum""#).unwrap_err().code(), "INVALID_INPUT");
    }
}
