//! Shared helpers for landopp's criterion benches: locating the real input data.

use landopp::pipeline::FeatureSpec;
use landopp::scoring::Profile;
use landopp::{FeatureTable, Parcels};
use std::path::PathBuf;

/// `../shared/data` (or `LANDOPP_SHARED_DATA`), if present.
pub fn shared_data() -> Option<PathBuf> {
    let p = std::env::var_os("LANDOPP_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    p.join("README.md").exists().then_some(p)
}

/// The repository's bundled fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// Parcels reprojected to UTM 19N and replicated `k` times on a 10-wide grid 15 km apart, ids
/// `"{copy}:{id}"` — the 1 M-parcel layout of the scoring bench, `rust_side` and the comparison
/// scripts (which rebuild the same layout).
pub fn replicate_parcels(
    path: impl AsRef<std::path::Path>,
    id_field: Option<&str>,
    k: usize,
) -> landopp::Result<landopp::Parcels> {
    use landopp::geo::Translate;
    // Bangor ids repeat (condo units stacked on one footprint): suffixed, as a user would
    let suffix = landopp::vector::DuplicateIds::Suffix;
    let p = landopp::Parcels::read_with(path, None, id_field, suffix)?.to_crs(&landopp::Crs::from_epsg(26919)?)?;
    let mut geometries = Vec::with_capacity(p.len() * k);
    let mut ids = Vec::with_capacity(p.len() * k);
    for r in 0..k {
        let (dx, dy) = ((r % 10) as f64 * 15_000.0, (r / 10) as f64 * 15_000.0);
        for (g, id) in p.geometries.iter().zip(&p.ids) {
            geometries.push(g.translate(dx, dy));
            ids.push(format!("{r}:{id}"));
        }
    }
    Ok(landopp::Parcels {
        ids,
        geometries,
        crs: p.crs.clone(),
        columns: vec![],
        status: vec![],
        name: "replicated".into(),
    })
}

/// The ten feature columns of the 1 M-parcel benches (`compare/city_features.json`).
pub const COLS: [&str; 10] = [
    "slope_mean",
    "area_acres",
    "road_distance_m",
    "stream_distance_m",
    "polsby_popper",
    "mrr_fill",
    "elev_mean",
    "wetland_any_share",
    "sfha_in_share",
    "slope_share_le_15",
];

/// Bangor's real parcels and features (`compare/city_features.json`) replicated 100× (10 × 10
/// copies of the city, 15 km apart): 1,064,300 parcels; `None` without `../shared/data`.
pub fn bangor_x100() -> Option<(Parcels, FeatureTable)> {
    let _ = shared_data()?;
    let spec =
        FeatureSpec::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("compare/city_features.json")).ok()?;
    let base = spec.run(&|_| {}).ok()?;
    let parcels = replicate_parcels(&spec.parcels.path, spec.parcels.id_field.as_deref(), 100).ok()?;
    let ids = parcels.ids.clone();
    let mut t = FeatureTable::new(ids);
    for c in COLS {
        let v = &base.column(c).ok()?.values;
        t.add_column(c, (0..100).flat_map(|_| v.iter().copied()).collect(), Default::default()).ok()?;
    }
    Some((parcels, t))
}

/// A weighted-sum profile over [`COLS`] with these weights and a slope constraint.
pub fn bench_profile(w: [f64; 10]) -> Profile {
    let b = [
        (0.0, 15.0, false),
        (0.0, 50.0, true),
        (0.0, 1000.0, false),
        (0.0, 2000.0, true),
        (0.0, 1.0, true),
        (0.0, 1.0, true),
        (0.0, 100.0, true),
        (0.0, 1.0, false),
        (0.0, 1.0, false),
        (0.0, 1.0, true),
    ];
    let crit: Vec<String> = COLS
        .iter()
        .zip(b)
        .zip(w)
        .map(|((c, (lo, hi, benefit)), w)| {
            format!(
                r#"{{"column": "{c}", "weight": {w}, "transform": {{"type": "{}", "min": {lo}, "max": {hi}}}}}"#,
                if benefit { "linear_benefit" } else { "linear_cost" }
            )
        })
        .collect();
    Profile::parse(&format!(
        r#"{{"version": 1, "criteria": [{}], "constraints": [{{"code": "SLOPE_GT_15", "column": "slope_mean", "op": ">", "value": 15}}], "method": {{"type": "weighted_sum"}}}}"#,
        crit.join(",")
    ))
    .expect("profile")
}
