//! Overlay class shares: the part of each parcel each layer class covers, by exact polygon intersection, robust to shared and collinear edges.

use super::*;

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
pub(super) enum Side {
    In,
    Out,
    On,
}

pub(super) fn side(pt: Coord<f64>, mp: &MultiPolygon<f64>, eps: f64) -> Side {
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
pub(super) fn relate_fast(p: &MultiPolygon<f64>, q: &MultiPolygon<f64>) -> Option<bool> {
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
pub(super) fn clip_to_rect(mp: &MultiPolygon<f64>, r: &Rect<f64>) -> MultiPolygon<f64> {
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
