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

mod aggregate;
mod profile;
mod rank;
mod result;
mod sensitivity;

pub use aggregate::*;
pub use profile::*;
use rank::*;
pub use result::*;
pub use sensitivity::*;

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

    /// What-if weights: by name or column, unknown and ambiguous names refused, an AHP matrix
    /// replaced by its weights, absurd weights refused like any profile's.
    #[test]
    fn with_weights_by_name_validated() {
        use std::collections::BTreeMap;
        let p = profile("weighted_sum");
        let w = |k: &str, v: f64| BTreeMap::from([(k.to_string(), v)]);
        assert_eq!(p.with_weights(&w("area_acres", 2.0)).unwrap().weights().unwrap(), vec![0.5, 0.5]);
        assert_eq!(p.with_weights(&w("nope", 1.0)).unwrap_err().code(), "NOT_FOUND");
        assert_eq!(p.with_weights(&w("slope", -1.0)).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(p.with_weights(&w("slope", f64::NAN)).unwrap_err().code(), "INVALID_INPUT");
        let both = BTreeMap::from([("slope".to_string(), 0.0), ("area_acres".to_string(), 0.0)]);
        assert_eq!(p.with_weights(&both).unwrap_err().code(), "INVALID_INPUT");
        // a display name that is another criterion's column is ambiguous
        let mut q = p.clone();
        q.criteria[0].name = Some("area_acres".into());
        let e = q.with_weights(&w("area_acres", 1.0)).unwrap_err();
        assert!(e.to_string().contains("more than one criterion"), "{e}");
        // AHP: the unnamed criteria keep their derived weight, the matrix goes
        let mut a = p.clone();
        a.ahp = Some(profile::Ahp { matrix: vec![vec![1.0, 3.0], vec![1.0 / 3.0, 1.0]], allow_inconsistent: false });
        let r = a.with_weights(&w("area_acres", 0.75)).unwrap();
        assert!(r.ahp.is_none());
        assert_eq!(r.weights().unwrap(), vec![0.5, 0.5]);
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
