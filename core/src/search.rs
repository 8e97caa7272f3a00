//! Parcel search: an R-tree over parcels with their features and scores. Queries combine an area
//! of interest (bbox, polygon, or point + radius, in any CRS), attribute filters (ranges, category
//! sets, excluded or not), top-k by score or any column, and cursor pagination; hits carry their
//! explanation. Re-weighting ([`SearchIndex::rescore`]) re-ranks without recomputing features.

use crate::crs::{Crs, Transformer};
use crate::error::{Error, Result};
use crate::features::FeatureTable;
use crate::overlay::{reproject_mp, reproject_owned, WorkFrame};
use crate::scoring::{score, Contribution, Profile, ScoreResult};
use crate::vector::Parcels;
use geo::{BoundingRect, Distance, Euclidean, Intersects};
use geo_types::{Coord, Geometry, MultiPolygon, Point, Rect};
use rayon::prelude::*;
use rstar::{RTree, RTreeObject, AABB};
use serde::{Deserialize, Serialize};

pub(crate) struct Entry {
    pub(crate) idx: usize,
    pub(crate) env: AABB<[f64; 2]>,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

/// An area of interest.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Aoi {
    /// `[xmin, ymin, xmax, ymax]`.
    Bbox(
        /// Corners.
        [f64; 4],
    ),
    /// A GeoJSON Polygon/MultiPolygon geometry.
    Polygon(
        /// Geometry object.
        serde_json::Value,
    ),
    /// A point and a radius in metres.
    Point {
        /// `[x, y]`.
        xy: [f64; 2],
        /// Radius, metres.
        radius_m: f64,
    },
}

/// An area of interest as drawn by hand or by a web map: parts that overlap (a part drawn twice,
/// two overlapping sketches) are unioned — the boolean clip's fill rule cancelled a part drawn
/// twice, so such an area found nothing. A part that is itself invalid (a ring crossing itself)
/// is `INVALID_GEOMETRY` with the reason.
fn valid_aoi(mp: MultiPolygon<f64>) -> Result<MultiPolygon<f64>> {
    use crate::vector::GeometryStatus;
    let status = |m: &MultiPolygon<f64>| crate::vector::validity::ogc_status(m);
    if status(&mp) == GeometryStatus::Valid {
        return Ok(mp);
    }
    for (k, part) in mp.0.iter().enumerate() {
        if let GeometryStatus::Invalid(why) = status(&MultiPolygon(vec![part.clone()])) {
            return Err(Error::InvalidGeometry(format!("aoi.polygon part {k} is not valid: {why}")));
        }
    }
    let polys = mp.0;
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| geo::unary_union(&polys)))
        .map_err(|_| Error::InvalidGeometry("aoi.polygon: its overlapping parts could not be unioned".into()))
}

/// The axis-aligned rectangle inside a reprojected [`densified_box`] (`per_edge` points a side):
/// from the inner extremes of its four sides, kept only when its corners are inside the polygon
/// and no edge of the polygon enters it — else `None`.
fn inner_rect(p: &geo_types::Polygon<f64>, per_edge: usize) -> Option<AABB<[f64; 2]>> {
    let pts = &p.exterior().0;
    if pts.len() != 4 * per_edge + 1 || !p.interiors().is_empty() {
        return None;
    }
    let side = |k: usize| &pts[k * per_edge..=(k + 1) * per_edge];
    let x0 = side(3).iter().map(|c| c.x).fold(f64::NEG_INFINITY, f64::max);
    let y0 = side(0).iter().map(|c| c.y).fold(f64::NEG_INFINITY, f64::max);
    let x1 = side(1).iter().map(|c| c.x).fold(f64::INFINITY, f64::min);
    let y1 = side(2).iter().map(|c| c.y).fold(f64::INFINITY, f64::min);
    if !(x0 < x1 && y0 < y1) {
        return None;
    }
    let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
    if !corners.iter().all(|&(x, y)| p.intersects(&Point::new(x, y))) {
        return None;
    }
    // an edge crossing the rectangle's interior (shrunk by a hair: the sides touch its border)
    let (dx, dy) = ((x1 - x0) * 1e-9, (y1 - y0) * 1e-9);
    let shrunk = Rect::new(Coord { x: x0 + dx, y: y0 + dy }, Coord { x: x1 - dx, y: y1 - dy });
    if p.exterior().lines().any(|l| l.intersects(&shrunk)) {
        return None;
    }
    Some(AABB::from_corners([x0, y0], [x1, y1]))
}

