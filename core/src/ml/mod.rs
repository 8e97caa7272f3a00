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

/// What the forest predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A number (mean of the leaves).
    Regression,
    /// Class codes `0..n_classes` (probability of each class = mean of the leaves' class shares).
    Classification,
}

/// Hyper-parameters (scikit-learn's names and defaults where they exist).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForestParams {
    /// Regression or classification.
    pub task: Task,
    /// Number of trees.
    #[serde(default = "hundred")]
    pub n_estimators: usize,
    /// Features tried per split: a fraction of the features (0..1], default 1.0 for regression and
    /// √p for classification (`None`).
    #[serde(default)]
    pub max_features: Option<f64>,
    /// Minimum samples in a leaf.
    #[serde(default = "one")]
    pub min_samples_leaf: usize,
    /// Maximum depth (unlimited by default).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// Draw a bootstrap sample per tree.
    #[serde(default = "yes")]
    pub bootstrap: bool,
    /// Seed.
    #[serde(default)]
    pub seed: u64,
}

fn hundred() -> usize {
    100
}
fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}

impl ForestParams {
    /// Check every parameter before any work; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(m));
        if self.n_estimators == 0 || self.n_estimators > MAX_ITERATIONS {
            return bad(format!("n_estimators {} must be in 1..={MAX_ITERATIONS}", self.n_estimators));
        }
        if let Some(f) = self.max_features {
            if !(f > 0.0 && f <= 1.0) {
                return bad(format!("max_features {f} must be in (0, 1]"));
            }
        }
        if self.min_samples_leaf == 0 {
            return bad("min_samples_leaf must be >= 1".into());
        }
        if self.max_depth == Some(0) {
            return bad("max_depth must be >= 1".into());
        }
        Ok(())
    }
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
    /// Rows.
    pub fn len(&self) -> usize {
        self.y.len()
    }
    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }
    fn row(&self, i: usize) -> &[f64] {
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

/// SplitMix64.
#[derive(Debug, Clone)]
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One node's split: go left when `x[f] <= t`; children are `l` and `l + 1`; `l == 0` marks a
/// leaf (the root is never a child). 16 bytes, so a tree walk stays in cache.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Split {
    t: f64,
    f: u32,
    l: u32,
}

/// A fitted tree: splits plus every node's value (mean, or class shares; `w` per node), kept on
/// internal nodes too for path contributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    split: Vec<Split>,
    value: Vec<f64>,
    w: usize,
}

impl Tree {
    /// Check a tree read from a file before any walk: `w` values per node, every split on one of
    /// `p` features, and every child after its parent (so a walk always ends at a leaf).
    fn validate(&self, p: usize, w: usize) -> std::result::Result<(), String> {
        let n = self.split.len();
        let bad = Err;
        if n == 0 || self.w != w || self.value.len() != n.saturating_mul(w) {
            return bad(format!(
                "tree of {n} nodes with {} values of width {} (expected width {w})",
                self.value.len(),
                self.w
            ));
        }
        for (k, s) in self.split.iter().enumerate() {
            if s.l == 0 {
                continue;
            }
            if (s.l as usize) <= k || s.l as usize + 1 >= n {
                return bad(format!("tree node {k} has children {} and {} of {n} nodes", s.l, s.l as u64 + 1));
            }
            if s.f as usize >= p {
                return bad(format!("tree node {k} splits on feature {} of {p}", s.f));
            }
        }
        Ok(())
    }

    fn leaf(&self, x: &[f64]) -> usize {
        let mut k = 0;
        loop {
            let s = self.split[k];
            if s.l == 0 {
                return k;
            }
            k = if x[s.f as usize] <= s.t { s.l as usize } else { s.l as usize + 1 };
        }
    }

