//! Machine learning on feature tables: random forests (regression and classification) with exact
//! per-prediction path contributions, cross-validation (k-fold and spatial blocks) and the metrics
//! analysts report (R², RMSE, MAE, MAPE, COD, PRD; accuracy, balanced accuracy, F1, ROC AUC).
//!
//! The forest follows scikit-learn's `RandomForestRegressor`/`RandomForestClassifier` definitions
//! (bootstrap samples, best split over midpoints of distinct values, MSE / Gini impurity,
//! `max_features`, `min_samples_leaf`, `max_depth`) so their scores can be compared on the same
//! folds (`benches/compare/ml_compare.py`). Deterministic for a seed: each tree draws from its own
//! SplitMix64 stream, trees are fitted in parallel.
//!
//! Three model families share one interface ([`Params`] → [`Estimator`]): the random forest here,
//! histogram gradient boosting ([`boost`]) and linear models ([`linear`]: ridge, logistic).
//! Every family explains a prediction as `bias + Σ contributions` ([`Explained`]).

use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub mod boost;
pub mod linear;
pub mod metrics;

mod dataset;
mod estimator;
mod forest;
mod importance;
mod validation;

pub use dataset::*;
pub use estimator::*;
pub use forest::*;
pub use importance::*;
pub use metrics::{greater_is_better, metric};
pub use validation::*;

#[cfg(test)]
mod tests {
    use super::*;

    fn imp_opts(metric: &str, n_repeats: usize) -> ImportanceOptions {
        ImportanceOptions { metric: Some(metric.into()), n_repeats, seed: 1 }
    }

    fn toy(n: usize) -> Dataset {
        let mut rng = Rng(3);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            let b = (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
            x.extend([a, b]);
            y.push(if a > 0.5 { 3.0 } else { 1.0 } + b);
        }
        Dataset { x, p: 2, y }
    }

