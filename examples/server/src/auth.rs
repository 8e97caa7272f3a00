//! Who is calling and what they may do: roles, API keys (random, shown once, stored as SHA-256,
//! expiring, revocable), users with argon2id password hashes, and JWTs (HS256 or RS256; the
//! algorithm is fixed by configuration, so `none` and HS/RS confusion are refused; `exp`, `nbf`,
//! `iss`, `aud` checked with a small leeway).

use crate::config::AuthConfig;
use crate::problem::Problem;
use crate::store::KeyRecord;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;

/// Roles, each allowed what the ones below it are.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Search and read parcels, sites, profiles.
    Viewer,
    /// And rescore with posted profiles or weights, post feedback, read analytics.
    Analyst,
    /// And manage users and keys, read the audit log.
    Admin,
}

impl Role {
    /// `viewer`, `analyst`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
    /// Parse a stored or posted role.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "analyst" => Some(Role::Analyst),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `key:<id>` or `user:<name>`: what the audit log and the rate limiter key on.
    pub subject: String,
    /// Role.
    pub role: Role,
}

impl Principal {
    /// 403 unless the role is at least `min`.
    pub fn require(&self, min: Role) -> Result<(), Problem> {
        if self.role >= min {
            Ok(())
        } else {
            Err(Problem::forbidden(format!("this needs the {} role (yours: {})", min.as_str(), self.role.as_str())))
        }
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // the OS generator does not fail on Linux after boot; if it ever did, a key must not be weak
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("no OS randomness: {e}"));
    b
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of a key's secret part (keys are 256-bit random: a fast hash is the right one; slow
/// hashes are for passwords).
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new key `lok_<id>_<secret>` (id 8 random bytes, secret 32) and its record.
pub fn new_key(role: Role, label: &str, expires_at: Option<i64>) -> (String, KeyRecord) {
    let id = hex(&random_bytes::<8>());
    let secret = hex(&random_bytes::<32>());
    let rec = KeyRecord {
        id: id.clone(),
        role: role.as_str().into(),
        label: label.into(),
        created_at: crate::store::now(),
        expires_at,
        revoked_at: None,
        secret_sha256: secret_hash(&secret),
    };
    (format!("lok_{id}_{secret}"), rec)
}

/// Split a presented key into (id, secret) when it has the shape of one.
pub fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("lok_")?;
    let (id, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(id, 16) && hexy(secret, 64)).then_some((id, secret))
}

/// Constant-time equality of two digests.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The keys, mirrored in memory from the store (written through on create / revoke), so that
/// authenticating a request costs a hash and a map lookup, not a database round trip.
#[derive(Debug, Default)]
pub struct KeyCache {
    keys: RwLock<HashMap<String, KeyRecord>>,
}

impl KeyCache {
    /// Replace the cache with the store's keys.
    pub fn load(&self, keys: Vec<KeyRecord>) {
        let mut m = self.keys.write().unwrap_or_else(|p| p.into_inner());
        *m = keys.into_iter().map(|k| (k.id.clone(), k)).collect();
    }
    /// Add or replace one key.
    pub fn put(&self, k: KeyRecord) {
        self.keys.write().unwrap_or_else(|p| p.into_inner()).insert(k.id.clone(), k);
    }
    /// Mark a key revoked.
    pub fn revoke(&self, id: &str, at: i64) {
        if let Some(k) = self.keys.write().unwrap_or_else(|p| p.into_inner()).get_mut(id) {
            k.revoked_at = Some(at);
        }
    }
    /// True when the key exists and is neither revoked nor expired.
    pub fn is_active(&self, id: &str, now: i64) -> bool {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_some_and(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now))
    }
    /// True when the key id exists, whatever its state.
    pub fn exists(&self, id: &str) -> bool {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).contains_key(id)
    }
    /// True when an active admin key exists.
    pub fn has_active_admin(&self, now: i64) -> bool {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .any(|k| k.role == "admin" && k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now))
    }
    /// Check a presented key. The error says why without echoing the key.
    pub fn verify(&self, key: &str, now: i64) -> Result<Principal, &'static str> {
        let (id, secret) = split_key(key).ok_or("malformed API key")?;
        let m = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let k = m.get(id).ok_or("unknown API key")?;
        if !same(&k.secret_sha256, &secret_hash(secret)) {
            return Err("unknown API key");
        }
        if k.revoked_at.is_some() {
            return Err("revoked API key");
        }
        if k.expires_at.is_some_and(|e| e <= now) {
            return Err("expired API key");
        }
        let role = Role::parse(&k.role).ok_or("API key with an unknown role")?;
        Ok(Principal { subject: format!("key:{id}"), role })
    }
}

/// The users (name → role, creation time), mirrored from the store like the keys: a token is
/// honoured only while its user exists with the role it names and was issued after the user was
/// (re)created, so deleting or re-creating a user ends their tokens at once.
#[derive(Debug, Default)]
pub struct UserCache {
    users: RwLock<HashMap<String, (Role, i64)>>,
}

