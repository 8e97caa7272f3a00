//! Georeferenced rasters over [`ndarray`], keeping each band's native data type.
//!
//! * [`Raster`]: bands in memory + [`GeoTransform`] + [`Crs`] + nodata.
//! * [`GeoTiff`]: a lazily read GeoTIFF with block/window access
//!   ([`GeoTiff::read_window`], [`GeoTiff::blocks`]), so rasters larger than the memory budget
//!   can be processed block by block.
//! * [`write_geotiff`]: tiled, Deflate-compressed GeoTIFF that GDAL reads with identical
//!   georeferencing and nodata.

mod tiff;

pub use self::tiff::{write_geotiff, Compression, GeoTiff, GeoTiffWriteOptions, Predictor};
pub(crate) use self::tiff::{GeoTiffWriter, TiffLayout};

use crate::crs::Crs;
use crate::error::{Error, Result};
use ndarray::{s, Array2};

/// A cell data type, as stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    /// 8-bit unsigned.
    U8,
    /// 8-bit signed.
    I8,
    /// 16-bit signed.
    I16,
    /// 16-bit unsigned.
    U16,
    /// 32-bit signed.
    I32,
    /// 32-bit unsigned.
    U32,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl DataType {
    /// Bytes per sample.
    pub const fn size(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::I16 | DataType::U16 => 2,
            DataType::I32 | DataType::U32 | DataType::F32 => 4,
            DataType::F64 => 8,
        }
    }
    /// GDAL's name for the type (`Byte`, `Int16`, `Float32`, ...).
    pub const fn gdal_name(self) -> &'static str {
        match self {
            DataType::U8 => "Byte",
            DataType::I8 => "Int8",
            DataType::I16 => "Int16",
            DataType::U16 => "UInt16",
            DataType::I32 => "Int32",
            DataType::U32 => "UInt32",
            DataType::F32 => "Float32",
            DataType::F64 => "Float64",
        }
    }
}

/// One band's cells in their native type, row-major (`[row, col]`).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum BandData {
    U8(Array2<u8>),
    I8(Array2<i8>),
    I16(Array2<i16>),
    U16(Array2<u16>),
    I32(Array2<i32>),
    U32(Array2<u32>),
    F32(Array2<f32>),
    F64(Array2<f64>),
}

