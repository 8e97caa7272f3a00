//! Metrics by name: regression and ratio-study (R², RMSE, MAE, MAPE, COD, PRD) and classification
//! (accuracy, balanced accuracy, F1, ROC AUC).

use crate::error::{Error, Result};

/// A metric of predictions (as [`Estimator::predict`](crate::ml::Estimator::predict) returns them) by name: `r2`, `rmse`, `mae`,
/// `mape`, `cod`, `prd` (regression); `accuracy`, `balanced_accuracy`, `f1`, `roc_auc`
/// (classification; `f1` and `roc_auc` for two classes). Higher is better for `r2`, `accuracy`,
/// `balanced_accuracy`, `f1`, `roc_auc`; see [`greater_is_better`].
pub fn metric(name: &str, y: &[f64], pred: &[f64], n_classes: usize) -> Result<f64> {
    let n = y.len();
    if n == 0 || pred.len() != n * n_classes.max(1) {
        return Err(Error::InvalidInput(format!(
            "{} predictions for {n} rows × {} outputs",
            pred.len(),
            n_classes.max(1)
        )));
    }
    // class codes index per-class tables: each must be one of the model's classes
    if n_classes > 0 {
        if let Some(v) = y.iter().find(|v| !(v.fract() == 0.0 && **v >= 0.0 && **v < n_classes as f64)) {
            return Err(Error::InvalidInput(format!("class code {v}: the model has classes 0..{}", n_classes - 1)));
        }
    }
    let classes = || -> (Vec<usize>, Vec<usize>) {
        let w = n_classes.max(1);
        let yc = y.iter().map(|v| *v as usize).collect();
        let pc =
            pred.chunks(w).map(|p| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |x| x.0)).collect();
        (yc, pc)
    };
    let need = |regression: bool| -> Result<()> {
        if (n_classes == 0) != regression {
            return Err(Error::InvalidInput(format!(
                "metric {name:?} is for {}",
                if regression { "regression" } else { "classification" }
            )));
        }
        Ok(())
    };
    Ok(match name {
        "r2" | "rmse" | "mae" | "mape" | "cod" | "prd" => {
            need(true)?;
            match name {
                "r2" => r2(y, pred),
                "rmse" => rmse(y, pred),
                "mae" => mae(y, pred),
                "mape" => mape(y, pred),
                "cod" => cod(y, pred),
                _ => prd(y, pred),
            }
        }
        "accuracy" | "balanced_accuracy" => {
            need(false)?;
            let (yc, pc) = classes();
            if name == "accuracy" {
                accuracy(&yc, &pc)
            } else {
                balanced_accuracy(&yc, &pc, n_classes)
            }
        }
        "f1" | "roc_auc" => {
            need(false)?;
            if n_classes != 2 {
                return Err(Error::InvalidInput(format!("metric {name:?} needs two classes, not {n_classes}")));
            }
            let (yc, pc) = classes();
            if name == "f1" {
                f1(&yc, &pc)
            } else {
                roc_auc(&yc, &pred.chunks(2).map(|p| p[1]).collect::<Vec<_>>())
            }
        }
        o => {
            return Err(Error::not_found(
                "metric",
                o,
                ["r2", "rmse", "mae", "mape", "cod", "prd", "accuracy", "balanced_accuracy", "f1", "roc_auc"]
                    .map(String::from)
                    .to_vec(),
            ))
        }
    })
}

/// True when a larger value of the metric is better.
pub fn greater_is_better(name: &str) -> bool {
    matches!(name, "r2" | "accuracy" | "balanced_accuracy" | "f1" | "roc_auc")
}

