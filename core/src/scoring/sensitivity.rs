//! Rank stability under weight perturbation (one-at-a-time and Monte Carlo).

use super::*;

/// Rank stability of one parcel under weight perturbation.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stability {
    /// Parcel id.
    pub id: String,
    /// Rank with the profile's weights.
    pub rank: f64,
    /// Best (lowest) rank seen.
    pub best_rank: f64,
    /// Worst rank seen.
    pub worst_rank: f64,
    /// Share of runs in which the parcel stayed in the top k.
    pub p_top_k: f64,
}

/// Sensitivity of the ranking to the weights.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sensitivity {
    /// `top_k` used.
    pub top_k: usize,
    /// Number of weight sets evaluated.
    pub runs: usize,
    /// One entry per parcel.
    pub parcels: Vec<Stability>,
}

/// How weights are perturbed.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Perturbation {
    /// One weight at a time multiplied by (1 ± `delta`), others renormalised.
    OneAtATime {
        /// Relative change, e.g. 0.2.
        delta: f64,
    },
    /// `runs` weight sets: each weight multiplied by a uniform factor in [1 − spread, 1 + spread]
    /// (deterministic with `seed`), then renormalised.
    MonteCarlo {
        /// Number of runs.
        runs: usize,
        /// Relative spread.
        spread: f64,
        /// Seed.
        seed: u64,
    },
}

/// Most Monte Carlo runs of [`sensitivity`] (each rescores every parcel).
pub const MAX_SENSITIVITY_RUNS: usize = 10_000;

/// Rank stability under weight perturbation, reusing the bound feature columns (features are not
/// recomputed). Excluded parcels keep their exclusion.
pub fn sensitivity(result: &ScoreResult, profile: &Profile, how: Perturbation, top_k: usize) -> Result<Sensitivity> {
    let k = result.criteria.len();
    let n = result.ids.len();
    if top_k == 0 {
        return Err(Error::InvalidInput("top_k must be > 0".into()));
    }
    let base = result.weights.clone();
    let mut sets: Vec<Vec<f64>> = Vec::new();
    let norm = |w: Vec<f64>| {
        let s: f64 = w.iter().sum();
        w.into_iter().map(|x| x / s).collect::<Vec<_>>()
    };
    match how {
        Perturbation::OneAtATime { delta } => {
            if !(delta > 0.0 && delta < 1.0) {
                return Err(Error::InvalidInput(format!("delta {delta} must be in (0, 1)")));
            }
            for j in 0..k {
                for f in [1.0 - delta, 1.0 + delta] {
                    let mut w = base.clone();
                    w[j] *= f;
                    sets.push(norm(w));
                }
            }
        }
        Perturbation::MonteCarlo { runs, spread, seed } => {
            if runs == 0 || runs > MAX_SENSITIVITY_RUNS || !(0.0..1.0).contains(&spread) {
                return Err(Error::InvalidInput(format!(
                    "runs {runs} must be in 1..={MAX_SENSITIVITY_RUNS} and spread {spread} in [0, 1)"
                )));
            }
            // splitmix64: deterministic, dependency-free
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
            };
            for _ in 0..runs {
                sets.push(norm(base.iter().map(|w| w * (1.0 - spread + 2.0 * spread * next())).collect()));
            }
        }
    }
    let mut best = result.rank.clone();
    let mut worst = best.clone();
    let mut in_top = vec![0usize; n];
    for w in &sets {
        // every run rescores every parcel: a long analysis stops on request (Ctrl-C)
        crate::interrupt::check("sensitivity")?;
        let topsis = topsis_params(&profile.method, &result.bound, w, &result.excluded);
        let s = aggregate(&profile.method, &result.bound, w, topsis.as_ref(), &result.excluded);
        let r = ranks(&s, &result.excluded, profile.ties);
        for i in 0..n {
            let ri = r[i];
            best[i] = best[i].min(ri);
            worst[i] = worst[i].max(ri);
            if ri <= top_k as f64 && !result.excluded[i] {
                in_top[i] += 1;
            }
        }
    }
    let runs = sets.len();
    Ok(Sensitivity {
        top_k,
        runs,
        parcels: (0..n)
            .map(|i| Stability {
                id: result.ids[i].clone(),
                rank: result.rank[i],
                best_rank: best[i],
                worst_rank: worst[i],
                p_top_k: in_top[i] as f64 / runs as f64,
            })
            .collect(),
    })
}
