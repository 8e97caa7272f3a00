//! Web map tiles on the XYZ grid of Web Mercator (EPSG:3857), as web maps (MapLibre, Leaflet,
//! OpenLayers) request them:
//!
//! - Mapbox Vector Tiles (MVT 2.1) of parcels with their score, rank, exclusion and criteria
//!   ([`crate::search::SearchIndex::parcel_tile`]), clipped to the tile plus a buffer, quantised
//!   to the tile's extent and simplified per zoom;
//! - score raster tiles: every parcel painted in its score's colour
//!   ([`crate::search::SearchIndex::score_tile`]), the overview of zooms where vector tiles
//!   would hold too many parcels to draw at once
//!   ([`crate::search::SearchIndex::detail_zoom`]), encoded as PNG ([`png_rgba`]);
//! - raster tiles warped from a DEM to the tile grid by nearest neighbour, as `gdalwarp -r near`
//!   does ([`warp_to_tile`]), and the hillshade of the warped DEM, equal to `gdaldem hillshade` on
//!   it ([`hillshade_tile`]), encoded as PNG ([`png_gray`]).
//!
//! Reprojection runs through a grid of exactly transformed points interpolated bilinearly in
//! between (GDAL's approximate transformer), refined until its error is under a stated tolerance
//! (1/20 of a vector tile unit, 1/1000 of a DEM cell): a tile of 100 k vertices costs one exact
//! transformation of a few hundred points.

mod grid;
mod mvt;
mod parcels;
mod png;
mod raster;
mod scores;

pub use mvt::{MvtLayer, MvtValue};
pub use parcels::ParcelTileOptions;
pub use png::{png_gray, png_rgba};
pub use raster::{hillshade_png, hillshade_tile, tile_of, warp_to_tile, TILE_CELLS};
pub use scores::{ScoreTileOptions, TileCoverage};

use crate::error::{Error, Result};
use std::f64::consts::PI;

/// Earth radius of Web Mercator (metres).
const R: f64 = 6_378_137.0;
/// Half the width of the Web Mercator world (metres): `π · R`.
pub const HALF_WORLD: f64 = PI * R;
/// The latitude limit of Web Mercator (degrees).
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// A tile of the XYZ grid: zoom `z`, column `x` from the west, row `y` from the north.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    /// Zoom (0 = the world in one tile).
    pub z: u8,
    /// Column, 0 at 180° W.
    pub x: u32,
    /// Row, 0 at the north edge.
    pub y: u32,
}

impl TileId {
    /// The deepest zoom accepted (a tile 9.5 m wide at the equator).
    pub const MAX_ZOOM: u32 = 22;

    /// A tile; `INVALID_INPUT` when the zoom is over [`TileId::MAX_ZOOM`] or `x` / `y` are outside
    /// the zoom's `2^z` columns and rows.
    pub fn new(z: u32, x: u32, y: u32) -> Result<TileId> {
        if z > Self::MAX_ZOOM {
            return Err(Error::InvalidInput(format!("tile zoom {z} is over the maximum {}", Self::MAX_ZOOM)));
        }
        let n = 1u32 << z;
        if x >= n || y >= n {
            return Err(Error::InvalidInput(format!(
                "tile {z}/{x}/{y} does not exist: at zoom {z} x and y are in 0..{}",
                n - 1
            )));
        }
        Ok(TileId { z: z as u8, x, y })
    }

    /// The tile's width in Web Mercator metres.
    pub fn size(&self) -> f64 {
        2.0 * HALF_WORLD / (1u64 << self.z) as f64
    }

    /// `[xmin, ymin, xmax, ymax]` in EPSG:3857.
    pub fn bounds(&self) -> [f64; 4] {
        let s = self.size();
        let xmin = -HALF_WORLD + self.x as f64 * s;
        let ymax = HALF_WORLD - self.y as f64 * s;
        [xmin, ymax - s, xmin + s, ymax]
    }
}

impl std::fmt::Display for TileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// Coordinates of a CRS to Web Mercator metres, or to a tile's own units (`0..units` from the
/// tile's west and north edges): what every tile maker reprojects its inputs with.
pub(crate) struct ToTile {
    to_wgs: crate::crs::Transformer,
    frame: Option<([f64; 4], f64, f64)>,
}

impl ToTile {
    /// From `crs` to the units of `tile` (`Some((tile, units a side))`) or to Web Mercator metres.
    pub(crate) fn new(crs: &crate::crs::Crs, tile: Option<(TileId, f64)>) -> Result<ToTile> {
        Ok(ToTile {
            to_wgs: crate::crs::Transformer::new(crs, &crate::crs::Crs::wgs84())?,
            frame: tile.map(|(t, units)| (t.bounds(), t.size(), units)),
        })
    }

    /// Transform `p` in place.
    pub(crate) fn apply(&self, p: &mut [geo_types::Coord<f64>]) -> Result<()> {
        self.to_wgs.transform_coords(p)?;
        p.iter_mut().for_each(|c| {
            let (x, y) = to_mercator(c.x, c.y);
            *c = match self.frame {
                Some((b, size, units)) => {
                    geo_types::Coord { x: (x - b[0]) / size * units, y: (b[3] - y) / size * units }
                }
                None => geo_types::Coord { x, y },
            };
        });
        Ok(())
    }
}

/// WGS 84 longitude / latitude (degrees) to Web Mercator metres; latitudes beyond
/// ±[`MAX_LATITUDE`] are clamped to it.
pub fn to_mercator(lon: f64, lat: f64) -> (f64, f64) {
    let lat = lat.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    (R * lon.to_radians(), R * (PI / 4.0 + lat / 2.0).tan().ln())
}

/// Web Mercator metres to WGS 84 longitude / latitude (degrees).
pub fn from_mercator(x: f64, y: f64) -> (f64, f64) {
    ((x / R).to_degrees(), (2.0 * (y / R).exp().atan() - PI / 2.0).to_degrees())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_bounds_and_domain() {
        let t = TileId::new(0, 0, 0).unwrap();
        assert_eq!(t.bounds(), [-HALF_WORLD, -HALF_WORLD, HALF_WORLD, HALF_WORLD]);
        let t = TileId::new(1, 1, 0).unwrap();
        assert_eq!(t.bounds(), [0.0, 0.0, HALF_WORLD, HALF_WORLD]);
        assert!(TileId::new(23, 0, 0).is_err());
        assert!(TileId::new(3, 8, 0).is_err());
        assert!(TileId::new(3, 0, 8).is_err());
        let (x, y) = to_mercator(14.5, 46.0);
        let (lon, lat) = from_mercator(x, y);
        assert!((lon - 14.5).abs() < 1e-12 && (lat - 46.0).abs() < 1e-12);
        // pyproj: Transformer.from_crs(4326, 3857, always_xy=True).transform(14.5, 46.0)
        assert!((x - 1_614_132.616_502_466_8).abs() < 1e-6, "{x}");
        assert!((y - 5_780_349.220_256_354).abs() < 1e-6, "{y}");
    }
}
