//! Cloud, shadow, snow and nodata masks: Sentinel-2 SCL classes and Landsat QA_PIXEL bits, and
//! mask bands mapped onto the band grid.

use super::*;

/// Sentinel-2 SCL classes masked by default: 0 no data, 1 saturated/defective, 3 cloud shadow,
/// 8 cloud medium, 9 cloud high, 10 thin cirrus, 11 snow.
pub const SCL_DEFAULT_MASK: [u8; 7] = [0, 1, 3, 8, 9, 10, 11];

/// Landsat QA_PIXEL bits masked by default: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud,
/// 4 cloud shadow, 5 snow.
pub const QA_PIXEL_DEFAULT_BITS: [u8; 6] = [0, 1, 2, 3, 4, 5];

/// Validity from an SCL band: `false` where the class is in `masked`.
pub fn scl_valid(scl: &[u8], masked: &[u8]) -> Vec<bool> {
    let mut table = [true; 256];
    for &c in masked {
        table[c as usize] = false;
    }
    scl.iter().map(|c| table[*c as usize]).collect()
}

/// Validity from a Landsat QA_PIXEL band: `false` where any of `bits` is set.
pub fn qa_pixel_valid(qa: &[u16], bits: &[u8]) -> Vec<bool> {
    // bits beyond 15 cannot be set in a u16
    let m: u16 = bits.iter().fold(0, |m, &b| m | 1u16.checked_shl(b as u32).unwrap_or(0));
    qa.iter().map(|v| v & m == 0).collect()
}

/// A mask band (SCL or QA_PIXEL): the first band of a raster, or borrowed row-major cells on a
/// grid (e.g. a numpy array lent by a binding). Integer cells are read in place.
#[derive(Debug, Clone, Copy)]
pub enum Mask<'a> {
    /// The raster's first band.
    Raster(&'a crate::Raster),
    /// `width × height` cells, row-major, on `transform`.
    Cells {
        /// The cells.
        cells: crate::BandView<'a>,
        /// Columns.
        width: usize,
        /// Rows.
        height: usize,
        /// Geotransform.
        transform: crate::GeoTransform,
    },
}

impl<'a> From<&'a crate::Raster> for Mask<'a> {
    fn from(r: &'a crate::Raster) -> Self {
        Mask::Raster(r)
    }
}

/// A mask raster mapped onto the band grid: same grid, or an aligned integer factor coarser.
pub(super) struct MaskGrid<'a> {
    pub(super) data: MaskData<'a>,
    pub(super) width: usize,
    pub(super) ky: usize,
    /// band columns per mask column
    pub(super) kx: usize,
    /// mask column of each band column
    pub(super) colmap: Vec<u32>,
}

/// Mask cells: SCL (u8) and QA_PIXEL (u16) bands are read in place; other types are converted
/// once (NaN → u32::MAX).
pub(super) enum MaskData<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    Other(Vec<u32>),
}

