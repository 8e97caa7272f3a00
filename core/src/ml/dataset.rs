//! Training data (a row-major feature matrix with its target and task) and the limits every fit checks.

use super::*;

/// What the forest predicts.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A number (mean of the leaves).
    Regression,
    /// Class codes `0..n_classes` (probability of each class = mean of the leaves' class shares).
    Classification,
}

/// A row-major matrix of features with a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `n × p` values, row-major.
    pub x: Vec<f64>,
    /// Number of features.
    pub p: usize,
    /// Target (class codes for classification).
    pub y: Vec<f64>,
}

impl Dataset {
    /// A dataset from an `n × p` feature matrix and its `n` targets, in any memory layout (copied
    /// row-major, as the fits read it).
    ///
    /// ```
    /// use landopp::ml::{Dataset, Estimator, Params};
    /// let x = ndarray::array![[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]];
    /// let d = Dataset::from_arrays(x.view(), ndarray::array![1.0, 2.0, 3.0, 4.0].view())?;
    /// let m = Estimator::fit(&d, &Params::parse(r#"{"model": "linear", "task": "regression", "alpha": 0}"#)?)?;
    /// let pred = m.predict_array(x.t().as_standard_layout().t())?; // any layout
    /// assert!((pred[[2, 0]] - 3.0).abs() < 1e-9);
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn from_arrays(x: ndarray::ArrayView2<'_, f64>, y: ndarray::ArrayView1<'_, f64>) -> Result<Self> {
        if x.nrows() != y.len() {
            return Err(Error::InvalidInput(format!("{} rows of features for {} targets", x.nrows(), y.len())));
        }
        // `iter` walks the logical (row-major) order whatever the strides
        Ok(Dataset { x: x.iter().copied().collect(), p: x.ncols(), y: y.to_vec() })
    }
    /// Rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    pub(super) fn row(&self, i: usize) -> &[f64] {
        &self.x[i * self.p..(i + 1) * self.p]
    }
    /// Check shapes and values: finite features (impute first), finite target.
    pub fn validate(&self, task: Task) -> Result<usize> {
        if self.is_empty() || self.p == 0 {
            return Err(Error::Empty("no rows or no features to learn from".into()));
        }
        if self.x.len() != self.len() * self.p {
            return Err(Error::InvalidInput(format!("x has {} values for {} × {}", self.x.len(), self.len(), self.p)));
        }
        if let Some(i) = self.x.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "feature {} of row {} is {} (impute missing values first)",
                i % self.p,
                i / self.p,
                self.x[i]
            )));
        }
        if let Some(i) = self.y.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!("target of row {i} is {}", self.y[i])));
        }
        Ok(match task {
            Task::Regression => 0,
            Task::Classification => {
                if let Some(v) = self.y.iter().find(|v| v.fract() != 0.0 || **v < 0.0) {
                    return Err(Error::InvalidInput(format!("class codes must be integers >= 0, got {v}")));
                }
                if self.y.iter().all(|v| *v == self.y[0]) {
                    return Err(Error::InvalidInput(format!(
                        "the target has one class ({}): nothing to classify",
                        self.y[0]
                    )));
                }
                let top = self.y.iter().fold(0.0f64, |a, b| a.max(*b));
                // every class code sizes per-class tables: codes run 0..k-1, k at most the rows
                if top >= MAX_CLASSES as f64 || top >= self.len() as f64 {
                    return Err(Error::InvalidInput(format!(
                        "class code {top}: codes must be 0..k-1 with k at most the number of rows ({}) and {MAX_CLASSES}",
                        self.len()
                    )));
                }
                top as usize + 1
            }
        })
    }
}

/// Most trees or boosting iterations a model takes.
pub const MAX_ITERATIONS: usize = 100_000;

/// Most classes a classifier takes (class codes are 0..k-1).
pub const MAX_CLASSES: usize = 65_536;

/// Most rows the fold and split helpers take (they return a label per row).
pub const MAX_ROWS: usize = u32::MAX as usize;

/// `n` values of `v`, or `INVALID_INPUT` when `n` is beyond [`MAX_ROWS`] or memory cannot hold
/// them (instead of aborting the process).
pub(crate) fn try_filled<T: Clone>(n: usize, v: T, what: &str) -> Result<Vec<T>> {
    let refuse = || Error::InvalidInput(format!("{what}: {n} rows cannot be allocated (at most {MAX_ROWS})"));
    if n > MAX_ROWS {
        return Err(refuse());
    }
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| refuse())?;
    out.resize(n, v);
    Ok(out)
}

/// Rows in `x` of `p` features each, all finite (the documented policy: impute missing values
/// before fitting or predicting).
pub(crate) fn check_rows(x: &[f64], p: usize) -> Result<usize> {
    if p == 0 || !x.len().is_multiple_of(p) {
        return Err(Error::InvalidInput(format!("{} values are not rows of {p} features", x.len())));
    }
    if let Some(i) = x.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidInput(format!(
            "feature {} of row {} is {} (impute missing values first)",
            i % p,
            i / p,
            x[i]
        )));
    }
    Ok(x.len() / p)
}
