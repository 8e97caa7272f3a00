//! Histogram gradient boosting: the algorithm of scikit-learn's `HistGradientBoostingRegressor` /
//! `HistGradientBoostingClassifier` (features binned into at most 255 quantile bins, trees grown
//! leaf-wise by best gain up to `max_leaf_nodes`, second-order gains
//! `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)`, leaf values `−lr·G/(H+λ)`, squared error for
//! regression, log loss for two classes, softmax with one tree per class and iteration for more).
//!
//! Added because the random forest alone does not reach scikit-learn's HistGradientBoosting on the
//! Ames sale prices (ARCHITECTURE.md, Machine learning). Differences from scikit-learn: features
//! must be finite (no native missing-value bin; impute first, as for the forest), no early
//! stopping (scikit-learn's `"auto"` only enables it above 10,000 rows), no categorical splits.
//!
//! Explanations are exact path contributions in the model's raw space (the value for regression,
//! log-odds per class for classification): `bias + Σ contributions = raw prediction`.

use super::{Dataset, Explained, Rng, Split, Task, Tree};
use crate::error::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Hyper-parameters (scikit-learn's names and defaults).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoostParams {
    /// Regression or classification.
    pub task: Task,
    /// Shrinkage of every tree.
    #[serde(default = "lr")]
    pub learning_rate: f64,
    /// Boosting iterations (trees per class).
    #[serde(default = "hundred")]
    pub max_iter: usize,
    /// Leaves per tree.
    #[serde(default = "thirty_one")]
    pub max_leaf_nodes: usize,
    /// Maximum depth (unlimited by default).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// Minimum samples in a leaf.
    #[serde(default = "twenty")]
    pub min_samples_leaf: usize,
    /// L2 regularisation of the leaf values.
    #[serde(default)]
    pub l2_regularization: f64,
    /// Bins per feature (2..=255).
    #[serde(default = "max_bins")]
    pub max_bins: usize,
    /// Seed (sub-sample for the bin edges above 200,000 rows; the early-stopping split).
    #[serde(default)]
    pub seed: u64,
    /// Stop when the held-out loss stops improving: `"auto"` (scikit-learn's default: on above
    /// 10,000 rows), `true` or `false`.
    #[serde(default)]
    pub early_stopping: EarlyStopping,
    /// Share of the rows held out for early stopping (stratified by class for classification).
    #[serde(default = "validation_fraction")]
    pub validation_fraction: f64,
    /// Stop when none of the last `n_iter_no_change` iterations improved the held-out score by
    /// more than `tol` over the one before them.
    #[serde(default = "ten")]
    pub n_iter_no_change: usize,
    /// Minimum improvement of the held-out score (the negative loss).
    #[serde(default = "tol")]
    pub tol: f64,
    /// Early-stopping score: `"loss"` (scikit-learn's default; the only one implemented).
    #[serde(default = "loss")]
    pub scoring: String,
}

/// scikit-learn's `early_stopping` (`"auto"`, `true`, `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EarlyStopping {
    /// On when there are more than 10,000 rows.
    #[default]
    Auto,
    /// Always.
    On,
    /// Never: `max_iter` iterations.
    Off,
}

impl Serialize for EarlyStopping {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            EarlyStopping::Auto => s.serialize_str("auto"),
            EarlyStopping::On => s.serialize_bool(true),
            EarlyStopping::Off => s.serialize_bool(false),
        }
    }
}

impl<'de> Deserialize<'de> for EarlyStopping {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Ok(EarlyStopping::On),
            serde_json::Value::Bool(false) => Ok(EarlyStopping::Off),
            serde_json::Value::String(s) if s == "auto" => Ok(EarlyStopping::Auto),
            _ => Err(serde::de::Error::custom("early_stopping must be \"auto\", true or false")),
        }
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for EarlyStopping {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EarlyStopping".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "scikit-learn's `early_stopping`: `\"auto\"` (on above 10,000 rows), `true` or `false`.",
            "anyOf": [{"const": "auto"}, {"type": "boolean"}]
        })
    }
}

impl EarlyStopping {
    fn enabled(self, rows: usize) -> bool {
        match self {
            EarlyStopping::Auto => rows > 10_000,
            EarlyStopping::On => true,
            EarlyStopping::Off => false,
        }
    }
}

