//! Linear models on standardised features: ridge regression and L2-regularised logistic regression
//! (two classes, or multinomial for more), the same objectives as scikit-learn's
//! `make_pipeline(StandardScaler(), Ridge(alpha))` and
//! `make_pipeline(StandardScaler(), LogisticRegression(C))`.
//!
//! Ridge is solved exactly (normal equations, Cholesky); logistic regression by Newton's method
//! with a backtracking line search on the penalised log loss (`C·Σ loss + ½‖w‖²`, intercepts not
//! penalised). Explanations are coefficient × standardised value: `bias (intercept) + Σ
//! contributions = raw prediction` (the value, or log-odds per class).

use super::boost::softmax;
use super::{check_rows, Dataset, Explained, Task};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Hyper-parameters.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearParams {
    /// Regression (ridge) or classification (logistic).
    pub task: Task,
    /// Ridge penalty (regression).
    #[serde(default = "one")]
    pub alpha: f64,
    /// Inverse penalty (classification), scikit-learn's `C`.
    #[serde(default = "one", rename = "C")]
    pub c: f64,
    /// Newton iterations at most (classification).
    #[serde(default = "hundred")]
    pub max_iter: usize,
}

fn one() -> f64 {
    1.0
}
fn hundred() -> usize {
    100
}

impl LinearParams {
    /// Defaults for a task.
    pub fn new(task: Task) -> Self {
        LinearParams { task, alpha: 1.0, c: 1.0, max_iter: 100 }
    }

    /// Check every parameter before any work.
    pub fn validate(&self) -> Result<()> {
        if !(self.alpha >= 0.0 && self.alpha.is_finite()) {
            return Err(Error::InvalidInput(format!("alpha {} must be >= 0", self.alpha)));
        }
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(Error::InvalidInput(format!("C {} must be > 0", self.c)));
        }
        if self.max_iter == 0 {
            return Err(Error::InvalidInput("max_iter must be > 0".into()));
        }
        Ok(())
    }
}

/// A fitted linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Hyper-parameters.
    pub params: LinearParams,
    /// Number of features.
    pub p: usize,
    /// Number of classes (0 for regression).
    pub n_classes: usize,
    /// Feature means and standard deviations (1 for constant features).
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// Per output (1, or one per class for more than two): intercept then `p` coefficients on the
    /// standardised features.
    coef: Vec<Vec<f64>>,
}

/// Solve `a x = b` for a symmetric positive definite `a` (`m × m`, row-major) by Cholesky.
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, m: usize) -> Result<Vec<f64>> {
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return Err(Error::InvalidInput(
                "the linear system is singular (collinear or constant features with alpha = 0)".into(),
            ));
        }
        let d = d.sqrt();
        a[j * m + j] = d;
        for i in j + 1..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / d;
        }
    }
    for i in 0..m {
        let mut s = b[i];
        for k in 0..i {
            s -= a[i * m + k] * b[k];
        }
        b[i] = s / a[i * m + i];
    }
    for i in (0..m).rev() {
        let mut s = b[i];
        for k in i + 1..m {
            s -= a[k * m + i] * b[k];
        }
        b[i] = s / a[i * m + i];
    }
    Ok(b)
}

impl Linear {
    /// Fit on `d` (validated first).
    pub fn fit(d: &Dataset, params: &LinearParams) -> Result<Linear> {
        params.validate()?;
        let n_classes = d.validate(params.task)?;
        let (n, p) = (d.len(), d.p);
        let mut mean = vec![0.0; p];
        let mut scale = vec![0.0; p];
        for row in d.x.chunks(p) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        for row in d.x.chunks(p) {
            scale.iter_mut().zip(row).zip(&mean).for_each(|((s, v), m)| *s += (v - m).powi(2));
        }
        scale.iter_mut().for_each(|s| *s = if *s > 0.0 { (*s / n as f64).sqrt() } else { 1.0 });
        // standardised design with a leading 1 (intercept)
        let m = p + 1;
        let z: Vec<f64> = (0..n)
            .flat_map(|i| {
                std::iter::once(1.0).chain((0..p).map(|f| (d.x[i * p + f] - mean[f]) / scale[f])).collect::<Vec<_>>()
            })
            .collect();
        let coef = match params.task {
            Task::Regression => {
                // centred: the intercept is the mean, coefficients from (ZᵀZ + αI) w = Zᵀ(y − ȳ)
                let ybar = d.y.iter().sum::<f64>() / n as f64;
                let mut a = vec![0.0; p * p];
                let mut b = vec![0.0; p];
                for i in 0..n {
                    let r = &z[i * m + 1..(i + 1) * m];
                    let yc = d.y[i] - ybar;
                    for u in 0..p {
                        b[u] += r[u] * yc;
                        for v in 0..=u {
                            a[u * p + v] += r[u] * r[v];
                        }
                    }
                }
                for u in 0..p {
                    for v in 0..u {
                        a[v * p + u] = a[u * p + v];
                    }
                    a[u * p + u] += params.alpha;
                }
                let w = cholesky_solve(a, b, p)?;
                vec![std::iter::once(ybar).chain(w).collect()]
            }
            Task::Classification => {
                let k = if n_classes > 2 { n_classes } else { 1 };
                logistic(&z, &d.y, n, m, k, params)?
            }
        };
        if !mean.iter().chain(&scale).chain(coef.iter().flatten()).all(|v| v.is_finite()) {
            // sums of squares of values near f64's limit (±1e308 targets or features) overflow
            return Err(Error::InvalidInput(
                "the linear fit overflowed f64 (features or target near its limit): rescale them".into(),
            ));
        }
        Ok(Linear { params: params.clone(), p, n_classes, mean, scale, coef })
    }

