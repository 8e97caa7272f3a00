//! Files over HTTP(S) read by byte ranges (cargo feature `remote`): what a Cloud-Optimized
//! GeoTIFF is made for. [`crate::raster::GeoTiff::open`] takes an `http://` or `https://` URL
//! wherever it takes a path; it reads the header first, then only the tiles (or strips) a read
//! touches, with adjacent ranges coalesced into one request and requests made in parallel.
//!
//! - Every answer is checked: a range request must come back as `206 Partial Content` with the
//!   `Content-Range` asked for and exactly that many bytes. A server that ignores ranges (`200`)
//!   is read whole when the file is at most [`WHOLE_FILE_MAX`] bytes, else refused.
//! - A file whose `ETag` (or, without one, `Last-Modified`) changes while it is read is refused
//!   (an `IO` error saying so) rather than mixing two versions.
//! - Fetched ranges are kept in memory for the file's lifetime and, when the server gives an
//!   `ETag`, on disk under `LANDOPP_HTTP_CACHE` (default `$XDG_CACHE_HOME/landopp/http`, else
//!   `~/.cache/landopp/http`), keyed by the URL (without its query) and the ETag: a second run
//!   making the same reads fetches only the file's first bytes again. Set
//!   `LANDOPP_HTTP_CACHE=off` to keep nothing on disk.
//! - Transient failures (connection errors, 408, 429, 5xx) are retried three times with backoff
//!   and jitter, waiting what a `Retry-After` header asks for; every request has a 30 s connect
//!   and 120 s overall deadline. At most 8 requests are in flight to one host across the process,
//!   requests to one host start at most `LANDOPP_HTTP_RATE` a second after a burst of 16
//!   (default 50; see [`set_host_rate`]), and a host that fails 5 exchanges in a row is not asked again for 30 s
//!   (circuit breaker).
//! - Errors never quote the server's body; the raster reader names the URL without its query
//!   string (signed URLs carry credentials there).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::HttpFailure;

/// A server that ignores range requests is read whole up to this size (256 MiB).
pub const WHOLE_FILE_MAX: u64 = 256 << 20;
/// The first request's length: a COG's header and tile index sit in its first bytes.
const HEAD_BYTES: u64 = 16 << 10;
/// Ranges closer than this are fetched as one request (the gap is read and kept).
const COALESCE_GAP: u64 = 64 << 10;
/// At most this much in one request.
const MAX_REQUEST: u64 = 16 << 20;
/// Requests in flight at once.
const PARALLEL: usize = 8;

/// True when `path` is an `http://` or `https://` URL.
pub fn is_url(path: &Path) -> bool {
    crate::remote_path(path)
}

/// The URL without its query string or fragment, for messages.
pub fn display_url(url: &str) -> String {
    crate::without_query(Path::new(url)).to_string_lossy().into_owned()
}

fn agent() -> ureq::Agent {
    agent_with(Duration::from_secs(120))
}

/// A client whose requests take at most `deadline` (connection at most 30 s of it).
pub(crate) fn agent_with(deadline: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(deadline.min(Duration::from_secs(30))))
        .timeout_global(Some(deadline))
        .http_status_as_error(false)
        .max_redirects(5)
        .user_agent(concat!("landopp/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// An I/O error carrying an [`HttpFailure`]: [`crate::Error::io`] makes it `REMOTE`.
pub(crate) fn failure(kind: io::ErrorKind, status: Option<u16>, message: impl Into<String>) -> io::Error {
    io::Error::new(kind, HttpFailure { status, message: message.into() })
}

fn invalid(msg: String) -> io::Error {
    failure(io::ErrorKind::InvalidData, None, msg)
}

/// What identifies the file's version on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    ETag(String),
    Modified(String),
    Unknown,
}

/// A remote file read by byte ranges, with the ranges fetched so far.
pub struct HttpFile {
    url: String,
    agent: ureq::Agent,
    len: u64,
    version: Version,
    /// Fetched ranges by start offset (a read takes the one starting nearest before it;
    /// concurrent fetches may overlap, which costs a refetch, never a wrong byte).
    cache: Mutex<BTreeMap<u64, Arc<Vec<u8>>>>,
    /// The on-disk cache directory of this file's version, when there is one.
    disk: Option<PathBuf>,
    /// Requests made and bytes received (for tests and logs).
    stats: Mutex<(usize, u64)>,
}

impl std::fmt::Debug for HttpFile {
    // the URL without its query (credentials), and no cached bytes
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (requests, bytes) = self.stats();
        f.debug_struct("HttpFile")
            .field("url", &display_url(&self.url))
            .field("len", &self.len)
            .field("requests", &requests)
            .field("bytes", &bytes)
            .finish_non_exhaustive()
    }
}

