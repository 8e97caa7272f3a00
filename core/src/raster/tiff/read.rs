//! The reader: an opened GeoTIFF whose chunks (strips or tiles) are read with positional reads and decoded in parallel.

use super::*;

/// An opened GeoTIFF: metadata is parsed, cells are read on demand. A clone shares the open file.
#[derive(Debug, Clone)]
pub struct GeoTiff {
    path: PathBuf,
    file: std::sync::Arc<Source>,
    /// Big TIFF (8-byte offsets).
    big: bool,
    /// Reduced-resolution images after the first (COG overviews): `(IFD offset, width, height)`.
    overviews: Vec<(u64, usize, usize)>,
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
    /// Open a GeoTIFF and parse its first image's metadata (and where its overviews are).
    ///
    /// `path` may be an `http://` or `https://` URL (cargo feature `remote`): the header is read
    /// first, then only the chunks a read touches, by HTTP range requests ([`crate::remote`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let (file, file_len) = open_source(path.as_ref())?;
        // a URL is named without its query string (signed URLs carry credentials there)
        let path = match &file {
            #[cfg(feature = "remote")]
            Source::Http(_) => PathBuf::from(crate::remote::display_url(&path.as_ref().to_string_lossy())),
            Source::File(_) => path.as_ref().to_path_buf(),
        };
        let ferr = |m: String| Error::format(FMT, &path, m);
        let mut head = [0u8; 16];
        if file_len < 8 {
            return Err(ferr(format!("file is {file_len} bytes, too short for a TIFF header")));
        }
        file.read_at(&mut head[..8.min(file_len as usize)], 0).map_err(|e| Error::io(&path, e))?;
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
            file.read_at(&mut head, 0).map_err(|e| Error::io(&path, e))?;
            rd_u64(&head[8..], endian)
        } else {
            rd_u32(&head[4..], endian) as u64
        };
        let file = std::sync::Arc::new(file);
        let mut t = Self::from_ifd(file.clone(), file_len, path, endian, big, ifd_off, None)?;
        t.overviews = overview_chain(&file, file_len, ifd_off, endian, big);
        Ok(t)
    }

    /// The image of the IFD at `ifd_off`; `base` is the full-resolution image an overview
    /// belongs to (its georeferencing, scaled, and its nodata when the overview has none).
    // Long by design: the tags are read and checked in order, each count against the file before it
    // sizes anything; each check reads best next to the tag it guards.
    fn from_ifd(
        file: std::sync::Arc<Source>,
        file_len: u64,
        path: PathBuf,
        endian: Endian,
        big: bool,
        ifd_off: u64,
        base: Option<&GeoTiff>,
    ) -> Result<Self> {
        let ferr = |m: String| Error::format(FMT, &path, m);
        let tags = read_ifd(&file, file_len, ifd_off, endian, big).map_err(|e| match e {
            IfdError::Io(e) => Error::io(&path, e),
            IfdError::Format(m) => ferr(m),
        })?;
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
        let remote = file.is_remote();
        for (o, c) in offsets.iter().zip(&byte_counts).take(expected as usize) {
            if o.saturating_add(*c) > file_len {
                return Err(ferr(format!(
                    "file is truncated: a chunk at byte {o} of length {c} ends past the end of the file ({file_len} bytes)"
                )));
            }
            // checked here, before any read asks the server for it
            if remote && *c > REMOTE_CHUNK_MAX {
                return Err(ferr(format!(
                    "a chunk claims {c} bytes, more than a remote chunk may hold ({REMOTE_CHUNK_MAX})"
                )));
            }
        }
        let (transform, crs, crs_error) = match base {
            // an overview: the full image's georeferencing with cells as much larger as it is smaller
            Some(b) => {
                let (fx, fy) = (b.width as f64 / width as f64, b.height as f64 / height as f64);
                let g = b.transform.0;
                (
                    GeoTransform([g[0], g[1] * fx, g[2] * fy, g[3], g[4] * fx, g[5] * fy]),
                    b.crs.clone(),
                    b.crs_error.clone(),
                )
            }
            None => georef(&tags, endian),
        };
        let nodata = tags.get(&GDAL_NODATA).and_then(|e| {
            let s = e.string();
            let s = s.trim();
            if s.eq_ignore_ascii_case("nan") {
                Some(f64::NAN)
            } else {
                s.parse::<f64>().ok()
            }
        });
        let nodata = nodata.or(base.and_then(|b| b.nodata));
        let mut band_names = vec![None; bands];
        if let Some(md) = tags.get(&GDAL_METADATA) {
            parse_band_descriptions(&md.string(), &mut band_names);
        }
        if let Some(b) = base.filter(|b| b.bands == bands) {
            band_names = b.band_names.clone();
        }
        Ok(GeoTiff {
            path,
            file,
            big,
            overviews: Vec::new(),
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
    /// The file path (a URL without its query string).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sizes `(width, height)` of the reduced-resolution images stored after the full one
    /// (a COG's overviews), finest first.
    pub fn overviews(&self) -> Vec<(usize, usize)> {
        self.overviews.iter().map(|&(_, w, h)| (w, h)).collect()
    }

    /// Overview `level` (0 = the finest, as [`overviews`](Self::overviews) lists them) as an
    /// image of its own: the same georeferencing with larger cells, read like the full image
    /// (from a URL: only its tiles).
    pub fn overview(&self, level: usize) -> Result<GeoTiff> {
        let Some(&(off, _, _)) = self.overviews.get(level) else {
            return Err(Error::not_found(
                "overview",
                level.to_string(),
                (0..self.overviews.len()).map(|k| k.to_string()).collect(),
            ));
        };
        Self::from_ifd(self.file.clone(), self.file_len, self.path.clone(), self.endian, self.big, off, Some(self))
    }

    /// The coarsest image whose cells are no larger than `cell_size` (CRS units): an overview
    /// when one is fine enough, else this image (as GDAL picks an overview for a coarser read).
    /// `cell_size` smaller than this image's cells: this image.
    pub fn at_resolution(&self, cell_size: f64) -> Result<GeoTiff> {
        if !(cell_size.is_finite() && cell_size > 0.0) {
            return Err(Error::InvalidInput(format!("resolution {cell_size}: must be a positive number")));
        }
        let full = self.transform.xres().abs().max(self.transform.yres().abs());
        // overviews are listed finest first: the last one within the asked size
        let level = self.overviews.iter().rposition(|&(_, w, h)| {
            let f = (self.width as f64 / w as f64).max(self.height as f64 / h as f64);
            full * f <= cell_size * (1.0 + 1e-9)
        });
        match level {
            Some(k) => self.overview(k),
            None => Ok(self.clone()),
        }
    }

    /// True when the bytes come over HTTP(S).
    pub fn is_remote(&self) -> bool {
        self.file.is_remote()
    }

    /// Windows aligned to the native blocks, covering the raster: process a raster larger than
    /// memory one window at a time with [`read_window`](Self::read_window).
    pub fn blocks(&self) -> Vec<Window> {
        crate::raster::block_windows(self.width, self.height, self.chunk_h, self.chunk_w)
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

    /// Read a window of one band (0-based) as a [`Raster`], fetching and decoding only the
    /// chunks `keep` accepts (given each chunk's window in this file's cells); the cells of the
    /// other chunks hold the nodata value (or 0). For a set of parcels scattered over a large
    /// scene: only the tiles under them travel, and the result is a raster on the file's grid.
    pub fn read_window_raster_where(
        &self,
        band: usize,
        w: Window,
        keep: &(dyn Fn(Window) -> bool + Sync),
    ) -> Result<Raster> {
        if band >= self.bands {
            return Err(Error::not_found("band", (band + 1).to_string(), vec![format!("1..={}", self.bands)]));
        }
        self.check_window(w)?;
        self.check_budget(w, 1)?;
        let (ch, cw) = (self.chunk_h, self.chunk_w);
        let (height, width) = (self.height, self.width);
        let chunk = move |cr: usize, cc: usize| {
            let (r0, c0) = (cr * ch, cc * cw);
            Window::new(r0, c0, ch.min(height - r0), cw.min(width - c0))
        };
        let keep_chunk = |cr: usize, cc: usize| keep(chunk(cr, cc));
        macro_rules! go {
            ($t:ty, $v:ident) => {
                self.read_typed_where::<$t>(w, &[band], Some(&keep_chunk))?.into_iter().map(BandData::$v).collect()
            };
        }
        let data: Vec<BandData> = crate::raster::with_dtype!(self.dtype, go);
        let (x0, y0) = self.transform.apply(w.col as f64, w.row as f64);
        let g = self.transform.0;
        let mut r = Raster::new(data, GeoTransform([x0, g[1], g[2], y0, g[4], g[5]]), self.crs.clone(), self.nodata)?;
        r.band_names = vec![self.band_names.get(band).cloned().flatten()];
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
        let mut limit = READ_FLOOR_BYTES.max(self.file_len.saturating_mul(READ_BYTES_PER_FILE_BYTE));
        // a remote file's length is the server's word, not bytes on this disk: one read from it
        // decodes at most REMOTE_READ_MAX (read larger windows one at a time)
        if self.is_remote() {
            limit = limit.min(REMOTE_READ_MAX);
        }
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
        Ok(crate::raster::with_dtype!(self.dtype, go))
    }

    fn read_typed<T: Sample>(&self, w: Window, bands: &[usize]) -> Result<Vec<Array2<T>>> {
        self.read_typed_where(w, bands, None)
    }

    /// [`read_typed`](Self::read_typed) over the chunks `keep(chunk row, chunk col)` accepts
    /// (all without it); the others are nodata (or 0).
    fn read_typed_where<T: Sample>(
        &self,
        w: Window,
        bands: &[usize],
        keep: Option<&(dyn Fn(usize, usize) -> bool + Sync)>,
    ) -> Result<Vec<Array2<T>>> {
        let fill = {
            let mut b = Vec::with_capacity(8);
            write_sample(&mut b, self.dtype, self.nodata.unwrap_or(0.0));
            T::from_ne(&b)
        };
        let init = if keep.is_some() { fill } else { T::ZERO };
        let mut out: Vec<Array2<T>> = bands.iter().map(|_| Array2::from_elem((w.rows, w.cols), init)).collect();
        let across = self.width.div_ceil(self.chunk_w);
        let down = self.height.div_ceil(self.chunk_h);
        let per_plane = across * down;
        let (cr0, cr1) = (w.row / self.chunk_h, (w.row + w.rows - 1) / self.chunk_h);
        let (cc0, cc1) = (w.col / self.chunk_w, (w.col + w.cols - 1) / self.chunk_w);
        // (chunk index, plane band or None for chunky, chunk row, chunk col)
        let mut jobs = Vec::new();
        for cr in cr0..=cr1 {
            for cc in cc0..=cc1 {
                if keep.is_some_and(|k| !k(cr, cc)) {
                    continue;
                }
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
        // Sparse chunks (GDAL SPARSE_OK: byte count 0) are nodata, or zero: `fill`.
        // Decode in batches of about 32 MiB so memory stays bounded on huge windows.
        let chunk_bytes = self.chunk_w * self.chunk_h * spp * sz;
        let batch = (32usize << 20).div_ceil(chunk_bytes.max(1)).max(rayon::current_num_threads());
        for jb in jobs.chunks(batch) {
            // a remote file fetches the batch's chunks together (adjacent ones in one request)
            let ranges: Vec<(u64, u64)> = jb
                .iter()
                .filter(|j| self.byte_counts[j.0] > 0)
                .map(|j| (self.offsets[j.0], self.byte_counts[j.0]))
                .collect();
            self.file.prefetch(&ranges).map_err(|e| Error::io(&self.path, e))?;
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
    // Long by design: decompression, predictor and sample-format conversion of one chunk, each step
    // guarded by the chunk's size budget.
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
        if self.is_remote() && len as u64 > REMOTE_CHUNK_MAX {
            return Err(ferr(format!(
                "chunk {idx} claims {len} bytes, more than a remote chunk may hold ({REMOTE_CHUNK_MAX})"
            )));
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
        self.file.read_at(&mut raw, off).map_err(|e| Error::io(&self.path, e))?;
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

/// The most one read of a remote file decodes (4 GiB).
const REMOTE_READ_MAX: u64 = 4 << 30;
/// The most bytes one chunk of a remote file may claim (256 MiB; a COG tile is kilobytes).
const REMOTE_CHUNK_MAX: u64 = 256 << 20;

/// The bytes behind `path`: a regular file, or an HTTP(S) URL with the `remote` feature.
fn open_source(path: &Path) -> Result<(Source, u64)> {
    if crate::remote_path(path) {
        #[cfg(feature = "remote")]
        {
            let url = path.to_string_lossy();
            let shown = PathBuf::from(crate::remote::display_url(&url));
            let h = crate::remote::HttpFile::open(&url).map_err(|e| Error::io(&shown, e))?;
            let len = h.len();
            return Ok((Source::Http(h), len));
        }
        #[cfg(not(feature = "remote"))]
        return Err(Error::Unsupported(
            "rasters over HTTP(S) need landopp's `remote` cargo feature (on in the CLI, Python and Node packages)"
                .into(),
        ));
    }
    crate::error::regular_file(path, "raster")?;
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    Ok((Source::File(file), len))
}

/// The reduced-resolution images after the IFD at `first` (NewSubfileType bit 0 set, not a mask):
/// `(IFD offset, width, height)`, finest first. At most 32 IFDs are walked; a loop, an offset
/// outside the file or an unreadable IFD ends the walk (the full image stays readable).
fn overview_chain(f: &Source, len: u64, first: u64, e: Endian, big: bool) -> Vec<(u64, usize, usize)> {
    let mut out = Vec::new();
    let mut seen = vec![first];
    let mut off = first;
    for _ in 0..32 {
        let Ok(next) = next_ifd(f, len, off, e, big) else { break };
        if next == 0 || seen.contains(&next) || next >= len {
            break;
        }
        seen.push(next);
        off = next;
        let Ok(tags) = read_ifd(f, len, off, e, big) else { break };
        let one = |t: u16| tags.get(&t).and_then(|x| x.u64s(e).first().copied());
        let subfile = one(NEW_SUBFILE_TYPE).unwrap_or(0);
        let (Some(w), Some(h)) = (one(IMAGE_WIDTH), one(IMAGE_LENGTH)) else { continue };
        if subfile & 1 == 1 && subfile & 4 == 0 && (1..=MAX_EDGE).contains(&w) && (1..=MAX_EDGE).contains(&h) {
            out.push((off, w as usize, h as usize));
        }
    }
    out.sort_by_key(|&(_, w, h)| std::cmp::Reverse(w * h));
    out
}
