//! Rate limits (token buckets per API key / user and per client address; 429 with `Retry-After`
//! and the IETF `RateLimit-*` headers), security headers and CORS.

use axum::http::{header, HeaderName, HeaderValue, Method};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Token buckets: `rate` tokens per second up to `burst`, one per request.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    map: HashMap<String, (f64, Instant)>,
    /// Last sweep of full buckets (at most one a second: a flood from many addresses whose
    /// buckets are all in use must not make every request scan them all).
    swept: Option<Instant>,
}

/// A refusal: seconds until a token is back.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    /// Seconds to wait, rounded up (at least 1).
    pub retry_after: u64,
    /// The limit (requests per second).
    pub limit: f64,
}

impl RateLimiter {
    /// `rate` requests per second (0: unlimited), bursts of `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter { rate, burst: burst.max(1.0), buckets: Mutex::new(Buckets::default()) }
    }

    /// Limiting at all (rate > 0).
    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }
    /// Bucket size.
    pub fn burst(&self) -> f64 {
        self.burst
    }

    /// Take a token for `key`.
    pub fn check(&self, key: &str) -> Result<(), Limited> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut g = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Buckets { map: m, swept } = &mut *g;
        if m.len() > 100_000 && swept.is_none_or(|t| now.duration_since(t).as_secs_f64() >= 1.0) {
            // forget clients whose buckets are full again (memory stays bounded under many clients)
            let (rate, burst) = (self.rate, self.burst);
            m.retain(|_, (t, at)| *t + now.duration_since(*at).as_secs_f64() * rate < burst);
            *swept = Some(now);
        }
        let b = m.entry(key.to_string()).or_insert((self.burst, now));
        b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * self.rate).min(self.burst);
        b.1 = now;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            Ok(())
        } else {
            Err(Limited { retry_after: ((1.0 - b.0) / self.rate).ceil().max(1.0) as u64, limit: self.rate })
        }
    }
}

/// Headers every response carries.
pub fn security_headers(h: &mut axum::http::HeaderMap) {
    let set = |h: &mut axum::http::HeaderMap, k: HeaderName, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=63072000; includeSubDomains");
    set(h, header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'; base-uri 'none'");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CACHE_CONTROL, "no-store");
}

/// CORS for the configured origins only (exact matches); no origin is allowed by default.
pub fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("traceparent"),
        ])
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_past_the_burst_and_says_how_long() {
        let l = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let e = l.check("a").unwrap_err();
        assert_eq!(e.retry_after, 1);
        assert!(l.check("b").is_ok(), "buckets are per key");
        assert!(RateLimiter::new(0.0, 1.0).check("a").is_ok(), "0 = off");
    }
}
