//! The statistics (exactextract's vocabulary and definitions), their options and results, and the coverage-weighted accumulator.

use super::*;

/// A statistic of [`zonal_stats`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stat {
    /// Σ coverage of valid cells.
    Count,
    /// Σ coverage × value.
    Sum,
    /// Coverage-weighted mean.
    Mean,
    /// Minimum over covered cells.
    Min,
    /// Maximum over covered cells.
    Max,
    /// Weighted population standard deviation.
    Stdev,
    /// Weighted population variance.
    Variance,
    /// Weighted median (exactextract's quantile definition).
    Median,
    /// Weighted quantile `q` in 0..=1.
    Quantile(f64),
    /// Value with the largest summed coverage.
    Majority,
    /// Value with the smallest summed coverage.
    Minority,
    /// Number of distinct values.
    Variety,
    /// Σ coverage × weight × value / Σ coverage × weight (needs a weight raster).
    WeightedMean,
    /// Σ coverage × weight × value (needs a weight raster).
    WeightedSum,
    /// Circular mean of angles in degrees (aspect), coverage-weighted, in 0..360.
    CircularMean,
    /// Share of the covered valid area in each distinct value: one `frac_<value>` column each.
    Frac,
    /// Population standard deviation / mean.
    CoefficientOfVariation,
    /// Population variance weighted by coverage × weight (needs a weight raster).
    WeightedVariance,
    /// Population standard deviation weighted by coverage × weight (needs a weight raster).
    WeightedStdev,
    /// X of the centre of the cell holding the minimum (the first in row-major order).
    MinCenterX,
    /// Y of the centre of the cell holding the minimum.
    MinCenterY,
    /// X of the centre of the cell holding the maximum (the first in row-major order).
    MaxCenterX,
    /// Y of the centre of the cell holding the maximum.
    MaxCenterY,
}

impl Stat {
    /// Parse exactextract-style names: `count`, `mean`, `quantile(q=0.25)` or `quantile_25`, `frac`, ...
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        // `quantile(q=0.25)` takes a fraction in [0, 1], as exactextract (which refuses any
        // other q); the column-name form `quantile_25` a percentage in [0, 100]
        let q = |v: &str, percent: bool| -> Result<Stat> {
            let arg = if percent { "percentage" } else { "q" };
            let x: f64 = v.trim().parse().map_err(|_| Error::InvalidInput(format!("bad quantile {arg} in {s:?}")))?;
            let (x, hi) = if percent { (x / 100.0, 100) } else { (x, 1) };
            if !(0.0..=1.0).contains(&x) {
                return Err(Error::InvalidInput(format!("quantile {arg} {v} outside [0, {hi}] in {s:?}")));
            }
            Ok(Stat::Quantile(x))
        };
        if let Some(rest) = t.strip_prefix("quantile(") {
            let Some(inner) = rest.strip_suffix(')') else {
                return Err(Error::InvalidInput(format!("unclosed argument list in {s:?}")));
            };
            let inner = inner.trim();
            let Some(v) = inner.strip_prefix("q").map(str::trim_start).and_then(|r| r.strip_prefix('=')) else {
                return Err(Error::InvalidInput(format!(
                    "quantile needs its argument q, as quantile(q=0.25), in {s:?}"
                )));
            };
            return q(v, false);
        }
        if let Some(rest) = t.strip_prefix("quantile_") {
            return q(rest, true);
        }
        Ok(match t.as_str() {
            "count" => Stat::Count,
            "sum" => Stat::Sum,
            "mean" => Stat::Mean,
            "min" => Stat::Min,
            "max" => Stat::Max,
            "stdev" | "std" => Stat::Stdev,
            "variance" => Stat::Variance,
            "median" => Stat::Median,
            "majority" | "mode" => Stat::Majority,
            "minority" => Stat::Minority,
            "variety" => Stat::Variety,
            "weighted_mean" => Stat::WeightedMean,
            "weighted_sum" => Stat::WeightedSum,
            "circular_mean" => Stat::CircularMean,
            "frac" => Stat::Frac,
            "coefficient_of_variation" => Stat::CoefficientOfVariation,
            "weighted_variance" => Stat::WeightedVariance,
            "weighted_stdev" => Stat::WeightedStdev,
            "min_center_x" => Stat::MinCenterX,
            "min_center_y" => Stat::MinCenterY,
            "max_center_x" => Stat::MaxCenterX,
            "max_center_y" => Stat::MaxCenterY,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "unknown statistic {s:?} (count, sum, mean, min, max, stdev, variance, coefficient_of_variation, \
                     median, quantile(q=..), majority, minority, variety, weighted_mean, weighted_sum, \
                     weighted_variance, weighted_stdev, circular_mean, frac, min_center_x, min_center_y, \
                     max_center_x, max_center_y)"
                )))
            }
        })
    }
    /// Column name (`mean`, `quantile_25`, ...).
    pub fn name(&self) -> String {
        match self {
            Stat::Quantile(q) => format!("quantile_{}", fmt_q(*q)),
            other => serde_json::to_value(other).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        }
    }
    pub(super) fn needs_weights(&self) -> bool {
        matches!(self, Stat::WeightedMean | Stat::WeightedSum | Stat::WeightedVariance | Stat::WeightedStdev)
    }
    pub(super) fn needs_values(&self) -> bool {
        matches!(self, Stat::Median | Stat::Quantile(_) | Stat::Majority | Stat::Minority | Stat::Variety | Stat::Frac)
    }
}

