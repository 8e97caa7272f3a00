//! The application: shared state, the route table (one place for path, method, role and
//! documentation: the router and the OpenAPI document are both built from it), and the
//! middleware every request passes through — request id and W3C trace context, per-address rate
//! limit, security headers, metrics and a JSON log line, authentication and role checks.

use crate::auth::{KeyCache, Principal, Role};
use crate::config::ServerConfig;
use crate::land::Land;
use crate::limits::{Limited, RateLimiter};
use crate::problem::Problem;
use crate::store::{AuditEntry, Event, Store};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Shared state.
#[derive(Debug)]
pub struct AppState {
    /// Settings.
    pub config: ServerConfig,
    /// Parcels, features, profiles and scores (swapped whole when a shared store's data
    /// changes: a request keeps the land it started with).
    pub land: std::sync::RwLock<Arc<Land>>,
    /// The data version served (PostgreSQL imports; 0 for files).
    pub data_version: std::sync::atomic::AtomicI64,
    /// The store answered start-up (keys and users are loaded); until then nobody is
    /// authenticated (503) and `/readyz` says not ready.
    pub store_ready: std::sync::atomic::AtomicBool,
    /// Redis shared by replicas (rate limits, search-page cache), when configured.
    pub redis: Option<crate::shared::Redis>,
    /// Names this process's data in cache keys when there is no shared data version.
    pub cache_nonce: u64,
    /// The DEM of the hillshade basemap tiles (`[data] dem`), when configured.
    pub dem: Option<Arc<landopp::Raster>>,
    /// The web dashboard's built files, when built.
    pub web: Option<Arc<crate::web::Web>>,
    /// The embedded store.
    pub store: Store,
    /// Served models (none configured: `None`).
    pub models: Option<Arc<crate::models::Models>>,
    /// Feature-build jobs (no `jobs_root`: `None`).
    pub jobs: Option<Arc<crate::jobs::Jobs>>,
    /// API keys, mirrored from the store.
    pub keys: KeyCache,
    /// Users, mirrored from the store.
    pub users: crate::auth::UserCache,
    /// JWTs.
    pub jwt: crate::auth::Jwt,
    /// Per key / user.
    pub per_key: RateLimiter,
    /// Per client address.
    pub per_ip: RateLimiter,
    /// Search analytics, written in batches by a background task.
    pub analytics: tokio::sync::mpsc::Sender<crate::store::Event>,
}

impl AppState {
    /// Take a token for `key` from the limiter of `scope`: the bucket shared through Redis when
    /// there is one (and it answers), else this replica's.
    pub async fn take(&self, scope: &'static str, key: &str) -> Result<(), Limited> {
        let l = if scope == "address" { &self.per_ip } else { &self.per_key };
        if !l.enabled() {
            return Ok(());
        }
        if let Some(r) = &self.redis {
            if let Some(out) = r.take(&format!("{scope}:{key}"), l.rate(), l.burst()).await {
                return out;
            }
        }
        l.check(key)
    }

    /// The cache namespace of the data served now: the shared data version (the same on every
    /// replica), else this process's own.
    pub fn cache_scope(&self) -> String {
        match self.data_version.load(std::sync::atomic::Ordering::SeqCst) {
            0 => format!("p{:016x}", self.cache_nonce),
            v => format!("v{v}"),
        }
    }

