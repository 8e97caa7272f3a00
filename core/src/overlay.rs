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

/// Parcels and layers in one metric CRS.
#[derive(Debug, Clone)]
pub struct WorkFrame {
    /// The working CRS.
    pub crs: Crs,
    /// Metres per CRS unit.
    pub unit_m: f64,
    /// Parcels in the working CRS.
    pub parcels: Vec<MultiPolygon<f64>>,
    /// Planar parcel areas, m².
    pub area_m2: Vec<f64>,
}

impl WorkFrame {
    /// Choose the working CRS for `parcels` (or use `crs`) and reproject them.
    pub fn new(parcels: &Parcels, crs: Option<&Crs>) -> Result<Self> {
        let (work, unit_m, t) = Self::target(parcels, crs)?;
        let geoms: Vec<MultiPolygon<f64>> =
            parcels.geometries.par_iter().map(|g| reproject_mp(g, &t)).collect::<Result<_>>()?;
        let area_m2 = geoms.iter().map(|g| g.unsigned_area() * unit_m * unit_m).collect();
        Ok(WorkFrame { crs: work, unit_m, parcels: geoms, area_m2 })
    }

    /// The working CRS for `parcels` (`crs` when given, else theirs when projected, else the UTM
    /// zone of their centre), its metres per unit, and the transformer from theirs to it.
    pub(crate) fn target(parcels: &Parcels, crs: Option<&Crs>) -> Result<(Crs, f64, Transformer)> {
        let src = parcels.crs.as_ref().ok_or_else(|| Error::Crs(format!("parcels {:?} have no CRS", parcels.name)))?;
        let work = match crs {
            Some(c) => c.clone(),
            None if !src.is_geographic() => src.clone(),
            None => {
                let t = Transformer::new(src, &Crs::wgs84())?;
                let b =
                    bounds(&parcels.geometries).ok_or_else(|| Error::Empty("parcels have no coordinates".into()))?;
                let (lon, lat) = t.transform_point((b.min().x + b.max().x) / 2.0, (b.min().y + b.max().y) / 2.0)?;
                let zone = (((lon + 180.0) / 6.0).floor() as u32 + 1).clamp(1, 60);
                Crs::from_epsg(if lat >= 0.0 { 32600 + zone } else { 32700 + zone })?
            }
        };
        if work.is_geographic() {
            return Err(Error::Crs(format!("the working CRS {work} must be projected (metres)")));
        }
        let unit_m = work.linear_unit_m().unwrap_or(1.0);
        let t = Transformer::new(src, &work)?;
        Ok((work, unit_m, t))
    }

    /// A layer's geometries reprojected to the working CRS (nulls dropped), with their row index.
    pub fn layer(&self, layer: &VectorLayer) -> Result<Vec<(usize, Geometry<f64>)>> {
        let src = layer.crs.as_ref().ok_or_else(|| Error::Crs(format!("layer {:?} has no CRS", layer.name)))?;
        let t = Transformer::new(src, &self.crs)?;
        layer
            .geometries
            .par_iter()
            .enumerate()
            .filter_map(|(i, g)| g.as_ref().map(|g| (i, g)))
            .map(|(i, g)| {
                let mut g = g.clone();
                t.transform_geometry(&mut g)?;
                Ok((i, g))
            })
            .collect()
    }
}

pub(crate) fn reproject_mp(g: &MultiPolygon<f64>, t: &Transformer) -> Result<MultiPolygon<f64>> {
    if t.is_noop() {
        return Ok(g.clone());
    }
    t.transform_multipolygon(g)
}

/// [`reproject_mp`] of geometries the caller owns: in place, nothing copied when `t` is a no-op.
pub(crate) fn reproject_owned(gs: &mut [MultiPolygon<f64>], t: &Transformer) -> Result<()> {
    if t.is_noop() {
        return Ok(());
    }
    gs.par_iter_mut().try_for_each(|g| t.transform_multipolygon_in_place(g))
}

fn bounds(gs: &[MultiPolygon<f64>]) -> Option<Rect<f64>> {
    gs.iter().filter_map(|g| g.bounding_rect()).reduce(|a, b| {
        Rect::new(
            Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
            Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
        )
    })
}

struct Indexed {
    idx: usize,
    env: AABB<[f64; 2]>,
}

impl RTreeObject for Indexed {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

fn aabb(r: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

fn build_index(geoms: &[(usize, Geometry<f64>)]) -> RTree<Indexed> {
    RTree::bulk_load(
        geoms
            .iter()
            .enumerate()
            .filter_map(|(k, (_, g))| g.bounding_rect().map(|r| Indexed { idx: k, env: aabb(r) }))
            .collect(),
    )
}

pub(crate) fn as_multipolygon(g: &Geometry<f64>) -> Option<MultiPolygon<f64>> {
    match g {
        Geometry::Polygon(p) => Some(MultiPolygon(vec![p.clone()])),
        Geometry::MultiPolygon(m) => Some(m.clone()),
        Geometry::Rect(r) => Some(MultiPolygon(vec![r.to_polygon()])),
        _ => None,
    }
}

/// Boolean intersection guarded against panics inside the overlay engine on degenerate input.
pub(crate) fn safe_intersection(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> Option<MultiPolygon<f64>> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| a.intersection(b))).ok()
}

