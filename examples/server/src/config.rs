//! The server's settings: `server.toml` (`--config`), then `LANDOPP_*` environment variables over
//! it, then command-line flags. Secrets (JWT keys, the bootstrap admin key) are read from files or
//! the environment, never written to logs. Parsed and checked once, at start.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Every setting (paths in `server.toml` are relative to it). Each has a default; `deny_unknown_fields` turns a misspelt key into an error
/// at start instead of a silently ignored setting.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`LANDOPP_LISTEN`; default 127.0.0.1:8080: this machine only).
    pub listen: SocketAddr,
    /// The embedded store, one SQLite file (`LANDOPP_STORE`).
    pub store: PathBuf,
    /// A PostgreSQL + PostGIS database shared by replicas, instead of the embedded store
    /// (`postgres://user:password@host:5432/db`; `LANDOPP_DATABASE_URL`).
    pub database_url: Option<DatabaseUrl>,
    /// Redis shared by replicas for rate limits and the search-page cache
    /// (`redis://host:6379/0`; `LANDOPP_REDIS_URL`).
    pub redis_url: Option<DatabaseUrl>,
    /// The land to serve: a feature spec and scoring profiles. `None` with `--demo`.
    pub data: Option<DataConfig>,
    /// Authentication.
    pub auth: AuthConfig,
    /// Request limits.
    pub limits: Limits,
    /// Origins allowed by CORS (exact matches; `LANDOPP_CORS_ORIGINS`, comma-separated). Empty: none.
    pub cors_origins: Vec<String>,
    /// Models to serve (none: the model routes answer 404).
    pub models: Option<crate::models::ModelsConfig>,
    /// The folder feature specs posted to `/v1/jobs/features` read from (their paths are relative
    /// to it); none: no feature jobs.
    pub jobs_root: Option<PathBuf>,
    /// The built web dashboard served at `/` (`npm run build` in `examples/server/web` writes
    /// `web/dist`); none: that `dist` folder when it exists.
    pub web_root: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: PathBuf::from("landopp-server.db"),
            database_url: None,
            redis_url: None,
            data: None,
            auth: AuthConfig::default(),
            limits: Limits::default(),
            cors_origins: vec![],
            models: None,
            jobs_root: None,
            web_root: None,
        }
    }
}

/// The data the server loads at start: a feature spec (features computed at start), or parcels
/// with a feature table computed beforehand (`landopp features spec.json -o features.csv`: same
/// parcels, same order).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A feature spec (JSON or TOML, as `landopp features` takes); relative paths in it are
    /// relative to its folder.
    #[serde(default)]
    pub spec: Option<PathBuf>,
    /// Parcels (GeoPackage, Shapefile, GeoJSON, FlatGeobuf), with `features`.
    #[serde(default)]
    pub parcels: Option<PathBuf>,
    /// Layer of `parcels` (default: the first).
    #[serde(default)]
    pub layer: Option<String>,
    /// Id field of `parcels`.
    #[serde(default)]
    pub id_field: Option<String>,
    /// The parcels' feature table (CSV, as `landopp features -o` writes it).
    #[serde(default)]
    pub features: Option<PathBuf>,
    /// Attribute columns of `parcels` to serve as features (a layer that carries its features).
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Scoring profiles (JSON or TOML files), served by their `name`; the first is the default.
    #[serde(default)]
    pub profiles: Vec<PathBuf>,
    /// The bundled presets to serve as well, by name (`agriculture`, `residential`, ...).
    #[serde(default)]
    pub presets: Vec<String>,
    /// A DEM (GeoTIFF) for the hillshade basemap (`/v1/tiles/hillshade/{z}/{x}/{y}.png`); read
    /// whole at start. Without one that route answers 404.
    #[serde(default)]
    pub dem: Option<PathBuf>,
}

/// JWT settings. HS256 with a secret, or RS256 with a PEM key pair; tokens must carry `exp`,
/// `iss` and `aud` equal to these.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `HS256` or `RS256`.
    pub jwt_algorithm: String,
    /// HS256 secret file (`LANDOPP_JWT_SECRET_FILE`; or the secret in `LANDOPP_JWT_SECRET`). Without
    /// one a random secret is made at start (tokens then end with the process).
    pub jwt_secret_file: Option<PathBuf>,
    /// RS256 private key (PEM) used to sign login tokens.
    pub jwt_private_key_file: Option<PathBuf>,
    /// RS256 public key (PEM) used to verify tokens.
    pub jwt_public_key_file: Option<PathBuf>,
    /// `iss` of issued tokens, required in presented ones.
    pub jwt_issuer: String,
    /// `aud` of issued tokens, required in presented ones.
    pub jwt_audience: String,
    /// Lifetime of a login token, seconds.
    pub jwt_ttl_s: u64,
    /// Clock leeway when checking `exp` / `nbf`, seconds.
    pub jwt_leeway_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            jwt_algorithm: "HS256".into(),
            jwt_secret_file: None,
            jwt_private_key_file: None,
            jwt_public_key_file: None,
            jwt_issuer: "landopp-server".into(),
            jwt_audience: "landopp".into(),
            jwt_ttl_s: 3600,
            jwt_leeway_s: 30,
        }
    }
}

