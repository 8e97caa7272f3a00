//! Running zonal statistics: a raster source (in memory or a file read in row strips) against a polygon source, in parallel.

use super::*;

/// Raster values as f64, without copying the band.
pub(super) trait Cells: Sync {
    fn get(&self, idx: usize) -> f64;
}

pub(super) struct Slice<'a, T>(&'a [T]);

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

pub(super) fn band_cells(b: &BandData) -> Result<Box<dyn Cells + '_>> {
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

/// Per-polygon statistics of one raster band. Polygons are in `crs` and reprojected to the
/// raster's CRS when they differ (both must be known then).
///
/// ```
/// use landopp::zonal::{zonal_stats, Stat, ZonalOptions};
/// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
/// let dem = landopp::Raster::read(f.join("dem.tif"))?;
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
    let band = raster.band(crate::raster::band_index(opts.band, raster.band_count())?)?;
    let grid = Grid {
        width: raster.width(),
        height: raster.height(),
        transform: raster.transform,
        crs: raster.crs.as_ref(),
        nodata: raster.nodata,
        dtype: band.dtype(),
    };
    zonal_core(&grid, polygons, crs, opts, raster.height().max(1), &|_, _, _, _| {
        Ok((Cow::Borrowed(band), 0, grid.width))
    })
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
/// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
/// let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean], ..Default::default() };
/// let polygons = ZonalPolygons::File { path: &f.join("lulc_polygons.gpkg"), layer: None };
/// let from_file = zonal(ZonalRaster::File(&f.join("dem.tif")), polygons, &opts, None)?;
/// let dem = landopp::Raster::read(f.join("dem.tif"))?;
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
/// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
/// let parcels = landopp::Parcels::read(f.join("lulc_polygons.gpkg"), None, Some("index"))?;
/// let opts = ZonalOptions { stats: vec![Stat::Count, Stat::Mean, Stat::Median], ..Default::default() };
/// // 2,000 cells at a time
/// let streamed = zonal_stats_file(&GeoTiff::open(f.join("dem.tif"))?, &parcels.geometries,
///     parcels.crs.as_ref(), &opts, 2_000)?;
/// let dem = landopp::Raster::read(f.join("dem.tif"))?;
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
    let band = crate::raster::band_index(opts.band, raster.band_count())?;
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
    // only the columns the strip's polygons cross: a remote raster then fetches those tiles only
    zonal_core(&grid, polygons, crs, opts, rows, &|r0, n, c0, c1| {
        raster.read_window(band, Window::new(r0, c0, n, c1 - c0)).map(|d| (Cow::Owned(d), c0, c1 - c0))
    })
}

/// The value raster's grid.
pub(super) struct Grid<'a> {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) transform: GeoTransform,
    pub(super) crs: Option<&'a Crs>,
    pub(super) nodata: Option<f64>,
    pub(super) dtype: DataType,
}

/// `(r0, n, c0, c1)` → the cells of rows `r0..r0 + n` holding at least columns `c0..c1`, with
/// the first column and the width of what it gives.
pub(super) type ReadRows<'a> =
    dyn Fn(usize, usize, usize, usize) -> Result<(Cow<'a, BandData>, usize, usize)> + Sync + 'a;

// Long by design: one pass per row strip: coverage, the strip read and the accumulation share the
// strip's state and run in one loop, so each strip is read once and released; split up, that state
// would be threaded through the hot path.
pub(super) fn zonal_core<'a>(
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
    // the rows and the columns (a cell wider on each side) each polygon touches; empty when it
    // misses the raster
    let span = |poly: &MultiPolygon<f64>, axis: usize| -> (usize, usize) {
        let (origin, step, size, pad) = match axis {
            0 => (gt.0[3], gt.0[5], h, 0.0),
            _ => (gt.0[0], gt.0[1], w, 1.0),
        };
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in &poly.0 {
            for c in &p.exterior().0 {
                let v = ((if axis == 0 { c.y } else { c.x }) - origin) / step;
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return (0, 0);
        }
        ((lo.floor() - pad).max(0.0) as usize, ((hi.ceil() + pad).min(size as f64)).max(0.0) as usize)
    };
    let spans: Vec<(usize, usize)> = polys.par_iter().map(|p| span(p, 0)).collect();
    let cols: Vec<(usize, usize)> = polys.par_iter().map(|p| span(p, 1)).collect();
    let mut accs: Vec<Acc> = (0..polys.len()).map(|_| Acc::new()).collect();
    let mut r0 = 0;
    while r0 < h {
        let n = rows_per_strip.min(h - r0);
        let r1 = r0 + n;
        if !spans.iter().any(|&(lo, hi)| lo < r1 && hi > r0) {
            r0 = r1;
            continue;
        }
        let (c0, c1) = spans
            .iter()
            .zip(&cols)
            .filter(|((lo, hi), _)| *lo < r1 && *hi > r0)
            .fold((w, 0), |(a, b), (_, &(l, h))| if l < h { (a.min(l), b.max(h)) } else { (a, b) });
        if c0 >= c1 {
            r0 = r1;
            continue;
        }
        let (data, dc0, dw) = read_rows(r0, n, c0, c1)?;
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
                    let v = cells.get((cov.row0 + r - r0) * dw + cov.col0 + c - dc0);
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