#[derive(PartialEq)]
enum Side {
    In,
    Out,
    On,
}

fn side(pt: Coord<f64>, mp: &MultiPolygon<f64>, eps: f64) -> Side {
    let mut inside = false;
    for poly in &mp.0 {
        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
            for w in ring.0.windows(2) {
                let (a, b) = (w[0], w[1]);
                if pt_seg_d2([pt.x, pt.y], [a.x, a.y], [b.x, b.y]) <= eps * eps {
                    return Side::On;
                }
                if (a.y > pt.y) != (b.y > pt.y) && pt.x < a.x + (pt.y - a.y) * (b.x - a.x) / (b.y - a.y) {
                    inside = !inside;
                }
            }
        }
    }
    if inside {
        Side::In
    } else {
        Side::Out
    }
}

/// `Some(true)` when `p` lies inside `q`, `Some(false)` when they do not overlap, `None` when the
/// boundaries interact and a boolean operation is needed. Shared (collinear) edges are fine.
fn relate_fast(p: &MultiPolygon<f64>, q: &MultiPolygon<f64>) -> Option<bool> {
    let edges = |m: &MultiPolygon<f64>| -> Vec<([f64; 2], [f64; 2])> {
        let mut v = Vec::new();
        for poly in &m.0 {
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                for w in ring.0.windows(2) {
                    v.push(([w[0].x, w[0].y], [w[1].x, w[1].y]));
                }
            }
        }
        v
    };
    let (ep, eq) = (edges(p), edges(q));
    if ep.len() * eq.len() > 40_000 {
        return None;
    }
    let scale = p.bounding_rect().map_or(1.0, |r| r.width().max(r.height()));
    let eps = 1e-9 * scale.max(1.0);
    for (a, b) in &ep {
        for (c, d) in &eq {
            if segs_cross(*a, *b, *c, *d) {
                return None;
            }
        }
    }
    let mut any_in = false;
    let mut any_out = false;
    for (a, _) in &ep {
        match side(Coord { x: a[0], y: a[1] }, q, eps) {
            Side::In => any_in = true,
            Side::Out => any_out = true,
            Side::On => {}
        }
    }
    if any_in && any_out {
        return None;
    }
    // a vertex of q strictly inside p means q has a part (or hole) within p
    for (c, _) in &eq {
        if side(Coord { x: c[0], y: c[1] }, p, eps) == Side::In {
            return None;
        }
    }
    match (any_in, any_out) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None, // every vertex on q's boundary: let the boolean operation decide
    }
}

/// Sutherland–Hodgman clip of each ring to a rectangle (areas are exact; clipped rings may run
/// along the rectangle's border, which the boolean operations handle).
fn clip_to_rect(mp: &MultiPolygon<f64>, r: &Rect<f64>) -> MultiPolygon<f64> {
    fn clip_ring(ring: &[Coord<f64>], r: &Rect<f64>) -> Vec<Coord<f64>> {
        let (x0, y0, x1, y1) = (r.min().x, r.min().y, r.max().x, r.max().y);
        let mut ring = ring;
        if ring.len() > 1 && ring.first() == ring.last() {
            ring = &ring[..ring.len() - 1];
        }
        // A run of consecutive vertices all beyond one side of the rectangle can be replaced by
        // its first and last vertex: the chord and the run both lie in that outer half-plane, so
        // the ring's intersection with the rectangle is unchanged. Long rings (zoning districts,
        // soil map units) shrink to their vertices near the rectangle before the four passes.
        let code = |c: &Coord<f64>| -> u8 {
            (c.x < x0) as u8 | ((c.x > x1) as u8) << 1 | ((c.y < y0) as u8) << 2 | ((c.y > y1) as u8) << 3
        };
        let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.len().min(64));
        let mut i = 0;
        while i < ring.len() {
            let mut common = code(&ring[i]);
            let mut j = i + 1;
            if common != 0 {
                while j < ring.len() {
                    let c = common & code(&ring[j]);
                    if c == 0 {
                        break;
                    }
                    common = c;
                    j += 1;
                }
            }
            pts.push(ring[i]);
            if j - 1 > i {
                pts.push(ring[j - 1]);
            }
            i = j;
        }
        let edges: [(u8, f64); 4] = [(0, x0), (1, x1), (2, y0), (3, y1)];
        for (kind, v) in edges {
            if pts.is_empty() {
                break;
            }
            let inside = |c: &Coord<f64>| match kind {
                0 => c.x >= v,
                1 => c.x <= v,
                2 => c.y >= v,
                _ => c.y <= v,
            };
            let cut = |a: &Coord<f64>, b: &Coord<f64>| {
                if kind < 2 {
                    let t = (v - a.x) / (b.x - a.x);
                    Coord { x: v, y: a.y + t * (b.y - a.y) }
                } else {
                    let t = (v - a.y) / (b.y - a.y);
                    Coord { x: a.x + t * (b.x - a.x), y: v }
                }
            };
            let mut out = Vec::with_capacity(pts.len() + 4);
            for i in 0..pts.len() {
                let cur = &pts[i];
                let prev = &pts[(i + pts.len() - 1) % pts.len()];
                match (inside(prev), inside(cur)) {
                    (true, true) => out.push(*cur),
                    (true, false) => out.push(cut(prev, cur)),
                    (false, true) => {
                        out.push(cut(prev, cur));
                        out.push(*cur);
                    }
                    (false, false) => {}
                }
            }
            pts = out;
        }
        if pts.len() >= 3 {
            pts.push(pts[0]);
        } else {
            pts.clear();
        }
        pts
    }
    let mut out = Vec::new();
    for p in &mp.0 {
        let ext = clip_ring(&p.exterior().0, r);
        if ext.is_empty() {
            continue;
        }
        let holes: Vec<geo_types::LineString<f64>> = p
            .interiors()
            .iter()
            .map(|h| clip_ring(&h.0, r))
            .filter(|h| !h.is_empty())
            .map(geo_types::LineString)
            .collect();
        out.push(geo_types::Polygon::new(geo_types::LineString(ext), holes));
    }
    MultiPolygon(out)
}

