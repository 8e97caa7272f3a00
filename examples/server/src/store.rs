//! The store of users, API keys, the audit log, feedback, jobs and analytics: by default one
//! embedded SQLite file (WAL journal with `synchronous = FULL`), or a PostgreSQL / PostGIS
//! database given by a `postgres://` URL (`database_url`, `LANDOPP_DATABASE_URL`) that several
//! replicas share. Either way a write is durable before the request that made it is acknowledged,
//! so a `kill -9` (or a power cut) at any moment loses nothing that was answered 2xx.
//! Parameterised statements only. Versioned migrations run at open (PostgreSQL: in one
//! transaction under an advisory lock, so replicas starting together migrate once).

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A connection of either backend, lent to a [`Store::run`] closure.
pub enum Conn<'a> {
    /// The embedded SQLite file.
    Lite(&'a mut Connection),
    /// A pooled PostgreSQL connection.
    Pg(&'a mut postgres::Client),
}

/// Store errors (logged; a client sees `INTERNAL` or `CONFLICT`).
#[derive(Debug)]
pub enum StoreError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// PostgreSQL refused a statement.
    Postgres(String),
    /// The database cannot be reached now (down, restarting, the network): writes answer 503
    /// and are retried by the client; reads keep serving from memory.
    Unavailable(String),
    /// A unique name or id already exists.
    Conflict(String),
    /// The blocking task did not finish.
    Join(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
            StoreError::Postgres(e) => write!(f, "database: {e}"),
            StoreError::Unavailable(e) => write!(f, "database unavailable: {e}"),
            StoreError::Conflict(what) => write!(f, "{what} already exists"),
            StoreError::Join(e) => write!(f, "store task: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        use std::error::Error as _;
        // the server's message (`db_error` detail), never the connection string
        match e.as_db_error() {
            // connection exceptions (08), operator intervention (57: shutdown, restart)
            Some(d) if d.code().code().starts_with("08") || d.code().code().starts_with("57") => {
                StoreError::Unavailable(format!("{} ({})", d.message(), d.code().code()))
            }
            Some(d) => StoreError::Postgres(format!("{} ({})", d.message(), d.code().code())),
            None if e.is_closed() || e.source().is_some_and(|s| s.is::<std::io::Error>()) => {
                StoreError::Unavailable(e.to_string())
            }
            None => StoreError::Postgres(e.to_string()),
        }
    }
}

/// Store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// The migrations, in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: users, keys, audit (append-only), feedback, search analytics
    "CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
     );
     CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        secret_sha256 BLOB NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER
     );
     CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        client TEXT NOT NULL,
        request_id TEXT NOT NULL
     );
     CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TABLE feedback (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        parcel_id TEXT NOT NULL,
        label REAL,
        outcome TEXT,
        note TEXT,
        request_id TEXT NOT NULL
     );
     CREATE INDEX feedback_parcel ON feedback (parcel_id);
     CREATE TABLE searches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        cx REAL,
        cy REAL,
        total INTEGER NOT NULL,
        micros INTEGER NOT NULL
     );
     CREATE INDEX searches_at ON searches (at);",
    // 2: feature-build jobs
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        error_code TEXT,
        error TEXT,
        rows INTEGER,
        columns INTEGER,
        created_at INTEGER NOT NULL,
        finished_at INTEGER
     );",
    // 3: model usage
    "CREATE TABLE predictions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        model_version TEXT NOT NULL,
        n INTEGER NOT NULL
     );
     CREATE INDEX predictions_at ON predictions (at);",
];

