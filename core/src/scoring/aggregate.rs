//! The scoring passes: criteria bound to their columns, transformed and aggregated chunk by chunk.

use super::*;

/// A criterion bound to its feature column (shared, not copied).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bound {
    pub(super) transform: Transform,
    pub(super) values: crate::features::Values,
    pub(super) categories: Option<Vec<String>>,
    /// Categorical transform on a categorical column: category code → score.
    pub(super) lut: Option<Vec<f64>>,
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

    pub(super) fn label(&self, i: usize) -> Option<&str> {
        let x = self.values[i];
        let c = self.categories.as_ref()?;
        (!x.is_nan()).then(|| c.get(x as usize).map(String::as_str)).flatten()
    }

    /// Transformed value of row `i` (NaN when missing).
    pub(super) fn eval(&self, i: usize) -> f64 {
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
pub(super) struct TopsisParams {
    pub(super) scale: Vec<f64>,
    pub(super) offset: Vec<f64>,
    pub(super) pis: Vec<f64>,
    pub(super) nis: Vec<f64>,
}

impl TopsisParams {
    /// The weighted normalised value of transformed value `t` of criterion `j`.
    pub(super) fn v(&self, w: f64, j: usize, t: f64) -> f64 {
        w * (self.scale[j] * t + self.offset[j])
    }
}

/// OWA of one row: order weights applied to the values sorted high to low; `c[j]` receives
/// criterion j's term. Returns the score.
pub(super) fn owa_row(order_weights: &[f64], tr: &[f64], c: &mut [f64]) -> f64 {
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
pub(super) const CHUNK: usize = 1024;

/// Scores of every row: criteria are transformed chunk by chunk (column-major, the transform's
/// match hoisted) and aggregated in the same pass; nothing n × k is materialised.
pub(super) fn aggregate(
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
pub(super) fn topsis_params(
    method: &Method,
    bound: &[Bound],
    weights: &[f64],
    excluded: &[bool],
) -> Option<TopsisParams> {
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