/// Share of each parcel's area covered by each class of a polygon layer.
#[derive(Debug, Clone)]
pub struct OverlayResult {
    /// Class labels, sorted.
    pub classes: Vec<String>,
    /// `shares[parcel][class]` in 0..=1.
    pub shares: Vec<Vec<f64>>,
}

/// Area share of each class of `field` (or of the layer as a whole, class `"any"`, when `field`
/// is `None`) in every parcel. Overlapping features of one class are unioned first, so shares
/// never exceed 1.
pub fn overlay_shares(frame: &WorkFrame, layer: &VectorLayer, field: Option<&str>) -> Result<OverlayResult> {
    let geoms = frame.layer(layer)?;
    let labels: Vec<String> = match field {
        Some(f) => {
            let c = layer.column(f)?;
            geoms.iter().map(|(i, _)| c.data.get(*i).to_string()).collect()
        }
        None => vec!["any".to_string(); geoms.len()],
    };
    let mut classes: Vec<String> = labels.clone();
    classes.sort();
    classes.dedup();
    let class_of: HashMap<&str, usize> = classes.iter().enumerate().map(|(k, c)| (c.as_str(), k)).collect();
    let polys: Vec<Option<MultiPolygon<f64>>> = geoms.iter().map(|(_, g)| as_multipolygon(g)).collect();
    if polys.iter().all(Option::is_none) {
        return Err(Error::InvalidGeometry(format!("overlay layer {:?} has no polygons", layer.name)));
    }
    let tree = build_index(&geoms);
    let u2 = frame.unit_m * frame.unit_m;
    let shares = frame
        .parcels
        .par_iter()
        .zip(&frame.area_m2)
        .map(|(p, &area)| {
            let mut out = vec![0.0; classes.len()];
            let Some(r) = p.bounding_rect() else { return out };
            if area <= 0.0 {
                return out;
            }
            let mut per_class: BTreeMap<usize, Vec<MultiPolygon<f64>>> = BTreeMap::new();
            for cand in tree.locate_in_envelope_intersecting(&aabb(r)) {
                let Some(poly) = &polys[cand.idx] else { continue };
                // P ∩ Q lies in box(P) ∩ box(Q): clip both to it first, so large parcels (road
                // strips) and large features (zoning districts) shrink to the local part
                let e = cand.env;
                let (x0, y0) = (r.min().x.max(e.lower()[0]), r.min().y.max(e.lower()[1]));
                let (x1, y1) = (r.max().x.min(e.upper()[0]), r.max().y.min(e.upper()[1]));
                if x0 >= x1 || y0 >= y1 {
                    continue;
                }
                // the two clip boxes differ slightly so their cut edges never coincide
                let m = 1e-3 * (x1 - x0).max(y1 - y0) + 1e-6;
                let grow =
                    |k: f64| Rect::new(Coord { x: x0 - k * m, y: y0 - k * m }, Coord { x: x1 + k * m, y: y1 + k * m });
                let (rq, rp) = (grow(1.0), grow(2.0));
                let rect_area = rq.width() * rq.height();
                let qc = clip_to_rect(poly, &rq);
                let qa = qc.unsigned_area();
                if qa <= 0.0 {
                    continue;
                }
                let pc = clip_to_rect(p, &rp);
                if pc.unsigned_area() <= 0.0 {
                    continue;
                }
                let inter = if (qa - rect_area).abs() <= 1e-9 * rect_area {
                    clip_to_rect(p, &rq) // the feature covers the whole box
                } else {
                    match relate_fast(&pc, &qc) {
                        Some(true) => pc,
                        Some(false) => continue,
                        None => safe_intersection(&pc, &qc)
                            .or_else(|| safe_intersection(p, poly))
                            .unwrap_or(MultiPolygon(vec![])),
                    }
                };
                if inter.unsigned_area() > 0.0 {
                    per_class.entry(class_of[labels[cand.idx].as_str()]).or_default().push(inter);
                }
            }
            for (k, parts) in per_class {
                let a = if parts.len() == 1 {
                    parts[0].unsigned_area()
                } else {
                    parts
                        .iter()
                        .skip(1)
                        .try_fold(parts[0].clone(), |acc, x| {
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| acc.union(x))).ok()
                        })
                        .map_or_else(|| parts.iter().map(|x| x.unsigned_area()).sum(), |u| u.unsigned_area())
                };
                out[k] = (a * u2 / area).clamp(0.0, 1.0);
            }
            out
        })
        .collect();
    Ok(OverlayResult { classes, shares })
}