/// The PostgreSQL migrations, in order; `landopp_schema` records which ran. The same tables as
/// the embedded store's, and the PostGIS tables of parcels and imagery that imports fill.
const PG_MIGRATIONS: &[&str] = &[
    // 1: users, keys, audit (append-only), feedback, search analytics
    "CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
        password_hash TEXT NOT NULL,
        created_at BIGINT NOT NULL
     );
     CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        secret_sha256 BYTEA NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
        label TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT,
        revoked_at BIGINT
     );
     CREATE TABLE audit_log (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        client TEXT NOT NULL,
        request_id TEXT NOT NULL
     );
     CREATE FUNCTION landopp_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
     CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION landopp_audit_append_only();
     CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION landopp_audit_append_only();
     CREATE TABLE feedback (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        parcel_id TEXT NOT NULL,
        label DOUBLE PRECISION,
        outcome TEXT,
        note TEXT,
        request_id TEXT NOT NULL
     );
     CREATE INDEX feedback_parcel ON feedback (parcel_id);
     CREATE TABLE searches (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        cx DOUBLE PRECISION,
        cy DOUBLE PRECISION,
        total BIGINT NOT NULL,
        micros BIGINT NOT NULL
     );
     CREATE INDEX searches_at ON searches (at);",
    // 2: feature-build jobs
    "CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        actor TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
        done BIGINT NOT NULL DEFAULT 0,
        total BIGINT NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        error_code TEXT,
        error TEXT,
        rows BIGINT,
        columns BIGINT,
        created_at BIGINT NOT NULL,
        finished_at BIGINT,
        owner TEXT NOT NULL DEFAULT ''
     );",
    // 3: model usage
    "CREATE TABLE predictions (
        id BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        model_version TEXT NOT NULL,
        n BIGINT NOT NULL
     );
     CREATE INDEX predictions_at ON predictions (at);",
    // 4: the seed's land tables (PostGIS), hash-partitioned by parcel id (8 partitions; queries
    // name the parent table and PostgreSQL routes them): parcels with their interior point and
    // geometry in WGS 84 and in their own CRS and their features (JSON: name -> number or label),
    // the same features as arrays in the dataset's column order (what replicas read: numbers,
    // then labels), the library's geometry status, each profile's scores, the imports (data
    // versions) with the features' columns, and the imagery scenes features were computed from
    "CREATE TABLE landopp_datasets (
        version BIGSERIAL PRIMARY KEY,
        created_at BIGINT NOT NULL,
        parcels BIGINT NOT NULL,
        srid INTEGER NOT NULL,
        crs TEXT,
        columns JSONB NOT NULL,
        profiles JSONB NOT NULL,
        source TEXT NOT NULL
     );
     CREATE TABLE land_parcels (
        parcel_id TEXT NOT NULL,
        coordinates geometry(POINT, 4326),
        geom geometry(MULTIPOLYGON, 4326) NOT NULL,
        geom_native geometry NOT NULL,
        area_acres DOUBLE PRECISION,
        features JSONB NOT NULL DEFAULT '{}',
        feature_values DOUBLE PRECISION[],
        feature_labels TEXT[],
        geometry_status TEXT NOT NULL DEFAULT 'valid',
        data_version BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (parcel_id)
     ) PARTITION BY HASH (parcel_id);
     CREATE TABLE land_parcels_p0 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 0);
     CREATE TABLE land_parcels_p1 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 1);
     CREATE TABLE land_parcels_p2 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 2);
     CREATE TABLE land_parcels_p3 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 3);
     CREATE TABLE land_parcels_p4 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 4);
     CREATE TABLE land_parcels_p5 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 5);
     CREATE TABLE land_parcels_p6 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 6);
     CREATE TABLE land_parcels_p7 PARTITION OF land_parcels FOR VALUES WITH (MODULUS 8, REMAINDER 7);
     CREATE INDEX land_parcels_geom ON land_parcels USING GIST (geom);
     CREATE INDEX land_parcels_coordinates ON land_parcels USING GIST (coordinates);
     CREATE TABLE parcel_scores (
        parcel_id TEXT NOT NULL,
        profile TEXT NOT NULL,
        score DOUBLE PRECISION,
        rank DOUBLE PRECISION,
        excluded BOOLEAN NOT NULL,
        data_version BIGINT NOT NULL,
        PRIMARY KEY (parcel_id, profile)
     ) PARTITION BY HASH (parcel_id);
     CREATE TABLE parcel_scores_p0 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 0);
     CREATE TABLE parcel_scores_p1 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 1);
     CREATE TABLE parcel_scores_p2 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 2);
     CREATE TABLE parcel_scores_p3 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 3);
     CREATE TABLE parcel_scores_p4 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 4);
     CREATE TABLE parcel_scores_p5 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 5);
     CREATE TABLE parcel_scores_p6 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 6);
     CREATE TABLE parcel_scores_p7 PARTITION OF parcel_scores FOR VALUES WITH (MODULUS 8, REMAINDER 7);
     CREATE TABLE satellite_imagery (
        id BIGSERIAL PRIMARY KEY,
        scene_id TEXT NOT NULL UNIQUE,
        image_url TEXT NOT NULL,
        capture_date DATE NOT NULL,
        cloud_cover DOUBLE PRECISION,
        resolution DOUBLE PRECISION,
        footprint geometry(POLYGON, 4326)
     );",
    // 5: the model registry, shared by the replicas: each registered version's file (the
    // library's checksummed envelope, byte for byte as the registry saved it) and its card, and
    // the production version; changes notify `landopp_models`
    "CREATE TABLE models (
        model_version TEXT PRIMARY KEY,
        card JSONB NOT NULL,
        file TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        added_at BIGINT NOT NULL,
        added_by TEXT NOT NULL
     );
     CREATE TABLE model_production (
        singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
        model_version TEXT NOT NULL REFERENCES models (model_version),
        promoted_at BIGINT NOT NULL,
        promoted_by TEXT NOT NULL
     );",
];

/// This replica's name: `LANDOPP_REPLICA`, else the host name (the pod's name in Kubernetes).
pub fn replica() -> String {
    std::env::var("LANDOPP_REPLICA")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "replica".into())
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A stored API key (without its secret).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct KeyRecord {
    /// Public id (the part of the key before the secret).
    pub id: String,
    /// Role granted.
    pub role: String,
    /// Free label.
    pub label: String,
    /// Creation, Unix seconds.
    pub created_at: i64,
    /// Expiry, Unix seconds (none: never).
    pub expires_at: Option<i64>,
    /// Revocation, Unix seconds.
    pub revoked_at: Option<i64>,
    /// SHA-256 of the secret (not serialised).
    #[serde(skip)]
    #[schemars(skip)]
    pub secret_sha256: Vec<u8>,
}

/// A stored user (without the password hash).
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct UserRecord {
    /// Login name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Creation, Unix seconds.
    pub created_at: i64,
}

/// One audit entry.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct AuditEntry {
    /// Sequence number (gapless, increasing).
    pub seq: i64,
    /// Unix seconds.
    pub at: i64,
    /// Who (`key:<id>`, `user:<name>`, `anonymous`).
    pub actor: String,
    /// What (`login`, `auth_failure`, `key.create`, `feedback.create`, ...).
    pub action: String,
    /// On what.
    pub target: String,
    /// `ok`, `denied`, `failed`.
    pub outcome: String,
    /// Client address.
    pub client: String,
    /// Request id.
    pub request_id: String,
}

