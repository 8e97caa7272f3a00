//! Permutation importance (scikit-learn's `permutation_importance`), per feature and per group of features.

use super::*;

/// Permutation importance of each feature (as scikit-learn's `permutation_importance`): the drop
/// of `metric` on `d` when the feature's column is shuffled, `n_repeats` times; `(mean, std)` per
/// feature. Positive = the model relies on the feature (signs follow [`greater_is_better`]).
pub fn permutation_importance(
    model: &Estimator,
    d: &Dataset,
    metric_name: &str,
    n_repeats: usize,
    seed: u64,
) -> Result<Vec<(f64, f64)>> {
    let groups: Vec<std::ops::Range<usize>> = (0..d.p).map(|f| f..f + 1).collect();
    permutation_importance_grouped(model, d, &groups, metric_name, n_repeats, seed)
}

/// [`permutation_importance`] of groups of columns shuffled together (the one-hot columns of a
/// categorical feature), one result per group.
pub fn permutation_importance_grouped(
    model: &Estimator,
    d: &Dataset,
    groups: &[std::ops::Range<usize>],
    metric_name: &str,
    n_repeats: usize,
    seed: u64,
) -> Result<Vec<(f64, f64)>> {
    if n_repeats == 0 || n_repeats > 10_000 {
        return Err(Error::InvalidInput(format!("n_repeats {n_repeats} must be in 1..=10000")));
    }
    let p = d.p;
    if p != model.n_features() {
        return Err(Error::InvalidInput(format!("{p} features for a model of {}", model.n_features())));
    }
    if let Some(g) = groups.iter().find(|g| g.end > p || g.is_empty()) {
        return Err(Error::InvalidInput(format!("column group {g:?} outside 0..{p}")));
    }
    let k = model.n_classes();
    let base = metric(metric_name, &d.y, &model.predict(&d.x)?, k)?;
    let sign = if greater_is_better(metric_name) { 1.0 } else { -1.0 };
    groups
        .iter()
        .enumerate()
        .map(|(f, cols)| {
            crate::interrupt::check("permutation importance")?;
            let mut rng = Rng(seed ^ (f as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let drops = (0..n_repeats)
                .map(|_| {
                    let mut x = d.x.clone();
                    let n = d.len();
                    let mut perm: Vec<usize> = (0..n).collect();
                    for i in (1..n).rev() {
                        perm.swap(i, rng.below(i + 1));
                    }
                    for (i, &j) in perm.iter().enumerate() {
                        for c in cols.clone() {
                            x[i * p + c] = d.x[j * p + c];
                        }
                    }
                    Ok(sign * (base - metric(metric_name, &d.y, &model.predict(&x)?, k)?))
                })
                .collect::<Result<Vec<f64>>>()?;
            let m = drops.iter().sum::<f64>() / n_repeats as f64;
            let sd = (drops.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n_repeats as f64).sqrt();
            Ok((m, sd))
        })
        .collect()
}
