//! Scores as raster tiles: every parcel under a tile painted in its score's colour — the
//! overview a web map shows where vector tiles would carry too many parcels to draw.

use super::grid::{self, Grid};
use super::TileId;
use crate::error::{Error, Result};
use crate::scoring::ScoreResult;
use crate::search::SearchIndex;
use geo_types::Coord;
use ndarray::Array3;
use rayon::prelude::*;

/// How a score tile is painted.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTileOptions {
    /// Pixels a side (default 256; 512 for high-DPI screens), 64..=1024.
    pub size: usize,
    /// Colour stops `(score, [r, g, b])`, scores increasing: a score between two stops gets the
    /// linear interpolation of their colours in RGB, as MapLibre's `interpolate linear`; outside
    /// the stops, the nearest stop's colour. Default: the dashboard's viridis ramp (0 `#440154`,
    /// 0.25 `#3b528b`, 0.5 `#21918c`, 0.75 `#5ec962`, 1 `#fde725`).
    pub ramp: Vec<(f64, [u8; 3])>,
    /// The colour of parcels a hard constraint excludes (default `#9e9e9e`).
    pub excluded: [u8; 3],
    /// The opacity of painted pixels (default 153: 0.6, the dashboard's parcel fill); pixels
    /// without a parcel are transparent.
    pub alpha: u8,
}

impl Default for ScoreTileOptions {
    fn default() -> Self {
        ScoreTileOptions {
            size: 256,
            ramp: vec![
                (0.0, [0x44, 0x01, 0x54]),
                (0.25, [0x3b, 0x52, 0x8b]),
                (0.5, [0x21, 0x91, 0x8c]),
                (0.75, [0x5e, 0xc9, 0x62]),
                (1.0, [0xfd, 0xe7, 0x25]),
            ],
            excluded: [0x9e, 0x9e, 0x9e],
            alpha: 153,
        }
    }
}

impl ScoreTileOptions {
    fn check(&self) -> Result<()> {
        if !(64..=1024).contains(&self.size) {
            return Err(Error::InvalidInput(format!("score tile size {} is outside 64..=1024 pixels", self.size)));
        }
        if self.ramp.is_empty()
            || self.ramp.iter().any(|s| !s.0.is_finite())
            || self.ramp.windows(2).any(|w| w[0].0 >= w[1].0)
        {
            return Err(Error::InvalidInput(
                "a score ramp needs at least one stop, scores finite and increasing".into(),
            ));
        }
        Ok(())
    }

    /// The colour of `score` on the ramp.
    pub fn colour(&self, score: f64) -> [u8; 3] {
        let r = &self.ramp;
        let last = r[r.len() - 1];
        if score.is_nan() || score <= r[0].0 {
            return r[0].1;
        }
        if score >= last.0 {
            return last.1;
        }
        let k = r.partition_point(|s| s.0 <= score).clamp(1, r.len() - 1);
        let ((s0, c0), (s1, c1)) = (r[k - 1], r[k]);
        let t = (score - s0) / (s1 - s0);
        std::array::from_fn(|i| (f64::from(c0[i]) + (f64::from(c1[i]) - f64::from(c0[i])) * t).round() as u8)
    }
}

/// A pixel no parcel covers.
const EMPTY: f32 = f32::NAN;
/// A pixel only excluded parcels cover (below every score).
const EXCLUDED: f32 = f32::MIN;

/// Keep the larger of a pixel's value and `v` (any value beats an empty pixel).
#[inline]
fn put(buf: &mut [f32], i: usize, v: f32) {
    let cur = buf[i];
    if cur.is_nan() || v > cur {
        buf[i] = v;
    }
}

