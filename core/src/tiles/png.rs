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

/// A PNG of `h` rows of `stride` bytes (colour type `colour`, 8 bits a sample), each row filled
/// by `row(r, buf)`, stored with the `Up` filter and fast deflate; `trns` is a `tRNS` chunk.
fn encode(
    w: usize,
    h: usize,
    colour: u8,
    stride: usize,
    trns: Option<&[u8]>,
    row: impl Fn(usize, &mut [u8]),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(h * stride / 2 + 128);
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(w as u32).to_be_bytes());
    ihdr.extend_from_slice(&(h as u32).to_be_bytes());
    ihdr.extend_from_slice(&[8, colour, 0, 0, 0]); // 8 bits, colour type, deflate, adaptive filters, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    if let Some(t) = trns {
        chunk(&mut out, b"tRNS", t);
    }
    let mut raw = Vec::with_capacity(h * (stride + 1));
    let (mut prev, mut line) = (vec![0u8; stride], vec![0u8; stride]);
    for r in 0..h {
        row(r, &mut line);
        raw.push(2); // Up
        raw.extend(line.iter().zip(&prev).map(|(v, p)| v.wrapping_sub(*p)));
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

/// Encode an 8-bit grey image as PNG; cells equal to `transparent` (a raster's nodata) are
/// transparent (a `tRNS` chunk). Rows are stored with the `Up` filter and fast deflate.
pub fn png_gray(cells: &Array2<u8>, transparent: Option<u8>) -> Vec<u8> {
    let (h, w) = cells.dim();
    let trns = transparent.map(|t| [0, t]);
    encode(w, h, 0, w, trns.as_ref().map(|t| &t[..]), |r, buf| {
        buf.iter_mut().zip(cells.row(r)).for_each(|(b, v)| *b = *v);
    })
}

/// Encode an RGBA image (`height × width × 4`, 8 bits a channel, alpha not premultiplied) as
/// PNG, rows with the `Up` filter and fast deflate; a fourth channel missing is opaque.
pub fn png_rgba(cells: &Array3<u8>) -> Vec<u8> {
    let (h, w, bands) = cells.dim();
    encode(w, h, 6, w * 4, None, |r, buf| {
        for (c, px) in buf.chunks_exact_mut(4).enumerate() {
            for (k, b) in px.iter_mut().enumerate() {
                *b = if k < bands { cells[(r, c, k)] } else { 255 };
            }
        }
    })
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

    #[test]
    fn rgba_decodes_back() {
        let a = Array3::from_shape_fn((3, 5, 4), |(r, c, k)| (r * 50 + c * 7 + k * 3) as u8);
        let png = png_rgba(&a);
        assert_eq!(png[25], 6, "colour type RGBA");
        let idat_at = png.windows(4).position(|w| w == b"IDAT").unwrap();
        let len = u32::from_be_bytes(png[idat_at - 4..idat_at].try_into().unwrap()) as usize;
        let mut raw = Vec::new();
        ZlibDecoder::new(&png[idat_at + 4..idat_at + 4 + len]).read_to_end(&mut raw).unwrap();
        let mut prev = [0u8; 20];
        for r in 0..3 {
            assert_eq!(raw[r * 21], 2);
            for i in 0..20 {
                let v = raw[r * 21 + 1 + i].wrapping_add(prev[i]);
                assert_eq!(v, a[(r, i / 4, i % 4)]);
                prev[i] = v;
            }
        }
    }
}