/// A box `[xmin, ymin, xmax, ymax]` as a polygon with `per_edge` points on each edge, so that it
/// stays close to exact after reprojection.
pub(crate) fn densified_box(b: [f64; 4], per_edge: usize) -> geo_types::Polygon<f64> {
    let corners = [(b[0], b[1]), (b[2], b[1]), (b[2], b[3]), (b[0], b[3])];
    let mut ring: Vec<Coord<f64>> = Vec::with_capacity(4 * per_edge + 1);
    for k in 0..4 {
        let (a, c) = (corners[k], corners[(k + 1) % 4]);
        for s in 0..per_edge {
            let f = s as f64 / per_edge as f64;
            ring.push(Coord { x: a.0 + f * (c.0 - a.0), y: a.1 + f * (c.1 - a.1) });
        }
    }
    ring.push(ring[0]);
    geo_types::Polygon::new(ring.into(), vec![])
}

/// An attribute filter.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Feature column (or `score`).
    pub column: String,
    /// Inclusive minimum.
    #[serde(default)]
    pub min: Option<f64>,
    /// Inclusive maximum.
    #[serde(default)]
    pub max: Option<f64>,
    /// Allowed category labels.
    #[serde(default, rename = "in")]
    pub any_of: Option<Vec<String>>,
}

/// A search query.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Area of interest (none = everywhere).
    #[serde(default)]
    pub aoi: Option<Aoi>,
    /// CRS of the AOI coordinates (default: the index CRS).
    #[serde(default)]
    pub crs: Option<String>,
    /// Attribute filters (all must hold).
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Include parcels excluded by hard constraints.
    #[serde(default)]
    pub include_excluded: bool,
    /// Sort column (`score` by default).
    #[serde(default)]
    pub sort_by: Option<String>,
    /// Ascending order (default: descending).
    #[serde(default)]
    pub ascending: bool,
    /// Page size (default 100).
    #[serde(default = "hundred")]
    pub limit: usize,
    /// Cursor from the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Include each hit's per-criterion explanation (default true).
    #[serde(default = "yes")]
    pub explain: bool,
}

fn yes() -> bool {
    true
}

fn hundred() -> usize {
    100
}

impl Default for Query {
    fn default() -> Self {
        Query {
            aoi: None,
            crs: None,
            filters: vec![],
            include_excluded: false,
            sort_by: None,
            ascending: false,
            limit: 100,
            cursor: None,
            explain: true,
        }
    }
}

/// One result.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// Row of the parcel in the index (not serialised).
    #[serde(skip)]
    pub row: usize,
    /// Parcel id.
    pub id: String,
    /// Score (NaN without a profile).
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>", required))] // NaN is null in JSON
    pub score: f64,
    /// Rank among all parcels (the profile's tie rule; NaN without a profile).
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>", required))] // NaN is null in JSON
    pub rank: f64,
    /// Excluded by a hard constraint.
    pub excluded: bool,
    /// Constraint codes that fired.
    pub reasons: Vec<String>,
    /// Value of the sort column.
    #[cfg_attr(feature = "schema", schemars(with = "Option<f64>", required))] // NaN is null in JSON
    pub sort_value: f64,
    /// Per-criterion explanation.
    pub explanation: Vec<Contribution>,
}

/// One page of results.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page {
    /// Hits in order.
    pub hits: Vec<Hit>,
    /// Parcels matching the query (all pages).
    pub total: usize,
    /// Cursor of the next page, if any.
    pub next_cursor: Option<String>,
}

