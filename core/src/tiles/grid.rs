//! A transformation evaluated exactly on a grid over an area and bilinearly in between (GDAL's
//! approximate transformer), refined until the interpolation error at every cell's centre is
//! under a tolerance.

use crate::error::Result;
use geo_types::Coord;

/// The grid of exact values.
pub(crate) struct Grid {
    x0: f64,
    y0: f64,
    sx: f64,
    sy: f64,
    n: usize,
    pts: Vec<Coord<f64>>,
}

/// The finest grid tried (129 × 129 exact points); past it the transformation is used exactly.
const MAX_CELLS: usize = 128;

impl Grid {
    /// A grid over `area` (`[xmin, ymin, xmax, ymax]`) for `f` (exact, in place), with an error
    /// under `tol` (output units) at the cells' centres; `None` when even the finest grid misses
    /// it (the caller then transforms exactly).
    pub(crate) fn build(area: [f64; 4], f: &dyn Fn(&mut [Coord<f64>]) -> Result<()>, tol: f64) -> Result<Option<Grid>> {
        let w = (area[2] - area[0]).max(f64::MIN_POSITIVE);
        let h = (area[3] - area[1]).max(f64::MIN_POSITIVE);
        let mut n = 4;
        while n <= MAX_CELLS {
            let (sx, sy) = (w / n as f64, h / n as f64);
            let mut pts: Vec<Coord<f64>> = Vec::with_capacity((n + 1) * (n + 1) + n * n);
            for j in 0..=n {
                for i in 0..=n {
                    pts.push(Coord { x: area[0] + i as f64 * sx, y: area[1] + j as f64 * sy });
                }
            }
            for j in 0..n {
                for i in 0..n {
                    pts.push(Coord { x: area[0] + (i as f64 + 0.5) * sx, y: area[1] + (j as f64 + 0.5) * sy });
                }
            }
            f(&mut pts)?;
            let centres = pts.split_off((n + 1) * (n + 1));
            let g = Grid { x0: area[0], y0: area[1], sx, sy, n, pts };
            let ok = (0..n).all(|j| {
                (0..n).all(|i| {
                    let e = centres[j * n + i];
                    let a = g.eval(area[0] + (i as f64 + 0.5) * sx, area[1] + (j as f64 + 0.5) * sy);
                    (a.x - e.x).abs() <= tol && (a.y - e.y).abs() <= tol
                })
            });
            if ok {
                return Ok(Some(g));
            }
            n *= 2;
        }
        Ok(None)
    }

    /// The interpolated value at `(x, y)` (extrapolated from the border cells outside the area).
    #[inline]
    pub(crate) fn eval(&self, x: f64, y: f64) -> Coord<f64> {
        let fx = (x - self.x0) / self.sx;
        let fy = (y - self.y0) / self.sy;
        let last = (self.n - 1) as f64;
        let i = fx.floor().clamp(0.0, last);
        let j = fy.floor().clamp(0.0, last);
        let (tx, ty) = (fx - i, fy - j);
        let (i, j) = (i as usize, j as usize);
        let row = self.n + 1;
        let p00 = self.pts[j * row + i];
        let p10 = self.pts[j * row + i + 1];
        let p01 = self.pts[(j + 1) * row + i];
        let p11 = self.pts[(j + 1) * row + i + 1];
        let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
        Coord {
            x: lerp(lerp(p00.x, p10.x, tx), lerp(p01.x, p11.x, tx), ty),
            y: lerp(lerp(p00.y, p10.y, tx), lerp(p01.y, p11.y, tx), ty),
        }
    }
}

/// Transform `pts` in place through `grid` when there is one, else exactly with `f`.
pub(crate) fn apply(
    grid: Option<&Grid>,
    f: &dyn Fn(&mut [Coord<f64>]) -> Result<()>,
    pts: &mut [Coord<f64>],
) -> Result<()> {
    match grid {
        Some(g) => {
            pts.iter_mut().for_each(|c| *c = g.eval(c.x, c.y));
            Ok(())
        }
        None => f(pts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refines_until_within_tolerance() {
        let f = |p: &mut [Coord<f64>]| -> Result<()> {
            p.iter_mut().for_each(|c| *c = Coord { x: c.x.sin() * 1000.0, y: c.y * c.y });
            Ok(())
        };
        let g = Grid::build([0.0, 0.0, 1.0, 1.0], &f, 1e-2).unwrap().unwrap();
        for k in 0..1000 {
            let (x, y) = ((k as f64 * 0.618).fract(), (k as f64 * 0.377).fract());
            let a = g.eval(x, y);
            assert!((a.x - x.sin() * 1000.0).abs() < 2e-2 && (a.y - y * y).abs() < 2e-2);
        }
        // a function no grid captures falls back to exact
        let wild = |p: &mut [Coord<f64>]| -> Result<()> {
            p.iter_mut().for_each(|c| *c = Coord { x: (c.x * 1e4).sin(), y: 0.0 });
            Ok(())
        };
        assert!(Grid::build([0.0, 0.0, 1.0, 1.0], &wild, 1e-9).unwrap().is_none());
    }
}