pub(super) fn fmt_q(q: f64) -> String {
    let p = q * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}", p.round() as i64)
    } else {
        format!("{p}")
    }
}

/// Options of [`zonal_stats`].
#[derive(Debug, Clone)]
pub struct ZonalOptions<'a> {
    /// Statistics to compute, in output order.
    pub stats: Vec<Stat>,
    /// Band number (1-based, as GDAL numbers bands; default 1).
    pub band: usize,
    /// Ignore cells covered less than this fraction (exactextract `min_coverage_frac`).
    pub min_coverage_frac: f64,
    /// Weight raster (same grid) for `weighted_mean`/`weighted_sum`.
    pub weights: Option<&'a Raster>,
}

impl Default for ZonalOptions<'_> {
    fn default() -> Self {
        ZonalOptions { stats: vec![Stat::Count, Stat::Mean], band: 1, min_coverage_frac: 0.0, weights: None }
    }
}

/// Result of [`zonal_stats`]: one column per statistic (and one `frac_<value>` column per class).
#[derive(Debug, Clone, PartialEq)]
pub struct ZonalResult {
    /// `(name, one value per polygon)`.
    pub columns: Vec<(String, Vec<f64>)>,
}

impl ZonalResult {
    /// Column by name.
    pub fn column(&self, name: &str) -> Result<&[f64]> {
        self.columns
            .iter()
            .find(|c| c.0 == name)
            .map(|c| c.1.as_slice())
            .ok_or_else(|| Error::not_found("statistic", name, self.columns.iter().map(|c| c.0.clone()).collect()))
    }
}

/// exactextract's weighted quantile over (value, weight) pairs sorted by value.
pub(super) fn weighted_quantile(vw: &[(f64, f64)], q: f64) -> f64 {
    let n = vw.len();
    if n == 0 {
        return f64::NAN;
    }
    let mut s = Vec::with_capacity(n);
    let mut cum = 0.0;
    let mut sum_w = 0.0;
    for (i, &(_, w)) in vw.iter().enumerate() {
        sum_w += w;
        if i == 0 {
            s.push(0.0);
            cum = w;
        } else {
            s.push(i as f64 * w + (n as f64 - 1.0) * cum);
            cum += w;
        }
    }
    let sn = sum_w * (n as f64 - 1.0);
    let target = q * sn;
    let right = s.partition_point(|v| *v <= target);
    let left = right.saturating_sub(1);
    if right >= n {
        return vw[left].0;
    }
    vw[left].0 + (target - s[left]) * (vw[right].0 - vw[left].0) / (s[right] - s[left])
}

pub(super) struct Acc {
    pub(super) count: f64,
    pub(super) sum: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    // Welford, weighted
    pub(super) w_mean: f64,
    pub(super) w_m2: f64,
    pub(super) wsum: f64,
    pub(super) wcount: f64,
    pub(super) sin: f64,
    pub(super) cos: f64,
    pub(super) values: Vec<(f64, f64)>,
    // Welford with weight coverage × weight
    pub(super) ww_mean: f64,
    pub(super) ww_m2: f64,
    // cells (row, column) of the first minimum and maximum
    pub(super) min_at: (usize, usize),
    pub(super) max_at: (usize, usize),
}

impl Acc {
    pub(super) fn new() -> Self {
        Acc {
            count: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            w_mean: 0.0,
            w_m2: 0.0,
            wsum: 0.0,
            wcount: 0.0,
            sin: 0.0,
            cos: 0.0,
            values: Vec::new(),
            ww_mean: 0.0,
            ww_m2: 0.0,
            min_at: (0, 0),
            max_at: (0, 0),
        }
    }
}