    /// Leaves of `LANES` rows at once (`rows[j]` is row j's features): the walks advance in
    /// lockstep, a level per pass, with branch-free child selection, so the independent node
    /// loads overlap instead of waiting on each other.
    fn leaves<const LANES: usize>(&self, rows: [&[f64]; LANES]) -> [usize; LANES] {
        let mut k = [0usize; LANES];
        loop {
            let mut moving = false;
            for j in 0..LANES {
                let s = self.split[k[j]];
                let go = s.l != 0;
                let right = rows[j][s.f as usize] > s.t; // inputs are finite
                                                         // a leaf stays where it is
                k[j] = if go { s.l as usize + right as usize } else { k[j] };
                moving |= go;
            }
            if !moving {
                return k;
            }
        }
    }

    /// Add the leaf value of every row of `x` (`p` features, rows `start..start + out.len() / w`)
    /// into `out` (`w` values per row).
    fn accumulate(&self, x: &[f64], p: usize, start: usize, out: &mut [f64]) {
        const L: usize = 8;
        let w = self.w;
        let rows = out.len() / w;
        let row = |r: usize| &x[(start + r) * p..(start + r + 1) * p];
        let mut r = 0;
        while r + L <= rows {
            let leaves = self.leaves::<L>(std::array::from_fn(|j| row(r + j)));
            for (j, leaf) in leaves.into_iter().enumerate() {
                for (o, v) in out[(r + j) * w..(r + j + 1) * w].iter_mut().zip(self.value(leaf)) {
                    *o += v;
                }
            }
            r += L;
        }
        for r in r..rows {
            let leaf = self.leaf(row(r));
            for (o, v) in out[r * w..(r + 1) * w].iter_mut().zip(self.value(leaf)) {
                *o += v;
            }
        }
    }

    fn value(&self, k: usize) -> &[f64] {
        &self.value[k * self.w..(k + 1) * self.w]
    }

    fn path(&self, x: &[f64]) -> Vec<usize> {
        let mut path = vec![0];
        let mut k = 0;
        while self.split[k].l != 0 {
            let s = self.split[k];
            k = if x[s.f as usize] <= s.t { s.l as usize } else { s.l as usize + 1 };
            path.push(k);
        }
        path
    }
}

struct Fit<'a> {
    d: &'a Dataset,
    params: &'a ForestParams,
    n_classes: usize,
    mtry: usize,
}