/// Feedback on a parcel (an outcome observed later: sold, developed, price).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// Parcel id (must exist).
    pub parcel_id: String,
    /// Numeric label (a price, a yield, 0/1).
    #[serde(default)]
    pub label: Option<f64>,
    /// Categorical outcome (`developed`, `sold`, `rejected`, ...), at most 64 characters.
    #[serde(default)]
    pub outcome: Option<String>,
    /// Free note, at most 2,000 characters.
    #[serde(default)]
    pub note: Option<String>,
}

/// Predictions by one model in one request.
#[derive(Debug, Clone)]
pub struct PredictionRecord {
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Model version.
    pub model_version: String,
    /// Parcels predicted.
    pub n: usize,
}

/// What the analytics writer records.
#[derive(Debug, Clone)]
pub enum Event {
    /// A search.
    Search(SearchRecord),
    /// Predictions.
    Predictions(PredictionRecord),
    /// An audit entry that needs no acknowledgement (authentication failures, refusals): written
    /// in the next batch, so a flood of bad credentials costs one transaction a second.
    Audit(AuditEntry),
}

/// One search recorded for analytics.
#[derive(Debug, Clone)]
pub struct SearchRecord {
    /// Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// Centre of the area searched (WGS 84), when there was one.
    pub centre: Option<(f64, f64)>,
    /// Matches.
    pub total: usize,
    /// Time taken, microseconds.
    pub micros: u64,
}

/// The store: the SQLite file's one connection behind a mutex (SQLite serialises writers
/// anyway), or a pool of PostgreSQL connections; every call runs on tokio's blocking pool through
/// [`Store::run`].
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

type PgPool = r2d2::Pool<r2d2_postgres::PostgresConnectionManager<postgres::NoTls>>;

#[derive(Clone)]
enum Backend {
    Lite(Arc<Mutex<Connection>>),
    Pg(Arc<Pg>),
}

/// The PostgreSQL side: the pool, whether the migrations ran, and a circuit breaker.
struct Pg {
    pool: Pool,
    migrated: std::sync::atomic::AtomicBool,
    /// While set and in the future, calls fail at once with `Unavailable` instead of each
    /// waiting out a connection timeout; the first call after it tries the database again.
    open_until: Mutex<Option<std::time::Instant>>,
}

/// How long the breaker stays open after the database was found unreachable.
const BREAKER: std::time::Duration = std::time::Duration::from_secs(3);

/// The PostgreSQL pool. The synchronous client closes a connection by blocking on its own small
/// runtime, which a tokio worker may not do: the last owner hands the pool to a plain thread to
/// close.
struct Pool(Option<PgPool>);

impl std::ops::Deref for Pool {
    type Target = PgPool;
    fn deref(&self) -> &PgPool {
        self.0.as_ref().expect("the pool lives until dropped")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(p));
        }
    }
}

impl std::fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conn::Lite(_) => "Conn(SQLite)",
            Conn::Pg(_) => "Conn(PostgreSQL)",
        })
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.backend {
            Backend::Lite(_) => "Store(SQLite)",
            Backend::Pg(_) => "Store(PostgreSQL)",
        })
    }
}

/// Connections a replica holds at most (the blocking pool's store calls share them).
const PG_POOL: u32 = 8;

impl Store {
    /// Open (creating) the file and run the pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut c = Connection::open(path)?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", "FULL")?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        let done: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0))?;
        for (k, m) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
            let tx = c.transaction()?;
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (k + 1) as i64)?;
            tx.commit()?;
        }
        Ok(Store { backend: Backend::Lite(Arc::new(Mutex::new(c))) })
    }

    /// Connect to PostgreSQL (`postgres://user@host:port/db?options=...`; no TLS: a database
    /// beside the server, or a TLS-terminating proxy) and run the pending migrations; the
    /// database must answer now.
    pub fn connect(url: &str) -> StoreResult<Self> {
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Postgres(format!("database_url is not a PostgreSQL connection string: {e}"))
        })?;
        // one connection first: its error says why (a wrong password, no such database), where
        // the pool would only say it timed out
        config.connect(postgres::NoTls).map_err(|e| match e.as_db_error() {
            Some(d) => StoreError::Postgres(format!("cannot connect: {} ({})", d.message(), d.code().code())),
            None => StoreError::Unavailable(format!("cannot connect: {e}")),
        })?;
        let s = Self::connect_lazy(url)?;
        s.run_sync(|_| Ok(()))?;
        Ok(s)
    }

    /// [`Store::connect`] without waiting for the database: the pool connects, and the
    /// migrations run, on first use; until the database answers every call fails fast with
    /// `Unavailable` (a server starts, not ready, and becomes ready when the database comes).
    pub fn connect_lazy(url: &str) -> StoreResult<Self> {
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Postgres(format!("database_url is not a PostgreSQL connection string: {e}"))
        })?;
        let manager = r2d2_postgres::PostgresConnectionManager::new(config, postgres::NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(PG_POOL)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(3))
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        Ok(Store {
            backend: Backend::Pg(Arc::new(Pg {
                pool: Pool(Some(pool)),
                migrated: std::sync::atomic::AtomicBool::new(false),
                open_until: Mutex::new(None),
            })),
        })
    }

    /// True for PostgreSQL.
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Pg(_))
    }

    /// Run `f` with a connection on the blocking pool.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let store = self.clone();
        let span = crate::telemetry::work_span("store");
        tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            store.run_sync(f)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Run `f` now, on this thread (start-up, the job threads and tests).
    pub fn run_sync<T>(&self, f: impl FnOnce(&mut Conn<'_>) -> StoreResult<T>) -> StoreResult<T> {
        match &self.backend {
            Backend::Lite(conn) => {
                let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
                f(&mut Conn::Lite(&mut c))
            }
            Backend::Pg(pg) => {
                use std::sync::atomic::Ordering;
                let now = std::time::Instant::now();
                if pg.open_until.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|t| now < t) {
                    return Err(StoreError::Unavailable("the database did not answer moments ago".into()));
                }
                let trip = |e: StoreError| {
                    if matches!(e, StoreError::Unavailable(_)) {
                        let until = std::time::Instant::now() + BREAKER;
                        *pg.open_until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
                    }
                    e
                };
                let mut c = pg.pool.get().map_err(|e| trip(StoreError::Unavailable(format!("no connection: {e}"))))?;
                if !pg.migrated.load(Ordering::SeqCst) {
                    migrate_pg(&mut c).map_err(trip)?;
                    pg.migrated.store(true, Ordering::SeqCst);
                }
                let out = f(&mut Conn::Pg(&mut c)).map_err(trip);
                if out.is_ok() {
                    *pg.open_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
                }
                out
            }
        }
    }
}

