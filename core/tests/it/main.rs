//! landopp integration tests: one binary, one module per area.
#![allow(clippy::unwrap_used)]
#![allow(clippy::needless_range_loop)]

mod common;
mod crs;
mod errors;
mod ml;
mod raster;
mod remote;
mod sda;
mod search;
mod services;
mod stac;
mod terrain;
mod tiles;
mod validate;
mod vector;
mod zonal;
