//! What replicas share through Redis (`redis_url`, `LANDOPP_REDIS_URL`; optional): the rate-limit
//! token buckets — one limit per key and per address across every replica, kept by a Lua script
//! on Redis' own clock so replicas' clocks do not matter — and a cache of search pages keyed by
//! the data version and the normalised query.
//!
//! Redis is an accelerator, not a dependency: every call has a 50 ms budget, and when Redis
//! does not answer the replica falls back to its own in-memory limits and computes the page
//! (counted in `landopp_redis_errors_total`), so a Redis outage costs precision, never
//! availability.

use crate::limits::Limited;
use std::time::Duration;

/// The budget of one Redis call.
const BUDGET: Duration = Duration::from_millis(50);

/// How long a cached search page lives (the data version in its key retires it sooner).
pub const PAGE_TTL_S: u64 = 300;

/// A token bucket on the server's clock: `{allowed, retry_after_seconds}`.
const BUCKET: &str = r#"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, tostring(retry)}
"#;

/// A connection to Redis (reconnecting by itself).
#[derive(Clone)]
pub struct Redis {
    conn: redis::aio::ConnectionManager,
    bucket: redis::Script,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redis")
    }
}

fn failed(what: &'static str) {
    metrics::counter!("landopp_redis_errors_total", "op" => what).increment(1);
}

impl Redis {
    /// Connect (`redis://host:6379/0`); an unreachable Redis at start is an error (a
    /// configuration mistake is caught then), later outages are not.
    pub async fn connect(url: &str) -> Result<Redis, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis_url: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(
            Duration::from_secs(5),
            redis::aio::ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| "redis_url: no answer within 5 s".to_string())?
        .map_err(|e| format!("redis_url: {e}"))?;
        Ok(Redis { conn, bucket: redis::Script::new(BUCKET) })
    }

    /// Take a token from the shared bucket `key` (`rate` per second up to `burst`); `None` when
    /// Redis did not answer in time (the caller uses its own limiter).
    pub async fn take(&self, key: &str, rate: f64, burst: f64) -> Option<Result<(), Limited>> {
        let mut conn = self.conn.clone();
        let mut inv = self.bucket.key(format!("landopp:rl:{key}"));
        inv.arg(rate).arg(burst);
        match tokio::time::timeout(BUDGET, inv.invoke_async::<(i64, String)>(&mut conn)).await {
            Ok(Ok((1, _))) => Some(Ok(())),
            Ok(Ok((_, retry))) => {
                let r: f64 = retry.parse().unwrap_or(1.0);
                Some(Err(Limited { retry_after: r.ceil().max(1.0) as u64, limit: rate }))
            }
            _ => {
                failed("rate_limit");
                None
            }
        }
    }

    /// A cached page, if any (and if Redis answered in time).
    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("GET").arg(key).clone();
        match tokio::time::timeout(BUDGET, cmd.query_async::<Option<Vec<u8>>>(&mut conn)).await {
            Ok(Ok(v)) => v,
            _ => {
                failed("cache_get");
                None
            }
        }
    }

    /// Cache a page for `ttl_s` seconds, in the background (the answer does not wait).
    pub fn put(&self, key: String, value: Vec<u8>, ttl_s: u64) {
        let mut conn = self.conn.clone();
        tokio::spawn(async move {
            let cmd = redis::cmd("SET").arg(&key).arg(value).arg("EX").arg(ttl_s).clone();
            if !matches!(tokio::time::timeout(BUDGET * 4, cmd.query_async::<()>(&mut conn)).await, Ok(Ok(()))) {
                failed("cache_put");
            }
        });
    }
}
