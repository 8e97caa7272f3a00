//! A fast, conservative validity test for parcel polygons.
//!
//! [`surely_valid`] answers `true` only for shapes it can prove valid: every ring closed, with
//! ≥ 4 coordinates, a non-zero area, no repeated consecutive vertex and no fold-back; no two
//! segments anywhere in the shape meeting other than consecutive segments of one ring at their
//! shared vertex (robust orientation predicates, candidate pairs from an R-tree of segments);
//! every hole strictly inside its shell and outside the other holes; no part inside another
//! part's shell. Anything else — touching, collinear or crossing segments, nested parts — answers
//! `false`, and the caller runs geo's full OGC [`Validation`](geo::Validation), which also writes
//! the reason. The flags are the same either way (tests on every polygon of the shared data);
//! the fast path is linearithmic where geo's check is quadratic on large rings.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::BoundingRect;
use geo_types::Rect;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject, AABB};

/// geo's full OGC validation, with its reason: the first error geo's
/// [`Validation`](geo::Validation) reports, found the same way in the same order, with its
/// quadratic loops pruned by bounding boxes (a ring's self-intersection test, pairs of holes,
/// pairs of parts): pairs whose boxes do not meet can neither intersect nor touch, so the answer
/// is geo's, in near-linear time on the large shapes a hostile or careless file can hold (geo's
/// own check takes minutes on a 100,000-vertex ring with one crossing). geo's topology graph
/// panics on some degenerate inputs ("topology position conflict", e.g. subnormal coordinates in
/// self-touching rings): such a shape is reported invalid with that reason instead.
pub(crate) fn ogc_status(mp: &MultiPolygon<f64>) -> super::GeometryStatus {
    use super::GeometryStatus;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| first_error(mp))) {
        Ok(None) => GeometryStatus::Valid,
        Ok(Some(e)) => GeometryStatus::Invalid(e),
        Err(_) => GeometryStatus::Invalid("degenerate topology (validation could not build its graph)".into()),
    }
}

type BoxTree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;

/// An R-tree of the bounding boxes of `items` (empty ones left out), by index.
fn box_tree<'a, G: BoundingRect<f64> + 'a>(items: impl Iterator<Item = &'a G>) -> (BoxTree, Vec<Option<Rect<f64>>>)
where
    G::Output: Into<Option<Rect<f64>>>,
{
    let boxes: Vec<Option<Rect<f64>>> = items.map(|g| g.bounding_rect().into()).collect();
    let rects = boxes
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.map(|b| GeomWithData::new(Rectangle::from_corners(b.min().into(), b.max().into()), i)))
        .collect();
    (RTree::bulk_load(rects), boxes)
}

/// Indices after `i` whose boxes meet box `i`, ascending.
fn later_neighbours(tree: &BoxTree, boxes: &[Option<Rect<f64>>], i: usize) -> Vec<usize> {
    let Some(b) = boxes[i] else { return vec![] };
    let env = AABB::from_corners(b.min().into(), b.max().into());
    let mut js: Vec<usize> = tree.locate_in_envelope_intersecting(&env).map(|g| g.data).filter(|&j| j > i).collect();
    js.sort_unstable();
    js
}

/// geo's `MultiPolygon` validation, first error only (see [`ogc_status`]).
fn first_error(mp: &MultiPolygon<f64>) -> Option<String> {
    use geo::algorithm::validation::{GeometryIndex, InvalidMultiPolygon as M};
    use geo::coordinate_position::CoordPos;
    use geo::dimensions::Dimensions;
    use geo::Relate;
    let (tree, boxes) = box_tree(mp.0.iter());
    for (i, polygon) in mp.0.iter().enumerate() {
        if let Some(e) = polygon_first_error(polygon) {
            return Some(M::InvalidPolygon(GeometryIndex(i), e).to_string());
        }
        for j in later_neighbours(&tree, &boxes, i) {
            let im = polygon.relate(&mp.0[j]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Some(M::ElementsOverlaps(GeometryIndex(i), GeometryIndex(j)).to_string());
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Some(M::ElementsTouchOnALine(GeometryIndex(i), GeometryIndex(j)).to_string());
            }
        }
    }
    None
}