/// Coefficient of determination. A constant target gives 1 for a perfect prediction and 0
/// otherwise, as scikit-learn's `r2_score` (`force_finite=True`), not NaN / -inf.
///
/// ```
/// use landopp::ml::metrics::r2;
/// assert_eq!(r2(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
/// assert_eq!(r2(&[5.0, 5.0], &[5.0, 5.0]), 1.0);
/// assert_eq!(r2(&[5.0, 5.0], &[4.0, 6.0]), 0.0);
/// ```
pub fn r2(y: &[f64], p: &[f64]) -> f64 {
    let m = y.iter().sum::<f64>() / y.len() as f64;
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - m).powi(2)).sum();
    match (ss_res == 0.0, ss_tot == 0.0) {
        (true, true) => 1.0,
        (false, true) => 0.0,
        _ => 1.0 - ss_res / ss_tot,
    }
}
/// Root mean squared error.
pub fn rmse(y: &[f64], p: &[f64]) -> f64 {
    (y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / y.len() as f64).sqrt()
}
/// Mean absolute error.
pub fn mae(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / y.len() as f64
}
/// Mean absolute percentage error (fraction, as scikit-learn).
pub fn mape(y: &[f64], p: &[f64]) -> f64 {
    y.iter().zip(p).map(|(a, b)| ((a - b) / a.abs().max(f64::EPSILON)).abs()).sum::<f64>() / y.len() as f64
}
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
/// Coefficient of dispersion of the assessment ratios `predicted / sale` (IAAO, percent).
pub fn cod(sale: &[f64], predicted: &[f64]) -> f64 {
    let r: Vec<f64> = predicted.iter().zip(sale).map(|(p, s)| p / s).collect();
    let m = median(r.clone());
    100.0 * r.iter().map(|x| (x - m).abs()).sum::<f64>() / r.len() as f64 / m
}
/// Price-related differential (IAAO): mean ratio / weighted mean ratio.
pub fn prd(sale: &[f64], predicted: &[f64]) -> f64 {
    let mean_ratio = predicted.iter().zip(sale).map(|(p, s)| p / s).sum::<f64>() / sale.len() as f64;
    mean_ratio / (predicted.iter().sum::<f64>() / sale.iter().sum::<f64>())
}
/// Accuracy of class codes.
pub fn accuracy(y: &[usize], p: &[usize]) -> f64 {
    y.iter().zip(p).filter(|(a, b)| a == b).count() as f64 / y.len() as f64
}
/// Confusion matrix `[true][predicted]`.
pub fn confusion(y: &[usize], p: &[usize], n_classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; n_classes]; n_classes];
    for (a, b) in y.iter().zip(p) {
        m[*a][*b] += 1;
    }
    m
}
/// Balanced accuracy: mean recall over the classes present.
pub fn balanced_accuracy(y: &[usize], p: &[usize], n_classes: usize) -> f64 {
    let m = confusion(y, p, n_classes);
    let rec: Vec<f64> = (0..n_classes)
        .filter(|&c| m[c].iter().sum::<usize>() > 0)
        .map(|c| m[c][c] as f64 / m[c].iter().sum::<usize>() as f64)
        .collect();
    rec.iter().sum::<f64>() / rec.len() as f64
}
/// F1 of the positive class 1 (binary).
pub fn f1(y: &[usize], p: &[usize]) -> f64 {
    let tp = y.iter().zip(p).filter(|(a, b)| **a == 1 && **b == 1).count() as f64;
    let fp = y.iter().zip(p).filter(|(a, b)| **a == 0 && **b == 1).count() as f64;
    let fn_ = y.iter().zip(p).filter(|(a, b)| **a == 1 && **b == 0).count() as f64;
    if tp == 0.0 {
        0.0
    } else {
        2.0 * tp / (2.0 * tp + fp + fn_)
    }
}
/// ROC AUC of scores for the positive class 1 (ties count half: the Mann–Whitney statistic).
pub fn roc_auc(y: &[usize], score: &[f64]) -> f64 {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut rank = vec![0.0; y.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && score[idx[j + 1]] == score[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            rank[k] = r;
        }
        i = j + 1;
    }
    let pos = y.iter().filter(|v| **v == 1).count() as f64;
    let neg = y.len() as f64 - pos;
    let sum_pos: f64 = y.iter().zip(&rank).filter(|(v, _)| **v == 1).map(|(_, r)| r).sum();
    (sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg)
}
