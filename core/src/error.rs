//! The one error type of landopp, with stable machine-readable codes.
//!
//! Every fallible function returns [`Result<T>`]. Each [`Error`] has an [`ErrorKind`] whose
//! [`code`](ErrorKind::code) string is part of the public contract: the Python exceptions, the Node
//! `err.code` and the CLI exit messages all carry it unchanged. Codes are never renamed; new ones may
//! be added.

use std::path::{Path, PathBuf};

/// `Result` with landopp's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The category of an [`Error`], stable across releases and languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file, layer, band or column that was asked for does not exist.
    NotFound,
    /// The operating system refused a read or write.
    Io,
    /// The bytes are not a valid file of the expected format (truncated, corrupt).
    Format,
    /// A valid file or request uses something landopp does not implement (e.g. JPEG-compressed TIFF).
    Unsupported,
    /// An argument or option is out of its documented domain.
    InvalidInput,
    /// A geometry cannot be used (NaN/infinite coordinates, wrong type).
    InvalidGeometry,
    /// A coordinate reference system is unknown, unparsable, or a transformation failed.
    Crs,
    /// A layer, raster or selection holds nothing to work on.
    Empty,
    /// The caller asked long work to stop ([`crate::interrupt::request`], e.g. Ctrl-C in Python).
    Interrupted,
    /// Stored data failed an integrity check: checksum or signature mismatch, wrong decryption key.
    Integrity,
    /// A bug in landopp caught at a language boundary (a panic turned into an error so that the
    /// host process survives it); please report it with the input that caused it.
    Internal,
    /// A remote service or file server failed or answered something unusable (HTTP error status
    /// after retries, connection failure, timeout, a body that is not what the protocol says).
    /// The message names the URL without its query string, and the HTTP status when there was one.
    Remote,
}

impl ErrorKind {
    /// The stable code string, e.g. `"NOT_FOUND"`.
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Io => "IO",
            ErrorKind::Format => "FORMAT",
            ErrorKind::Unsupported => "UNSUPPORTED",
            ErrorKind::InvalidInput => "INVALID_INPUT",
            ErrorKind::InvalidGeometry => "INVALID_GEOMETRY",
            ErrorKind::Crs => "CRS",
            ErrorKind::Empty => "EMPTY",
            ErrorKind::Interrupted => "INTERRUPTED",
            ErrorKind::Integrity => "INTEGRITY",
            ErrorKind::Internal => "INTERNAL",
            ErrorKind::Remote => "REMOTE",
        }
    }

    /// Every kind, in code order (used by the bindings to build their exception tables). A slice,
    /// so that a kind added later does not change its type.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::NotFound,
        ErrorKind::Io,
        ErrorKind::Format,
        ErrorKind::Unsupported,
        ErrorKind::InvalidInput,
        ErrorKind::InvalidGeometry,
        ErrorKind::Crs,
        ErrorKind::Empty,
        ErrorKind::Interrupted,
        ErrorKind::Integrity,
        ErrorKind::Internal,
        ErrorKind::Remote,
    ];
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A landopp error: a [`ErrorKind`] plus a message that names the offending file, layer or value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path does not exist.
    #[error("file not found: {}", .path.display())]
    FileNotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// A named item (layer, band, column, field) does not exist.
    #[error("{what} {name:?} not found{}", fmt_available(.available))]
    NotFound {
        /// What was looked for ("layer", "column", ...).
        what: &'static str,
        /// The requested name.
        name: String,
        /// What exists instead (may be empty).
        available: Vec<String>,
    },
    /// An OS-level I/O failure.
    #[error("I/O error on {}: {source}", .path.display())]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The content is not valid for its format.
    #[error("invalid {format} file {}: {message}", .path.display())]
    Format {
        /// Format name ("GeoTIFF", "GeoPackage", ...).
        format: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Not implemented by landopp.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A bad argument.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// An unusable geometry.
    #[error("invalid geometry: {0}")]
    InvalidGeometry(String),
    /// CRS lookup, parsing or transformation failure.
    #[error("CRS error: {0}")]
    Crs(String),
    /// Nothing to work on.
    #[error("empty input: {0}")]
    Empty(String),
    /// Stopped on request.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// Failed integrity check (tampered file, wrong key).
    #[error("integrity check failed: {0}")]
    Integrity(String),
    /// A remote service or file server failed (HTTP status, connection, timeout, protocol).
    #[error("remote source {url}: {message}{}", .status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Remote {
        /// The URL without its query string, fragment or user info.
        url: String,
        /// The last HTTP status, when the server answered.
        status: Option<u16>,
        /// What went wrong (never the server's body).
        message: String,
    },
    /// A panic caught by [`catch_panic`] (a bug in landopp).
    #[error("internal error (a bug in landopp; please report it with the input): {0}")]
    Internal(String),
}