/// One answer: its status, `Content-Range`, version and body.
struct Answer {
    status: u16,
    range: Option<String>,
    version: Version,
    body: Vec<u8>,
}

impl HttpFile {
    /// Open `url` with the disk cache of `LANDOPP_HTTP_CACHE` (see the module's text).
    pub fn open(url: &str) -> io::Result<HttpFile> {
        Self::open_with(url, default_cache())
    }

    /// Open `url`: one request for its first bytes gives the length and version. Fetched ranges
    /// are kept under `cache` (a directory; `None`: in memory only) when the server gives an
    /// ETag.
    pub fn open_with(url: &str, cache: Option<PathBuf>) -> io::Result<HttpFile> {
        let agent = agent();
        let a = Self::get(&agent, url, Some((0, HEAD_BYTES)), WHOLE_FILE_MAX)?;
        let mut f = HttpFile {
            url: url.to_string(),
            agent,
            len: 0,
            version: a.version.clone(),
            cache: Mutex::default(),
            disk: None,
            stats: Mutex::new((1, a.body.len() as u64)),
        };
        match a.status {
            206 => {
                let (start, end, total) = parse_content_range(a.range.as_deref())
                    .ok_or_else(|| invalid("a 206 answer without a usable Content-Range".to_string()))?;
                if start != 0 || end + 1 != a.body.len() as u64 || total == 0 || end >= total {
                    return Err(invalid("the answer is not the range asked for".to_string()));
                }
                f.len = total;
                f.disk = cache.and_then(|root| disk_dir(&root, url, &f.version));
                f.cache.lock().map_err(|_| io::Error::other("cache lock"))?.insert(0, Arc::new(a.body));
            }
            // the server ignores ranges: the body is the whole file (read up to the limit)
            200 => {
                f.len = a.body.len() as u64;
                f.cache.lock().map_err(|_| io::Error::other("cache lock"))?.insert(0, Arc::new(a.body));
            }
            // the file is shorter than the first request: 416 names its length
            416 => return Err(invalid("the server refused the first byte range (an empty file?)".to_string())),
            s => return Err(status_error(s)),
        }
        Ok(f)
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Requests made and bytes received so far.
    pub fn stats(&self) -> (usize, u64) {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// One GET, `range` = `(start, length)`, retried on transient failures; the body is read up
    /// to `limit` bytes (more is an error).
    fn get(agent: &ureq::Agent, url: &str, range: Option<(u64, u64)>, limit: u64) -> io::Result<Answer> {
        retrying(url, || {
            let mut req = agent.get(url);
            if let Some((start, n)) = range {
                req = req.header("Range", &format!("bytes={start}-{}", start + n - 1));
            }
            let resp = match req.call() {
                Ok(r) => r,
                Err(e) => return Attempt::from_client(e, url),
            };
            let status = resp.status().as_u16();
            if transient(status) {
                return Attempt::Retry(status_error(status), retry_after(&resp));
            }
            let h = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
            let version = match (h("etag"), h("last-modified")) {
                (Some(e), _) => Version::ETag(e),
                (None, Some(m)) => Version::Modified(m),
                _ => Version::Unknown,
            };
            let range_header = h("content-range");
            // only the first request may take a whole file: later ones want their range
            if !(status == 200 || status == 206) || (status == 200 && limit < WHOLE_FILE_MAX) {
                return Attempt::Done(Answer { status, range: range_header, version, body: Vec::new() });
            }
            let expect = if status == 206 { range.map(|r| r.1).unwrap_or(limit) } else { limit };
            let mut body = Vec::with_capacity(expect.min(MAX_REQUEST) as usize);
            let read = resp.into_body().into_reader().take(expect.min(limit) + 1).read_to_end(&mut body);
            match read {
                Ok(_) if body.len() as u64 > expect.min(limit) => Attempt::Fail(invalid(match status {
                    200 => format!(
                        "the server does not answer byte ranges and the file is over {} MiB: \
                         download it, or serve it from a server that answers ranges",
                        WHOLE_FILE_MAX >> 20
                    ),
                    _ => "the answer is longer than the range asked for".to_string(),
                })),
                Ok(_) => Attempt::Done(Answer { status, range: range_header, version, body }),
                Err(e) => Attempt::from_body(e, url),
            }
        })
    }

    /// Fetch `[start, start + n)` (one request), check it and keep it.
    fn fetch(&self, start: u64, n: u64) -> io::Result<()> {
        if let Some(d) = &self.disk {
            if let Ok(bytes) = std::fs::read(d.join(format!("{start}-{n}"))) {
                if bytes.len() as u64 == n {
                    self.keep(start, bytes)?;
                    return Ok(());
                }
            }
        }
        let a = Self::get(&self.agent, &self.url, Some((start, n)), n)?;
        match a.status {
            206 => {}
            200 => {
                return Err(invalid(
                    "the server answered a byte range with the whole file (it stopped answering ranges)".to_string(),
                ))
            }
            s => return Err(status_error(s)),
        }
        if self.version != Version::Unknown && a.version != self.version {
            return Err(invalid(
                "the file changed on the server while it was read (its ETag or Last-Modified moved)".to_string(),
            ));
        }
        match parse_content_range(a.range.as_deref()) {
            Some((s, e, t)) if s == start && e + 1 == start + n && t == self.len && a.body.len() as u64 == n => {}
            _ => return Err(invalid("the answer is not the byte range asked for".to_string())),
        }
        if let Ok(mut s) = self.stats.lock() {
            s.0 += 1;
            s.1 += n;
        }
        if let Some(d) = &self.disk {
            // best effort: a cache that cannot be written is only slower
            if std::fs::create_dir_all(d).is_ok() {
                let tmp = d.join(format!(".{start}-{n}.{}", std::process::id()));
                if std::fs::write(&tmp, &a.body).is_ok() {
                    let _ = std::fs::rename(&tmp, d.join(format!("{start}-{n}")));
                }
            }
        }
        self.keep(start, a.body)
    }

    /// Keep a fetched range; kept ranges it contains go (a read takes the range starting
    /// nearest before it, which must then be the one that covers it).
    fn keep(&self, start: u64, bytes: Vec<u8>) -> io::Result<()> {
        let end = start + bytes.len() as u64;
        let mut cache = self.cache.lock().map_err(|_| io::Error::other("cache lock"))?;
        let inside: Vec<u64> =
            cache.range(start..end).filter(|(s, b)| **s + b.len() as u64 <= end).map(|(s, _)| *s).collect();
        for s in inside {
            cache.remove(&s);
        }
        cache.insert(start, Arc::new(bytes));
        Ok(())
    }

    /// The parts of `[start, end)` no kept range covers.
    fn missing(&self, start: u64, end: u64) -> io::Result<Vec<(u64, u64)>> {
        let cache = self.cache.lock().map_err(|_| io::Error::other("cache lock"))?;
        let mut out = Vec::new();
        let mut at = start;
        // the range that starts at or before `start`, then every range up to `end`
        let first = cache.range(..=start).next_back().map(|(k, _)| *k).unwrap_or(start);
        for (&s, b) in cache.range(first..end) {
            let e = s + b.len() as u64;
            if e <= at {
                continue;
            }
            if s > at {
                out.push((at, s.min(end)));
            }
            at = at.max(e);
            if at >= end {
                break;
            }
        }
        if at < end {
            out.push((at, end));
        }
        Ok(out)
    }

    /// Copy `[off, off + buf.len())` from kept ranges; false when some part is not kept.
    fn copy(&self, buf: &mut [u8], off: u64) -> io::Result<bool> {
        let cache = self.cache.lock().map_err(|_| io::Error::other("cache lock"))?;
        let mut at = off;
        let end = off + buf.len() as u64;
        while at < end {
            let Some((&s, b)) = cache.range(..=at).next_back() else { return Ok(false) };
            let e = s + b.len() as u64;
            if e <= at {
                return Ok(false);
            }
            let n = (e.min(end) - at) as usize;
            let from = (at - s) as usize;
            let to = (at - off) as usize;
            buf[to..to + n].copy_from_slice(&b[from..from + n]);
            at += n as u64;
        }
        Ok(true)
    }

    /// Fetch what `ranges` (`(offset, length)`) need and no kept range holds: ranges closer than
    /// 64 KiB are merged into one request (at most 16 MiB each), up to 8 requests run at once.
    pub fn prefetch(&self, ranges: &[(u64, u64)]) -> io::Result<()> {
        let mut need = Vec::new();
        for &(o, n) in ranges {
            let end = o.saturating_add(n).min(self.len);
            if o < end {
                need.extend(self.missing(o, end)?);
            }
        }
        need.sort_unstable();
        // no request over MAX_REQUEST, however long a range
        let need: Vec<(u64, u64)> = need
            .into_iter()
            .flat_map(|(s, e)| (s..e).step_by(MAX_REQUEST as usize).map(move |a| (a, (a + MAX_REQUEST).min(e))))
            .collect();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in need {
            match merged.last_mut() {
                Some(m) if s <= m.1 + COALESCE_GAP && e.max(m.1) - m.0 <= MAX_REQUEST => m.1 = m.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        // a merged request may span kept ranges: they are fetched again and replaced (`keep`)
        if merged.len() == 1 {
            return self.fetch(merged[0].0, merged[0].1 - merged[0].0);
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed: Mutex<Option<io::Error>> = Mutex::new(None);
        std::thread::scope(|sc| {
            for _ in 0..PARALLEL.min(merged.len()) {
                sc.spawn(|| loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(s, e)) = merged.get(i) else { break };
                    if let Err(err) = self.fetch(s, e - s) {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(err);
                        }
                        break;
                    }
                });
            }
        });
        match failed.into_inner().ok().flatten() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Read `buf.len()` bytes at `off` (fetched when not kept; at least 16 KiB a request).
    pub fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let end = off.checked_add(buf.len() as u64).filter(|e| *e <= self.len);
        if end.is_none() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if self.copy(buf, off)? {
            return Ok(());
        }
        let n = (buf.len() as u64).max(HEAD_BYTES).min(self.len - off);
        self.prefetch(&[(off, n)])?;
        if self.copy(buf, off)? {
            Ok(())
        } else {
            Err(io::Error::other("a fetched range is missing from the cache"))
        }
    }
}

/// Bodies of service answers (JSON) are read up to this size (64 MiB).
pub(crate) const JSON_MAX: u64 = 64 << 20;

/// One JSON request to a service: GET `url`, or POST `body` to it, retried like range reads
/// (honouring `Retry-After`). The answer must be `200` with a JSON body of at most
/// [`JSON_MAX`] bytes; anything else is a `REMOTE` error naming the URL (without its query) and
/// the status, never quoting the body.
pub(crate) fn json_request(
    agent: &ureq::Agent,
    url: &str,
    body: Option<&serde_json::Value>,
) -> crate::Result<serde_json::Value> {
    json_request_final(agent, url, body, &[])
}

/// [`json_request`], with the statuses in `final_statuses` answered at once as errors: not
/// retried, and not held against the host by the circuit breaker (a service's "too large" that
/// the caller handles, such as Soil Data Access refusing a query with 500).
pub(crate) fn json_request_final(
    agent: &ureq::Agent,
    url: &str,
    body: Option<&serde_json::Value>,
    final_statuses: &[u16],
) -> crate::Result<serde_json::Value> {
    let shown = display_url(url);
    let remote = |status: Option<u16>, message: String| crate::Error::Remote { url: shown.clone(), status, message };
    let payload = body.map(|b| b.to_string());
    let got = retrying(url, || {
        let call = match &payload {
            Some(p) => agent
                .post(url)
                .header("Content-Type", "application/json")
                .header("Accept", "application/geo+json, application/json")
                .send(p.as_bytes()),
            None => agent.get(url).header("Accept", "application/geo+json, application/json").call(),
        };
        let resp = match call {
            Ok(r) => r,
            Err(e) => return Attempt::from_client(e, url),
        };
        let status = resp.status().as_u16();
        if transient(status) && !final_statuses.contains(&status) {
            return Attempt::Retry(status_error(status), retry_after(&resp));
        }
        if status != 200 {
            return Attempt::Fail(status_error(status));
        }
        let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if !ctype.is_empty() && !ctype.contains("json") {
            let t = ctype.split(';').next().unwrap_or("").trim().to_string();
            return Attempt::Fail(failure(io::ErrorKind::InvalidData, Some(status), format!("answered {t}, not JSON")));
        }
        let mut bytes = Vec::new();
        match resp.into_body().into_reader().take(JSON_MAX + 1).read_to_end(&mut bytes) {
            Ok(_) if bytes.len() as u64 > JSON_MAX => Attempt::Fail(failure(
                io::ErrorKind::InvalidData,
                Some(status),
                format!("the answer is over {} MiB", JSON_MAX >> 20),
            )),
            Ok(_) => Attempt::Done(bytes),
            Err(e) => Attempt::from_body(e, url),
        }
    })
    .map_err(|e| match e.get_ref().and_then(|i| i.downcast_ref::<HttpFailure>()) {
        Some(f) => remote(f.status, f.message.clone()),
        None => remote(None, quiet(&e.to_string(), url)),
    })?;
    serde_json::from_slice(&got).map_err(|e| {
        // the position, never the content
        remote(
            Some(200),
            format!("the answer is not valid JSON (cut short?) at line {}, column {}", e.line(), e.column()),
        )
    })
}

/// A client message with the URL (or any part of it past the host) replaced by its shown form.
fn quiet(msg: &str, url: &str) -> String {
    let shown = display_url(url);
    let mut m = msg.replace(url, &shown);
    if let Some(q) = url.find(['?', '#']) {
        m = m.replace(&url[q..], "");
    }
    m
}

fn status_error(status: u16) -> io::Error {
    let (kind, what) = match status {
        404 | 410 => (io::ErrorKind::NotFound, "not found"),
        401 | 403 => (io::ErrorKind::PermissionDenied, "access refused (credentials or a signed URL needed?)"),
        429 => (io::ErrorKind::Other, "too many requests, still after retries"),
        500..=599 => (io::ErrorKind::Other, "server error, still after retries"),
        _ => (io::ErrorKind::Other, "unexpected answer"),
    };
    failure(kind, Some(status), what)
}

/// Statuses worth asking again: request timeout, too many requests, server errors.
fn transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The wait a `Retry-After` header asks for (seconds; an HTTP date counts as 1 s), at most 60 s.
fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?.trim();
    let secs = v.parse::<u64>().unwrap_or(1);
    Some(Duration::from_secs(secs.min(60)))
}

/// One try of a request.
pub(crate) enum Attempt<T> {
    /// The answer.
    Done(T),
    /// A transient failure, with the wait the server asked for.
    Retry(io::Error, Option<Duration>),
    /// A failure asking again would not mend.
    Fail(io::Error),
}

impl<T> Attempt<T> {
    /// A client error: a timeout is final (a server that does not answer in time is not asked
    /// again: 4 × the deadline is no wait), a connection failure is retried.
    pub(crate) fn from_client(e: ureq::Error, url: &str) -> Self {
        match e {
            ureq::Error::Timeout(_) => {
                Attempt::Fail(failure(io::ErrorKind::TimedOut, None, quiet(&e.to_string(), url)))
            }
            e => Attempt::Retry(failure(io::ErrorKind::Other, None, quiet(&e.to_string(), url)), None),
        }
    }

