//! The working frame (a projected CRS in metres every vector measurement is made in), reprojection into it, and the R-tree index of a layer.

use super::*;

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

pub(super) fn bounds(gs: &[MultiPolygon<f64>]) -> Option<Rect<f64>> {
    gs.iter().filter_map(|g| g.bounding_rect()).reduce(|a, b| {
        Rect::new(
            Coord { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
            Coord { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
        )
    })
}

pub(super) struct Indexed {
    pub(super) idx: usize,
    pub(super) env: AABB<[f64; 2]>,
}

impl RTreeObject for Indexed {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

pub(super) fn aabb(r: Rect<f64>) -> AABB<[f64; 2]> {
    AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

pub(super) fn build_index(geoms: &[(usize, Geometry<f64>)]) -> RTree<Indexed> {
    RTree::bulk_load(
        geoms
            .iter()
            .enumerate()
            .filter_map(|(k, (_, g))| g.bounding_rect().map(|r| Indexed { idx: k, env: aabb(r) }))
            .collect(),
    )
}
