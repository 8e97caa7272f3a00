//! The web dashboard's files (`examples/server/web`, built by esbuild into `web/dist`): read
//! into memory at start and served at `/` and `/assets/{file}` — a fixed set of names, so no
//! request reaches the file system.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The policy of the dashboard's page: its own scripts, styles and tiles only (MapLibre draws
/// with WebGL from a blob worker; its styles are set through the CSSOM).
const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                        worker-src 'self' blob:; child-src blob:; connect-src 'self'; font-src 'self'; \
                        frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The built files by name.
#[derive(Debug, Default)]
pub struct Web {
    files: HashMap<String, (&'static str, axum::body::Bytes)>,
}

/// `dist` of the web app beside this crate.
pub fn default_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web/dist")
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

impl Web {
    /// Read the files of `root` (one level; at most 64 files of 16 MiB). `Ok(None)` when `root`
    /// holds no `index.html` (the app is not built).
    pub fn load(root: &Path) -> Result<Option<Web>, String> {
        if !root.join("index.html").is_file() {
            return Ok(None);
        }
        let mut files = HashMap::new();
        let dir = std::fs::read_dir(root).map_err(|e| format!("web_root {}: {e}", root.display()))?;
        for entry in dir {
            let entry = entry.map_err(|e| format!("web_root: {e}"))?;
            let meta = entry.metadata().map_err(|e| format!("web_root: {e}"))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
            if !meta.is_file() || name.starts_with('.') {
                continue;
            }
            if files.len() >= 64 || meta.len() > 16 << 20 {
                return Err(format!("web_root {}: more than 64 files or a file over 16 MiB", root.display()));
            }
            let bytes = std::fs::read(entry.path()).map_err(|e| format!("web_root {name}: {e}"))?;
            files.insert(name.clone(), (content_type(&name), bytes.into()));
        }
        Ok(Some(Web { files }))
    }

    /// The response for a file name (`index.html` for `/`).
    pub fn serve(&self, name: &str) -> Option<Response> {
        let (ct, bytes) = self.files.get(name)?;
        let mut r = (StatusCode::OK, bytes.clone()).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        if name == "index.html" {
            h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
        } else {
            // the built files change with a new build, under the same names: revalidated
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        Some(r)
    }
}
