//! Exact zonal statistics: every raster cell weighted by the fraction of its area covered by the
//! polygon, as `exactextract` computes them.
//!
//! Coverage fractions come from integrating each ring over every row strip of the grid (Green's
//! theorem applied to `min(x, X)`), so a cell's fraction is exact up to floating-point rounding —
//! for holes, multipolygons, polygons partly or wholly outside the raster and polygons smaller
//! than a cell. Rings are oriented by their signed area, so either winding works; a self-
//! intersecting ring counts each lobe by its winding number (clamped to 0..1 per cell).
//!
//! Statistics follow exactextract's definitions: `count` = Σ coverage of valid cells, `mean` =
//! coverage-weighted mean, `min`/`max` over cells with coverage > 0, `stdev` the weighted
//! population standard deviation, quantiles from exactextract's weighted quantile definition
//! (distinct values weighted by coverage; truncated to an integer on integer rasters, as
//! exactextract returns them in the raster's type), `majority`/`minority` by summed coverage (ties,
//! as exactextract: the largest value for majority, the smallest for minority), `variety` the
//! number of distinct values, `frac` the coverage share of each value, `coefficient_of_variation`
//! (stdev / mean), `min_center_x/y` and `max_center_x/y` (the centre of the first cell in row-major
//! order holding the minimum or maximum), `weighted_mean`/`weighted_sum`/`weighted_variance`/
//! `weighted_stdev` with a weight raster on the same grid (coverage × weight). Cells with nodata
//! or NaN are ignored; a polygon with no valid cell has `count` 0 and NaN statistics.

use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use crate::raster::{BandData, DataType, GeoTiff, GeoTransform, Raster, Window};
use geo_types::{Coord, LineString, MultiPolygon};
use rayon::prelude::*;
use std::borrow::Cow;
use std::collections::BTreeMap;

mod coverage;
mod run;
mod stats;

pub use coverage::*;
pub use run::*;
pub use stats::*;

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{polygon, MultiPolygon};

    fn unit_grid() -> GeoTransform {
        GeoTransform([0.0, 1.0, 0.0, 10.0, 0.0, -1.0])
    }

    #[test]
    fn coverage_of_half_cells_and_holes() {
        // square from (0.5, 5.5) to (2.5, 7.5): 4 quarter-cells... total area 4
        let p = MultiPolygon(vec![
            polygon![(x: 0.5, y: 5.5), (x: 2.5, y: 5.5), (x: 2.5, y: 7.5), (x: 0.5, y: 7.5), (x: 0.5, y: 5.5)],
        ]);
        let c = coverage(&p, &unit_grid(), 10, 10).unwrap();
        let total: f64 = c.frac.iter().sum();
        assert!((total - 4.0).abs() < 1e-12, "{total}");
        assert_eq!(c.frac.iter().filter(|v| **v == 1.0).count(), 1);
        // clockwise ring and a hole
        let q = MultiPolygon(vec![geo_types::Polygon::new(
            vec![(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0), (0.0, 0.0)].into(),
            vec![vec![(2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (2.0, 2.0)].into()],
        )]);
        let c = coverage(&q, &unit_grid(), 10, 10).unwrap();
        assert!((c.frac.iter().sum::<f64>() - 96.0).abs() < 1e-9);
        // outside the raster
        let far = MultiPolygon(vec![
            polygon![(x: 50.0, y: 50.0), (x: 51.0, y: 50.0), (x: 51.0, y: 51.0), (x: 50.0, y: 50.0)],
        ]);
        assert_eq!(coverage(&far, &unit_grid(), 10, 10).unwrap().rows, 0);
    }

    #[test]
    fn quantile_matches_type7_for_equal_weights() {
        let vw: Vec<(f64, f64)> = (1..=5).map(|v| (v as f64, 1.0)).collect();
        assert_eq!(weighted_quantile(&vw, 0.5), 3.0);
        assert_eq!(weighted_quantile(&vw, 0.25), 2.0);
        assert_eq!(weighted_quantile(&vw, 1.0), 5.0);
    }

    #[test]
    fn stat_names() {
        assert_eq!(Stat::parse("quantile(q=0.25)").unwrap(), Stat::Quantile(0.25));
        assert_eq!(Stat::Quantile(0.25).name(), "quantile_25");
        assert_eq!(Stat::parse("nope").unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(Stat::parse("quantile_25").unwrap(), Stat::Quantile(0.25));
        assert_eq!(Stat::parse("Quantile( q = 1 )").unwrap(), Stat::Quantile(1.0));
        // q is a fraction, as exactextract takes it: 1.1 is refused, not read as 1.1 %
        for bad in
            ["quantile(q=1.1)", "quantile(q=-0.2)", "quantile(q=25)", "quantile(0.5)", "quantile(q=0.5", "quantile_101"]
        {
            let e = Stat::parse(bad).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT", "{bad}");
            assert!(e.to_string().contains(bad), "{e}");
        }
        assert!(Stat::parse("quantile(q=1.1)").unwrap_err().to_string().contains("quantile q 1.1 outside [0, 1]"));
    }
}