/// Apply the pending PostgreSQL migrations in one transaction under an advisory lock.
fn migrate_pg(c: &mut postgres::Client) -> StoreResult<()> {
    let mut tx = c.transaction()?;
    // one migrating replica at a time; the others wait here, then find nothing to do
    tx.execute("SELECT pg_advisory_xact_lock(7253012026)", &[])?;
    tx.batch_execute(
        "CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public;
         CREATE TABLE IF NOT EXISTS landopp_schema (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);",
    )?;
    let done: i32 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM landopp_schema", &[])?.get(0);
    if done as usize > PG_MIGRATIONS.len() {
        return Err(StoreError::Postgres(format!(
            "the database is at schema version {done}, newer than this server's {}: upgrade the server",
            PG_MIGRATIONS.len()
        )));
    }
    for (k, m) in PG_MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        tx.batch_execute(m)?;
        tx.execute("INSERT INTO landopp_schema (version, applied_at) VALUES ($1, $2)", &[&((k + 1) as i32), &now()])?;
    }
    tx.commit()?;
    Ok(())
}

/// Copy the embedded store at `path` to `out` (a new file) while it may be in use: `VACUUM INTO`
/// writes one consistent snapshot (WAL included) without stopping writers.
pub fn backup_sqlite(path: &Path, out: &Path) -> Result<(), String> {
    if !path.exists() {
        return Err(format!("{} does not exist", path.display()));
    }
    if out.exists() {
        return Err(format!("{} exists: give a new file", out.display()));
    }
    let c = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    c.busy_timeout(std::time::Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let target = out.to_str().ok_or("the backup path is not UTF-8")?;
    c.execute("VACUUM INTO ?1", params![target]).map_err(|e| format!("backup: {e}"))?;
    Ok(())
}

/// The schema version a database is at, and the server's latest (`landopp-server migrate`).
pub fn migrate(url: &str) -> StoreResult<(i32, usize)> {
    let s = Store::connect(url)?;
    let v = s.run_sync(|c| match c {
        Conn::Pg(c) => Ok(c.query_one("SELECT COALESCE(MAX(version), 0) FROM landopp_schema", &[])?.get(0)),
        Conn::Lite(_) => Ok(0),
    })?;
    Ok((v, PG_MIGRATIONS.len()))
}

impl Conn<'_> {
    /// Can the store take a write now? (SQLite: the write lock; PostgreSQL: a primary, not a
    /// read-only standby.)
    pub fn writable(&mut self) -> StoreResult<()> {
        match self {
            Conn::Lite(c) => Ok(c.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?),
            Conn::Pg(c) => {
                let ro: String = c.query_one("SHOW transaction_read_only", &[])?.get(0);
                if ro == "on" {
                    return Err(StoreError::Postgres("the database is read-only (a standby?)".into()));
                }
                Ok(())
            }
        }
    }
}

fn pg_conflict(e: postgres::Error, what: &str) -> StoreError {
    if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(what.to_string())
    } else {
        e.into()
    }
}

fn conflict(e: rusqlite::Error, what: &str) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(what.to_string())
        }
        e => StoreError::Sqlite(e),
    }
}

/// API keys.
pub mod keys {
    use super::*;

    fn pg_row(r: &postgres::Row) -> KeyRecord {
        KeyRecord {
            id: r.get(0),
            secret_sha256: r.get(1),
            role: r.get(2),
            label: r.get(3),
            created_at: r.get(4),
            expires_at: r.get(5),
            revoked_at: r.get(6),
        }
    }

    /// Insert a key.
    pub fn insert(c: &mut Conn<'_>, k: &KeyRecord) -> StoreResult<()> {
        match c {
            Conn::Lite(c) => {
                c.execute(
                    "INSERT INTO api_keys (id, secret_sha256, role, label, created_at, expires_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
                    params![k.id, k.secret_sha256, k.role, k.label, k.created_at, k.expires_at],
                )
                .map_err(|e| conflict(e, "key id"))?;
            }
            Conn::Pg(c) => {
                c.execute(
                    "INSERT INTO api_keys (id, secret_sha256, role, label, created_at, expires_at, revoked_at)
                     VALUES ($1, $2, $3, $4, $5, $6, NULL)",
                    &[&k.id, &k.secret_sha256, &k.role, &k.label, &k.created_at, &k.expires_at],
                )
                .map_err(|e| pg_conflict(e, "key id"))?;
            }
        }
        Ok(())
    }