impl Fit<'_> {
    fn value(&self, idx: &[usize]) -> Vec<f64> {
        if self.n_classes == 0 {
            vec![idx.iter().map(|&i| self.d.y[i]).sum::<f64>() / idx.len() as f64]
        } else {
            let mut c = vec![0.0; self.n_classes];
            for &i in idx {
                c[self.d.y[i] as usize] += 1.0;
            }
            c.iter_mut().for_each(|v| *v /= idx.len() as f64);
            c
        }
    }

    /// Best split of `idx` over a random subset of features: (feature, threshold, gain).
    fn best_split(&self, idx: &[usize], rng: &mut Rng) -> Option<(usize, f64)> {
        let p = self.d.p;
        let mut feats: Vec<usize> = (0..p).collect();
        let msl = self.params.min_samples_leaf;
        let n = idx.len();
        let mut best: Option<(usize, f64, f64)> = None;
        let mut order: Vec<(f64, usize)> = Vec::with_capacity(n);
        // like scikit-learn: draw features without replacement; keep drawing past mtry while no
        // valid split was found
        for k in 0..p {
            if k >= self.mtry && best.is_some() {
                break;
            }
            let j = k + rng.below(p - k);
            feats.swap(k, j);
            let f = feats[k];
            order.clear();
            order.extend(idx.iter().map(|&i| (self.d.x[i * p + f], i)));
            order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            if order[0].0 == order[n - 1].0 {
                continue;
            }
            if self.n_classes == 0 {
                let total: f64 = order.iter().map(|o| self.d.y[o.1]).sum();
                let mut left = 0.0;
                for s in 0..n - 1 {
                    left += self.d.y[order[s].1];
                    let (nl, nr) = (s + 1, n - s - 1);
                    if nl < msl || nr < msl || order[s].0 == order[s + 1].0 {
                        continue;
                    }
                    // maximising Σ²/n of both sides = minimising the summed squared error
                    let right = total - left;
                    let score = left * left / nl as f64 + right * right / nr as f64;
                    if best.is_none_or(|b| score > b.2) {
                        best = Some((f, (order[s].0 + order[s + 1].0) / 2.0, score));
                    }
                }
            } else {
                let c = self.n_classes;
                let mut tot = vec![0.0; c];
                for o in &order {
                    tot[self.d.y[o.1] as usize] += 1.0;
                }
                let mut left = vec![0.0; c];
                for s in 0..n - 1 {
                    left[self.d.y[order[s].1] as usize] += 1.0;
                    let (nl, nr) = ((s + 1) as f64, (n - s - 1) as f64);
                    if (s + 1) < msl || (n - s - 1) < msl || order[s].0 == order[s + 1].0 {
                        continue;
                    }
                    // minimising weighted Gini = maximising Σ left²/nl + Σ right²/nr
                    let mut score = 0.0;
                    for k in 0..c {
                        let r = tot[k] - left[k];
                        score += left[k] * left[k] / nl + r * r / nr;
                    }
                    if best.is_none_or(|b| score > b.2) {
                        best = Some((f, (order[s].0 + order[s + 1].0) / 2.0, score));
                    }
                }
            }
        }
        best.map(|b| (b.0, b.1))
    }

    fn tree(&self, sample: Vec<usize>, rng: &mut Rng) -> Tree {
        let mut split = vec![Split { t: 0.0, f: 0, l: 0 }];
        let mut values: Vec<Vec<f64>> = vec![vec![]];
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(0, sample, 0)];
        while let Some((k, idx, depth)) = stack.pop() {
            values[k] = self.value(&idx);
            let pure = idx.iter().all(|&i| self.d.y[i] == self.d.y[idx[0]]);
            let deep = self.params.max_depth.is_some_and(|m| depth >= m);
            if pure || deep || idx.len() < 2 * self.params.min_samples_leaf {
                continue;
            }
            let Some((f, t)) = self.best_split(&idx, rng) else { continue };
            let (l, r): (Vec<usize>, Vec<usize>) = idx.iter().partition(|&&i| self.d.x[i * self.d.p + f] <= t);
            let li = split.len();
            split.extend([Split { t: 0.0, f: 0, l: 0 }; 2]);
            values.extend([vec![], vec![]]);
            split[k] = Split { t, f: f as u32, l: li as u32 };
            stack.push((li + 1, r, depth + 1));
            stack.push((li, l, depth + 1));
        }
        let w = self.n_classes.max(1);
        Tree { split, value: values.into_iter().flatten().collect(), w }
    }
}

/// A fitted random forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// Hyper-parameters it was fitted with.
    pub params: ForestParams,
    /// Number of features.
    pub p: usize,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    trees: Vec<Tree>,
}

/// A prediction explained: `bias + Σ contributions = value` (per class for classification).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explained {
    /// The prediction (regression) or the probability of each class.
    pub value: Vec<f64>,
    /// The forest's mean at the root (training-sample mean / class shares).
    pub bias: Vec<f64>,
    /// Per feature (and output): the change of the node value along the decision paths (trees;
    /// averaged over a forest's trees, summed over boosting's), or coefficient × standardised
    /// value (linear models).
    pub contributions: Vec<Vec<f64>>,
    /// What `value` is: `"value"` (regression), `"probability"` (per class, forests),
    /// `"log_odds"` (boosting and logistic models: of class 1 for two classes, else per class).
    pub scale: String,
}

impl Forest {
    /// Fit on `d` (validated first).
    pub fn fit(d: &Dataset, params: &ForestParams) -> Result<Forest> {
        params.validate()?;
        let n_classes = d.validate(params.task)?;
        let p = d.p;
        let mtry = match (params.max_features, params.task) {
            (Some(f), _) => ((f * p as f64).round() as usize).clamp(1, p),
            (None, Task::Regression) => p,
            (None, Task::Classification) => ((p as f64).sqrt() as usize).max(1),
        };
        let fit = Fit { d, params, n_classes, mtry };
        let n = d.len();
        let trees = (0..params.n_estimators)
            .into_par_iter()
            .map(|t| {
                let mut rng = Rng(params.seed ^ (t as u64).wrapping_mul(0xA076_1D64_78BD_642F));
                let sample: Vec<usize> =
                    if params.bootstrap { (0..n).map(|_| rng.below(n)).collect() } else { (0..n).collect() };
                fit.tree(sample, &mut rng)
            })
            .collect();
        Ok(Forest { params: params.clone(), p, n_classes, trees })
    }