/// A segment of a layer feature, indexed.
struct Seg {
    a: [f64; 2],
    b: [f64; 2],
    feature: u32,
    /// Last segment of its line: `b` is not the `a` of another segment.
    last: bool,
}

impl RTreeObject for Seg {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners(
            [self.a[0].min(self.b[0]), self.a[1].min(self.b[1])],
            [self.a[0].max(self.b[0]), self.a[1].max(self.b[1])],
        )
    }
}

impl rstar::PointDistance for Seg {
    fn distance_2(&self, point: &[f64; 2]) -> f64 {
        pt_seg_d2(*point, self.a, self.b)
    }
}

fn push_line(out: &mut Vec<Seg>, cs: &[Coord<f64>], f: u32) {
    if cs.len() == 1 {
        out.push(Seg { a: [cs[0].x, cs[0].y], b: [cs[0].x, cs[0].y], feature: f, last: true });
    }
    let n = cs.len().saturating_sub(1);
    for (k, w) in cs.windows(2).enumerate() {
        out.push(Seg { a: [w[0].x, w[0].y], b: [w[1].x, w[1].y], feature: f, last: k + 1 == n });
    }
}

fn segments_of(g: &Geometry<f64>, f: u32, out: &mut Vec<Seg>) {
    match g {
        Geometry::Point(p) => push_line(out, &[p.0], f),
        Geometry::MultiPoint(m) => m.0.iter().for_each(|p| push_line(out, &[p.0], f)),
        Geometry::Line(l) => push_line(out, &[l.start, l.end], f),
        Geometry::LineString(l) => push_line(out, &l.0, f),
        Geometry::MultiLineString(m) => m.0.iter().for_each(|l| push_line(out, &l.0, f)),
        Geometry::Polygon(p) => {
            push_line(out, &p.exterior().0, f);
            p.interiors().iter().for_each(|r| push_line(out, &r.0, f));
        }
        Geometry::MultiPolygon(m) => m.0.iter().for_each(|p| segments_of(&Geometry::Polygon(p.clone()), f, out)),
        Geometry::GeometryCollection(c) => c.0.iter().for_each(|g| segments_of(g, f, out)),
        Geometry::Rect(r) => segments_of(&Geometry::Polygon(r.to_polygon()), f, out),
        Geometry::Triangle(t) => segments_of(&Geometry::Polygon(t.to_polygon()), f, out),
    }
}

fn pt_seg_d2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
    let (x, y) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    x * x + y * y
}

fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

fn segs_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (o1, o2, o3, o4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
    (o1 * o2 < 0.0) && (o3 * o4 < 0.0)
}

