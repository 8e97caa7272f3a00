//! Cross-validation: k-fold, spatial blocks (k-means on coordinates), hold-out splits and out-of-fold predictions.

use super::*;

/// The defaults of the fold and hold-out helpers ([`kfold`], [`spatial_blocks`], [`holdout`]),
/// the same in every language: 5 folds, 25 k-means blocks, 20 % held out, seed 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FoldDefaults {
    /// Folds.
    pub k: usize,
    /// k-means blocks of a spatial split.
    pub blocks: usize,
    /// Share of rows held out.
    pub test_fraction: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for FoldDefaults {
    fn default() -> Self {
        FoldDefaults { k: 5, blocks: 25, test_fraction: 0.2, seed: 0 }
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
pub(super) fn kmeans_blocks(xy: &[[f64; 2]], blocks: usize, rng: &mut Rng) -> Result<Vec<usize>> {
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