/// A PostgreSQL connection string; its `Debug` hides it (it may hold a password), so a logged
/// configuration never shows it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Requests per second per API key / user (token bucket; `LANDOPP_RATE_LIMIT`). 0 = off.
    pub rate_per_key: f64,
    /// Requests per second per client address, before authentication. 0 = off.
    pub rate_per_ip: f64,
    /// Bucket size as a multiple of the rate (bursts).
    pub burst_factor: f64,
    /// Largest request body, bytes (413 above).
    pub body_bytes: usize,
    /// Largest uploaded model file, bytes (413 above).
    pub model_bytes: usize,
    /// Most vertices in a posted area of interest.
    pub max_vertices: usize,
    /// Largest page (`limit`).
    pub max_page: usize,
    /// Request timeout, milliseconds.
    pub timeout_ms: u64,
    /// Largest `tolerance_m` of a site assembly, metres.
    pub max_site_tolerance_m: f64,
    /// Most parcels a site assembly may group.
    pub max_site_parcels: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_per_key: 100.0,
            rate_per_ip: 200.0,
            burst_factor: 2.0,
            body_bytes: 1 << 20,
            model_bytes: 256 << 20,
            max_vertices: 10_000,
            max_page: 1000,
            timeout_ms: 30_000,
            max_site_tolerance_m: 1000.0,
            max_site_parcels: 50_000,
        }
    }
}

impl ServerConfig {
    /// Read `server.toml` (when given; its paths are relative to it), then apply the environment
    /// `env`: `LANDOPP_SERVER_<KEY>` or `LANDOPP_SERVER_<SECTION>_<KEY>` for every setting (the
    /// value as a TOML value, else as text: `LANDOPP_SERVER_LIMITS_MAX_PAGE=50`,
    /// `LANDOPP_SERVER_STORE=/var/lib/landopp.db`), and the shortcuts `LANDOPP_LISTEN`,
    /// `LANDOPP_STORE`, `LANDOPP_CORS_ORIGINS` (comma-separated), `LANDOPP_RATE_LIMIT`,
    /// `LANDOPP_RATE_LIMIT_IP`, `LANDOPP_JWT_SECRET_FILE`. An unknown key is an error.
    pub fn load(path: Option<&Path>, env: &[(String, String)]) -> Result<Self, String> {
        let mut doc = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                let mut doc: toml::Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
                rebase(&mut doc, p.parent().unwrap_or(Path::new(".")));
                doc
            }
            None => toml::Table::new(),
        };
        let shortcuts: [(&str, Option<&str>, &str); 8] = [
            ("LANDOPP_REDIS_URL", None, "redis_url"),
            ("LANDOPP_LISTEN", None, "listen"),
            ("LANDOPP_STORE", None, "store"),
            ("LANDOPP_DATABASE_URL", None, "database_url"),
            ("LANDOPP_CORS_ORIGINS", None, "cors_origins"),
            ("LANDOPP_RATE_LIMIT", Some("limits"), "rate_per_key"),
            ("LANDOPP_RATE_LIMIT_IP", Some("limits"), "rate_per_ip"),
            ("LANDOPP_JWT_SECRET_FILE", Some("auth"), "jwt_secret_file"),
        ];
        // env values read as TOML that are not strings: (section, key, the text), tried as text
        // if the typed reading does not fit (`LANDOPP_SERVER_AUTH_JWT_AUDIENCE=2026`)
        let mut typed: Vec<(Option<String>, String, String)> = Vec::new();
        for (name, value) in env {
            let (section, key, value) = if let Some((_, section, key)) = shortcuts.iter().find(|s| s.0 == name) {
                let v = match *key {
                    "cors_origins" => toml::Value::Array(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| s.to_string().into())
                            .collect(),
                    ),
                    "rate_per_key" | "rate_per_ip" => {
                        toml::Value::Float(value.trim().parse().map_err(|e| format!("{name} {value:?}: {e}"))?)
                    }
                    _ => toml::Value::String(value.clone()),
                };
                (section.map(str::to_string), key.to_string(), v)
            } else if let Some(rest) = name.strip_prefix("LANDOPP_SERVER_") {
                let k = rest.to_ascii_lowercase();
                let (section, key) = match SECTIONS.iter().find(|s| k.starts_with(&format!("{s}_"))) {
                    Some(s) => (Some(s.to_string()), k[s.len() + 1..].to_string()),
                    None => (None, k),
                };
                let v = env_value(value);
                if !v.is_str() {
                    typed.push((section.clone(), key.clone(), value.clone()));
                }
                (section, key, v)
            } else {
                continue;
            };
            let table = match section {
                None => &mut doc,
                Some(s) => doc
                    .entry(s.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| format!("{s} must be a table"))?,
            };
            table.insert(key, value);
        }
        let c = parse_with_text_fallback(doc, &typed)
            .map_err(|e| format!("configuration (file or LANDOPP_SERVER_* variables): {e}"))?;
        c.check()?;
        Ok(c)
    }

    /// The checks serde cannot express.
    pub fn check(&self) -> Result<(), String> {
        let l = &self.limits;
        for (name, v) in [("rate_per_key", l.rate_per_key), ("rate_per_ip", l.rate_per_ip)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("limits.{name} {v} must be a finite number >= 0"));
            }
        }
        if !(l.burst_factor.is_finite() && l.burst_factor >= 1.0) {
            return Err(format!("limits.burst_factor {} must be >= 1", l.burst_factor));
        }
        if l.body_bytes == 0 || l.model_bytes == 0 || l.max_page == 0 || l.max_vertices < 4 || l.timeout_ms == 0 {
            return Err(
                "limits: body_bytes, model_bytes, max_page and timeout_ms must be > 0, max_vertices >= 4".into()
            );
        }
        if let Some(d) = &self.data {
            match (&d.spec, &d.parcels, &d.features, d.attributes.is_empty()) {
                (Some(_), None, None, true) | (None, Some(_), Some(_), _) | (None, Some(_), None, false) => {}
                // the land from the database's latest import: only profiles and presets here (or
                // only the basemap's DEM, beside --demo)
                (None, None, None, true) if self.database_url.is_some() || d.dem.is_some() => {}
                _ => {
                    return Err("data: give spec, or parcels with features and / or attributes \
                         (or, with a database_url, neither: the land is the database's)"
                        .into())
                }
            }
        }
        match self.auth.jwt_algorithm.as_str() {
            "HS256" => {}
            "RS256" if self.auth.jwt_public_key_file.is_some() => {}
            "RS256" => return Err("auth.jwt_algorithm RS256 needs auth.jwt_public_key_file".into()),
            other => return Err(format!("auth.jwt_algorithm {other:?}: HS256 or RS256")),
        }
        for o in &self.cors_origins {
            if !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/') {
                return Err(format!("cors origin {o:?} must be scheme://host[:port], without a path"));
            }
        }
        Ok(())
    }
}