    fn check(&self, x: &[f64]) -> Result<usize> {
        check_rows(x, self.p)
    }

    /// Predictions for rows of `x` (row-major, `p` features): the value (regression) or the
    /// probability of each class (classification, `n × n_classes`).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        let n = self.check(x)?;
        let w = self.n_classes.max(1);
        let mut out = vec![0.0; n * w];
        // blocks of rows, tree by tree: a tree's nodes stay in cache for the whole block
        const BLOCK: usize = 1024;
        let k = self.trees.len() as f64;
        out.par_chunks_mut(BLOCK * w).enumerate().for_each(|(b, o)| {
            let start = b * BLOCK;
            for t in &self.trees {
                t.accumulate(x, self.p, start, o);
            }
            o.iter_mut().for_each(|v| *v /= k);
        });
        Ok(out)
    }

    /// One row's prediction with exact path contributions (they sum to the prediction).
    pub fn explain(&self, row: &[f64]) -> Result<Explained> {
        self.check(row)?;
        let w = self.n_classes.max(1);
        let mut bias = vec![0.0; w];
        let mut contrib = vec![vec![0.0; w]; self.p];
        for t in &self.trees {
            let path = t.path(row);
            for (b, v) in bias.iter_mut().zip(t.value(0)) {
                *b += v;
            }
            for pair in path.windows(2) {
                let f = t.split[pair[0]].f as usize;
                for ((o, bv), av) in contrib[f].iter_mut().zip(t.value(pair[1])).zip(t.value(pair[0])) {
                    *o += bv - av;
                }
            }
        }
        let k = self.trees.len() as f64;
        bias.iter_mut().for_each(|v| *v /= k);
        contrib.iter_mut().flatten().for_each(|v| *v /= k);
        let value = (0..w).map(|c| bias[c] + contrib.iter().map(|f| f[c]).sum::<f64>()).collect();
        let scale = if self.n_classes == 0 { "value" } else { "probability" };
        Ok(Explained { value, bias, contributions: contrib, scale: scale.into() })
    }
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

/// Hyper-parameters of any model family: JSON `{"model": "random_forest" | "gradient_boosting" |
/// "linear", ...the family's parameters}`; without `"model"`, a random forest.
///
/// ```
/// use landopp::ml::Params;
/// let p: Params = serde_json::from_str(r#"{"model": "gradient_boosting", "task": "regression", "max_iter": 50}"#).unwrap();
/// assert_eq!(p.family(), "gradient_boosting");
/// let bad = serde_json::from_str::<Params>(r#"{"model": "svm", "task": "regression"}"#);
/// assert!(bad.is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// Random forest.
    RandomForest(ForestParams),
    /// Histogram gradient boosting.
    GradientBoosting(boost::BoostParams),
    /// Ridge or logistic regression.
    Linear(linear::LinearParams),
}

impl Params {
    /// The family's name, as in JSON.
    pub fn family(&self) -> &'static str {
        match self {
            Params::RandomForest(_) => "random_forest",
            Params::GradientBoosting(_) => "gradient_boosting",
            Params::Linear(_) => "linear",
        }
    }
    /// Regression or classification.
    pub fn task(&self) -> Task {
        match self {
            Params::RandomForest(p) => p.task,
            Params::GradientBoosting(p) => p.task,
            Params::Linear(p) => p.task,
        }
    }
    /// Check every parameter before any work.
    pub fn validate(&self) -> Result<()> {
        match self {
            Params::RandomForest(p) => p.validate(),
            Params::GradientBoosting(p) => p.validate(),
            Params::Linear(p) => p.validate(),
        }
    }
    /// Parse JSON text (errors name the problem).
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text).map_err(|e| Error::InvalidInput(format!("model parameters: {e}")))
    }
}