/// The pixels whose centres the polygons (rings in pixel coordinates, even–odd) contain, pushed
/// to `out`; a polygon containing no pixel centre (thinner than a pixel) gives the pixel under
/// its bounding box's centre.
fn cover(out: &mut Vec<u32>, size: usize, rings: &[Vec<Coord<f64>>], xs: &mut Vec<f64>) {
    let (mut x0, mut y0, mut x1, mut y1) = (f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY);
    for c in rings.iter().flatten() {
        x0 = x0.min(c.x);
        y0 = y0.min(c.y);
        x1 = x1.max(c.x);
        y1 = y1.max(c.y);
    }
    let n = size as f64;
    if !(x0 < n && y0 < n && x1 > 0.0 && y1 > 0.0) {
        return;
    }
    let before = out.len();
    // pixel rows whose centre (j + 0.5) is inside [y0, y1]
    let j0 = (y0 - 0.5).ceil().max(0.0) as usize;
    let j1 = ((y1 - 0.5).floor().min(n - 1.0)).max(-1.0);
    if j1 >= 0.0 {
        for j in j0..=(j1 as usize) {
            let yc = j as f64 + 0.5;
            xs.clear();
            for ring in rings {
                let m = ring.len();
                for k in 0..m {
                    let (a, b) = (ring[k], ring[(k + 1) % m]);
                    // half-open rule: an edge counts when the centre line is in [min y, max y)
                    if (a.y <= yc) != (b.y <= yc) {
                        xs.push(a.x + (yc - a.y) / (b.y - a.y) * (b.x - a.x));
                    }
                }
            }
            xs.sort_unstable_by(f64::total_cmp);
            for p in xs.chunks_exact(2) {
                // pixel columns whose centre (i + 0.5) is in [p0, p1)
                let i0 = (p[0] - 0.5).ceil().max(0.0);
                let i1 = (p[1] - 0.5).ceil().min(n);
                if i0 < i1 {
                    out.extend((i0 as usize..i1 as usize).map(|i| (j * size + i) as u32));
                }
            }
        }
    }
    if out.len() == before {
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        if (0.0..n).contains(&cx) && (0.0..n).contains(&cy) {
            out.push((cy as usize * size + cx as usize) as u32);
        }
    }
}

/// Which parcels cover which pixels of a tile ([`SearchIndex::tile_coverage`]): the geometric
/// half of a score tile, independent of the scores, so a map server computes it once per tile and
/// repaints it for every what-if ([`TileCoverage::paint`]) — a few milliseconds instead of
/// reprojecting and rasterising every parcel again.
#[derive(Debug, Clone, PartialEq)]
pub struct TileCoverage {
    size: usize,
    /// `(pixel, row)`: pixel = row-major index in the tile, row = the parcel's row.
    pairs: Vec<(u32, u32)>,
}

impl TileCoverage {
    /// Pixels a side.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The memory it holds, in bytes (what a cache counts).
    pub fn bytes(&self) -> usize {
        self.pairs.len() * std::mem::size_of::<(u32, u32)>()
    }

    /// The tile painted with `scores` (of the index the coverage came from) on the ramp of
    /// `opts` (its `size` must be the coverage's), as `size × size × 4` RGBA cells; see
    /// [`SearchIndex::score_tile`].
    pub fn paint(&self, scores: &ScoreResult, opts: &ScoreTileOptions) -> Result<Array3<u8>> {
        opts.check()?;
        if opts.size != self.size {
            return Err(Error::InvalidInput(format!(
                "score tile options of {} pixels for a coverage of {}",
                opts.size, self.size
            )));
        }
        let n = scores.score.len();
        if self.pairs.iter().any(|&(_, r)| r as usize >= n) {
            return Err(Error::InvalidInput("scores of fewer parcels than the coverage's index".into()));
        }
        let size = self.size;
        let mut buf = vec![EMPTY; size * size];
        for &(p, row) in &self.pairs {
            let row = row as usize;
            let v = match scores.excluded[row] {
                true => EXCLUDED,
                false if scores.score[row].is_nan() => continue,
                false => scores.score[row].clamp(f64::from(f32::MIN) / 2.0, f64::from(f32::MAX)) as f32,
            };
            put(&mut buf, p as usize, v);
        }
        let mut out = Array3::<u8>::zeros((size, size, 4));
        for (i, v) in buf.into_iter().enumerate() {
            if v.is_nan() {
                continue;
            }
            let rgb = if v == EXCLUDED { opts.excluded } else { opts.colour(f64::from(v)) };
            let (r, c) = (i / size, i % size);
            for k in 0..3 {
                out[(r, c, k)] = rgb[k];
            }
            out[(r, c, 3)] = opts.alpha;
        }
        Ok(out)
    }