/// The hits of many queries as columns, one row per hit ([`SearchIndex::query_many`]): what the
/// bindings turn into one DataFrame / typed arrays instead of one object per hit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HitTable {
    /// Position of the query in the batch.
    pub query: Vec<u32>,
    /// Row of the parcel in the index (its id is `ids()[row]`).
    pub row: Vec<u32>,
    /// Score (NaN without a profile).
    pub score: Vec<f64>,
    /// Rank among all parcels (the profile's tie rule; NaN without a profile).
    pub rank: Vec<f64>,
    /// Excluded by a hard constraint.
    pub excluded: Vec<bool>,
    /// Value of the sort column.
    pub sort_value: Vec<f64>,
    /// Matches of each query (all pages).
    pub totals: Vec<usize>,
    /// Criterion names of `contribution`.
    pub criteria: Vec<String>,
    /// Per hit, per criterion contribution to the score (hits × criteria, row-major); empty
    /// unless every query asked for explanations.
    pub contribution: Vec<f64>,
}

/// The index.
#[derive(Debug)]
pub struct SearchIndex {
    pub(crate) crs: Crs,
    pub(crate) unit_m: f64,
    pub(crate) geoms: Vec<MultiPolygon<f64>>,
    pub(crate) tree: RTree<Entry>,
    features: FeatureTable,
    scores: Option<ScoreResult>,
    profile: Option<Profile>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Entry({})", self.idx)
    }
}

fn check_ids(parcels: &Parcels, features: &FeatureTable) -> Result<()> {
    if features.ids() != parcels.ids.as_slice() {
        return Err(Error::InvalidInput("the feature table's ids are not the parcels' ids (same order)".into()));
    }
    crate::vector::check_unique_ids(features.ids(), "search index parcel ids")
}

impl SearchIndex {
    /// Build over parcels (reprojected to a metric CRS) and their features, scored with `profile`.
    /// The parcels are copied; [`SearchIndex::from_parcels`] takes them instead.
    pub fn build(parcels: &Parcels, features: FeatureTable, profile: Option<&Profile>) -> Result<Self> {
        check_ids(parcels, &features)?;
        let (crs, unit_m, t) = WorkFrame::target(parcels, None)?;
        let geoms = parcels.geometries.par_iter().map(|g| reproject_mp(g, &t)).collect::<Result<Vec<_>>>()?;
        Self::assemble(crs, unit_m, geoms, features, profile)
    }

    /// [`SearchIndex::build`] taking the parcels: their geometries become the index's (reprojected
    /// in place), nothing is copied. What a caller does that has no further use for the parcels.
    ///
    /// ```
    /// use landopp::{search::{Query, SearchIndex}, FeatureTable, Parcels};
    /// # fn main() -> landopp::Result<()> {
    /// # let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    /// let parcels = Parcels::read(f.join("lulc_polygons.gpkg"), None, Some("index"))?;
    /// let table = FeatureTable::new(parcels.ids.clone());
    /// let n = parcels.len();
    /// let idx = SearchIndex::from_parcels(parcels, table, None)?;
    /// assert_eq!(idx.len(), n);
    /// assert_eq!(idx.query(&Query::default())?.total, n);
    /// # Ok(()) }
    /// ```
    pub fn from_parcels(parcels: Parcels, features: FeatureTable, profile: Option<&Profile>) -> Result<Self> {
        check_ids(&parcels, &features)?;
        let (crs, unit_m, t) = WorkFrame::target(&parcels, None)?;
        let mut geoms = parcels.geometries;
        reproject_owned(&mut geoms, &t)?;
        Self::assemble(crs, unit_m, geoms, features, profile)
    }

