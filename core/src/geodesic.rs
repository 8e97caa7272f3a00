//! Geodesic area and perimeter on the WGS 84 ellipsoid (Karney's algorithm, as `pyproj.Geod`).

use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use geo::GeodesicArea;
use geo_types::MultiPolygon;
use rayon::prelude::*;

/// Square metres per acre (international acre).
pub const M2_PER_ACRE: f64 = 4_046.856_422_4;

/// Geodesic `(area_m2, perimeter_m)` of each multipolygon, whose coordinates are in `crs`.
///
/// Polygons are transformed to EPSG:4326 and measured on the WGS 84 ellipsoid; the area is the
/// unsigned area of each exterior ring minus its holes (summed over parts), the perimeter the sum
/// of the exterior rings' geodesic lengths (holes excluded) — the values
/// `pyproj.Geod(ellps="WGS84").geometry_area_perimeter` returns.
pub fn area_perimeter(geoms: &[MultiPolygon<f64>], crs: Option<&Crs>) -> Result<Vec<(f64, f64)>> {
    let crs = crs.ok_or_else(|| Error::Crs("geodesic area needs a CRS; the geometries have none".into()))?;
    let t = Transformer::new(crs, &Crs::wgs84())?;
    geoms
        .par_iter()
        .map(|mp| {
            let ll = if t.is_noop() { mp.clone() } else { t.transform_multipolygon(mp)? };
            let mut area = 0.0;
            let mut perim = 0.0;
            for p in &ll.0 {
                // Each ring on its own, signed (so either winding works), then |exterior| - Σ|holes|.
                let ring = |r: &geo_types::LineString<f64>| {
                    geo_types::Polygon::new(r.clone(), vec![]).geodesic_perimeter_area_signed()
                };
                let (per, a) = ring(p.exterior());
                area += a.abs();
                perim += per;
                for h in p.interiors() {
                    area -= ring(h).1.abs();
                }
            }
            Ok((area, perim))
        })
        .collect()
}
