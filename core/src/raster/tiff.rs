//! GeoTIFF reading (classic and BigTIFF; stripped or tiled; none/LZW/Deflate/PackBits; horizontal
//! and floating-point predictors; chunky or planar) and writing (tiled, Deflate).
//!
//! Chunks (strips or tiles) are read with positional reads and decoded in parallel, so a whole
//! raster decodes on every core while a window touches only the chunks it needs.

use super::{BandData, DataType, GeoTransform, Raster, Window};
use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::output::AtomicFile;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

const FMT: &str = "GeoTIFF";

/// Most samples per pixel accepted (hyperspectral cubes have a few hundred bands).
const MAX_BANDS: u64 = 65_535;
/// Largest image or chunk edge accepted (GDAL's limit: `INT_MAX`).
const MAX_EDGE: u64 = i32::MAX as u64;
/// A read may always allocate this much, whatever the file's size (sparse files, tiny rasters).
const READ_FLOOR_BYTES: u64 = 32 << 20;
/// Above the floor, a read may decode at most this many bytes per byte of file: more than the
/// best case of any supported compression (Deflate ≤ 1,032×, TIFF LZW ≤ ~1,365×), so only a
/// corrupt header or a mostly sparse file exceeds it.
const READ_BYTES_PER_FILE_BYTE: u64 = 2048;

// TIFF tags
const IMAGE_WIDTH: u16 = 256;
const IMAGE_LENGTH: u16 = 257;
const BITS_PER_SAMPLE: u16 = 258;
const COMPRESSION: u16 = 259;
const PHOTOMETRIC: u16 = 262;
const STRIP_OFFSETS: u16 = 273;
const SAMPLES_PER_PIXEL: u16 = 277;
const ROWS_PER_STRIP: u16 = 278;
const STRIP_BYTE_COUNTS: u16 = 279;
const PLANAR_CONFIG: u16 = 284;
const PREDICTOR: u16 = 317;
const TILE_WIDTH: u16 = 322;
const TILE_LENGTH: u16 = 323;
const TILE_OFFSETS: u16 = 324;
const TILE_BYTE_COUNTS: u16 = 325;
const EXTRA_SAMPLES: u16 = 338;
const SAMPLE_FORMAT: u16 = 339;
const MODEL_PIXEL_SCALE: u16 = 33550;
const MODEL_TIEPOINT: u16 = 33922;
const MODEL_TRANSFORMATION: u16 = 34264;
const GEO_KEY_DIRECTORY: u16 = 34735;
const GEO_DOUBLE_PARAMS: u16 = 34736;
const GEO_ASCII_PARAMS: u16 = 34737;
const GDAL_METADATA: u16 = 42112;
const GDAL_NODATA: u16 = 42113;

/// On-disk compression of a written GeoTIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// No compression.
    None,
    /// zlib/Deflate (GDAL `COMPRESS=DEFLATE`), with the given level 1..=9.
    Deflate(u32),
}

impl Compression {
    /// `"deflate"` (level 6, GDAL's default) or `"none"`, case-insensitive.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "deflate" => Ok(Compression::Deflate(6)),
            "none" => Ok(Compression::None),
            other => Err(Error::InvalidInput(format!("compress must be 'deflate' or 'none', got {other:?}"))),
        }
    }
}

/// Predictor applied before compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Predictor {
    /// None (TIFF predictor 1).
    None,
    /// Horizontal differencing (TIFF predictor 2), for integer types.
    Horizontal,
    /// Floating-point predictor (TIFF predictor 3), for f32/f64.
    FloatingPoint,
}

/// Options of [`write_geotiff`].
#[derive(Debug, Clone, Copy)]
pub struct GeoTiffWriteOptions {
    /// Tile edge in cells (multiple of 16).
    pub tile_size: usize,
    /// Compression.
    pub compression: Compression,
    /// Predictor.
    pub predictor: Predictor,
}

impl Default for GeoTiffWriteOptions {
    fn default() -> Self {
        GeoTiffWriteOptions { tile_size: 256, compression: Compression::Deflate(6), predictor: Predictor::None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Endian {
    Little,
    Big,
}

#[derive(Debug, Clone)]
struct Entry {
    typ: u16,
    count: u64,
    data: Vec<u8>,
}

fn type_size(t: u16) -> usize {
    match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => 0,
    }
}

impl Entry {
    fn u64s(&self, e: Endian) -> Vec<u64> {
        let sz = type_size(self.typ);
        (0..self.count as usize)
            .filter_map(|i| {
                let b = self.data.get(i * sz..i * sz + sz)?;
                Some(match self.typ {
                    1 | 7 => b[0] as u64,
                    3 => rd_u16(b, e) as u64,
                    4 | 13 => rd_u32(b, e) as u64,
                    16 | 18 => rd_u64(b, e),
                    8 => rd_u16(b, e) as i16 as i64 as u64,
                    9 => rd_u32(b, e) as i32 as i64 as u64,
                    _ => return None,
                })
            })
            .collect()
    }
    fn f64s(&self, e: Endian) -> Vec<f64> {
        let sz = type_size(self.typ);
        (0..self.count as usize)
            .filter_map(|i| {
                let b = self.data.get(i * sz..i * sz + sz)?;
                Some(match self.typ {
                    11 => f32::from_bits(rd_u32(b, e)) as f64,
                    12 => f64::from_bits(rd_u64(b, e)),
                    5 => rd_u32(b, e) as f64 / rd_u32(&b[4..], e) as f64,
                    10 => rd_u32(b, e) as i32 as f64 / rd_u32(&b[4..], e) as i32 as f64,
                    _ => return self.u64s(e).get(i).map(|v| *v as f64),
                })
            })
            .collect()
    }
    fn string(&self) -> String {
        let s = String::from_utf8_lossy(&self.data);
        s.trim_end_matches('\0').to_string()
    }
}

fn rd_u16(b: &[u8], e: Endian) -> u16 {
    let a = [b[0], b[1]];
    if e == Endian::Little {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    }
}
fn rd_u32(b: &[u8], e: Endian) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if e == Endian::Little {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}
fn rd_u64(b: &[u8], e: Endian) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    if e == Endian::Little {
        u64::from_le_bytes(a)
    } else {
        u64::from_be_bytes(a)
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, off)
}

#[cfg(windows)]
fn read_at(f: &File, mut buf: &mut [u8], mut off: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = f.seek_read(buf, off)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        off += n as u64;
    }
    Ok(())
}

/// An opened GeoTIFF: metadata is parsed, cells are read on demand.
#[derive(Debug)]
pub struct GeoTiff {
    path: PathBuf,
    file: File,
    file_len: u64,
    endian: Endian,
    width: usize,
    height: usize,
    bands: usize,
    dtype: DataType,
    compression: u16,
    predictor: u16,
    planar: bool,
    chunk_w: usize,
    chunk_h: usize,
    tiled: bool,
    offsets: Vec<u64>,
    byte_counts: Vec<u64>,
    transform: GeoTransform,
    crs: Option<Crs>,
    crs_error: Option<String>,
    nodata: Option<f64>,
    band_names: Vec<Option<String>>,
}