    /// [`TileCoverage::paint`] encoded as PNG (RGBA).
    pub fn paint_png(&self, scores: &ScoreResult, opts: &ScoreTileOptions) -> Result<Vec<u8>> {
        Ok(super::png_rgba(&self.paint(scores, opts)?))
    }
}

impl SearchIndex {
    /// Every parcel under `tile` painted in its score's colour on the ramp of `opts` (parcels a
    /// constraint excludes in `opts.excluded`), as `size × size × 4` RGBA cells, north up. A
    /// pixel shows the best score among the parcels containing its centre (excluded parcels only
    /// where nothing scored is); a parcel containing no pixel centre (smaller or thinner than a
    /// pixel) paints the pixel under its centre, so none disappears. Geometries are reprojected
    /// to Web Mercator within 1/100 of a pixel. `INVALID_INPUT` when `scores` are not this
    /// index's or the options are out of range. The same as
    /// [`SearchIndex::tile_coverage`]`(tile, opts.size)?.`[`paint`](TileCoverage::paint)`(scores, opts)`.
    pub fn score_tile(&self, tile: TileId, scores: &ScoreResult, opts: &ScoreTileOptions) -> Result<Array3<u8>> {
        // the coverage checks the size, the paint the rest of the options
        self.check_scores(Some(scores))?;
        self.tile_coverage(tile, opts.size)?.paint(scores, opts)
    }

