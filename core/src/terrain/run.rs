//! Running the kernels over a DEM, in memory or streamed in row strips: nodata, `compute_edges` extrapolation and per-row cell sizes on geographic DEMs.

use super::*;

/// Converts stored samples to the working type and tests nodata like gdaldem (`ARE_REAL_EQUAL`).
pub(super) trait Src: Copy + Send + Sync + 'static {
    type W: Work;
    fn w(self) -> Self::W;
    /// The data as f32 when it is f32 (the vectorised slope path).
    fn as_f32(_s: &[Self]) -> Option<&[f32]> {
        None
    }
}

macro_rules! src {
    ($t:ty, $w:ty) => {
        impl Src for $t {
            type W = $w;
            #[inline(always)]
            fn w(self) -> $w {
                self as $w
            }
        }
    };
}
src!(u8, i32);
src!(i8, i32);
src!(i16, i32);
src!(u16, i32);
src!(i32, f32);
src!(u32, f32);
impl Src for f32 {
    type W = f32;
    #[inline(always)]
    fn w(self) -> f32 {
        self
    }
    fn as_f32(s: &[Self]) -> Option<&[f32]> {
        Some(s)
    }
}
src!(f64, f32);

#[inline(always)]
pub(super) fn is_nd<W: Work>(v: W, nd: Option<W>, nd_nan: bool) -> bool {
    if nd_nan {
        v.f64().is_nan()
    } else {
        match nd {
            Some(n) => v == n || (v.f64() - n.f64()).abs() < 1e-10 * n.f64().abs(),
            None => false,
        }
    }
}

pub(super) fn run<T: Src>(a: &Array2<T>, nodata: Option<f64>, p: &Params, edges: bool) -> Array2<f32> {
    let (h, w) = a.dim();
    let owned;
    let data: &[T] = match a.as_slice() {
        Some(s) => s,
        None => {
            owned = a.iter().copied().collect::<Vec<T>>();
            &owned
        }
    };
    // zeroed allocation: pages are mapped lazily, by the worker that writes them
    let mut out = vec![0f32; h * w];
    run_rows(data, 0, h, w, &mut out, 0, nodata, p, edges);
    Array2::from_shape_vec((h, w), out).expect("h × w cells")
}

