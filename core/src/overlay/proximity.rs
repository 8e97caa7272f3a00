//! Proximity: distance to the nearest feature of a layer and the count of features within a radius, on exact segment distances.

use super::*;

/// A segment of a layer feature, indexed.
pub(super) struct Seg {
    pub(super) a: [f64; 2],
    pub(super) b: [f64; 2],
    pub(super) feature: u32,
    /// Last segment of its line: `b` is not the `a` of another segment.
    pub(super) last: bool,
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

pub(super) fn push_line(out: &mut Vec<Seg>, cs: &[Coord<f64>], f: u32) {
    if cs.len() == 1 {
        out.push(Seg { a: [cs[0].x, cs[0].y], b: [cs[0].x, cs[0].y], feature: f, last: true });
    }
    let n = cs.len().saturating_sub(1);
    for (k, w) in cs.windows(2).enumerate() {
        out.push(Seg { a: [w[0].x, w[0].y], b: [w[1].x, w[1].y], feature: f, last: k + 1 == n });
    }
}

pub(super) fn segments_of(g: &Geometry<f64>, f: u32, out: &mut Vec<Seg>) {
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

pub(super) fn pt_seg_d2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0) } else { 0.0 };
    let (x, y) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    x * x + y * y
}

pub(super) fn orient(a: [f64; 2], b: [f64; 2], c: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
}

pub(super) fn segs_cross(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> bool {
    let (o1, o2, o3, o4) = (orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b));
    (o1 * o2 < 0.0) && (o3 * o4 < 0.0)
}

/// Squared distance between two segments (0 when they cross).
pub(super) fn seg_seg_d2(a: [f64; 2], b: [f64; 2], c: [f64; 2], d: [f64; 2]) -> f64 {
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
// Long by design: the nearest-distance and within-radius searches share the segment index and one
// candidate walk per parcel.
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
pub(super) fn box_d2(a: &AABB<[f64; 2]>, b: &AABB<[f64; 2]>) -> f64 {
    let dx = (a.lower()[0] - b.upper()[0]).max(b.lower()[0] - a.upper()[0]).max(0.0);
    let dy = (a.lower()[1] - b.upper()[1]).max(b.lower()[1] - a.upper()[1]).max(0.0);
    dx * dx + dy * dy
}
