//! The writer: tiled, Deflate-compressed GeoTIFF, chunks compressed in parallel and written on an I/O thread.

use super::*;

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

pub(super) fn write_sample(v: &mut Vec<u8>, t: DataType, x: f64) {
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

pub(super) fn tile_bytes<T: Sample>(a: &ArrayView2<'_, T>, c0: usize, ts: usize) -> Vec<u8> {
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

pub(super) type IoThread = (std::sync::mpsc::SyncSender<Vec<Vec<u8>>>, std::thread::JoinHandle<std::io::Result<File>>);

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
/// let back = Raster::read(&path)?;
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

pub(super) fn format_nodata(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}