/// geo's `Polygon` validation, first error only.
fn polygon_first_error(p: &Polygon<f64>) -> Option<geo::algorithm::validation::InvalidPolygon> {
    use geo::algorithm::validation::{InvalidPolygon as P, RingRole};
    use geo::coordinate_position::CoordPos;
    use geo::dimensions::Dimensions;
    use geo::{PreparedGeometry, Relate, RemoveRepeatedPoints};
    if p.exterior().0.is_empty() {
        return None;
    }
    let role = |k: usize| if k == 0 { RingRole::Exterior } else { RingRole::Interior(k - 1) };
    for (k, ring) in std::iter::once(p.exterior()).chain(p.interiors()).enumerate() {
        if ring.0.is_empty() {
            continue;
        }
        if ring.remove_repeated_points().0.len() < 4 {
            return Some(P::TooFewPointsInRing(role(k)));
        }
        if ring_self_intersects(ring) {
            return Some(P::SelfIntersection(role(k)));
        }
        if let Some(c) = ring.0.iter().position(|c| !c.x.is_finite() || !c.y.is_finite()) {
            return Some(P::NonFiniteCoord(role(k), geo::algorithm::validation::CoordIndex(c)));
        }
    }
    if p.interiors().iter().all(|r| r.0.is_empty()) {
        return None;
    }
    let shell = Polygon::new(p.exterior().clone(), vec![]);
    let prepared_shell = PreparedGeometry::from(&shell);
    let holes: Vec<Polygon<f64>> = p.interiors().iter().map(|r| Polygon::new(r.clone(), vec![])).collect();
    let (tree, boxes) = box_tree(p.interiors().iter());
    for (a, hole) in holes.iter().enumerate() {
        if hole.exterior().0.is_empty() {
            continue;
        }
        let prepared = PreparedGeometry::from(hole);
        let im = prepared_shell.relate(&prepared);
        if !im.is_contains() {
            return Some(P::InteriorRingNotContainedInExteriorRing(RingRole::Interior(a)));
        }
        if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            return Some(P::IntersectingRingsOnALine(RingRole::Exterior, RingRole::Interior(a)));
        }
        for b in later_neighbours(&tree, &boxes, a) {
            if holes[b].exterior().0.is_empty() {
                continue;
            }
            let im = prepared.relate(&holes[b]);
            if im.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Some(P::IntersectingRingsOnAnArea(RingRole::Interior(a), RingRole::Interior(b)));
            }
            if im.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
                return Some(P::IntersectingRingsOnALine(RingRole::Interior(a), RingRole::Interior(b)));
            }
        }
    }
    None
}

/// geo's ring self-intersection test (two segments that intersect other than one's end on the
/// other's start), over the pairs whose boxes meet.
fn ring_self_intersects(ring: &LineString<f64>) -> bool {
    use geo::Intersects;
    let lines: Vec<geo::Line<f64>> = ring.lines().collect();
    let hit = |i: usize, j: usize| {
        let (l, o) = (&lines[i], &lines[j]);
        i != j && l.intersects(o) && l.start != o.end && l.end != o.start
    };
    if lines.len() < PAIRWISE {
        return (0..lines.len()).any(|i| (0..lines.len()).any(|j| hit(i, j)));
    }
    let (tree, boxes) = box_tree(lines.iter());
    (0..lines.len()).any(|i| {
        let Some(b) = boxes[i] else { return false };
        let env = AABB::from_corners(b.min().into(), b.max().into());
        tree.locate_in_envelope_intersecting(&env).any(|g| hit(i, g.data) || hit(g.data, i))
    })
}

/// Shapes with fewer segments than this are tested pairwise; larger ones through an R-tree.
const PAIRWISE: usize = 96;

#[derive(Clone, Copy)]
struct Seg {
    a: Coord<f64>,
    b: Coord<f64>,
    ring: u32,
    idx: u32,
}

impl RTreeObject for Seg {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners([self.a.x, self.a.y], [self.b.x, self.b.y])
    }
}

