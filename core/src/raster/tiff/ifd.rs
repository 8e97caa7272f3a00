//! TIFF structure: tags, byte order, IFD entries read (classic TIFF and BigTIFF) and built for writing.

use super::*;

// TIFF tags
pub(super) const NEW_SUBFILE_TYPE: u16 = 254;
pub(super) const IMAGE_WIDTH: u16 = 256;
pub(super) const IMAGE_LENGTH: u16 = 257;
pub(super) const BITS_PER_SAMPLE: u16 = 258;
pub(super) const COMPRESSION: u16 = 259;
pub(super) const PHOTOMETRIC: u16 = 262;
pub(super) const STRIP_OFFSETS: u16 = 273;
pub(super) const SAMPLES_PER_PIXEL: u16 = 277;
pub(super) const ROWS_PER_STRIP: u16 = 278;
pub(super) const STRIP_BYTE_COUNTS: u16 = 279;
pub(super) const PLANAR_CONFIG: u16 = 284;
pub(super) const PREDICTOR: u16 = 317;
pub(super) const TILE_WIDTH: u16 = 322;
pub(super) const TILE_LENGTH: u16 = 323;
pub(super) const TILE_OFFSETS: u16 = 324;
pub(super) const TILE_BYTE_COUNTS: u16 = 325;
pub(super) const EXTRA_SAMPLES: u16 = 338;
pub(super) const SAMPLE_FORMAT: u16 = 339;
pub(super) const MODEL_PIXEL_SCALE: u16 = 33550;
pub(super) const MODEL_TIEPOINT: u16 = 33922;
pub(super) const MODEL_TRANSFORMATION: u16 = 34264;
pub(super) const GEO_KEY_DIRECTORY: u16 = 34735;
pub(super) const GEO_DOUBLE_PARAMS: u16 = 34736;
pub(super) const GEO_ASCII_PARAMS: u16 = 34737;
pub(super) const GDAL_METADATA: u16 = 42112;
pub(super) const GDAL_NODATA: u16 = 42113;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Endian {
    Little,
    Big,
}

#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) typ: u16,
    pub(super) count: u64,
    pub(super) data: Vec<u8>,
}

pub(super) fn type_size(t: u16) -> usize {
    match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => 0,
    }
}

impl Entry {
    pub(super) fn u64s(&self, e: Endian) -> Vec<u64> {
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
    pub(super) fn f64s(&self, e: Endian) -> Vec<f64> {
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
    pub(super) fn string(&self) -> String {
        let s = String::from_utf8_lossy(&self.data);
        s.trim_end_matches('\0').to_string()
    }
}

pub(super) fn rd_u16(b: &[u8], e: Endian) -> u16 {
    let a = [b[0], b[1]];
    if e == Endian::Little {
        u16::from_le_bytes(a)
    } else {
        u16::from_be_bytes(a)
    }
}
pub(super) fn rd_u32(b: &[u8], e: Endian) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if e == Endian::Little {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}
pub(super) fn rd_u64(b: &[u8], e: Endian) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    if e == Endian::Little {
        u64::from_le_bytes(a)
    } else {
        u64::from_be_bytes(a)
    }
}

/// Where a GeoTIFF's bytes come from: a local file, or (feature `remote`) an HTTP(S) URL read by
/// byte ranges.
#[derive(Debug)]
pub(super) enum Source {
    File(File),
    #[cfg(feature = "remote")]
    Http(crate::remote::HttpFile),
}

impl Source {
    /// Read exactly `buf.len()` bytes at `off`.
    pub(super) fn read_at(&self, buf: &mut [u8], off: u64) -> std::io::Result<()> {
        match self {
            Source::File(f) => file_read_at(f, buf, off),
            #[cfg(feature = "remote")]
            Source::Http(h) => h.read_at(buf, off),
        }
    }

    /// True for bytes over HTTP(S).
    pub(super) fn is_remote(&self) -> bool {
        match self {
            Source::File(_) => false,
            #[cfg(feature = "remote")]
            Source::Http(_) => true,
        }
    }

    /// Ranges (`(offset, length)`) about to be read: a remote source fetches them together.
    pub(super) fn prefetch(&self, ranges: &[(u64, u64)]) -> std::io::Result<()> {
        match self {
            Source::File(_) => {
                let _ = ranges;
                Ok(())
            }
            #[cfg(feature = "remote")]
            Source::Http(h) => h.prefetch(ranges),
        }
    }
}

#[cfg(unix)]
fn file_read_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, off)
}