/// An HTTP exchange that failed, carried inside an `std::io::Error` by the remote reader so that
/// [`Error::io`] can report it as [`ErrorKind::Remote`] with its status.
#[derive(Debug)]
pub(crate) struct HttpFailure {
    /// The last HTTP status, when the server answered.
    pub(crate) status: Option<u16>,
    /// What went wrong.
    pub(crate) message: String,
}

impl std::fmt::Display for HttpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(s) => write!(f, "{} (HTTP {s})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for HttpFailure {}

fn fmt_available(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!("; available: {}", v.join(", "))
    }
}

impl Error {
    /// The same error, its message prefixed with where it happened (`features[2]`); the kind, and
    /// so the code, is kept. Errors about a file already name it and are returned as they are.
    pub(crate) fn at(self, at: &str) -> Error {
        match self {
            Error::Unsupported(m) => Error::Unsupported(format!("{at}: {m}")),
            Error::InvalidInput(m) => Error::InvalidInput(format!("{at}: {m}")),
            Error::InvalidGeometry(m) => Error::InvalidGeometry(format!("{at}: {m}")),
            Error::Crs(m) => Error::Crs(format!("{at}: {m}")),
            Error::Empty(m) => Error::Empty(format!("{at}: {m}")),
            other => other,
        }
    }

    /// The stable category of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::FileNotFound { .. } | Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Io { .. } => ErrorKind::Io,
            Error::Format { .. } => ErrorKind::Format,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::InvalidGeometry(_) => ErrorKind::InvalidGeometry,
            Error::Crs(_) => ErrorKind::Crs,
            Error::Empty(_) => ErrorKind::Empty,
            Error::Interrupted(_) => ErrorKind::Interrupted,
            Error::Integrity(_) => ErrorKind::Integrity,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Remote { .. } => ErrorKind::Remote,
        }
    }

    /// Shorthand for `self.kind().code()`.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// Map an `std::io::Error` on `path`, turning "not found" into [`ErrorKind::NotFound`].
    /// An HTTP failure carried by the I/O error (a remote file read) becomes [`ErrorKind::Remote`].
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
        if source.kind() != std::io::ErrorKind::NotFound {
            if let Some(f) = source.get_ref().and_then(|e| e.downcast_ref::<HttpFailure>()) {
                return Error::Remote {
                    url: path.to_string_lossy().into_owned(),
                    status: f.status,
                    message: f.message.clone(),
                };
            }
        }
        if source.kind() == std::io::ErrorKind::NotFound {
            Error::FileNotFound { path }
        } else {
            Error::Io { path, source }
        }
    }

    /// A format error on `path`.
    pub fn format(format: &'static str, path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Format { format, path: path.as_ref().to_path_buf(), message: message.into() }
    }

    /// A "not found" for a named item.
    pub fn not_found(what: &'static str, name: impl Into<String>, available: Vec<String>) -> Self {
        Error::NotFound { what, name: name.into(), available }
    }
}

