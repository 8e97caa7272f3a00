//! Spectral indices from the Awesome Spectral Indices catalogue (as spyndex 0.12 ships it:
//! formulas, band names, constants), sensor band maps and reflectance scaling, and cloud / shadow /
//! snow / nodata masks from Sentinel-2 SCL and Landsat QA_PIXEL.
//!
//! Formulas are compiled once to a small stack program and evaluated over chunks of 4,096 cells in
//! `f32`, several indices per pass so each input chunk is read from memory once. Masked cells and
//! cells whose denominator is zero give NaN (numpy gives ±inf/NaN there; both are "no value").
//!
//! Catalogue data (`core/data/spectral-*.json`) © Awesome Spectral Indices contributors (MIT),
//! from the spyndex 0.12.0 wheel.

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

mod catalogue;
mod formula;
mod kernel;
mod masks;
mod options;
mod sensor;
mod stac;

pub use catalogue::*;
pub use formula::*;
pub use kernel::*;
pub use masks::*;
pub use options::*;
pub use sensor::*;
pub use stac::*;