impl GeoTiff {
    /// Open a GeoTIFF and parse its first image's metadata.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        crate::error::regular_file(&path, "raster")?;
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let ferr = |m: String| Error::format(FMT, &path, m);
        let mut head = [0u8; 16];
        if file_len < 8 {
            return Err(ferr(format!("file is {file_len} bytes, too short for a TIFF header")));
        }
        read_at(&file, &mut head[..8.min(file_len as usize)], 0).map_err(|e| Error::io(&path, e))?;
        let endian = match &head[..2] {
            b"II" => Endian::Little,
            b"MM" => Endian::Big,
            _ => return Err(ferr("not a TIFF file (bad byte-order mark)".into())),
        };
        let magic = rd_u16(&head[2..], endian);
        let big = match magic {
            42 => false,
            43 => true,
            m => return Err(ferr(format!("not a TIFF file (magic {m})"))),
        };
        let ifd_off = if big {
            if file_len < 16 {
                return Err(ferr("truncated BigTIFF header".into()));
            }
            read_at(&file, &mut head, 0).map_err(|e| Error::io(&path, e))?;
            rd_u64(&head[8..], endian)
        } else {
            rd_u32(&head[4..], endian) as u64
        };
        let tags = read_ifd(&file, file_len, ifd_off, endian, big).map_err(ferr)?;
        let get = |t: u16| tags.get(&t).map(|e| e.u64s(endian)).unwrap_or_default();
        let one = |t: u16, d: u64| get(t).first().copied().unwrap_or(d);
        // Every size below is checked before it sizes anything.
        let width = one(IMAGE_WIDTH, 0);
        let height = one(IMAGE_LENGTH, 0);
        if width == 0 || height == 0 {
            return Err(ferr("missing or zero image width/height".into()));
        }
        if width > MAX_EDGE || height > MAX_EDGE {
            return Err(ferr(format!("image of {width} x {height} cells: an edge over {MAX_EDGE}")));
        }
        let bands = one(SAMPLES_PER_PIXEL, 1);
        if bands == 0 || bands > MAX_BANDS {
            return Err(ferr(format!("SamplesPerPixel {bands}: must be 1 to {MAX_BANDS}")));
        }
        let (width, height, bands) = (width as usize, height as usize, bands as usize);
        let bps = one(BITS_PER_SAMPLE, 1);
        let fmt = one(SAMPLE_FORMAT, 1);
        let dtype = match (fmt, bps) {
            (1, 8) => DataType::U8,
            (2, 8) => DataType::I8,
            (1, 16) => DataType::U16,
            (2, 16) => DataType::I16,
            (1, 32) => DataType::U32,
            (2, 32) => DataType::I32,
            (3, 32) => DataType::F32,
            (3, 64) => DataType::F64,
            (f, b) => {
                return Err(Error::Unsupported(format!(
                    "{}: sample format {f} with {b} bits per sample",
                    path.display()
                )))
            }
        };
        let compression = one(COMPRESSION, 1) as u16;
        if !matches!(compression, 1 | 5 | 8 | 32946 | 32773) {
            let name = match compression {
                6 | 7 => "JPEG",
                34887 => "LERC",
                34925 => "LZMA",
                50000 => "ZSTD",
                50001 => "WEBP",
                _ => "unknown",
            };
            return Err(Error::Unsupported(format!(
                "{}: TIFF compression {compression} ({name}); supported: none, LZW, Deflate, PackBits",
                path.display()
            )));
        }
        let predictor = one(PREDICTOR, 1) as u16;
        if !matches!(predictor, 1..=3) {
            return Err(Error::Unsupported(format!("{}: TIFF predictor {predictor}", path.display())));
        }
        let planar = one(PLANAR_CONFIG, 1) == 2;
        let tiled = tags.contains_key(&TILE_OFFSETS);
        let (chunk_w, chunk_h, offsets, byte_counts) = if tiled {
            (one(TILE_WIDTH, 0), one(TILE_LENGTH, 0), get(TILE_OFFSETS), get(TILE_BYTE_COUNTS))
        } else {
            let rps = one(ROWS_PER_STRIP, height as u64).min(height as u64);
            (width as u64, rps, get(STRIP_OFFSETS), get(STRIP_BYTE_COUNTS))
        };
        if chunk_w == 0 || chunk_h == 0 || chunk_w > MAX_EDGE || chunk_h > MAX_EDGE {
            return Err(ferr(format!("tile or strip of {chunk_w} x {chunk_h} cells")));
        }
        let (chunk_w, chunk_h) = (chunk_w as usize, chunk_h as usize);
        let spp = if planar { 1 } else { bands };
        // a chunk's decoded size, and the chunk count, in checked arithmetic (edges < 2^31)
        let chunk_bytes = (chunk_w as u64 * chunk_h as u64).checked_mul((spp * dtype.size()) as u64);
        let per_plane = (width.div_ceil(chunk_w) as u64).checked_mul(height.div_ceil(chunk_h) as u64);
        let expected = per_plane.and_then(|n| n.checked_mul(if planar { bands as u64 } else { 1 }));
        let (Some(_), Some(expected)) = (chunk_bytes, expected) else {
            return Err(ferr(format!(
                "{width} x {height} cells in {chunk_w} x {chunk_h} chunks of {bands} bands overflow"
            )));
        };
        if (offsets.len() as u64) < expected || (byte_counts.len() as u64) < expected {
            return Err(ferr(format!(
                "{} chunk offsets / {} byte counts for {} chunks",
                offsets.len(),
                byte_counts.len(),
                expected
            )));
        }
        for (o, c) in offsets.iter().zip(&byte_counts).take(expected as usize) {
            if o.saturating_add(*c) > file_len {
                return Err(ferr(format!(
                    "file is truncated: a chunk at byte {o} of length {c} ends past the end of the file ({file_len} bytes)"
                )));
            }
        }
        let (transform, crs, crs_error) = georef(&tags, endian);
        let nodata = tags.get(&GDAL_NODATA).and_then(|e| {
            let s = e.string();
            let s = s.trim();
            if s.eq_ignore_ascii_case("nan") {
                Some(f64::NAN)
            } else {
                s.parse::<f64>().ok()
            }
        });
        let mut band_names = vec![None; bands];
        if let Some(md) = tags.get(&GDAL_METADATA) {
            parse_band_descriptions(&md.string(), &mut band_names);
        }
        Ok(GeoTiff {
            path,
            file,
            file_len,
            endian,
            width,
            height,
            bands,
            dtype,
            compression,
            predictor,
            planar,
            chunk_w,
            chunk_h,
            tiled,
            offsets,
            byte_counts,
            transform,
            crs,
            crs_error,
            nodata,
            band_names,
        })
    }

    /// Columns.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Number of bands.
    pub fn band_count(&self) -> usize {
        self.bands
    }
    /// Cell data type.
    pub fn dtype(&self) -> DataType {
        self.dtype
    }
    /// Geotransform (GDAL convention; PixelIsPoint files are shifted by half a cell as GDAL does).
    pub fn transform(&self) -> GeoTransform {
        self.transform
    }
    /// CRS from the geokeys, if any.
    pub fn crs(&self) -> Option<&Crs> {
        self.crs.as_ref()
    }
    /// Why the geokeys could not be turned into a CRS, if they could not.
    pub fn crs_error(&self) -> Option<&str> {
        self.crs_error.as_deref()
    }
    /// GDAL nodata value.
    pub fn nodata(&self) -> Option<f64> {
        self.nodata
    }
    /// Band descriptions from GDAL metadata.
    pub fn band_names(&self) -> &[Option<String>] {
        &self.band_names
    }
    /// `(block_rows, block_cols)`: the native tile or strip size.
    pub fn block_size(&self) -> (usize, usize) {
        (self.chunk_h, self.chunk_w)
    }
    /// True for tiled files (false for strips).
    pub fn is_tiled(&self) -> bool {
        self.tiled
    }
    /// Compression name.
    pub fn compression_name(&self) -> &'static str {
        match self.compression {
            1 => "NONE",
            5 => "LZW",
            8 | 32946 => "DEFLATE",
            32773 => "PACKBITS",
            _ => "UNKNOWN",
        }
    }
    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Windows aligned to the native blocks, covering the raster: process a raster larger than
    /// memory one window at a time with [`read_window`](Self::read_window).
    pub fn blocks(&self) -> Vec<Window> {
        super::block_windows(self.width, self.height, self.chunk_h, self.chunk_w)
    }

    /// Read the whole raster (all bands) into memory.
    pub fn read(&self) -> Result<Raster> {
        let w = Window::new(0, 0, self.height, self.width);
        let bands = self.read_bands_window(w)?;
        let mut r = Raster::new(bands, self.transform, self.crs.clone(), self.nodata)?;
        r.band_names = self.band_names.clone();
        Ok(r)
    }

    /// Read one band (0-based) into memory.
    pub fn read_band(&self, band: usize) -> Result<BandData> {
        self.read_window(band, Window::new(0, 0, self.height, self.width))
    }

    /// Read a window of one band (0-based), touching only the chunks that overlap it.
    pub fn read_window(&self, band: usize, w: Window) -> Result<BandData> {
        if band >= self.bands {
            return Err(Error::not_found("band", (band + 1).to_string(), vec![format!("1..={}", self.bands)]));
        }
        self.check_window(w)?;
        let mut v = self.read_selected(w, &[band])?;
        Ok(v.remove(0))
    }

    /// Read a window of every band.
    pub fn read_bands_window(&self, w: Window) -> Result<Vec<BandData>> {
        self.check_window(w)?;
        let all: Vec<usize> = (0..self.bands).collect();
        self.read_selected(w, &all)
    }

    /// Read a window of every band as a [`Raster`] with the window's geotransform.
    pub fn read_window_raster(&self, w: Window) -> Result<Raster> {
        let all: Vec<usize> = (0..self.bands).collect();
        self.read_window_raster_bands(w, &all)
    }

    /// Read a window of some bands (0-based, in the order given) as a [`Raster`] with the
    /// window's geotransform and those bands' names. The other bands are not decoded where the
    /// file stores bands apart (planar); pixel-interleaved chunks are decoded once for all.
    pub fn read_window_raster_bands(&self, w: Window, bands: &[usize]) -> Result<Raster> {
        if let Some(&b) = bands.iter().find(|&&b| b >= self.bands) {
            return Err(Error::not_found("band", (b + 1).to_string(), vec![format!("1..={}", self.bands)]));
        }
        self.check_window(w)?;
        let data = self.read_selected(w, bands)?;
        let (x0, y0) = self.transform.apply(w.col as f64, w.row as f64);
        let g = self.transform.0;
        let mut r = Raster::new(data, GeoTransform([x0, g[1], g[2], y0, g[4], g[5]]), self.crs.clone(), self.nodata)?;
        r.band_names = bands.iter().map(|&b| self.band_names.get(b).cloned().flatten()).collect();
        Ok(r)
    }

    fn check_window(&self, w: Window) -> Result<()> {
        let inside = |start: usize, len: usize, size: usize| start.checked_add(len).is_some_and(|end| end <= size);
        if w.rows == 0 || w.cols == 0 || !inside(w.row, w.rows, self.height) || !inside(w.col, w.cols, self.width) {
            return Err(Error::InvalidInput(format!(
                "window {w:?} is outside the {}x{} raster {}",
                self.width,
                self.height,
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Refuse a read whose output no file of this size could hold (a corrupt header claiming a
    /// huge raster in a small file) before allocating it.
    pub(crate) fn check_budget(&self, w: Window, bands: usize) -> Result<()> {
        let bytes = (w.rows as u64 * w.cols as u64).saturating_mul((bands * self.dtype.size()) as u64);
        let limit = READ_FLOOR_BYTES.max(self.file_len.saturating_mul(READ_BYTES_PER_FILE_BYTE));
        if bytes > limit {
            return Err(Error::format(
                FMT,
                &self.path,
                format!(
                    "a read of {} x {} cells x {bands} bands ({bytes} bytes) is more than a {}-byte file can hold: \
                     the header is corrupt, or the file is mostly sparse (read it in smaller windows)",
                    w.cols, w.rows, self.file_len
                ),
            ));
        }
        Ok(())
    }

    fn read_selected(&self, w: Window, bands: &[usize]) -> Result<Vec<BandData>> {
        self.check_budget(w, bands.len())?;
        macro_rules! go {
            ($t:ty, $v:ident) => {
                self.read_typed::<$t>(w, bands)?.into_iter().map(BandData::$v).collect()
            };
        }
        Ok(super::with_dtype!(self.dtype, go))
    }

    fn read_typed<T: Sample>(&self, w: Window, bands: &[usize]) -> Result<Vec<Array2<T>>> {
        let mut out: Vec<Array2<T>> = bands.iter().map(|_| Array2::from_elem((w.rows, w.cols), T::ZERO)).collect();
        let across = self.width.div_ceil(self.chunk_w);
        let down = self.height.div_ceil(self.chunk_h);
        let per_plane = across * down;
        let (cr0, cr1) = (w.row / self.chunk_h, (w.row + w.rows - 1) / self.chunk_h);
        let (cc0, cc1) = (w.col / self.chunk_w, (w.col + w.cols - 1) / self.chunk_w);
        // (chunk index, plane band or None for chunky, chunk row, chunk col)
        let mut jobs = Vec::new();
        for cr in cr0..=cr1 {
            for cc in cc0..=cc1 {
                if self.planar {
                    for (k, &b) in bands.iter().enumerate() {
                        jobs.push((b * per_plane + cr * across + cc, Some(k), cr, cc));
                    }
                } else {
                    jobs.push((cr * across + cc, None, cr, cc));
                }
            }
        }
        let spp = if self.planar { 1 } else { self.bands };
        let sz = self.dtype.size();
        // Sparse chunks (GDAL SPARSE_OK: byte count 0) are nodata, or zero.
        let fill = {
            let mut b = Vec::with_capacity(8);
            write_sample(&mut b, self.dtype, self.nodata.unwrap_or(0.0));
            T::from_ne(&b)
        };
        // Decode in batches of about 32 MiB so memory stays bounded on huge windows.
        let chunk_bytes = self.chunk_w * self.chunk_h * spp * sz;
        let batch = (32usize << 20).div_ceil(chunk_bytes.max(1)).max(rayon::current_num_threads());
        for jb in jobs.chunks(batch) {
            // Decode and convert to typed samples in parallel; the copy below is row memcpy.
            let decoded: Vec<Option<Vec<T>>> = jb
                .par_iter()
                .map(|&(idx, _, cr, _)| {
                    if self.byte_counts[idx] == 0 {
                        return Ok(None);
                    }
                    let buf = self.decode_chunk(idx, cr, spp)?;
                    Ok(Some(buf.chunks_exact(sz).map(T::from_ne).collect()))
                })
                .collect::<Result<_>>()?;
            for (&(_, plane, cr, cc), buf) in jb.iter().zip(&decoded) {
                let (y0, x0) = (cr * self.chunk_h, cc * self.chunk_w);
                let rows_in_chunk = self.chunk_h.min(self.height - y0);
                let r_lo = w.row.max(y0);
                let r_hi = (w.row + w.rows).min(y0 + rows_in_chunk);
                let c_lo = w.col.max(x0);
                let c_hi = (w.col + w.cols).min(x0 + self.chunk_w);
                let targets: Vec<(usize, usize)> = match plane {
                    Some(k) => vec![(k, 0)],
                    None => bands.iter().enumerate().map(|(k, &b)| (k, b)).collect(),
                };
                for (k, sample) in targets {
                    let dst = &mut out[k];
                    for r in r_lo..r_hi {
                        let mut dst_row = dst.row_mut(r - w.row);
                        let dst_slice = dst_row
                            .as_slice_mut()
                            .ok_or_else(|| Error::InvalidInput("non-contiguous output array".into()))?;
                        let d = &mut dst_slice[c_lo - w.col..c_hi - w.col];
                        let Some(buf) = buf else {
                            d.fill(fill);
                            continue;
                        };
                        let src_row = &buf[(r - y0) * self.chunk_w * spp..(r - y0 + 1) * self.chunk_w * spp];
                        if spp == 1 {
                            d.copy_from_slice(&src_row[c_lo - x0..c_hi - x0]);
                        } else {
                            for (o, c) in d.iter_mut().zip(c_lo..c_hi) {
                                *o = src_row[(c - x0) * spp + sample];
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Decompress one stored (non-sparse) chunk into native-endian samples (`chunk_w × rows ×
    /// spp`). The decoded size is checked against what the compressed bytes can hold before
    /// anything is allocated, and decoders write into a buffer of exactly that size.
    fn decode_chunk(&self, idx: usize, chunk_row: usize, spp: usize) -> Result<Vec<u8>> {
        // the last strip of a stripped file may be short; tiles are always whole
        let rows = if self.tiled { self.chunk_h } else { self.chunk_h.min(self.height - chunk_row * self.chunk_h) };
        let sz = self.dtype.size();
        let row_bytes = self.chunk_w * spp * sz;
        let need = row_bytes * rows;
        let (off, len) = (self.offsets[idx], self.byte_counts[idx] as usize);
        let ferr = |m: String| Error::format(FMT, &self.path, m);
        if off.saturating_add(len as u64) > self.file_len {
            return Err(ferr(format!("chunk {idx} extends past the end of the file")));
        }
        let max_ratio = match self.compression {
            1 => 1,
            32773 => 64,        // PackBits: 2 bytes → at most 128
            8 | 32946 => 1_100, // Deflate: at most 1,032
            _ => 2_048,         // LZW: at most ~1,365
        };
        if need as u64 > (len as u64).saturating_mul(max_ratio) {
            return Err(ferr(format!(
                "chunk {idx}: {len} stored bytes cannot hold {need} bytes of cells with compression {} (corrupt header)",
                self.compression_name()
            )));
        }
        let mut raw = vec![0u8; len];
        read_at(&self.file, &mut raw, off).map_err(|e| Error::io(&self.path, e))?;
        let mut buf = match self.compression {
            1 => raw,
            8 | 32946 => {
                let mut out = Vec::with_capacity(need);
                let mut d = flate2::Decompress::new(true);
                d.decompress_vec(&raw, &mut out, flate2::FlushDecompress::Finish)
                    .map_err(|e| ferr(format!("chunk {idx}: corrupt Deflate stream: {e}")))?;
                out
            }
            5 => {
                let mut dec = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
                let mut out = vec![0u8; need];
                let (mut i, mut o) = (0, 0);
                while o < need {
                    let r = dec.decode_bytes(&raw[i..], &mut out[o..]);
                    i += r.consumed_in;
                    o += r.consumed_out;
                    match r.status {
                        Ok(weezl::LzwStatus::Ok) if r.consumed_in + r.consumed_out > 0 => {}
                        Ok(_) => break,
                        Err(e) if o < need => return Err(ferr(format!("chunk {idx}: corrupt LZW stream: {e}"))),
                        Err(_) => break,
                    }
                }
                out.truncate(o);
                out
            }
            32773 => unpackbits(&raw, need),
            c => return Err(Error::Unsupported(format!("TIFF compression {c}"))),
        };
        if buf.len() < need {
            return Err(ferr(format!(
                "chunk {idx} decodes to {} bytes, expected {need} (truncated or corrupt file)",
                buf.len()
            )));
        }
        buf.truncate(need);
        match self.predictor {
            3 => {
                let mut tmp = vec![0u8; row_bytes];
                let count = row_bytes / sz;
                for row in buf.chunks_exact_mut(row_bytes) {
                    undo_byte_diff(row, spp);
                    // byte planes are stored most significant first: gather them back
                    match sz {
                        4 => {
                            let (p0, rest) = row.split_at(count);
                            let (p1, rest) = rest.split_at(count);
                            let (p2, p3) = rest.split_at(count);
                            for ((((o, a), b), c), d) in tmp.chunks_exact_mut(4).zip(p0).zip(p1).zip(p2).zip(p3) {
                                o.copy_from_slice(&u32::from_be_bytes([*a, *b, *c, *d]).to_ne_bytes());
                            }
                        }
                        _ => {
                            for i in 0..count {
                                let mut v = [0u8; 8];
                                for b in 0..sz {
                                    v[b] = row[b * count + i];
                                }
                                let x = u64::from_be_bytes(v) >> (8 * (8 - sz));
                                tmp[i * sz..(i + 1) * sz].copy_from_slice(&x.to_ne_bytes()[..sz]);
                            }
                        }
                    }
                    row.copy_from_slice(&tmp);
                }
            }
            p => {
                let file_native = (self.endian == Endian::Little) == cfg!(target_endian = "little");
                if !file_native && sz > 1 {
                    for s in buf.chunks_exact_mut(sz) {
                        s.reverse();
                    }
                }
                if p == 2 {
                    horizontal_undiff(&mut buf, row_bytes, spp, sz);
                }
            }
        }
        Ok(buf)
    }
}

/// Undo byte-wise horizontal differencing (floating-point predictor, first stage).
fn undo_byte_diff(row: &mut [u8], spp: usize) {
    if spp == 1 {
        let mut acc = 0u8;
        for b in row.iter_mut() {
            acc = acc.wrapping_add(*b);
            *b = acc;
        }
    } else {
        for i in spp..row.len() {
            row[i] = row[i].wrapping_add(row[i - spp]);
        }
    }
}

fn horizontal_undiff(buf: &mut [u8], row_bytes: usize, spp: usize, sz: usize) {
    for row in buf.chunks_exact_mut(row_bytes) {
        match sz {
            1 => {
                for i in spp..row.len() {
                    row[i] = row[i].wrapping_add(row[i - spp]);
                }
            }
            2 => {
                let n = row.len() / 2;
                for i in spp..n {
                    let a = u16::from_ne_bytes([row[2 * (i - spp)], row[2 * (i - spp) + 1]]);
                    let b = u16::from_ne_bytes([row[2 * i], row[2 * i + 1]]);
                    row[2 * i..2 * i + 2].copy_from_slice(&b.wrapping_add(a).to_ne_bytes());
                }
            }
            4 => {
                let n = row.len() / 4;
                for i in spp..n {
                    let p = 4 * (i - spp);
                    let a = u32::from_ne_bytes([row[p], row[p + 1], row[p + 2], row[p + 3]]);
                    let b = u32::from_ne_bytes([row[4 * i], row[4 * i + 1], row[4 * i + 2], row[4 * i + 3]]);
                    row[4 * i..4 * i + 4].copy_from_slice(&b.wrapping_add(a).to_ne_bytes());
                }
            }
            _ => {
                let n = row.len() / 8;
                for i in spp..n {
                    let mut a = [0u8; 8];
                    let mut b = [0u8; 8];
                    a.copy_from_slice(&row[8 * (i - spp)..8 * (i - spp) + 8]);
                    b.copy_from_slice(&row[8 * i..8 * i + 8]);
                    let v = u64::from_ne_bytes(b).wrapping_add(u64::from_ne_bytes(a));
                    row[8 * i..8 * i + 8].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
    }
}

fn unpackbits(src: &[u8], need: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(need);
    let mut i = 0;
    while i < src.len() && out.len() < need {
        let n = src[i] as i8;
        i += 1;
        if n >= 0 {
            let k = n as usize + 1;
            let end = (i + k).min(src.len());
            out.extend_from_slice(&src[i..end]);
            i = end;
        } else if n != -128 {
            if let Some(&b) = src.get(i) {
                out.extend(std::iter::repeat_n(b, (-(n as i32)) as usize + 1));
            }
            i += 1;
        }
    }
    out
}

fn read_ifd(f: &File, len: u64, off: u64, e: Endian, big: bool) -> std::result::Result<HashMap<u16, Entry>, String> {
    let (cnt_sz, ent_sz, inline) = if big { (8usize, 20usize, 8usize) } else { (2, 12, 4) };
    if off == 0 || off.saturating_add(cnt_sz as u64) > len {
        return Err(format!("first IFD offset {off} is outside the file ({len} bytes)"));
    }
    let mut cb = [0u8; 8];
    read_at(f, &mut cb[..cnt_sz], off).map_err(|x| x.to_string())?;
    let n = if big { rd_u64(&cb, e) } else { rd_u16(&cb, e) as u64 } as usize;
    if n == 0 || n > 10_000 || off.saturating_add((cnt_sz + n * ent_sz) as u64) > len {
        return Err(format!("IFD with {n} entries does not fit in the file (truncated?)"));
    }
    let mut raw = vec![0u8; n * ent_sz];
    read_at(f, &mut raw, off + cnt_sz as u64).map_err(|x| x.to_string())?;
    let mut tags = HashMap::new();
    for ent in raw.chunks_exact(ent_sz) {
        let tag = rd_u16(ent, e);
        let typ = rd_u16(&ent[2..], e);
        let count = if big { rd_u64(&ent[4..], e) } else { rd_u32(&ent[4..], e) as u64 };
        let tsz = type_size(typ);
        if tsz == 0 {
            continue;
        }
        let total = (count as usize).checked_mul(tsz).ok_or("tag size overflow")?;
        if total as u64 > len {
            return Err(format!("tag {tag} claims {total} bytes, more than the file holds"));
        }
        let data = if total <= inline {
            ent[(ent_sz - inline)..(ent_sz - inline + total)].to_vec()
        } else {
            let vo = &ent[ent_sz - inline..];
            let voff = if big { rd_u64(vo, e) } else { rd_u32(vo, e) as u64 };
            if voff.saturating_add(total as u64) > len {
                return Err(format!("tag {tag} data at byte {voff} runs past the end of the file (truncated)"));
            }
            let mut d = vec![0u8; total];
            read_at(f, &mut d, voff).map_err(|x| x.to_string())?;
            d
        };
        tags.insert(tag, Entry { typ, count, data });
    }
    Ok(tags)
}

fn georef(tags: &HashMap<u16, Entry>, e: Endian) -> (GeoTransform, Option<Crs>, Option<String>) {
    let mut gt = GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let keys: Vec<u64> = tags.get(&GEO_KEY_DIRECTORY).map(|t| t.u64s(e)).unwrap_or_default();
    let doubles: Vec<f64> = tags.get(&GEO_DOUBLE_PARAMS).map(|t| t.f64s(e)).unwrap_or_default();
    let ascii: String = tags.get(&GEO_ASCII_PARAMS).map(|t| t.string()).unwrap_or_default();
    let mut key = HashMap::new();
    let mut key_str = HashMap::new();
    if keys.len() >= 4 {
        let n = keys[3] as usize;
        for k in 0..n {
            let Some(rec) = keys.get(4 + 4 * k..8 + 4 * k) else {
                break;
            };
            let (id, loc, count, val) = (rec[0] as u16, rec[1] as u16, rec[2] as usize, rec[3] as usize);
            match loc {
                0 => {
                    key.insert(id, val as f64);
                }
                GEO_DOUBLE_PARAMS => {
                    if let Some(v) = doubles.get(val) {
                        key.insert(id, *v);
                    }
                }
                GEO_ASCII_PARAMS => {
                    if let Some(s) = ascii.get(val..val.saturating_add(count).min(ascii.len())) {
                        key_str.insert(id, s.trim_end_matches('|').to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let pixel_is_point = key.get(&1025).copied() == Some(2.0);
    if let Some(m) = tags.get(&MODEL_TRANSFORMATION).map(|t| t.f64s(e)) {
        if m.len() >= 8 {
            gt = GeoTransform([m[3], m[0], m[1], m[7], m[4], m[5]]);
        }
    } else if let (Some(sc), Some(tp)) =
        (tags.get(&MODEL_PIXEL_SCALE).map(|t| t.f64s(e)), tags.get(&MODEL_TIEPOINT).map(|t| t.f64s(e)))
    {
        if sc.len() >= 2 && tp.len() >= 6 {
            let (sx, sy) = (sc[0], sc[1]);
            gt = GeoTransform([tp[3] - tp[0] * sx, sx, 0.0, tp[4] + tp[1] * sy, 0.0, -sy]);
        }
    }
    if pixel_is_point {
        let g = &mut gt.0;
        g[0] -= 0.5 * g[1] + 0.5 * g[2];
        g[3] -= 0.5 * g[4] + 0.5 * g[5];
    }
    let model = key.get(&1024).copied().unwrap_or(0.0) as u32;
    let code = match model {
        1 => key.get(&3072).copied(),
        2 => key.get(&2048).copied(),
        _ => key.get(&3072).or_else(|| key.get(&2048)).copied(),
    }
    .map(|c| c as u32);
    match code {
        Some(c) if c > 0 && c != 32767 => match Crs::from_epsg(c) {
            Ok(crs) => (gt, Some(crs), None),
            Err(err) => (gt, None, Some(err.to_string())),
        },
        None if keys.is_empty() => (gt, None, None),
        _ => {
            // User-defined CRS: a few writers put a WKT or EPSG name in the citation.
            let cit = key_str.get(&3073).or_else(|| key_str.get(&1026)).or_else(|| key_str.get(&2049));
            match cit.map(|s| Crs::from_user_input(s)) {
                Some(Ok(c)) => (gt, Some(c), None),
                _ => (gt, None, Some(format!("user-defined GeoTIFF CRS not supported (citation {cit:?})"))),
            }
        }
    }
}

fn parse_band_descriptions(xml: &str, names: &mut [Option<String>]) {
    for item in xml.split("<Item ").skip(1) {
        let Some(close) = item.find('>') else {
            continue;
        };
        let attrs = &item[..close];
        if !attrs.contains("role=\"description\"") {
            continue;
        }
        let sample =
            attrs.split("sample=\"").nth(1).and_then(|s| s.split('"').next()).and_then(|s| s.parse::<usize>().ok());
        let text = item[close + 1..].split("</Item>").next().unwrap_or("");
        if let Some(slot) = sample.and_then(|s| names.get_mut(s)) {
            *slot = Some(text.to_string());
        }
    }
}

/// A sample type that can be decoded from native-endian bytes.
pub(crate) trait Sample: Copy + Send + Sync + 'static {
    const ZERO: Self;
    fn from_ne(b: &[u8]) -> Self;
    fn put(self, out: &mut Vec<u8>, little: bool);
    /// Append samples as little-endian bytes (a plain copy on little-endian machines).
    fn put_slice_le(s: &[Self], out: &mut Vec<u8>);
}

macro_rules! sample {
    ($t:ty, $n:expr) => {
        impl Sample for $t {
            const ZERO: Self = 0 as $t;
            #[inline(always)]
            fn from_ne(b: &[u8]) -> Self {
                let mut a = [0u8; $n];
                a.copy_from_slice(&b[..$n]);
                <$t>::from_ne_bytes(a)
            }
            fn put_slice_le(s: &[Self], out: &mut Vec<u8>) {
                let start = out.len();
                out.resize(start + s.len() * $n, 0);
                for (o, x) in out[start..].chunks_exact_mut($n).zip(s) {
                    o.copy_from_slice(&x.to_le_bytes());
                }
            }
            #[inline(always)]
            fn put(self, out: &mut Vec<u8>, little: bool) {
                if little {
                    out.extend_from_slice(&self.to_le_bytes())
                } else {
                    out.extend_from_slice(&self.to_be_bytes())
                }
            }
        }
    };
}
sample!(u8, 1);
sample!(i8, 1);
sample!(i16, 2);
sample!(u16, 2);
sample!(i32, 4);
sample!(u32, 4);
sample!(f32, 4);
sample!(f64, 8);

fn write_sample(v: &mut Vec<u8>, t: DataType, x: f64) {
    let le = cfg!(target_endian = "little");
    match t {
        DataType::U8 => (x as u8).put(v, le),
        DataType::I8 => (x as i8).put(v, le),
        DataType::I16 => (x as i16).put(v, le),
        DataType::U16 => (x as u16).put(v, le),
        DataType::I32 => (x as i32).put(v, le),
        DataType::U32 => (x as u32).put(v, le),
        DataType::F32 => (x as f32).put(v, le),
        DataType::F64 => x.put(v, le),
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

fn tile_bytes<T: Sample>(a: &ArrayView2<'_, T>, c0: usize, ts: usize) -> Vec<u8> {
    let (h, w) = a.dim();
    let sz = std::mem::size_of::<T>();
    let mut v = Vec::with_capacity(ts * ts * sz);
    let c1 = (c0 + ts).min(w);
    for r in 0..ts {
        if r < h && c0 < w {
            let row = a.row(r);
            match row.as_slice() {
                Some(s) => T::put_slice_le(&s[c0..c1], &mut v),
                None => row.iter().skip(c0).take(c1 - c0).for_each(|x| x.put(&mut v, true)),
            }
            v.resize(v.len() + (ts - (c1 - c0)) * sz, 0);
        } else {
            v.resize(v.len() + ts * sz, 0);
        }
    }
    v
}

/// What a GeoTIFF being written looks like: grid, bands and georeferencing.
#[derive(Debug, Clone)]
pub(crate) struct TiffLayout {
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub dtype: DataType,
    pub transform: GeoTransform,
    pub crs: Option<Crs>,
    pub nodata: Option<f64>,
    pub band_names: Vec<Option<String>>,
}

type IoThread = (std::sync::mpsc::SyncSender<Vec<Vec<u8>>>, std::thread::JoinHandle<std::io::Result<File>>);

/// A tiled GeoTIFF written one strip of tiles (`tile_size` rows of one band) at a time, in any
/// order: tiles are encoded in parallel and handed to an I/O thread, so computing the next strip
/// overlaps writing this one and memory stays bounded by a few strips.
#[derive(Debug)]
pub(crate) struct GeoTiffWriter {
    path: PathBuf,
    /// The temporary file, renamed over `path` by `finish`.
    atomic: AtomicFile,
    layout: TiffLayout,
    opts: GeoTiffWriteOptions,
    predictor: u16,
    across: usize,
    down: usize,
    offsets: Vec<u64>,
    counts: Vec<u64>,
    pos: u64,
    io: Option<IoThread>,
}

impl GeoTiffWriter {
    /// Create the file and check everything that could fail before any cell is written.
    pub fn create(path: &Path, layout: TiffLayout, opts: &GeoTiffWriteOptions) -> Result<Self> {
        let ts = opts.tile_size;
        if ts == 0 || !ts.is_multiple_of(16) || ts > 4096 {
            return Err(Error::InvalidInput(format!("tile size {ts} must be a multiple of 16 from 16 to 4096")));
        }
        let predictor = match (opts.predictor, layout.dtype) {
            (Predictor::FloatingPoint, DataType::F32 | DataType::F64) => 3u16,
            (Predictor::FloatingPoint, _) => {
                return Err(Error::InvalidInput("the floating-point predictor needs a float raster".into()))
            }
            (Predictor::Horizontal, DataType::F32 | DataType::F64) => {
                return Err(Error::InvalidInput("use the floating-point predictor for float rasters".into()))
            }
            (Predictor::Horizontal, _) => 2,
            (Predictor::None, _) => 1,
        };
        if let Some(crs) = &layout.crs {
            if crs.epsg().is_none() {
                return Err(Error::Unsupported(format!(
                    "writing a GeoTIFF in a CRS without an EPSG code ({crs}) is not implemented"
                )));
            }
        }
        let (across, down) = (layout.width.div_ceil(ts), layout.height.div_ceil(ts));
        // a classic TIFF holds at most 4 GiB: more tiles than that could index is not writable
        let tiles = (across as u64).saturating_mul(down as u64).saturating_mul(layout.bands as u64);
        if layout.width > u32::MAX as usize
            || layout.height > u32::MAX as usize
            || layout.bands > MAX_BANDS as usize
            || tiles > (u32::MAX as u64) / 16
        {
            return Err(Error::Unsupported(format!(
                "a GeoTIFF of {} x {} cells x {} bands is larger than classic TIFF holds (BigTIFF writing is not implemented)",
                layout.width, layout.height, layout.bands
            )));
        }
        let mut atomic = AtomicFile::create(path)?;
        let file = atomic.take_file().ok_or_else(|| Error::io(path, std::io::Error::other("temporary file")))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(2);
        let handle = std::thread::Builder::new()
            .name("landopp-tiff-writer".into())
            .spawn(move || -> std::io::Result<File> {
                let mut out = file;
                // header; the IFD offset is patched at the end
                out.write_all(b"II\x2a\0\0\0\0\0")?;
                // tiles are large (tens of KiB and up): written as they come, unbuffered
                for tiles in rx {
                    for t in tiles {
                        out.write_all(&t)?;
                    }
                }
                Ok(out)
            })
            .map_err(|e| Error::io(path, e))?;
        let n = layout.bands * across * down;
        Ok(GeoTiffWriter {
            path: path.to_path_buf(),
            atomic,
            layout,
            opts: *opts,
            predictor,
            across,
            down,
            offsets: vec![0; n],
            counts: vec![0; n],
            pos: 8,
            io: Some((tx, handle)),
        })
    }

    /// Tile rows of the file (strips to write per band).
    pub fn tile_rows(&self) -> usize {
        self.down
    }

    /// Tile edge in cells (rows per strip).
    pub fn tile_size(&self) -> usize {
        self.opts.tile_size
    }

    /// Write tile row `tile_row` of `band`: `strip` holds rows `tile_row·tile_size ..` (all the
    /// columns; `tile_size` rows, fewer on the last tile row).
    pub fn write_strip<T: Sample>(&mut self, band: usize, tile_row: usize, strip: ArrayView2<'_, T>) -> Result<()> {
        let ts = self.opts.tile_size;
        let want = ts.min(self.layout.height.saturating_sub(tile_row * ts));
        if band >= self.layout.bands || tile_row >= self.down || strip.dim() != (want, self.layout.width) {
            return Err(Error::InvalidInput(format!(
                "strip {tile_row} of band {band}: {:?} cells, expected {want} × {}",
                strip.dim(),
                self.layout.width
            )));
        }
        let sz = self.layout.dtype.size();
        let (predictor, compression, path) = (self.predictor, self.opts.compression, &self.path);
        let mut tiles: Vec<Vec<u8>> = (0..self.across)
            .into_par_iter()
            .map(|tc| {
                let mut raw = tile_bytes(&strip, tc * ts, ts);
                apply_predictor(&mut raw, predictor, ts * sz, sz);
                match compression {
                    Compression::None => Ok(raw),
                    Compression::Deflate(level) => {
                        let mut enc =
                            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level.clamp(1, 9)));
                        enc.write_all(&raw).and_then(|_| enc.finish()).map_err(|e| Error::io(path, e))
                    }
                }
            })
            .collect::<Result<_>>()?;
        for (tc, t) in tiles.iter_mut().enumerate() {
            let k = band * self.across * self.down + tile_row * self.across + tc;
            self.offsets[k] = self.pos;
            self.counts[k] = t.len() as u64;
            if t.len() % 2 == 1 {
                t.push(0); // tiles start on word boundaries
            }
            self.pos += t.len() as u64;
        }
        if self.pos > u32::MAX as u64 - (1 << 20) {
            return Err(Error::Unsupported("GeoTIFF output over 4 GiB (BigTIFF writing is not implemented)".into()));
        }
        let (tx, _) = self.io.as_ref().ok_or_else(|| Error::InvalidInput("writer already finished".into()))?;
        if tx.send(tiles).is_err() {
            // the I/O thread stopped on an error: finish() reports it
            return self.join().map(|_| ());
        }
        Ok(())
    }

    fn join(&mut self) -> Result<File> {
        let (tx, handle) = self.io.take().ok_or_else(|| Error::InvalidInput("writer already finished".into()))?;
        drop(tx);
        let res = handle.join().map_err(|_| Error::io(&self.path, std::io::Error::other("writer thread panicked")))?;
        res.map_err(|e| Error::io(&self.path, e))
    }

    /// Write the directory (every strip must have been written) and close the file.
    pub fn finish(mut self) -> Result<()> {
        if let Some(k) = self.counts.iter().position(|c| *c == 0) {
            let per = self.across * self.down;
            return Err(Error::InvalidInput(format!(
                "GeoTIFF writer finished with tile row {} of band {} missing",
                (k % per) / self.across,
                k / per
            )));
        }
        let mut out = std::io::BufWriter::new(self.join()?);
        let (l, ts, pos) = (&self.layout, self.opts.tile_size, self.pos);
        let (w, h, nb, sz) = (l.width, l.height, l.bands, l.dtype.size());
        let sample_format: u16 = match l.dtype {
            DataType::F32 | DataType::F64 => 3,
            DataType::I8 | DataType::I16 | DataType::I32 => 2,
            _ => 1,
        };
        let mut t = IfdBuilder::default();
        t.long_if_big(IMAGE_WIDTH, w);
        t.long_if_big(IMAGE_LENGTH, h);
        t.short(BITS_PER_SAMPLE, &vec![(sz * 8) as u16; nb]);
        t.short(COMPRESSION, &[if self.opts.compression == Compression::None { 1 } else { 8 }]);
        t.short(PHOTOMETRIC, &[1]);
        t.short(SAMPLES_PER_PIXEL, &[nb as u16]);
        t.short(PLANAR_CONFIG, &[2]);
        if self.predictor != 1 {
            t.short(PREDICTOR, &[self.predictor]);
        }
        t.short(TILE_WIDTH, &[ts as u16]);
        t.short(TILE_LENGTH, &[ts as u16]);
        t.long(TILE_OFFSETS, &self.offsets.iter().map(|v| *v as u32).collect::<Vec<_>>());
        t.long(TILE_BYTE_COUNTS, &self.counts.iter().map(|v| *v as u32).collect::<Vec<_>>());
        if nb > 1 {
            t.short(EXTRA_SAMPLES, &vec![0; nb - 1]);
        }
        t.short(SAMPLE_FORMAT, &vec![sample_format; nb]);
        let g = l.transform.0;
        if g[2] == 0.0 && g[4] == 0.0 {
            t.double(MODEL_PIXEL_SCALE, &[g[1], -g[5], 0.0]);
            t.double(MODEL_TIEPOINT, &[0.0, 0.0, 0.0, g[0], g[3], 0.0]);
        } else {
            t.double(
                MODEL_TRANSFORMATION,
                &[g[1], g[2], 0.0, g[0], g[4], g[5], 0.0, g[3], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
            );
        }
        if let Some(code) = l.crs.as_ref().and_then(|c| c.epsg().map(|e| (c.is_geographic(), e))) {
            let (model, key) = if code.0 { (2u16, 2048u16) } else { (1, 3072) };
            let mut keys = vec![1u16, 1, 0, 3, 1024, 0, 1, model, 1025, 0, 1, 1];
            keys.extend_from_slice(&[key, 0, 1, code.1 as u16]);
            t.short(GEO_KEY_DIRECTORY, &keys);
        }
        let mut names = String::new();
        for (i, n) in l.band_names.iter().enumerate() {
            if let Some(n) = n {
                names.push_str(&format!("<Item name=\"DESCRIPTION\" sample=\"{i}\" role=\"description\">{n}</Item>"));
            }
        }
        if !names.is_empty() {
            t.ascii(GDAL_METADATA, &format!("<GDALMetadata>{names}</GDALMetadata>"));
        }
        if let Some(nd) = l.nodata {
            let s = if nd.is_nan() { "nan".to_string() } else { format_nodata(nd) };
            t.ascii(GDAL_NODATA, &s);
        }
        let ifd = t.write(pos as usize);
        use std::io::{Seek, SeekFrom};
        let path = &self.path;
        let ioe = |e: std::io::Error| Error::io(path, e);
        out.write_all(&ifd).map_err(ioe)?;
        out.seek(SeekFrom::Start(4)).map_err(ioe)?;
        out.write_all(&(pos as u32).to_le_bytes()).map_err(ioe)?;
        let file = out.into_inner().map_err(|e| ioe(e.into_error()))?;
        file.sync_all().map_err(ioe)?;
        drop(file);
        self.atomic.commit()
    }
}

/// Write a raster as a tiled GeoTIFF (little-endian, one plane per band, GDAL nodata tag,
/// EPSG geokeys). Tiles are compressed in parallel while an I/O thread writes the previous ones.
///
/// ```
/// use landopp::raster::{write_geotiff, GeoTiffWriteOptions, GeoTransform, Raster};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("dem.tif");
/// let data = ndarray::Array2::from_shape_fn((300, 200), |(r, c)| (r * 2 + c) as f64);
/// let r = Raster::from_f64(data, GeoTransform::north_up(500000.0, 4100000.0, 30.0, 30.0),
///     Some(landopp::Crs::from_epsg(32633)?), Some(-9999.0))?;
/// write_geotiff(&path, &r, &GeoTiffWriteOptions::default())?;
/// let back = Raster::open(&path)?;
/// assert_eq!(back, r);
/// # Ok::<(), landopp::Error>(())
/// ```
pub fn write_geotiff(path: impl AsRef<Path>, r: &Raster, opts: &GeoTiffWriteOptions) -> Result<()> {
    let path = path.as_ref();
    let dtype = r.bands()[0].dtype();
    if r.bands().iter().any(|b| b.dtype() != dtype) {
        return Err(Error::InvalidInput("all bands must share one data type to be written as one GeoTIFF".into()));
    }
    let layout = TiffLayout {
        width: r.width(),
        height: r.height(),
        bands: r.band_count(),
        dtype,
        transform: r.transform,
        crs: r.crs.clone(),
        nodata: r.nodata,
        band_names: r.band_names.clone(),
    };
    let mut wr = GeoTiffWriter::create(path, layout, opts)?;
    let ts = opts.tile_size;
    for (b, band) in r.bands().iter().enumerate() {
        for tr in 0..wr.tile_rows() {
            let rows = tr * ts..((tr + 1) * ts).min(r.height());
            macro_rules! strip {
                ($a:ident) => {
                    wr.write_strip(b, tr, $a.slice(ndarray::s![rows, ..]))
                };
            }
            match band {
                BandData::U8(a) => strip!(a),
                BandData::I8(a) => strip!(a),
                BandData::I16(a) => strip!(a),
                BandData::U16(a) => strip!(a),
                BandData::I32(a) => strip!(a),
                BandData::U32(a) => strip!(a),
                BandData::F32(a) => strip!(a),
                BandData::F64(a) => strip!(a),
            }?;
        }
    }
    wr.finish()
}

fn format_nodata(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn apply_predictor(buf: &mut [u8], predictor: u16, row_bytes: usize, sz: usize) {
    match predictor {
        2 => {
            for row in buf.chunks_exact_mut(row_bytes) {
                let n = row.len() / sz;
                for i in (1..n).rev() {
                    match sz {
                        1 => row[i] = row[i].wrapping_sub(row[i - 1]),
                        2 => {
                            let a = u16::from_le_bytes([row[2 * i - 2], row[2 * i - 1]]);
                            let b = u16::from_le_bytes([row[2 * i], row[2 * i + 1]]);
                            row[2 * i..2 * i + 2].copy_from_slice(&b.wrapping_sub(a).to_le_bytes());
                        }
                        _ => {
                            let a =
                                u32::from_le_bytes([row[4 * i - 4], row[4 * i - 3], row[4 * i - 2], row[4 * i - 1]]);
                            let b = u32::from_le_bytes([row[4 * i], row[4 * i + 1], row[4 * i + 2], row[4 * i + 3]]);
                            row[4 * i..4 * i + 4].copy_from_slice(&b.wrapping_sub(a).to_le_bytes());
                        }
                    }
                }
            }
        }
        3 => {
            let mut tmp = vec![0u8; row_bytes];
            for row in buf.chunks_exact_mut(row_bytes) {
                let count = row_bytes / sz;
                for i in 0..count {
                    for b in 0..sz {
                        tmp[(sz - 1 - b) * count + i] = row[i * sz + b];
                    }
                }
                for i in (1..row_bytes).rev() {
                    tmp[i] = tmp[i].wrapping_sub(tmp[i - 1]);
                }
                row.copy_from_slice(&tmp);
            }
        }
        _ => {}
    }
}

#[derive(Default)]
struct IfdBuilder {
    entries: Vec<(u16, u16, u32, Vec<u8>)>,
}

impl IfdBuilder {
    fn put(&mut self, tag: u16, typ: u16, count: usize, data: Vec<u8>) -> &mut Self {
        self.entries.retain(|e| e.0 != tag);
        self.entries.push((tag, typ, count as u32, data));
        self
    }
    fn short(&mut self, tag: u16, v: &[u16]) -> &mut Self {
        self.put(tag, 3, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    fn long(&mut self, tag: u16, v: &[u32]) -> &mut Self {
        self.put(tag, 4, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    fn long_if_big(&mut self, tag: u16, v: usize) -> &mut Self {
        if v > u16::MAX as usize {
            self.long(tag, &[v as u32])
        } else {
            self.short(tag, &[v as u16])
        }
    }
    fn double(&mut self, tag: u16, v: &[f64]) -> &mut Self {
        self.put(tag, 12, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    fn ascii(&mut self, tag: u16, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        let n = b.len();
        self.put(tag, 2, n, b)
    }
    /// Serialise the IFD as if it started at file offset `base` (bytes before `base` in `out`
    /// are padding the caller discards).
    /// The directory's bytes, to be written at file offset `start`.
    fn write(mut self, start: usize) -> Vec<u8> {
        let mut out = Vec::new();
        self.entries.sort_by_key(|e| e.0);
        let n = self.entries.len();
        let mut extra_off = start + 2 + n * 12 + 4;
        let mut extra: Vec<u8> = Vec::new();
        out.extend_from_slice(&(n as u16).to_le_bytes());
        for (tag, typ, count, data) in &self.entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&typ.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            if data.len() <= 4 {
                let mut v = data.clone();
                v.resize(4, 0);
                out.extend_from_slice(&v);
            } else {
                out.extend_from_slice(&(extra_off as u32).to_le_bytes());
                extra.extend_from_slice(data);
                if extra.len() % 2 == 1 {
                    extra.push(0);
                }
                extra_off = start + 2 + n * 12 + 4 + extra.len();
            }
        }
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&extra);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_roundtrip_known_vector() {
        // Apple's TN1023 example
        let src = [0xFEu8, 0xAA, 0x02, 0x80, 0x00, 0x2A, 0xFD, 0xAA, 0x03, 0x80, 0x00, 0x2A, 0x22, 0xF7, 0xAA];
        let out = unpackbits(&src, 24);
        assert_eq!(out.len(), 24);
        assert_eq!(&out[..3], &[0xAA, 0xAA, 0xAA]);
    }

    #[test]
    fn float_predictor_roundtrip() {
        let vals: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin() * 100.0).collect();
        let mut raw: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        apply_predictor(&mut raw, 3, 64 * 4, 4);
        // decode like the reader does
        let row_bytes = 64 * 4;
        let mut tmp = vec![0u8; row_bytes];
        for i in 1..row_bytes {
            raw[i] = raw[i].wrapping_add(raw[i - 1]);
        }
        for i in 0..64 {
            for b in 0..4 {
                tmp[i * 4 + b] = raw[(3 - b) * 64 + i];
            }
        }
        let back: Vec<f32> = tmp.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        assert_eq!(back, vals);
    }

    /// A little-endian classic TIFF: `tags` as (tag, type, values) with values ≤ 4 bytes inline,
    /// one strip of `data` after the header.
    fn tiff(tags: &[(u16, u16, u64)], data: &[u8]) -> Vec<u8> {
        let mut all: Vec<(u16, u16, u64)> = tags.to_vec();
        all.push((STRIP_OFFSETS, 4, 8));
        all.push((STRIP_BYTE_COUNTS, 4, data.len() as u64));
        all.sort_by_key(|t| t.0);
        let mut b = b"II*\0".to_vec();
        b.extend_from_slice(&((8 + data.len()) as u32).to_le_bytes());
        b.extend_from_slice(data);
        b.extend_from_slice(&(all.len() as u16).to_le_bytes());
        for (tag, typ, v) in all {
            b.extend_from_slice(&tag.to_le_bytes());
            b.extend_from_slice(&typ.to_le_bytes());
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(&(v as u32).to_le_bytes());
        }
        b.extend_from_slice(&[0; 4]);
        b
    }

    fn open_bytes(b: &[u8]) -> Result<Raster> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.tif");
        std::fs::write(&p, b).unwrap();
        GeoTiff::open(&p)?.read()
    }

    #[test]
    fn hostile_sizes_are_format_errors_before_any_allocation() {
        let base = |w: u64, h: u64, spp: u64, extra: &[(u16, u16, u64)]| {
            let mut t =
                vec![(IMAGE_WIDTH, 4, w), (IMAGE_LENGTH, 4, h), (BITS_PER_SAMPLE, 3, 8), (SAMPLES_PER_PIXEL, 3, spp)];
            t.extend_from_slice(extra);
            tiff(&t, &[7u8; 64])
        };
        assert!(open_bytes(&base(8, 8, 1, &[])).is_ok(), "the valid base case reads");
        let code = |b: Vec<u8>| open_bytes(&b).unwrap_err().code();
        // SamplesPerPixel 0 panicked ("chunk size must be non-zero"); 2^31 - 1 and 65,535 in a
        // tiny file allocated 51 GB and 2.6 GB
        assert_eq!(code(base(8, 8, 0, &[])), "FORMAT");
        assert_eq!(code(base(8, 8, 65_535, &[])), "FORMAT");
        assert_eq!(code(base(8, 8, (1 << 31) - 1, &[])), "FORMAT");
        // edges near 2^32 (capacity overflow / "Shape too large" before)
        assert_eq!(code(base(u32::MAX as u64, 8, 1, &[])), "FORMAT");
        assert_eq!(code(base(8, u32::MAX as u64, 1, &[])), "FORMAT");
        assert_eq!(code(base(1 << 30, 1 << 30, 1, &[])), "FORMAT");
        // RowsPerStrip 2^32 - 1 means "one strip" (as GDAL reads it)
        assert!(open_bytes(&base(8, 8, 1, &[(ROWS_PER_STRIP, 4, u32::MAX as u64)])).is_ok());
        // a Deflate strip that would have to expand more than Deflate can
        let deflate = base(4096, 4096, 1, &[(COMPRESSION, 3, 8), (ROWS_PER_STRIP, 4, 4096)]);
        assert_eq!(code(deflate), "FORMAT");
        // tiles of 2^31 - 1 cells a side
        let mut t = vec![(IMAGE_WIDTH, 4, 8), (IMAGE_LENGTH, 4, 8), (BITS_PER_SAMPLE, 3, 8)];
        t.extend([(TILE_WIDTH, 4, (1 << 31) - 1), (TILE_LENGTH, 4, (1 << 31) - 1)]);
        let mut b = tiff(&t, &[0u8; 16]);
        // the strip tags of the helper become tile tags
        for w in b
            .windows(2)
            .enumerate()
            .filter(|(_, w)| *w == STRIP_OFFSETS.to_le_bytes())
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
        {
            b[w..w + 2].copy_from_slice(&TILE_OFFSETS.to_le_bytes());
        }
        assert!(open_bytes(&b).is_err());
    }

    #[test]
    fn the_terrain_writer_refuses_rasters_classic_tiff_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let layout = TiffLayout {
            width: 1 << 31,
            height: 1 << 31,
            bands: 1,
            dtype: DataType::F32,
            transform: GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, -1.0]),
            crs: None,
            nodata: None,
            band_names: vec![None],
        };
        let e =
            GeoTiffWriter::create(&dir.path().join("big.tif"), layout, &GeoTiffWriteOptions::default()).unwrap_err();
        assert_eq!(e.code(), "UNSUPPORTED");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing was created");
    }
}
