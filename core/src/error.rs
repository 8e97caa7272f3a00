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
        }
    }

    /// Every kind, in code order (used by the bindings to build their exception tables).
    pub const ALL: [ErrorKind; 10] = [
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
}

fn fmt_available(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        format!("; available: {}", v.join(", "))
    }
}

impl Error {
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
        }
    }

    /// Shorthand for `self.kind().code()`.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// Map an `std::io::Error` on `path`, turning "not found" into [`ErrorKind::NotFound`].
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        let path = path.as_ref().to_path_buf();
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

/// Parse a configuration document (feature spec, scoring profile) given as JSON (starts with
/// `{`) or TOML; errors are `INVALID_INPUT` prefixed with `what`.
pub(crate) fn parse_config<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| Error::InvalidInput(format!("{what}: {e}")))
    } else {
        toml::from_str(text).map_err(|e| Error::InvalidInput(format!("{what}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