/// True only when the multipolygon is certainly valid (see the module docs).
pub fn surely_valid(mp: &MultiPolygon<f64>) -> bool {
    if mp.0.is_empty() {
        return false;
    }
    let rings: Vec<&LineString<f64>> =
        mp.0.iter().flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors())).collect();
    if !rings.iter().all(|r| ring_basic(r)) {
        return false;
    }
    let ring_len: Vec<u32> = rings.iter().map(|r| (r.0.len() - 1) as u32).collect();
    let segs: Vec<Seg> = rings
        .iter()
        .enumerate()
        .flat_map(|(k, r)| {
            r.0.windows(2).enumerate().map(move |(i, w)| Seg { a: w[0], b: w[1], ring: k as u32, idx: i as u32 })
        })
        .collect();
    // consecutive segments of one ring (incl. the closing pair) share a vertex by construction
    let adjacent = |s: &Seg, t: &Seg| {
        s.ring == t.ring && {
            let m = ring_len[s.ring as usize];
            let d = s.idx.abs_diff(t.idx);
            d == 1 || d == m - 1
        }
    };
    let clash = |s: &Seg, t: &Seg| !adjacent(s, t) && touch(s, t);
    let multi = mp.0.len() > 1;
    let holes = mp.0.iter().any(|p| !p.interiors().is_empty());
    if any_pair(&segs, clash) {
        return false;
    }
    if !(multi || holes) {
        return true; // one ring, simple: nothing can lie inside anything else
    }
    let tree = RTree::bulk_load(segs);
    // No ring touches another, so one vertex tells where a whole ring lies: every hole inside its
    // shell and outside its polygon's other holes, no shell inside another part's shell. Rings
    // are found by their boxes and each point-in-ring test casts a ray through the segment tree,
    // so a shape of many rings is not tested ring against ring.
    let (ring_tree, ring_boxes) = box_tree(rings.iter().copied());
    let mut owner: Vec<(usize, bool)> = Vec::with_capacity(rings.len());
    let mut shell_of = Vec::with_capacity(mp.0.len());
    for (i, p) in mp.0.iter().enumerate() {
        shell_of.push(owner.len());
        owner.push((i, true));
        owner.extend(p.interiors().iter().map(|_| (i, false)));
    }
    let inside = |j: usize, v: Coord<f64>| -> bool {
        let Some(b) = ring_boxes[j] else { return false };
        if !(b.min().x <= v.x && v.x <= b.max().x && b.min().y <= v.y && v.y <= b.max().y) {
            return false;
        }
        let ray = AABB::from_corners([v.x, v.y], [b.max().x, v.y]);
        let mut odd = false;
        for t in tree.locate_in_envelope_intersecting(&ray) {
            if t.ring as usize != j {
                continue;
            }
            let (lo, hi) = if t.a.y <= t.b.y { (t.a, t.b) } else { (t.b, t.a) };
            // half-open in y; the segment is right of `v` when `v` is left of its upward direction
            if lo.y <= v.y && v.y < hi.y && RobustKernel::orient2d(lo, hi, v) == Orientation::CounterClockwise {
                odd = !odd;
            }
        }
        odd
    };
    for (k, ring) in rings.iter().enumerate() {
        let v = ring.0[0];
        let (pk, shell_k) = owner[k];
        if !shell_k && !inside(shell_of[pk], v) {
            return false;
        }
        let point = AABB::from_point([v.x, v.y]);
        for g in ring_tree.locate_in_envelope_intersecting(&point) {
            let j = g.data;
            let (pj, shell_j) = owner[j];
            let relevant = match (shell_k, shell_j) {
                (false, false) => pk == pj && j != k, // nested holes
                (true, true) => pk != pj,             // a part inside another part's shell
                _ => false,
            };
            if relevant && inside(j, v) {
                return false; // the full check decides
            }
        }
    }
    true
}

/// Does any pair of segments (each unordered pair once) satisfy `f`? Pairs whose x-extents do
/// not overlap are skipped: small shapes pairwise, larger ones by sort and sweep on x (the pairs
/// tested are the same; a sort is far cheaper than an R-tree per shape, which start-up paid on a
/// million parcels).
fn any_pair(segs: &[Seg], f: impl Fn(&Seg, &Seg) -> bool) -> bool {
    if segs.len() < SWEEP {
        return (0..segs.len()).any(|i| (i + 1..segs.len()).any(|j| f(&segs[i], &segs[j])));
    }
    let mut order: Vec<(f64, f64, u32)> =
        segs.iter().enumerate().map(|(i, s)| (s.a.x.min(s.b.x), s.a.x.max(s.b.x), i as u32)).collect();
    order.sort_unstable_by(|p, q| p.0.total_cmp(&q.0));
    order.iter().enumerate().any(|(k, &(_, xmax, i))| {
        let s = &segs[i as usize];
        order[k + 1..].iter().take_while(|o| o.0 <= xmax).any(|&(_, _, j)| f(s, &segs[j as usize]))
    })
}