/// Squared distance between two segments (0 when they cross).
fn seg_seg_d2(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> f64 {
    if segs_cross(a, b, c, d) {
        return 0.0;
    }
    pt_seg_d2(a, c, d).min(pt_seg_d2(b, c, d)).min(pt_seg_d2(c, a, b)).min(pt_seg_d2(d, a, b))
}

/// A proximity count radius must be a positive, finite number of metres.
pub(crate) fn check_radius(radius_m: Option<f64>) -> Result<()> {
    match radius_m {
        Some(r) if !(r.is_finite() && r > 0.0) => {
            Err(Error::InvalidInput(format!("radius_m {r}: must be a positive number of metres")))
        }
        _ => Ok(()),
    }
}

/// Distance (m) from each parcel to the nearest feature of `layer` (0 when they touch or one
/// contains the other), and the number of features within `radius_m` (when given). Features are
/// indexed by segment in an R-tree; distances are exact planar segment distances in the working CRS.
pub fn proximity(
    frame: &WorkFrame,
    layer: &VectorLayer,
    radius_m: Option<f64>,
) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    check_radius(radius_m)?;
    let geoms = frame.layer(layer)?;
    if geoms.is_empty() {
        return Err(Error::Empty(format!("proximity layer {:?} has no geometry", layer.name)));
    }
    let mut segs = Vec::new();
    for (k, (_, g)) in geoms.iter().enumerate() {
        segments_of(g, k as u32, &mut segs);
    }
    let polys: Vec<Option<MultiPolygon<f64>>> = geoms.iter().map(|(_, g)| as_multipolygon(g)).collect();
    let tree = RTree::bulk_load(segs);
    let ftree = build_index(&geoms);
    let unit = frame.unit_m;
    let radius = radius_m.map(|r| r / unit);
    let res: Vec<(f64, f64)> = frame
        .parcels
        .par_iter()
        .map(|p| {
            let Some(r) = p.bounding_rect() else { return (f64::NAN, f64::NAN) };
            let mut edges: Vec<([f64; 2], [f64; 2])> = Vec::new();
            for poly in &p.0 {
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for w in ring.0.windows(2) {
                        edges.push(([w[0].x, w[0].y], [w[1].x, w[1].y]));
                    }
                }
            }
            // the parcel's own edges, indexed: large parcels (right-of-way strips with thousands of
            // vertices) then cost O(log n) per layer segment instead of O(n)
            let etree = RTree::bulk_load(
                edges.iter().map(|(a, b)| Seg { a: *a, b: *b, feature: 0, last: true }).collect::<Vec<_>>(),
            );
            let inside_parcel = |q: [f64; 2]| -> bool {
                let ray = AABB::from_corners(q, [r.max().x + 1.0, q[1]]);
                let mut inside = false;
                for e in etree.locate_in_envelope_intersecting(&ray) {
                    let (a, b) = (e.a, e.b);
                    if (a[1] > q[1]) != (b[1] > q[1]) && q[0] < a[0] + (q[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) {
                        inside = !inside;
                    }
                }
                inside
            };
            // per-feature squared distance (exact up to `reach`) for features with a segment in `env`
            let feature_d2 = |env: &AABB<[f64; 2]>, reach: f64| -> HashMap<u32, f64> {
                let mut m: HashMap<u32, f64> = HashMap::new();
                for s in tree.locate_in_envelope_intersecting(env) {
                    let e = m.entry(s.feature).or_insert(f64::INFINITY);
                    if *e == 0.0 {
                        continue;
                    }
                    let mut d = f64::INFINITY;
                    if inside_parcel(s.a) {
                        d = 0.0;
                    } else {
                        let lo = [s.a[0].min(s.b[0]) - reach, s.a[1].min(s.b[1]) - reach];
                        let hi = [s.a[0].max(s.b[0]) + reach, s.a[1].max(s.b[1]) + reach];
                        for pe in etree.locate_in_envelope_intersecting(&AABB::from_corners(lo, hi)) {
                            d = d.min(seg_seg_d2(s.a, s.b, pe.a, pe.b));
                            if d == 0.0 {
                                break;
                            }
                        }
                    }
                    *e = e.min(d);
                }
                m
            };
            // a polygon feature containing the whole parcel: ray-cast one parcel vertex against the
            // segments of features whose box contains the parcel's box (R-tree, not a full scan)
            let mut contained = Vec::new();
            if let Some(v) = p.0.first().and_then(|q| q.exterior().0.first()) {
                let pbox = aabb(r);
                for c in ftree.locate_in_envelope_intersecting(&pbox) {
                    if polys[c.idx].is_none() || !c.env.contains_envelope(&pbox) {
                        continue;
                    }
                    let ray = AABB::from_corners([v.x, v.y], [c.env.upper()[0], v.y]);
                    let mut inside = false;
                    for sg in tree.locate_in_envelope_intersecting(&ray) {
                        if sg.feature as usize != c.idx {
                            continue;
                        }
                        let (a, b) = (sg.a, sg.b);
                        if (a[1] > v.y) != (b[1] > v.y) && v.x < a[0] + (v.y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]) {
                            inside = !inside;
                        }
                    }
                    if inside {
                        contained.push(c.idx as u32);
                    }
                }
            }
            let feature_d2 = |env: &AABB<[f64; 2]>, reach: f64| {
                let mut m = feature_d2(env, reach);
                for f in &contained {
                    m.insert(*f, 0.0);
                }
                m
            };
            let expand =
                |pad: f64| AABB::from_corners([r.min().x - pad, r.min().y - pad], [r.max().x + pad, r.max().y + pad]);
            // upper bound from each parcel vertex's nearest segment, then the exact minimum over
            // the segments within that bound (the minimum is at a vertex of one side)
            let mut ub2 = f64::INFINITY;
            for (a, _) in &edges {
                if let Some(sg) = tree.nearest_neighbor(a) {
                    ub2 = ub2.min(pt_seg_d2(*a, sg.a, sg.b));
                }
            }
            let best = if contained.is_empty() {
                // the minimum is at a parcel vertex (ub) or at a layer vertex, unless segments cross
                let ub = ub2.sqrt();
                let pbox = aabb(r);
                let mut b2 = ub2;
                for s in tree.locate_in_envelope_intersecting(&expand(ub)) {
                    // nothing on this segment can be nearer than its box is to the parcel's box
                    if box_d2(&s.envelope(), &pbox) >= b2 {
                        continue;
                    }
                    // every vertex is the start of a segment, except the end of a line
                    let ends: &[[f64; 2]] = if s.last { &[s.a, s.b] } else { &[s.a] };
                    for q in ends {
                        if pbox.distance_2(q) >= b2 {
                            continue;
                        }
                        if let Some(e) = etree.nearest_neighbor(q) {
                            b2 = b2.min(pt_seg_d2(*q, e.a, e.b));
                        }
                    }
                    if b2 == 0.0 {
                        break;
                    }
                    if s.envelope().intersects(&pbox) {
                        if inside_parcel(s.a) {
                            b2 = 0.0;
                            break;
                        }
                        for e in etree.locate_in_envelope_intersecting(&s.envelope()) {
                            if segs_cross(s.a, s.b, e.a, e.b) {
                                b2 = 0.0;
                                break;
                            }
                        }
                    }
                }
                b2.sqrt()
            } else {
                0.0
            };
            let count =
                radius.map(|rad| feature_d2(&expand(rad), rad).values().filter(|d| d.sqrt() <= rad).count() as f64);
            (best * unit, count.unwrap_or(f64::NAN))
        })
        .collect();
    let d = res.iter().map(|x| x.0).collect();
    let c = radius_m.map(|_| res.iter().map(|x| x.1).collect());
    Ok((d, c))
}