#[cfg(windows)]
fn file_read_at(f: &File, mut buf: &mut [u8], mut off: u64) -> std::io::Result<()> {
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

/// The most bytes the values of one directory's tags may take together (256 MiB: tile offsets
/// and byte counts of 16 M tiles in BigTIFF).
const MAX_TAG_BYTES: usize = 256 << 20;

/// Why a directory could not be read: the bytes could not be read, or they are not a valid
/// directory.
#[derive(Debug)]
pub(super) enum IfdError {
    Io(std::io::Error),
    Format(String),
}

impl From<String> for IfdError {
    fn from(m: String) -> Self {
        IfdError::Format(m)
    }
}

/// The offset of the IFD after the one at `off` (0: none).
pub(super) fn next_ifd(f: &Source, len: u64, off: u64, e: Endian, big: bool) -> std::result::Result<u64, IfdError> {
    let (cnt_sz, ent_sz) = if big { (8usize, 20u64) } else { (2, 12) };
    if off == 0 || off.saturating_add(cnt_sz as u64) > len {
        return Err(format!("IFD offset {off} is outside the file ({len} bytes)").into());
    }
    let mut cb = [0u8; 8];
    f.read_at(&mut cb[..cnt_sz], off).map_err(IfdError::Io)?;
    let n = if big { rd_u64(&cb, e) } else { rd_u16(&cb, e) as u64 };
    let at = off.saturating_add(cnt_sz as u64).saturating_add(n.saturating_mul(ent_sz));
    let size = if big { 8 } else { 4 };
    if at.saturating_add(size) > len {
        return Err("the next-IFD offset is past the end of the file".to_string().into());
    }
    f.read_at(&mut cb[..size as usize], at).map_err(IfdError::Io)?;
    Ok(if big { rd_u64(&cb, e) } else { rd_u32(&cb, e) as u64 })
}

pub(super) fn read_ifd(
    f: &Source,
    len: u64,
    off: u64,
    e: Endian,
    big: bool,
) -> std::result::Result<HashMap<u16, Entry>, IfdError> {
    let (cnt_sz, ent_sz, inline) = if big { (8usize, 20usize, 8usize) } else { (2, 12, 4) };
    if off == 0 || off.saturating_add(cnt_sz as u64) > len {
        return Err(format!("first IFD offset {off} is outside the file ({len} bytes)").into());
    }
    let mut cb = [0u8; 8];
    f.read_at(&mut cb[..cnt_sz], off).map_err(IfdError::Io)?;
    let n = if big { rd_u64(&cb, e) } else { rd_u16(&cb, e) as u64 } as usize;
    if n == 0 || n > 10_000 || off.saturating_add((cnt_sz + n * ent_sz) as u64) > len {
        return Err(format!("IFD with {n} entries does not fit in the file (truncated?)").into());
    }
    let mut raw = vec![0u8; n * ent_sz];
    f.read_at(&mut raw, off + cnt_sz as u64).map_err(IfdError::Io)?;
    let mut tags = HashMap::new();
    // every tag's values together: one directory sizes at most MAX_TAG_BYTES
    let mut all = 0usize;
    for ent in raw.chunks_exact(ent_sz) {
        let tag = rd_u16(ent, e);
        let typ = rd_u16(&ent[2..], e);
        let count = if big { rd_u64(&ent[4..], e) } else { rd_u32(&ent[4..], e) as u64 };
        let tsz = type_size(typ);
        if tsz == 0 {
            continue;
        }
        let total = (count as usize).checked_mul(tsz).ok_or_else(|| IfdError::Format("tag size overflow".into()))?;
        if total as u64 > len {
            return Err(format!("tag {tag} claims {total} bytes, more than the file holds").into());
        }
        // a length a server claims is not bytes it holds: no tag may size a read past this
        all = all.saturating_add(total);
        if total > MAX_TAG_BYTES || all > MAX_TAG_BYTES {
            return Err(format!("tag {tag} claims {total} bytes, more than the {MAX_TAG_BYTES} a tag may hold").into());
        }
        let data = if total <= inline {
            ent[(ent_sz - inline)..(ent_sz - inline + total)].to_vec()
        } else {
            let vo = &ent[ent_sz - inline..];
            let voff = if big { rd_u64(vo, e) } else { rd_u32(vo, e) as u64 };
            if voff.saturating_add(total as u64) > len {
                return Err(format!("tag {tag} data at byte {voff} runs past the end of the file (truncated)").into());
            }
            let mut d = vec![0u8; total];
            f.read_at(&mut d, voff).map_err(IfdError::Io)?;
            d
        };
        tags.insert(tag, Entry { typ, count, data });
    }
    Ok(tags)
}

#[derive(Default)]
pub(super) struct IfdBuilder {
    pub(super) entries: Vec<(u16, u16, u32, Vec<u8>)>,
}

impl IfdBuilder {
    fn put(&mut self, tag: u16, typ: u16, count: usize, data: Vec<u8>) -> &mut Self {
        self.entries.retain(|e| e.0 != tag);
        self.entries.push((tag, typ, count as u32, data));
        self
    }
    pub(super) fn short(&mut self, tag: u16, v: &[u16]) -> &mut Self {
        self.put(tag, 3, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    pub(super) fn long(&mut self, tag: u16, v: &[u32]) -> &mut Self {
        self.put(tag, 4, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    pub(super) fn long_if_big(&mut self, tag: u16, v: usize) -> &mut Self {
        if v > u16::MAX as usize {
            self.long(tag, &[v as u32])
        } else {
            self.short(tag, &[v as u16])
        }
    }
    pub(super) fn double(&mut self, tag: u16, v: &[f64]) -> &mut Self {
        self.put(tag, 12, v.len(), v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }
    pub(super) fn ascii(&mut self, tag: u16, s: &str) -> &mut Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        let n = b.len();
        self.put(tag, 2, n, b)
    }
    /// Serialise the IFD as if it started at file offset `base` (bytes before `base` in `out`
    /// are padding the caller discards).
    /// The directory's bytes, to be written at file offset `start`.
    pub(super) fn write(mut self, start: usize) -> Vec<u8> {
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