    #[test]
    fn ndarray_views_in_any_layout() {
        let d = toy(200);
        let x = ndarray::Array2::from_shape_vec((d.len(), d.p), d.x.clone()).unwrap();
        let y = ndarray::Array1::from(d.y.clone());
        // p × n row-major: its transpose is the n × p matrix in column-major layout
        let f = x.t().as_standard_layout().into_owned();
        assert_eq!(Dataset::from_arrays(f.t(), y.view()).unwrap(), d);
        let m = Estimator::fit(&d, &Params::parse(r#"{"task": "regression", "n_estimators": 5}"#).unwrap()).unwrap();
        let a = m.predict_array(f.t()).unwrap();
        assert_eq!(a.shape(), [d.len(), 1]);
        assert_eq!(a.column(0).to_vec(), m.predict(&d.x).unwrap());
        assert_eq!(m.predict_array(x.view()).unwrap(), a);
        assert_eq!(m.explain_array(f.t()).unwrap(), m.explain_rows(&d.x, d.p).unwrap());
        assert_eq!(Dataset::from_arrays(f.t(), ndarray::Array1::zeros(3).view()).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(m.predict_array(ndarray::Array2::zeros((2, 5)).view()).unwrap_err().code(), "INVALID_INPUT");
    }

    #[test]
    fn holdout_splits_rows_or_whole_blocks() {
        let h = holdout(1000, 0.2, 3, None).unwrap();
        assert_eq!(h.iter().filter(|&&v| v == 1).count(), 200);
        assert_eq!(h, holdout(1000, 0.2, 3, None).unwrap());
        assert_ne!(h, holdout(1000, 0.2, 4, None).unwrap());
        // two far-apart clusters of 40 x 10 points: the test side takes whole blocks
        let xy: Vec<[f64; 2]> =
            (0..800).map(|i| [(i % 40) as f64 + (i / 400) as f64 * 1e4, (i / 40 % 10) as f64]).collect();
        let h = holdout(800, 0.3, 1, Some((&xy, 8))).unwrap();
        let test = h.iter().filter(|&&v| v == 1).count();
        assert!((240..800).contains(&test), "{test}");
        let block = kmeans_blocks(&xy, 8, &mut Rng(1)).unwrap();
        for b in 0..8 {
            let sides: std::collections::BTreeSet<usize> = (0..800).filter(|&i| block[i] == b).map(|i| h[i]).collect();
            assert!(sides.len() <= 1, "block {b} split across sides");
        }
        assert!(h.contains(&0));
        for bad in [0.0, 1.0, f64::NAN] {
            assert_eq!(holdout(10, bad, 0, None).unwrap_err().code(), "INVALID_INPUT");
        }
        assert_eq!(holdout(1, 0.5, 0, None).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(holdout(800, 0.3, 1, Some((&xy[..10], 8))).unwrap_err().code(), "INVALID_INPUT");
    }

    #[test]
    fn permutation_importance_ranks_the_signal() {
        let d = toy(300);
        let p =
            Params::parse(r#"{"model": "gradient_boosting", "task": "regression", "min_samples_leaf": 5}"#).unwrap();
        let m = Estimator::fit(&d, &p).unwrap();
        let imp = permutation_importance(&m, &d, &imp_opts("r2", 5)).unwrap();
        assert!(imp[0].0 > imp[1].0 && imp[1].0 > 0.0, "{imp:?}");
        // lower-is-better metrics keep "positive = important"
        let imp = permutation_importance(&m, &d, &imp_opts("rmse", 3)).unwrap();
        assert!(imp[0].0 > 0.0);
        assert_eq!(permutation_importance(&m, &d, &imp_opts("accuracy", 3)).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(permutation_importance(&m, &d, &imp_opts("gini", 3)).unwrap_err().code(), "NOT_FOUND");
    }

    #[test]
    fn forest_learns_explains_and_is_deterministic() {
        let d = toy(400);
        let p = ForestParams {
            task: Task::Regression,
            n_estimators: 30,
            max_features: None,
            min_samples_leaf: 1,
            max_depth: None,
            bootstrap: true,
            seed: 7,
        };
        let f = Forest::fit(&d, &p).unwrap();
        assert_eq!(f, Forest::fit(&d, &p).unwrap());
        let pred = f.predict(&d.x).unwrap();
        assert!(metrics::r2(&d.y, &pred) > 0.95);
        let e = f.explain(&d.x[0..2]).unwrap();
        assert!((e.value[0] - pred[0]).abs() < 1e-9);
        assert!(e.contributions[0][0].abs() > e.contributions[1][0].abs() * 0.5);
        let folds = kfold(400, 5, 1).unwrap();
        let oof = cross_val_predict(&d, &p.clone().into(), &folds).unwrap();
        assert!(metrics::r2(&d.y, &oof) > 0.9);
        assert_eq!(
            Forest::fit(&d, &ForestParams { n_estimators: 0, ..p.clone() }).unwrap_err().code(),
            "INVALID_INPUT"
        );
        let nan = Dataset { x: vec![f64::NAN, 1.0], p: 2, y: vec![1.0] };
        assert_eq!(Forest::fit(&nan, &p).unwrap_err().code(), "INVALID_INPUT");
    }

    #[test]
    fn metrics_match_hand_values() {
        assert_eq!(metrics::r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert!((metrics::roc_auc(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]) - 0.75).abs() < 1e-12);
        assert!((metrics::balanced_accuracy(&[0, 0, 0, 1], &[0, 0, 0, 0], 2) - 0.5).abs() < 1e-12);
        assert!((metrics::prd(&[100.0, 200.0], &[110.0, 200.0]) - (1.05 / (310.0 / 300.0))).abs() < 1e-12);
        let xy: Vec<[f64; 2]> = (0..100).map(|i| [(i % 10) as f64 * 1000.0, (i / 10) as f64 * 1000.0]).collect();
        let f = spatial_blocks(&xy, 10, 5, 1).unwrap();
        assert_eq!(f.iter().max(), Some(&4));
        // every fold has rows; repeated locations that cannot fill k folds are refused
        for k in 0..5 {
            assert!(f.contains(&k), "fold {k} empty");
        }
        let same = vec![[5.0, 5.0]; 50];
        assert_eq!(spatial_blocks(&same, 10, 5, 1).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(holdout(50, 0.3, 1, Some((&same, 10))).unwrap_err().code(), "INVALID_INPUT");
        let two: Vec<[f64; 2]> = (0..50).map(|i| [(i % 2) as f64 * 1000.0, 0.0]).collect();
        let f = spatial_blocks(&two, 10, 2, 1).unwrap();
        assert!(f.contains(&0) && f.contains(&1));
        assert!(spatial_blocks(&two, 10, 3, 1).is_err());
    }
}

#[cfg(feature = "ml-files")]
pub mod drift;
#[cfg(feature = "ml-files")]
pub mod lifecycle;
#[cfg(feature = "ml-files")]
pub mod registry;