/// Squared distance between two boxes (0 when they touch or overlap).
fn box_d2(a: &AABB<[f64; 2]>, b: &AABB<[f64; 2]>) -> f64 {
    let dx = (a.lower()[0] - b.upper()[0]).max(b.lower()[0] - a.upper()[0]).max(0.0);
    let dy = (a.lower()[1] - b.upper()[1]).max(b.lower()[1] - a.upper()[1]).max(0.0);
    dx * dx + dy * dy
}

/// Shape columns: geodesic `area_m2`, `area_acres`, `perimeter_m` (exterior, as pyproj.Geod),
/// `polsby_popper` (4πA/P² with planar area and full perimeter in the working CRS), `mrr_fill`
/// (area / minimum rotated rectangle area), `mrr_elongation` (long / short side), `vertex_count`.
pub fn shape_features(parcels: &Parcels, frame: &WorkFrame) -> Result<FeatureTable> {
    use geo::{CoordsIter, Length, MinimumRotatedRect};
    let ap = parcels.geodesic_area_perimeter()?;
    let mut t = FeatureTable::new(parcels.ids.clone());
    let meta = |unit: &str, method: &str| ColumnMeta {
        source: parcels.name.clone(),
        unit: unit.into(),
        method: method.into(),
    };
    t.add_column("area_m2", ap.iter().map(|v| v.0).collect(), meta("m2", "geodesic area on WGS 84 (Karney)"))?;
    t.add_column(
        "area_acres",
        ap.iter().map(|v| v.0 / crate::geodesic::M2_PER_ACRE).collect(),
        meta("acre", "geodesic area / 4046.8564224"),
    )?;
    t.add_column("perimeter_m", ap.iter().map(|v| v.1).collect(), meta("m", "geodesic perimeter of exterior rings"))?;
    let u = frame.unit_m;
    let mut pp = Vec::new();
    let mut fill = Vec::new();
    let mut elong = Vec::new();
    let mut verts = Vec::new();
    for g in &frame.parcels {
        let a = g.unsigned_area() * u * u;
        let per: f64 = g
            .0
            .iter()
            .map(|p| Euclidean.length(p.exterior()) + p.interiors().iter().map(|r| Euclidean.length(r)).sum::<f64>())
            .sum::<f64>()
            * u;
        pp.push(if per > 0.0 { 4.0 * std::f64::consts::PI * a / (per * per) } else { f64::NAN });
        match g.minimum_rotated_rect() {
            Some(r) => {
                let ra = r.unsigned_area() * u * u;
                fill.push(if ra > 0.0 { a / ra } else { f64::NAN });
                let c = &r.exterior().0;
                let s1 = Euclidean.distance(c[0], c[1]);
                let s2 = Euclidean.distance(c[1], c[2]);
                let (lo, hi) = if s1 < s2 { (s1, s2) } else { (s2, s1) };
                elong.push(if lo > 0.0 { hi / lo } else { f64::NAN });
            }
            None => {
                fill.push(f64::NAN);
                elong.push(f64::NAN);
            }
        }
        verts.push(g.coords_count() as f64);
    }
    let m = format!("planar in {}", frame.crs.to_user_string());
    t.add_column("polsby_popper", pp, meta("1", &format!("4πA/P², {m}")))?;
    t.add_column("mrr_fill", fill, meta("1", &format!("area / minimum rotated rectangle area, {m}")))?;
    t.add_column("mrr_elongation", elong, meta("1", &format!("minimum rotated rectangle long/short side, {m}")))?;
    t.add_column("vertex_count", verts, meta("1", "number of vertices"))?;
    Ok(t)
}