/// Shapes with fewer segments than this are tested pairwise, larger ones by sort and sweep.
const SWEEP: usize = 24;

/// Do two segments share any point (crossing, touching or overlapping)? Collinear cases with
/// overlapping boxes count as touching (conservative).
fn touch(s: &Seg, t: &Seg) -> bool {
    let bx = |a: f64, b: f64, c: f64, d: f64| a.min(b) <= c.max(d) && c.min(d) <= a.max(b);
    if !(bx(s.a.x, s.b.x, t.a.x, t.b.x) && bx(s.a.y, s.b.y, t.a.y, t.b.y)) {
        return false;
    }
    let o1 = RobustKernel::orient2d(s.a, s.b, t.a);
    let o2 = RobustKernel::orient2d(s.a, s.b, t.b);
    let o3 = RobustKernel::orient2d(t.a, t.b, s.a);
    let o4 = RobustKernel::orient2d(t.a, t.b, s.b);
    [o1, o2, o3, o4].contains(&Orientation::Collinear) || (o1 != o2 && o3 != o4)
}

/// Closed, ≥ 4 finite coordinates, non-zero area, no repeated consecutive vertex, no fold-back.
fn ring_basic(r: &LineString<f64>) -> bool {
    let c = &r.0;
    let n = c.len();
    if n < 4 || c[0] != c[n - 1] || c.iter().any(|p| !p.x.is_finite() || !p.y.is_finite()) {
        return false;
    }
    let mut area2 = 0.0;
    for i in 0..n - 1 {
        let (a, b) = (c[i], c[i + 1]);
        if a == b {
            return false;
        }
        area2 += a.x * b.y - b.x * a.y;
        let d = if i + 2 == n { c[1] } else { c[i + 2] };
        if RobustKernel::orient2d(a, b, d) == Orientation::Collinear
            && (b.x - a.x) * (d.x - b.x) + (b.y - a.y) * (d.y - b.y) <= 0.0
        {
            return false;
        }
    }
    area2 != 0.0 && area2.is_finite()
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Validation;
    use geo_types::{polygon, MultiPolygon, Polygon};

    fn mp(p: Polygon<f64>) -> MultiPolygon<f64> {
        MultiPolygon(vec![p])
    }

    #[test]
    fn simple_shapes_take_the_fast_path_invalid_ones_do_not() {
        let square = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
        assert!(surely_valid(&mp(square.clone())));
        let bow = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0)];
        assert!(!surely_valid(&mp(bow.clone())) && !mp(bow).is_valid());
        let spike = polygon![(x: 0.0, y: 0.0), (x: 2.0, y: 0.0), (x: 3.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0)];
        assert!(!surely_valid(&mp(spike)));
        let flat = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 2.0, y: 0.0)];
        assert!(!surely_valid(&mp(flat)));
        let touching_self =
            polygon![(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 2.0, y: 0.0), (x: 0.0, y: 4.0)];
        assert!(!surely_valid(&mp(touching_self)));
        let two = MultiPolygon(vec![square.clone(), polygon![(x: 5.0, y: 5.0), (x: 6.0, y: 5.0), (x: 6.0, y: 6.0)]]);
        assert!(surely_valid(&two) && two.is_valid());
        let overlapping = MultiPolygon(vec![square.clone(), square]);
        assert!(!surely_valid(&overlapping));
        let big = polygon![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 0.0, y: 10.0)];
        let hole = LineString::from(vec![(2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (2.0, 2.0)]);
        let with_hole = Polygon::new(big.exterior().clone(), vec![hole.clone()]);
        assert!(surely_valid(&mp(with_hole.clone())) && with_hole.is_valid());
        let outside = LineString::from(vec![(20.0, 2.0), (24.0, 2.0), (24.0, 4.0), (20.0, 2.0)]);
        let bad_hole = Polygon::new(big.exterior().clone(), vec![outside]);
        assert!(!surely_valid(&mp(bad_hole.clone())) && !bad_hole.is_valid());
        let nested = Polygon::new(
            big.exterior().clone(),
            vec![hole, LineString::from(vec![(2.5, 2.5), (3.0, 2.5), (3.0, 3.0), (2.5, 2.5)])],
        );
        assert!(!surely_valid(&mp(nested.clone())) && !nested.is_valid());
        let part_in_part = MultiPolygon(vec![big, polygon![(x: 5.0, y: 5.0), (x: 6.0, y: 5.0), (x: 6.0, y: 6.0)]]);
        assert!(!surely_valid(&part_in_part) && !part_in_part.is_valid());
    }

    #[test]
    fn large_rings_go_through_the_sweep() {
        // a 600-vertex star (simple), then the same with two vertices swapped (self-intersecting)
        let star: Vec<(f64, f64)> = (0..600)
            .map(|i| {
                let a = i as f64 / 600.0 * std::f64::consts::TAU;
                let r = if i % 2 == 0 { 10.0 } else { 7.0 + (i % 7) as f64 * 0.3 };
                (r * a.cos(), r * a.sin())
            })
            .collect();
        let ok = Polygon::new(LineString::from(star.clone()), vec![]);
        assert!(surely_valid(&mp(ok.clone())) && ok.is_valid());
        let mut bad = star;
        bad.swap(100, 400);
        let bad = Polygon::new(LineString::from(bad), vec![]);
        assert!(!surely_valid(&mp(bad.clone())) && !bad.is_valid());
    }

    #[test]
    fn the_sweep_tests_every_pair_whose_x_extents_overlap_once() {
        let mut s: u64 = 5;
        let mut next = |m: u64| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) % m
        };
        for _ in 0..300 {
            let n = 1 + next(200) as usize;
            let segs: Vec<Seg> = (0..n)
                .map(|i| {
                    let mut c = || Coord { x: next(50) as f64, y: next(50) as f64 };
                    Seg { a: c(), b: c(), ring: 0, idx: i as u32 }
                })
                .collect();
            let seen = std::cell::RefCell::new(Vec::new());
            assert!(!any_pair(&segs, |a, b| {
                seen.borrow_mut().push((a.idx.min(b.idx), a.idx.max(b.idx)));
                false
            }));
            let mut seen = seen.into_inner();
            seen.sort();
            let overlap =
                |a: &Seg, b: &Seg| a.a.x.min(a.b.x) <= b.a.x.max(b.b.x) && b.a.x.min(b.b.x) <= a.a.x.max(a.b.x);
            let want: Vec<(u32, u32)> = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .filter(|&(i, j)| overlap(&segs[i], &segs[j]))
                .map(|(i, j)| (i as u32, j as u32))
                .collect();
            if n >= SWEEP {
                assert_eq!(seen, want, "{n} segments");
            } else {
                // pairwise: every pair, a superset of the overlapping ones
                assert!(want.iter().all(|p| seen.binary_search(p).is_ok()));
            }
        }
    }

    #[test]
    fn never_valid_where_geo_says_invalid() {
        // random rings (many self-intersecting, some collinear/touching on a coarse grid)
        let mut s: u64 = 11;
        let mut next = |m: u64| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) % m
        };
        let mut fast = 0;
        for _ in 0..20_000 {
            let k = 3 + next(120) as usize; // small (pairwise) and large (R-tree) rings
            let g = if k > 20 { 1000 } else { 6 };
            let pts: Vec<(f64, f64)> = (0..k).map(|_| (next(g) as f64, next(g) as f64)).collect();
            let p = Polygon::new(LineString::from(pts), vec![]);
            let m = mp(p);
            if surely_valid(&m) {
                fast += 1;
                assert!(m.is_valid(), "fast path accepted an invalid polygon: {m:?}");
            }
        }
        assert!(fast > 200, "the fast path should accept the simple rings ({fast})");
    }

    /// geo's own first error, as `ogc_status` words it.
    fn geo_status(m: &MultiPolygon<f64>) -> crate::vector::GeometryStatus {
        use crate::vector::GeometryStatus;
        match std::panic::catch_unwind(|| m.validation_errors()) {
            Ok(e) => e.first().map_or(GeometryStatus::Valid, |e| GeometryStatus::Invalid(e.to_string())),
            Err(_) => GeometryStatus::Invalid("degenerate topology (validation could not build its graph)".into()),
        }
    }

    #[test]
    fn the_pruned_validation_reports_geos_first_error() {
        // random parts with random holes on a coarse grid: overlaps, touching lines, nested and
        // escaping holes, crossings, spikes; both sides must give the same first error
        let mut s: u64 = 7;
        let mut next = |m: u64| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) % m
        };
        let ring = |next: &mut dyn FnMut(u64) -> u64, x0: f64, y0: f64, size: u64| {
            let k = 3 + next(4) as usize;
            if next(3) == 0 {
                // an axis-aligned box (valid more often than random points)
                let (w, h) = (1 + next(size) as usize, 1 + next(size) as usize);
                let (w, h) = (w as f64, h as f64);
                LineString::from(vec![(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h), (x0, y0)])
            } else {
                LineString::from((0..k).map(|_| (x0 + next(size) as f64, y0 + next(size) as f64)).collect::<Vec<_>>())
            }
        };
        let (mut valid, mut kinds) = (0, std::collections::BTreeSet::new());
        for _ in 0..4000 {
            let parts = 1 + next(3) as usize;
            let polys: Vec<Polygon<f64>> = (0..parts)
                .map(|_| {
                    let (x0, y0) = (next(8) as f64, next(8) as f64);
                    let shell = ring(&mut next, x0, y0, 10);
                    let holes = (0..next(3)).map(|_| ring(&mut next, x0 + 1.0, y0 + 1.0, 6)).collect();
                    Polygon::new(shell, holes)
                })
                .collect();
            let m = MultiPolygon(polys);
            let ours = ogc_status(&m);
            assert_eq!(ours, geo_status(&m), "{m:?}");
            match ours {
                crate::vector::GeometryStatus::Invalid(e) => {
                    kinds.insert(e.chars().filter(|c| !c.is_ascii_digit()).collect::<String>());
                }
                _ => valid += 1,
            }
        }
        assert!(valid > 50 && kinds.len() >= 4, "valid {valid}, kinds {kinds:?}");
    }

    #[test]
    fn many_parts_and_holes_are_not_tested_pair_by_pair() {
        // 3,000 unit squares apart, each with a hole (valid), then one bow-tie among them
        let sq =
            |x: f64, y: f64, s: f64| LineString::from(vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]);
        let mut parts: Vec<Polygon<f64>> = (0..3000)
            .map(|i| {
                let (x, y) = ((i % 60) as f64 * 2.0, (i / 60) as f64 * 2.0);
                Polygon::new(sq(x, y, 1.0), vec![sq(x + 0.25, y + 0.25, 0.5)])
            })
            .collect();
        let ok = MultiPolygon(parts.clone());
        assert!(surely_valid(&ok));
        assert_eq!(ogc_status(&ok), crate::vector::GeometryStatus::Valid);
        // one polygon of 3,000 holes in a grid
        let holes: Vec<LineString<f64>> =
            (0..3000).map(|i| sq(1.0 + (i % 60) as f64 * 2.0, 1.0 + (i / 60) as f64 * 2.0, 1.0)).collect();
        let swiss = MultiPolygon(vec![Polygon::new(sq(0.0, 0.0, 200.0), holes.clone())]);
        assert!(surely_valid(&swiss));
        assert_eq!(ogc_status(&swiss), crate::vector::GeometryStatus::Valid);
        let mut nested = holes;
        nested.push(sq(1.2, 1.2, 0.5));
        let nested = MultiPolygon(vec![Polygon::new(sq(0.0, 0.0, 200.0), nested)]);
        assert!(!surely_valid(&nested));
        assert_eq!(ogc_status(&nested), geo_status(&nested));
        parts[1500] = Polygon::new(
            LineString::from(vec![(0.0, 100.0), (1.0, 101.0), (1.0, 100.0), (0.0, 101.0), (0.0, 100.0)]),
            vec![],
        );
        let bad = MultiPolygon(parts);
        assert!(!surely_valid(&bad));
        assert_eq!(
            ogc_status(&bad),
            crate::vector::GeometryStatus::Invalid(
                "polygon at index 1500 is invalid: exterior ring has a self-intersection".into()
            )
        );
    }
}
