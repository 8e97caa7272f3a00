//! Features of the parcel itself: shape (area, perimeter, compactness, ...) and assessed value.

use super::*;

/// Shape columns: geodesic `area_m2`, `area_acres`, `perimeter_m` (exterior, as pyproj.Geod),
/// `polsby_popper` (4πA/P² with planar area and full perimeter in the working CRS), `mrr_fill`
/// (area / minimum rotated rectangle area), `mrr_elongation` (long / short side), `vertex_count`.
pub fn shape_features(parcels: &Parcels, frame: &WorkFrame) -> Result<FeatureTable> {
    use geo::{CoordsIter, Length, MinimumRotatedRect};
    let ap = parcels.geodesic_area_perimeter()?;
    let mut t = FeatureTable::new(parcels.ids.clone());
    let meta = |unit: &str, method: &str| ColumnMeta {
        source: parcels.name.clone(),
        unit: unit.into(),
        method: method.into(),
    };
    t.add_column("area_m2", ap.iter().map(|v| v.0).collect(), meta("m2", "geodesic area on WGS 84 (Karney)"))?;
    t.add_column(
        "area_acres",
        ap.iter().map(|v| v.0 / crate::geodesic::M2_PER_ACRE).collect(),
        meta("acre", "geodesic area / 4046.8564224"),
    )?;
    t.add_column("perimeter_m", ap.iter().map(|v| v.1).collect(), meta("m", "geodesic perimeter of exterior rings"))?;
    let u = frame.unit_m;
    let mut pp = Vec::new();
    let mut fill = Vec::new();
    let mut elong = Vec::new();
    let mut verts = Vec::new();
    for g in &frame.parcels {
        let a = g.unsigned_area() * u * u;
        let per: f64 = g
            .0
            .iter()
            .map(|p| Euclidean.length(p.exterior()) + p.interiors().iter().map(|r| Euclidean.length(r)).sum::<f64>())
            .sum::<f64>()
            * u;
        pp.push(if per > 0.0 { 4.0 * std::f64::consts::PI * a / (per * per) } else { f64::NAN });
        match g.minimum_rotated_rect() {
            Some(r) => {
                let ra = r.unsigned_area() * u * u;
                fill.push(if ra > 0.0 { a / ra } else { f64::NAN });
                let c = &r.exterior().0;
                let s1 = Euclidean.distance(c[0], c[1]);
                let s2 = Euclidean.distance(c[1], c[2]);
                let (lo, hi) = if s1 < s2 { (s1, s2) } else { (s2, s1) };
                elong.push(if lo > 0.0 { hi / lo } else { f64::NAN });
            }
            None => {
                fill.push(f64::NAN);
                elong.push(f64::NAN);
            }
        }
        verts.push(g.coords_count() as f64);
    }
    let m = format!("planar in {}", frame.crs.to_user_string());
    t.add_column("polsby_popper", pp, meta("1", &format!("4πA/P², {m}")))?;
    t.add_column("mrr_fill", fill, meta("1", &format!("area / minimum rotated rectangle area, {m}")))?;
    t.add_column("mrr_elongation", elong, meta("1", &format!("minimum rotated rectangle long/short side, {m}")))?;
    t.add_column("vertex_count", verts, meta("1", "number of vertices"))?;
    Ok(t)
}

/// Value columns from parcel attributes: `value_per_acre` = total value / geodesic acres and
/// `land_value_ratio` = land value / total value (NaN when a value is missing or total is 0).
pub fn value_features(parcels: &Parcels, total_field: &str, land_field: Option<&str>) -> Result<FeatureTable> {
    let ap = parcels.geodesic_area_perimeter()?;
    let total = parcels.column(total_field)?.data.to_f64();
    let mut t = FeatureTable::new(parcels.ids.clone());
    let per_acre = total
        .iter()
        .zip(&ap)
        .map(|(v, a)| if a.0 > 0.0 { v / (a.0 / crate::geodesic::M2_PER_ACRE) } else { f64::NAN })
        .collect();
    t.add_column(
        "value_per_acre",
        per_acre,
        ColumnMeta {
            source: format!("{}.{total_field}", parcels.name),
            unit: "currency/acre".into(),
            method: "value / geodesic acres".into(),
        },
    )?;
    if let Some(lf) = land_field {
        let land = parcels.column(lf)?.data.to_f64();
        let ratio = land.iter().zip(&total).map(|(l, t)| if *t > 0.0 { l / t } else { f64::NAN }).collect();
        t.add_column(
            "land_value_ratio",
            ratio,
            ColumnMeta {
                source: format!("{}.{lf}/{total_field}", parcels.name),
                unit: "1".into(),
                method: "land / total value".into(),
            },
        )?;
    }
    Ok(t)
}