/// Compute output rows `o0 .. o0 + out.len() / w` of a DEM `h` rows high whose rows
/// `b0 .. b0 + buf.len() / w` are in `buf`. The buffer must hold the row above and the row below
/// every output row where those exist in the DEM. Every output cell is written.
#[allow(clippy::too_many_arguments)]
// Long by design: gdaldem's row loop: the interior fast path, edges and nodata in one pass, keeping
// its exact arithmetic order.
pub(super) fn run_rows<T: Src>(
    buf: &[T],
    b0: usize,
    h: usize,
    w: usize,
    out: &mut [f32],
    o0: usize,
    nodata: Option<f64>,
    p: &Params,
    edges: bool,
) {
    if w == 0 {
        return;
    }
    let nd_nan = nodata.is_some_and(f64::is_nan);
    // the nodata value in the working type, as gdaldem casts it
    let nd: Option<T::W> = nodata.filter(|v| !v.is_nan()).map(T::W::from_f64);
    let has_nd = nd.is_some() || nd_nan;
    let b1 = b0 + buf.len() / w;
    debug_assert!(o0 == 0 || o0 > b0);
    debug_assert!(o0 + out.len() / w == h || o0 + out.len() / w < b1);
    // rows of the buffer that hold nodata (only these need the per-cell checks)
    let row_nd: Vec<bool> = if has_nd {
        buf.par_chunks(w).map(|row| row.iter().any(|v| is_nd(v.w(), nd, nd_nan))).collect()
    } else {
        Vec::new()
    };
    let clean = |rr: usize| !has_nd || !row_nd[rr - b0];
    let is_slope = matches!(p.product, TerrainProduct::SlopeDegrees | TerrainProduct::SlopePercent)
        && p.gradient == Gradient::Horn;
    let f32_data = T::as_f32(buf);
    out.par_chunks_mut(w).enumerate().for_each(|(i, orow)| {
        let r = o0 + i;
        let res = p.res[r];
        let at = |rr: usize, cc: usize| buf[(rr - b0) * w + cc].w();
        let generic = |c: usize| -> f32 {
            let centre = at(r, c);
            if is_nd(centre, nd, nd_nan) {
                return NODATA;
            }
            let mut win = [centre; 9];
            let interior = r >= 1 && r + 1 < h && c >= 1 && c + 1 < w;
            if interior {
                for (k, (dr, dc)) in OFFS.iter().enumerate() {
                    win[k] = at((r as isize + dr) as usize, (c as isize + dc) as usize);
                }
            } else {
                if !edges || h < 2 || w < 2 {
                    return NODATA;
                }
                fill_edge_window(&at, h, w, r, c, nd, nd_nan, &mut win);
            }
            for v in win.iter_mut() {
                if is_nd(*v, nd, nd_nan) {
                    if edges {
                        *v = centre;
                    } else {
                        return NODATA;
                    }
                }
            }
            compute(&win, p, res)
        };
        if r == 0 || r + 1 >= h || w < 3 {
            for (c, o) in orow.iter_mut().enumerate() {
                *o = generic(c);
            }
            return;
        }
        let row = |rr: usize| (rr - b0) * w..(rr - b0 + 1) * w;
        let rows_clean = clean(r - 1) && clean(r) && clean(r + 1);
        // interior row of an f32 DEM without nodata in its window rows, slope: vectorised kernel
        if let (Some(f), true, true) = (f32_data, is_slope, rows_clean) {
            slope_row_f32(
                &f[row(r - 1)],
                &f[row(r)],
                &f[row(r + 1)],
                &mut orow[1..w - 1],
                res,
                8.0 * p.scale,
                p.product == TerrainProduct::SlopeDegrees,
            );
            orow[0] = generic(0);
            orow[w - 1] = generic(w - 1);
            return;
        }
        // interior row: three row slices, no per-cell edge logic
        let (up, mid, dn) = (&buf[row(r - 1)], &buf[row(r)], &buf[row(r + 1)]);
        orow[0] = generic(0);
        orow[w - 1] = generic(w - 1);
        for c in 1..w - 1 {
            let win = [
                up[c - 1].w(),
                up[c].w(),
                up[c + 1].w(),
                mid[c - 1].w(),
                mid[c].w(),
                mid[c + 1].w(),
                dn[c - 1].w(),
                dn[c].w(),
                dn[c + 1].w(),
            ];
            if !rows_clean && win.iter().any(|v| is_nd(*v, nd, nd_nan)) {
                orow[c] = generic(c);
            } else {
                orow[c] = compute(&win, p, res);
            }
        }
    });
}

pub(super) const OFFS: [(isize, isize); 9] =
    [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 0), (0, 1), (1, -1), (1, 0), (1, 1)];

/// gdaldem's edge window: missing rows/columns extrapolated as 2a − b (nodata if either is
/// nodata); on the first and last rows, columns are clamped.
#[allow(clippy::too_many_arguments)]
pub(super) fn fill_edge_window<W: Work>(
    at: &impl Fn(usize, usize) -> W,
    h: usize,
    w: usize,
    r: usize,
    c: usize,
    nd: Option<W>,
    nd_nan: bool,
    win: &mut [W; 9],
) {
    let interp = |a: W, b: W| {
        if is_nd(a, nd, nd_nan) || is_nd(b, nd, nd_nan) {
            // keep the nodata marker; ComputeVal then substitutes the centre
            if is_nd(a, nd, nd_nan) {
                a
            } else {
                b
            }
        } else {
            W::interp(a, b)
        }
    };
    if r == 0 || r == h - 1 {
        // first/last row: columns clamped; the missing row extrapolated from the two nearest rows
        let cmin = if c == 0 { c } else { c - 1 };
        let cmax = if c == w - 1 { c } else { c + 1 };
        let cols = [cmin, c, cmax];
        let inner = if r == 0 { r + 1 } else { r - 1 };
        for (k, &cc) in cols.iter().enumerate() {
            let here = at(r, cc);
            let next = at(inner, cc);
            let missing = interp(here, next);
            if r == 0 {
                win[k] = missing;
                win[3 + k] = here;
                win[6 + k] = next;
            } else {
                win[k] = next;
                win[3 + k] = here;
                win[6 + k] = missing;
            }
        }
    } else {
        // interior row, first or last column
        for (k, rr) in [r - 1, r, r + 1].into_iter().enumerate() {
            if c == 0 {
                let (a, b) = (at(rr, 0), at(rr, 1));
                win[3 * k] = interp(a, b);
                win[3 * k + 1] = a;
                win[3 * k + 2] = b;
            } else {
                let (a, b) = (at(rr, w - 1), at(rr, w - 2));
                win[3 * k] = b;
                win[3 * k + 1] = a;
                win[3 * k + 2] = interp(a, b);
            }
        }
    }
}