impl From<ForestParams> for Params {
    fn from(p: ForestParams) -> Self {
        Params::RandomForest(p)
    }
}

impl Serialize for Params {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut v = match self {
            Params::RandomForest(p) => serde_json::to_value(p),
            Params::GradientBoosting(p) => serde_json::to_value(p),
            Params::Linear(p) => serde_json::to_value(p),
        }
        .map_err(serde::ser::Error::custom)?;
        v["model"] = self.family().into();
        v.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut v = serde_json::Value::deserialize(d)?;
        let family = match v.as_object_mut().and_then(|o| o.remove("model")) {
            None => "random_forest".to_string(),
            Some(serde_json::Value::String(s)) => s,
            Some(o) => return Err(D::Error::custom(format!("\"model\" must be a string, got {o}"))),
        };
        let e = D::Error::custom;
        match family.as_str() {
            "random_forest" => serde_json::from_value(v).map(Params::RandomForest).map_err(e),
            "gradient_boosting" => serde_json::from_value(v).map(Params::GradientBoosting).map_err(e),
            "linear" => serde_json::from_value(v).map(Params::Linear).map_err(e),
            o => Err(D::Error::custom(format!("unknown model {o:?}: random_forest, gradient_boosting or linear"))),
        }
    }
}

/// A fitted model of any family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Estimator {
    /// Random forest.
    RandomForest(Forest),
    /// Histogram gradient boosting.
    GradientBoosting(boost::Boosting),
    /// Ridge or logistic regression.
    Linear(linear::Linear),
}

impl Estimator {
    /// Check a model read from a file: every size, index and link consistent with the others,
    /// so prediction can neither index out of bounds nor loop (`INVALID_INPUT` naming the
    /// inconsistency; [`lifecycle::Model::load`] reports it as `FORMAT` of the file).
    pub fn validate(&self) -> Result<()> {
        self.check_structure().map_err(|m| Error::InvalidInput(format!("inconsistent model: {m}")))
    }

    pub(crate) fn check_structure(&self) -> std::result::Result<(), String> {
        let bad = Err;
        let p = self.n_features();
        if p == 0 {
            return bad("a model of 0 features".into());
        }
        match self {
            Estimator::RandomForest(m) => {
                if m.trees.is_empty() {
                    return bad("a forest without trees".into());
                }
                m.trees.iter().try_for_each(|t| t.validate(p, m.n_classes.max(1)))
            }
            Estimator::GradientBoosting(m) => m.validate_structure(|t| t.validate(p, 1)),
            Estimator::Linear(m) => m.validate_structure(),
        }
    }
    /// Fit a model of the family `params` names.
    pub fn fit(d: &Dataset, params: &Params) -> Result<Estimator> {
        Ok(match params {
            Params::RandomForest(p) => Estimator::RandomForest(Forest::fit(d, p)?),
            Params::GradientBoosting(p) => Estimator::GradientBoosting(boost::Boosting::fit(d, p)?),
            Params::Linear(p) => Estimator::Linear(linear::Linear::fit(d, p)?),
        })
    }
    /// Predictions for rows of `x` (row-major): the value (regression) or the probability of each
    /// class (`n × n_classes`).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        match self {
            Estimator::RandomForest(m) => m.predict(x),
            Estimator::GradientBoosting(m) => m.predict(x),
            Estimator::Linear(m) => m.predict(x),
        }
    }
    /// Every row of `x` (`p` features each, the model's) explained.
    pub fn explain_rows(&self, x: &[f64], p: usize) -> Result<Vec<Explained>> {
        if p != self.n_features() {
            return Err(Error::InvalidInput(format!("rows of {p} features for a model of {}", self.n_features())));
        }
        check_rows(x, p)?;
        x.chunks(p).map(|r| self.explain(r)).collect()
    }
    /// One row's prediction explained (`bias + Σ contributions = value`, see [`Explained::scale`]).
    pub fn explain(&self, row: &[f64]) -> Result<Explained> {
        match self {
            Estimator::RandomForest(m) => m.explain(row),
            Estimator::GradientBoosting(m) => m.explain(row),
            Estimator::Linear(m) => m.explain(row),
        }
    }
    /// Number of features.
    pub fn n_features(&self) -> usize {
        match self {
            Estimator::RandomForest(m) => m.p,
            Estimator::GradientBoosting(m) => m.p,
            Estimator::Linear(m) => m.p,
        }
    }
    /// Number of classes (0 for regression).
    pub fn n_classes(&self) -> usize {
        match self {
            Estimator::RandomForest(m) => m.n_classes,
            Estimator::GradientBoosting(m) => m.n_classes,
            Estimator::Linear(m) => m.n_classes,
        }
    }
    /// Widen to `n` classes (a training fold may lack the highest class codes).
    fn set_n_classes(&mut self, n: usize) {
        match self {
            Estimator::RandomForest(m) => m.n_classes = m.n_classes.max(n),
            Estimator::GradientBoosting(m) => m.set_n_classes(n),
            Estimator::Linear(m) => m.set_n_classes(n),
        }
    }
}