    fn assemble(
        crs: Crs,
        unit_m: f64,
        geoms: Vec<MultiPolygon<f64>>,
        features: FeatureTable,
        profile: Option<&Profile>,
    ) -> Result<Self> {
        let entries = geoms
            .par_iter()
            .enumerate()
            .filter_map(|(i, g)| {
                g.bounding_rect()
                    .map(|r| Entry { idx: i, env: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]) })
            })
            .collect();
        // the R-tree's bulk load is serial: the scores are computed beside it
        let (tree, scores) =
            rayon::join(|| RTree::bulk_load(entries), || profile.map(|p| score(&features, p)).transpose());
        Ok(SearchIndex { crs, unit_m, geoms, tree, features, scores: scores?, profile: profile.cloned() })
    }

    /// Number of parcels.
    pub fn len(&self) -> usize {
        self.geoms.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.geoms.is_empty()
    }
    /// The metric CRS of the index.
    pub fn crs(&self) -> &Crs {
        &self.crs
    }

    /// The parcels at `rows` in another CRS (`EPSG:4326` for GeoJSON), reprojected from the
    /// index's exactly (no simplification); an out-of-range row is `INVALID_INPUT`.
    pub fn geometries_in(&self, rows: &[usize], crs: &Crs) -> Result<Vec<geo_types::MultiPolygon<f64>>> {
        let n = self.geoms.len();
        if let Some(r) = rows.iter().find(|&&r| r >= n) {
            return Err(Error::InvalidInput(format!("row {r} is outside the index's {n} parcels")));
        }
        let t = crate::crs::Transformer::new(&self.crs, crs)?;
        rows.iter().map(|&r| t.transform_multipolygon(&self.geoms[r])).collect()
    }

    /// The explanation of the parcel at `row` under the current scores (empty without a profile).
    pub fn explanation(&self, row: usize) -> Vec<Contribution> {
        self.scores.as_ref().map(|s| s.explanation(row)).unwrap_or_default()
    }

    /// Run many queries (in parallel) and return their hits as columns.
    pub fn query_many(&self, queries: &[Query]) -> Result<HitTable> {
        use rayon::prelude::*;
        let pages = queries
            .par_iter()
            .map(|q| self.query(&Query { explain: false, ..q.clone() }))
            .collect::<Result<Vec<_>>>()?;
        let explain = self.scores.is_some() && !queries.is_empty() && queries.iter().all(|q| q.explain);
        let n: usize = pages.iter().map(|p| p.hits.len()).sum();
        let mut t = HitTable {
            query: Vec::with_capacity(n),
            row: Vec::with_capacity(n),
            score: Vec::with_capacity(n),
            rank: Vec::with_capacity(n),
            excluded: Vec::with_capacity(n),
            sort_value: Vec::with_capacity(n),
            totals: pages.iter().map(|p| p.total).collect(),
            criteria: match (&self.scores, explain) {
                (Some(s), true) => s.criteria().to_vec(),
                _ => vec![],
            },
            contribution: vec![],
        };
        for (k, p) in pages.iter().enumerate() {
            for h in &p.hits {
                t.query.push(k as u32);
                t.row.push(h.row as u32);
                t.score.push(h.score);
                t.rank.push(h.rank);
                t.excluded.push(h.excluded);
                t.sort_value.push(h.sort_value);
            }
        }
        if let (Some(s), true) = (&self.scores, explain) {
            let k = t.criteria.len();
            let mut c = vec![0.0; n * k];
            c.par_chunks_mut(k.max(1)).zip(t.row.par_iter()).for_each(|(out, &r)| {
                s.contributions_into(r as usize, out);
            });
            t.contribution = c;
        }
        Ok(t)
    }

    /// True when the index holds scores (it was built or re-scored with a profile).
    pub fn has_scores(&self) -> bool {
        self.scores.is_some()
    }

    /// The feature table the index holds.
    pub fn features(&self) -> &FeatureTable {
        &self.features
    }

    /// Install scores computed elsewhere (e.g. outside a lock) from `score(self.features(), &profile)`.
    pub fn set_scores(&mut self, scores: ScoreResult, profile: Profile) {
        self.scores = Some(scores);
        self.profile = Some(profile);
    }

    /// Re-score with another profile (new weights) without touching geometry or features.
    pub fn rescore(&mut self, profile: &Profile) -> Result<()> {
        self.scores = Some(score(&self.features, profile)?);
        self.profile = Some(profile.clone());
        Ok(())
    }

    fn candidates(&self, q: &Query) -> Result<Vec<usize>> {
        let Some(aoi) = &q.aoi else { return Ok((0..self.len()).collect()) };
        let src = match &q.crs {
            Some(c) => Crs::from_user_input(c)?,
            None => self.crs.clone(),
        };
        let t = Transformer::new(&src, &self.crs)?;
        let in_tree = |r: Rect<f64>| -> Vec<usize> {
            let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
            self.tree.locate_in_envelope_intersecting(&env).map(|e| e.idx).collect()
        };
        Ok(match aoi {
            Aoi::Bbox(b) => {
                if !(b[0] < b[2] && b[1] < b[3]) {
                    return Err(Error::InvalidInput(format!("aoi.bbox {b:?} needs xmin < xmax and ymin < ymax")));
                }
                if t.is_noop() {
                    // same CRS: parcels whose box lies inside are in; only border ones are tested
                    let rect = Rect::new(Coord { x: b[0], y: b[1] }, Coord { x: b[2], y: b[3] });
                    let env = AABB::from_corners([b[0], b[1]], [b[2], b[3]]);
                    return Ok(self
                        .tree
                        .locate_in_envelope_intersecting(&env)
                        .filter(|e| {
                            use rstar::Envelope;
                            env.contains_envelope(&e.env) || rect.intersects(&self.geoms[e.idx])
                        })
                        .map(|e| e.idx)
                        .collect());
                }
                // Only the part of the box over the parcels' own extent is reprojected: a box far
                // larger than the index's CRS domain (a near-global box against UTM parcels)
                // would fold over when its far corners are projected.
                let Some(e) = self.extent_in(&src) else { return Ok(vec![]) };
                let clip = [b[0].max(e.min().x), b[1].max(e.min().y), b[2].min(e.max().x), b[3].min(e.max().y)];
                if !(clip[0] <= clip[2] && clip[1] <= clip[3]) {
                    return Ok(vec![]);
                }
                let mut g = Geometry::Polygon(densified_box(clip, 8));
                t.transform_geometry(&mut g)?;
                // parcels whose box lies inside the reprojected box's inner rectangle are in
                // without the exact test (a box over a million parcels tests only its border)
                let inner = match &g {
                    Geometry::Polygon(p) => inner_rect(p, 8),
                    _ => None,
                };
                let Some(r) = g.bounding_rect() else { return Ok(vec![]) };
                let env = AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]);
                self.tree
                    .locate_in_envelope_intersecting(&env)
                    .filter(|e| {
                        use rstar::Envelope;
                        inner.is_some_and(|i| i.contains_envelope(&e.env)) || g.intersects(&self.geoms[e.idx])
                    })
                    .map(|e| e.idx)
                    .collect()
            }
            Aoi::Polygon(v) => {
                let mut g = crate::vector::geojson::parse_geometry(v)?
                    .ok_or_else(|| Error::InvalidGeometry("aoi.polygon is null".into()))?;
                let Some(mp) = crate::overlay::as_multipolygon(&g) else {
                    return Err(Error::InvalidGeometry("aoi.polygon must be a Polygon or MultiPolygon".into()));
                };
                crate::vector::check_finite(std::slice::from_ref(&mp))?;
                let mp = valid_aoi(mp)?;
                g = Geometry::MultiPolygon(mp.clone());
                if !t.is_noop() {
                    // as for boxes: only the part over the parcels' extent is reprojected
                    let Some(e) = self.extent_in(&src) else { return Ok(vec![]) };
                    let inside = mp.bounding_rect().is_some_and(|r| {
                        r.min().x >= e.min().x
                            && r.min().y >= e.min().y
                            && r.max().x <= e.max().x
                            && r.max().y <= e.max().y
                    });
                    if !inside {
                        let b = [e.min().x, e.min().y, e.max().x, e.max().y];
                        let clip = MultiPolygon(vec![densified_box(b, 1)]);
                        g = Geometry::MultiPolygon(crate::overlay::safe_intersection(&mp, &clip).ok_or_else(|| {
                            Error::InvalidGeometry("aoi.polygon could not be clipped (degenerate rings)".into())
                        })?);
                    }
                }
                t.transform_geometry(&mut g)?;
                self.filter_geom(&g, in_tree)
            }
            Aoi::Point { xy, radius_m } => {
                if !(radius_m.is_finite() && *radius_m >= 0.0) {
                    return Err(Error::InvalidInput(format!("aoi.point.radius_m {radius_m} must be >= 0")));
                }
                let (x, y) = t.transform_point(xy[0], xy[1])?;
                let r = radius_m / self.unit_m;
                let p = Point::new(x, y);
                in_tree(Rect::new(Coord { x: x - r, y: y - r }, Coord { x: x + r, y: y + r }))
                    .into_iter()
                    .filter(|&i| Euclidean.distance(&p, &self.geoms[i]) <= r)
                    .collect()
            }
        })
    }

    /// The bounding box, in `crs`, of the parcels' extent (its boundary densified and
    /// reprojected; points that fail to reproject are left out). `None` for an empty index.
    pub(crate) fn extent_in(&self, crs: &Crs) -> Option<Rect<f64>> {
        if self.tree.size() == 0 {
            return None;
        }
        let env = self.tree.root().envelope();
        let (lo, hi) = (env.lower(), env.upper());
        let t = Transformer::new(&self.crs, crs).ok()?;
        let ring = densified_box([lo[0], lo[1], hi[0], hi[1]], 16);
        let pts: Vec<(f64, f64)> = ring
            .exterior()
            .0
            .iter()
            .filter_map(|c| t.transform_point(c.x, c.y).ok())
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let (x0, y0, x1, y1) =
            pts.iter().fold((f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY), |(a, b, c, d), p| {
                (a.min(p.0), b.min(p.1), c.max(p.0), d.max(p.1))
            });
        (x0 <= x1 && y0 <= y1).then(|| Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 }))
    }

    fn filter_geom(&self, g: &Geometry<f64>, in_tree: impl Fn(Rect<f64>) -> Vec<usize>) -> Vec<usize> {
        let Some(r) = g.bounding_rect() else { return vec![] };
        in_tree(r).into_iter().filter(|&i| g.intersects(&self.geoms[i])).collect()
    }

    /// Run a query.
    pub fn query(&self, q: &Query) -> Result<Page> {
        self.query_with(q, self.scores.as_ref())
    }

    /// `INVALID_INPUT` unless `scores` (when given) has one score per parcel of the index.
    pub(crate) fn check_scores(&self, scores: Option<&ScoreResult>) -> Result<()> {
        match scores {
            Some(s) if s.score.len() != self.len() => {
                Err(Error::InvalidInput(format!("scores of {} parcels for an index of {}", s.score.len(), self.len())))
            }
            _ => Ok(()),
        }
    }

    /// Run a query ranked by `scores` instead of the index's own: scores of another profile
    /// computed with [`score`]`(self.features(), &profile)` — a what-if rescoring for one request,
    /// leaving the index untouched (so readers sharing it are not blocked). `None` = unscored.
    ///
    /// `scores` must come from this index's feature table (same parcels, same order).
    pub fn query_with(&self, q: &Query, scores: Option<&ScoreResult>) -> Result<Page> {
        self.check_scores(scores)?;
        if q.limit == 0 {
            return Err(Error::InvalidInput("limit must be > 0".into()));
        }
        let offset: usize = match &q.cursor {
            Some(c) => c
                .strip_prefix("o")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Error::InvalidInput(format!("invalid cursor {c:?}")))?,
            None => 0,
        };
        let nan_scores;
        let score_col: &[f64] = match scores {
            Some(s) => &s.score,
            None => {
                nan_scores = vec![f64::NAN; self.len()];
                &nan_scores
            }
        };
        let col = |name: &str| -> Result<&[f64]> {
            if name == "score" {
                return Ok(score_col);
            }
            Ok(&self.features.column(name)?.values)
        };
        let mut keep = self.candidates(q)?;
        if let Some(s) = scores {
            if !q.include_excluded {
                keep.retain(|&i| !s.excluded[i]);
            }
        }
        for f in &q.filters {
            if f.column == "score" {
                keep.retain(|&i| {
                    let v = score_col[i];
                    f.min.is_none_or(|m| v >= m) && f.max.is_none_or(|m| v <= m)
                });
                continue;
            }
            let c = self.features.column(&f.column)?;
            if let Some(labels) = &f.any_of {
                keep.retain(|&i| c.label(i).is_some_and(|l| labels.iter().any(|x| x == l)));
            }
            if f.min.is_some() || f.max.is_some() {
                keep.retain(|&i| {
                    let v = c.values[i];
                    !v.is_nan() && f.min.is_none_or(|m| v >= m) && f.max.is_none_or(|m| v <= m)
                });
            }
        }
        let sort = col(q.sort_by.as_deref().unwrap_or("score"))?;
        let ids = self.features.ids();
        let order = |&a: &usize, &b: &usize| {
            let (x, y) = (sort[a], sort[b]);
            let ord = match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ if q.ascending => x.total_cmp(&y),
                _ => y.total_cmp(&x),
            };
            ord.then_with(|| ids[a].cmp(&ids[b]))
        };
        let total = keep.len();
        // only the rows up to the page's end are put in order (ids break ties: one total order,
        // so the page is the one a full sort gives)
        let end = offset.saturating_add(q.limit).min(total);
        if end < total {
            keep.select_nth_unstable_by(end, order);
            keep.truncate(end);
        }
        keep.sort_by(order);
        let page: Vec<usize> = keep.into_iter().skip(offset).take(q.limit).collect();
        let next = (offset + page.len() < total).then(|| format!("o{}", offset + page.len()));
        let hits = page
            .into_iter()
            .map(|i| Hit {
                row: i,
                id: ids[i].clone(),
                score: score_col[i],
                rank: scores.map_or(f64::NAN, |s| s.rank[i]),
                excluded: scores.is_some_and(|s| s.excluded[i]),
                reasons: scores.map(|s| s.reasons(i).iter().map(|c| c.to_string()).collect()).unwrap_or_default(),
                sort_value: sort[i],
                explanation: scores.filter(|_| q.explain).map(|s| s.explanation(i)).unwrap_or_default(),
            })
            .collect();
        Ok(Page { hits, total, next_cursor: next })
    }
}

