//! Random forests (scikit-learn's definitions): CART trees on bootstrap samples, fitted in parallel, with exact per-prediction path contributions.

use super::*;

/// Hyper-parameters (scikit-learn's names and defaults where they exist).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

pub(super) fn hundred() -> usize {
    100
}
pub(super) fn one() -> usize {
    1
}
pub(super) fn yes() -> bool {
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

/// SplitMix64.
#[derive(Debug, Clone)]
pub(super) struct Rng(pub(super) u64);
impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One node's split: go left when `x[f] <= t`; children are `l` and `l + 1`; `l == 0` marks a
/// leaf (the root is never a child). 16 bytes, so a tree walk stays in cache.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(super) struct Split {
    pub(super) t: f64,
    pub(super) f: u32,
    pub(super) l: u32,
}

/// A fitted tree: splits plus every node's value (mean, or class shares; `w` per node), kept on
/// internal nodes too for path contributions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    pub(super) split: Vec<Split>,
    pub(super) value: Vec<f64>,
    pub(super) w: usize,
}

impl Tree {
    /// Check a tree read from a file before any walk: `w` values per node, every split on one of
    /// `p` features, and every child after its parent (so a walk always ends at a leaf).
    pub(super) fn validate(&self, p: usize, w: usize) -> std::result::Result<(), String> {
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

    pub(super) fn leaf(&self, x: &[f64]) -> usize {
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
    pub(super) fn accumulate(&self, x: &[f64], p: usize, start: usize, out: &mut [f64]) {
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

    pub(super) fn path(&self, x: &[f64]) -> Vec<usize> {
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

/// The threshold between two adjacent distinct sorted values `a < b`, as scikit-learn takes it:
/// their midpoint, or `a` when the midpoint rounds up to `b` (adjacent floats) or overflows — so
/// `x <= t` always puts `a` left and `b` right, and no child is ever empty.
fn midpoint(a: f64, b: f64) -> f64 {
    let t = a / 2.0 + b / 2.0;
    if t >= b || !t.is_finite() {
        a
    } else {
        t
    }
}

pub(super) struct Fit<'a> {
    pub(super) d: &'a Dataset,
    pub(super) params: &'a ForestParams,
    pub(super) n_classes: usize,
    pub(super) mtry: usize,
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
                        best = Some((f, midpoint(order[s].0, order[s + 1].0), score));
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
                        best = Some((f, midpoint(order[s].0, order[s + 1].0), score));
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
    pub(super) trees: Vec<Tree>,
}

/// A prediction explained: `bias + Σ contributions = value` (per class for classification).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_between_adjacent_floats_split_them() {
        let a = 678.0f64;
        let below = f64::from_bits(a.to_bits() - 1);
        // the plain midpoint rounds up to `a`: `x <= t` would send both values left
        assert_eq!((below + a) / 2.0, a);
        let t = midpoint(below, a);
        assert!(below <= t && a > t);
        assert_eq!(midpoint(1.0, 3.0), 2.0);
        let big = midpoint(f64::MAX / 1.5, f64::MAX);
        assert!(big.is_finite() && big < f64::MAX);
    }

    #[test]
    fn a_split_between_adjacent_floats_leaves_no_empty_leaf() {
        // two classes told apart only by one ulp of a feature: every node value is a real
        // distribution (an empty child gave NaN leaves, and a saved model then failed to load)
        let below = f64::from_bits(678.0f64.to_bits() - 1);
        let x: Vec<f64> = (0..40).map(|i| if i % 2 == 0 { below } else { 678.0 }).collect();
        let y: Vec<f64> = (0..40).map(|i| (i % 2) as f64).collect();
        let d = Dataset::from_arrays(
            ndarray::ArrayView2::from_shape((40, 1), &x).expect("shape"),
            ndarray::ArrayView1::from(&y),
        )
        .expect("dataset");
        let params: ForestParams =
            serde_json::from_str(r#"{"task": "classification", "n_estimators": 5, "seed": 1}"#).expect("params");
        let f = Forest::fit(&d, &params).expect("fit");
        for t in &f.trees {
            assert!(t.value.iter().all(|v| v.is_finite()), "{:?}", t.value);
        }
        assert_eq!(f.predict(&[678.0]).expect("predict")[1], 1.0);
        assert_eq!(f.predict(&[below]).expect("predict")[0], 1.0);
    }
}
