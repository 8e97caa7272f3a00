//! Terrain derivatives of a DEM with gdaldem's (GDAL 3.6) 3×3 algorithms: slope (degrees or
//! percent), aspect, hillshade, TRI, TPI and roughness, with gdaldem's options
//! ([`TerrainOptions`]): `-alg Horn | ZevenbergenThorne` ([`Gradient`]) for slope, aspect and
//! hillshade; `-combined`, `-multidirectional`, `-igor` ([`HillshadeMode`]); TRI `-alg Riley |
//! Wilson` ([`TriAlgorithm`]); aspect `-zero_for_flat` and `-trigonometric`; `-z -az -alt -s`.
//!
//! Every value equals `gdaldem` on projected DEMs (asserted in `core/tests/it/terrain.rs`, bit for
//! bit for every option):
//!
//! * window sums are done in gdaldem's working type — `i32` for 8/16-bit integer DEMs, `f32`
//!   otherwise — in gdaldem's order, then widened to `f64`;
//! * output is `f32` with nodata −9999 (hillshade: `u8`, nodata 0); a flat cell's aspect is −9999
//!   (0, and no output nodata, with `zero_for_flat`);
//! * [`TerrainOptions::compute_edges`] (default `true`) is `gdaldem -compute_edges`: a missing
//!   outside row/column is extrapolated as `2a − b` from the two nearest inside cells (columns are
//!   clamped on the first and last rows) and a nodata neighbour of a valid centre takes the
//!   centre's value. With `false`, the one-cell border and every cell whose window touches nodata
//!   is nodata, as plain `gdaldem`.
//!
//! On geographic DEMs (degrees) gdaldem needs `-s 111120` and is still wrong away from the
//! equator. landopp instead uses the metric size of one cell at each row's latitude on the WGS 84
//! ellipsoid (meridian and prime-vertical radii of curvature), unless an explicit
//! [`TerrainOptions::scale`] is given: `scale: Some(1.0)` is gdaldem's own default (degrees
//! taken as metres), `Some(111_120.0)` its usual advice.

use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::raster::{
    BandData, DataType, GeoTiff, GeoTiffWriteOptions, GeoTiffWriter, GeoTransform, Raster, TiffLayout, Window,
};
use ndarray::Array2;
use rayon::prelude::*;
use std::path::Path;

mod kernel;
mod options;
mod run;

use kernel::*;
pub use options::*;
pub use run::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_json_take_gdaldems_alg_and_refuse_unknown_keys() {
        assert_eq!(TerrainOptions::from_json(serde_json::Value::Null).unwrap(), TerrainOptions::default());
        assert_eq!(TerrainOptions::parse("{}").unwrap(), TerrainOptions::default());
        let o = TerrainOptions::parse(r#"{"alg": "ZevenbergenThorne", "hillshade": "igor", "z_factor": 2}"#).unwrap();
        assert_eq!((o.gradient, o.hillshade, o.z_factor), (Gradient::ZevenbergenThorne, HillshadeMode::Igor, 2.0));
        assert_eq!(TerrainOptions::parse(r#"{"alg": "wilson"}"#).unwrap().tri, TriAlgorithm::Wilson);
        // what serialises parses back
        let text = serde_json::to_string(&o).unwrap();
        assert_eq!(TerrainOptions::parse(&text).unwrap(), o);
        for bad in [
            r#"{"computeEdges": false}"#,
            r#"{"alg": "Sobel"}"#,
            r#"{"hillshade": "flat"}"#,
            "[1]",
            r#"{"alg": "Horn", "gradient": "zevenbergen_thorne"}"#,
        ] {
            let e = TerrainOptions::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT", "{bad}");
            assert!(e.to_string().starts_with("invalid input: terrain options"), "{e}");
            assert!(!e.to_string().contains("Sobel"), "{e}");
        }
    }

    #[test]
    fn fast_atan_matches_std() {
        let mut worst: f64 = 0.0;
        for i in 0..200_000 {
            let x = (i as f64 / 1000.0).powi(2) / 10.0;
            worst = worst.max((super::fast_atan(x) - x.atan()).abs());
        }
        assert!(worst < 1e-15, "{worst}");
    }
}