impl UserCache {
    /// Replace the cache with the store's users.
    pub fn load(&self, users: &[crate::store::UserRecord]) {
        let mut m = self.users.write().unwrap_or_else(|p| p.into_inner());
        *m = users.iter().filter_map(|u| Some((u.name.clone(), (Role::parse(&u.role)?, u.created_at)))).collect();
    }
    /// Add or replace a user.
    pub fn put(&self, name: &str, role: Role, created_at: i64) {
        self.users.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_string(), (role, created_at));
    }
    /// Forget a user.
    pub fn remove(&self, name: &str) {
        self.users.write().unwrap_or_else(|p| p.into_inner()).remove(name);
    }
    /// Check a verified token's claims against the user as they are now.
    pub fn check(&self, c: &Claims) -> Result<Principal, String> {
        let name = c.sub.strip_prefix("user:").ok_or("token subject is not a user")?;
        let m = self.users.read().unwrap_or_else(|p| p.into_inner());
        let &(role, created) = m.get(name).ok_or("the token's user no longer exists")?;
        if role != c.role {
            return Err("the token's role is no longer the user's: log in again".into());
        }
        if c.iat < created {
            return Err("the token was issued before the user was re-created".into());
        }
        Ok(Principal { subject: c.sub.clone(), role })
    }
}

/// Argon2id hash (PHC string, salted) of a password.
pub fn hash_password(password: &str) -> Result<String, Problem> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Problem::internal(&format!("argon2: {e}")))
}

/// Check a password against its stored hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A token's claims.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// `user:<name>`.
    pub sub: String,
    /// Role.
    pub role: Role,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expiry.
    pub exp: i64,
}

/// Issues and checks JWTs.
pub struct Jwt {
    alg: Algorithm,
    encode: Option<EncodingKey>,
    decode: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_s: u64,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the keys
        f.debug_struct("Jwt").field("alg", &self.alg).field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl Jwt {
    /// From the configuration; `env` supplies `LANDOPP_JWT_SECRET`. HS256 without a secret gets a
    /// random one (tokens then end with the process).
    pub fn new(c: &AuthConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let (alg, encode, decode) = match c.jwt_algorithm.as_str() {
            "RS256" => {
                let public = c.jwt_public_key_file.as_deref().ok_or("RS256 needs auth.jwt_public_key_file")?;
                let decode =
                    DecodingKey::from_rsa_pem(&read(public)?).map_err(|e| format!("{}: {e}", public.display()))?;
                let encode = match &c.jwt_private_key_file {
                    Some(p) => {
                        // RUSTSEC-2023-0071 (deny.toml): the `rsa` crate's private-key operations
                        // are not constant-time, and login signs on request
                        tracing::warn!(
                            "auth.jwt_private_key_file: RS256 signing here uses the rsa crate, whose private-key \
                             operations leak timing (RUSTSEC-2023-0071, no fix yet); prefer HS256, or verify-only \
                             RS256 with tokens from your identity provider (SECURITY.md)"
                        );
                        Some(EncodingKey::from_rsa_pem(&read(p)?).map_err(|e| format!("{}: {e}", p.display()))?)
                    }
                    None => None,
                };
                (Algorithm::RS256, encode, decode)
            }
            _ => {
                // the environment over the file, as for every setting
                let secret = match (env("LANDOPP_JWT_SECRET"), &c.jwt_secret_file) {
                    (Some(s), _) => s.into_bytes(),
                    (None, Some(p)) => read(p)?.trim_ascii().to_vec(),
                    (None, None) => random_bytes::<32>().to_vec(),
                };
                if secret.len() < 32 {
                    return Err("the HS256 secret must be at least 32 bytes".into());
                }
                let e = EncodingKey::from_secret(&secret).map_err(|e| e.to_string())?;
                let d = DecodingKey::from_secret(&secret).map_err(|e| e.to_string())?;
                (Algorithm::HS256, Some(e), d)
            }
        };
        let mut v = Validation::new(alg);
        v.leeway = c.jwt_leeway_s;
        v.validate_nbf = true;
        v.set_issuer(&[&c.jwt_issuer]);
        v.set_audience(&[&c.jwt_audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        Ok(Jwt {
            alg,
            encode,
            decode,
            validation: v,
            issuer: c.jwt_issuer.clone(),
            audience: c.jwt_audience.clone(),
            ttl_s: c.jwt_ttl_s,
        })
    }

    /// Issue a token for a user; `(token, expires_in seconds)`.
    pub fn issue(&self, user: &str, role: Role) -> Result<(String, u64), Problem> {
        let key = self.encode.as_ref().ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::NOT_IMPLEMENTED,
                "UNSUPPORTED",
                "this server verifies tokens but has no key to sign them (auth.jwt_private_key_file)",
            )
        })?;
        let now = crate::store::now();
        let claims = Claims {
            sub: format!("user:{user}"),
            role,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_s as i64,
        };
        let t = jsonwebtoken::encode(&Header::new(self.alg), &claims, key)
            .map_err(|e| Problem::internal(&format!("jwt encode: {e}")))?;
        Ok((t, self.ttl_s))
    }

    /// Check a presented token's signature and claims; the error names the reason, never the
    /// token. The caller checks the claims against the user ([`UserCache::check`]).
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        use jsonwebtoken::errors::ErrorKind as K;
        let d = jsonwebtoken::decode::<Claims>(token, &self.decode, &self.validation).map_err(|e| {
            match e.kind() {
                K::ExpiredSignature => "expired token",
                K::ImmatureSignature => "token not valid yet (nbf)",
                K::InvalidAudience => "token for another audience",
                K::InvalidIssuer => "token from another issuer",
                K::InvalidAlgorithm => "token signed with another algorithm",
                K::InvalidSignature => "token signature does not verify",
                K::MissingRequiredClaim(_) => "token lacks a required claim",
                _ => "malformed token",
            }
            .to_string()
        })?;
        Ok(d.claims)
    }
}