    /// Which parcels cover which pixels of `tile` at `size` pixels a side (64..=1024): the pixels
    /// whose centres each parcel contains, or the pixel under its centre when it contains none.
    pub fn tile_coverage(&self, tile: TileId, size: usize) -> Result<TileCoverage> {
        ScoreTileOptions { size, ..Default::default() }.check()?;
        if self.len() > u32::MAX as usize {
            return Err(Error::InvalidInput(format!("{} parcels: score tiles take at most {}", self.len(), u32::MAX)));
        }
        crate::interrupt::check("score tile")?;
        // a pixel of margin: parcels whose edge is just outside still paint their centre pixel
        let mut found = match self.rows_under(tile, tile.size() / size as f64)? {
            Some((_, found)) if !found.is_empty() => found,
            _ => return Ok(TileCoverage { size, pairs: Vec::new() }),
        };
        // in row order: the geometry reads walk memory forward
        found.par_sort_unstable_by_key(|f| f.0);
        let area = found.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |a, f| {
            [a[0].min(f.1[0]), a[1].min(f.1[1]), a[2].max(f.1[2]), a[3].max(f.1[3])]
        });
        let n = size as f64;
        let t = super::ToTile::new(&self.crs, Some((tile, n)))?;
        let f = |p: &mut [Coord<f64>]| t.apply(p);
        let g = Grid::build(area, &f, 0.01)?;
        let per = found.len().div_ceil(4 * rayon::current_num_threads()).max(4096);
        let parts = found
            .par_chunks(per)
            .map(|chunk| -> Result<Vec<(u32, u32)>> {
                let mut pairs = Vec::with_capacity(chunk.len() * 2);
                let (mut rings, mut xs, mut px): (Vec<Vec<Coord<f64>>>, Vec<f64>, Vec<u32>) =
                    (Vec::new(), Vec::new(), Vec::new());
                for &(row, env) in chunk {
                    // a parcel under a pixel on both sides: its bounding box's centre is enough
                    let mut corners = [Coord { x: env[0], y: env[1] }, Coord { x: env[2], y: env[3] }];
                    grid::apply(g.as_ref(), &f, &mut corners)?;
                    if (corners[0].x - corners[1].x).abs() < 0.5 && (corners[0].y - corners[1].y).abs() < 0.5 {
                        let (cx, cy) = ((corners[0].x + corners[1].x) / 2.0, (corners[0].y + corners[1].y) / 2.0);
                        if (0.0..n).contains(&cx) && (0.0..n).contains(&cy) {
                            pairs.push(((cy as usize * size + cx as usize) as u32, row as u32));
                        }
                        continue;
                    }
                    let mut k = 0;
                    for poly in &self.geoms[row].0 {
                        for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                            if rings.len() == k {
                                rings.push(Vec::new());
                            }
                            let pts = &mut rings[k];
                            pts.clear();
                            pts.extend_from_slice(&ring.0);
                            if pts.len() > 1 && pts.first() == pts.last() {
                                pts.pop();
                            }
                            grid::apply(g.as_ref(), &f, pts)?;
                            k += 1;
                        }
                    }
                    px.clear();
                    cover(&mut px, size, &rings[..k], &mut xs);
                    pairs.extend(px.iter().map(|&p| (p, row as u32)));
                }
                Ok(pairs)
            })
            .collect::<Result<Vec<_>>>()?;
        crate::interrupt::check("score tile")?;
        Ok(TileCoverage { size, pairs: parts.concat() })
    }

    /// [`SearchIndex::score_tile`] encoded as PNG (RGBA): what a web map requests.
    pub fn score_png(&self, tile: TileId, scores: &ScoreResult, opts: &ScoreTileOptions) -> Result<Vec<u8>> {
        Ok(super::png_rgba(&self.score_tile(tile, scores, opts)?))
    }

    /// The first zoom (0..=16) at which no tile holds more than `max_per_tile` parcels (counted
    /// by the centre of their bounding box), 16 when even that zoom has denser tiles, 0 for an
    /// empty index: where a web map can switch from score raster tiles
    /// ([`SearchIndex::score_tile`]) to vector tiles of every parcel
    /// ([`SearchIndex::parcel_tile`]) and draw them at once.
    pub fn detail_zoom(&self, max_per_tile: usize) -> Result<u32> {
        const Z: u32 = 16;
        if self.tree.size() == 0 {
            return Ok(0);
        }
        let env = self.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        let t = super::ToTile::new(&self.crs, None)?;
        let f = |p: &mut [Coord<f64>]| t.apply(p);
        // a metre is far under a zoom-16 tile (611 m at the equator)
        let g = Grid::build([lo[0], lo[1], hi[0], hi[1]], &f, 1.0)?;
        let side = (1u64 << Z) as f64;
        let world = 2.0 * super::HALF_WORLD;
        let entries: Vec<[f64; 4]> = self
            .tree
            .iter()
            .map(|e| [e.env.lower()[0], e.env.lower()[1], e.env.upper()[0], e.env.upper()[1]])
            .collect();
        let mut keys = entries
            .par_chunks(8192)
            .map(|chunk| -> Result<Vec<u64>> {
                let mut pts: Vec<Coord<f64>> =
                    chunk.iter().map(|e| Coord { x: (e[0] + e[2]) / 2.0, y: (e[1] + e[3]) / 2.0 }).collect();
                grid::apply(g.as_ref(), &f, &mut pts)?;
                Ok(pts
                    .iter()
                    .filter(|c| c.x.is_finite() && c.y.is_finite())
                    .map(|c| {
                        let x = ((c.x + super::HALF_WORLD) / world * side).clamp(0.0, side - 1.0) as u64;
                        let y = ((super::HALF_WORLD - c.y) / world * side).clamp(0.0, side - 1.0) as u64;
                        morton(x, y)
                    })
                    .collect())
            })
            .collect::<Result<Vec<_>>>()?
            .concat();
        keys.par_sort_unstable();
        for z in 0..=Z {
            let shift = 2 * (Z - z);
            let (mut densest, mut run, mut prev) = (0usize, 0usize, None);
            for k in &keys {
                let t = k >> shift;
                run = if prev == Some(t) { run + 1 } else { 1 };
                prev = Some(t);
                densest = densest.max(run);
            }
            if densest <= max_per_tile {
                return Ok(z);
            }
        }
        Ok(Z)
    }
}

