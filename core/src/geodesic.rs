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
        .enumerate()
        .map(|(i, mp)| {
            let ll = if t.is_noop() { mp.clone() } else { t.transform_multipolygon(mp)? };
            use geo::CoordsIter;
            // NaN or beyond the poles would come out as NaN (or a wrong area), silently
            if ll.coords_iter().any(|c| !(c.x.is_finite() && c.y.is_finite() && c.y.abs() <= 90.0)) {
                return Err(Error::InvalidGeometry(format!(
                    "polygon {i} has a coordinate that is not a longitude/latitude (NaN, infinite or |latitude| > 90)"
                )));
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::polygon;

    #[test]
    fn coordinates_beyond_the_poles_or_nan_are_invalid_geometry() {
        let ok = MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)]]);
        let r = area_perimeter(std::slice::from_ref(&ok), Some(&Crs::wgs84())).expect("area");
        assert!(r[0].0 > 6.0e9 && r[0].0 < 6.3e9, "{r:?}");
        for y in [95.0, f64::NAN] {
            let bad =
                MultiPolygon(vec![polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: y), (x: 0.0, y: 0.0)]]);
            let e = area_perimeter(&[ok.clone(), bad], Some(&Crs::wgs84())).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidGeometry);
            assert!(e.to_string().contains("polygon 1"), "{e}");
        }
    }
}
