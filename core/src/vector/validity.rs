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
use geo::Contains;
use geo_types::{Coord, LineString, MultiPolygon, Polygon};
use rstar::{RTree, RTreeObject, AABB};

/// geo's full OGC validation, with its reason. geo's topology graph panics on some degenerate
/// inputs ("topology position conflict", e.g. subnormal coordinates in self-touching rings): such
/// a shape is reported invalid with that reason instead of taking the process down.
pub(crate) fn ogc_status(mp: &MultiPolygon<f64>) -> super::GeometryStatus {
    use super::GeometryStatus;
    use geo::Validation;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mp.validation_errors())) {
        Ok(errors) => match errors.first() {
            None => GeometryStatus::Valid,
            Some(e) => GeometryStatus::Invalid(e.to_string()),
        },
        Err(_) => GeometryStatus::Invalid("degenerate topology (validation could not build its graph)".into()),
    }
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
    if segs.len() < PAIRWISE {
        for i in 0..segs.len() {
            for j in i + 1..segs.len() {
                if clash(&segs[i], &segs[j]) {
                    return false;
                }
            }
        }
    } else {
        let tree = RTree::bulk_load(segs.clone());
        for s in &segs {
            let env = s.envelope();
            if tree.locate_in_envelope_intersecting(&env).any(|t| (t.ring, t.idx) > (s.ring, s.idx) && clash(s, t)) {
                return false;
            }
        }
    }
    // no ring touches another, so one vertex tells where a whole ring lies
    for p in &mp.0 {
        let shell = Polygon::new(p.exterior().clone(), vec![]);
        for (k, h) in p.interiors().iter().enumerate() {
            if !shell.contains(&h.0[0]) {
                return false;
            }
            for (l, other) in p.interiors().iter().enumerate() {
                if k != l && Polygon::new(other.clone(), vec![]).contains(&h.0[0]) {
                    return false; // nested holes
                }
            }
        }
    }
    if mp.0.len() > 1 {
        let shells: Vec<Polygon<f64>> = mp.0.iter().map(|p| Polygon::new(p.exterior().clone(), vec![])).collect();
        for (i, p) in mp.0.iter().enumerate() {
            let v = p.exterior().0[0];
            if shells.iter().enumerate().any(|(j, s)| i != j && s.contains(&v)) {
                return false; // a part inside another part's shell: let the full check decide
            }
        }
    }
    true
}

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
    fn large_rings_go_through_the_rtree() {
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
}