    pub(super) fn set_n_classes(&mut self, n_classes: usize) {
        if matches!(self.params.task, Task::Classification) && n_classes > self.n_classes.max(2) {
            let m = self.p + 1;
            if self.coef.len() == 1 {
                // a binary model (sigmoid(z) = softmax([0, z])[1]) becomes a multinomial one
                self.coef.insert(0, vec![0.0; m]);
            }
            // classes absent from the training fold: a very low intercept, no slope
            let have = self.coef.len();
            self.coef.extend((have..n_classes).map(|_| {
                let mut c = vec![0.0; m];
                c[0] = -1e3;
                c
            }));
        }
        self.n_classes = self.n_classes.max(n_classes);
    }

    /// Check the sizes a model file could get wrong.
    pub(super) fn validate_structure(&self) -> std::result::Result<(), String> {
        let ok = self.mean.len() == self.p
            && self.scale.len() == self.p
            && match self.params.task {
                Task::Regression => self.coef.len() == 1 && self.n_classes == 0,
                Task::Classification => {
                    self.n_classes >= 2 && self.coef.len() == if self.n_classes > 2 { self.n_classes } else { 1 }
                }
            }
            && self.coef.iter().all(|c| c.len() == self.p + 1);
        if ok {
            // standardisation divides by the scale: zero, negative or non-finite is a corrupt file
            if !self.scale.iter().all(|s| s.is_finite() && *s > 0.0)
                || !self.mean.iter().chain(self.coef.iter().flatten()).all(|v| v.is_finite())
            {
                return Err("linear model with a non-positive or non-finite scale, or a non-finite mean or \
                            coefficient"
                    .into());
            }
            return Ok(());
        }
        Err(format!(
            "linear model of {} features with {} means, {} scales and {} coefficient rows for {} classes",
            self.p,
            self.mean.len(),
            self.scale.len(),
            self.coef.len(),
            self.n_classes
        ))
    }

    fn raw_row(&self, x: &[f64], out: &mut [f64]) {
        for (o, c) in out.iter_mut().zip(&self.coef) {
            *o = c[0] + (0..self.p).map(|f| c[f + 1] * (x[f] - self.mean[f]) / self.scale[f]).sum::<f64>();
        }
    }

    /// Predictions: the value (regression) or the probability of each class (`n × n_classes`).
    pub fn predict(&self, x: &[f64]) -> Result<Vec<f64>> {
        let n = check_rows(x, self.p)?;
        let k = self.coef.len();
        let mut raw = vec![0.0; k];
        let mut out = Vec::with_capacity(n * self.n_classes.max(1));
        for i in 0..n {
            self.raw_row(&x[i * self.p..(i + 1) * self.p], &mut raw);
            match (self.params.task, k) {
                (Task::Regression, _) => out.push(raw[0]),
                (_, 1) => {
                    let s = 1.0 / (1.0 + (-raw[0]).exp());
                    out.extend([1.0 - s, s]);
                }
                _ => {
                    softmax(&mut raw);
                    out.extend_from_slice(&raw);
                }
            }
        }
        Ok(out)
    }

    /// One row's raw prediction with contributions coefficient × standardised value.
    pub fn explain(&self, row: &[f64]) -> Result<Explained> {
        check_rows(row, self.p)?;
        let k = self.coef.len();
        let bias: Vec<f64> = self.coef.iter().map(|c| c[0]).collect();
        let contributions: Vec<Vec<f64>> = (0..self.p)
            .map(|f| self.coef.iter().map(|c| c[f + 1] * (row[f] - self.mean[f]) / self.scale[f]).collect())
            .collect();
        let value = (0..k).map(|c| bias[c] + contributions.iter().map(|f| f[c]).sum::<f64>()).collect();
        let scale = if self.params.task == Task::Regression { "value" } else { "log_odds" };
        Ok(Explained { value, bias, contributions, scale: scale.into() })
    }

