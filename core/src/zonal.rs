//! Exact zonal statistics: every raster cell weighted by the fraction of its area covered by the
//! polygon, as `exactextract` computes them.
//!
//! Coverage fractions come from integrating each ring over every row strip of the grid (Green's
//! theorem applied to `min(x, X)`), so a cell's fraction is exact up to floating-point rounding —
//! for holes, multipolygons, polygons partly or wholly outside the raster and polygons smaller
//! than a cell. Rings are oriented by their signed area, so either winding works; a self-
//! intersecting ring counts each lobe by its winding number (clamped to 0..1 per cell).
//!
//! Statistics follow exactextract's definitions: `count` = Σ coverage of valid cells, `mean` =
//! coverage-weighted mean, `min`/`max` over cells with coverage > 0, `stdev` the weighted
//! population standard deviation, quantiles from exactextract's weighted quantile definition
//! (distinct values weighted by coverage; truncated to an integer on integer rasters, as
//! exactextract returns them in the raster's type), `majority`/`minority` by summed coverage (ties,
//! as exactextract: the largest value for majority, the smallest for minority), `variety` the
//! number of distinct values, `frac` the coverage share of each value, `coefficient_of_variation`
//! (stdev / mean), `min_center_x/y` and `max_center_x/y` (the centre of the first cell in row-major
//! order holding the minimum or maximum), `weighted_mean`/`weighted_sum`/`weighted_variance`/
//! `weighted_stdev` with a weight raster on the same grid (coverage × weight). Cells with nodata
//! or NaN are ignored; a polygon with no valid cell has `count` 0 and NaN statistics.

use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use crate::raster::{BandData, DataType, GeoTiff, GeoTransform, Raster, Window};
use geo_types::{Coord, LineString, MultiPolygon};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;

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
    fn needs_weights(&self) -> bool {
        matches!(self, Stat::WeightedMean | Stat::WeightedSum | Stat::WeightedVariance | Stat::WeightedStdev)
    }
    fn needs_values(&self) -> bool {
        matches!(self, Stat::Median | Stat::Quantile(_) | Stat::Majority | Stat::Minority | Stat::Variety | Stat::Frac)
    }
}

fn fmt_q(q: f64) -> String {
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
    /// 0-based band.
    pub band: usize,
    /// Ignore cells covered less than this fraction (exactextract `min_coverage_frac`).
    pub min_coverage_frac: f64,
    /// Weight raster (same grid) for `weighted_mean`/`weighted_sum`.
    pub weights: Option<&'a Raster>,
}

impl Default for ZonalOptions<'_> {
    fn default() -> Self {
        ZonalOptions { stats: vec![Stat::Count, Stat::Mean], band: 0, min_coverage_frac: 0.0, weights: None }
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

/// Fractions of each cell of a window covered by a polygon.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// First row of the window.
    pub row0: usize,
    /// First column of the window.
    pub col0: usize,
    /// Rows in the window.
    pub rows: usize,
    /// Columns in the window.
    pub cols: usize,
    /// Row-major fractions in 0..=1.
    pub frac: Vec<f64>,
}

/// Exact coverage fractions of `poly` (in the raster's CRS) over a `width × height` grid.
pub fn coverage(poly: &MultiPolygon<f64>, gt: &GeoTransform, width: usize, height: usize) -> Result<Coverage> {
    coverage_in_rows(poly, gt, width, height, 0, height)
}

