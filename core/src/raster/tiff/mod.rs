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

mod codec;
mod georef;
mod ifd;
mod read;
mod write;

use codec::*;
use georef::*;
use ifd::*;
pub use read::*;
pub use write::*;

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