/// Metric `(ewres, nsres)` of one cell at each row. Projected: the geotransform in metres (CRS
/// unit converted). Geographic: WGS 84 radii of curvature at each row's centre latitude.
pub(super) fn row_resolutions(
    transform: &GeoTransform,
    crs: Option<&Crs>,
    h: usize,
    explicit_scale: Option<f64>,
) -> Result<(Vec<(f64, f64)>, f64)> {
    let g = transform.0;
    if !transform.is_north_up() {
        return Err(Error::Unsupported("terrain on a rotated geotransform".into()));
    }
    if let Some(s) = explicit_scale {
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::InvalidInput(format!("scale must be a positive number, got {s}")));
        }
        return Ok((vec![(g[1], g[5]); h], s));
    }
    match crs {
        Some(c) if c.is_geographic() => {
            const A: f64 = 6_378_137.0;
            const F: f64 = 1.0 / 298.257_223_563;
            let e2 = F * (2.0 - F);
            let res = (0..h)
                .map(|row| {
                    let lat = (g[3] + (row as f64 + 0.5) * g[5]).to_radians();
                    let s = lat.sin();
                    let w = (1.0 - e2 * s * s).sqrt();
                    let n = A / w; // prime vertical
                    let m = A * (1.0 - e2) / (w * w * w); // meridian
                    (n * lat.cos() * g[1].to_radians(), m * g[5].to_radians())
                })
                .collect();
            Ok((res, 1.0))
        }
        Some(c) => {
            // vertical units are metres; horizontal in the CRS unit (e.g. US survey feet)
            let u = c.linear_unit_m().unwrap_or(1.0);
            Ok((vec![(g[1] * u, g[5] * u); h], 1.0))
        }
        None => Ok((vec![(g[1], g[5]); h], 1.0)),
    }
}