/// [`coverage`] restricted to the grid rows `row_lo..row_hi` (each row's fractions are computed
/// on their own, so they equal the unrestricted ones).
fn coverage_in_rows(
    poly: &MultiPolygon<f64>,
    gt: &GeoTransform,
    width: usize,
    height: usize,
    row_lo: usize,
    row_hi: usize,
) -> Result<Coverage> {
    if !gt.is_north_up() {
        return Err(Error::Unsupported("zonal statistics on a rotated geotransform".into()));
    }
    let g = gt.0;
    let to_px = |c: &Coord<f64>| ((c.x - g[0]) / g[1], (c.y - g[3]) / g[5]);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in &poly.0 {
        for c in &p.exterior().0 {
            let (x, y) = to_px(c);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    let empty = Coverage { row0: 0, col0: 0, rows: 0, cols: 0, frac: vec![] };
    if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
        return Ok(empty);
    }
    let cmin = x0.floor().max(0.0) as usize;
    let cmax = (x1.ceil().min(width as f64)).max(0.0) as usize;
    // the window's local frame starts at the polygon's first row, whatever rows are asked for,
    // so restricted and whole computations round identically
    let rfull = y0.floor().max(0.0) as usize;
    let rmin = rfull.max(row_lo);
    let rmax = ((y1.ceil().min(height as f64)).max(0.0) as usize).min(row_hi);
    if cmin >= cmax || rmin >= rmax {
        return Ok(empty);
    }
    let (rows, cols) = (rmax - rmin, cmax - cmin);
    let mut cover = vec![0.0f64; rows * cols];
    let mut acc = vec![0.0f64; rows * (cols + 1)];
    // cells whose interior a ring edge passes through; every other cell lies wholly inside or
    // wholly outside the polygon
    let mut crossed = vec![false; rows * cols];
    // Window-local pixel coordinates keep magnitudes small, hence rounding noise ~1e-15.
    let (ox, oy) = (g[0] + cmin as f64 * g[1], g[3] + rfull as f64 * g[5]);
    // A vertex whose coordinate is exactly a grid line (origin + k × cell size, the way
    // cell-aligned polygons are made) lands exactly on that line, as exactextract sees it in
    // world coordinates; any other coordinate, however close, keeps its sliver.
    let snap = |local: f64, world: f64, origin: f64, first: usize, size: f64| {
        let k = local.round();
        if (local - k).abs() < 1e-6 && origin + (first as f64 + k) * size == world {
            k
        } else {
            local
        }
    };
    let to_local = |c: &Coord<f64>| {
        (snap((c.x - ox) / g[1], c.x, g[0], cmin, g[1]), snap((c.y - oy) / g[5], c.y, g[3], rfull, g[5]))
    };
    let win = (rmin - rfull, rmax - rfull, 0, cols);
    for p in &poly.0 {
        ring_coverage(p.exterior(), true, &to_local, win, &mut cover, &mut acc, &mut crossed);
        for h in p.interiors() {
            ring_coverage(h, false, &to_local, win, &mut cover, &mut acc, &mut crossed);
        }
    }
    for r in 0..rows {
        let mut run = 0.0;
        for c in (0..cols).rev() {
            run += acc[r * (cols + 1) + c + 1];
            let v = &mut cover[r * cols + c];
            *v += run;
            // A cell no edge crosses is wholly in (1) or out (0): rounding noise of the running
            // sums is removed exactly. A crossed cell keeps its fraction, however small (a
            // sliver of 1e-13 counts, as in exactextract, whose default minimum coverage is
            // the smallest positive float); only its noise below 0 or above 1 is clamped.
            *v = if crossed[r * cols + c] { v.clamp(0.0, 1.0) } else { v.round().clamp(0.0, 1.0) };
        }
    }
    Ok(Coverage { row0: rmin, col0: cmin, rows, cols, frac: cover })
}

/// Add one ring's signed contribution. `win` = (rmin, rmax, cmin, cmax).
fn ring_coverage(
    ring: &LineString<f64>,
    exterior: bool,
    to_px: &impl Fn(&Coord<f64>) -> (f64, f64),
    win: (usize, usize, usize, usize),
    cover: &mut [f64],
    acc: &mut [f64],
    crossed: &mut [bool],
) {
    let pts: Vec<(f64, f64)> = ring.0.iter().map(to_px).collect();
    if pts.len() < 3 {
        return;
    }
    let n = pts.len();
    let closed = pts[0] == pts[n - 1];
    let seg_count = if closed { n - 1 } else { n };
    let seg = |i: usize| (pts[i], pts[(i + 1) % n]);
    // ∮ x dy decides the orientation
    let mut s = 0.0;
    for i in 0..seg_count {
        let ((xa, ya), (xb, yb)) = seg(i);
        s += (xa + xb) * (yb - ya);
    }
    if s == 0.0 || !s.is_finite() {
        return;
    }
    let factor = if (s > 0.0) == exterior { 1.0 } else { -1.0 };
    let (rmin, rmax, cmin, cmax) = win;
    let cols = cmax - cmin;
    for i in 0..seg_count {
        let ((xa, ya), (xb, yb)) = seg(i);
        if ya == yb {
            // no part in the integral, but it cuts the cells of its row it passes through
            // (unless it runs along the row's edge)
            if ya.fract() != 0.0 && ya >= rmin as f64 && ya < rmax as f64 {
                let row = ya.floor() as usize - rmin;
                let (xlo, xhi) = if xa < xb { (xa, xb) } else { (xb, xa) };
                let c0 = (xlo.floor().max(cmin as f64)) as usize;
                let c1 = (xhi.ceil().min(cmax as f64)).max(c0 as f64) as usize;
                for c in c0..c1 {
                    crossed[row * cols + c - cmin] = true;
                }
            }
            continue;
        }
        let (ylo, yhi) = if ya < yb { (ya, yb) } else { (yb, ya) };
        if yhi <= rmin as f64 || ylo >= rmax as f64 {
            continue;
        }
        let r_first = (ylo.floor() as i64).max(rmin as i64) as usize;
        let r_last = ((yhi.ceil() as i64).min(rmax as i64)) as usize; // exclusive
        let inv = 1.0 / (yb - ya);
        for r in r_first..r_last {
            let (s0, s1) = (r as f64, r as f64 + 1.0);
            // clip the segment to the strip, keeping its direction
            let t0 = ((s0 - ya) * inv).clamp(0.0, 1.0);
            let t1 = ((s1 - ya) * inv).clamp(0.0, 1.0);
            let (ta, tb) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
            if tb <= ta {
                continue;
            }
            let x_at = |t: f64| xa + t * (xb - xa);
            let y_at = |t: f64| ya + t * (yb - ya);
            let (p1x, p1y, p2x, p2y) = (x_at(ta), y_at(ta), x_at(tb), y_at(tb));
            let dy = (p2y - p1y) * factor;
            if dy == 0.0 {
                continue;
            }
            let (xlo, xhi) = if p1x < p2x { (p1x, p2x) } else { (p2x, p1x) };
            let row = r - rmin;
            let k = xlo.floor();
            let k_idx = ((k as i64) - cmin as i64).clamp(0, cols as i64) as usize;
            acc[row * (cols + 1) + k_idx] += dy;
            // exact part over the columns the segment spans
            let c_start = (k as i64).max(cmin as i64);
            let c_end = ((xhi.ceil() as i64) - 1).min(cmax as i64 - 1);
            let g = |x: f64| -> f64 {
                if x <= xlo {
                    x * dy
                } else if x >= xhi {
                    0.5 * (xlo + xhi) * dy
                } else {
                    let t = (x - xlo) / (xhi - xlo);
                    (0.5 * (xlo + x) * t + x * (1.0 - t)) * dy
                }
            };
            let mut c = c_start;
            while c <= c_end {
                let cf = c as f64;
                cover[row * cols + (c as usize - cmin)] += g(cf + 1.0) - g(cf);
                crossed[row * cols + (c as usize - cmin)] = true;
                c += 1;
            }
        }
    }
}

/// Raster values as f64, without copying the band.
trait Cells: Sync {
    fn get(&self, idx: usize) -> f64;
}

struct Slice<'a, T>(&'a [T]);

