//! Errors as RFC 9457 `application/problem+json`, carrying the core's stable error code.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use landopp::ErrorKind;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An API error: an HTTP status, a stable code (the core's codes plus the server's own:
/// `BAD_REQUEST`, `UNAUTHENTICATED`, `FORBIDDEN`, `RATE_LIMITED`, `PAYLOAD_TOO_LARGE`, ...) and a
/// message for people. Never carries file content or secrets.
#[derive(Debug, Clone)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with a status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Problem { status, code, detail: detail.into(), retry_after: None }
    }
    /// 400: the request cannot be read (malformed JSON, query string, parameters).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", detail)
    }
    /// 401: no or invalid credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", detail)
    }
    /// 403: authenticated, but the role does not allow it.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", detail)
    }
    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", detail)
    }
    /// 503 while the database cannot be reached (retry after a few seconds).
    pub fn store_unavailable() -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORE_UNAVAILABLE",
            "the database cannot be reached now; searches still answer, writes do not: retry shortly",
        );
        p.retry_after = Some(5);
        p
    }
    /// 500 without internals in the body (they are logged).
    pub fn internal(what: &str) -> Self {
        tracing::error!(error = what, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", "internal error (logged with the request id)")
    }
}

/// The core's errors: input problems are the client's (400 / 422), the rest the server's.
impl From<landopp::Error> for Problem {
    fn from(e: landopp::Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidInput | ErrorKind::Crs | ErrorKind::Empty | ErrorKind::Unsupported => {
                StatusCode::BAD_REQUEST
            }
            ErrorKind::InvalidGeometry => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Interrupted => StatusCode::SERVICE_UNAVAILABLE,
            // an upstream (a raster URL, a data service) failed: the gateway's error
            ErrorKind::Remote => StatusCode::BAD_GATEWAY,
            // Io, Format, Integrity, Internal and kinds added later: the server's, not the client's
            _ => return Problem::internal(&e.to_string()),
        };
        Problem::new(status, e.code(), e.to_string())
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "store unavailable");
                Problem::store_unavailable()
            }
            e => Problem::internal(&e.to_string()),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("https://landopp.dev/problems/{}", self.code.to_ascii_lowercase().replace('_', "-")),
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(s) = self.retry_after {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        r
    }
}

/// Handler results.
pub type ApiResult<T> = std::result::Result<T, Problem>;