fn validation_fraction() -> f64 {
    0.1
}
fn ten() -> usize {
    10
}
fn tol() -> f64 {
    1e-7
}
fn loss() -> String {
    "loss".into()
}

fn lr() -> f64 {
    0.1
}
fn hundred() -> usize {
    100
}
fn thirty_one() -> usize {
    31
}
fn twenty() -> usize {
    20
}
fn max_bins() -> usize {
    255
}

impl BoostParams {
    /// Defaults for a task.
    pub fn new(task: Task) -> Self {
        BoostParams {
            task,
            learning_rate: lr(),
            max_iter: hundred(),
            max_leaf_nodes: thirty_one(),
            max_depth: None,
            min_samples_leaf: twenty(),
            l2_regularization: 0.0,
            max_bins: max_bins(),
            seed: 0,
            early_stopping: EarlyStopping::Auto,
            validation_fraction: validation_fraction(),
            n_iter_no_change: ten(),
            tol: tol(),
            scoring: loss(),
        }
    }

    /// Check every parameter before any work; errors name the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidInput(m));
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return bad(format!("learning_rate {} must be > 0", self.learning_rate));
        }
        if self.max_iter == 0 || self.max_iter > super::MAX_ITERATIONS {
            return bad(format!("max_iter {} must be in 1..={}", self.max_iter, super::MAX_ITERATIONS));
        }
        if self.max_leaf_nodes < 2 {
            return bad(format!("max_leaf_nodes {} must be >= 2", self.max_leaf_nodes));
        }
        if self.max_depth == Some(0) {
            return bad("max_depth must be >= 1".into());
        }
        if self.min_samples_leaf == 0 {
            return bad("min_samples_leaf must be >= 1".into());
        }
        if !(self.l2_regularization >= 0.0 && self.l2_regularization.is_finite()) {
            return bad(format!("l2_regularization {} must be >= 0", self.l2_regularization));
        }
        if !(2..=255).contains(&self.max_bins) {
            return bad(format!("max_bins {} must be in 2..=255", self.max_bins));
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return bad(format!("validation_fraction {} must be in (0, 1)", self.validation_fraction));
        }
        if self.n_iter_no_change == 0 {
            return bad("n_iter_no_change must be >= 1".into());
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return bad(format!("tol {} must be >= 0", self.tol));
        }
        if self.scoring != "loss" {
            return bad(format!("scoring {:?}: only \"loss\" is implemented", self.scoring));
        }
        Ok(())
    }
}

/// A fitted gradient-boosting model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Boosting {
    /// Hyper-parameters it was fitted with.
    pub params: BoostParams,
    /// Number of features.
    pub p: usize,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    /// Raw outputs per row: 1 (regression, two classes) or `n_classes`.
    k: usize,
    /// Initial raw prediction per output.
    baseline: Vec<f64>,
    /// Trees, iteration-major: tree `it * k + c` adds to output `c`.
    trees: Vec<Tree>,
}

/// Bin edges of one feature (scikit-learn's `_find_binning_thresholds`): midpoints of the distinct
/// values when there are few enough, else the midpoint-method percentiles.
fn thresholds(mut v: Vec<f64>, max_bins: usize) -> Vec<f64> {
    v.sort_unstable_by(f64::total_cmp);
    let mut distinct = v.clone();
    distinct.dedup();
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| (w[0] + w[1]) * 0.5).collect();
    }
    let n = v.len();
    let mut e: Vec<f64> = (1..max_bins)
        .map(|i| {
            let q = i as f64 / max_bins as f64;
            let vi = q * (n - 1) as f64;
            let (lo, hi) = (vi.floor() as usize, vi.ceil() as usize);
            (v[lo] + v[hi.min(n - 1)]) * 0.5
        })
        .collect();
    e.dedup();
    e
}

/// Bin of `x`: the number of edges below it (`x <= edge[b]` lands in bin `b`).
fn bin_of(edges: &[f64], x: f64) -> u8 {
    edges.partition_point(|e| *e < x) as u8
}

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    g: f64,
    h: f64,
    n: u32,
}

/// A node being grown: its samples are `rows[start..end]`.
struct Node {
    start: usize,
    end: usize,
    depth: usize,
    g: f64,
    h: f64,
    hist: Vec<Cell>,
    /// Best split: (gain, feature, bin, left g, left h, left n).
    split: Option<(f64, usize, usize, f64, f64, usize)>,
    id: usize,
}

