//! Scores, ranks, exclusions and per-parcel explanations of a scored table.

use super::*;

/// One criterion's part of a parcel's explanation.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Criterion name.
    pub criterion: String,
    /// Raw feature value (NaN when missing).
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>", required))] // NaN is null in JSON
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
    pub(super) criteria: Vec<String>,
    pub(super) weights: Vec<f64>,
    pub(super) bound: Vec<Bound>,
    pub(super) agg: Method,
    pub(super) topsis: Option<TopsisParams>,
    pub(super) constraints: Vec<BoundConstraint>,
    pub(super) area: Option<crate::features::Values>,
}

/// A constraint bound to its feature column.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BoundConstraint {
    pub(super) code: String,
    pub(super) values: crate::features::Values,
    /// `Some` for hard constraints; `None` for partial ones (share removed from the area).
    pub(super) test: Option<(Op, f64)>,
}

impl BoundConstraint {
    pub(super) fn fires(&self, i: usize) -> bool {
        let x = self.values[i];
        !x.is_nan()
            && match self.test {
                Some((op, v)) => op.test(x, v),
                None => x > 0.0,
            }
    }
}

/// The distribution of scores ([`ScoreResult::histogram`]).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreHistogram {
    /// Bin edges over [0, 1] (`bins + 1` values).
    pub edges: Vec<f64>,
    /// Parcels per bin: `[edges[k], edges[k + 1])`, the last bin closed (a score of 1 is in it).
    pub counts: Vec<usize>,
    /// Parcels excluded by hard constraints (in no bin).
    pub excluded: usize,
    /// Parcels without a score (NaN; in no bin).
    pub missing: usize,
}

impl ScoreResult {
    /// Histogram of the scores of the parcels not excluded, `bins` equal bins over [0, 1].
    ///
    /// ```
    /// # fn main() -> landopp::Result<()> {
    /// # let mut t = landopp::FeatureTable::new(vec!["a".into(), "b".into(), "c".into()]);
    /// # t.add_column("x", vec![0.0, 5.0, 10.0], Default::default())?;
    /// # let p = landopp::scoring::Profile::parse(r#"{"version": 1, "method": {"type": "weighted_sum"},
    /// #   "criteria": [{"column": "x", "transform": {"type": "linear_benefit", "min": 0, "max": 10}, "weight": 1}]}"#)?;
    /// let s = landopp::scoring::score(&t, &p)?; // scores 0, 0.5, 1
    /// let h = s.histogram(2)?;
    /// assert_eq!((h.edges, h.counts), (vec![0.0, 0.5, 1.0], vec![1, 2]));
    /// # Ok(()) }
    /// ```
    pub fn histogram(&self, bins: usize) -> Result<ScoreHistogram> {
        if !(1..=10_000).contains(&bins) {
            return Err(Error::InvalidInput(format!("bins {bins}: 1 to 10,000")));
        }
        let mut counts = vec![0usize; bins];
        let (mut excluded, mut missing) = (0, 0);
        for (v, ex) in self.score.iter().zip(&self.excluded) {
            if *ex {
                excluded += 1;
            } else if !v.is_finite() {
                missing += 1;
            } else {
                counts[((v.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1)] += 1;
            }
        }
        let edges = (0..=bins).map(|k| k as f64 / bins as f64).collect();
        Ok(ScoreHistogram { edges, counts, excluded, missing })
    }

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
