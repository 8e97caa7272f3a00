//! Exact cell coverage fractions of a polygon, by integrating each ring over every row strip (Green's theorem).

use super::*;

/// Fractions of each cell of a window covered by a polygon.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// First row of the window.
    pub row0: usize,
    /// First column of the window.
    pub col0: usize,
    /// Rows in the window.
    pub rows: usize,
    /// Columns in the window.
    pub cols: usize,
    /// Row-major fractions in 0..=1.
    pub frac: Vec<f64>,
}

/// Exact coverage fractions of `poly` (in the raster's CRS) over a `width × height` grid.
pub fn coverage(poly: &MultiPolygon<f64>, gt: &GeoTransform, width: usize, height: usize) -> Result<Coverage> {
    coverage_in_rows(poly, gt, width, height, 0, height)
}

/// [`coverage`] restricted to the grid rows `row_lo..row_hi` (each row's fractions are computed
/// on their own, so they equal the unrestricted ones).
pub(super) fn coverage_in_rows(
    poly: &MultiPolygon<f64>,
    gt: &GeoTransform,
    width: usize,
    height: usize,
    row_lo: usize,
    row_hi: usize,
) -> Result<Coverage> {
    if !gt.is_north_up() {
        return Err(Error::Unsupported("zonal statistics on a rotated geotransform".into()));
    }
    let g = gt.0;
    let to_px = |c: &Coord<f64>| ((c.x - g[0]) / g[1], (c.y - g[3]) / g[5]);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for p in &poly.0 {
        for c in &p.exterior().0 {
            let (x, y) = to_px(c);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
    }
    let empty = Coverage { row0: 0, col0: 0, rows: 0, cols: 0, frac: vec![] };
    if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
        return Ok(empty);
    }
    let cmin = x0.floor().max(0.0) as usize;
    let cmax = (x1.ceil().min(width as f64)).max(0.0) as usize;
    // the window's local frame starts at the polygon's first row, whatever rows are asked for,
    // so restricted and whole computations round identically
    let rfull = y0.floor().max(0.0) as usize;
    let rmin = rfull.max(row_lo);
    let rmax = ((y1.ceil().min(height as f64)).max(0.0) as usize).min(row_hi);
    if cmin >= cmax || rmin >= rmax {
        return Ok(empty);
    }
    let (rows, cols) = (rmax - rmin, cmax - cmin);
    let mut cover = vec![0.0f64; rows * cols];
    let mut acc = vec![0.0f64; rows * (cols + 1)];
    // cells whose interior a ring edge passes through; every other cell lies wholly inside or
    // wholly outside the polygon
    let mut crossed = vec![false; rows * cols];
    // Window-local pixel coordinates keep magnitudes small, hence rounding noise ~1e-15.
    let (ox, oy) = (g[0] + cmin as f64 * g[1], g[3] + rfull as f64 * g[5]);
    // A vertex whose coordinate is exactly a grid line (origin + k × cell size, the way
    // cell-aligned polygons are made) lands exactly on that line, as exactextract sees it in
    // world coordinates; any other coordinate, however close, keeps its sliver.
    let snap = |local: f64, world: f64, origin: f64, first: usize, size: f64| {
        let k = local.round();
        if (local - k).abs() < 1e-6 && origin + (first as f64 + k) * size == world {
            k
        } else {
            local
        }
    };
    let to_local = |c: &Coord<f64>| {
        (snap((c.x - ox) / g[1], c.x, g[0], cmin, g[1]), snap((c.y - oy) / g[5], c.y, g[3], rfull, g[5]))
    };
    let win = (rmin - rfull, rmax - rfull, 0, cols);
    for p in &poly.0 {
        ring_coverage(p.exterior(), true, &to_local, win, &mut cover, &mut acc, &mut crossed);
        for h in p.interiors() {
            ring_coverage(h, false, &to_local, win, &mut cover, &mut acc, &mut crossed);
        }
    }
    for r in 0..rows {
        let mut run = 0.0;
        for c in (0..cols).rev() {
            run += acc[r * (cols + 1) + c + 1];
            let v = &mut cover[r * cols + c];
            *v += run;
            // A cell no edge crosses is wholly in (1) or out (0): rounding noise of the running
            // sums is removed exactly. A crossed cell keeps its fraction, however small (a
            // sliver of 1e-13 counts, as in exactextract, whose default minimum coverage is
            // the smallest positive float); only its noise below 0 or above 1 is clamped.
            *v = if crossed[r * cols + c] { v.clamp(0.0, 1.0) } else { v.round().clamp(0.0, 1.0) };
        }
    }
    Ok(Coverage { row0: rmin, col0: cmin, rows, cols, frac: cover })
}