/// One band's cells borrowed in their native type, row-major and contiguous — what a caller
/// holding the data elsewhere (a numpy array, a typed array) lends to the core without a copy.
#[derive(Debug, Clone, Copy, PartialEq)]
#[allow(missing_docs)]
pub enum BandView<'a> {
    U8(&'a [u8]),
    I8(&'a [i8]),
    I16(&'a [i16]),
    U16(&'a [u16]),
    I32(&'a [i32]),
    U32(&'a [u32]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

impl BandView<'_> {
    /// Number of cells.
    pub fn len(&self) -> usize {
        match self {
            BandView::U8(s) => s.len(),
            BandView::I8(s) => s.len(),
            BandView::I16(s) => s.len(),
            BandView::U16(s) => s.len(),
            BandView::I32(s) => s.len(),
            BandView::U32(s) => s.len(),
            BandView::F32(s) => s.len(),
            BandView::F64(s) => s.len(),
        }
    }
    /// True when there is no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cells copied into an owned band of `height` rows × `width` columns (row-major), in
    /// their type.
    ///
    /// ```
    /// use landopp::{BandData, BandView};
    /// let b = BandView::U16(&[1, 2, 3, 4, 5, 6]).to_band(2, 3)?;
    /// assert!(matches!(&b, BandData::U16(a) if a[[1, 0]] == 4));
    /// assert_eq!(BandView::U8(&[1, 2]).to_band(2, 3).unwrap_err().code(), "INVALID_INPUT");
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn to_band(&self, height: usize, width: usize) -> Result<BandData> {
        let n = self.len();
        if height.checked_mul(width) != Some(n) {
            return Err(Error::InvalidInput(format!(
                "band has {n} cells, expected width × height = {width} × {height}"
            )));
        }
        let shape = (height, width);
        let a = |e: ndarray::ShapeError| Error::InvalidInput(e.to_string());
        Ok(match *self {
            BandView::U8(s) => BandData::U8(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::I8(s) => BandData::I8(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::I16(s) => BandData::I16(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::U16(s) => BandData::U16(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::I32(s) => BandData::I32(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::U32(s) => BandData::U32(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::F32(s) => BandData::F32(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
            BandView::F64(s) => BandData::F64(Array2::from_shape_vec(shape, s.to_vec()).map_err(a)?),
        })
    }
}

/// `$m!(rust type, variant)` for the sample type a [`DataType`] names, as one expression.
macro_rules! with_dtype {
    ($dtype:expr, $m:ident) => {
        match $dtype {
            $crate::raster::DataType::U8 => $m!(u8, U8),
            $crate::raster::DataType::I8 => $m!(i8, I8),
            $crate::raster::DataType::I16 => $m!(i16, I16),
            $crate::raster::DataType::U16 => $m!(u16, U16),
            $crate::raster::DataType::I32 => $m!(i32, I32),
            $crate::raster::DataType::U32 => $m!(u32, U32),
            $crate::raster::DataType::F32 => $m!(f32, F32),
            $crate::raster::DataType::F64 => $m!(f64, F64),
        }
    };
}
pub(crate) use with_dtype;

macro_rules! each_band {
    ($self:expr, $a:ident => $e:expr) => {
        match $self {
            BandData::U8($a) => $e,
            BandData::I8($a) => $e,
            BandData::I16($a) => $e,
            BandData::U16($a) => $e,
            BandData::I32($a) => $e,
            BandData::U32($a) => $e,
            BandData::F32($a) => $e,
            BandData::F64($a) => $e,
        }
    };
}

#[allow(clippy::unnecessary_cast)] // the macro casts every native type, f64 included
impl BandData {
    /// The data type.
    pub fn dtype(&self) -> DataType {
        match self {
            BandData::U8(_) => DataType::U8,
            BandData::I8(_) => DataType::I8,
            BandData::I16(_) => DataType::I16,
            BandData::U16(_) => DataType::U16,
            BandData::I32(_) => DataType::I32,
            BandData::U32(_) => DataType::U32,
            BandData::F32(_) => DataType::F32,
            BandData::F64(_) => DataType::F64,
        }
    }
    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        each_band!(self, a => a.dim())
    }
    /// Every cell converted to f64 (a copy).
    pub fn to_f64(&self) -> Array2<f64> {
        each_band!(self, a => a.mapv(|v| v as f64))
    }
    /// Every cell converted to f32 (a copy; exact for all types but i32/u32/f64 outside 2^24).
    pub fn to_f32(&self) -> Array2<f32> {
        each_band!(self, a => a.mapv(|v| v as f32))
    }
    /// Value at `[row, col]` as f64.
    pub fn get_f64(&self, row: usize, col: usize) -> Option<f64> {
        each_band!(self, a => a.get((row, col)).map(|v| *v as f64))
    }
    /// A copy of the window `rows × cols` starting at `(row, col)`.
    pub fn slice(&self, row: usize, col: usize, rows: usize, cols: usize) -> BandData {
        macro_rules! sl {
            ($v:ident, $a:ident) => {
                BandData::$v($a.slice(s![row..row + rows, col..col + cols]).to_owned())
            };
        }
        match self {
            BandData::U8(a) => sl!(U8, a),
            BandData::I8(a) => sl!(I8, a),
            BandData::I16(a) => sl!(I16, a),
            BandData::U16(a) => sl!(U16, a),
            BandData::I32(a) => sl!(I32, a),
            BandData::U32(a) => sl!(U32, a),
            BandData::F32(a) => sl!(F32, a),
            BandData::F64(a) => sl!(F64, a),
        }
    }
    /// The cells borrowed as a [`BandView`], when contiguous in row-major order.
    pub fn view(&self) -> Option<BandView<'_>> {
        Some(match self {
            BandData::U8(a) => BandView::U8(a.as_slice()?),
            BandData::I8(a) => BandView::I8(a.as_slice()?),
            BandData::I16(a) => BandView::I16(a.as_slice()?),
            BandData::U16(a) => BandView::U16(a.as_slice()?),
            BandData::I32(a) => BandView::I32(a.as_slice()?),
            BandData::U32(a) => BandView::U32(a.as_slice()?),
            BandData::F32(a) => BandView::F32(a.as_slice()?),
            BandData::F64(a) => BandView::F64(a.as_slice()?),
        })
    }
    /// `Some(())` when the cells are contiguous in row-major order.
    pub fn as_contiguous(&self) -> Option<()> {
        each_band!(self, a => a.as_slice().map(|_| ()))
    }
    /// (min, max, mean, valid count) ignoring `nodata` and NaN.
    pub fn stats(&self, nodata: Option<f64>) -> (f64, f64, f64, usize) {
        let (mut mn, mut mx, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
        each_band!(self, a => for &v in a.iter() {
            let v = v as f64;
            if v.is_nan() || Some(v) == nodata { continue; }
            mn = mn.min(v); mx = mx.max(v); sum += v; n += 1;
        });
        (mn, mx, if n > 0 { sum / n as f64 } else { f64::NAN }, n)
    }
}

/// GDAL-style affine geotransform: `x = gt[0] + col*gt[1] + row*gt[2]`,
/// `y = gt[3] + col*gt[4] + row*gt[5]` (coordinates of cell corners).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// North-up transform from the upper-left corner and cell size.
    pub fn north_up(x_min: f64, y_max: f64, xres: f64, yres: f64) -> Self {
        GeoTransform([x_min, xres, 0.0, y_max, 0.0, -yres.abs()])
    }
    /// True when there is no rotation/shear term.
    pub fn is_north_up(&self) -> bool {
        self.0[2] == 0.0 && self.0[4] == 0.0
    }
    /// Cell width in CRS units.
    pub fn xres(&self) -> f64 {
        self.0[1]
    }
    /// Cell height in CRS units (positive).
    pub fn yres(&self) -> f64 {
        self.0[5].abs()
    }
    /// World coordinates of the corner `(col, row)` (fractional allowed).
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (g[0] + col * g[1] + row * g[2], g[3] + col * g[4] + row * g[5])
    }
    /// Fractional `(col, row)` of a world coordinate (north-up or rotated).
    pub fn invert(&self, x: f64, y: f64) -> (f64, f64) {
        let g = &self.0;
        let det = g[1] * g[5] - g[2] * g[4];
        let dx = x - g[0];
        let dy = y - g[3];
        ((dx * g[5] - dy * g[2]) / det, (dy * g[1] - dx * g[4]) / det)
    }
    /// `(xmin, ymin, xmax, ymax)` of a `width × height` grid.
    pub fn bounds(&self, width: usize, height: usize) -> [f64; 4] {
        let pts = [
            self.apply(0.0, 0.0),
            self.apply(width as f64, 0.0),
            self.apply(0.0, height as f64),
            self.apply(width as f64, height as f64),
        ];
        let mut b = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for (x, y) in pts {
            b[0] = b[0].min(x);
            b[1] = b[1].min(y);
            b[2] = b[2].max(x);
            b[3] = b[3].max(y);
        }
        b
    }
}

/// A rectangular block of cells: `rows × cols` starting at `(row, col)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// First row.
    pub row: usize,
    /// First column.
    pub col: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

impl Window {
    /// A window.
    pub fn new(row: usize, col: usize, rows: usize, cols: usize) -> Self {
        Window { row, col, rows, cols }
    }
}

/// A georeferenced raster held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// Cell-corner geotransform.
    pub transform: GeoTransform,
    /// Coordinate reference system, when the file declares one.
    pub crs: Option<Crs>,
    /// Nodata value (applies to every band, as GDAL's GeoTIFF tag does).
    pub nodata: Option<f64>,
    bands: Vec<BandData>,
    /// Band descriptions (`None` where the file has none).
    pub band_names: Vec<Option<String>>,
}

/// What [`Raster::read_with`] reads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadOptions {
    /// Cells to read, in cells of the image read (default: all).
    pub window: Option<Window>,
    /// Band number (1-based, as GDAL numbers bands; default: every band).
    pub band: Option<usize>,
    /// Read this overview (0 = the finest, as rasterio's `overview_level`) instead of the full
    /// image ([`GeoTiff::overviews`] lists them).
    pub overview: Option<usize>,
    /// Read the coarsest image (an overview, or the full one) whose cells are no larger than this
    /// (CRS units), as GDAL picks an overview for a coarser read.
    pub resolution: Option<f64>,
}

/// The 0-based index of band number `number` (1-based, as GDAL, gdaldem `-b` and rasterio number
/// bands: every option and argument naming a band takes this number) in a raster of `count` bands.
pub(crate) fn band_index(number: usize, count: usize) -> Result<usize> {
    if number == 0 {
        return Err(Error::InvalidInput("band numbers start at 1 (as in GDAL), not 0".into()));
    }
    if number > count {
        return Err(Error::not_found("band", number.to_string(), vec![format!("1..={count}")]));
    }
    Ok(number - 1)
}

impl Raster {
    /// The value of band number `band` (1-based) at each point (the cell containing it, as `gdallocationinfo`):
    /// points are in `crs` and reprojected to the raster's CRS when they differ; a point outside
    /// the raster, on a nodata cell or NaN (or a NaN point) gives NaN.
    ///
    /// ```
    /// let dem = landopp::Raster::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dem.tif"))?;
    /// let t = dem.transform.0;
    /// let v = dem.sample(1, &[(t[0] + 5.0, t[3] - 5.0), (t[0] - 1e6, t[3])], None)?;
    /// assert_eq!(v[0], dem.band(0)?.get_f64(0, 0).unwrap());
    /// assert!(v[1].is_nan());
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn sample(&self, band: usize, points: &[(f64, f64)], crs: Option<&Crs>) -> Result<Vec<f64>> {
        let b = self.band(band_index(band, self.band_count())?)?;
        let to = match (crs, self.crs.as_ref()) {
            (Some(a), Some(r)) if a != r => Some(crate::crs::Transformer::new(a, r)?),
            (Some(a), None) => {
                return Err(Error::Crs(format!("the raster has no CRS; cannot relate points in {a} to it")));
            }
            _ => None,
        };
        points
            .iter()
            .map(|&(x, y)| {
                if x.is_nan() || y.is_nan() {
                    return Ok(f64::NAN);
                }
                // a point the transformation cannot take (latitude 95) is NaN like one outside
                let (x, y) = match &to {
                    Some(t) => match t.transform_point(x, y) {
                        Ok(p) => p,
                        Err(_) => return Ok(f64::NAN),
                    },
                    None => (x, y),
                };
                let (c, r) = self.transform.invert(x, y);
                let inside = c >= 0.0 && r >= 0.0 && c < self.width() as f64 && r < self.height() as f64;
                Ok(if inside {
                    b.get_f64(r as usize, c as usize).filter(|v| Some(*v) != self.nodata).unwrap_or(f64::NAN)
                } else {
                    f64::NAN
                })
            })
            .collect()
    }

    /// Build a raster from bands of equal shape.
    pub fn new(bands: Vec<BandData>, transform: GeoTransform, crs: Option<Crs>, nodata: Option<f64>) -> Result<Self> {
        let first = bands.first().ok_or_else(|| Error::Empty("a raster needs at least one band".into()))?;
        let shape = first.shape();
        if let Some(b) = bands.iter().find(|b| b.shape() != shape) {
            return Err(Error::InvalidInput(format!("band shapes differ: {:?} vs {:?}", shape, b.shape())));
        }
        if shape.0 == 0 || shape.1 == 0 {
            return Err(Error::Empty(format!("raster of {}x{} cells", shape.1, shape.0)));
        }
        if transform.0.iter().any(|v| !v.is_finite()) || transform.0[1] == 0.0 || transform.0[5] == 0.0 {
            return Err(Error::InvalidInput(format!("degenerate geotransform {:?}", transform.0)));
        }
        let n = bands.len();
        Ok(Raster { transform, crs, nodata, bands, band_names: vec![None; n] })
    }

    /// Convenience: a single-band f64 raster.
    pub fn from_f64(data: Array2<f64>, transform: GeoTransform, crs: Option<Crs>, nodata: Option<f64>) -> Result<Self> {
        Self::new(vec![BandData::F64(data)], transform, crs, nodata)
    }

    /// Read a whole GeoTIFF into memory (`read`: everything now, file closed; [`GeoTiff::open`]
    /// gives a handle that reads windows on demand).
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Self> {
        GeoTiff::open(path)?.read()
    }

    /// Read part of a GeoTIFF: a window (default: the whole grid) of one band (default: all);
    /// only the chunks the window touches, and only that band where the file stores bands apart,
    /// are decoded.
    ///
    /// ```
    /// use landopp::raster::{Raster, ReadOptions, Window};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dem.tif");
    /// let part = Raster::read_with(
    ///     path,
    ///     &ReadOptions { window: Some(Window::new(10, 20, 5, 8)), band: Some(1), ..Default::default() },
    /// )?;
    /// assert_eq!((part.height(), part.width()), (5, 8));
    /// # Ok::<(), landopp::Error>(())
    /// ```
    pub fn read_with(path: impl AsRef<std::path::Path>, opts: &ReadOptions) -> Result<Self> {
        let full = GeoTiff::open(path)?;
        let t = match (opts.overview, opts.resolution) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidInput("give an overview or a resolution, not both".into()));
            }
            (Some(k), None) => full.overview(k)?,
            (None, Some(r)) => full.at_resolution(r)?,
            (None, None) => full,
        };
        let w = opts.window.unwrap_or(Window::new(0, 0, t.height(), t.width()));
        match opts.band {
            Some(b) => t.read_window_raster_bands(w, &[band_index(b, t.band_count())?]),
            None => t.read_window_raster(w),
        }
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.bands[0].shape().1
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.bands[0].shape().0
    }
    /// Number of bands.
    pub fn band_count(&self) -> usize {
        self.bands.len()
    }
    /// Band at index `i` of [`bands`](Self::bands) (0-based: band number − 1).
    pub fn band(&self, i: usize) -> Result<&BandData> {
        self.bands
            .get(i)
            .ok_or_else(|| Error::not_found("band", (i + 1).to_string(), vec![format!("1..={}", self.bands.len())]))
    }
    /// All bands.
    pub fn bands(&self) -> &[BandData] {
        &self.bands
    }
    /// Consume into bands.
    pub fn into_bands(self) -> Vec<BandData> {
        self.bands
    }
    /// `(xmin, ymin, xmax, ymax)`.
    pub fn bounds(&self) -> [f64; 4] {
        self.transform.bounds(self.width(), self.height())
    }
    /// A copy of a window of every band, with its own geotransform.
    pub fn window(&self, w: Window) -> Result<Raster> {
        if w.row + w.rows > self.height() || w.col + w.cols > self.width() || w.rows == 0 || w.cols == 0 {
            return Err(Error::InvalidInput(format!(
                "window {w:?} outside raster of {}x{}",
                self.width(),
                self.height()
            )));
        }
        let (x0, y0) = self.transform.apply(w.col as f64, w.row as f64);
        let g = self.transform.0;
        let bands = self.bands.iter().map(|b| b.slice(w.row, w.col, w.rows, w.cols)).collect();
        let mut r = Raster::new(bands, GeoTransform([x0, g[1], g[2], y0, g[4], g[5]]), self.crs.clone(), self.nodata)?;
        r.band_names = self.band_names.clone();
        Ok(r)
    }
}

/// Split a `width × height` grid into windows of at most `block_rows × block_cols`.
pub fn block_windows(width: usize, height: usize, block_rows: usize, block_cols: usize) -> Vec<Window> {
    let (br, bc) = (block_rows.max(1), block_cols.max(1));
    let mut v = Vec::new();
    for r in (0..height).step_by(br) {
        for c in (0..width).step_by(bc) {
            v.push(Window::new(r, c, br.min(height - r), bc.min(width - c)));
        }
    }
    v
}