/// Fold of each row for k-fold cross-validation (shuffled with `seed`).
pub fn kfold(n: usize, k: usize, seed: u64) -> Result<Vec<usize>> {
    if k < 2 || k > n {
        return Err(Error::InvalidInput(format!("k = {k} folds for {n} rows")));
    }
    let mut idx: Vec<usize> = try_filled(n, 0, "kfold")?;
    idx.iter_mut().enumerate().for_each(|(i, v)| *v = i);
    let mut rng = Rng(seed);
    for i in (1..n).rev() {
        idx.swap(i, rng.below(i + 1));
    }
    let mut fold = try_filled(n, 0, "kfold")?;
    for (pos, &i) in idx.iter().enumerate() {
        fold[i] = pos % k;
    }
    Ok(fold)
}

/// Fold of each row for spatial block cross-validation: k-means (Lloyd, `blocks` clusters,
/// k-means++ seeding with `seed`) on the coordinates, then the blocks dealt to `k` folds so that
/// neighbours stay in the same fold (random k-fold leaks them). Use projected coordinates (metres).
pub fn spatial_blocks(xy: &[[f64; 2]], blocks: usize, k: usize, seed: u64) -> Result<Vec<usize>> {
    let n = xy.len();
    if k < 2 || blocks < k || blocks > n {
        return Err(Error::InvalidInput(format!("{blocks} blocks into {k} folds for {n} rows")));
    }
    let mut rng = Rng(seed);
    let label = kmeans_blocks(xy, blocks, &mut rng)?;
    // blocks to folds: the non-empty blocks shuffled, dealt round-robin (an empty block dealt to a
    // fold left that fold without rows when the points have few distinct locations)
    let mut size = vec![0usize; blocks];
    label.iter().for_each(|&b| size[b] += 1);
    let mut order: Vec<usize> = (0..blocks).filter(|&b| size[b] > 0).collect();
    if order.len() < k {
        return Err(Error::InvalidInput(format!(
            "the {n} points form only {} spatial blocks, fewer than the {k} folds (repeated or too few distinct locations)",
            order.len()
        )));
    }
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let mut fold_of_block = vec![0; blocks];
    for (pos, &b) in order.iter().enumerate() {
        fold_of_block[b] = pos % k;
    }
    Ok(label.iter().map(|&b| fold_of_block[b]).collect())
}

