use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(rel: &str) -> PathBuf {
    root().join("fixtures").join(rel)
}

pub fn expected(name: &str) -> serde_json::Value {
    let p = fixture(&format!("expected/{name}"));
    serde_json::from_str(&std::fs::read_to_string(&p).expect("expected file")).expect("json")
}

/// `../shared/data`, or `None` (with a visible message) on a fresh clone without it.
/// Under `CI=true` a missing folder is a failure, never a silent pass.
pub fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("LANDOPP_SHARED_DATA").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/data"));
    if p.join("README.md").exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but the shared test data is missing at {}", p.display());
    }
    eprintln!("SKIPPED: shared test data not found at {} (set LANDOPP_SHARED_DATA)", p.display());
    None
}

/// Resolve a key of the expected files: `shared:rel` or a repository-relative path.
pub fn resolve(key: &str) -> Option<PathBuf> {
    match key.strip_prefix("shared:") {
        Some(rel) => shared().map(|s| s.join(rel)),
        None => Some(root().join(key)),
    }
}