/// A candidate site: adjacent parcels that pass a filter.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Site {
    /// Parcel ids, best score first.
    pub parcel_ids: Vec<String>,
    /// Σ `area_acres` of the parcels.
    pub acres: f64,
    /// Area-weighted mean score.
    pub score: f64,
}

impl SearchIndex {
    /// Group the parcels matching `q` (its AOI and filters; paging ignored) into sites of
    /// adjacent parcels — sharing a boundary or closer than `tolerance_m` — and keep sites of at
    /// least `min_acres`, largest first.
    pub fn assemble_sites(&self, q: &Query, tolerance_m: f64, min_acres: f64) -> Result<Vec<Site>> {
        self.assemble_sites_with(q, self.scores.as_ref(), tolerance_m, min_acres)
    }

    /// [`SearchIndex::assemble_sites`] under `scores` instead of the index's own (see
    /// [`SearchIndex::query_with`]).
    pub fn assemble_sites_with(
        &self,
        q: &Query,
        scores: Option<&ScoreResult>,
        tolerance_m: f64,
        min_acres: f64,
    ) -> Result<Vec<Site>> {
        if !(tolerance_m.is_finite() && tolerance_m >= 0.0) {
            return Err(Error::InvalidInput(format!("tolerance_m {tolerance_m} must be >= 0")));
        }
        // every match, without explanations (only ids are needed: no per-hit allocations)
        let all = Query { limit: usize::MAX, cursor: None, explain: false, ..q.clone() };
        let page = self.query_with(&all, scores)?;
        // map hits back to row indices (ids may repeat: take rows in query order)
        let mut rows = self.candidates(&all)?;
        let wanted: std::collections::HashSet<&str> = page.hits.iter().map(|h| h.id.as_str()).collect();
        let ids = self.features.ids();
        rows.retain(|&i| wanted.contains(ids[i].as_str()));
        if let Some(s) = scores {
            if !q.include_excluded {
                rows.retain(|&i| !s.excluded[i]);
            }
        }
        let tol = tolerance_m / self.unit_m;
        let pos: std::collections::HashMap<usize, usize> = rows.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        let mut parent: Vec<usize> = (0..rows.len()).collect();
        fn find(p: &mut [usize], mut x: usize) -> usize {
            while p[x] != x {
                p[x] = p[p[x]];
                x = p[x];
            }
            x
        }
        for (k, &i) in rows.iter().enumerate() {
            let Some(r) = self.geoms[i].bounding_rect() else { continue };
            let env = AABB::from_corners([r.min().x - tol, r.min().y - tol], [r.max().x + tol, r.max().y + tol]);
            for e in self.tree.locate_in_envelope_intersecting(&env) {
                let Some(&m) = pos.get(&e.idx) else { continue };
                if m <= k {
                    continue;
                }
                let touching = if tol > 0.0 {
                    Euclidean.distance(&self.geoms[i], &self.geoms[e.idx]) <= tol
                } else {
                    self.geoms[i].intersects(&self.geoms[e.idx])
                };
                if touching {
                    let (a, b) = (find(&mut parent, k), find(&mut parent, m));
                    if a != b {
                        parent[a] = b;
                    }
                }
            }
        }
        let acres = self
            .features
            .column("area_acres")
            .map(|c| c.values.to_vec())
            .unwrap_or_else(|_| vec![f64::NAN; self.len()]);
        let score = |i: usize| scores.map_or(f64::NAN, |s| s.score[i]);
        let mut groups: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
        for (k, &i) in rows.iter().enumerate() {
            let root = find(&mut parent, k);
            groups.entry(root).or_default().push(i);
        }
        let mut sites: Vec<Site> = groups
            .into_values()
            .map(|mut g| {
                g.sort_by(|&a, &b| score(b).total_cmp(&score(a)));
                let a: f64 = g.iter().map(|&i| acres[i]).sum();
                let ws: f64 = g.iter().map(|&i| acres[i] * score(i)).sum();
                Site {
                    parcel_ids: g.iter().map(|&i| ids[i].clone()).collect(),
                    acres: a,
                    score: if a > 0.0 { ws / a } else { f64::NAN },
                }
            })
            .filter(|s| s.acres >= min_acres)
            .collect();
        sites.sort_by(|a, b| b.acres.total_cmp(&a.acres));
        Ok(sites)
    }
}