/// Interleave the bits of `x` and `y` (each under 2³²): tiles of a coarser zoom are then runs of
/// consecutive keys.
fn morton(x: u64, y: u64) -> u64 {
    fn spread(mut v: u64) -> u64 {
        v &= 0xffff_ffff;
        v = (v | (v << 16)) & 0x0000_ffff_0000_ffff;
        v = (v | (v << 8)) & 0x00ff_00ff_00ff_00ff;
        v = (v | (v << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::{score, Profile};
    use crate::vector::{GeometryStatus, Parcels};
    use crate::{ColumnMeta, FeatureTable};
    use geo_types::{polygon, MultiPolygon};

    /// Parcels in Web Mercator given as pixel boxes `[col0, row0, col1, row1]` of `tile` (256
    /// px), with a value `v` scored linearly (score = v) and excluded when `v > 1`.
    fn index(tile: TileId, boxes: &[[f64; 4]], v: &[f64]) -> (SearchIndex, ScoreResult) {
        let (b, px) = (tile.bounds(), tile.size() / 256.0);
        let geometries: Vec<MultiPolygon<f64>> = boxes
            .iter()
            .map(|q| {
                let (x0, x1) = (b[0] + q[0] * px, b[0] + q[2] * px);
                let (y0, y1) = (b[3] - q[3] * px, b[3] - q[1] * px);
                MultiPolygon(vec![
                    polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)],
                ])
            })
            .collect();
        let ids: Vec<String> = (0..boxes.len()).map(|i| format!("p{i}")).collect();
        let parcels = Parcels {
            ids: ids.clone(),
            status: vec![GeometryStatus::Valid; ids.len()],
            geometries,
            crs: Some(crate::Crs::from_epsg(3857).unwrap()),
            columns: vec![],
            name: "boxes".into(),
        };
        let mut t = FeatureTable::new(ids);
        t.add_column("v", v.to_vec(), ColumnMeta::default()).unwrap();
        let p = Profile::parse(
            r#"{"version": 1, "method": {"type": "weighted_sum"},
                "criteria": [{"column": "v", "weight": 1, "transform": {"type": "linear_benefit", "min": 0, "max": 1}}],
                "constraints": [{"code": "HIGH", "column": "v", "op": ">", "value": 1}]}"#,
        )
        .unwrap();
        let s = score(&t, &p).unwrap();
        (SearchIndex::build(&parcels, t, None).unwrap(), s)
    }

    fn rgba(a: &Array3<u8>, col: usize, row: usize) -> [u8; 4] {
        std::array::from_fn(|k| a[(row, col, k)])
    }

    #[test]
    fn every_parcel_painted_in_its_score_colour() {
        let tile = TileId::new(10, 300, 380).unwrap();
        let boxes = [
            [10.0, 30.0, 20.0, 40.0],     // score 1, 10 × 10 pixels
            [15.0, 35.0, 30.0, 50.0],     // score 0.5, under the first where they overlap
            [100.2, 100.2, 100.3, 100.3], // a tenth of a pixel
            [200.0, 10.0, 210.0, 12.0],   // excluded
            [200.0, 11.0, 205.0, 12.0],   // over the excluded one: scored wins
            [250.0, 250.0, 260.0, 260.0], // across the tile's edge
        ];
        let (idx, s) = index(tile, &boxes, &[1.0, 0.5, 0.25, 2.0, 0.0, 0.75]);
        let o = ScoreTileOptions::default();
        let a = idx.score_tile(tile, &s, &o).unwrap();
        let painted = |k: usize| {
            a.outer_iter()
                .flat_map(|r| r.outer_iter().map(|p| p[3]).collect::<Vec<_>>())
                .filter(|v| *v == k as u8)
                .count()
        };
        let c = |s: f64| {
            let c = o.colour(s);
            [c[0], c[1], c[2], 153]
        };
        assert_eq!(rgba(&a, 10, 30), c(1.0));
        assert_eq!(rgba(&a, 19, 39), c(1.0));
        assert_eq!(rgba(&a, 20, 40), c(0.5));
        assert_eq!(rgba(&a, 29, 49), c(0.5));
        assert_eq!(rgba(&a, 30, 50), [0, 0, 0, 0]);
        assert_eq!(rgba(&a, 100, 100), c(0.25), "a parcel under a pixel paints its pixel");
        assert_eq!(rgba(&a, 200, 10), [0x9e, 0x9e, 0x9e, 153]);
        assert_eq!(rgba(&a, 204, 11), c(0.0), "scored over excluded");
        assert_eq!(rgba(&a, 255, 255), c(0.75));
        // 100 + (225 - 25) + 1 + 20 + 36 pixels, nothing else
        assert_eq!(painted(153), 100 + 200 + 1 + 20 + 36);
        // the ramp's colours are MapLibre's: #21918c at 0.5, half way from #3b528b to #21918c at 0.375
        assert_eq!(o.colour(0.5), [0x21, 0x91, 0x8c]);
        assert_eq!(o.colour(0.375), [46, 114, 140]);
        assert_eq!(o.colour(-3.0), [0x44, 0x01, 0x54]);
        // the coverage, computed once, repaints any scores as score_tile paints them
        let cov = idx.tile_coverage(tile, 256).unwrap();
        assert_eq!(cov.paint(&s, &o).unwrap(), a);
        let (_, other) = index(tile, &boxes, &[0.1, 0.9, 0.5, 0.3, 2.0, 0.0]);
        assert_eq!(cov.paint(&other, &o).unwrap(), idx.score_tile(tile, &other, &o).unwrap());
        assert_ne!(cov.paint(&other, &o).unwrap(), a);
        assert_eq!(cov.bytes(), 8 * (100 + 225 + 1 + 20 + 5 + 36), "a pair for each parcel's pixel");
        assert_eq!(
            cov.paint(&s, &ScoreTileOptions { size: 512, ..Default::default() }).unwrap_err().code(),
            "INVALID_INPUT"
        );
        // a tile away from the parcels is transparent; a PNG is a PNG
        let away = idx.score_tile(TileId::new(10, 10, 10).unwrap(), &s, &o).unwrap();
        assert!(away.iter().all(|v| *v == 0));
        // inside the parcels' extent, but under none of them (between the first box and the one
        // across the edge): transparent too
        let gap = TileId::new(14, 300 * 16 + 8, 380 * 16 + 8).unwrap();
        assert!(idx.score_tile(gap, &s, &o).unwrap().iter().all(|v| *v == 0));
        assert_eq!(&idx.score_png(tile, &s, &o).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn bad_options_and_scores_are_refused() {
        let tile = TileId::new(10, 300, 380).unwrap();
        let (idx, s) = index(tile, &[[0.0, 0.0, 1.0, 1.0]], &[0.5]);
        for o in [
            ScoreTileOptions { size: 4, ..Default::default() },
            ScoreTileOptions { ramp: vec![], ..Default::default() },
            ScoreTileOptions { ramp: vec![(1.0, [0; 3]), (0.0, [0; 3])], ..Default::default() },
            ScoreTileOptions { ramp: vec![(f64::NAN, [0; 3])], ..Default::default() },
        ] {
            assert_eq!(idx.score_tile(tile, &s, &o).unwrap_err().code(), "INVALID_INPUT");
        }
        let (_, other) = index(tile, &[[0.0, 0.0, 1.0, 1.0], [2.0, 2.0, 3.0, 3.0]], &[0.5, 0.5]);
        assert_eq!(idx.score_tile(tile, &other, &ScoreTileOptions::default()).unwrap_err().code(), "INVALID_INPUT");
    }

    #[test]
    fn detail_zoom_is_where_tiles_hold_few_enough() {
        // 64 parcels of 1 pixel at zoom 10 in an 8 × 8 block 4 pixels apart, inside 32 pixels: a
        // zoom-13 tile (32 pixels of a zoom-10 tile) holds all 64, zoom 14 (16 pixels) 16, zoom 15
        // (8 pixels) 4 and zoom 16 (4 pixels) 1
        let tile = TileId::new(10, 300, 380).unwrap();
        let boxes: Vec<[f64; 4]> = (0..64)
            .map(|k| {
                let (c, r) = ((k % 8) as f64 * 4.0 + 1.0, (k / 8) as f64 * 4.0 + 1.0);
                [c, r, c + 1.0, r + 1.0]
            })
            .collect();
        let (idx, _) = index(tile, &boxes, &[0.5; 64]);
        assert_eq!(idx.detail_zoom(64).unwrap(), 0);
        assert_eq!(idx.detail_zoom(63).unwrap(), 14);
        assert_eq!(idx.detail_zoom(16).unwrap(), 14);
        assert_eq!(idx.detail_zoom(15).unwrap(), 15);
        assert_eq!(idx.detail_zoom(1).unwrap(), 16);
        assert_eq!(idx.detail_zoom(0).unwrap(), 16);
        assert_eq!(morton(0b11, 0b01), 0b0111);
    }
}