/// Run `f`, turning a panic into [`Error::Internal`] instead of unwinding further: the bindings
/// call the core through this, so a bug hit by one input becomes an error with the code
/// `INTERNAL` rather than a Python `PanicException` (which `except Exception` misses) or a Node
/// process abort.
///
/// ```
/// let r: landopp::Result<()> = landopp::error::catch_panic(|| panic!("boom"));
/// assert_eq!(r.unwrap_err().code(), "INTERNAL");
/// ```
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic without a message".into());
        Err(Error::Internal(msg))
    })
}

/// Parse a configuration document (feature spec, scoring profile) given as JSON (starts with
/// `{`) or TOML; errors are `INVALID_INPUT` prefixed with `what`, giving the position and the
/// expected form but never the document's content (a path pointing at a secret file, such as
/// `/proc/self/environ`, must not print it): no source line, no offending value.
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    // a byte-order mark (Windows editors write one) is not part of the document
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if is_json(text) {
        serde_json::from_str(text).map_err(|e| {
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or_default();
            Error::InvalidInput(format!("{what}: {} at line {}, column {}", redact(msg), e.line(), e.column()))
        })
    } else {
        parse_toml(text, what)
    }
}

#[cfg(not(feature = "toml"))]
fn parse_toml<T: serde::de::DeserializeOwned>(_text: &str, what: &str) -> Result<T> {
    Err(Error::Unsupported(format!("{what}: not JSON, and TOML documents need the `toml` feature")))
}

#[cfg(feature = "toml")]
fn parse_toml<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(String::new(), |s| {
            let before = &text.as_bytes()[..s.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            format!(" at line {line}, column {col}")
        });
        let msg = e.message().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
        Error::InvalidInput(format!("{what}: not valid TOML or JSON: {}{at}", redact(&msg)))
    })
}

/// JSON, not TOML: an object, or an array of values (`[{`, `[]`, `["`, `[1`); a TOML document
/// starts with a key or a `[table]` / `[[array-of-tables]]` header.
pub(crate) fn is_json(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with('{')
        || t.strip_prefix('[').is_some_and(|r| {
            r.trim_start().starts_with(|c: char| matches!(c, '{' | ']' | '"' | '-') || c.is_ascii_digit())
        })
}

/// Largest configuration file (feature spec, profile, STAC item) read: 16 MiB.
pub(crate) const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The whole content of a regular file of at most `max` bytes: a device (`/dev/zero`), a pipe or
/// a directory, or a file over the limit, is `INVALID_INPUT` naming it — never an unbounded read.
pub fn read_file_bounded(path: &Path, max: u64, what: &str) -> Result<Vec<u8>> {
    let meta = regular_file(path, what)?;
    if meta.len() > max {
        return Err(Error::InvalidInput(format!(
            "{what} {} is {} bytes, more than the {max} a {what} may have",
            path.display(),
            meta.len()
        )));
    }
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // bounded even if the file grows while it is read
    f.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::InvalidInput(format!("{what} {} grew past {max} bytes while read", path.display())));
    }
    Ok(bytes)
}

/// The metadata of `path` when it is a regular file (symlinks followed); a directory, device
/// (`/dev/zero`) or FIFO is `INVALID_INPUT` — opening a FIFO for reading would block until some
/// other process writes to it, a device never ends.
pub fn regular_file(path: &Path, what: &str) -> Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::InvalidInput(format!("{what} {} is not a regular file", path.display())));
    }
    Ok(meta)
}

/// The text of a configuration file (colour table) named `what` in errors: a regular UTF-8 file
/// of at most 16 MiB, else `INVALID_INPUT`.
pub(crate) fn read_config_text(path: &Path, what: &str) -> Result<String> {
    read_text_bounded(path, MAX_CONFIG_BYTES, what)
}

/// [`read_file_bounded`] as UTF-8 text.
pub(crate) fn read_text_bounded(path: &Path, max: u64, what: &str) -> Result<String> {
    String::from_utf8(read_file_bounded(path, max, what)?)
        .map_err(|_| Error::InvalidInput(format!("{what} {}: not UTF-8 text", path.display())))
}

