//! `landopp-server`: landopp's reference HTTP server — the land-search API of the product, on
//! axum. The handlers translate HTTP to core calls and back; every decision about land (what a
//! query means, how a profile scores, what a weight does) is the library's.
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! let config = landopp_server::config::ServerConfig::default();
//! let land = landopp_server::land::Land::demo(None).map_err(|e| e.to_string())?;
//! let server = landopp_server::Server::start(config, land, &|k| std::env::var(k).ok()).await?;
//! println!("listening on {}", server.addr);
//! server.serve_until(std::future::pending()).await
//! # }
//! ```

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod import;
pub mod jobs;
pub mod land;
pub mod limits;
pub mod models;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod shared;
pub mod store;
pub mod telemetry;
pub mod web;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

static METRICS: OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> = OnceLock::new();

/// Install the process's Prometheus recorder (once; later calls reuse it).
fn metrics_handle() -> Option<&'static metrics_exporter_prometheus::PrometheusHandle> {
    METRICS
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
            metrics_exporter_prometheus::PrometheusBuilder::new().set_buckets(&buckets).ok()?.install_recorder().ok()
        })
        .as_ref()
}

/// The metrics in Prometheus' text format.
pub fn metrics_render() -> String {
    metrics_handle().map(|h| h.render()).unwrap_or_default()
}

