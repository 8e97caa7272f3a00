//! The scoring profile: criteria, transforms, constraints, weights (direct or AHP) and the aggregation method, validated once.

use super::*;

/// How a raw feature value becomes a 0..1 suitability.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

pub(super) fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// One criterion.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    pub(super) fn test(self, a: f64, b: f64) -> bool {
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

pub(super) fn acres() -> String {
    "area_acres".into()
}

/// Random index of Saaty for n = 1..=10.
pub(super) const RI: [f64; 10] = [0.0, 0.0, 0.58, 0.90, 1.12, 1.24, 1.32, 1.41, 1.45, 1.49];

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
        <Self as crate::config::Config>::from_text(text)
    }

    /// Read a profile file (JSON or TOML), then validate; errors name the file.
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Self> {
        <Self as crate::config::Config>::from_file(path)
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

    /// A copy with new direct weights: `weights` maps criteria, by display name or column, to a
    /// weight (a what-if from weight sliders). Criteria not named keep their weight (under an AHP
    /// matrix: its derived weight); the result has direct weights only, so the matrix is dropped.
    /// An unknown criterion is `NOT_FOUND`; the copy is validated (negative, NaN or all-zero
    /// weights are `INVALID_INPUT`).
    ///
    /// ```
    /// # fn main() -> landopp::Result<()> {
    /// let p = landopp::scoring::Profile::parse(r#"{"version": 1, "criteria": [
    ///   {"column": "slope", "transform": {"type": "linear_cost", "min": 0, "max": 10}, "weight": 1},
    ///   {"column": "area", "transform": {"type": "linear_benefit", "min": 0, "max": 10}, "weight": 1}],
    ///   "method": {"type": "weighted_sum"}}"#)?;
    /// let w = p.with_weights(&[("area".to_string(), 3.0)].into_iter().collect())?;
    /// assert_eq!(w.weights()?, vec![0.25, 0.75]);
    /// # Ok(()) }
    /// ```
    pub fn with_weights(&self, weights: &std::collections::BTreeMap<String, f64>) -> Result<Profile> {
        let mut p = self.clone();
        if self.ahp.is_some() {
            for (c, w) in p.criteria.iter_mut().zip(self.weights()?) {
                c.weight = Some(w);
            }
        }
        for (name, w) in weights {
            let hits = |c: &Criterion| c.name.as_deref().unwrap_or(&c.column) == name || c.column == *name;
            if p.criteria.iter().filter(|c| hits(c)).count() > 1 {
                return Err(Error::InvalidInput(format!(
                    "weights: {name:?} names more than one criterion (by name or column): use the criterion's name"
                )));
            }
            let c = p.criteria.iter_mut().find(|c| hits(c)).ok_or_else(|| {
                Error::not_found(
                    "criterion",
                    name.clone(),
                    self.criteria.iter().map(|c| c.name.clone().unwrap_or_else(|| c.column.clone())).collect(),
                )
            })?;
            c.weight = Some(*w);
        }
        p.ahp = None;
        p.validate()?;
        Ok(p)
    }

    /// A copy without the constraints of these codes (a what-if: "and if this constraint did not
    /// apply?"); a code the profile does not have is `NOT_FOUND`, naming the codes it has.
    ///
    /// ```
    /// # fn main() -> landopp::Result<()> {
    /// let p = landopp::scoring::Profile::parse(r#"{"version": 1,
    ///   "criteria": [{"column": "slope", "weight": 1, "transform": {"type": "linear_cost", "min": 0, "max": 30}}],
    ///   "constraints": [{"code": "STEEP", "column": "slope", "op": ">", "value": 15}],
    ///   "method": {"type": "weighted_sum"}}"#)?;
    /// assert!(p.without_constraints(&["STEEP".to_string()])?.constraints.is_empty());
    /// assert_eq!(p.without_constraints(&["FLOOD".to_string()]).unwrap_err().code(), "NOT_FOUND");
    /// # Ok(()) }
    /// ```
    pub fn without_constraints(&self, codes: &[String]) -> Result<Profile> {
        if let Some(c) = codes.iter().find(|c| !self.constraints.iter().any(|k| k.code == **c)) {
            return Err(Error::not_found(
                "constraint",
                c.clone(),
                self.constraints.iter().map(|k| k.code.clone()).collect(),
            ));
        }
        let mut p = self.clone();
        p.constraints.retain(|k| !codes.contains(&k.code));
        Ok(p)
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

impl Method {
    /// True when a parcel's score depends on the other parcels scored with it (TOPSIS: its ideal
    /// and anti-ideal points are the candidate set's extremes). A method for which this is false
    /// scores each parcel alone, so scoring parts of a set (partitions, streams) gives the same
    /// scores as scoring the whole; ranks always depend on the set.
    pub fn depends_on_candidates(&self) -> bool {
        matches!(self, Method::Topsis { .. })
    }

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