    /// Every key, newest first.
    pub fn list(c: &mut Conn<'_>) -> StoreResult<Vec<KeyRecord>> {
        const Q: &str = "SELECT id, secret_sha256, role, label, created_at, expires_at, revoked_at FROM api_keys
             ORDER BY created_at DESC, id";
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(Q)?;
                let rows = s.query_map([], |r| {
                    Ok(KeyRecord {
                        id: r.get(0)?,
                        secret_sha256: r.get(1)?,
                        role: r.get(2)?,
                        label: r.get(3)?,
                        created_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        revoked_at: r.get(6)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c.query(Q, &[])?.iter().map(pg_row).collect()),
        }
    }

    /// Revoke a key; false when there is no such active key.
    pub fn revoke(c: &mut Conn<'_>, id: &str, at: i64) -> StoreResult<bool> {
        Ok(match c {
            Conn::Lite(c) => {
                c.execute("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, at])?
                    == 1
            }
            Conn::Pg(c) => {
                c.execute("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&id, &at])? == 1
            }
        })
    }
}

/// Users.
pub mod users {
    use super::*;

    /// Insert a user.
    pub fn insert(c: &mut Conn<'_>, name: &str, role: &str, password_hash: &str) -> StoreResult<()> {
        match c {
            Conn::Lite(c) => {
                c.execute(
                    "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![name, role, password_hash, now()],
                )
                .map_err(|e| conflict(e, "user"))?;
            }
            Conn::Pg(c) => {
                c.execute(
                    "INSERT INTO users (name, role, password_hash, created_at) VALUES ($1, $2, $3, $4)",
                    &[&name, &role, &password_hash, &now()],
                )
                .map_err(|e| pg_conflict(e, "user"))?;
            }
        }
        Ok(())
    }

    /// A user and the password hash.
    pub fn get(c: &mut Conn<'_>, name: &str) -> StoreResult<Option<(UserRecord, String)>> {
        match c {
            Conn::Lite(c) => Ok(c
                .query_row(
                    "SELECT name, role, created_at, password_hash FROM users WHERE name = ?1",
                    params![name],
                    |r| Ok((UserRecord { name: r.get(0)?, role: r.get(1)?, created_at: r.get(2)? }, r.get(3)?)),
                )
                .optional()?),
            Conn::Pg(c) => Ok(c
                .query_opt("SELECT name, role, created_at, password_hash FROM users WHERE name = $1", &[&name])?
                .map(|r| (UserRecord { name: r.get(0), role: r.get(1), created_at: r.get(2) }, r.get(3)))),
        }
    }

    /// Every user.
    pub fn list(c: &mut Conn<'_>) -> StoreResult<Vec<UserRecord>> {
        const Q: &str = "SELECT name, role, created_at FROM users ORDER BY name";
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(Q)?;
                let rows =
                    s.query_map([], |r| Ok(UserRecord { name: r.get(0)?, role: r.get(1)?, created_at: r.get(2)? }))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query(Q, &[])?
                .iter()
                .map(|r| UserRecord { name: r.get(0), role: r.get(1), created_at: r.get(2) })
                .collect()),
        }
    }

    /// Delete a user; false when absent.
    pub fn delete(c: &mut Conn<'_>, name: &str) -> StoreResult<bool> {
        Ok(match c {
            Conn::Lite(c) => c.execute("DELETE FROM users WHERE name = ?1", params![name])? == 1,
            Conn::Pg(c) => c.execute("DELETE FROM users WHERE name = $1", &[&name])? == 1,
        })
    }
}

/// The audit log (append-only: triggers refuse UPDATE and DELETE).
pub mod audit {
    use super::*;

    /// Append an entry (`seq` and `at` are assigned).
    pub fn append(c: &mut Conn<'_>, e: &AuditEntry) -> StoreResult<()> {
        match c {
            Conn::Lite(c) => append_lite(c, e),
            Conn::Pg(c) => {
                append_pg(&mut **c, e)?;
                Ok(())
            }
        }
    }

    pub(super) fn append_lite(c: &Connection, e: &AuditEntry) -> StoreResult<()> {
        c.execute(
            "INSERT INTO audit_log (at, actor, action, target, outcome, client, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![now(), e.actor, e.action, e.target, e.outcome, e.client, e.request_id],
        )?;
        Ok(())
    }

    pub(super) fn append_pg(c: &mut impl postgres::GenericClient, e: &AuditEntry) -> StoreResult<()> {
        c.execute(
            "INSERT INTO audit_log (at, actor, action, target, outcome, client, request_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&now(), &e.actor, &e.action, &e.target, &e.outcome, &e.client, &e.request_id],
        )?;
        Ok(())
    }

    /// The latest `limit` entries, newest first.
    pub fn latest(c: &mut Conn<'_>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(
                    "SELECT seq, at, actor, action, target, outcome, client, request_id FROM audit_log
                     ORDER BY seq DESC LIMIT ?1",
                )?;
                let rows = s.query_map(params![limit as i64], |r| {
                    Ok(AuditEntry {
                        seq: r.get(0)?,
                        at: r.get(1)?,
                        actor: r.get(2)?,
                        action: r.get(3)?,
                        target: r.get(4)?,
                        outcome: r.get(5)?,
                        client: r.get(6)?,
                        request_id: r.get(7)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query(
                    "SELECT seq, at, actor, action, target, outcome, client, request_id FROM audit_log
                     ORDER BY seq DESC LIMIT $1",
                    &[&(limit as i64)],
                )?
                .iter()
                .map(|r| AuditEntry {
                    seq: r.get(0),
                    at: r.get(1),
                    actor: r.get(2),
                    action: r.get(3),
                    target: r.get(4),
                    outcome: r.get(5),
                    client: r.get(6),
                    request_id: r.get(7),
                })
                .collect()),
        }
    }
}

/// Feedback.
pub mod feedback {
    use super::*;

    /// Insert; returns the new id.
    pub fn insert(c: &mut Conn<'_>, actor: &str, f: &Feedback, request_id: &str) -> StoreResult<i64> {
        match c {
            Conn::Lite(c) => {
                c.execute(
                    "INSERT INTO feedback (at, actor, parcel_id, label, outcome, note, request_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![now(), actor, f.parcel_id, f.label, f.outcome, f.note, request_id],
                )?;
                Ok(c.last_insert_rowid())
            }
            Conn::Pg(c) => Ok(c
                .query_one(
                    "INSERT INTO feedback (at, actor, parcel_id, label, outcome, note, request_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    &[&now(), &actor, &f.parcel_id, &f.label, &f.outcome, &f.note, &request_id],
                )?
                .get(0)),
        }
    }

    /// Every feedback record with its parcel, oldest first.
    pub fn all(c: &mut Conn<'_>) -> StoreResult<Vec<Feedback>> {
        Ok(timed(c)?.into_iter().map(|(_, f)| f).collect())
    }

    /// Every feedback record with its time (Unix seconds), oldest first.
    pub fn timed(c: &mut Conn<'_>) -> StoreResult<Vec<(i64, Feedback)>> {
        const Q: &str = "SELECT at, parcel_id, label, outcome, note FROM feedback ORDER BY id";
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(Q)?;
                let rows = s.query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        Feedback { parcel_id: r.get(1)?, label: r.get(2)?, outcome: r.get(3)?, note: r.get(4)? },
                    ))
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query(Q, &[])?
                .iter()
                .map(|r| {
                    (r.get(0), Feedback { parcel_id: r.get(1), label: r.get(2), outcome: r.get(3), note: r.get(4) })
                })
                .collect()),
        }
    }

    /// Every feedback id (tests of durability).
    pub fn ids(c: &mut Conn<'_>) -> StoreResult<Vec<i64>> {
        const Q: &str = "SELECT id FROM feedback ORDER BY id";
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(Q)?;
                let rows = s.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c.query(Q, &[])?.iter().map(|r| r.get(0)).collect()),
        }
    }
}

