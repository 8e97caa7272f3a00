//! Live data sources (cargo feature `remote`): clients of the public services parcels and
//! imagery come from, feeding the feature steps.
//!
//! - [`stac`]: item search against any STAC API (Landsat Collection 2 Level-2, Sentinel-2 L2A,
//!   ...), items as imagery records, and the best scene per parcel judged by the clouds over the
//!   parcel itself.
//! - [`features`]: county parcel services — ArcGIS REST feature layers and OGC API – Features
//!   collections — paged into one layer with typed attributes.
//! - [`sda`]: USDA Soil Data Access — SSURGO map units selected by the parcels' shapes, their
//!   components and map-unit aggregates, for the soils step.
//!
//! Every request has connect and overall deadlines and is retried on connection failures, 408,
//! 429 and 5xx, with exponential backoff and jitter, waiting what a `Retry-After` header asks
//! for (at most 60 s); at most 8 requests are in flight to one host, and a host failing 5
//! exchanges in a row is left alone for 30 s (circuit breaker). A failure is an error with the
//! code `REMOTE` naming the URL (without its query string) and the HTTP status; a server's body
//! is never quoted.

pub mod features;
pub mod sda;
pub mod stac;

/// `[west, south, east, north]` in degrees: finite, longitudes within ±180, latitudes within ±90,
/// south ≤ north (west > east crosses the antimeridian).
fn is_wgs84_bbox(b: [f64; 4]) -> bool {
    b.iter().all(|v| v.is_finite())
        && (-180.0..=180.0).contains(&b[0])
        && (-180.0..=180.0).contains(&b[2])
        && (-90.0..=90.0).contains(&b[1])
        && (-90.0..=90.0).contains(&b[3])
        && b[1] <= b[3]
}

/// A query's identity in a resume file: its JSON (the callers leave out the resume file and the
/// timeout).
fn fingerprint<T: serde::Serialize>(q: T) -> crate::Result<serde_json::Value> {
    serde_json::to_value(q).map_err(|e| crate::Error::InvalidInput(e.to_string()))
}

/// How far a paged fetch has come: told after every page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageProgress {
    /// Pages read (resumed ones included).
    pub pages: usize,
    /// Features or items kept so far.
    pub features: usize,
    /// What the server says matches, when it says.
    pub matched: Option<u64>,
}

/// A paged fetch's resume file: JSON lines, the query's fingerprint first, then one line per page
/// read (`{"next": cursor, "features": [...]}`), appended and flushed as each page arrives. A
/// fetch that fails leaves it; the same query run again with it reads the pages back and goes on
/// after the last one (a last line cut short is dropped); a fetch that completes removes it. A
/// file of another query is refused, never mixed in.
pub(crate) struct Journal {
    file: Option<(std::path::PathBuf, std::fs::File)>,
}

/// Pages a resume file gave back, in order: each `{"next", "features", ...}` as kept.
pub(crate) type Resumed = Vec<serde_json::Value>;

impl Journal {
    /// Open (or create) the resume file at `path` for the query `fingerprint`; no path: no file.
    pub(crate) fn open(
        path: Option<&std::path::Path>,
        fingerprint: &serde_json::Value,
    ) -> crate::Result<(Journal, Resumed)> {
        use std::io::{Seek, Write};
        let Some(path) = path else { return Ok((Journal { file: None }, Vec::new())) };
        let head = serde_json::json!({ "landopp_resume": 1, "query": fingerprint }).to_string();
        let mut pages = Vec::new();
        // bytes of the file kept: whole lines (ending in a newline) that read back
        let mut good = 0usize;
        if path.exists() {
            let text = std::fs::read(path).map_err(|e| crate::Error::io(path, e))?;
            let mut lines = text.split_inclusive(|&b| b == b'\n').filter(|l| l.ends_with(b"\n"));
            match lines.next() {
                Some(first) if first.strip_suffix(b"\n") == Some(head.as_bytes()) => {
                    good = first.len();
                    for line in lines {
                        // a page cut short by the failure that stopped the last run: dropped
                        let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else { break };
                        if !v["features"].is_array() || v.get("next").is_none() {
                            break;
                        }
                        pages.push(v);
                        good += line.len();
                    }
                }
                // an empty file, or a header cut short: a new journal
                None if head.as_bytes().starts_with(&text) => {}
                _ => {
                    return Err(crate::Error::InvalidInput(format!(
                        "{} is the resume file of another query (or not one): remove it, or give another path",
                        path.display()
                    )))
                }
            }
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(path)
            .map_err(|e| crate::Error::io(path, e))?;
        file.set_len(good as u64).map_err(|e| crate::Error::io(path, e))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(|e| crate::Error::io(path, e))?;
        if good == 0 {
            file.write_all(format!("{head}\n").as_bytes()).map_err(|e| crate::Error::io(path, e))?;
        }
        Ok((Journal { file: Some((path.to_path_buf(), file)) }, pages))
    }

    /// Keep a page: the cursor of the page after it (null: the last), its features and what else
    /// the fetch needs back (`extra`'s members).
    pub(crate) fn page(
        &mut self,
        next: &serde_json::Value,
        features: &[serde_json::Value],
        extra: serde_json::Value,
    ) -> crate::Result<()> {
        use std::io::Write;
        if let Some((path, f)) = &mut self.file {
            let mut v = serde_json::json!({ "next": next, "features": features });
            if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            // the line and its newline in one write: a cut is a line without its newline
            let line = format!("{v}\n");
            f.write_all(line.as_bytes()).and_then(|_| f.flush()).map_err(|e| crate::Error::io(&*path, e))?;
        }
        Ok(())
    }

    /// The fetch completed: the file goes.
    pub(crate) fn done(self) {
        if let Some((path, f)) = self.file {
            drop(f);
            let _ = std::fs::remove_file(path);
        }
    }
}
