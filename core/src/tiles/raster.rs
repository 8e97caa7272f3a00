//! Raster tiles: a band warped to the tile grid by nearest neighbour, and its hillshade.

use super::grid::{self, Grid};
use super::{from_mercator, to_mercator, TileId};
use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use crate::raster::{band_index, BandData, GeoTransform, Raster};
use crate::terrain::{terrain, TerrainOptions, TerrainProduct};
use geo_types::Coord;
use ndarray::{s, Array2};

/// Cells of a tile side (raster tiles are 256 × 256, as web maps request them).
pub const TILE_CELLS: usize = 256;

/// Warp band `band` (1-based) of `src` to the grid of `tile` — `size` × `size` cells plus
/// `border` cells on each side — by nearest neighbour: each cell takes the source cell under its
/// centre, as `gdalwarp -t_srs EPSG:3857 -te <tile bounds grown by the border> -ts N N -r near`
/// does (GDAL's rule: `floor(x + 1e-10)` of the source pixel coordinate). Cells outside the source
/// are nodata: the source's nodata, else NaN for float bands and the type's minimum for integer
/// bands. The source needs a CRS. The result is in EPSG:3857 with the source's cell type.
pub fn warp_to_tile(src: &Raster, band: usize, tile: TileId, size: usize, border: usize) -> Result<Raster> {
    if size == 0 || size > 4096 || border > 64 {
        return Err(Error::InvalidInput(format!(
            "tile size {size} (1..=4096) or border {border} (0..=64) out of range"
        )));
    }
    let crs =
        src.crs.as_ref().ok_or_else(|| Error::Crs("the raster has no CRS: it cannot be warped to web tiles".into()))?;
    let data = src.band(band_index(band, src.band_count())?)?;
    let b = tile.bounds();
    let px = tile.size() / size as f64;
    let n = size + 2 * border;
    let (x0, y1) = (b[0] - border as f64 * px, b[3] + border as f64 * px);
    // tile metres → source CRS, through WGS 84
    let t = Transformer::new(&Crs::wgs84(), crs)?;
    let f = |p: &mut [Coord<f64>]| -> Result<()> {
        p.iter_mut().for_each(|c| {
            let (lon, lat) = from_mercator(c.x, c.y);
            *c = Coord { x: lon, y: lat };
        });
        t.transform_coords(p)
    };
    let area = [x0, y1 - n as f64 * px, x0 + n as f64 * px, y1];
    let src_px = src.transform.xres().abs().min(src.transform.yres().abs());
    let g = Grid::build(area, &f, src_px * 1e-3).ok().flatten();
    let mut centres: Vec<Coord<f64>> = (0..n * n)
        .map(|k| Coord { x: x0 + ((k % n) as f64 + 0.5) * px, y: y1 - ((k / n) as f64 + 0.5) * px })
        .collect();
    // a tile beyond the source CRS's domain has no cells of it
    let mapped = grid::apply(g.as_ref(), &f, &mut centres).is_ok();
    let (h, w) = (src.height() as f64, src.width() as f64);
    let idx: Vec<Option<(usize, usize)>> = centres
        .iter()
        .map(|c| {
            if !mapped {
                return None;
            }
            let (col, row) = src.transform.invert(c.x, c.y);
            let (col, row) = ((col + 1e-10).floor(), (row + 1e-10).floor());
            (col >= 0.0 && row >= 0.0 && col < w && row < h).then_some((row as usize, col as usize))
        })
        .collect();
    macro_rules! warp {
        ($v:ident, $a:ident, $fill:expr) => {{
            let fill = $fill;
            BandData::$v(Array2::from_shape_fn((n, n), |(r, c)| match idx[r * n + c] {
                Some(rc) => $a[rc],
                None => fill,
            }))
        }};
    }
    let nd = src.nodata;
    let out = match data {
        BandData::U8(a) => warp!(U8, a, nd.map_or(u8::MIN, |v| v as u8)),
        BandData::I8(a) => warp!(I8, a, nd.map_or(i8::MIN, |v| v as i8)),
        BandData::I16(a) => warp!(I16, a, nd.map_or(i16::MIN, |v| v as i16)),
        BandData::U16(a) => warp!(U16, a, nd.map_or(u16::MIN, |v| v as u16)),
        BandData::I32(a) => warp!(I32, a, nd.map_or(i32::MIN, |v| v as i32)),
        BandData::U32(a) => warp!(U32, a, nd.map_or(u32::MIN, |v| v as u32)),
        BandData::F32(a) => warp!(F32, a, nd.map_or(f32::NAN, |v| v as f32)),
        BandData::F64(a) => warp!(F64, a, nd.unwrap_or(f64::NAN)),
    };
    let nodata = nd.or(match data {
        BandData::U8(_) => Some(0.0),
        BandData::I8(_) => Some(i8::MIN as f64),
        BandData::I16(_) => Some(i16::MIN as f64),
        BandData::U16(_) => Some(0.0),
        BandData::I32(_) => Some(i32::MIN as f64),
        BandData::U32(_) => Some(0.0),
        BandData::F32(_) | BandData::F64(_) => Some(f64::NAN),
    });
    Raster::new(vec![out], GeoTransform::north_up(x0, y1, px, -px), Some(Crs::from_epsg(3857)?), nodata)
}