/// Value columns from parcel attributes: `value_per_acre` = total value / geodesic acres and
/// `land_value_ratio` = land value / total value (NaN when a value is missing or total is 0).
pub fn value_features(parcels: &Parcels, total_field: &str, land_field: Option<&str>) -> Result<FeatureTable> {
    let ap = parcels.geodesic_area_perimeter()?;
    let total = parcels.column(total_field)?.data.to_f64();
    let mut t = FeatureTable::new(parcels.ids.clone());
    let per_acre = total
        .iter()
        .zip(&ap)
        .map(|(v, a)| if a.0 > 0.0 { v / (a.0 / crate::geodesic::M2_PER_ACRE) } else { f64::NAN })
        .collect();
    t.add_column(
        "value_per_acre",
        per_acre,
        ColumnMeta {
            source: format!("{}.{total_field}", parcels.name),
            unit: "currency/acre".into(),
            method: "value / geodesic acres".into(),
        },
    )?;
    if let Some(lf) = land_field {
        let land = parcels.column(lf)?.data.to_f64();
        let ratio = land.iter().zip(&total).map(|(l, t)| if *t > 0.0 { l / t } else { f64::NAN }).collect();
        t.add_column(
            "land_value_ratio",
            ratio,
            ColumnMeta {
                source: format!("{}.{lf}/{total_field}", parcels.name),
                unit: "1".into(),
                method: "land / total value".into(),
            },
        )?;
    }
    Ok(t)
}

/// Add overlay shares as `<prefix>_<class>_share` columns, `<prefix>_dominant` (categorical, empty
/// when nothing overlaps) and `<prefix>_any` (0/1 presence).
pub fn add_overlay_columns(t: &mut FeatureTable, r: &OverlayResult, prefix: &str, source: &str) -> Result<()> {
    let meta = |method: &str| ColumnMeta { source: source.to_string(), unit: "1".into(), method: method.into() };
    for (k, c) in r.classes.iter().enumerate() {
        let name = format!("{prefix}_{}_share", sanitize(c));
        t.add_column(
            name,
            r.shares.iter().map(|s| s[k]).collect(),
            meta("area share of the parcel (exact polygon intersection)"),
        )?;
    }
    let dominant = r
        .shares
        .iter()
        .map(|s| {
            s.iter()
                .enumerate()
                .filter(|x| *x.1 > 0.0)
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(k, _)| r.classes[k].clone())
        })
        .collect();
    t.add_categorical(format!("{prefix}_dominant"), dominant, meta("class with the largest area share"))?;
    t.add_column(
        format!("{prefix}_any"),
        r.shares.iter().map(|s| if s.iter().any(|v| *v > 0.0) { 1.0 } else { 0.0 }).collect(),
        meta("1 if any class overlaps the parcel"),
    )?;
    Ok(())
}

/// A column-name-safe version of a class label.
pub fn sanitize(s: &str) -> String {
    let t: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let t = t.trim_matches('_').to_string();
    if t.is_empty() {
        "blank".into()
    } else {
        t
    }
}

/// One SSURGO component: `(comppct_r, majcompflag, drainagecl, hydgrp)`.
pub type Component = (f64, bool, Option<String>, Option<String>);

/// Per parcel, the label of the column with the largest positive value (None when all are 0).
fn dominant(labels: &[String], cols: &[Vec<f64>], n: usize) -> Vec<Option<String>> {
    (0..n)
        .map(|i| {
            cols.iter()
                .enumerate()
                .filter(|c| c.1[i] > 0.0)
                .max_by(|a, b| a.1[i].total_cmp(&b.1[i]))
                .map(|(k, _)| labels[k].clone())
        })
        .collect()
}

/// SSURGO component and map-unit tables, as exported by Soil Data Access (CSV).
#[derive(Debug, Clone, Default)]
pub struct SoilTables {
    /// mukey → [(comppct_r, majcompflag, drainagecl, hydgrp)].
    pub components: HashMap<String, Vec<Component>>,
    /// mukey → farmlndcl.
    pub farmland: HashMap<String, Option<String>>,
}

impl SoilTables {
    /// Read the component table (`mukey, cokey, comppct_r, majcompflag, drainagecl, hydgrp`) and
    /// the map-unit table (`mukey, farmlndcl`). A missing file or column is an error naming it.
    pub fn read(component_csv: &std::path::Path, mapunit_csv: &std::path::Path) -> Result<Self> {
        let comp =
            read_csv_table(component_csv, &["mukey", "cokey", "comppct_r", "majcompflag", "drainagecl", "hydgrp"])?;
        let mu = read_csv_table(mapunit_csv, &["mukey", "farmlndcl"])?;
        let mut t = SoilTables::default();
        for (i, row) in comp.into_iter().enumerate() {
            let pct: f64 = row[2].trim().parse().map_err(|_| {
                Error::format("CSV", component_csv, format!("comppct_r of data row {} is not a number", i + 1))
            })?;
            let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
            t.components.entry(row[0].trim().to_string()).or_default().push((
                pct,
                row[3].trim().eq_ignore_ascii_case("yes"),
                opt(&row[4]),
                opt(&row[5]),
            ));
        }
        for row in mu {
            t.farmland
                .insert(row[0].trim().to_string(), (!row[1].trim().is_empty()).then(|| row[1].trim().to_string()));
        }
        Ok(t)
    }