macro_rules! cells {
    ($t:ty) => {
        impl Cells for Slice<'_, $t> {
            #[inline(always)]
            fn get(&self, idx: usize) -> f64 {
                self.0[idx] as f64
            }
        }
    };
}
cells!(u8);
cells!(i8);
cells!(i16);
cells!(u16);
cells!(i32);
cells!(u32);
cells!(f32);
cells!(f64);

fn band_cells(b: &BandData) -> Result<Box<dyn Cells + '_>> {
    let e = || Error::InvalidInput("raster band is not contiguous".into());
    Ok(match b {
        BandData::U8(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::I8(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::I16(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::U16(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::I32(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::U32(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::F32(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
        BandData::F64(a) => Box::new(Slice(a.as_slice().ok_or_else(e)?)),
    })
}

/// exactextract's weighted quantile over (value, weight) pairs sorted by value.
fn weighted_quantile(vw: &[(f64, f64)], q: f64) -> f64 {
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

struct Acc {
    count: f64,
    sum: f64,
    min: f64,
    max: f64,
    // Welford, weighted
    w_mean: f64,
    w_m2: f64,
    wsum: f64,
    wcount: f64,
    sin: f64,
    cos: f64,
    values: Vec<(f64, f64)>,
    // Welford with weight coverage × weight
    ww_mean: f64,
    ww_m2: f64,
    // cells (row, column) of the first minimum and maximum
    min_at: (usize, usize),
    max_at: (usize, usize),
}

impl Acc {
    fn new() -> Self {
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

/// Per-polygon statistics of one raster band. Polygons are in `crs` and reprojected to the
/// raster's CRS when they differ (both must be known then).
///
/// ```
/// use landopp::zonal::{zonal_stats, Stat, ZonalOptions};
/// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/slovenia");
/// let dem = landopp::Raster::open(f.join("dem.tif"))?;
/// let parcels = landopp::Parcels::read(f.join("lulc_polygons.gpkg"), None, Some("index"))?;
/// let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Max], ..Default::default() };
/// let r = zonal_stats(&dem, &parcels.geometries, parcels.crs.as_ref(), &opts)?;
/// assert_eq!(r.column("mean")?.len(), parcels.len());
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn zonal_stats(
    raster: &Raster,
    polygons: &[MultiPolygon<f64>],
    crs: Option<&Crs>,
    opts: &ZonalOptions<'_>,
) -> Result<ZonalResult> {
    let band = raster.band(opts.band)?;
    let grid = Grid {
        width: raster.width(),
        height: raster.height(),
        transform: raster.transform,
        crs: raster.crs.as_ref(),
        nodata: raster.nodata,
        dtype: band.dtype(),
    };
    zonal_core(&grid, polygons, crs, opts, raster.height().max(1), &|_, _| Ok(Cow::Borrowed(band)))
}

/// exactextract's default `--max-cells`: 30 million raster cells in memory at once.
pub const DEFAULT_MAX_CELLS: usize = 30_000_000;

/// The raster of [`zonal`]: a GeoTIFF file (read in strips) or a raster in memory.
#[derive(Debug, Clone, Copy)]
pub enum ZonalRaster<'a> {
    /// A GeoTIFF file, read in strips of at most the cell budget.
    File(&'a std::path::Path),
    /// A raster already in memory.
    Memory(&'a Raster),
}

/// The polygons of [`zonal`]: a vector file (any format landopp reads) or geometries in memory.
#[derive(Debug, Clone, Copy)]
pub enum ZonalPolygons<'a> {
    /// A vector file and, for a GeoPackage, its layer (default: the first feature layer).
    File {
        /// The file.
        path: &'a std::path::Path,
        /// The layer.
        layer: Option<&'a str>,
    },
    /// Polygons in `crs` (the raster's when `None`).
    Memory {
        /// The polygons.
        polygons: &'a [MultiPolygon<f64>],
        /// Their CRS.
        crs: Option<&'a Crs>,
    },
}

/// Zonal statistics from any raster source and polygon source — the one entry the bindings and
/// the CLI call: a raster file is read in strips of at most `max_cells` cells (default
/// [`DEFAULT_MAX_CELLS`], exactextract's), so memory stays bounded whatever its size, with the
/// same results as in memory ([`zonal_stats_file`]); a raster in memory is used as it is
/// ([`zonal_stats`]). Polygons from a file are read with their CRS.
///
/// ```
/// use landopp::zonal::{zonal, Stat, ZonalOptions, ZonalPolygons, ZonalRaster};
/// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/slovenia");
/// let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean], ..Default::default() };
/// let polygons = ZonalPolygons::File { path: &f.join("lulc_polygons.gpkg"), layer: None };
/// let from_file = zonal(ZonalRaster::File(&f.join("dem.tif")), polygons, &opts, None)?;
/// let dem = landopp::Raster::open(f.join("dem.tif"))?;
/// assert_eq!(from_file, zonal(ZonalRaster::Memory(&dem), polygons, &opts, Some(500))?);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn zonal(
    raster: ZonalRaster<'_>,
    polygons: ZonalPolygons<'_>,
    opts: &ZonalOptions<'_>,
    max_cells: Option<usize>,
) -> Result<ZonalResult> {
    if max_cells == Some(0) {
        return Err(Error::InvalidInput("max_cells must be at least 1".into()));
    }
    let read;
    let (polys, crs): (&[MultiPolygon<f64>], Option<&Crs>) = match polygons {
        ZonalPolygons::Memory { polygons, crs } => (polygons, crs),
        ZonalPolygons::File { path, layer } => {
            let l = crate::vector::read_layer(path, &crate::vector::ReadOptions { layer: layer.map(str::to_string) })?;
            let crs = l.crs.clone();
            read = (crate::vector::to_multipolygons(l.geometries)?, crs);
            (&read.0, read.1.as_ref())
        }
    };
    match raster {
        ZonalRaster::File(path) => {
            let src = GeoTiff::open(path)?;
            zonal_stats_file(&src, polys, crs, opts, max_cells.unwrap_or(DEFAULT_MAX_CELLS))
        }
        ZonalRaster::Memory(r) => zonal_stats(r, polys, crs, opts),
    }
}

/// [`zonal_stats`] over a GeoTIFF read in strips of whole rows holding at most about `max_cells`
/// cells (at least one block row), so memory stays bounded whatever the raster's size — the
/// raster-sequential strategy of exactextract (`--max-cells`). Each polygon accumulates over the
/// strips it crosses in the same row-major order as in memory: the results are identical to
/// [`zonal_stats`] on the whole raster. A weight raster, if any, is in memory on the same grid.
///
/// ```
/// use landopp::raster::GeoTiff;
/// use landopp::zonal::{zonal_stats, zonal_stats_file, Stat, ZonalOptions};
/// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/slovenia");
/// let parcels = landopp::Parcels::read(f.join("lulc_polygons.gpkg"), None, Some("index"))?;
/// let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Median], ..Default::default() };
/// // 2,000 cells at a time
/// let streamed = zonal_stats_file(&GeoTiff::open(f.join("dem.tif"))?, &parcels.geometries,
///     parcels.crs.as_ref(), &opts, 2_000)?;
/// let dem = landopp::Raster::open(f.join("dem.tif"))?;
/// assert_eq!(streamed, zonal_stats(&dem, &parcels.geometries, parcels.crs.as_ref(), &opts)?);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn zonal_stats_file(
    raster: &GeoTiff,
    polygons: &[MultiPolygon<f64>],
    crs: Option<&Crs>,
    opts: &ZonalOptions<'_>,
    max_cells: usize,
) -> Result<ZonalResult> {
    if opts.band >= raster.band_count() {
        return Err(Error::not_found(
            "band",
            (opts.band + 1).to_string(),
            vec![format!("1..={}", raster.band_count())],
        ));
    }
    let (w, h) = (raster.width(), raster.height());
    let grid = Grid {
        width: w,
        height: h,
        transform: raster.transform(),
        crs: raster.crs(),
        nodata: raster.nodata(),
        dtype: raster.dtype(),
    };
    // whole block rows, as many as fit in the budget (at least one)
    let bh = raster.block_size().0.max(1);
    let rows = ((max_cells / w.max(1)) / bh).max(1) * bh;
    zonal_core(&grid, polygons, crs, opts, rows, &|r0, n| {
        raster.read_window(opts.band, Window::new(r0, 0, n, w)).map(Cow::Owned)
    })
}

/// The value raster's grid.
struct Grid<'a> {
    width: usize,
    height: usize,
    transform: GeoTransform,
    crs: Option<&'a Crs>,
    nodata: Option<f64>,
    dtype: DataType,
}

type ReadRows<'a> = dyn Fn(usize, usize) -> Result<Cow<'a, BandData>> + Sync + 'a;

fn zonal_core<'a>(
    grid: &Grid<'_>,
    polygons: &[MultiPolygon<f64>],
    crs: Option<&Crs>,
    opts: &ZonalOptions<'_>,
    rows_per_strip: usize,
    read_rows: &ReadRows<'a>,
) -> Result<ZonalResult> {
    if opts.stats.is_empty() {
        return Err(Error::InvalidInput("no statistic requested".into()));
    }
    crate::vector::check_finite(polygons)?;
    if !(0.0..=1.0).contains(&opts.min_coverage_frac) {
        return Err(Error::InvalidInput(format!("min_coverage_frac {} outside 0..1", opts.min_coverage_frac)));
    }
    let (w, h) = (grid.width, grid.height);
    let weights = match (opts.weights, opts.stats.iter().any(Stat::needs_weights)) {
        (Some(wr), _) => {
            if wr.width() != w || wr.height() != h || wr.transform != grid.transform {
                return Err(Error::InvalidInput(
                    "the weight raster must be on the value raster's grid (same size and geotransform)".into(),
                ));
            }
            Some((band_cells(wr.band(0)?)?, wr.nodata))
        }
        (None, true) => {
            return Err(Error::InvalidInput(
                "weighted_mean, weighted_sum, weighted_variance and weighted_stdev need a weight raster".into(),
            ))
        }
        (None, false) => None,
    };
    let projected: Option<Vec<MultiPolygon<f64>>> = match (crs, grid.crs) {
        (Some(a), Some(b)) if a != b => {
            let t = Transformer::new(a, b)?;
            Some(polygons.par_iter().map(|p| t.transform_multipolygon(p)).collect::<Result<_>>()?)
        }
        (Some(a), None) => {
            return Err(Error::Crs(format!("the raster has no CRS; cannot relate polygons in {a} to it")));
        }
        _ => None,
    };
    let polys = projected.as_deref().unwrap_or(polygons);
    let nodata = grid.nodata;
    let valid = |v: f64| !v.is_nan() && Some(v) != nodata;
    let need_values = opts.stats.iter().any(Stat::needs_values);
    // exactextract returns quantiles in the raster's type: truncated for integer rasters
    let integer = !matches!(grid.dtype, DataType::F32 | DataType::F64);
    let q = |v: f64| if integer { v.trunc() } else { v };
    let gt = grid.transform;
    if !gt.is_north_up() {
        return Err(Error::Unsupported("zonal statistics on a rotated geotransform".into()));
    }
    // rows each polygon touches (empty when it misses the raster)
    let row_span = |poly: &MultiPolygon<f64>| -> (usize, usize) {
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in &poly.0 {
            for c in &p.exterior().0 {
                let y = (c.y - gt.0[3]) / gt.0[5];
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        if !(y0.is_finite() && y1.is_finite()) {
            return (0, 0);
        }
        (y0.floor().max(0.0) as usize, (y1.ceil().min(h as f64)).max(0.0) as usize)
    };
    let spans: Vec<(usize, usize)> = polys.par_iter().map(row_span).collect();
    let mut accs: Vec<Acc> = (0..polys.len()).map(|_| Acc::new()).collect();
    let mut r0 = 0;
    while r0 < h {
        let n = rows_per_strip.min(h - r0);
        let r1 = r0 + n;
        if !spans.iter().any(|&(lo, hi)| lo < r1 && hi > r0) {
            r0 = r1;
            continue;
        }
        let data = read_rows(r0, n)?;
        let cells = band_cells(&data)?;
        accs.par_iter_mut().zip(polys.par_iter()).zip(spans.par_iter()).try_for_each(|((a, poly), &(lo, hi))| {
            if lo >= r1 || hi <= r0 {
                return Ok(());
            }
            crate::interrupt::check("zonal statistics")?;
            let cov = coverage_in_rows(poly, &gt, w, h, r0, r1)?;
            for r in 0..cov.rows {
                for c in 0..cov.cols {
                    let f = cov.frac[r * cov.cols + c];
                    if f <= 0.0 || f < opts.min_coverage_frac {
                        continue;
                    }
                    let idx = (cov.row0 + r) * w + cov.col0 + c;
                    let v = cells.get(idx - r0 * w);
                    if !valid(v) {
                        continue;
                    }
                    let first = a.count == 0.0;
                    a.count += f;
                    a.sum += f * v;
                    // the first cell in row-major order holding the extreme (±inf included)
                    if first || v < a.min {
                        a.min = v;
                        a.min_at = (cov.row0 + r, cov.col0 + c);
                    }
                    if first || v > a.max {
                        a.max = v;
                        a.max_at = (cov.row0 + r, cov.col0 + c);
                    }
                    let old = a.w_mean;
                    a.w_mean += (f / a.count) * (v - old);
                    a.w_m2 += f * (v - old) * (v - a.w_mean);
                    if let Some((wc, wnd)) = &weights {
                        let wv = wc.get(idx);
                        let wv = if wv.is_nan() || Some(wv) == *wnd { f64::NAN } else { wv };
                        a.wsum += f * wv * v;
                        a.wcount += f * wv;
                        // a zero weight adds nothing (and would divide 0 by 0 while the sum is 0)
                        let ww = f * wv;
                        if ww != 0.0 {
                            let old = a.ww_mean;
                            a.ww_mean += (ww / a.wcount) * (v - old);
                            a.ww_m2 += ww * (v - old) * (v - a.ww_mean);
                        }
                    }
                    let rad = v.to_radians();
                    a.sin += f * rad.sin();
                    a.cos += f * rad.cos();
                    if need_values {
                        a.values.push((v, f));
                    }
                }
            }
            Ok::<(), Error>(())
        })?;
        r0 = r1;
    }
    if need_values {
        accs.par_iter_mut().for_each(|a| {
            a.values.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut merged: Vec<(f64, f64)> = Vec::with_capacity(a.values.len());
            for (v, f) in a.values.drain(..) {
                match merged.last_mut() {
                    Some(last) if last.0 == v => last.1 += f,
                    _ => merged.push((v, f)),
                }
            }
            a.values = merged;
        });
    }

    let mut columns = Vec::new();
    for st in &opts.stats {
        if *st == Stat::Frac {
            let mut classes: BTreeMap<i64, f64> = BTreeMap::new();
            for a in &accs {
                for (v, _) in &a.values {
                    classes.insert(v.to_bits() as i64, *v);
                }
            }
            let mut cls: Vec<f64> = classes.into_values().collect();
            cls.sort_by(f64::total_cmp);
            for cv in cls {
                let col = accs
                    .iter()
                    .map(|a| {
                        if a.count <= 0.0 {
                            return f64::NAN;
                        }
                        a.values.iter().find(|x| x.0 == cv).map_or(0.0, |x| x.1 / a.count)
                    })
                    .collect();
                columns.push((format!("frac_{cv}"), col));
            }
            continue;
        }
        let col = accs
            .iter()
            .map(|a| {
                let none = a.count <= 0.0;
                match st {
                    Stat::Count => a.count,
                    // exactextract reports 0 (not NaN) for these on an empty intersection
                    Stat::Sum | Stat::Variety => {
                        if none {
                            0.0
                        } else if *st == Stat::Sum {
                            a.sum
                        } else {
                            a.values.len() as f64
                        }
                    }
                    Stat::WeightedSum if none => 0.0,
                    _ if none => f64::NAN,
                    Stat::Mean => a.sum / a.count,
                    Stat::Min => a.min,
                    Stat::Max => a.max,
                    Stat::Variance => a.w_m2 / a.count,
                    Stat::Stdev => (a.w_m2 / a.count).sqrt(),
                    Stat::Median => q(weighted_quantile(&a.values, 0.5)),
                    Stat::Quantile(p) => q(weighted_quantile(&a.values, *p)),
                    // values are sorted ascending: among equally covered values, majority takes
                    // the largest and minority the smallest, as exactextract does
                    Stat::Majority => {
                        a.values
                            .iter()
                            .fold((f64::NAN, f64::NEG_INFINITY), |b, x| if x.1 >= b.1 { (x.0, x.1) } else { b })
                            .0
                    }
                    Stat::Minority => {
                        a.values.iter().fold((f64::NAN, f64::INFINITY), |b, x| if x.1 < b.1 { (x.0, x.1) } else { b }).0
                    }
                    Stat::WeightedMean => a.wsum / a.wcount,
                    Stat::CoefficientOfVariation => (a.w_m2 / a.count).sqrt() / (a.sum / a.count),
                    Stat::WeightedVariance => a.ww_m2 / a.wcount,
                    Stat::WeightedStdev => (a.ww_m2 / a.wcount).sqrt(),
                    Stat::MinCenterX => gt.0[0] + (a.min_at.1 as f64 + 0.5) * gt.0[1],
                    Stat::MinCenterY => gt.0[3] + (a.min_at.0 as f64 + 0.5) * gt.0[5],
                    Stat::MaxCenterX => gt.0[0] + (a.max_at.1 as f64 + 0.5) * gt.0[1],
                    Stat::MaxCenterY => gt.0[3] + (a.max_at.0 as f64 + 0.5) * gt.0[5],
                    Stat::WeightedSum => a.wsum,
                    Stat::CircularMean => {
                        if a.sin == 0.0 && a.cos == 0.0 {
                            f64::NAN
                        } else {
                            a.sin.atan2(a.cos).to_degrees().rem_euclid(360.0)
                        }
                    }
                    Stat::Frac => f64::NAN,
                }
            })
            .collect();
        columns.push((st.name(), col));
    }
    Ok(ZonalResult { columns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};

    fn unit_grid() -> GeoTransform {
        GeoTransform([0.0, 1.0, 0.0, 10.0, 0.0, -1.0])
    }

    #[test]
    fn coverage_of_half_cells_and_holes() {
        // square from (0.5, 5.5) to (2.5, 7.5): 4 quarter-cells... total area 4
        let p = MultiPolygon(vec![
            polygon![(x: 0.5, y: 5.5), (x: 2.5, y: 5.5), (x: 2.5, y: 7.5), (x: 0.5, y: 7.5), (x: 0.5, y: 5.5)],
        ]);
        let c = coverage(&p, &unit_grid(), 10, 10).unwrap();
        let total: f64 = c.frac.iter().sum();
        assert!((total - 4.0).abs() < 1e-12, "{total}");
        assert_eq!(c.frac.iter().filter(|v| **v == 1.0).count(), 1);
        // clockwise ring and a hole
        let q = MultiPolygon(vec![geo_types::Polygon::new(
            vec![(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0), (0.0, 0.0)].into(),
            vec![vec![(2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (2.0, 2.0)].into()],
        )]);
        let c = coverage(&q, &unit_grid(), 10, 10).unwrap();
        assert!((c.frac.iter().sum::<f64>() - 96.0).abs() < 1e-9);
        // outside the raster
        let far = MultiPolygon(vec![
            polygon![(x: 50.0, y: 50.0), (x: 51.0, y: 50.0), (x: 51.0, y: 51.0), (x: 50.0, y: 50.0)],
        ]);
        assert_eq!(coverage(&far, &unit_grid(), 10, 10).unwrap().rows, 0);
    }

    #[test]
    fn quantile_matches_type7_for_equal_weights() {
        let vw: Vec<(f64, f64)> = (1..=5).map(|v| (v as f64, 1.0)).collect();
        assert_eq!(weighted_quantile(&vw, 0.5), 3.0);
        assert_eq!(weighted_quantile(&vw, 0.25), 2.0);
        assert_eq!(weighted_quantile(&vw, 1.0), 5.0);
    }

    #[test]
    fn stat_names() {
        assert_eq!(Stat::parse("quantile(q=0.25)").unwrap(), Stat::Quantile(0.25));
        assert_eq!(Stat::Quantile(0.25).name(), "quantile_25");
        assert_eq!(Stat::parse("nope").unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(Stat::parse("quantile_25").unwrap(), Stat::Quantile(0.25));
        assert_eq!(Stat::parse("Quantile( q = 1 )").unwrap(), Stat::Quantile(1.0));
        // q is a fraction, as exactextract takes it: 1.1 is refused, not read as 1.1 %
        for bad in
            ["quantile(q=1.1)", "quantile(q=-0.2)", "quantile(q=25)", "quantile(0.5)", "quantile(q=0.5", "quantile_101"]
        {
            let e = Stat::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT", "{bad}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(Stat::parse("quantile(q=1.1)").unwrap_err().to_string().contains("quantile q 1.1 outside [0, 1]"));
    }
}