    /// A failed body read: a timeout is final, a cut connection is retried.
    pub(crate) fn from_body(e: io::Error, url: &str) -> Self {
        let f = failure(e.kind(), None, quiet(&e.to_string(), url));
        if e.kind() == io::ErrorKind::TimedOut {
            Attempt::Fail(f)
        } else {
            Attempt::Retry(f, None)
        }
    }
}

/// Requests in flight to one host at most, across the process (politeness).
const PER_HOST: usize = 8;
/// Consecutive failed exchanges with a host that open its circuit.
const BREAKER_FAILURES: u32 = 5;
/// How long an open circuit refuses requests before one is tried again.
const BREAKER_OPEN: Duration = Duration::from_secs(30);

/// Requests a second to one host by default (`LANDOPP_HTTP_RATE` overrides it).
const DEFAULT_RATE: f64 = 50.0;
/// Requests that may start at once before the rate spaces them.
const RATE_BURST: u32 = 16;
/// Rates a host may be given, requests a second.
const RATES: std::ops::RangeInclusive<f64> = 0.001..=1e6;

/// What the process knows of one host.
#[derive(Default)]
struct Host {
    in_flight: usize,
    failures: u32,
    open_until: Option<std::time::Instant>,
    /// When the next request may start (rate politeness).
    next_start: Option<std::time::Instant>,
    /// Requests a second allowed to this host (`None`: the process default).
    rate: Option<f64>,
}

/// The process default of requests a second to one host: `LANDOPP_HTTP_RATE` (0.001 to 10⁶,
/// `0` or `off` for no limit), else 50.
fn default_rate() -> Option<f64> {
    static RATE: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *RATE.get_or_init(|| match std::env::var("LANDOPP_HTTP_RATE") {
        Ok(v) if v.trim() == "off" || v.trim() == "0" => None,
        Ok(v) => v.trim().parse::<f64>().ok().filter(|r| RATES.contains(r)).or(Some(DEFAULT_RATE)),
        Err(_) => Some(DEFAULT_RATE),
    })
}

/// Allow at most `per_second` requests a second to `host` (`scheme://host:port`, as in a URL)
/// from this process, whatever the default; `None` goes back to the default
/// (`LANDOPP_HTTP_RATE`, else 50 a second). A service that publishes a rate limit gets it here.
pub fn set_host_rate(host: &str, per_second: Option<f64>) -> crate::Result<()> {
    if per_second.is_some_and(|r| !RATES.contains(&r)) {
        return Err(crate::Error::InvalidInput(format!(
            "host rate {per_second:?}: must be {} to {} requests a second",
            RATES.start(),
            RATES.end()
        )));
    }
    let (lock, _) = hosts();
    let mut map = lock.lock().map_err(|_| crate::Error::InvalidInput("host table lock".into()))?;
    map.entry(host_of(host)).or_default().rate = per_second;
    Ok(())
}

/// Every host's state, and a signal for requests waiting for a free slot.
fn hosts() -> &'static (Mutex<std::collections::HashMap<String, Host>>, std::sync::Condvar) {
    static HOSTS: std::sync::OnceLock<(Mutex<std::collections::HashMap<String, Host>>, std::sync::Condvar)> =
        std::sync::OnceLock::new();
    HOSTS.get_or_init(Default::default)
}

