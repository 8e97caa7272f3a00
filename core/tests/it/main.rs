//! landopp integration tests: one binary, one module per area.

mod common;
mod crs;
mod errors;
mod raster;
mod vector;