    /// Coefficients on the original feature scale: per output, intercept then one per feature.
    pub fn coefficients(&self) -> Vec<Vec<f64>> {
        self.coef
            .iter()
            .map(|c| {
                let slopes: Vec<f64> = (0..self.p).map(|f| c[f + 1] / self.scale[f]).collect();
                let icpt = c[0] - (0..self.p).map(|f| slopes[f] * self.mean[f]).sum::<f64>();
                std::iter::once(icpt).chain(slopes).collect()
            })
            .collect()
    }
}

/// Penalised log loss `C·Σ loss + ½‖w‖²` (no penalty on intercepts) of coefficients `w` (`k × m`).
fn objective(z: &[f64], y: &[f64], n: usize, m: usize, k: usize, c: f64, w: &[f64]) -> f64 {
    let mut loss = 0.0;
    let mut raw = vec![0.0; k];
    for i in 0..n {
        let r = &z[i * m..(i + 1) * m];
        for (o, row) in raw.iter_mut().zip(w.chunks(m)) {
            *o = row.iter().zip(r).map(|(a, b)| a * b).sum();
        }
        loss += if k == 1 {
            // log(1 + e^t) − y t, stably
            let t = raw[0];
            t.max(0.0) + (-t.abs()).exp().ln_1p() - y[i] * t
        } else {
            let mx = raw.iter().fold(f64::NEG_INFINITY, |a, b| a.max(*b));
            let lse = mx + raw.iter().map(|v| (v - mx).exp()).sum::<f64>().ln();
            lse - raw[y[i] as usize]
        };
    }
    let pen: f64 = w.chunks(m).flat_map(|row| row[1..].iter().map(|v| v * v)).sum();
    c * loss + 0.5 * pen
}