/// Hold-out split as fold labels, 0 = training and 1 = test (usable wherever folds are). With
/// coordinates `(xy, blocks)` — the spatial split, to be preferred for parcels — whole k-means
/// blocks are drawn at random into the test side until it holds at least `test_fraction` of the
/// rows, so test parcels are not the neighbours of training parcels; without, a shuffled
/// `test_fraction` of the rows. Both sides always keep at least one row.
pub fn holdout(n: usize, test_fraction: f64, seed: u64, xy: Option<(&[[f64; 2]], usize)>) -> Result<Vec<usize>> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::InvalidInput(format!("test_fraction {test_fraction} outside (0, 1)")));
    }
    if n < 2 {
        return Err(Error::InvalidInput(format!("a hold-out split needs at least 2 rows, got {n}")));
    }
    let want = ((n as f64 * test_fraction).round() as usize).clamp(1, n - 1);
    let mut rng = Rng(seed);
    let mut label = try_filled(n, 0usize, "holdout")?;
    match xy {
        None => {
            let mut idx: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                idx.swap(i, rng.below(i + 1));
            }
            idx[..want].iter().for_each(|&i| label[i] = 1);
        }
        Some((xy, blocks)) => {
            if xy.len() != n {
                return Err(Error::InvalidInput(format!("{} coordinates for {n} rows", xy.len())));
            }
            if blocks < 2 || blocks > n {
                return Err(Error::InvalidInput(format!("{blocks} blocks for {n} rows")));
            }
            let block = kmeans_blocks(xy, blocks, &mut rng)?;
            let mut size = vec![0usize; blocks];
            block.iter().for_each(|&b| size[b] += 1);
            let mut order: Vec<usize> = (0..blocks).filter(|&b| size[b] > 0).collect();
            if order.len() < 2 {
                return Err(Error::InvalidInput(format!(
                    "the {n} points form one spatial block: a spatial hold-out needs two (repeated locations)"
                )));
            }
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let mut test = vec![false; blocks];
            let mut taken = 0;
            // the last non-empty block always stays in training
            for &b in &order[..order.len() - 1] {
                if taken >= want {
                    break;
                }
                test[b] = true;
                taken += size[b];
            }
            block.iter().zip(label.iter_mut()).for_each(|(&b, l)| *l = test[b] as usize);
        }
    }
    Ok(label)
}

/// k-means block (Lloyd, `blocks` clusters, k-means++ seeding from `rng`) of every point; the
/// coordinates must be finite.
fn kmeans_blocks(xy: &[[f64; 2]], blocks: usize, rng: &mut Rng) -> Result<Vec<usize>> {
    if xy.iter().any(|c| !c[0].is_finite() || !c[1].is_finite()) {
        return Err(Error::InvalidInput("coordinates must be finite".into()));
    }
    let n = xy.len();
    let d2 = |a: &[f64; 2], b: &[f64; 2]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
    let mut centres = vec![xy[rng.below(n)]];
    let mut dist: Vec<f64> = xy.iter().map(|p| d2(p, &centres[0])).collect();
    while centres.len() < blocks {
        let total: f64 = dist.iter().sum();
        let mut r = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut pick = n - 1;
        for (i, d) in dist.iter().enumerate() {
            r -= d;
            if r <= 0.0 {
                pick = i;
                break;
            }
        }
        centres.push(xy[pick]);
        for (d, p) in dist.iter_mut().zip(xy) {
            *d = d.min(d2(p, &xy[pick]));
        }
    }
    let mut label = vec![0usize; n];
    for _ in 0..100 {
        // nearest centre of each point (the first on ties), in parallel chunks
        let moved = label
            .par_chunks_mut(4096)
            .zip(xy.par_chunks(4096))
            .map(|(ls, ps)| {
                let mut moved = false;
                for (l, p) in ls.iter_mut().zip(ps) {
                    let (mut best, mut bd) = (0, d2(p, &centres[0]));
                    for (c, centre) in centres.iter().enumerate().skip(1) {
                        let d = d2(p, centre);
                        if d < bd {
                            (best, bd) = (c, d);
                        }
                    }
                    moved |= best != *l;
                    *l = best;
                }
                moved
            })
            .reduce(|| false, |a, b| a | b);
        let mut sum = vec![[0.0, 0.0, 0.0]; blocks];
        for (l, p) in label.iter().zip(xy) {
            sum[*l] = [sum[*l][0] + p[0], sum[*l][1] + p[1], sum[*l][2] + 1.0];
        }
        for (c, s) in centres.iter_mut().zip(&sum) {
            if s[2] > 0.0 {
                *c = [s[0] / s[2], s[1] / s[2]];
            }
        }
        if !moved {
            break;
        }
    }
    Ok(label)
}

