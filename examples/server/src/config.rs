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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            store: PathBuf::from("landopp-server.db"),
            data: None,
            auth: AuthConfig::default(),
            limits: Limits::default(),
            cors_origins: vec![],
            models: None,
            jobs_root: None,
        }
    }
}

/// The data the server loads at start: a feature spec (features computed at start), or parcels
/// with a feature table computed beforehand (`landopp features spec.json -o features.csv`: same
/// parcels, same order).
#[derive(Debug, Clone, Deserialize)]
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
    /// Most vertices in a posted area of interest.
    pub max_vertices: usize,
    /// Largest page (`limit`).
    pub max_page: usize,
    /// Request timeout, milliseconds.
    pub timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            rate_per_key: 100.0,
            rate_per_ip: 200.0,
            burst_factor: 2.0,
            body_bytes: 1 << 20,
            max_vertices: 10_000,
            max_page: 1000,
            timeout_ms: 30_000,
        }
    }
}

impl ServerConfig {
    /// Read `server.toml` (when given), then apply `LANDOPP_*` variables from `env`.
    pub fn load(path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut c: ServerConfig = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                let mut c: ServerConfig = toml::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
                // every path in the file is relative to the file
                let base = p.parent().unwrap_or(Path::new("."));
                c.store = base.join(&c.store);
                if let Some(j) = &mut c.jobs_root {
                    *j = base.join(&*j);
                }
                if let Some(m) = &mut c.models {
                    m.registry = base.join(&m.registry);
                    if let Some(r) = &mut m.drift_reference {
                        *r = base.join(&*r);
                    }
                }
                let a = &mut c.auth;
                for f in [&mut a.jwt_secret_file, &mut a.jwt_private_key_file, &mut a.jwt_public_key_file]
                    .into_iter()
                    .flatten()
                {
                    *f = base.join(&*f);
                }
                if let Some(d) = &mut c.data {
                    let base = p.parent().unwrap_or(Path::new("."));
                    for f in [&mut d.spec, &mut d.parcels, &mut d.features].into_iter().flatten() {
                        *f = base.join(&*f);
                    }
                    for f in &mut d.profiles {
                        *f = base.join(&*f);
                    }
                }
                c
            }
            None => ServerConfig::default(),
        };
        if let Some(v) = env("LANDOPP_LISTEN") {
            c.listen = v.parse().map_err(|e| format!("LANDOPP_LISTEN {v:?}: {e}"))?;
        }
        if let Some(v) = env("LANDOPP_STORE") {
            c.store = v.into();
        }
        if let Some(v) = env("LANDOPP_CORS_ORIGINS") {
            c.cors_origins = v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
        if let Some(v) = env("LANDOPP_RATE_LIMIT") {
            c.limits.rate_per_key = v.parse().map_err(|e| format!("LANDOPP_RATE_LIMIT {v:?}: {e}"))?;
        }
        if let Some(v) = env("LANDOPP_RATE_LIMIT_IP") {
            c.limits.rate_per_ip = v.parse().map_err(|e| format!("LANDOPP_RATE_LIMIT_IP {v:?}: {e}"))?;
        }
        if let Some(v) = env("LANDOPP_JWT_SECRET_FILE") {
            c.auth.jwt_secret_file = Some(v.into());
        }
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
        if l.body_bytes == 0 || l.max_page == 0 || l.max_vertices < 4 || l.timeout_ms == 0 {
            return Err("limits: body_bytes, max_page and timeout_ms must be > 0, max_vertices >= 4".into());
        }
        if let Some(d) = &self.data {
            match (&d.spec, &d.parcels, &d.features, d.attributes.is_empty()) {
                (Some(_), None, None, true) | (None, Some(_), Some(_), _) | (None, Some(_), None, false) => {}
                _ => return Err("data: give spec, or parcels with features and / or attributes".into()),
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