/// Options of [`SearchIndex::sensitivity`]:
/// `{"perturbation": {"type": "monte_carlo", "runs": 200, "spread": 0.2, "seed": 1}, "top_k": 10}`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensitivityOptions {
    /// How the weights are perturbed.
    pub perturbation: crate::scoring::Perturbation,
    /// How many of the best parcels to follow (default 10).
    #[serde(default = "ten")]
    pub top_k: usize,
}

fn ten() -> usize {
    10
}

impl SearchIndex {
    /// Rank stability of the current scores under weight perturbation.
    pub fn sensitivity(&self, o: &SensitivityOptions) -> Result<crate::scoring::Sensitivity> {
        let (s, p) = match (&self.scores, &self.profile) {
            (Some(s), Some(p)) => (s, p),
            _ => return Err(Error::InvalidInput("sensitivity needs a scoring profile".into())),
        };
        crate::scoring::sensitivity(s, p, o.perturbation, o.top_k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_rectangle_of_a_reprojected_box() {
        let t = Transformer::new(&Crs::wgs84(), &Crs::from_epsg(32633).unwrap()).unwrap();
        let mut g = Geometry::Polygon(densified_box([14.0, 45.0, 15.0, 46.0], 8));
        t.transform_geometry(&mut g).unwrap();
        let Geometry::Polygon(p) = &g else { unreachable!() };
        let r = inner_rect(p, 8).expect("an inner rectangle");
        use rstar::Envelope;
        let bb = p.bounding_rect().unwrap();
        assert!(r.area() > 0.95 * bb.width() * bb.height());
        // a ring that is not a densified box has none
        assert!(inner_rect(&densified_box([0.0, 0.0, 1.0, 1.0], 4), 8).is_none());
    }
}