/// Out-of-fold predictions: for each fold, fit on the other folds and predict this one.
pub fn cross_val_predict(d: &Dataset, params: &Params, fold: &[usize]) -> Result<Vec<f64>> {
    params.validate()?;
    if fold.len() != d.len() {
        return Err(Error::InvalidInput(format!("{} fold labels for {} rows", fold.len(), d.len())));
    }
    let n_classes = d.validate(params.task())?;
    let w = n_classes.max(1);
    // the distinct fold labels (any numbering), each held out once
    let mut folds: Vec<usize> = fold.to_vec();
    folds.sort_unstable();
    folds.dedup();
    if folds.len() < 2 {
        return Err(Error::InvalidInput(format!(
            "{} distinct fold label(s): cross-validation needs at least 2",
            folds.len()
        )));
    }
    let mut out = vec![f64::NAN; d.len() * w];
    for f in folds {
        let train: Vec<usize> = (0..d.len()).filter(|&i| fold[i] != f).collect();
        let test: Vec<usize> = (0..d.len()).filter(|&i| fold[i] == f).collect();
        if train.is_empty() || test.is_empty() {
            continue;
        }
        let sub = Dataset {
            x: train.iter().flat_map(|&i| d.row(i).to_vec()).collect(),
            p: d.p,
            y: train.iter().map(|&i| d.y[i]).collect(),
        };
        let mut model = Estimator::fit(&sub, params)?;
        model.set_n_classes(n_classes); // every class, even if a fold lacks one
        let xt: Vec<f64> = test.iter().flat_map(|&i| d.row(i).to_vec()).collect();
        let pred = model.predict(&xt)?;
        let wm = model.n_classes().max(1);
        for (r, &i) in test.iter().enumerate() {
            for c in 0..w {
                out[i * w + c] = if c < wm { pred[r * wm + c] } else { 0.0 };
            }
        }
    }
    Ok(out)
}

/// A metric of predictions (as [`Estimator::predict`] returns them) by name: `r2`, `rmse`, `mae`,
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
                "r2" => metrics::r2(y, pred),
                "rmse" => metrics::rmse(y, pred),
                "mae" => metrics::mae(y, pred),
                "mape" => metrics::mape(y, pred),
                "cod" => metrics::cod(y, pred),
                _ => metrics::prd(y, pred),
            }
        }
        "accuracy" | "balanced_accuracy" => {
            need(false)?;
            let (yc, pc) = classes();
            if name == "accuracy" {
                metrics::accuracy(&yc, &pc)
            } else {
                metrics::balanced_accuracy(&yc, &pc, n_classes)
            }
        }
        "f1" | "roc_auc" => {
            need(false)?;
            if n_classes != 2 {
                return Err(Error::InvalidInput(format!("metric {name:?} needs two classes, not {n_classes}")));
            }
            let (yc, pc) = classes();
            if name == "f1" {
                metrics::f1(&yc, &pc)
            } else {
                metrics::roc_auc(&yc, &pred.chunks(2).map(|p| p[1]).collect::<Vec<_>>())
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

/// Regression and ratio-study metrics by name.
pub mod metrics {
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let imp = permutation_importance(&m, &d, "r2", 5, 1).unwrap();
        assert!(imp[0].0 > imp[1].0 && imp[1].0 > 0.0, "{imp:?}");
        // lower-is-better metrics keep "positive = important"
        let imp = permutation_importance(&m, &d, "rmse", 3, 1).unwrap();
        assert!(imp[0].0 > 0.0);
        assert_eq!(permutation_importance(&m, &d, "accuracy", 3, 1).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(permutation_importance(&m, &d, "gini", 3, 1).unwrap_err().code(), "NOT_FOUND");
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

pub mod drift;
pub mod lifecycle;
pub mod registry;
