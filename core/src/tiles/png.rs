//! A small PNG writer for tiles: 8-bit grey (hillshade) with one grey value transparent, and
//! 8-bit RGBA (score tiles).

use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};
use ndarray::{Array2, Array3};
use std::io::Write;

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// Encode an 8-bit grey image as PNG; cells equal to `transparent` (a raster's nodata) are
/// transparent (a `tRNS` chunk). Rows are stored with the `Up` filter and fast deflate.
pub fn png_gray(cells: &Array2<u8>, transparent: Option<u8>) -> Vec<u8> {
    let (h, w) = cells.dim();
    let mut out = Vec::with_capacity(h * w / 2 + 128);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bits, grey, deflate, adaptive filters, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some(t) = transparent {
        chunk(&mut out, b"tRNS", &[0, t]);
    }
    let mut raw = Vec::with_capacity(h * (w + 1));
    let mut prev = vec![0u8; w];
    for row in cells.rows() {
        raw.push(2); // Up
        for (i, v) in row.iter().enumerate() {
            raw.push(v.wrapping_sub(prev[i]));
            prev[i] = *v;
        }
    }
    let mut z = ZlibEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::fast());
    // writing to a Vec cannot fail
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Encode an RGBA image (`height × width × 4`, 8 bits a channel, alpha not premultiplied) as
/// PNG, rows with the `Up` filter and fast deflate.
pub fn png_rgba(cells: &Array3<u8>) -> Vec<u8> {
    let (h, w, _) = cells.dim();
    let bands = cells.dim().2.min(4);
    let mut out = Vec::with_capacity(h * w + 128);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8 bits, RGBA, deflate, adaptive filters, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    let stride = w * 4;
    let mut raw = Vec::with_capacity(h * (stride + 1));
    let mut prev = vec![0u8; stride];
    let mut line = vec![0u8; stride];
    for r in 0..h {
        for c in 0..w {
            for k in 0..4 {
                line[c * 4 + k] = if k < bands { cells[(r, c, k)] } else { 255 };
            }
        }
        raw.push(2); // Up
        for (i, v) in line.iter().enumerate() {
            raw.push(v.wrapping_sub(prev[i]));
        }
        std::mem::swap(&mut prev, &mut line);
    }
    let mut z = ZlibEncoder::new(Vec::with_capacity(raw.len() / 4), Compression::fast());
    // writing to a Vec cannot fail
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn decodes_back() {
        let a = Array2::from_shape_fn((5, 7), |(r, c)| (r * 40 + c * 3) as u8);
        let png = png_gray(&a, Some(0));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        // IHDR at 8, tRNS next, then IDAT: undo the filter
        let idat_at = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[idat_at - 4..idat_at].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        ZlibDecoder::new(&png[idat_at + 4..idat_at + 4 + len]).read_to_end(&mut raw).unwrap();
        let mut prev = [0u8; 7];
        for r in 0..5 {
            assert_eq!(raw[r * 8], 2);
            for c in 0..7 {
                let v = raw[r * 8 + 1 + c].wrapping_add(prev[c]);
                assert_eq!(v, a[(r, c)]);
                prev[c] = v;
            }
        }
    }
}