/// Compute one terrain product of a DEM band. Returns a single-band raster on the same grid:
/// `f32` with nodata −9999, or `u8` with nodata 0 for hillshade.
///
/// ```
/// use landopp::terrain::{terrain, TerrainOptions, TerrainProduct};
/// # let dem = landopp::Raster::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dem.tif"))?;
/// let slope = terrain(&dem, TerrainProduct::SlopeDegrees, &TerrainOptions::default())?;
/// assert_eq!(slope.nodata, Some(-9999.0));
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn terrain(dem: &Raster, product: TerrainProduct, opts: &TerrainOptions) -> Result<Raster> {
    let band = dem.band(crate::raster::band_index(opts.band, dem.band_count())?)?;
    let p = Params::new(product, opts, &dem.transform, dem.crs.as_ref(), dem.height())?;
    let out = match band {
        BandData::U8(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::I8(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::I16(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::U16(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::I32(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::U32(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::F32(a) => run(a, dem.nodata, &p, opts.compute_edges),
        BandData::F64(a) => run(a, dem.nodata, &p, opts.compute_edges),
    };
    let mut out = out;
    if let Some(cells) = out.as_slice_mut() {
        p.finish(cells);
    }
    let data =
        if product == TerrainProduct::Hillshade { BandData::U8(out.mapv(hillshade_byte)) } else { BandData::F32(out) };
    let mut r = Raster::new(vec![data], GeoTransform(dem.transform.0), dem.crs.clone(), p.nodata_out())?;
    r.band_names = vec![Some(format!("{product:?}").to_ascii_lowercase())];
    Ok(r)
}

/// Compute one terrain product of a DEM file straight into a tiled GeoTIFF, streaming: the DEM is
/// read a strip of its blocks at a time, each strip's rows are computed (with the row above and
/// below kept from the neighbouring strips) and written while the next strip is computed. Memory
/// stays at a few strips whatever the DEM's size; the cells equal [`terrain`]'s.
///
/// ```
/// use landopp::raster::GeoTiffWriteOptions;
/// use landopp::terrain::{terrain, terrain_file, TerrainOptions, TerrainProduct};
/// let dem = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dem.tif");
/// let dir = tempfile::tempdir().unwrap();
/// let out = dir.path().join("slope.tif");
/// let opts = TerrainOptions::default();
/// terrain_file(dem, &out, TerrainProduct::SlopeDegrees, &opts, &GeoTiffWriteOptions::default())?;
/// let in_memory = terrain(&landopp::Raster::read(dem)?, TerrainProduct::SlopeDegrees, &opts)?;
/// assert_eq!(landopp::Raster::read(&out)?, in_memory);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn terrain_file(
    input: impl AsRef<Path>,
    output: impl AsRef<Path>,
    product: TerrainProduct,
    opts: &TerrainOptions,
    write: &GeoTiffWriteOptions,
) -> Result<()> {
    crate::output::ensure_distinct(output.as_ref(), &[input.as_ref()])?;
    let src = GeoTiff::open(input.as_ref())?;
    crate::raster::band_index(opts.band, src.band_count())?;
    let (h, w) = (src.height(), src.width());
    // a header claiming more cells than the file can hold fails here, before per-row tables
    src.check_budget(Window::new(0, 0, h, w), 1)?;
    let p = Params::new(product, opts, &src.transform(), src.crs(), h)?;
    let hillshade = product == TerrainProduct::Hillshade;
    let layout = TiffLayout {
        width: w,
        height: h,
        bands: 1,
        dtype: if hillshade { DataType::U8 } else { DataType::F32 },
        transform: src.transform(),
        crs: src.crs().cloned(),
        nodata: p.nodata_out(),
        band_names: vec![Some(format!("{product:?}").to_ascii_lowercase())],
    };
    let mut out = GeoTiffWriter::create(output.as_ref(), layout, write)?;
    macro_rules! go {
        ($t:ty, $v:ident) => {
            stream::<$t>(&src, &p, opts, &mut out, |b| match b {
                BandData::$v(a) => Some(a),
                _ => None,
            })
        };
    }
    let streamed = crate::raster::with_dtype!(src.dtype(), go);
    let res = streamed.and_then(|_| out.finish());
    if res.is_err() {
        // no half-written GeoTIFF is left behind (a corrupt block, an interrupt, a full disk)
        let _ = std::fs::remove_file(output.as_ref());
    }
    res
}

pub(super) fn stream<T: Src>(
    src: &GeoTiff,
    p: &Params,
    opts: &TerrainOptions,
    out: &mut GeoTiffWriter,
    typed: impl Fn(BandData) -> Option<Array2<T>>,
) -> Result<()> {
    let (h, w) = (src.height(), src.width());
    let ts = out.tile_size();
    // read whole input blocks: a multiple of the block height of at least one output strip
    let ch = src.block_size().0.max(1);
    let step = ch * ts.div_ceil(ch);
    let hillshade = p.product == TerrainProduct::Hillshade;
    // `buf` holds DEM rows b0.. ; `done` output rows are computed; `pending` holds computed rows
    // from `written · ts` on that are not yet a full output strip
    let (mut buf, mut b0, mut done): (Vec<T>, usize, usize) = (Vec::new(), 0, 0);
    let mut pending: Vec<f32> = Vec::new();
    let mut written = 0usize;
    let mut r0 = 0;
    while r0 < h {
        crate::interrupt::check("terrain")?;
        let n = step.min(h - r0);
        let block = src.read_window(opts.band - 1, Window::new(r0, 0, n, w))?;
        let block = typed(block).ok_or_else(|| Error::InvalidInput("DEM block of an unexpected type".into()))?;
        // keep the rows still needed (from done − 1) and append the new ones
        let keep_from = done.saturating_sub(1).max(b0);
        buf.drain(..(keep_from - b0) * w);
        b0 = keep_from;
        match block.as_slice() {
            Some(s) => buf.extend_from_slice(s),
            None => buf.extend(block.iter().copied()),
        }
        r0 += n;
        // rows computable now: all but the last buffered one, unless the DEM ends here
        let upto = if r0 == h { h } else { r0 - 1 };
        let at = pending.len();
        pending.resize(at + (upto - done) * w, 0.0);
        run_rows(&buf, b0, h, w, &mut pending[at..], done, src.nodata(), p, opts.compute_edges);
        p.finish(&mut pending[at..]);
        done = upto;
        // write every complete output strip (the last one may be short)
        while pending.len() >= ts * w || (done == h && !pending.is_empty()) {
            let rows = ts.min(pending.len() / w);
            let strip = ndarray::ArrayView2::from_shape((rows, w), &pending[..rows * w])
                .map_err(|e| Error::InvalidInput(e.to_string()))?;
            if hillshade {
                out.write_strip(0, written, strip.mapv(hillshade_byte).view())?;
            } else {
                out.write_strip(0, written, strip)?;
            }
            pending.drain(..rows * w);
            written += 1;
        }
    }
    Ok(())
}