struct Grower<'a> {
    binned: &'a [Vec<u8>],
    edges: &'a [Vec<f64>],
    g: &'a [f64],
    h: &'a [f64],
    params: &'a BoostParams,
    /// Where each feature's bins start in a histogram (`p + 1` offsets): a feature with `e`
    /// edges has `e + 1` bins, so features with few distinct values take little room.
    offs: &'a [usize],
}

impl Grower<'_> {
    fn histogram(&self, rows: &[u32]) -> Vec<Cell> {
        let p = self.binned.len();
        let mut hist = vec![Cell::default(); self.offs[p]];
        let mut parts: Vec<(usize, &mut [Cell])> = Vec::with_capacity(p);
        let mut rest = &mut hist[..];
        for f in 0..p {
            let (a, b) = rest.split_at_mut(self.offs[f + 1] - self.offs[f]);
            parts.push((f, a));
            rest = b;
        }
        let fill = |(f, hs): (usize, &mut [Cell])| {
            let col = &self.binned[f];
            for &i in rows {
                let c = &mut hs[col[i as usize] as usize];
                c.g += self.g[i as usize];
                c.h += self.h[i as usize];
                c.n += 1;
            }
        };
        if rows.len() * p > 1 << 15 {
            parts.into_par_iter().for_each(fill);
        } else {
            parts.into_iter().for_each(fill);
        }
        hist
    }

    fn value(&self, g: f64, h: f64) -> f64 {
        -g / (h + self.params.l2_regularization)
    }

    fn find_split(&self, node: &mut Node) {
        let n = node.end - node.start;
        let msl = self.params.min_samples_leaf;
        let lam = self.params.l2_regularization;
        if n < 2 * msl || self.params.max_depth.is_some_and(|d| node.depth >= d) || node.h < 2e-3 {
            node.split = None;
            return;
        }
        let parent = node.g * node.g / (node.h + lam);
        let mut best: Option<(f64, usize, usize, f64, f64, usize)> = None;
        for (f, edges) in self.edges.iter().enumerate() {
            let hs = &node.hist[self.offs[f]..self.offs[f + 1]];
            let (mut gl, mut hl, mut nl) = (0.0, 0.0, 0usize);
            for (b, c) in hs.iter().enumerate().take(edges.len()) {
                gl += c.g;
                hl += c.h;
                nl += c.n as usize;
                let nr = n - nl;
                if nl < msl {
                    continue;
                }
                if nr < msl {
                    break;
                }
                let (gr, hr) = (node.g - gl, node.h - hl);
                if hl < 1e-3 || hr < 1e-3 {
                    continue;
                }
                let gain = gl * gl / (hl + lam) + gr * gr / (hr + lam) - parent;
                if gain > 0.0 && best.is_none_or(|b| gain > b.0) {
                    best = Some((gain, f, b, gl, hl, nl));
                }
            }
        }
        node.split = best;
    }

    /// Grow one tree on `rows` (reordered in place); returns it with the per-node values scaled
    /// by the learning rate.
    fn grow(&self, rows: &mut [u32]) -> Tree {
        let lr = self.params.learning_rate;
        let (g, h) = rows.iter().fold((0.0, 0.0), |a, &i| (a.0 + self.g[i as usize], a.1 + self.h[i as usize]));
        let mut split = vec![Split { t: 0.0, f: 0, l: 0 }];
        let mut value = vec![lr * self.value(g, h)];
        let mut root =
            Node { start: 0, end: rows.len(), depth: 0, g, h, hist: self.histogram(rows), split: None, id: 0 };
        self.find_split(&mut root);
        let mut open: Vec<Node> = vec![root];
        let mut leaves = 1;
        while leaves < self.params.max_leaf_nodes {
            // the open node with the largest gain (first on ties)
            let Some(k) = open
                .iter()
                .enumerate()
                .filter_map(|(k, nd)| nd.split.map(|s| (k, s.0)))
                .fold(
                    None,
                    |b: Option<(usize, f64)>, (k, gn)| if b.is_none_or(|b| gn > b.1) { Some((k, gn)) } else { b },
                )
                .map(|b| b.0)
            else {
                break;
            };
            let nd = open.swap_remove(k);
            let (_, f, b, gl, hl, nl) = nd.split.expect("chosen nodes have a split");
            // partition the node's rows: bin <= b to the left
            let col = &self.binned[f];
            let seg = &mut rows[nd.start..nd.end];
            let mut m = 0;
            for j in 0..seg.len() {
                if col[seg[j] as usize] as usize <= b {
                    seg.swap(m, j);
                    m += 1;
                }
            }
            debug_assert_eq!(m, nl);
            let li = split.len();
            split[nd.id] = Split { t: self.edges[f][b], f: f as u32, l: li as u32 };
            split.extend([Split { t: 0.0, f: 0, l: 0 }; 2]);
            let (gr, hr) = (nd.g - gl, nd.h - hl);
            value.extend([lr * self.value(gl, hl), lr * self.value(gr, hr)]);
            leaves += 1;
            let mut left = Node {
                start: nd.start,
                end: nd.start + nl,
                depth: nd.depth + 1,
                g: gl,
                h: hl,
                hist: Vec::new(),
                split: None,
                id: li,
            };
            let mut right = Node {
                start: nd.start + nl,
                end: nd.end,
                depth: nd.depth + 1,
                g: gr,
                h: hr,
                hist: Vec::new(),
                split: None,
                id: li + 1,
            };
            if leaves < self.params.max_leaf_nodes {
                // the smaller child's histogram is built, the larger one's is the difference
                let (small, large) =
                    if nl <= nd.end - nd.start - nl { (&mut left, &mut right) } else { (&mut right, &mut left) };
                small.hist = self.histogram(&rows[small.start..small.end]);
                let mut hist = nd.hist;
                for (a, s) in hist.iter_mut().zip(&small.hist) {
                    a.g -= s.g;
                    a.h -= s.h;
                    a.n -= s.n;
                }
                large.hist = hist;
                self.find_split(&mut left);
                self.find_split(&mut right);
                open.push(left);
                open.push(right);
            }
        }
        if split.len() == 1 {
            // a root that cannot be split (too few samples, or a hessian below the 1e-3 floor, as
            // for a class the model already separates) adds nothing, as in scikit-learn: a Newton
            // step -G/H over a vanishing H would throw every raw prediction off
            value[0] = 0.0;
        }
        Tree { split, value, w: 1 }
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Softmax of `raw` in place.
pub(super) fn softmax(raw: &mut [f64]) {
    let m = raw.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
    let mut s = 0.0;
    for v in raw.iter_mut() {
        *v = (*v - m).exp();
        s += *v;
    }
    raw.iter_mut().for_each(|v| *v /= s);
}

/// scikit-learn's `_should_stop`: no score of the last `n` iterations beats the one before them
/// by more than `tol`.
fn should_stop(scores: &[f64], n: usize, tol: f64) -> bool {
    if scores.len() <= n {
        return false;
    }
    let reference = scores[scores.len() - n - 1];
    !scores[scores.len() - n..].iter().any(|s| *s > reference + tol)
}

/// Mean loss of raw predictions (scikit-learn's: half squared error, binary log loss, or
/// multinomial log loss).
fn mean_loss(task: Task, k: usize, y: &[f64], raw: &[f64]) -> f64 {
    let n = y.len().max(1) as f64;
    let total: f64 = match (task, k) {
        (Task::Regression, _) => y.iter().zip(raw).map(|(y, r)| 0.5 * (y - r) * (y - r)).sum(),
        (_, 1) => y
            .iter()
            .zip(raw)
            // log(1 + e^r) - y r, computed without overflow
            .map(|(y, r)| r.max(0.0) + (-r.abs()).exp().ln_1p() - y * r)
            .sum(),
        _ => y
            .iter()
            .zip(raw.chunks(k))
            .map(|(y, r)| {
                let m = r.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
                m + r.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - r[*y as usize]
            })
            .sum(),
    };
    total / n
}

/// Training and held-out rows for early stopping: `validation_fraction` of the rows (of each
/// class, for classification: stratified like scikit-learn's split), chosen with `seed`.
fn split_validation(d: &Dataset, n_classes: usize, params: &BoostParams) -> (Dataset, Dataset) {
    let n = d.len();
    let mut rng = Rng(params.seed ^ 0x5EED_0FE5);
    let groups: Vec<Vec<usize>> = if params.task == Task::Classification {
        let mut g = vec![Vec::new(); n_classes.max(1)];
        (0..n).for_each(|i| g[d.y[i] as usize].push(i));
        g
    } else {
        vec![(0..n).collect()]
    };
    let mut held = vec![false; n];
    for mut g in groups {
        let m = g.len();
        let take = ((m as f64 * params.validation_fraction).round() as usize).min(m.saturating_sub(1));
        for i in 0..take {
            let j = i + rng.below(m - i);
            g.swap(i, j);
            held[g[i]] = true;
        }
    }
    let pick = |keep: bool| {
        let rows: Vec<usize> = (0..n).filter(|&i| held[i] == keep).collect();
        Dataset {
            x: rows.iter().flat_map(|&i| d.x[i * d.p..(i + 1) * d.p].iter().copied()).collect(),
            p: d.p,
            y: rows.iter().map(|&i| d.y[i]).collect(),
        }
    };
    (pick(false), pick(true))
}

impl Boosting {
    /// Fit on `d` (validated first).
    pub fn fit(d: &Dataset, params: &BoostParams) -> Result<Boosting> {
        params.validate()?;
        let n_classes = d.validate(params.task)?;
        if !params.early_stopping.enabled(d.len()) {
            return Self::fit_rows(d, None, n_classes, params);
        }
        // scikit-learn's early stopping: a (class-stratified) share of the rows is held out and
        // scored with the loss after every iteration
        let (train, held) = split_validation(d, n_classes, params);
        Self::fit_rows(&train, Some(&held), n_classes, params)
    }

    // Long by design: scikit-learn's HistGradientBoosting loop (gradients, tree growth, early
    // stopping) kept in its reference order so the two can be compared line by line.
    fn fit_rows(d: &Dataset, held: Option<&Dataset>, n_classes: usize, params: &BoostParams) -> Result<Boosting> {
        let (n, p) = (d.len(), d.p);
        if n > u32::MAX as usize {
            return Err(Error::InvalidInput(format!("{n} rows: at most {} can be fitted", u32::MAX)));
        }
        // bin edges from (a sub-sample of) the rows, then every value binned, column by column
        let sample: Option<Vec<usize>> = (n > 200_000).then(|| {
            let mut rng = Rng(params.seed);
            let mut idx: Vec<usize> = (0..n).collect();
            for i in 0..200_000 {
                let j = i + rng.below(n - i);
                idx.swap(i, j);
            }
            idx.truncate(200_000);
            idx
        });
        let edges: Vec<Vec<f64>> = (0..p)
            .into_par_iter()
            .map(|f| {
                let v = match &sample {
                    Some(s) => s.iter().map(|&i| d.x[i * p + f]).collect(),
                    None => (0..n).map(|i| d.x[i * p + f]).collect(),
                };
                thresholds(v, params.max_bins)
            })
            .collect();
        let binned: Vec<Vec<u8>> =
            (0..p).into_par_iter().map(|f| (0..n).map(|i| bin_of(&edges[f], d.x[i * p + f])).collect()).collect();
        let offs: Vec<usize> = std::iter::once(0)
            .chain(edges.iter().scan(0, |o, e| {
                *o += e.len() + 1;
                Some(*o)
            }))
            .collect();
        let k = if n_classes > 2 { n_classes } else { 1 };
        let baseline: Vec<f64> = match (params.task, n_classes) {
            (Task::Regression, _) => vec![d.y.iter().sum::<f64>() / n as f64],
            (_, 2) => {
                let m = (d.y.iter().sum::<f64>() / n as f64).clamp(1e-15, 1.0 - 1e-15);
                vec![(m / (1.0 - m)).ln()]
            }
            _ => {
                let mut c = vec![0.0; k];
                d.y.iter().for_each(|v| c[*v as usize] += 1.0);
                c.iter().map(|v| (v / n as f64).clamp(1e-15, 1.0).ln()).collect()
            }
        };
        let mut raw: Vec<f64> = (0..n).flat_map(|_| baseline.iter().copied()).collect();
        let mut held_raw: Vec<f64> =
            held.map_or(vec![], |h| (0..h.len()).flat_map(|_| baseline.iter().copied()).collect());
        let mut scores: Vec<f64> = held.map(|h| vec![-mean_loss(params.task, k, &h.y, &held_raw)]).unwrap_or_default();
        let mut trees = Vec::with_capacity(params.max_iter * k);
        let mut g = vec![vec![0.0; n]; k];
        let mut h = vec![vec![1.0; n]; k];
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let mut prob = vec![0.0; k];
        for _ in 0..params.max_iter {
            crate::interrupt::check("gradient boosting")?;
            // gradients and hessians of the loss at the current raw predictions
            for i in 0..n {
                let r = &raw[i * k..(i + 1) * k];
                match (params.task, k) {
                    (Task::Regression, _) => g[0][i] = r[0] - d.y[i],
                    (_, 1) => {
                        let s = sigmoid(r[0]);
                        g[0][i] = s - d.y[i];
                        h[0][i] = (s * (1.0 - s)).max(1e-16);
                    }
                    _ => {
                        prob.copy_from_slice(r);
                        softmax(&mut prob);
                        for c in 0..k {
                            let t = if d.y[i] as usize == c { 1.0 } else { 0.0 };
                            g[c][i] = prob[c] - t;
                            h[c][i] = (prob[c] * (1.0 - prob[c])).max(1e-16);
                        }
                    }
                }
            }
            for c in 0..k {
                let grower = Grower { binned: &binned, edges: &edges, g: &g[c], h: &h[c], params, offs: &offs };
                let tree = grower.grow(&mut rows);
                // raw predictions move by the new tree's leaf values
                for (i, r) in raw.chunks_mut(k).enumerate() {
                    r[c] += tree.value[tree.leaf(&d.x[i * p..(i + 1) * p])];
                }
                if !raw.iter().all(|v| v.is_finite()) {
                    // a huge learning rate or target: every later tree (and prediction) is NaN
                    return Err(Error::InvalidInput(format!(
                        "gradient boosting diverged at iteration {} (predictions beyond f64's range): \
                         lower learning_rate ({}) or rescale the target",
                        trees.len() / k + 1,
                        params.learning_rate
                    )));
                }
                if let Some(h) = held {
                    for (i, r) in held_raw.chunks_mut(k).enumerate() {
                        r[c] += tree.value[tree.leaf(&h.x[i * p..(i + 1) * p])];
                    }
                }
                trees.push(tree);
            }
            if let Some(h) = held {
                scores.push(-mean_loss(params.task, k, &h.y, &held_raw));
                if should_stop(&scores, params.n_iter_no_change, params.tol) {
                    break;
                }
            }
        }
        Ok(Boosting { params: params.clone(), p, n_classes, k, baseline, trees })
    }

    /// Boosting iterations the model holds (fewer than `max_iter` after early stopping).
    pub fn n_iter(&self) -> usize {
        self.trees.len() / self.k.max(1)
    }

    pub(super) fn set_n_classes(&mut self, n_classes: usize) {
        // a fold lacking the top classes: they get no trees and a baseline of log(0) → p = 0
        if self.n_classes > 2 && n_classes > self.n_classes {
            let old = self.k;
            let mut trees = Vec::with_capacity(self.trees.len() / old * n_classes);
            for it in self.trees.chunks(old) {
                trees.extend(it.iter().cloned());
                trees.extend((old..n_classes).map(|_| Tree {
                    split: vec![Split { t: 0.0, f: 0, l: 0 }],
                    value: vec![0.0],
                    w: 1,
                }));
            }
            self.trees = trees;
            self.baseline.extend((old..n_classes).map(|_| (1e-15f64).ln()));
            self.k = n_classes;
        }
        self.n_classes = self.n_classes.max(n_classes);
    }

    /// Check the sizes a model file could get wrong (the trees through `tree`).
    pub(super) fn validate_structure(
        &self,
        tree: impl Fn(&Tree) -> std::result::Result<(), String>,
    ) -> std::result::Result<(), String> {
        let k_ok = self.k == 1 || self.k == self.n_classes;
        if !k_ok || self.baseline.len() != self.k || !self.trees.len().is_multiple_of(self.k) {
            return Err(format!(
                "boosting with {} outputs for {} classes, {} baselines and {} trees",
                self.k,
                self.n_classes,
                self.baseline.len(),
                self.trees.len()
            ));
        }
        self.trees.iter().try_for_each(tree)
    }

    /// Raw outputs (`n × k`) of rows of `x`.
    fn raw(&self, x: &[f64], n: usize) -> Vec<f64> {
        let k = self.k;
        let mut out = vec![0.0; n * k];
        const BLOCK: usize = 1024;
        out.par_chunks_mut(BLOCK * k).enumerate().for_each(|(b, o)| {
            let start = b * BLOCK;
            let rows = o.len() / k;
            for r in 0..rows {
                o[r * k..(r + 1) * k].copy_from_slice(&self.baseline);
            }
            if k == 1 {
                for tree in &self.trees {
                    tree.accumulate(x, self.p, start, o);
                }
            } else {
                let mut col = vec![0.0; rows];
                for c in 0..k {
                    col.fill(0.0);
                    for tree in self.trees.iter().skip(c).step_by(k) {
                        tree.accumulate(x, self.p, start, &mut col);
                    }
                    for (r, v) in col.iter().enumerate() {
                        o[r * k + c] += v;
                    }
                }
            }
        });
        out
    }

    /// Predictions for rows of `x`: the value (regression) or the probability of each class
    /// (`n × n_classes`).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        let n = super::check_rows(x, self.p)?;
        let raw = self.raw(x, n);
        Ok(match (self.params.task, self.k) {
            (Task::Regression, _) => raw,
            (_, 1) => raw.iter().flat_map(|r| [1.0 - sigmoid(*r), sigmoid(*r)]).collect(),
            _ => {
                let mut raw = raw;
                raw.chunks_mut(self.k).for_each(softmax);
                raw
            }
        })
    }

    /// One row's raw prediction (value, or log-odds of class 1 for two classes, or per-class
    /// log-odds) with exact path contributions that sum to it.
    pub fn explain(&self, row: &[f64]) -> Result<Explained> {
        super::check_rows(row, self.p)?;
        let k = self.k;
        let mut bias = self.baseline.clone();
        let mut contrib = vec![vec![0.0; k]; self.p];
        for (t, tree) in self.trees.iter().enumerate() {
            let c = t % k;
            bias[c] += tree.value[0];
            let path = tree.path(row);
            for pair in path.windows(2) {
                contrib[tree.split[pair[0]].f as usize][c] += tree.value[pair[1]] - tree.value[pair[0]];
            }
        }
        let value = (0..k).map(|c| bias[c] + contrib.iter().map(|f| f[c]).sum::<f64>()).collect();
        let scale = if self.params.task == Task::Regression { "value" } else { "log_odds" };
        Ok(Explained { value, bias, contributions: contrib, scale: scale.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_follow_scikit_learn() {
        assert_eq!(thresholds(vec![3.0, 1.0, 2.0, 2.0], 255), vec![1.5, 2.5]);
        // more distinct values than bins: midpoint percentiles
        let e = thresholds((0..10).map(f64::from).collect(), 4);
        assert_eq!(e, vec![2.5, 4.5, 6.5]);
        assert_eq!(bin_of(&[1.5, 2.5], 1.5), 0);
        assert_eq!(bin_of(&[1.5, 2.5], 2.0), 1);
        assert_eq!(bin_of(&[1.5, 2.5], 9.0), 2);
    }

    #[test]
    fn learns_and_explains() {
        // y = 3·[x0 > 5] + x1/10, noise-free
        let n = 400;
        let x: Vec<f64> = (0..n).flat_map(|i| [(i % 10) as f64, ((i * 7) % 13) as f64]).collect();
        let y: Vec<f64> = (0..n).map(|i| if i % 10 > 5 { 3.0 } else { 0.0 } + ((i * 7) % 13) as f64 / 10.0).collect();
        let d = Dataset { x: x.clone(), p: 2, y: y.clone() };
        let m = Boosting::fit(&d, &BoostParams { min_samples_leaf: 5, ..BoostParams::new(Task::Regression) }).unwrap();
        let pred = m.predict(&x).unwrap();
        assert!(super::super::metrics::r2(&y, &pred) > 0.99);
        let e = m.explain(&x[0..2]).unwrap();
        assert!((e.value[0] - pred[0]).abs() < 1e-9);
        let s: f64 = e.bias[0] + e.contributions.iter().map(|c| c[0]).sum::<f64>();
        assert!((s - pred[0]).abs() < 1e-9);
        // classification, three classes
        let yc: Vec<f64> = (0..n).map(|i| ((i % 10) / 4) as f64).collect();
        let dc = Dataset { x: x.clone(), p: 2, y: yc.clone() };
        let mc =
            Boosting::fit(&dc, &BoostParams { min_samples_leaf: 5, ..BoostParams::new(Task::Classification) }).unwrap();
        let pc = mc.predict(&x).unwrap();
        let acc = pc
            .chunks(3)
            .zip(&yc)
            .filter(|(p, y)| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 == **y as usize)
            .count();
        assert_eq!(acc, n);
        assert!(pc.chunks(3).all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-9));
        let bad = BoostParams { learning_rate: 0.0, ..BoostParams::new(Task::Regression) };
        assert_eq!(Boosting::fit(&d, &bad).unwrap_err().code(), "INVALID_INPUT");
        // a learning rate that drives predictions past f64's range: an error, not a NaN model
        let huge = BoostParams { learning_rate: 1e308, ..BoostParams::new(Task::Regression) };
        let e = Boosting::fit(&d, &huge).unwrap_err();
        assert!(e.code() == "INVALID_INPUT" && e.to_string().contains("diverged"), "{e}");
    }

    /// scikit-learn's early stopping: on by default above 10,000 rows, it stops once the held-out
    /// loss has not improved by `tol` for `n_iter_no_change` iterations; off, every iteration runs.
    #[test]
    fn early_stopping_like_hist_gradient_boosting() {
        // a signal the first trees learn, then noise the rest can only overfit
        let n = 12_000;
        let mut rng = Rng(7);
        let x: Vec<f64> = (0..n).flat_map(|_| [rng.below(1000) as f64 / 100.0, rng.below(1000) as f64]).collect();
        let y: Vec<f64> =
            (0..n).map(|i| if x[2 * i] > 5.0 { 1.0 } else { 0.0 } + rng.below(1000) as f64 / 100.0).collect();
        let d = Dataset { x, p: 2, y };
        let auto = Boosting::fit(&d, &BoostParams::new(Task::Regression)).unwrap();
        assert!(auto.n_iter() < 100, "auto above 10,000 rows stops early: {} iterations", auto.n_iter());
        let off = BoostParams { early_stopping: EarlyStopping::Off, ..BoostParams::new(Task::Regression) };
        assert_eq!(Boosting::fit(&d, &off).unwrap().n_iter(), 100);
        // below 10,000 rows "auto" is off; true turns it on
        let small = Dataset { x: d.x[..2 * 5000].to_vec(), p: 2, y: d.y[..5000].to_vec() };
        assert_eq!(Boosting::fit(&small, &BoostParams::new(Task::Regression)).unwrap().n_iter(), 100);
        let on = BoostParams { early_stopping: EarlyStopping::On, ..BoostParams::new(Task::Regression) };
        assert!(Boosting::fit(&small, &on).unwrap().n_iter() < 100);
        // the rule itself: scikit-learn's _should_stop
        assert!(!should_stop(&[1.0, 2.0, 3.0], 2, 0.0));
        assert!(should_stop(&[1.0, 3.0, 3.0, 2.9], 2, 0.0));
        assert!(!should_stop(&[1.0, 3.0, 3.0, 3.1], 2, 0.0));
        // parameters parse like scikit-learn's
        let p: BoostParams =
            serde_json::from_str(r#"{"task": "classification", "early_stopping": false, "n_iter_no_change": 5}"#)
                .unwrap();
        assert_eq!((p.early_stopping, p.n_iter_no_change, p.tol), (EarlyStopping::Off, 5, 1e-7));
        assert!(serde_json::from_str::<BoostParams>(r#"{"task": "regression", "early_stopping": "yes"}"#).is_err());
    }

    #[test]
    fn an_unsplittable_root_adds_nothing() {
        // a class the model already separates: one badly predicted member (g = -1) and hessians
        // that sum below the 1e-3 split floor; a Newton step -G/H would be ~1e5 for every row
        let n = 100;
        let binned = vec![(0..n).map(|i| (i % 7) as u8).collect::<Vec<u8>>()];
        let edges = vec![(0..6).map(|b| b as f64 + 0.5).collect::<Vec<f64>>()];
        let mut g = vec![1e-7; n];
        g[3] = -1.0;
        let h = vec![1e-7; n];
        let params = BoostParams { min_samples_leaf: 5, ..BoostParams::new(Task::Classification) };
        let offs: Vec<usize> = (0..=edges[0].len() + 1).step_by(edges[0].len() + 1).collect();
        let grower = Grower { binned: &binned, edges: &edges, g: &g, h: &h, params: &params, offs: &offs };
        let mut rows: Vec<u32> = (0..n as u32).collect();
        let tree = grower.grow(&mut rows);
        assert_eq!(tree.value, vec![0.0]);
    }
}