/// `scheme://host:port` of a URL (without user info).
fn host_of(url: &str) -> String {
    let shown = display_url(url);
    let start = shown.find("://").map_or(0, |k| k + 3);
    let end = shown[start..].find('/').map_or(shown.len(), |k| start + k);
    shown[..end].to_ascii_lowercase()
}

/// A slot for one request to `host`: waits while `PER_HOST` are in flight; refused while the
/// host's circuit is open.
struct Slot(String);

impl Slot {
    fn take(host: &str) -> io::Result<Slot> {
        let (lock, cv) = hosts();
        let mut map = lock.lock().map_err(|_| io::Error::other("host table lock"))?;
        loop {
            let h = map.entry(host.to_string()).or_default();
            if let Some(t) = h.open_until {
                if std::time::Instant::now() < t {
                    return Err(failure(
                        io::ErrorKind::Other,
                        None,
                        format!(
                            "{host} failed {BREAKER_FAILURES} times in a row: not asked again for {} s (circuit breaker)",
                            BREAKER_OPEN.as_secs()
                        ),
                    ));
                }
            }
            if h.in_flight < PER_HOST {
                h.in_flight += 1;
                // a burst of RATE_BURST at once, then starts spaced by 1 / rate (the generic
                // cell rate algorithm: `next_start` is the theoretical arrival time)
                let now = std::time::Instant::now();
                let mut start = now;
                if let Some(rate) = h.rate.or_else(default_rate) {
                    let step = Duration::from_secs_f64(1.0 / rate);
                    let tat = h.next_start.map_or(now, |t| t.max(now));
                    let tau = step * (RATE_BURST - 1);
                    if tat > now + tau {
                        start = tat - tau;
                    }
                    h.next_start = Some(tat + step);
                }
                drop(map);
                if start > now {
                    std::thread::sleep(start - now);
                }
                return Ok(Slot(host.to_string()));
            }
            map = cv.wait(map).map_err(|_| io::Error::other("host table lock"))?;
        }
    }

