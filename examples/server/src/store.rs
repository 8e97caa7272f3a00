//! The embedded store: one SQLite file for users, API keys, the audit log, feedback and search
//! analytics. WAL journal with `synchronous = FULL`: a write is on disk before the request that
//! made it is acknowledged, so a `kill -9` (or a power cut) at any moment loses nothing that was
//! answered 2xx. Parameterised statements only. Versioned migrations run at open.

use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Store errors (logged; a client sees `INTERNAL` or `CONFLICT`).
#[derive(Debug)]
pub enum StoreError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// A unique name or id already exists.
    Conflict(String),
    /// The blocking task did not finish.
    Join(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "store: {e}"),
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

/// The store: one connection behind a mutex (SQLite serialises writers anyway); every call runs
/// on tokio's blocking pool through [`Store::run`].
#[derive(Debug, Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

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
        Ok(Store { conn: Arc::new(Mutex::new(c)) })
    }

    /// Run `f` with the connection on the blocking pool.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        let span = crate::telemetry::work_span("store");
        tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Run `f` now, on this thread (start-up and tests).
    pub fn run_sync<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut c = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c)
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

    /// Insert a key.
    pub fn insert(c: &Connection, k: &KeyRecord) -> StoreResult<()> {
        c.execute(
            "INSERT INTO api_keys (id, secret_sha256, role, label, created_at, expires_at, revoked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
            params![k.id, k.secret_sha256, k.role, k.label, k.created_at, k.expires_at],
        )
        .map_err(|e| conflict(e, "key id"))?;
        Ok(())
    }

    /// Every key, newest first.
    pub fn list(c: &Connection) -> StoreResult<Vec<KeyRecord>> {
        let mut s = c.prepare(
            "SELECT id, secret_sha256, role, label, created_at, expires_at, revoked_at FROM api_keys
             ORDER BY created_at DESC, id",
        )?;
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

    /// Revoke a key; false when there is no such active key.
    pub fn revoke(c: &Connection, id: &str, at: i64) -> StoreResult<bool> {
        Ok(c.execute("UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, at])? == 1)
    }
}

/// Users.
pub mod users {
    use super::*;

    /// Insert a user.
    pub fn insert(c: &Connection, name: &str, role: &str, password_hash: &str) -> StoreResult<()> {
        c.execute(
            "INSERT INTO users (name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, role, password_hash, now()],
        )
        .map_err(|e| conflict(e, "user"))?;
        Ok(())
    }

    /// A user and the password hash.
    pub fn get(c: &Connection, name: &str) -> StoreResult<Option<(UserRecord, String)>> {
        Ok(c.query_row("SELECT name, role, created_at, password_hash FROM users WHERE name = ?1", params![name], |r| {
            Ok((UserRecord { name: r.get(0)?, role: r.get(1)?, created_at: r.get(2)? }, r.get(3)?))
        })
        .optional()?)
    }

    /// Every user.
    pub fn list(c: &Connection) -> StoreResult<Vec<UserRecord>> {
        let mut s = c.prepare("SELECT name, role, created_at FROM users ORDER BY name")?;
        let rows = s.query_map([], |r| Ok(UserRecord { name: r.get(0)?, role: r.get(1)?, created_at: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Delete a user; false when absent.
    pub fn delete(c: &Connection, name: &str) -> StoreResult<bool> {
        Ok(c.execute("DELETE FROM users WHERE name = ?1", params![name])? == 1)
    }
}

/// The audit log (append-only: triggers refuse UPDATE and DELETE).
pub mod audit {
    use super::*;

    /// Append an entry (`seq` and `at` are assigned).
    pub fn append(c: &Connection, e: &AuditEntry) -> StoreResult<()> {
        c.execute(
            "INSERT INTO audit_log (at, actor, action, target, outcome, client, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![now(), e.actor, e.action, e.target, e.outcome, e.client, e.request_id],
        )?;
        Ok(())
    }

    /// The latest `limit` entries, newest first.
    pub fn latest(c: &Connection, limit: usize) -> StoreResult<Vec<AuditEntry>> {
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
}

/// Feedback.
pub mod feedback {
    use super::*;

    /// Insert; returns the new id.
    pub fn insert(c: &Connection, actor: &str, f: &Feedback, request_id: &str) -> StoreResult<i64> {
        c.execute(
            "INSERT INTO feedback (at, actor, parcel_id, label, outcome, note, request_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![now(), actor, f.parcel_id, f.label, f.outcome, f.note, request_id],
        )?;
        Ok(c.last_insert_rowid())
    }

    /// Every feedback record with its parcel, oldest first.
    pub fn all(c: &Connection) -> StoreResult<Vec<Feedback>> {
        let mut s = c.prepare("SELECT parcel_id, label, outcome, note FROM feedback ORDER BY id")?;
        let rows = s.query_map([], |r| {
            Ok(Feedback { parcel_id: r.get(0)?, label: r.get(1)?, outcome: r.get(2)?, note: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every feedback record with its time (Unix seconds), oldest first.
    pub fn timed(c: &Connection) -> StoreResult<Vec<(i64, Feedback)>> {
        let mut s = c.prepare("SELECT at, parcel_id, label, outcome, note FROM feedback ORDER BY id")?;
        let rows = s.query_map([], |r| {
            Ok((r.get(0)?, Feedback { parcel_id: r.get(1)?, label: r.get(2)?, outcome: r.get(3)?, note: r.get(4)? }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every feedback id (tests of durability).
    pub fn ids(c: &Connection) -> StoreResult<Vec<i64>> {
        let mut s = c.prepare("SELECT id FROM feedback ORDER BY id")?;
        let rows = s.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Search analytics.
pub mod searches {
    use super::*;

    /// Insert a batch of events in one transaction.
    pub fn insert_batch(c: &mut Connection, batch: &[Event]) -> StoreResult<()> {
        let tx = c.transaction()?;
        {
            let mut s = tx.prepare_cached(
                "INSERT INTO searches (at, actor, cx, cy, total, micros) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut p =
                tx.prepare_cached("INSERT INTO predictions (at, actor, model_version, n) VALUES (?1, ?2, ?3, ?4)")?;
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
                        audit::append(&tx, a)?;
                        1
                    }
                };
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Centres (WGS 84 longitude, latitude) of the searches since `since`.
    pub fn centres(c: &Connection, since: i64) -> StoreResult<Vec<(f64, f64)>> {
        let mut s = c.prepare("SELECT cx, cy FROM searches WHERE at >= ?1 AND cx IS NOT NULL AND cy IS NOT NULL")?;
        let rows = s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Predictions per model version since `since`: `(version, requests, parcels)`.
    pub fn model_usage(c: &Connection, since: i64) -> StoreResult<Vec<(String, i64, i64)>> {
        let mut s = c.prepare(
            "SELECT model_version, COUNT(*), SUM(n) FROM predictions WHERE at >= ?1 GROUP BY model_version
             ORDER BY model_version",
        )?;
        let rows = s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Searches per hour since `since` (Unix seconds): `(hour start, count, mean micros)`.
    pub fn per_hour(c: &Connection, since: i64) -> StoreResult<Vec<(i64, i64, f64)>> {
        let mut s = c.prepare(
            "SELECT (at / 3600) * 3600 AS h, COUNT(*), AVG(micros) FROM searches WHERE at >= ?1
             GROUP BY h ORDER BY h",
        )?;
        let rows = s.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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
    const COLS: &str =
        "id, actor, state, done, total, message, error_code, error, rows, columns, created_at, finished_at";

    /// Insert a queued job.
    pub fn insert(c: &Connection, id: &str, actor: &str) -> StoreResult<()> {
        c.execute(
            "INSERT INTO jobs (id, actor, state, created_at) VALUES (?1, ?2, 'queued', ?3)",
            params![id, actor, now()],
        )?;
        Ok(())
    }

    /// One job.
    pub fn get(c: &Connection, id: &str) -> StoreResult<Option<JobRecord>> {
        Ok(c.query_row(&format!("SELECT {COLS} FROM jobs WHERE id = ?1"), params![id], row).optional()?)
    }

    /// The latest jobs.
    pub fn latest(c: &Connection, limit: usize) -> StoreResult<Vec<JobRecord>> {
        let mut s = c.prepare(&format!("SELECT {COLS} FROM jobs ORDER BY created_at DESC, id LIMIT ?1"))?;
        let rows = s.query_map(params![limit as i64], row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Progress of a running job.
    pub fn progress(c: &Connection, id: &str, done: i64, total: i64, message: &str) -> StoreResult<()> {
        c.execute(
            "UPDATE jobs SET state = 'running', done = ?2, total = ?3, message = ?4 WHERE id = ?1 AND state IN ('queued', 'running')",
            params![id, done, total, message],
        )?;
        Ok(())
    }

    /// The end of a job (`succeeded`, `failed` or `cancelled`).
    pub fn finish(
        c: &Connection,
        id: &str,
        state: &str,
        error: Option<(&str, &str)>,
        shape: Option<(i64, i64)>,
    ) -> StoreResult<()> {
        c.execute(
            "UPDATE jobs SET state = ?2, error_code = ?3, error = ?4, rows = ?5, columns = ?6, finished_at = ?7
             WHERE id = ?1 AND state IN ('queued', 'running')",
            params![id, state, error.map(|e| e.0), error.map(|e| e.1), shape.map(|s| s.0), shape.map(|s| s.1), now()],
        )?;
        Ok(())
    }

    /// Jobs a restart interrupted: failed, with the reason.
    pub fn fail_unfinished(c: &Connection) -> StoreResult<usize> {
        Ok(c.execute(
            "UPDATE jobs SET state = 'failed', error_code = 'INTERRUPTED', error = 'the server restarted', finished_at = ?1
             WHERE state IN ('queued', 'running')",
            params![now()],
        )?)
    }
}