    /// The land served now.
    pub fn land(&self) -> Arc<Land> {
        self.land.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Serve `land` (data version `version`) from now on.
    pub fn set_land(&self, land: Arc<Land>, version: i64) {
        *self.land.write().unwrap_or_else(|e| e.into_inner()) = land;
        self.data_version.store(version, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Shared state as handlers see it.
pub type St = Arc<AppState>;

/// Who called, from where, under which request id and trace.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Request id (`x-request-id`).
    pub id: String,
    /// Client address.
    pub client: String,
    /// W3C trace id.
    pub trace_id: String,
}

impl Ctx {
    /// An audit entry for this request (`seq` and `at` are the store's).
    fn entry(&self, actor: &str, action: &str, target: String, outcome: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: 0,
            actor: actor.into(),
            action: action.into(),
            target,
            outcome: outcome.into(),
            client: self.client.clone(),
            request_id: self.id.clone(),
        }
    }
}

impl AppState {
    /// Record an analytics event (dropped, and counted, when the writer is behind).
    pub fn record(&self, e: Event) {
        if self.analytics.try_send(e).is_err() {
            metrics::counter!("landopp_analytics_dropped_total").increment(1);
        }
    }

    /// Append to the audit log in the next batch (authentication failures and refusals: nothing
    /// acknowledged depends on them, and a flood of them must not cost a disk sync each).
    pub fn audit_later(&self, ctx: &Ctx, actor: &str, action: &str, target: &str, outcome: &str) {
        self.record(Event::Audit(ctx.entry(actor, action, target.chars().take(200).collect(), outcome)));
    }

    /// Append to the audit log (awaited: an acknowledged write is on disk).
    pub async fn audit(&self, ctx: &Ctx, actor: &str, action: &str, target: &str, outcome: &str) {
        let e = ctx.entry(actor, action, target.into(), outcome);
        if let Err(err) = self.store.run(move |c| crate::store::audit::append(c, &e)).await {
            tracing::error!(error = %err, "audit append failed");
        }
    }
}

/// One route: what the router serves and the OpenAPI document describes.
pub struct Route {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
    /// Path (axum syntax: `/v1/parcels/{id}`).
    pub path: &'static str,
    /// Least role allowed (`None`: public).
    pub role: Option<Role>,
    /// Operation id.
    pub id: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Request body schema.
    pub body: Option<crate::openapi::SchemaFn>,
    /// Query parameters: (name, description).
    pub params: &'static [(&'static str, &'static str)],
    /// Success status and its schema (`None`: no body).
    pub ok: (u16, Option<crate::openapi::SchemaFn>),
    /// The handler.
    pub handler: fn() -> MethodRouter<St>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The router over `state`.
pub fn router(state: St) -> Router {
    let mut r: Router<St> = Router::new();
    for route in crate::routes::ROUTES.iter() {
        let role = route.role;
        let gate = Gate(state.clone(), role);
        let mr = (route.handler)().route_layer(axum::middleware::from_fn_with_state(gate, authorize));
        r = r.route(route.path, mr);
    }
    let limits = &state.config.limits;
    r.fallback(|| async { Problem::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            Problem::new(StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED", "this route does not take that method")
        })
        .layer(axum::extract::DefaultBodyLimit::max(limits.body_bytes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), outer))
        // outermost: the per-address 429s and the timeouts `outer` makes carry CORS headers too,
        // so a browser client can read their Retry-After
        .layer(crate::limits::cors(&state.config.cors_origins))
        .with_state(state)
}

#[derive(Clone)]
struct Gate(St, Option<Role>);

fn limited(l: Limited, scope: &'static str) -> Response {
    metrics::counter!("landopp_rate_limited_total", "scope" => scope).increment(1);
    let mut p = Problem::new(StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED", format!("rate limit exceeded ({scope})"));
    p.retry_after = Some(l.retry_after);
    let mut r = p.into_response();
    let h = r.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(l.limit.ceil() as u64));
    h.insert("ratelimit-remaining", HeaderValue::from(0u64));
    h.insert("ratelimit-reset", HeaderValue::from(l.retry_after));
    r
}

/// Authentication, role and per-principal rate limit of one route.
async fn authorize(State(Gate(st, role)): State<Gate>, req: Request, next: Next) -> Response {
    let label = req.extensions().get::<axum::extract::MatchedPath>().map(|m| RouteLabel(m.as_str().to_string()));
    let mut res = check(st, role, req, next).await;
    if let Some(l) = label {
        res.extensions_mut().insert(l);
    }
    res
}

/// The matched route of a response (metrics and logs label by route, never by raw path).
#[derive(Debug, Clone)]
struct RouteLabel(String);

async fn check(st: St, role: Option<Role>, mut req: Request, next: Next) -> Response {
    let Some(min) = role else { return next.run(req).await };
    if !st.store_ready.load(std::sync::atomic::Ordering::SeqCst) {
        // the keys and users are not loaded yet: nobody can be told apart
        return Problem::store_unavailable().into_response();
    }
    let ctx = req.extensions().get::<Ctx>().cloned().unwrap_or_else(|| Ctx {
        id: String::new(),
        client: String::new(),
        trace_id: String::new(),
    });
    let p = match principal(&st, req.headers()) {
        Ok(p) => p,
        Err(why) => {
            st.audit_later(&ctx, "anonymous", "auth_failure", req.uri().path(), why.as_str());
            let mut r = Problem::unauthenticated(why).into_response();
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer, ApiKey"));
            return r;
        }
    };
    if let Err(e) = p.require(min) {
        st.audit_later(&ctx, &p.subject, "forbidden", req.uri().path(), "denied");
        return e.into_response();
    }
    if let Err(l) = st.take("key", &p.subject).await {
        return limited(l, "key");
    }
    req.extensions_mut().insert(p);
    next.run(req).await
}

/// The caller from `X-API-Key` or `Authorization: Bearer`.
fn principal(st: &AppState, h: &HeaderMap) -> Result<Principal, String> {
    if let Some(k) = h.get("x-api-key") {
        let k = k.to_str().map_err(|_| "malformed API key".to_string())?;
        return st.keys.verify(k, crate::store::now()).map_err(str::to_string);
    }
    if let Some(a) = h.get(header::AUTHORIZATION) {
        let a = a.to_str().map_err(|_| "malformed Authorization header".to_string())?;
        let t = a.strip_prefix("Bearer ").ok_or("Authorization must be `Bearer <token>`")?;
        return st.users.check(&st.jwt.verify(t.trim())?);
    }
    Err("credentials required: X-API-Key or Authorization: Bearer".into())
}

/// Parse a W3C `traceparent`; returns (trace id, flags) when valid.
fn trace_parent(h: &HeaderMap) -> Option<(String, String)> {
    let v = h.get("traceparent")?.to_str().ok()?;
    let parts: Vec<&str> = v.trim().split('-').collect();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if parts.len() < 4 || !hex(parts[0], 2) || parts[0] == "ff" || !hex(parts[1], 32) || !hex(parts[2], 16) {
        return None;
    }
    if parts[1].bytes().all(|b| b == b'0') || parts[2].bytes().all(|b| b == b'0') || !hex(parts[3], 2) {
        return None;
    }
    Some((parts[1].to_string(), parts[3].to_string()))
}

fn hex_id<const N: usize>() -> String {
    crate::auth::random_bytes::<N>().iter().map(|b| format!("{b:02x}")).collect()
}

/// Every request: ids and trace context, per-address limit, headers, metrics and the log line.
async fn outer(State(st): State<St>, mut req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    let id = hex_id::<8>();
    let method = req.method().clone();
    let span = crate::telemetry::request_span(method.as_str(), &id);
    let parent = trace_parent(req.headers());
    let flags = parent.as_ref().map_or_else(|| "01".to_string(), |p| p.1.clone());
    // the exported span's ids when traces are exported, else the caller's trace and a new span id
    let (trace_id, span_id) = crate::telemetry::link(&span, req.headers())
        .unwrap_or_else(|| (parent.map_or_else(hex_id::<16>, |p| p.0), hex_id::<8>()));
    let ctx = Ctx { id: id.clone(), client: client.clone(), trace_id: trace_id.clone() };
    req.extensions_mut().insert(ctx);
    let timeout = Duration::from_millis(st.config.limits.timeout_ms);
    let mut res = match st.take("address", &client).await {
        Err(l) => limited(l, "address"),
        Ok(()) => match tokio::time::timeout(timeout, next.run(req).instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => {
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "TIMEOUT", "the request took too long").into_response()
            }
        },
    };
    let status = res.status().as_u16();
    let route = res.extensions().get::<RouteLabel>().map_or_else(|| "unmatched".to_string(), |r| r.0.clone());
    crate::telemetry::finish(&span, method.as_str(), &route, status);
    drop(span);
    let h = res.headers_mut();
    crate::limits::security_headers(h);
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("x-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("00-{trace_id}-{span_id}-{flags}")) {
        h.insert("traceparent", v);
    }
    let secs = t0.elapsed().as_secs_f64();
    let labels = [("method", method.to_string()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("landopp_http_requests_total", &labels).increment(1);
    metrics::histogram!("landopp_http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone())
        .record(secs);
    tracing::info!(
        request_id = %id, trace_id = %trace_id, span_id = %span_id, client = %client,
        method = %method, route = %route, status, ms = secs * 1e3, "request"
    );
    res
}