/// Read and parse a configuration file; errors name the file (and its position), never its content.
pub(crate) fn read_config<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let bytes = read_file_bounded(path, MAX_CONFIG_BYTES, what)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::InvalidInput(format!("{what} {}: not UTF-8 text", path.display())))?;
    parse_config(&text, &format!("{what} {}", path.display()))
}

/// serde's messages quote the offending value (`invalid type: string "s3cret", expected u32`,
/// `unknown variant `x``): keep what was expected, drop what was found.
pub(crate) fn redact(msg: &str) -> String {
    let (head, tail) = match msg.find(", expected") {
        Some(i) => msg.split_at(i),
        None => (msg, ""),
    };
    let quotes_value =
        ["invalid type", "invalid value", "unknown variant", "invalid length"].iter().any(|m| head.starts_with(m));
    if let Some(name) = head.strip_prefix("unknown field `").and_then(|r| r.strip_suffix('`')) {
        // a misspelt key is worth naming; anything else in that place is content, not a key
        let plain = name.len() <= 40 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        return if plain { msg.to_string() } else { format!("unknown field{tail}") };
    }
    if !quotes_value {
        return msg.to_string();
    }
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for c in head.chars() {
        match (quote, c) {
            (None, '"' | '`') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c) => out.push(c),
        }
    }
    format!("{}{tail}", out.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Cfg {
        version: u32,
        method: Option<Method>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Method {
        WeightedSum,
    }

    #[test]
    fn unknown_fields_are_named_only_when_they_look_like_keys() {
        assert_eq!(
            redact("unknown field `wieght`, expected one of `weight`"),
            "unknown field `wieght`, expected one of `weight`"
        );
        assert_eq!(
            redact("unknown field `root:x:0:0:s3cr3t`, expected one of `weight`"),
            "unknown field, expected one of `weight`"
        );
    }

    #[cfg(not(feature = "toml"))]
    #[test]
    fn toml_needs_its_feature() {
        let e = parse_config::<Cfg>("version = 1", "profile").unwrap_err();
        assert_eq!(e.code(), "UNSUPPORTED", "{e}");
        assert!(e.to_string().contains("`toml` feature"), "{e}");
    }

    #[cfg(feature = "toml")]
    #[test]
    fn config_errors_never_quote_the_document() {
        let secret = "s3cr3t-token-9f8e";
        for text in [
            format!("SHELL=/bin/bash\0API_TOKEN={secret}\0"),
            format!("root:x:0:0:{secret}:/root:/bin/bash"),
            format!("version = \"{secret}\""),
            format!("version = 1\nmethod = \"{secret}\""),
            format!("{{\"version\": \"{secret}\"}}"),
            format!("{{\"version\": 1, \"method\": \"{secret}\"}}"),
            format!("{{\"version\": 1, {secret}"),
        ] {
            let e = parse_config::<Cfg>(&text, "profile").unwrap_err();
            let m = e.to_string();
            assert!(!m.contains(secret) && !m.contains("bin/bash"), "{m}");
            assert!(m.contains("line"), "{m}");
        }
        // the expected form stays
        let e = parse_config::<Cfg>("{\"version\": 1, \"method\": \"x\"}", "profile").unwrap_err();
        assert!(e.to_string().contains("weighted_sum"), "{e}");
    }

    #[test]
    fn codes_are_unique_and_stable() {
        let codes: Vec<_> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        let mut dedup = codes.clone();
        dedup.sort_unstable();
        dedup.dedup();
        assert_eq!(codes.len(), dedup.len());
        assert_eq!(ErrorKind::NotFound.code(), "NOT_FOUND");
        let e = Error::io("/nope", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(e.code(), "NOT_FOUND");
        assert!(e.to_string().contains("/nope"));
    }
}
