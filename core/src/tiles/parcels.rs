//! Parcels as a Mapbox Vector Tile layer.

use super::grid::{self, Grid};
use super::mvt::{area2, MvtLayer, MvtValue};
use super::{from_mercator, TileId};
use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use crate::scoring::ScoreResult;
use crate::search::SearchIndex;
use geo_types::Coord;
use rayon::prelude::*;
use rstar::AABB;

/// What a parcel tile carries and how it is cut.
#[derive(Debug, Clone, PartialEq)]
pub struct ParcelTileOptions {
    /// Layer name (default `parcels`).
    pub layer: String,
    /// Tile extent in integer units (default 4096, 16 units a pixel of a 256-pixel tile).
    pub extent: u32,
    /// Margin around the tile, in units, kept so that outlines join across tiles (default 64).
    pub buffer: u32,
    /// Parcels whose bounding box is smaller than this many units on both sides are left out
    /// (default 8: half a pixel of a 256-pixel tile — 3 m at zoom 14, 110 m at zoom 10 at 45°
    /// N), as tile makers drop what a zoom cannot show: overview tiles carry the larger parcels
    /// only. The size is taken at the tile's centre latitude: a parcel near the limit may be kept
    /// in one tile and not in its neighbour.
    pub min_size: f64,
    /// At most this many parcels a tile (default 5,000): in a denser tile only the largest are
    /// kept (by the larger side of their bounding box), so an overview of a million parcels
    /// stays a tile a browser draws at once; every parcel appears from the zoom where its tile
    /// holds fewer.
    pub max_features: usize,
    /// Feature columns carried as properties, as numbers or category labels (missing values
    /// are left out of the feature).
    pub columns: Vec<String>,
}

impl Default for ParcelTileOptions {
    fn default() -> Self {
        ParcelTileOptions {
            layer: "parcels".into(),
            extent: 4096,
            buffer: 64,
            min_size: 8.0,
            max_features: 5_000,
            columns: Vec::new(),
        }
    }
}

/// Rows with their bounding boxes (`[xmin, ymin, xmax, ymax]`, the index's CRS).
pub(super) type RowBoxes = Vec<(usize, [f64; 4])>;

/// Polygons of one parcel in tile units (exterior then holes, open, MVT-oriented).
type TilePolys = Vec<Vec<Vec<[i32; 2]>>>;

/// Clip an open ring to `[lo, hi]²` (Sutherland–Hodgman: exact for the part inside; edges along
/// the clip box where a concave ring leaves and re-enters, outside the visible tile when the
/// buffer is positive).
fn clip(ring: Vec<[f64; 2]>, lo: f64, hi: f64) -> Vec<[f64; 2]> {
    let inside_all = ring.iter().all(|p| p[0] >= lo && p[0] <= hi && p[1] >= lo && p[1] <= hi);
    if inside_all {
        return ring;
    }
    let mut cur = ring;
    for (axis, bound, keep_greater) in [(0, lo, true), (0, hi, false), (1, lo, true), (1, hi, false)] {
        if cur.is_empty() {
            break;
        }
        let inside = |p: &[f64; 2]| if keep_greater { p[axis] >= bound } else { p[axis] <= bound };
        let mut out = Vec::with_capacity(cur.len() + 4);
        let n = cur.len();
        for i in 0..n {
            let (a, b) = (cur[(i + n - 1) % n], cur[i]);
            let (ia, ib) = (inside(&a), inside(&b));
            if ib {
                if !ia {
                    out.push(cross(a, b, axis, bound));
                }
                out.push(b);
            } else if ia {
                out.push(cross(a, b, axis, bound));
            }
        }
        cur = out;
    }
    cur
}

fn cross(a: [f64; 2], b: [f64; 2], axis: usize, bound: f64) -> [f64; 2] {
    let t = (bound - a[axis]) / (b[axis] - a[axis]);
    let mut p = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
    p[axis] = bound;
    p
}