/// A started server: bound, state loaded, not yet serving.
#[derive(Debug)]
pub struct Server {
    /// The bound address (port 0 in the config gets a free port).
    pub addr: SocketAddr,
    /// The admin key made at this start (none when an admin key existed).
    pub bootstrap_key: Option<String>,
    /// Shared state.
    pub state: app::St,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Open the store (migrations), load the keys, make the bootstrap admin key when no active
    /// admin key exists (from `LANDOPP_BOOTSTRAP_ADMIN_KEY` when set, else random), bind.
    pub async fn start(
        config: config::ServerConfig,
        land: impl Into<Arc<land::Land>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Server, String> {
        let land: Arc<land::Land> = land.into();
        let t0 = std::time::Instant::now();
        let models = match &config.models {
            None => None,
            Some(m) => {
                let (m, l) = (m.clone(), land.clone());
                let loaded = tokio::task::spawn_blocking(move || match m.demo {
                    true => models::Models::demo(&m.registry, l.index.features()),
                    false => models::Models::open(&m, l.index.features()),
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("models: [{}] {e}", e.code()))?;
                Some(Arc::new(loaded))
            }
        };
        tracing::info!(ms = t0.elapsed().as_millis() as u64, "models loaded and warmed");
        Self::start_with_models(config, land, models, env).await
    }

    /// [`Server::start`] with the models already open ([`load`] reads them while the parcels
    /// load).
    pub async fn start_with_models(
        config: config::ServerConfig,
        land: Arc<land::Land>,
        models: Option<Arc<models::Models>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Server, String> {
        config.check()?;
        metrics_handle();
        let given_key = match env("LANDOPP_BOOTSTRAP_ADMIN_KEY_FILE") {
            Some(f) => {
                Some(std::fs::read_to_string(&f).map_err(|e| format!("cannot read {f}: {e}"))?.trim().to_string())
            }
            None => env("LANDOPP_BOOTSTRAP_ADMIN_KEY"),
        };
        // the store's set-up blocks (the PostgreSQL client runs its own small runtime)
        let store = blocking_now(|| match &config.database_url {
            Some(url) => store::Store::connect_lazy(&url.0).map_err(|e| format!("database_url: {e}")),
            None => store::Store::open(&config.store).map_err(|e| format!("{}: {e}", config.store.display())),
        })?;
        let (keys, users) = (auth::KeyCache::default(), auth::UserCache::default());
        let with_jobs = config.jobs_root.is_some();
        let prepared = blocking_now(|| prepare(&store, &keys, &users, given_key.as_deref(), with_jobs));
        let (bootstrap_key, ready) = match prepared {
            Ok(k) => (k, true),
            // a shared database that is not there yet: serve (not ready) and keep trying
            Err(store::StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, "the database cannot be reached: not ready, retrying");
                (None, false)
            }
            Err(e) => return Err(e.to_string()),
        };
        let jwt = auth::Jwt::new(&config.auth, env)?;
        let redis = match &config.redis_url {
            Some(u) => Some(shared::Redis::connect(&u.0).await?),
            None => None,
        };
        let jobs = match &config.jobs_root {
            None => None,
            Some(root) => {
                let mut out = config.store.clone().into_os_string();
                out.push(".jobs");
                Some(Arc::new(jobs::Jobs::new(root, std::path::Path::new(&out))?))
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel(10_000);
        tokio::spawn(write_analytics(store.clone(), rx));
        let burst = config.limits.burst_factor;
        let dem = match config.data.as_ref().and_then(|d| d.dem.clone()) {
            Some(p) => {
                let r = tokio::task::spawn_blocking(move || landopp::Raster::read(&p))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| format!("[data] dem: [{}] {e}", e.code()))?;
                Some(Arc::new(r))
            }
            None => None,
        };
        let web_root = config.web_root.clone().unwrap_or_else(web::default_root);
        let web = web::Web::load(&web_root)?.map(Arc::new);
        if web.is_none() {
            tracing::info!(
                root = %web_root.display(),
                "the web dashboard is not built (cd examples/server/web && npm install && npm run build)"
            );
        }
        let state = Arc::new(app::AppState {
            per_key: limits::RateLimiter::new(config.limits.rate_per_key, config.limits.rate_per_key * burst),
            per_ip: limits::RateLimiter::new(config.limits.rate_per_ip, config.limits.rate_per_ip * burst),
            land: std::sync::RwLock::new(land),
            data_version: std::sync::atomic::AtomicI64::new(0),
            store_ready: std::sync::atomic::AtomicBool::new(ready),
            redis,
            cache_nonce: u64::from_le_bytes(auth::random_bytes::<8>()),
            models,
            jobs,
            store,
            keys,
            users,
            jwt,
            analytics: tx,
            dem,
            web,
            config,
        });
        if !ready {
            tokio::spawn(prepare_later(state.clone(), given_key));
        }
        if let (Some(m), Some(url)) = (&state.models, &state.config.database_url) {
            // the registry is the database's: agree with it now (when it answers), then follow it
            m.share(&state.store);
            if ready {
                let features = state.land();
                if let Err(e) = blocking_now(|| m.sync(features.index.features())) {
                    tracing::warn!(error = %e, "models: the database's registry is not followed yet: retrying");
                }
            }
            follow_models(state.clone(), url.0.clone());
        }
        let listener = tokio::net::TcpListener::bind(state.config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", state.config.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        Ok(Server { addr, bootstrap_key, state, listener })
    }

    /// Serve until `shutdown` completes, then finish the requests in flight.
    pub async fn serve_until(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let app = app::router(self.state.clone());
        axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Load the configured land and models at once: the model files are read while the parcels load
/// (two cores, two jobs), then the models are warmed on the features. The demo's models (trained
/// on its features) are left to [`Server::start`].
///
/// With a `database_url` and no data files (`[data]` naming neither `spec` nor `parcels`), the
/// land is the database's latest import (`landopp-server import`), and the data version it is
/// comes back too (else 0).
pub async fn load(config: &config::ServerConfig) -> Result<(land::Land, Option<Arc<models::Models>>, i64), String> {
    let data = config.data.clone().unwrap_or_default();
    let from_files = data.spec.is_some() || data.parcels.is_some();
    let land = match (&config.database_url, from_files) {
        (_, true) => tokio::task::spawn_blocking(move || {
            land::Land::from_config(&data).map(|l| (l, 0)).map_err(|e| format!("[{}] {e}", e.code()))
        }),
        (Some(url), false) => {
            // the land is the database's: wait for it (backoff 1 s doubling to 30 s)
            let mut backoff = 1u64;
            let store = loop {
                let u = url.0.clone();
                match tokio::task::spawn_blocking(move || store::Store::connect(&u)).await.map_err(|e| e.to_string())? {
                    Ok(s) => break s,
                    Err(store::StoreError::Unavailable(e)) => {
                        tracing::warn!(error = %e, retry_s = backoff, "the database cannot be reached: retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(backoff)).await;
                        backoff = (backoff * 2).min(30);
                    }
                    Err(e) => return Err(format!("database_url: {e}")),
                }
            };
            tokio::task::spawn_blocking(move || land::Land::from_database(&store, &data.profiles, &data.presets))
        }
        (None, false) => return Err("give --demo, a [data] section with spec or parcels, or a database_url".into()),
    };
    let models = config.models.clone().filter(|m| !m.demo).map(|m| {
        let read = tokio::task::spawn_blocking({
            let m = m.clone();
            move || models::Models::read(&m)
        });
        (m, read)
    });
    let (land, version) = land.await.map_err(|e| e.to_string())??;
    let models = match models {
        None => None,
        Some((c, read)) => {
            let mut m = read.await.map_err(|e| e.to_string())?.map_err(|e| format!("models: [{}] {e}", e.code()))?;
            m.prepare(&c, land.index.features()).map_err(|e| format!("models: [{}] {e}", e.code()))?;
            Some(Arc::new(m))
        }
    };
    Ok((land, models, version))
}

/// Keep a replica's land current with the shared store: `LISTEN landopp_data` (each import
/// notifies its new data version when it commits); a newer version is read whole and swapped in
/// — requests in flight finish on the land they started with. A lost connection is re-made with
/// backoff (1 s doubling to 30 s), and every (re)connection and every 30 s of silence checks the
/// latest version, so a notification missed meanwhile is caught up. A plain thread: the
/// PostgreSQL client blocks.
pub fn follow_database(state: app::St, url: String, files: Vec<std::path::PathBuf>, presets: Vec<String>) {
    metrics::gauge!("landopp_data_version").set(state.data_version.load(std::sync::atomic::Ordering::SeqCst) as f64);
    follow("landopp-data", url, "landopp_data", move || {
        let latest = import::data_version(&state.store).map_err(|e| e.to_string())?;
        let current = state.data_version.load(std::sync::atomic::Ordering::SeqCst);
        if let Some(v) = latest.filter(|&v| v > current) {
            let t0 = std::time::Instant::now();
            let (land, v) = land::Land::from_database(&state.store, &files, &presets)
                .map_err(|e| format!("data version {v} did not load: {e}"))?;
            let parcels = land.index.len();
            state.set_land(Arc::new(land), v);
            metrics::gauge!("landopp_data_version").set(v as f64);
            tracing::info!(data_version = v, parcels, ms = t0.elapsed().as_millis() as u64, "new data served");
        }
        Ok(())
    });
}

/// Keep a replica's models current with the shared database's registry: `LISTEN
/// landopp_models` (each upload, promotion and retraining notifies), then [`models::Models::sync`]
/// — a new production version is loaded, warmed and swapped in, requests in flight finish on the
/// model they started with. Reconnection and the 30 s look as [`follow_database`].
pub fn follow_models(state: app::St, url: String) {
    let Some(models) = state.models.clone() else { return };
    follow("landopp-models", url, "landopp_models", move || {
        let land = state.land();
        if let Some(v) = models.sync(land.index.features()).map_err(|e| e.to_string())? {
            tracing::info!(model_version = %v, "new production model served");
        }
        Ok(())
    });
}

/// On a plain thread (the PostgreSQL client blocks): connect, `LISTEN channel`, run `step`, then
/// again on each notification or after 30 s of silence (so a notification missed while
/// disconnected is caught up). A lost connection or a failed step is retried with backoff (1 s
/// doubling to 30 s).
fn follow(
    thread: &str,
    url: String,
    channel: &'static str,
    mut step: impl FnMut() -> Result<(), String> + Send + 'static,
) {
    let name = thread.to_string();
    let run = move || {
        let mut backoff = 1u64;
        loop {
            let mut listen = || -> Result<(), String> {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| format!("listen: {e}"))?;
                c.batch_execute(&format!("LISTEN {channel}")).map_err(|e| format!("listen: {e}"))?;
                backoff = 1;
                loop {
                    step()?;
                    use postgres::fallible_iterator::FallibleIterator;
                    let mut n = c.notifications();
                    // a notification, or 30 s of silence: look again either way
                    n.timeout_iter(std::time::Duration::from_secs(30)).next().map_err(|e| format!("listen: {e}"))?;
                }
            };
            if let Err(e) = listen() {
                tracing::warn!(error = %e, retry_s = backoff, channel, "following the database: retrying");
                std::thread::sleep(std::time::Duration::from_secs(backoff));
                backoff = (backoff * 2).min(30);
            }
        }
    };
    if let Err(e) = std::thread::Builder::new().name(name).spawn(run) {
        tracing::error!(error = %e, channel, "cannot start a database follower: this replica will not see its changes");
    }
}

/// Run blocking set-up work from async code: on a multi-threaded runtime the worker is handed
/// over to others first (`block_in_place`); elsewhere it just runs.
fn blocking_now<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The first admin key of an empty store.
/// What start-up needs from the store: migrations (PostgreSQL: on first use), the keys and
/// users mirrored in memory, the bootstrap admin key, the jobs a restart interrupted failed.
fn prepare(
    store: &store::Store,
    keys: &auth::KeyCache,
    users: &auth::UserCache,
    given_key: Option<&str>,
    jobs: bool,
) -> Result<Option<String>, store::StoreError> {
    keys.load(store.run_sync(store::keys::list)?);
    let key = bootstrap(store, keys, given_key)?;
    users.load(&store.run_sync(store::users::list)?);
    if jobs {
        store.run_sync(store::jobs::fail_unfinished)?;
    }
    Ok(key)
}

/// [`prepare`] once the database comes: retried with backoff (1 s doubling to 30 s); the
/// server is not ready (and authenticates nobody) until it succeeds. A random bootstrap key made
/// then goes to `<store>.admin-key` (mode 0600), never to a log.
async fn prepare_later(state: app::St, given_key: Option<String>) {
    let mut backoff = 1u64;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(backoff)).await;
        let (st, key) = (state.clone(), given_key.clone());
        let done = tokio::task::spawn_blocking(move || {
            prepare(&st.store, &st.keys, &st.users, key.as_deref(), st.config.jobs_root.is_some())
        })
        .await;
        match done {
            Ok(Ok(made)) => {
                if let Some(k) = made {
                    let mut path = state.config.store.clone().into_os_string();
                    path.push(".admin-key");
                    match write_private(std::path::Path::new(&path), &k) {
                        Ok(()) => tracing::warn!(file = %path.to_string_lossy(), "bootstrap admin key written"),
                        Err(e) => tracing::error!(error = %e, "the bootstrap admin key could not be written"),
                    }
                }
                state.store_ready.store(true, std::sync::atomic::Ordering::SeqCst);
                tracing::info!("the database answers: ready");
                return;
            }
            Ok(Err(store::StoreError::Unavailable(e))) => {
                tracing::warn!(error = %e, retry_s = backoff.min(30), "the database cannot be reached: retrying");
            }
            Ok(Err(e)) => tracing::error!(error = %e, "the store could not be prepared: retrying"),
            Err(e) => tracing::error!(error = %e, "the store could not be prepared: retrying"),
        }
        backoff = (backoff * 2).min(30);
    }
}

/// Write a secret to a new file readable by its owner only.
pub fn write_private(path: &std::path::Path, secret: &str) -> Result<(), String> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    let mut f = o.open(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    writeln!(f, "{secret}").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn bootstrap(
    store: &store::Store,
    keys: &auth::KeyCache,
    given: Option<&str>,
) -> Result<Option<String>, store::StoreError> {
    if let Some(k) = given {
        let (id, secret) = auth::split_key(k).ok_or_else(|| {
            store::StoreError::Postgres(
                "LANDOPP_BOOTSTRAP_ADMIN_KEY must look like lok_<16 hex>_<64 hex> (make one with `landopp-server --new-key`)"
                    .into(),
            )
        })?;
        if keys.exists(id) {
            // already there (maybe revoked or rotated since): left as it is
            if keys.verify(k, store::now()).is_err() {
                tracing::warn!(
                    key_id = id,
                    "LANDOPP_BOOTSTRAP_ADMIN_KEY names a key that is revoked, expired or differs"
                );
            }
            return Ok(None);
        }
        let rec = store::KeyRecord {
            id: id.into(),
            role: "admin".into(),
            label: "bootstrap".into(),
            created_at: store::now(),
            expires_at: None,
            revoked_at: None,
            secret_sha256: auth::secret_hash(secret),
        };
        let r = rec.clone();
        store.run_sync(move |c| store::keys::insert(c, &r))?;
        keys.put(rec);
        return Ok(None);
    }
    if keys.has_active_admin(store::now()) {
        return Ok(None);
    }
    let (key, rec) = auth::new_key(auth::Role::Admin, "bootstrap", None);
    let r = rec.clone();
    store.run_sync(move |c| store::keys::insert(c, &r))?;
    keys.put(rec);
    Ok(Some(key))
}

/// Search analytics in batches (one transaction per second or per 500 searches).
async fn write_analytics(store: store::Store, mut rx: tokio::sync::mpsc::Receiver<store::Event>) {
    let mut batch = Vec::new();
    loop {
        let more = tokio::time::timeout(std::time::Duration::from_secs(1), rx.recv()).await;
        let closed = matches!(more, Ok(None));
        if let Ok(Some(r)) = more {
            batch.push(r);
            while batch.len() < 500 {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        }
        if !batch.is_empty() {
            let b = std::mem::take(&mut batch);
            let n = b.len() as u64;
            if let Err(e) = store.run(move |c| store::searches::insert_batch(c, &b)).await {
                // nobody was promised these (searches, predictions, auth failures): dropped, counted
                metrics::counter!("landopp_analytics_dropped_total").increment(n);
                tracing::error!(error = %e, events = n, "analytics write failed: events dropped");
            }
        }
        if closed {
            return;
        }
    }
}