    /// Component-percent-weighted class shares of a map unit for `attr` (0 = drainagecl, 1 = hydgrp).
    fn class_weights(&self, mukey: &str, attr: usize) -> Vec<(String, f64)> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        if let Some(cs) = self.components.get(mukey) {
            for (pct, _, dr, hg) in cs {
                let v = if attr == 0 { dr } else { hg };
                if let Some(v) = v {
                    *m.entry(v.clone()).or_default() += pct / 100.0;
                }
            }
        }
        m.into_iter().collect()
    }
}

fn read_csv_table(path: &std::path::Path, cols: &[&str]) -> Result<Vec<Vec<String>>> {
    if !path.exists() {
        return Err(Error::FileNotFound { path: path.to_path_buf() });
    }
    let mut rd = csv::Reader::from_path(path).map_err(|e| Error::format("CSV", path, e.to_string()))?;
    let head: Vec<String> = rd
        .headers()
        .map_err(|e| Error::format("CSV", path, e.to_string()))?
        .iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    // the header is listed back only when it looks like column names: a path pointing at some
    // other file (`/etc/passwd`) must not print that file's first line
    let names = |head: &[String]| -> Vec<String> {
        let looks_like_names =
            head.iter().all(|h| h.len() <= 64 && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' '));
        if looks_like_names {
            head.iter().take(50).cloned().collect()
        } else {
            vec![]
        }
    };
    let idx: Vec<usize> = cols
        .iter()
        .map(|c| {
            head.iter()
                .position(|h| h == c)
                .ok_or_else(|| Error::not_found("column", format!("{c} (in {})", path.display()), names(&head)))
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| Error::format("CSV", path, e.to_string()))?;
        rows.push(idx.iter().map(|&i| rec.get(i).unwrap_or("").to_string()).collect());
    }
    Ok(rows)
}

/// Soil features: map-unit shares (`soil_mukey_<key>_share`, `soil_mukey_dominant`) and, given
/// SDA tables, per parcel shares of each drainage class / hydrologic group (area share × component
/// percent) and farmland class (area share), with their dominant classes.
pub fn soil_features(
    frame: &WorkFrame,
    layer: &VectorLayer,
    mukey_field: &str,
    tables: Option<&SoilTables>,
    t: &mut FeatureTable,
) -> Result<()> {
    let r = overlay_shares(frame, layer, Some(mukey_field))?;
    let src = layer.name.clone();
    add_overlay_columns(t, &r, "soil_mukey", &src)?;
    let Some(tables) = tables else { return Ok(()) };
    let unknown: Vec<&String> = r.classes.iter().filter(|k| !tables.components.contains_key(*k)).collect();
    if unknown.len() == r.classes.len() {
        return Err(Error::InvalidInput(format!(
            "none of the {} map units ({}) is in the component table",
            r.classes.len(),
            r.classes.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    for (attr, name) in [(0usize, "drainage"), (1, "hydgrp")] {
        let mut cls: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (pi, shares) in r.shares.iter().enumerate() {
            for (k, mk) in r.classes.iter().enumerate() {
                if shares[k] <= 0.0 {
                    continue;
                }
                for (c, w) in tables.class_weights(mk, attr) {
                    cls.entry(c).or_insert_with(|| vec![0.0; r.shares.len()])[pi] += shares[k] * w;
                }
            }
        }
        let labels: Vec<String> = cls.keys().cloned().collect();
        let cols: Vec<Vec<f64>> = cls.into_values().collect();
        let method = "Σ map-unit area share × component percent (SSURGO component table)";
        for (l, v) in labels.iter().zip(&cols) {
            t.add_column(
                format!("soil_{name}_{}_share", sanitize(l)),
                v.clone(),
                ColumnMeta { source: src.clone(), unit: "1".into(), method: method.into() },
            )?;
        }
        let dom = dominant(&labels, &cols, r.shares.len());
        t.add_categorical(
            format!("soil_{name}_dominant"),
            dom,
            ColumnMeta { source: src.clone(), unit: String::new(), method: format!("dominant condition: {method}") },
        )?;
    }
    let mut farm: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (pi, shares) in r.shares.iter().enumerate() {
        for (k, mk) in r.classes.iter().enumerate() {
            if let Some(Some(f)) = tables.farmland.get(mk) {
                if shares[k] > 0.0 {
                    farm.entry(f.clone()).or_insert_with(|| vec![0.0; r.shares.len()])[pi] += shares[k];
                }
            }
        }
    }
    let labels: Vec<String> = farm.keys().cloned().collect();
    let cols: Vec<Vec<f64>> = farm.into_values().collect();
    for (l, v) in labels.iter().zip(&cols) {
        t.add_column(
            format!("soil_farmland_{}_share", sanitize(l)),
            v.clone(),
            ColumnMeta {
                source: src.clone(),
                unit: "1".into(),
                method: "map-unit area share (SSURGO mapunit.farmlndcl)".into(),
            },
        )?;
    }
    let dom = dominant(&labels, &cols, r.shares.len());
    t.add_categorical(
        "soil_farmland_dominant",
        dom,
        ColumnMeta { source: src, unit: String::new(), method: "farmland class with the largest area share".into() },
    )?;
    Ok(())
}

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
