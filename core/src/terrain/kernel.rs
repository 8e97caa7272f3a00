//! The 3×3 window kernels in gdaldem's working types and order: Horn and Zevenbergen-Thorne gradients, slope, aspect, the hillshade variants, TRI, TPI and roughness.

use super::*;

/// gdaldem's working sample: integers for 8/16-bit DEMs, f32 otherwise.
pub(super) trait Work: Copy + Send + Sync + PartialEq + PartialOrd + 'static {
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn f64(self) -> f64;
    /// gdaldem's TPI, `centre − sum·0.125` in f32 (an integer sum is converted, not divided).
    fn tpi(centre: Self, sum: Self) -> f32;
    /// `|self − o|` in the working type.
    fn abs_diff(self, o: Self) -> Self;
    /// `self · 0.125` in f32 (an integer is converted first), as gdaldem's Wilson TRI.
    fn eighth(self) -> f32;
    fn interp(a: Self, b: Self) -> Self;
    fn from_f64(v: f64) -> Self;
}

impl Work for f32 {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self + o
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self - o
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tpi(centre: Self, sum: Self) -> f32 {
        centre - sum * 0.125
    }
    #[inline(always)]
    fn abs_diff(self, o: Self) -> Self {
        (self - o).abs()
    }
    #[inline(always)]
    fn eighth(self) -> f32 {
        self * 0.125
    }
    #[inline(always)]
    fn interp(a: Self, b: Self) -> Self {
        2.0 * a - b
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Work for i32 {
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.wrapping_sub(o)
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn tpi(centre: Self, sum: Self) -> f32 {
        centre as f32 - sum as f32 * 0.125
    }
    #[inline(always)]
    fn abs_diff(self, o: Self) -> Self {
        self.wrapping_sub(o).wrapping_abs()
    }
    #[inline(always)]
    fn eighth(self) -> f32 {
        self as f32 * 0.125
    }
    #[inline(always)]
    fn interp(a: Self, b: Self) -> Self {
        2 * a - b
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as i32
    }
}

/// Per-row cell sizes and constants of one product.
pub(super) struct Params {
    pub(super) product: TerrainProduct,
    /// (ewres, nsres) per row (nsres negative for north-up, as the geotransform).
    pub(super) res: Vec<(f64, f64)>,
    pub(super) scale: f64,
    /// Standard Horn hillshade: sin(alt)·254, cos(az)·cos(alt)·z·254, sin(az)·cos(alt)·z·254, z².
    pub(super) hs: [f64; 4],
    pub(super) gradient: Gradient,
    pub(super) hillshade: HillshadeMode,
    pub(super) tri: TriAlgorithm,
    pub(super) zero_for_flat: bool,
    pub(super) trigonometric: bool,
    /// The other hillshades' constants, in gdaldem's names.
    pub(super) shade: Shade,
}

/// gdaldem's constants of the combined, multidirectional and Igor hillshades and of the
/// Zevenbergen–Thorne one (z is `z_factor / 8`, or `/ 2` for Zevenbergen–Thorne).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Shade {
    pub(super) sin_alt: f64,
    pub(super) cos_az_cos_alt_z: f64,
    pub(super) sin_az_cos_alt_z: f64,
    pub(super) square_z: f64,
    pub(super) z: f64,
    pub(super) az: f64,
    pub(super) sin_alt_127: f64,
    pub(super) sin_alt_254: f64,
    pub(super) cos_alt_z_127: f64,
    pub(super) cos225_cos_alt_z_127: f64,
}

#[inline(always)]
pub(super) fn horn_dx<W: Work>(w: &[W; 9]) -> W {
    // (a + 2d + g) - (c + 2f + i)
    (w[0].add(w[3]).add(w[3]).add(w[6])).sub(w[2].add(w[5]).add(w[5]).add(w[8]))
}

#[inline(always)]
pub(super) fn horn_dy<W: Work>(w: &[W; 9]) -> W {
    (w[6].add(w[7]).add(w[7]).add(w[8])).sub(w[0].add(w[1]).add(w[1]).add(w[2]))
}

#[inline(always)]
pub(super) fn compute<W: Work>(w: &[W; 9], p: &Params, res: (f64, f64)) -> f32 {
    match p.product {
        TerrainProduct::SlopeDegrees | TerrainProduct::SlopePercent => {
            let (gx, gy, div) = match p.gradient {
                Gradient::Horn => (horn_dx(w), horn_dy(w), 8.0),
                Gradient::ZevenbergenThorne => (w[3].sub(w[5]), w[7].sub(w[1]), 2.0),
            };
            let dx = gx.f64() / res.0;
            let dy = gy.f64() / res.1;
            let key = dx * dx + dy * dy;
            if p.product == TerrainProduct::SlopeDegrees {
                (fast_atan(key.sqrt() / (div * p.scale)).to_degrees()) as f32
            } else {
                (100.0 * (key.sqrt() / (div * p.scale))) as f32
            }
        }
        TerrainProduct::Aspect => {
            let (dx, dy) = match p.gradient {
                Gradient::Horn => {
                    (w[2].add(w[5]).add(w[5]).add(w[8]).sub(w[0].add(w[3]).add(w[3]).add(w[6])).f64(), horn_dy(w).f64())
                }
                Gradient::ZevenbergenThorne => (w[5].sub(w[3]).f64(), w[7].sub(w[1]).f64()),
            };
            if dx == 0.0 && dy == 0.0 {
                return NODATA;
            }
            let mut a = (dy.atan2(-dx) / (std::f64::consts::PI / 180.0)) as f32;
            if p.trigonometric {
                if a < 0.0 {
                    a += 360.0;
                }
            } else {
                a = if a > 90.0 { 450.0 - a } else { 90.0 - a };
            }
            if a == 360.0 {
                a = 0.0;
            }
            a
        }
        TerrainProduct::Hillshade if p.gradient != Gradient::Horn || p.hillshade != HillshadeMode::Standard => {
            shade_variant(w, p, res)
        }
        TerrainProduct::Hillshade => {
            // gdaldem's two formulations: on square cells (|ewres| = |nsres|) the Horn sums are
            // taken as differences first (finite where the sums would overflow) with the light
            // constants folded with 1/res; otherwise sums, then × 1/res.
            let [sin_alt_254, cos_az_254, sin_az_254, square_z] = p.hs;
            let inv_ew = 1.0 / (res.0 * p.scale);
            let (num, den) = if res.0 == -res.1 {
                let d08 = w[0].sub(w[8]);
                let d62 = w[6].sub(w[2]);
                let d35 = w[3].sub(w[5]);
                let d17 = w[1].sub(w[7]);
                let x = d08.add(d35).add(d35).add(d62).f64();
                let y = d08.add(d17).add(d17).sub(d62).f64();
                let (kx, ky) = (sin_az_254 * inv_ew, cos_az_254 * -inv_ew);
                (sin_alt_254 + (x * kx + y * ky), 1.0 + square_z * inv_ew * inv_ew * (x * x + y * y))
            } else {
                let x = horn_dx(w).f64() * inv_ew;
                let y = horn_dy(w).f64() * (1.0 / (res.1 * p.scale));
                (sin_alt_254 - (y * cos_az_254 - x * sin_az_254), 1.0 + square_z * (x * x + y * y))
            };
            let cang = div_sqrt_like_gdal(num, den);
            (if cang <= 0.0 { 1.0 } else { 1.0 + cang }) as f32
        }
        TerrainProduct::Tri if p.tri == TriAlgorithm::Wilson => {
            let c = w[4];
            w[0].abs_diff(c)
                .add(w[1].abs_diff(c))
                .add(w[2].abs_diff(c))
                .add(w[3].abs_diff(c))
                .add(w[5].abs_diff(c))
                .add(w[6].abs_diff(c))
                .add(w[7].abs_diff(c))
                .add(w[8].abs_diff(c))
                .eighth()
        }
        TerrainProduct::Tri => {
            let c = w[4];
            let sq = |v: W| {
                let d = v.sub(c).f64();
                d * d
            };
            (sq(w[0]) + sq(w[1]) + sq(w[2]) + sq(w[3]) + sq(w[5]) + sq(w[6]) + sq(w[7]) + sq(w[8])).sqrt() as f32
        }
        TerrainProduct::Tpi => {
            let s = w[0].add(w[1]).add(w[2]).add(w[3]).add(w[5]).add(w[6]).add(w[7]).add(w[8]);
            W::tpi(w[4], s)
        }
        TerrainProduct::Roughness => {
            let (mut lo, mut hi) = (w[0], w[0]);
            for v in &w[1..] {
                if *v < lo {
                    lo = *v;
                }
                if *v > hi {
                    hi = *v;
                }
            }
            hi.sub(lo).f64() as f32
        }
    }
}

/// The hillshades other than the standard Horn one, as gdaldem computes them: the gradient as
/// sums (or central differences) × 1/res, then each variant's shade.
#[cold]
pub(super) fn shade_variant<W: Work>(w: &[W; 9], p: &Params, res: (f64, f64)) -> f32 {
    let sh = &p.shade;
    let (inv_ew, inv_ns) = (1.0 / (res.0 * p.scale), 1.0 / (res.1 * p.scale));
    let (x, y) = match p.gradient {
        Gradient::Horn => (horn_dx(w).f64() * inv_ew, horn_dy(w).f64() * inv_ns),
        Gradient::ZevenbergenThorne => (w[3].sub(w[5]).f64() * inv_ew, w[7].sub(w[1]).f64() * inv_ns),
    };
    match p.hillshade {
        HillshadeMode::Standard => {
            let [sin_alt_254, cos_az_254, sin_az_254, square_z] = p.hs;
            let cang =
                div_sqrt_like_gdal(sin_alt_254 - (y * cos_az_254 - x * sin_az_254), 1.0 + square_z * (x * x + y * y));
            (if cang <= 0.0 { 1.0 } else { 1.0 + cang }) as f32
        }
        HillshadeMode::Combined => {
            let slope = (x * x + y * y) * sh.square_z;
            let cang =
                div_sqrt_like_gdal(sh.sin_alt - (y * sh.cos_az_cos_alt_z - x * sh.sin_az_cos_alt_z), 1.0 + slope)
                    .acos();
            let cang = 1.0 - cang * slope.sqrt().atan() * (1.0 / ((std::f64::consts::PI * std::f64::consts::PI) / 4.0));
            if cang <= 0.0 {
                1.0
            } else {
                (1.0 + 254.0 * cang) as f32
            }
        }
        HillshadeMode::Multidirectional => {
            let (xx, yy) = (x * x, y * y);
            let xx_plus_yy = xx + yy;
            if xx_plus_yy == 0.0 {
                return (1.0 + sh.sin_alt_254) as f32;
            }
            let pos = |v: f64| if v <= 0.0 { 0.0 } else { v };
            let v225 = pos(sh.sin_alt_127 + (x - y) * sh.cos225_cos_alt_z_127);
            let v270 = pos(sh.sin_alt_127 - x * sh.cos_alt_z_127);
            let v315 = pos(sh.sin_alt_127 + (x + y) * sh.cos225_cos_alt_z_127);
            let v360 = pos(sh.sin_alt_127 - y * sh.cos_alt_z_127);
            let w225 = 0.5 * xx_plus_yy - x * y;
            let w315 = xx_plus_yy - w225;
            let cang = div_sqrt_like_gdal(
                (w225 * v225 + xx * v270 + w315 * v315 + yy * v360) / xx_plus_yy,
                1.0 + sh.square_z * xx_plus_yy,
            );
            (1.0 + cang) as f32
        }
        HillshadeMode::Igor => {
            // Igor's slope and aspect take the gradient in gdaldem's aspect orientation
            let slope_deg = ((x * x + y * y).sqrt() * sh.z).atan() * (180.0 / std::f64::consts::PI);
            let aspect = match p.gradient {
                Gradient::Horn => {
                    let dx = w[2].add(w[5]).add(w[5]).add(w[8]).sub(w[0].add(w[3]).add(w[3]).add(w[6])).f64();
                    horn_dy(w).f64().atan2(-dx)
                }
                Gradient::ZevenbergenThorne => w[7].sub(w[1]).f64().atan2(-w[5].sub(w[3]).f64()),
            };
            let two_pi = std::f64::consts::PI * 2.0;
            let norm = |a: f64| {
                let a = a % two_pi;
                if a < 0.0 {
                    two_pi + a
                } else {
                    a
                }
            };
            let mut diff = (norm(aspect) - norm(std::f64::consts::PI * 3.0 / 2.0 - sh.az)).abs();
            if diff > two_pi / 2.0 {
                diff = two_pi - diff;
            }
            let aspect_strength = 1.0 - diff / std::f64::consts::PI;
            (255.0 * (1.0 - slope_deg / 90.0 * aspect_strength)) as f32
        }
    }
}

/// atan for x ≥ 0 with Cephes' range reduction and rational approximation (error ~1e-16 rad),
/// branch-light so the slope loop vectorizes.
#[inline(always)]
pub(super) fn fast_atan(x: f64) -> f64 {
    const T3P8: f64 = 2.414_213_562_373_095;
    const P: [f64; 5] = [
        -8.750_608_600_031_904e-1,
        -1.615_753_718_733_365e1,
        -7.500_855_792_314_705e1,
        -1.228_866_684_490_136e2,
        -6.485_021_904_942_025e1,
    ];
    const Q: [f64; 5] = [
        2.485_846_490_142_306e1,
        1.650_270_098_316_988e2,
        4.328_810_604_912_903e2,
        4.853_903_996_359_137e2,
        1.945_506_571_482_614e2,
    ];
    let big = x > T3P8;
    let mid = x > 0.66 && !big;
    // Cephes' reductions −1/x and (x−1)/(x+1) (or x itself) as one selected division: the same
    // IEEE results, and no branch in the vectorised loop
    let num = if big {
        -1.0
    } else if mid {
        x - 1.0
    } else {
        x
    };
    let den = if big {
        x
    } else if mid {
        x + 1.0
    } else {
        1.0
    };
    let xr = num / den;
    let y0 = if big {
        std::f64::consts::FRAC_PI_2
    } else if mid {
        std::f64::consts::FRAC_PI_4
    } else {
        0.0
    };
    let z = xr * xr;
    let num = (((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4];
    let den = ((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4];
    let r = xr * (z * num / den) + xr;
    // Cephes adds these low-order bits back
    let more = if big {
        6.123_233_995_736_766e-17
    } else if mid {
        0.5 * 6.123_233_995_736_766e-17
    } else {
        0.0
    };
    y0 + (r + more)
}

// Slope of the interior cells of one row (f32 DEM, no nodata in the three rows): window sums in
// f32 and gradient, square root and arctangent in f64 exactly as gdaldem, in lanes the compiler
// vectorises. On x86-64 with AVX2+FMA (detected at run time) the loop runs 4 doubles wide.
crate::simd::dispatch! {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn slope_row_f32(
        up: &[f32],
        mid: &[f32],
        dn: &[f32],
        out: &mut [f32],
        res: (f64, f64),
        scale8: f64,
        degrees: bool,
    ) {
        if degrees {
            slope_cells::<true>(up, mid, dn, out, res, scale8)
        } else {
            slope_cells::<false>(up, mid, dn, out, res, scale8)
        }
    }
}

#[inline(always)]
pub(super) fn slope_cells<const DEGREES: bool>(
    up: &[f32],
    mid: &[f32],
    dn: &[f32],
    out: &mut [f32],
    res: (f64, f64),
    scale8: f64,
) {
    let n = out.len();
    let (up, mid, dn) = (&up[..n + 2], &mid[..n + 2], &dn[..n + 2]);
    for k in 0..n {
        let (a, b, cc) = (up[k], up[k + 1], up[k + 2]);
        let (d, f) = (mid[k], mid[k + 2]);
        let (g, h, i) = (dn[k], dn[k + 1], dn[k + 2]);
        let dx = (((a + d + d + g) - (cc + f + f + i)) as f64) / res.0;
        let dy = (((g + h + h + i) - (a + b + b + cc)) as f64) / res.1;
        let root = (dx * dx + dy * dy).sqrt();
        let t = root / scale8;
        out[k] = if DEGREES { fast_atan(t).to_degrees() as f32 } else { (100.0 * t) as f32 };
    }
}

impl Params {
    /// The output's nodata value: 0 for hillshade (bytes), none for aspect with
    /// `zero_for_flat` (flat and nodata cells are 0), −9999 otherwise.
    pub(super) fn nodata_out(&self) -> Option<f64> {
        match self.product {
            TerrainProduct::Hillshade => Some(0.0),
            TerrainProduct::Aspect if self.zero_for_flat => None,
            _ => Some(NODATA as f64),
        }
    }

    /// Map computed cells to the output's values: nodata is 0 with `zero_for_flat`.
    pub(super) fn finish(&self, cells: &mut [f32]) {
        if self.product == TerrainProduct::Aspect && self.zero_for_flat {
            cells.iter_mut().filter(|v| **v == NODATA).for_each(|v| *v = 0.0);
        }
    }

    pub(super) fn new(
        product: TerrainProduct,
        opts: &TerrainOptions,
        t: &GeoTransform,
        crs: Option<&Crs>,
        h: usize,
    ) -> Result<Self> {
        opts.check(product)?;
        let (res, scale) = row_resolutions(t, crs, h, opts.scale)?;
        let deg = std::f64::consts::PI / 180.0;
        let (alt, az) = (opts.altitude * deg, opts.azimuth * deg);
        // gdaldem's constants, rounded in its order (the scale goes into 1/res, see `compute`)
        let z_factor = opts.z_factor / if opts.gradient == Gradient::ZevenbergenThorne { 2.0 } else { 8.0 };
        let cos_alt_z = alt.cos() * z_factor;
        let (cos_az_cos_alt_z, sin_az_cos_alt_z) = (az.cos() * cos_alt_z, az.sin() * cos_alt_z);
        Ok(Params {
            product,
            res,
            scale,
            hs: [254.0 * alt.sin(), 254.0 * cos_az_cos_alt_z, 254.0 * sin_az_cos_alt_z, z_factor * z_factor],
            gradient: opts.gradient,
            hillshade: opts.hillshade,
            tri: opts.tri,
            zero_for_flat: opts.zero_for_flat,
            trigonometric: opts.trigonometric,
            shade: Shade {
                sin_alt: alt.sin(),
                cos_az_cos_alt_z,
                sin_az_cos_alt_z,
                square_z: z_factor * z_factor,
                z: z_factor,
                az,
                sin_alt_127: 127.0 * alt.sin(),
                sin_alt_254: 254.0 * alt.sin(),
                cos_alt_z_127: 127.0 * cos_alt_z,
                cos225_cos_alt_z_127: 127.0 * (225.0 * deg).cos() * cos_alt_z,
            },
        })
    }
}

/// `a / sqrt(b)` as gdaldem's hillshade computes it on x86-64 (GDAL's SSE2 build): the f32
/// reciprocal-square-root estimate of `b` (`rsqrtss`) refined by one Newton step in f64. A
/// denominator beyond f32 range (near-vertical cells of absurd DEMs) makes the estimate 0 and the
/// shade 1, as gdaldem's. Other targets divide exactly, as GDAL's builds without SSE2 do.
#[inline(always)]
pub(super) fn div_sqrt_like_gdal(a: f64, b: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rsqrt_ss, _mm_set_ss};
        #[allow(unsafe_code)]
        // SAFETY: SSE is part of the x86-64 baseline, so every x86-64 CPU has these instructions;
        // they only read and write registers.
        let est = f64::from(unsafe { _mm_cvtss_f32(_mm_rsqrt_ss(_mm_set_ss(b as f32))) });
        a * (est * (1.5 - (b * 0.5) * (est * est)))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        a / b.sqrt()
    }
}

/// Hillshade's byte output (nodata 0).
pub(super) fn hillshade_byte(v: f32) -> u8 {
    if v == NODATA {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}
