//! Shared helpers for landopp's criterion benches: locating the real input data.

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