/// Search analytics.
pub mod searches {
    use super::*;

    /// Insert a batch of events in one transaction.
    pub fn insert_batch(c: &mut Conn<'_>, batch: &[Event]) -> StoreResult<()> {
        match c {
            Conn::Lite(c) => {
                let tx = c.transaction()?;
                {
                    let mut s = tx.prepare_cached(
                        "INSERT INTO searches (at, actor, cx, cy, total, micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?;
                    let mut p = tx.prepare_cached(
                        "INSERT INTO predictions (at, actor, model_version, n) VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    for e in batch {
                        match e {
                            Event::Search(r) => s.execute(params![
                                r.at,
                                r.actor,
                                r.centre.map(|c| c.0),
                                r.centre.map(|c| c.1),
                                r.total as i64,
                                r.micros as i64
                            ])?,
                            Event::Predictions(r) => p.execute(params![r.at, r.actor, r.model_version, r.n as i64])?,
                            Event::Audit(a) => {
                                audit::append_lite(&tx, a)?;
                                1
                            }
                        };
                    }
                }
                tx.commit()?;
            }
            Conn::Pg(c) => {
                let mut tx = c.transaction()?;
                let s = tx.prepare(
                    "INSERT INTO searches (at, actor, cx, cy, total, micros) VALUES ($1, $2, $3, $4, $5, $6)",
                )?;
                let p = tx.prepare("INSERT INTO predictions (at, actor, model_version, n) VALUES ($1, $2, $3, $4)")?;
                for e in batch {
                    match e {
                        Event::Search(r) => {
                            tx.execute(
                                &s,
                                &[
                                    &r.at,
                                    &r.actor,
                                    &r.centre.map(|c| c.0),
                                    &r.centre.map(|c| c.1),
                                    &(r.total as i64),
                                    &(r.micros as i64),
                                ],
                            )?;
                        }
                        Event::Predictions(r) => {
                            tx.execute(&p, &[&r.at, &r.actor, &r.model_version, &(r.n as i64)])?;
                        }
                        Event::Audit(a) => audit::append_pg(&mut tx, a)?,
                    }
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    /// Centres (WGS 84 longitude, latitude) of the searches since `since`.
    pub fn centres(c: &mut Conn<'_>, since: i64) -> StoreResult<Vec<(f64, f64)>> {
        match c {
            Conn::Lite(c) => {
                let mut s =
                    c.prepare("SELECT cx, cy FROM searches WHERE at >= ?1 AND cx IS NOT NULL AND cy IS NOT NULL")?;
                let rows = s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query("SELECT cx, cy FROM searches WHERE at >= $1 AND cx IS NOT NULL AND cy IS NOT NULL", &[&since])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()),
        }
    }

    /// Predictions per model version since `since`: `(version, requests, parcels)`.
    pub fn model_usage(c: &mut Conn<'_>, since: i64) -> StoreResult<Vec<(String, i64, i64)>> {
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(
                    "SELECT model_version, COUNT(*), SUM(n) FROM predictions WHERE at >= ?1 GROUP BY model_version
                     ORDER BY model_version",
                )?;
                let rows = s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query(
                    "SELECT model_version, COUNT(*), SUM(n)::BIGINT FROM predictions WHERE at >= $1
                     GROUP BY model_version ORDER BY model_version",
                    &[&since],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect()),
        }
    }

    /// Searches per hour since `since` (Unix seconds): `(hour start, count, mean micros)`.
    pub fn per_hour(c: &mut Conn<'_>, since: i64) -> StoreResult<Vec<(i64, i64, f64)>> {
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(
                    "SELECT (at / 3600) * 3600 AS h, COUNT(*), AVG(micros) FROM searches WHERE at >= ?1
                     GROUP BY h ORDER BY h",
                )?;
                let rows = s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query(
                    "SELECT (at / 3600) * 3600 AS h, COUNT(*), AVG(micros)::DOUBLE PRECISION FROM searches
                     WHERE at >= $1 GROUP BY h ORDER BY h",
                    &[&since],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect()),
        }
    }
}

/// A feature-build job.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct JobRecord {
    /// Id.
    pub id: String,
    /// Who started it.
    pub actor: String,
    /// `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    pub state: String,
    /// Steps done.
    pub done: i64,
    /// Steps in all.
    pub total: i64,
    /// What is running.
    pub message: String,
    /// The core's error code when it failed.
    pub error_code: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Parcels in the result.
    pub rows: Option<i64>,
    /// Feature columns in the result.
    pub columns: Option<i64>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub finished_at: Option<i64>,
}

/// Jobs.
pub mod jobs {
    use super::*;

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JobRecord> {
        Ok(JobRecord {
            id: r.get(0)?,
            actor: r.get(1)?,
            state: r.get(2)?,
            done: r.get(3)?,
            total: r.get(4)?,
            message: r.get(5)?,
            error_code: r.get(6)?,
            error: r.get(7)?,
            rows: r.get(8)?,
            columns: r.get(9)?,
            created_at: r.get(10)?,
            finished_at: r.get(11)?,
        })
    }
    fn pg_row(r: &postgres::Row) -> JobRecord {
        JobRecord {
            id: r.get(0),
            actor: r.get(1),
            state: r.get(2),
            done: r.get(3),
            total: r.get(4),
            message: r.get(5),
            error_code: r.get(6),
            error: r.get(7),
            rows: r.get(8),
            columns: r.get(9),
            created_at: r.get(10),
            finished_at: r.get(11),
        }
    }
    const COLS: &str =
        "id, actor, state, done, total, message, error_code, error, rows, columns, created_at, finished_at";

    /// Insert a queued job.
    pub fn insert(c: &mut Conn<'_>, id: &str, actor: &str) -> StoreResult<()> {
        match c {
            Conn::Lite(c) => {
                c.execute(
                    "INSERT INTO jobs (id, actor, state, created_at) VALUES (?1, ?2, 'queued', ?3)",
                    params![id, actor, now()],
                )?;
            }
            Conn::Pg(c) => {
                c.execute(
                    "INSERT INTO jobs (id, actor, state, created_at, owner) VALUES ($1, $2, 'queued', $3, $4)",
                    &[&id, &actor, &now(), &replica()],
                )?;
            }
        }
        Ok(())
    }

    /// One job.
    pub fn get(c: &mut Conn<'_>, id: &str) -> StoreResult<Option<JobRecord>> {
        match c {
            Conn::Lite(c) => {
                Ok(c.query_row(&format!("SELECT {COLS} FROM jobs WHERE id = ?1"), params![id], row).optional()?)
            }
            Conn::Pg(c) => {
                Ok(c.query_opt(&format!("SELECT {COLS} FROM jobs WHERE id = $1"), &[&id])?.map(|r| pg_row(&r)))
            }
        }
    }

    /// The latest jobs.
    pub fn latest(c: &mut Conn<'_>, limit: usize) -> StoreResult<Vec<JobRecord>> {
        match c {
            Conn::Lite(c) => {
                let mut s = c.prepare(&format!("SELECT {COLS} FROM jobs ORDER BY created_at DESC, id LIMIT ?1"))?;
                let rows = s.query_map(params![limit as i64], row)?;
                Ok(rows.collect::<Result<_, _>>()?)
            }
            Conn::Pg(c) => Ok(c
                .query(&format!("SELECT {COLS} FROM jobs ORDER BY created_at DESC, id LIMIT $1"), &[&(limit as i64)])?
                .iter()
                .map(pg_row)
                .collect()),
        }
    }

    /// Progress of a running job.
    pub fn progress(c: &mut Conn<'_>, id: &str, done: i64, total: i64, message: &str) -> StoreResult<()> {
        match c {
            Conn::Lite(c) => {
                c.execute(
                    "UPDATE jobs SET state = 'running', done = ?2, total = ?3, message = ?4
                     WHERE id = ?1 AND state IN ('queued', 'running')",
                    params![id, done, total, message],
                )?;
            }
            Conn::Pg(c) => {
                c.execute(
                    "UPDATE jobs SET state = 'running', done = $2, total = $3, message = $4
                     WHERE id = $1 AND state IN ('queued', 'running')",
                    &[&id, &done, &total, &message],
                )?;
            }
        }
        Ok(())
    }

    /// The end of a job (`succeeded`, `failed` or `cancelled`).
    pub fn finish(
        c: &mut Conn<'_>,
        id: &str,
        state: &str,
        error: Option<(&str, &str)>,
        shape: Option<(i64, i64)>,
    ) -> StoreResult<()> {
        let (code, why) = (error.map(|e| e.0), error.map(|e| e.1));
        let (rows, cols) = (shape.map(|s| s.0), shape.map(|s| s.1));
        match c {
            Conn::Lite(c) => {
                c.execute(
                    "UPDATE jobs SET state = ?2, error_code = ?3, error = ?4, rows = ?5, columns = ?6, finished_at = ?7
                     WHERE id = ?1 AND state IN ('queued', 'running')",
                    params![id, state, code, why, rows, cols, now()],
                )?;
            }
            Conn::Pg(c) => {
                c.execute(
                    "UPDATE jobs SET state = $2, error_code = $3, error = $4, rows = $5, columns = $6, finished_at = $7
                     WHERE id = $1 AND state IN ('queued', 'running')",
                    &[&id, &state, &code, &why, &rows, &cols, &now()],
                )?;
            }
        }
        Ok(())
    }

    /// Jobs a restart interrupted: failed, with the reason. A job runs in the replica that took
    /// it, so on a shared database a replica fails only its own ([`replica`]: the host name, which
    /// a Kubernetes pod or a systemd host keeps across restarts).
    pub fn fail_unfinished(c: &mut Conn<'_>) -> StoreResult<usize> {
        Ok(match c {
            Conn::Lite(c) => c.execute(
                "UPDATE jobs SET state = 'failed', error_code = 'INTERRUPTED', error = 'the server restarted', finished_at = ?1
                 WHERE state IN ('queued', 'running')",
                params![now()],
            )?,
            Conn::Pg(c) => c.execute(
                "UPDATE jobs SET state = 'failed', error_code = 'INTERRUPTED', error = 'the server restarted', finished_at = $1
                 WHERE state IN ('queued', 'running') AND owner = $2",
                &[&now(), &replica()],
            )? as usize,
        })
    }
}

/// The model registry in a shared database (PostgreSQL): what every replica's local registry
/// directory follows. An embedded store has nothing here: its one server's registry directory is
/// the registry (the SQLite arms answer "none").
pub mod models {
    use super::*;

    /// A registered model as stored: its version, card (JSON) and file.
    #[derive(Debug, Clone)]
    pub struct StoredModel {
        /// Version.
        pub model_version: String,
        /// The card, as JSON text.
        pub card: String,
        /// The model file's text.
        pub file: String,
    }

    /// Every stored version, by version.
    pub fn versions(c: &mut Conn<'_>) -> StoreResult<Vec<String>> {
        match c {
            Conn::Lite(_) => Ok(Vec::new()),
            Conn::Pg(c) => Ok(c
                .query("SELECT model_version FROM models ORDER BY model_version", &[])?
                .iter()
                .map(|r| r.get(0))
                .collect()),
        }
    }

    /// One version's file.
    pub fn file(c: &mut Conn<'_>, version: &str) -> StoreResult<Option<String>> {
        match c {
            Conn::Lite(_) => Ok(None),
            Conn::Pg(c) => {
                Ok(c.query_opt("SELECT file FROM models WHERE model_version = $1", &[&version])?.map(|r| r.get(0)))
            }
        }
    }

    /// Register a version; false (nothing written) when the version is stored already.
    /// Notifies `landopp_models`.
    pub fn add(c: &mut Conn<'_>, m: &StoredModel, actor: &str) -> StoreResult<bool> {
        match c {
            Conn::Lite(_) => Ok(false),
            Conn::Pg(c) => {
                use sha2::Digest;
                let sha = hex(&sha2::Sha256::digest(m.file.as_bytes()));
                let mut tx = c.transaction()?;
                let n = tx.execute(
                    "INSERT INTO models (model_version, card, file, sha256, added_at, added_by)
                     VALUES ($1, $2::text::jsonb, $3, $4, $5, $6) ON CONFLICT (model_version) DO NOTHING",
                    &[&m.model_version, &m.card, &m.file, &sha, &now(), &actor],
                )?;
                if n > 0 {
                    tx.execute("SELECT pg_notify('landopp_models', $1)", &[&m.model_version])?;
                }
                tx.commit()?;
                Ok(n > 0)
            }
        }
    }

    /// The production version.
    pub fn production(c: &mut Conn<'_>) -> StoreResult<Option<String>> {
        match c {
            Conn::Lite(_) => Ok(None),
            Conn::Pg(c) => Ok(c.query_opt("SELECT model_version FROM model_production", &[])?.map(|r| r.get(0))),
        }
    }

    /// Make a stored version production. Notifies `landopp_models`.
    pub fn promote(c: &mut Conn<'_>, version: &str, actor: &str) -> StoreResult<()> {
        match c {
            Conn::Lite(_) => Ok(()),
            Conn::Pg(c) => {
                let mut tx = c.transaction()?;
                tx.execute(
                    "INSERT INTO model_production (singleton, model_version, promoted_at, promoted_by)
                     VALUES (TRUE, $1, $2, $3)
                     ON CONFLICT (singleton) DO UPDATE
                     SET model_version = $1, promoted_at = $2, promoted_by = $3",
                    &[&version, &now(), &actor],
                )?;
                tx.execute("SELECT pg_notify('landopp_models', $1)", &[&version])?;
                tx.commit()?;
                Ok(())
            }
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