/// The sections of `server.toml`.
const SECTIONS: [&str; 4] = ["data", "auth", "limits", "models"];

/// An environment value as TOML (`50`, `true`, `["a", "b"]`, `{ salt = "s" }`), else as text.
/// Deserialize; when that fails on a setting the environment gave as a number, boolean, array
/// or table, that value is tried as its text instead (so `2026` for a text setting is the string
/// `"2026"`, while `50` for a number stays a number). The first error is reported when that does
/// not help.
fn parse_with_text_fallback(
    mut doc: toml::Table,
    typed: &[(Option<String>, String, String)],
) -> Result<ServerConfig, toml::de::Error> {
    let parse = |d: &toml::Table| toml::Value::Table(d.clone()).try_into::<ServerConfig>();
    let first = match parse(&doc) {
        Ok(c) => return Ok(c),
        Err(e) => e,
    };
    let mut current = first.to_string();
    let mut left: Vec<&(Option<String>, String, String)> = typed.iter().collect();
    // the error names the setting it failed on: convert that one, then look again
    while let Some(k) = left.iter().position(|(_, key, _)| {
        current.contains(&format!("`{key}`"))
            || current.contains(&format!(".{key}`"))
            || current.contains(&format!(".{key}\n"))
    }) {
        let (section, key, text) = left.remove(k);
        let table = match section {
            None => Some(&mut doc),
            Some(s) => doc.get_mut(s).and_then(toml::Value::as_table_mut),
        };
        let Some(table) = table else { break };
        table.insert(key.clone(), toml::Value::String(text.clone()));
        match parse(&doc) {
            Ok(c) => return Ok(c),
            Err(e) => current = e.to_string(),
        }
    }
    Err(first)
}

fn env_value(v: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {v}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(v.to_string()))
}

/// Make the file's relative paths relative to its folder.
fn rebase(doc: &mut toml::Table, base: &Path) {
    let fix = |v: &mut toml::Value| {
        if let toml::Value::String(s) = v {
            *s = base.join(&*s).display().to_string();
        }
    };
    let paths: [(Option<&str>, &str); 13] = [
        (None, "store"),
        (None, "jobs_root"),
        (None, "web_root"),
        (Some("data"), "spec"),
        (Some("data"), "parcels"),
        (Some("data"), "features"),
        (Some("data"), "profiles"),
        (Some("data"), "dem"),
        (Some("models"), "registry"),
        (Some("models"), "drift_reference"),
        (Some("auth"), "jwt_secret_file"),
        (Some("auth"), "jwt_private_key_file"),
        (Some("auth"), "jwt_public_key_file"),
    ];
    for (section, key) in paths {
        let table = match section {
            None => Some(&mut *doc),
            Some(s) => doc.get_mut(s).and_then(|t| t.as_table_mut()),
        };
        match table.and_then(|t| t.get_mut(key)) {
            Some(toml::Value::Array(a)) => a.iter_mut().for_each(fix),
            Some(v) => fix(v),
            None => {}
        }
    }
}
