//! Vector features per parcel: overlay class shares (zoning, flood zones, wetlands, soils),
//! proximity (distance to nearest feature, count within a radius), shape and value, SSURGO soils.
//!
//! All measurements are planar in a projected working CRS (metres): the parcels' CRS when it is
//! projected, else the UTM zone of the parcels' centre. Layers are reprojected to it, indexed in an
//! R-tree, and intersected with exact polygon boolean operations (`geo`, i_overlay).

use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use crate::features::{ColumnMeta, FeatureTable};
use crate::vector::{Parcels, VectorLayer};
use geo::{Area, BooleanOps, BoundingRect, Distance, Euclidean};
use geo_types::{Coord, Geometry, MultiPolygon, Rect};
use rayon::prelude::*;
use rstar::{Envelope, RTree, RTreeObject, AABB};
use std::collections::{BTreeMap, HashMap};

mod frame;
mod parcel;
mod proximity;
mod shares;
mod soils;

pub use frame::*;
pub use parcel::*;
pub use proximity::*;
pub use shares::*;
pub use soils::*;

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, BooleanOps};

    /// The rectangle clip (with runs beyond one side collapsed) keeps the intersection area of
    /// long, winding rings with a hole, checked against geo's boolean intersection.
    #[test]
    fn clip_to_rect_keeps_the_intersection_area() {
        // a star-like ring of 2,000 vertices, many of them far outside the rectangle
        let ring: Vec<(f64, f64)> = (0..2000)
            .map(|k| {
                let t = k as f64 / 2000.0 * std::f64::consts::TAU;
                let r = 100.0 + 60.0 * (7.0 * t).sin() + 25.0 * (31.0 * t).cos();
                (r * t.cos(), r * t.sin())
            })
            .collect();
        let hole: Vec<(f64, f64)> = (0..50)
            .map(|k| k as f64 / 50.0 * std::f64::consts::TAU)
            .map(|t| (10.0 * t.cos(), 10.0 * t.sin()))
            .collect();
        let poly = MultiPolygon(vec![geo_types::Polygon::new(ring.into(), vec![hole.into()])]);
        for (x0, y0, x1, y1) in [(-30.0, -20.0, 80.0, 45.0), (50.0, 50.0, 200.0, 200.0), (-5.0, -5.0, 5.0, 5.0)] {
            let r = Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 });
            let ours = clip_to_rect(&poly, &r).unsigned_area();
            let reference = poly.intersection(&MultiPolygon(vec![r.to_polygon()])).unsigned_area();
            // geo's boolean operations snap to a fixed-precision grid: agreement to ~1e-8 relative
            assert!((ours - reference).abs() <= 1e-7 * reference.max(1.0), "{ours} vs {reference}");
        }
    }
}