impl<'a> MaskGrid<'a> {
    pub(super) fn new(mask: Mask<'a>, target: &BandGrid) -> Result<Self> {
        let (tw, th) = (target.width, target.height);
        let (mw, mh, mt) = match mask {
            Mask::Raster(r) => (r.width(), r.height(), r.transform),
            Mask::Cells { width, height, transform, .. } => (width, height, transform),
        };
        let (tg, mg) = (target.transform.0, mt.0);
        let fx = mg[1] / tg[1];
        let fy = mg[5] / tg[5];
        let aligned = (mg[0] - tg[0]).abs() < 1e-6 * tg[1].abs() && (mg[3] - tg[3]).abs() < 1e-6 * tg[5].abs();
        let integer = (fx - fx.round()).abs() < 1e-9 && (fy - fy.round()).abs() < 1e-9 && fx >= 1.0 && fy >= 1.0;
        let (kx, ky) = (fx.round() as usize, fy.round() as usize);
        if !(aligned && integer) || mw.saturating_mul(kx) < tw || mh.saturating_mul(ky) < th {
            return Err(Error::InvalidInput(format!(
                "the mask grid ({mw}x{mh}, cell {}) is not the band grid ({tw}x{th}, cell {}) nor an aligned integer multiple of it",
                mg[1], tg[1]
            )));
        }
        let class = |v: f64| if v.is_nan() { u32::MAX } else { v as u32 };
        // the cells in place; a raster band that is not contiguous is converted
        let cells = match mask {
            Mask::Raster(r) => {
                let band = r.band(0)?;
                band.view().ok_or(band)
            }
            Mask::Cells { cells, .. } => Ok(cells),
        };
        use crate::BandView as B;
        macro_rules! other {
            ($a:expr) => {
                MaskData::Other($a.iter().map(|v| class(*v as f64)).collect())
            };
        }
        let data = match cells {
            Err(band) => MaskData::Other(band.to_f64().iter().map(|v| class(*v)).collect()),
            Ok(c) if mw.checked_mul(mh) != Some(c.len()) => {
                return Err(Error::InvalidInput(format!("the mask has {} cells, expected {mw} × {mh}", c.len())))
            }
            Ok(B::U8(a)) => MaskData::U8(a),
            Ok(B::U16(a)) => MaskData::U16(a),
            Ok(B::I8(a)) => other!(a),
            Ok(B::I16(a)) => other!(a),
            Ok(B::I32(a)) => other!(a),
            Ok(B::U32(a)) => other!(a),
            Ok(B::F32(a)) => other!(a),
            Ok(B::F64(a)) => other!(a),
        };
        let colmap = (0..tw).map(|c| (c / kx) as u32).collect();
        Ok(MaskGrid { data, width: mw, ky, kx, colmap })
    }
    /// `dst[i] = src[i] & keep(mask cell)` (all-ones / zero lane masks) for band columns `c0..`
    /// of band row `row`. Source and destination differ so that the store is unconditional (an
    /// in-place `&=` compiles to a masked store, which is microcoded and slow on some CPUs).
    #[inline(always)]
    pub(super) fn apply(&self, row: usize, c0: usize, src: &[u32], dst: &mut [u32], keep: impl Fn(u32) -> bool) {
        let r = (row / self.ky) * self.width..(row / self.ky + 1) * self.width;
        let len = dst.len();
        let same_columns = self.width == self.colmap.len();
        macro_rules! go {
            ($d:expr) => {{
                let base = &$d[r];
                if same_columns {
                    // same grid: the mask row is read in place, no column map
                    for ((ok, &v), &x) in dst.iter_mut().zip(src).zip(&base[c0..c0 + len]) {
                        *ok = v & (keep(x as u32) as u32).wrapping_neg();
                    }
                } else if self.kx == 2 {
                    // the usual coarser mask (Sentinel-2's 20 m SCL over 10 m bands): one mask
                    // cell per pair of band columns, read in order without a column map
                    let (src, dst) = (&src[..len], &mut dst[..len]);
                    let head = c0 % 2;
                    if head == 1 && len > 0 {
                        dst[0] = src[0] & (keep(base[c0 / 2] as u32) as u32).wrapping_neg();
                    }
                    let h = head.min(len);
                    let (body_s, body_d) = (&src[h..], &mut dst[h..]);
                    let first = (c0 + h) / 2;
                    let pairs = body_d.len() / 2;
                    let cells = &base[first..first + pairs];
                    for ((d, s), &x) in body_d.chunks_exact_mut(2).zip(body_s.chunks_exact(2)).zip(cells) {
                        let k = (keep(x as u32) as u32).wrapping_neg();
                        d[0] = s[0] & k;
                        d[1] = s[1] & k;
                    }
                    if body_d.len() % 2 == 1 {
                        let i = body_d.len() - 1;
                        body_d[i] = body_s[i] & (keep(base[first + pairs] as u32) as u32).wrapping_neg();
                    }
                } else {
                    let cols = &self.colmap[c0..c0 + len];
                    for ((ok, &v), &c) in dst.iter_mut().zip(src).zip(cols) {
                        *ok = v & (keep(base[c as usize] as u32) as u32).wrapping_neg();
                    }
                }
            }};
        }
        match &self.data {
            MaskData::U8(d) => go!(d),
            MaskData::U16(d) => go!(d),
            MaskData::Other(d) => go!(d),
        }
    }
}