    /// Release the slot, noting whether the exchange worked (`Some(true)`), failed the host's
    /// way (`Some(false)`: connection, timeout, 5xx / 429 after retries) or neither (`None`).
    fn done(mut self, worked: Option<bool>) {
        let host = std::mem::take(&mut self.0);
        // released here, not again by Drop (the moved-out name holds no memory)
        std::mem::forget(self);
        let (lock, cv) = hosts();
        if let Ok(mut map) = lock.lock() {
            let h = map.entry(host).or_default();
            h.in_flight = h.in_flight.saturating_sub(1);
            match worked {
                Some(true) => {
                    h.failures = 0;
                    h.open_until = None;
                }
                Some(false) => {
                    h.failures += 1;
                    if h.failures >= BREAKER_FAILURES {
                        h.open_until = Some(std::time::Instant::now() + BREAKER_OPEN);
                    }
                }
                None => {}
            }
        }
        cv.notify_all();
    }
}

impl Drop for Slot {
    // a panic inside an attempt still frees the slot
    fn drop(&mut self) {
        let (lock, cv) = hosts();
        if let Ok(mut map) = lock.lock() {
            if let Some(h) = map.get_mut(&self.0) {
                h.in_flight = h.in_flight.saturating_sub(1);
            }
        }
        cv.notify_all();
    }
}