/// Round to integers and drop repeated and collinear points; `None` when fewer than 3 remain or
/// the ring has no area.
fn quantise(ring: &[[f64; 2]]) -> Option<Vec<[i32; 2]>> {
    let mut out: Vec<[i32; 2]> = Vec::with_capacity(ring.len());
    for p in ring {
        let q = [p[0].round() as i32, p[1].round() as i32];
        if out.last() == Some(&q) {
            continue;
        }
        while out.len() >= 2 && collinear(out[out.len() - 2], out[out.len() - 1], q) {
            out.pop();
        }
        out.push(q);
    }
    // the seam: last → first → second
    loop {
        let n = out.len();
        if n < 3 {
            return None;
        }
        if out[n - 1] == out[0] || collinear(out[n - 2], out[n - 1], out[0]) {
            out.pop();
        } else if collinear(out[n - 1], out[0], out[1]) {
            out.remove(0);
        } else {
            break;
        }
    }
    (area2(&out) != 0).then_some(out)
}

fn collinear(a: [i32; 2], b: [i32; 2], c: [i32; 2]) -> bool {
    let (abx, aby) = (i64::from(b[0] - a[0]), i64::from(b[1] - a[1]));
    let (acx, acy) = (i64::from(c[0] - a[0]), i64::from(c[1] - a[1]));
    abx * acy == aby * acx
}

impl SearchIndex {
    /// The parcels under `tile` as a Mapbox Vector Tile (2.1) of one polygon layer. Each feature
    /// has the parcel's row as its id and the properties `id` (the parcel id), `score`, `rank`
    /// and `excluded` from `scores` (when given), and `opts.columns`. Geometries are reprojected
    /// to Web Mercator (within 1/20 of a unit), clipped to the tile plus `opts.buffer`,
    /// quantised to `opts.extent` (the simplification of the zoom: points a unit apart merge,
    /// collinear points go), oriented as the specification says; parcels under `opts.min_size`
    /// are left out. A tile without parcels is an empty (valid) tile.
    pub fn parcel_tile(&self, tile: TileId, scores: Option<&ScoreResult>, opts: &ParcelTileOptions) -> Result<Vec<u8>> {
        if !(256..=65_536).contains(&opts.extent) || opts.buffer > opts.extent / 2 {
            return Err(Error::InvalidInput(format!(
                "tile extent {} (256..=65536) or buffer {} (at most half the extent) out of range",
                opts.extent, opts.buffer
            )));
        }
        if !opts.min_size.is_finite() || opts.min_size < 0.0 {
            return Err(Error::InvalidInput(format!("min_size {} must be a finite number ≥ 0", opts.min_size)));
        }
        self.check_scores(scores)?;
        // a column named as one of the tile's own properties is carried once, as the property
        let own = ["id", "score", "rank", "excluded"];
        let columns = opts
            .columns
            .iter()
            .filter(|c| !own.contains(&c.as_str()))
            .map(|c| self.features().column(c))
            .collect::<Result<Vec<_>>>()?;
        let mut layer = MvtLayer::new(&opts.layer, opts.extent);
        // the long steps check the caller's interrupt token (a request abandoned stops here)
        crate::interrupt::check("parcel tile")?;
        let Some((rows, area)) = self.tile_candidates(tile, opts)? else {
            return Ok(MvtLayer::tile(&[layer]));
        };
        let ext = f64::from(opts.extent);
        let t = super::ToTile::new(&self.crs, Some((tile, ext)))?;
        let f = |p: &mut [Coord<f64>]| t.apply(p);
        let g = Grid::build(area, &f, 0.05)?;
        let (lo, hi) = (-f64::from(opts.buffer), ext + f64::from(opts.buffer));
        let polys: Vec<(usize, TilePolys)> = rows
            .par_iter()
            .map(|&row| -> Result<(usize, TilePolys)> {
                let mut out = Vec::new();
                for poly in &self.geoms[row].0 {
                    let mut rings = Vec::with_capacity(1 + poly.interiors().len());
                    for (k, ring) in std::iter::once(poly.exterior()).chain(poly.interiors()).enumerate() {
                        let mut pts: Vec<Coord<f64>> = ring.0.clone();
                        if pts.len() > 1 && pts.first() == pts.last() {
                            pts.pop();
                        }
                        grid::apply(g.as_ref(), &f, &mut pts)?;
                        let clipped = clip(pts.iter().map(|c| [c.x, c.y]).collect(), lo, hi);
                        let Some(mut q) = quantise(&clipped) else {
                            if k == 0 {
                                break;
                            }
                            continue;
                        };
                        if (area2(&q) > 0) != (k == 0) {
                            q.reverse();
                        }
                        rings.push(q);
                    }
                    if !rings.is_empty() {
                        out.push(rings);
                    }
                }
                Ok((row, out))
            })
            .collect::<Result<_>>()?;
        crate::interrupt::check("parcel tile")?;
        let ids = self.features().ids();
        let mut props: Vec<(&str, MvtValue)> = Vec::with_capacity(4 + columns.len());
        for (row, p) in polys.iter().filter(|(_, p)| !p.is_empty()) {
            let row = *row;
            props.clear();
            props.push(("id", MvtValue::String(ids[row].clone())));
            if let Some(s) = scores {
                props.push(("score", MvtValue::Double(s.score[row])));
                let r = s.rank[row];
                props.push(("rank", if r.fract() == 0.0 { MvtValue::Int(r as i64) } else { MvtValue::Double(r) }));
                props.push(("excluded", MvtValue::Bool(s.excluded[row])));
            }
            for c in &columns {
                if c.categories.is_some() {
                    if let Some(l) = c.label(row) {
                        props.push((c.name.as_str(), MvtValue::String(l.to_string())));
                    }
                } else if let Some(v) = c.values.get(row).copied().filter(|v| !v.is_nan()) {
                    props.push((c.name.as_str(), MvtValue::Double(v)));
                }
            }
            layer.add_polygon(Some(row as u64), p, &props);
        }
        Ok(MvtLayer::tile(&[layer]))
    }