/// The hillshade of a DEM on the grid of `tile` (256 × 256 cells, `u8`, nodata 0 — transparent
/// in [`super::png_gray`]): the DEM warped to the tile with a one-cell border
/// ([`warp_to_tile`]), then `gdaldem hillshade` with `opts` on the warped cells (the border
/// gives every cell of the tile its full 3 × 3 window), cropped to the tile. Horizontal units
/// are Web Mercator metres, as gdaldem has them on a DEM warped to EPSG:3857.
pub fn hillshade_tile(dem: &Raster, tile: TileId, opts: &TerrainOptions) -> Result<Raster> {
    let warped = warp_to_tile(dem, opts.band, tile, TILE_CELLS, 1)?;
    let mut o = *opts;
    o.band = 1;
    let shade = terrain(&warped, TerrainProduct::Hillshade, &o)?;
    let cells = match shade.band(0)? {
        BandData::U8(a) => a.slice(s![1..=TILE_CELLS, 1..=TILE_CELLS]).to_owned(),
        _ => return Err(Error::Internal("hillshade is not 8-bit".into())),
    };
    let b = tile.bounds();
    let px = tile.size() / TILE_CELLS as f64;
    Raster::new(
        vec![BandData::U8(cells)],
        GeoTransform::north_up(b[0], b[3], px, -px),
        warped.crs.clone(),
        shade.nodata,
    )
}

/// [`hillshade_tile`] encoded as PNG, nodata transparent: what a web map requests.
pub fn hillshade_png(dem: &Raster, tile: TileId, opts: &TerrainOptions) -> Result<Vec<u8>> {
    match hillshade_tile(dem, tile, opts)?.band(0)? {
        BandData::U8(cells) => Ok(super::png_gray(cells, Some(0))),
        _ => Err(Error::Internal("hillshade is not 8-bit".into())),
    }
}

/// The tile coordinates of a lon/lat point at zoom `z` (for callers centring a map).
pub fn tile_of(lon: f64, lat: f64, z: u32) -> Result<TileId> {
    let (x, y) = to_mercator(lon, lat);
    let n = (1u64 << z.min(TileId::MAX_ZOOM)) as f64;
    let s = 2.0 * super::HALF_WORLD / n;
    let col = ((x + super::HALF_WORLD) / s).floor().clamp(0.0, n - 1.0) as u32;
    let row = ((super::HALF_WORLD - y) / s).floor().clamp(0.0, n - 1.0) as u32;
    TileId::new(z, col, row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warp_and_shade_the_fixture_dem() {
        let dem = Raster::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dem.tif")).unwrap();
        let b = dem.bounds();
        let t = Transformer::new(dem.crs.as_ref().unwrap(), &Crs::wgs84()).unwrap();
        let (lon, lat) = t.transform_point((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0).unwrap();
        let tile = tile_of(lon, lat, 15).unwrap();
        let w = warp_to_tile(&dem, 1, tile, 256, 1).unwrap();
        assert_eq!((w.width(), w.height()), (258, 258));
        let shade = hillshade_tile(&dem, tile, &TerrainOptions::default()).unwrap();
        assert_eq!((shade.width(), shade.height()), (256, 256));
        let BandData::U8(a) = shade.band(0).unwrap() else { panic!() };
        assert!(a.iter().filter(|v| **v != 0).count() > 1000, "the tile over the DEM's centre is shaded");
        assert_eq!(hillshade_png(&dem, tile, &TerrainOptions::default()).unwrap(), crate::tiles::png_gray(a, Some(0)));
        // far away: all nodata
        let away = hillshade_tile(&dem, TileId::new(15, 0, 0).unwrap(), &TerrainOptions::default()).unwrap();
        let BandData::U8(a) = away.band(0).unwrap() else { panic!() };
        assert!(a.iter().all(|v| *v == 0));
    }
}