/// Run `attempt` up to 4 times: waits of 0.2, 0.6 and 1.8 s (± 25 % jitter, so clients that
/// failed together do not come back together), or what the server's `Retry-After` asks for.
/// At most 8 requests are in flight to one host at once; a host whose exchanges fail 5 times in
/// a row (connection failures, timeouts, server errors after retries) is not asked again for
/// 30 s (a circuit breaker: the error says so at once instead of waiting out every retry).
pub(crate) fn retrying<T>(url: &str, mut attempt: impl FnMut() -> Attempt<T>) -> io::Result<T> {
    let host = host_of(url);
    let mut wait = Duration::from_millis(200);
    let mut last = None;
    for n in 0..4 {
        if n > 0 {
            std::thread::sleep(
                last.as_ref().and_then(|(_, w): &(io::Error, Option<Duration>)| *w).unwrap_or_else(|| jitter(wait)),
            );
            wait *= 3;
        }
        let slot = Slot::take(&host)?;
        match attempt() {
            Attempt::Done(t) => {
                slot.done(Some(true));
                return Ok(t);
            }
            Attempt::Fail(e) => {
                slot.done((e.kind() == io::ErrorKind::TimedOut).then_some(false));
                return Err(e);
            }
            Attempt::Retry(e, w) => {
                slot.done(if n == 3 { Some(false) } else { None });
                last = Some((e, w));
            }
        }
    }
    Err(last
        .map(|l| l.0)
        .unwrap_or_else(|| failure(io::ErrorKind::Other, None, format!("no answer from {}", display_url(url)))))
}

