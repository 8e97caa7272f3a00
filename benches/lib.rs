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
