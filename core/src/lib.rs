#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod color_relief;
pub mod config;
pub mod crs;
pub mod error;
pub mod features;
pub mod geodesic;
pub mod info;
pub mod interrupt;
pub mod ml;
pub mod output;
pub mod overlay;
pub mod pipeline;
pub mod raster;
#[cfg(feature = "schema")]
pub mod schema;
pub mod scoring;
pub mod search;
mod simd;
pub mod spectral;
pub mod terrain;
pub mod tiles;
pub mod vector;
pub mod zonal;

pub use crs::{Crs, Transformer};
pub use error::{Error, ErrorKind, Result};
pub use features::{ColumnMeta, ColumnStore, FeatureColumn, FeatureTable, Values};
pub use raster::{BandData, BandView, DataType, GeoTiff, GeoTransform, Raster, Window};
pub use vector::{read_layer, Column, ColumnData, GeometryStatus, Parcels, ReadOptions, Value, VectorLayer};
/// Re-exported geometry crates (their versions are part of landopp's API).
pub use {geo, geo_types, ndarray};

/// The library version (shared by the crate, the Python package and the npm package).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