/// `d` ± 25 %, from the clock's nanoseconds (no random generator needed for this).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.subsec_nanos());
    let f = 0.75 + f64::from(nanos % 1000) / 2000.0;
    d.mul_f64(f)
}

/// `bytes START-END/TOTAL` → `(START, END, TOTAL)`.
fn parse_content_range(h: Option<&str>) -> Option<(u64, u64, u64)> {
    let rest = h?.trim().strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (s, e) = span.split_once('-')?;
    let (s, e, t) = (s.trim().parse().ok()?, e.trim().parse().ok()?, total.trim().parse().ok()?);
    (s <= e).then_some((s, e, t))
}

/// FNV-1a, 64 bits: a stable name for cache directories.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `LANDOPP_HTTP_CACHE`, else `$XDG_CACHE_HOME/landopp/http`, else `~/.cache/landopp/http`;
/// `None` for `off`.
fn default_cache() -> Option<PathBuf> {
    match std::env::var_os("LANDOPP_HTTP_CACHE") {
        Some(v) if v == "off" || v.is_empty() => None,
        Some(v) => Some(PathBuf::from(v)),
        None => match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
            (Some(x), _) if !x.is_empty() => Some(PathBuf::from(x).join("landopp/http")),
            (_, Some(h)) if !h.is_empty() => Some(PathBuf::from(h).join(".cache/landopp/http")),
            _ => None,
        },
    }
}

