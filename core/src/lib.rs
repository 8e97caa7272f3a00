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
#[cfg(feature = "remote")]
pub mod remote;
#[cfg(feature = "schema")]
pub mod schema;
pub mod scoring;
pub mod search;
mod simd;
#[cfg(feature = "remote")]
pub mod sources;
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

/// True when `path` is an `http://` or `https://` URL (read by [`remote`] with the `remote`
/// feature; refused as `UNSUPPORTED` without it).
pub(crate) fn remote_path(path: &std::path::Path) -> bool {
    path.to_str().is_some_and(|s| {
        let l = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        l.starts_with("http://") || l.starts_with("https://")
    })
}

/// `path` without a URL's query string, fragment and user info (`?…`, `#…`, `user:pass@`): what
/// a URL is named by in
/// messages (signed URLs carry credentials there) and what its extension is read from.
pub(crate) fn without_query(path: &std::path::Path) -> std::borrow::Cow<'_, std::path::Path> {
    match path.to_str() {
        Some(s) if remote_path(path) => {
            let end = s.find(['?', '#']).unwrap_or(s.len());
            let s = &s[..end];
            // and without user:password@ before the host
            let host = s.find("://").map_or(0, |k| k + 3);
            let path_at = s[host..].find('/').map_or(s.len(), |k| host + k);
            let shown = match s[host..path_at].rfind('@') {
                Some(at) => format!("{}{}", &s[..host], &s[host + at + 1..]),
                None => s.to_string(),
            };
            std::borrow::Cow::Owned(std::path::PathBuf::from(shown))
        }
        _ => std::borrow::Cow::Borrowed(path),
    }
}