    /// The parcels' extent in WGS 84 (`[west, south, east, north]`, degrees): the index's
    /// bounding box with its edges densified and reprojected; `None` for an empty index. What a
    /// web map fits its first view to.
    pub fn bounds_wgs84(&self) -> Result<Option<[f64; 4]>> {
        Ok(self.extent_in(&Crs::wgs84()).map(|e| [e.min().x, e.min().y, e.max().x, e.max().y]))
    }

    /// Rows whose bounding box meets the tile grown by `grow` (Web Mercator metres), with their
    /// boxes, and the latitude of the tile's centre (radians); `None` when the tile is away from
    /// the parcels.
    pub(super) fn rows_under(&self, tile: TileId, grow: f64) -> Result<Option<(f64, RowBoxes)>> {
        let Some(d) = self.bounds_wgs84()? else {
            return Ok(None);
        };
        let b = tile.bounds();
        let (w, s) = from_mercator(b[0] - grow, b[1] - grow);
        let (e, n) = from_mercator(b[2] + grow, b[3] + grow);
        let r = [w.max(d[0]), s.max(d[1]), e.min(d[2]), n.min(d[3])];
        if r[0] > r[2] || r[1] > r[3] {
            return Ok(None);
        }
        let mut ring = geo_types::Geometry::Polygon(crate::search::densified_box(r, 16));
        Transformer::new(&Crs::wgs84(), &self.crs)?.transform_geometry(&mut ring)?;
        let Some(q) = geo::BoundingRect::bounding_rect(&ring) else { return Ok(None) };
        let found = self
            .tree
            .locate_in_envelope_intersecting(&AABB::from_corners(q.min().into(), q.max().into()))
            .map(|en| {
                let (l, u) = (en.env.lower(), en.env.upper());
                (en.idx, [l[0], l[1], u[0], u[1]])
            })
            .collect();
        Ok(Some((((r[1] + r[3]) / 2.0).to_radians(), found)))
    }