/// The cache directory of `url` at `version` under `root` (only with an ETag: without one a
/// changed file could not be told apart).
fn disk_dir(root: &Path, url: &str, version: &Version) -> Option<PathBuf> {
    let Version::ETag(tag) = version else { return None };
    // without the query: signed URLs of one object differ only there, and the ETag names the content
    Some(root.join(format!("{:016x}-{:016x}", fnv(&display_url(url)), fnv(tag))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_ranges() {
        assert!(is_url(Path::new("https://example.com/a.tif")));
        assert!(is_url(Path::new("HTTP://example.com/a.tif")));
        assert!(!is_url(Path::new("/data/http://a.tif")));
        assert!(!is_url(Path::new("a.tif")));
        assert_eq!(display_url("https://h/a.tif?X-Amz-Signature=secret#f"), "https://h/a.tif");
        assert_eq!(display_url("https://user:pw@h:8/a@b.tif?q"), "https://h:8/a@b.tif");
        assert_eq!(
            quiet("GET https://h/a.tif?s=1 failed: s=1", "https://h/a.tif?s=1"),
            "GET https://h/a.tif failed: s=1"
        );
        assert_eq!(parse_content_range(Some("bytes 0-99/1000")), Some((0, 99, 1000)));
        assert_eq!(parse_content_range(Some("bytes 5-4/10")), None);
        assert_eq!(parse_content_range(Some("bytes */1000")), None);
        assert_eq!(parse_content_range(None), None);
        assert_ne!(fnv("a"), fnv("b"));
    }
}