/// Newton's method with backtracking for (multinomial) logistic regression.
fn logistic(z: &[f64], y: &[f64], n: usize, m: usize, k: usize, params: &LinearParams) -> Result<Vec<Vec<f64>>> {
    let c = params.c;
    let dim = k * m;
    let mut w = vec![0.0; dim];
    let mut f = objective(z, y, n, m, k, c, &w);
    let mut prob = vec![0.0; k];
    for _ in 0..params.max_iter {
        crate::interrupt::check("logistic regression")?;
        let mut g = vec![0.0; dim];
        let mut h = vec![0.0; dim * dim];
        for i in 0..n {
            let r = &z[i * m..(i + 1) * m];
            for (o, row) in prob.iter_mut().zip(w.chunks(m)) {
                *o = row.iter().zip(r).map(|(a, b)| a * b).sum();
            }
            if k == 1 {
                prob[0] = 1.0 / (1.0 + (-prob[0]).exp());
            } else {
                softmax(&mut prob);
            }
            for a in 0..k {
                let t = if k == 1 {
                    y[i]
                } else if y[i] as usize == a {
                    1.0
                } else {
                    0.0
                };
                let ga = c * (prob[a] - t);
                for u in 0..m {
                    g[a * m + u] += ga * r[u];
                }
                for b in 0..=a {
                    let hab = c * if a == b { prob[a] * (1.0 - prob[a]) } else { -prob[a] * prob[b] };
                    if hab == 0.0 {
                        continue;
                    }
                    for u in 0..m {
                        let hu = hab * r[u];
                        let row = (a * m + u) * dim + b * m;
                        for v in 0..m {
                            h[row + v] += hu * r[v];
                        }
                    }
                }
            }
        }
        // penalty (intercepts: a tiny ridge keeps the softmax's free direction from being singular)
        for a in 0..k {
            for u in 0..m {
                let i = a * m + u;
                let lam = if u == 0 { 1e-10 } else { 1.0 };
                g[i] += lam * w[i] * if u == 0 { 0.0 } else { 1.0 };
                h[i * dim + i] += lam;
            }
        }
        for a in 0..dim {
            for b in 0..a {
                h[b * dim + a] = h[a * dim + b];
            }
        }
        let step = cholesky_solve(h, g.clone(), dim)?;
        let slope: f64 = step.iter().zip(&g).map(|(a, b)| a * b).sum();
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..30 {
            let cand: Vec<f64> = w.iter().zip(&step).map(|(a, b)| a - t * b).collect();
            let fc = objective(z, y, n, m, k, c, &cand);
            if fc <= f - 1e-4 * t * slope {
                w = cand;
                moved = (f - fc).abs() > 1e-12 * f.abs().max(1.0);
                f = fc;
                break;
            }
            t *= 0.5;
        }
        if !moved || slope.abs() < 1e-14 {
            break;
        }
    }
    Ok(w.chunks(m).map(<[f64]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_fold_of_a_three_class_target_predicts_three_probabilities() {
        // cross-validation fits a fold that holds classes 0 and 1 of a 3-class target
        let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let y: Vec<f64> = (0..40).map(|i| if i < 20 { 0.0 } else { 1.0 }).collect();
        let d = Dataset { x: x.clone(), p: 1, y };
        let mut m = Linear::fit(&d, &LinearParams::new(Task::Classification)).unwrap();
        let binary = m.predict(&x).unwrap();
        m.set_n_classes(3);
        m.validate_structure().unwrap();
        let three = m.predict(&x).unwrap();
        assert_eq!(three.len(), 3 * x.len());
        for (b, t) in binary.chunks(2).zip(three.chunks(3)) {
            assert!((b[0] - t[0]).abs() < 1e-9 && (b[1] - t[1]).abs() < 1e-9 && t[2] < 1e-300, "{b:?} {t:?}");
        }
    }

    #[test]
    fn coefficient_rows_must_match_the_task() {
        let x: Vec<f64> = (0..40).map(|i| i as f64).collect();
        let d = Dataset { x, p: 1, y: (0..40).map(|i| (i % 3) as f64).collect() };
        let m = Linear::fit(&d, &LinearParams::new(Task::Classification)).unwrap();
        m.validate_structure().unwrap();
        let mut empty = m.clone();
        empty.coef.clear();
        empty.n_classes = 0;
        assert!(empty.validate_structure().is_err());
        let mut short = m.clone();
        short.coef.truncate(2);
        assert!(short.validate_structure().is_err());
        // a zero or NaN scale (hand-edited file) would divide by zero in every prediction
        for bad in [0.0, -1.0, f64::NAN] {
            let mut z = m.clone();
            z.scale[0] = bad;
            assert!(z.validate_structure().is_err(), "{bad}");
        }
        let mut c = m.clone();
        c.coef[0][1] = f64::INFINITY;
        assert!(c.validate_structure().is_err());
        // targets near f64's limit overflow the sums of squares: an error, not NaN coefficients
        let huge = Dataset { x: (0..40).map(|i| i as f64).collect(), p: 1, y: vec![1e308; 40] };
        assert_eq!(Linear::fit(&huge, &LinearParams::new(Task::Regression)).unwrap_err().code(), "INVALID_INPUT");
    }

    #[test]
    fn ridge_and_logistic() {
        // y = 2 x0 − x1 + 5 exactly; alpha → 0 recovers it
        let x: Vec<f64> = (0..50).flat_map(|i| [i as f64, ((i * 7) % 11) as f64]).collect();
        let y: Vec<f64> = x.chunks(2).map(|r| 2.0 * r[0] - r[1] + 5.0).collect();
        let d = Dataset { x: x.clone(), p: 2, y: y.clone() };
        let m = Linear::fit(&d, &LinearParams { alpha: 0.0, ..LinearParams::new(Task::Regression) }).unwrap();
        let c = &m.coefficients()[0];
        assert!((c[0] - 5.0).abs() < 1e-9 && (c[1] - 2.0).abs() < 1e-9 && (c[2] + 1.0).abs() < 1e-9, "{c:?}");
        let e = m.explain(&x[6..8]).unwrap();
        assert!((e.value[0] - y[3]).abs() < 1e-9);
        // separable-ish classes: logistic fits and probabilities sum to one
        let yc: Vec<f64> = x.chunks(2).map(|r| if r[0] > 25.0 { 1.0 } else { 0.0 }).collect();
        let dc = Dataset { x: x.clone(), p: 2, y: yc };
        let l = Linear::fit(&dc, &LinearParams::new(Task::Classification)).unwrap();
        let p = l.predict(&x).unwrap();
        assert!(p[1] < 0.2 && p[99] > 0.8);
        let y3: Vec<f64> = x.chunks(2).map(|r| (r[0] / 17.0).floor()).collect();
        let l3 = Linear::fit(&Dataset { x: x.clone(), p: 2, y: y3 }, &LinearParams::new(Task::Classification)).unwrap();
        assert!(l3.predict(&x).unwrap().chunks(3).all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-9));
        let bad = LinearParams { c: 0.0, ..LinearParams::new(Task::Classification) };
        assert_eq!(Linear::fit(&dc, &bad).unwrap_err().code(), "INVALID_INPUT");
    }
}
