//! Permutation importance (scikit-learn's `permutation_importance`), per feature and per group of features.

use super::*;

/// Options of [`permutation_importance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportanceOptions {
    /// Metric whose drop is measured (any name of [`metric`]); default `r2` for regression,
    /// `balanced_accuracy` for classes.
    pub metric: Option<String>,
    /// Shuffles per feature (1..=10000; default 5).
    pub n_repeats: usize,
    /// Seed of the shuffles (default 0).
    pub seed: u64,
}

impl Default for ImportanceOptions {
    fn default() -> Self {
        ImportanceOptions { metric: None, n_repeats: 5, seed: 0 }
    }
}

impl ImportanceOptions {
    /// The metric used for a model of `n_classes` classes (0: regression).
    pub fn metric_for(&self, n_classes: usize) -> &str {
        self.metric.as_deref().unwrap_or(if n_classes == 0 { "r2" } else { "balanced_accuracy" })
    }
}

/// Permutation importance of each feature (as scikit-learn's `permutation_importance`): the drop
/// of the metric on `d` when the feature's column is shuffled, `n_repeats` times; `(mean, std)` per
/// feature. Positive = the model relies on the feature (signs follow [`greater_is_better`]).
pub fn permutation_importance(model: &Estimator, d: &Dataset, opts: &ImportanceOptions) -> Result<Vec<(f64, f64)>> {
    let groups: Vec<std::ops::Range<usize>> = (0..d.p).map(|f| f..f + 1).collect();
    permutation_importance_grouped(model, d, &groups, opts)
}

/// [`permutation_importance`] of groups of columns shuffled together (the one-hot columns of a
/// categorical feature), one result per group.
pub fn permutation_importance_grouped(
    model: &Estimator,
    d: &Dataset,
    groups: &[std::ops::Range<usize>],
    opts: &ImportanceOptions,
) -> Result<Vec<(f64, f64)>> {
    let (n_repeats, seed) = (opts.n_repeats, opts.seed);
    let metric_name = opts.metric_for(model.n_classes());
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