    /// Rows whose bounding box meets the tile (grown by its buffer) and is not under the size
    /// limit, with the envelope of their boxes; `None` when the tile is away from the parcels.
    fn tile_candidates(&self, tile: TileId, opts: &ParcelTileOptions) -> Result<Option<(Vec<usize>, [f64; 4])>> {
        let grow = tile.size() * f64::from(opts.buffer) / f64::from(opts.extent);
        let Some((lat, rows)) = self.rows_under(tile, grow)? else {
            return Ok(None);
        };
        // a unit of the tile in the index's units, at the tile's centre latitude
        let unit = tile.size() / f64::from(opts.extent) * lat.cos() / self.unit_m;
        let min = opts.min_size * unit;
        let mut found: Vec<(f64, usize, [f64; 4])> = rows
            .into_iter()
            .filter_map(|(idx, e)| {
                let size = (e[2] - e[0]).max(e[3] - e[1]);
                (size >= min).then_some((size, idx, e))
            })
            .collect();
        if found.len() > opts.max_features {
            // the largest parcels: what the zoom shows best (tile makers' "drop densest")
            found.select_nth_unstable_by(opts.max_features, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            found.truncate(opts.max_features);
        }
        let area = found.iter().fold([f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY], |a, f| {
            [a[0].min(f.2[0]), a[1].min(f.2[1]), a[2].max(f.2[2]), a[3].max(f.2[3])]
        });
        let mut rows: Vec<usize> = found.into_iter().map(|f| f.1).collect();
        rows.sort_unstable();
        Ok((!rows.is_empty()).then_some((rows, area)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "gpkg")]
    #[test]
    fn dense_tiles_keep_the_largest_parcels() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/lulc_polygons.gpkg");
        let parcels = crate::Parcels::read(path, None, Some("index")).unwrap();
        let n = parcels.len();
        let idx = SearchIndex::build(&parcels, crate::FeatureTable::new(parcels.ids.clone()), None).unwrap();
        let b = idx.bounds_wgs84().unwrap().unwrap();
        let tile = super::super::tile_of((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, 10).unwrap();
        let all = ParcelTileOptions { min_size: 0.0, ..Default::default() };
        let (rows, _) = idx.tile_candidates(tile, &all).unwrap().unwrap();
        assert_eq!(rows.len(), n, "a zoom 10 tile holds the whole sample");
        let few = ParcelTileOptions { max_features: 10, ..all.clone() };
        let (kept, _) = idx.tile_candidates(tile, &few).unwrap().unwrap();
        assert_eq!(kept.len(), 10);
        let size = |r: usize| {
            let e = idx.tree.iter().find(|e| e.idx == r).unwrap().env;
            (e.upper()[0] - e.lower()[0]).max(e.upper()[1] - e.lower()[1])
        };
        let smallest_kept = kept.iter().map(|r| size(*r)).fold(f64::INFINITY, f64::min);
        assert!((0..n).filter(|r| !kept.contains(r)).all(|r| size(r) <= smallest_kept));
        assert!(idx.parcel_tile(tile, None, &few).unwrap().len() < idx.parcel_tile(tile, None, &all).unwrap().len());
    }

    #[test]
    fn clip_and_quantise() {
        let sq = vec![[-10.0, -10.0], [50.0, -10.0], [50.0, 50.0], [-10.0, 50.0]];
        let c = clip(sq, 0.0, 100.0);
        let q = quantise(&c).unwrap();
        assert_eq!(area2(&q).abs(), 2 * 50 * 50);
        // a sliver under a unit collapses
        assert!(quantise(&[[0.0, 0.0], [10.0, 0.1], [20.0, 0.2]]).is_none());
        // collinear and repeated points go
        let q = quantise(&[[0.0, 0.0], [5.0, 0.0], [10.0, 0.0], [10.0, 0.2], [10.0, 10.0], [0.0, 10.0]]).unwrap();
        assert_eq!(q.len(), 4);
        // entirely outside
        assert!(clip(vec![[200.0, 200.0], [300.0, 200.0], [300.0, 300.0]], 0.0, 100.0).is_empty());
    }
}