/// Add one ring's signed contribution. `win` = (rmin, rmax, cmin, cmax).
pub(super) fn ring_coverage(
    ring: &LineString<f64>,
    exterior: bool,
    to_px: &impl Fn(&Coord<f64>) -> (f64, f64),
    win: (usize, usize, usize, usize),
    cover: &mut [f64],
    acc: &mut [f64],
    crossed: &mut [bool],
) {
    let pts: Vec<(f64, f64)> = ring.0.iter().map(to_px).collect();
    if pts.len() < 3 {
        return;
    }
    let n = pts.len();
    let closed = pts[0] == pts[n - 1];
    let seg_count = if closed { n - 1 } else { n };
    let seg = |i: usize| (pts[i], pts[(i + 1) % n]);
    // ∮ x dy decides the orientation
    let mut s = 0.0;
    for i in 0..seg_count {
        let ((xa, ya), (xb, yb)) = seg(i);
        s += (xa + xb) * (yb - ya);
    }
    if s == 0.0 || !s.is_finite() {
        return;
    }
    let factor = if (s > 0.0) == exterior { 1.0 } else { -1.0 };
    let (rmin, rmax, cmin, cmax) = win;
    let cols = cmax - cmin;
    for i in 0..seg_count {
        let ((xa, ya), (xb, yb)) = seg(i);
        if ya == yb {
            // no part in the integral, but it cuts the cells of its row it passes through
            // (unless it runs along the row's edge)
            if ya.fract() != 0.0 && ya >= rmin as f64 && ya < rmax as f64 {
                let row = ya.floor() as usize - rmin;
                let (xlo, xhi) = if xa < xb { (xa, xb) } else { (xb, xa) };
                let c0 = (xlo.floor().max(cmin as f64)) as usize;
                let c1 = (xhi.ceil().min(cmax as f64)).max(c0 as f64) as usize;
                for c in c0..c1 {
                    crossed[row * cols + c - cmin] = true;
                }
            }
            continue;
        }
        let (ylo, yhi) = if ya < yb { (ya, yb) } else { (yb, ya) };
        if yhi <= rmin as f64 || ylo >= rmax as f64 {
            continue;
        }
        let r_first = (ylo.floor() as i64).max(rmin as i64) as usize;
        let r_last = ((yhi.ceil() as i64).min(rmax as i64)) as usize; // exclusive
        let inv = 1.0 / (yb - ya);
        for r in r_first..r_last {
            let (s0, s1) = (r as f64, r as f64 + 1.0);
            // clip the segment to the strip, keeping its direction
            let t0 = ((s0 - ya) * inv).clamp(0.0, 1.0);
            let t1 = ((s1 - ya) * inv).clamp(0.0, 1.0);
            let (ta, tb) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
            if tb <= ta {
                continue;
            }
            let x_at = |t: f64| xa + t * (xb - xa);
            let y_at = |t: f64| ya + t * (yb - ya);
            let (p1x, p1y, p2x, p2y) = (x_at(ta), y_at(ta), x_at(tb), y_at(tb));
            let dy = (p2y - p1y) * factor;
            if dy == 0.0 {
                continue;
            }
            let (xlo, xhi) = if p1x < p2x { (p1x, p2x) } else { (p2x, p1x) };
            let row = r - rmin;
            let k = xlo.floor();
            let k_idx = ((k as i64) - cmin as i64).clamp(0, cols as i64) as usize;
            acc[row * (cols + 1) + k_idx] += dy;
            // exact part over the columns the segment spans
            let c_start = (k as i64).max(cmin as i64);
            let c_end = ((xhi.ceil() as i64) - 1).min(cmax as i64 - 1);
            let g = |x: f64| -> f64 {
                if x <= xlo {
                    x * dy
                } else if x >= xhi {
                    0.5 * (xlo + xhi) * dy
                } else {
                    let t = (x - xlo) / (xhi - xlo);
                    (0.5 * (xlo + x) * t + x * (1.0 - t)) * dy
                }
            };
            let mut c = c_start;
            while c <= c_end {
                let cf = c as f64;
                cover[row * cols + (c as usize - cmin)] += g(cf + 1.0) - g(cf);
                crossed[row * cols + (c as usize - cmin)] = true;
                c += 1;
            }
        }
    }
}
