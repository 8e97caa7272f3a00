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

/// One HTTP/1.1 request read off a test server's connection: `(method, target, body)`.
#[allow(dead_code)] // used by the tests built with the `remote` feature
pub fn read_request(r: &mut impl std::io::BufRead) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("/").to_string());
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        if h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    Ok((method, target, body))
}
