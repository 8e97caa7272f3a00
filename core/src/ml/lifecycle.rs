//! Saving and loading models: a versioned envelope with a model card, a SHA-256 checksum, an
//! optional HMAC-SHA256 signature and optional AES-256-GCM encryption at rest (key supplied by the
//! caller). Loading a tampered, foreign, wrongly keyed or wrong-schema model is a typed error:
//! `FORMAT` (not a landopp model), `UNSUPPORTED` (newer format), `INTEGRITY` (checksum, signature
//! or decryption failed), `INVALID_INPUT` (feature schema differs from the expected one).
//!
//! ```
//! use landopp::ml::{Dataset, Forest, ForestParams, Task};
//! use landopp::ml::lifecycle::{Model, ModelCard, SaveOptions, LoadOptions};
//! let d = Dataset { x: vec![0.0, 1.0, 2.0, 3.0], p: 1, y: vec![0.0, 0.0, 1.0, 1.0] };
//! let params = ForestParams { task: Task::Regression, n_estimators: 3, max_features: None,
//!     min_samples_leaf: 1, max_depth: None, bootstrap: false, seed: 1 };
//! let forest = Forest::fit(&d, &params)?;
//! let card = ModelCard::new("1.0.0", &["slope_mean"], "developed", &d, Default::default(), &params);
//! let key = [7u8; 32];
//! let dir = std::env::temp_dir().join("landopp-doc-model.json");
//! Model { card, forest }.save(&dir, &SaveOptions { hmac_key: Some(b"secret"), encryption_key: Some(&key) })?;
//! let m = Model::load(&dir, &LoadOptions { hmac_key: Some(b"secret"), encryption_key: Some(&key), expect_features: None })?;
//! assert_eq!(m.card.model_version, "1.0.0");
//! let wrong = Model::load(&dir, &LoadOptions { hmac_key: Some(b"secret"), encryption_key: Some(&[0u8; 32]), expect_features: None });
//! assert_eq!(wrong.unwrap_err().code(), "INTEGRITY");
//! # Ok::<(), landopp::Error>(())
//! ```

use super::{Dataset, Forest, ForestParams};
use crate::error::{Error, Result};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The envelope's format name.
pub const FORMAT: &str = "landopp-model";
/// The envelope's format version this library writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a model is and how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The model's own version (semantic version chosen by the caller).
    pub model_version: String,
    /// Creation time, seconds since the Unix epoch (UTC).
    pub created_at_unix: u64,
    /// Feature names, in the order the model expects them.
    pub features: Vec<String>,
    /// Target column.
    pub target: String,
    /// SHA-256 of the training data (features as little-endian f64, then the target).
    pub training_data_sha256: String,
    /// Validation metrics by name (e.g. `r2_spatial_5fold`).
    pub metrics: BTreeMap<String, f64>,
    /// Hyper-parameters.
    pub hyper_parameters: ForestParams,
    /// landopp version that trained it.
    pub library_version: String,
}

impl ModelCard {
    /// A card for a model trained now on `data`.
    pub fn new(
        model_version: &str,
        features: &[&str],
        target: &str,
        data: &Dataset,
        metrics: BTreeMap<String, f64>,
        params: &ForestParams,
    ) -> Self {
        let mut h = Sha256::new();
        for v in data.x.iter().chain(&data.y) {
            h.update(v.to_le_bytes());
        }
        ModelCard {
            model_version: model_version.to_string(),
            created_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            features: features.iter().map(|s| s.to_string()).collect(),
            target: target.to_string(),
            training_data_sha256: hex(&h.finalize()),
            metrics,
            hyper_parameters: params.clone(),
            library_version: crate::VERSION.to_string(),
        }
    }
}

/// A model with its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The card.
    pub card: ModelCard,
    /// The fitted forest.
    pub forest: Forest,
}

/// Options of [`Model::save`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SaveOptions<'a> {
    /// Sign with HMAC-SHA256 under this key.
    pub hmac_key: Option<&'a [u8]>,
    /// Encrypt with AES-256-GCM under this 32-byte key.
    pub encryption_key: Option<&'a [u8; 32]>,
}

/// Options of [`Model::load`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions<'a> {
    /// Verify the HMAC-SHA256 signature under this key (a signed model without it is refused).
    pub hmac_key: Option<&'a [u8]>,
    /// Decrypt with this key.
    pub encryption_key: Option<&'a [u8; 32]>,
    /// Refuse the model unless its feature schema is exactly this (names, order).
    pub expect_features: Option<&'a [String]>,
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    format: String,
    format_version: u32,
    /// `null` or `"aes-256-gcm"`.
    encryption: Option<String>,
    /// Hex nonce of the encryption.
    nonce: Option<String>,
    /// The model JSON, or its ciphertext in hex.
    payload: String,
    /// SHA-256 of `payload` (hex).
    sha256: String,
    /// HMAC-SHA256 of `payload` under the caller's key (hex), if signed.
    hmac_sha256: Option<String>,
    /// The card in clear (also inside the payload), so registries can list models without keys.
    card: ModelCard,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return Err(Error::Integrity("odd-length hex".into()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| Error::Integrity("bad hex".into())))
        .collect()
}

fn mac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m
}

impl Model {
    /// Write the model to `path` (JSON envelope; see the module docs).
    pub fn save(&self, path: impl AsRef<Path>, opts: &SaveOptions<'_>) -> Result<()> {
        let path = path.as_ref();
        let json = serde_json::to_string(self).map_err(|e| Error::InvalidInput(e.to_string()))?;
        let (payload, encryption, nonce) = match opts.encryption_key {
            Some(k) => {
                let cipher = Aes256Gcm::new(k.into());
                let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
                let ct = cipher
                    .encrypt(&nonce, json.as_bytes())
                    .map_err(|_| Error::InvalidInput("encryption failed".into()))?;
                (hex(&ct), Some("aes-256-gcm".to_string()), Some(hex(&nonce)))
            }
            None => (json, None, None),
        };
        let env = Envelope {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            encryption,
            nonce,
            sha256: hex(&Sha256::digest(payload.as_bytes())),
            hmac_sha256: opts.hmac_key.map(|k| hex(&mac(k, payload.as_bytes()).finalize().into_bytes())),
            payload,
            card: self.card.clone(),
        };
        let text = serde_json::to_string(&env).map_err(|e| Error::InvalidInput(e.to_string()))?;
        // write then rename: a crash never leaves a half-written model under the name
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// Read and verify a model (see the module docs for the errors).
    pub fn load(path: impl AsRef<Path>, opts: &LoadOptions<'_>) -> Result<Model> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let bad = |m: &str| Error::Format { format: "landopp model", path: path.to_path_buf(), message: m.into() };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad("not a landopp model (no \"format\": \"landopp-model\")"));
        }
        let ver = v.get("format_version").and_then(|f| f.as_u64()).unwrap_or(0);
        if ver > FORMAT_VERSION as u64 {
            return Err(Error::Unsupported(format!(
                "model format version {ver} (this landopp reads up to {FORMAT_VERSION}; upgrade landopp)"
            )));
        }
        let env: Envelope = serde_json::from_value(v).map_err(|e| bad(&e.to_string()))?;
        if hex(&Sha256::digest(env.payload.as_bytes())) != env.sha256 {
            return Err(Error::Integrity(format!("{}: checksum mismatch (corrupt or tampered)", path.display())));
        }
        match (&env.hmac_sha256, opts.hmac_key) {
            (Some(sig), Some(k)) => {
                let want = unhex(sig)?;
                mac(k, env.payload.as_bytes())
                    .verify_slice(&want)
                    .map_err(|_| Error::Integrity(format!("{}: signature does not match the key", path.display())))?;
            }
            (Some(_), None) => {
                return Err(Error::InvalidInput(format!("{} is signed: give its HMAC key", path.display())))
            }
            (None, Some(_)) => {
                return Err(Error::Integrity(format!(
                    "{}: a signature was required but the model is unsigned",
                    path.display()
                )))
            }
            (None, None) => {}
        }
        let json = match (env.encryption.as_deref(), opts.encryption_key) {
            (None, _) => env.payload,
            (Some("aes-256-gcm"), Some(k)) => {
                let nonce = unhex(env.nonce.as_deref().unwrap_or(""))?;
                if nonce.len() != 12 {
                    return Err(Error::Integrity("bad nonce".into()));
                }
                let pt = Aes256Gcm::new(k.into())
                    .decrypt(Nonce::from_slice(&nonce), unhex(&env.payload)?.as_slice())
                    .map_err(|_| {
                    Error::Integrity(format!("{}: cannot decrypt (wrong key or tampered)", path.display()))
                })?;
                String::from_utf8(pt).map_err(|_| Error::Integrity("decrypted payload is not text".into()))?
            }
            (Some("aes-256-gcm"), None) => {
                return Err(Error::InvalidInput(format!("{} is encrypted: give its key", path.display())))
            }
            (Some(other), _) => return Err(Error::Unsupported(format!("encryption {other:?}"))),
        };
        let m: Model = serde_json::from_str(&json).map_err(|e| bad(&format!("payload: {e}")))?;
        if m.card != env.card {
            return Err(Error::Integrity("the clear card differs from the card inside the payload".into()));
        }
        if let Some(want) = opts.expect_features {
            if want != m.card.features.as_slice() {
                return Err(Error::InvalidInput(format!(
                    "model features {:?} differ from the expected schema {:?}",
                    m.card.features, want
                )));
            }
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::Task;

    fn model() -> (Model, Dataset) {
        let d = Dataset { x: (0..40).map(|i| i as f64).collect(), p: 2, y: (0..20).map(|i| (i % 3) as f64).collect() };
        let p = ForestParams {
            task: Task::Regression,
            n_estimators: 5,
            max_features: None,
            min_samples_leaf: 1,
            max_depth: None,
            bootstrap: true,
            seed: 9,
        };
        let f = Forest::fit(&d, &p).unwrap();
        let card = ModelCard::new("2.1.0", &["a", "b"], "y", &d, [("r2".to_string(), 0.5)].into(), &p);
        (Model { card, forest: f }, d)
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        let (m, d) = model();
        let key = [3u8; 32];
        let sign = Some(&b"k1"[..]);
        m.save(&p, &SaveOptions { hmac_key: sign, encryption_key: Some(&key) }).unwrap();
        let opts = LoadOptions { hmac_key: sign, encryption_key: Some(&key), expect_features: None };
        let back = Model::load(&p, &opts).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.forest.predict(&d.x).unwrap(), m.forest.predict(&d.x).unwrap());
        let code = |o: &LoadOptions<'_>| Model::load(&p, o).unwrap_err().code();
        assert_eq!(code(&LoadOptions { encryption_key: Some(&[4u8; 32]), ..opts }), "INTEGRITY");
        assert_eq!(code(&LoadOptions { hmac_key: Some(b"k2"), ..opts }), "INTEGRITY");
        assert_eq!(code(&LoadOptions { hmac_key: None, ..opts }), "INVALID_INPUT");
        assert_eq!(code(&LoadOptions { encryption_key: None, ..opts }), "INVALID_INPUT");
        let schema = vec!["b".to_string(), "a".to_string()];
        assert_eq!(code(&LoadOptions { expect_features: Some(&schema), ..opts }), "INVALID_INPUT");
        // tampering: a changed payload byte (checksum), a re-computed checksum (signature)
        let text = std::fs::read_to_string(&p).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let payload = v["payload"].as_str().unwrap().to_string();
        let flipped = format!("{}{}", if payload.starts_with('0') { "1" } else { "0" }, &payload[1..]);
        v["payload"] = flipped.clone().into();
        std::fs::write(&p, v.to_string()).unwrap();
        assert_eq!(code(&opts), "INTEGRITY");
        v["sha256"] = hex(&Sha256::digest(flipped.as_bytes())).into();
        std::fs::write(&p, v.to_string()).unwrap();
        assert_eq!(code(&opts), "INTEGRITY");
        // foreign and future files
        std::fs::write(&p, r#"{"type": "FeatureCollection"}"#).unwrap();
        assert_eq!(code(&opts), "FORMAT");
        std::fs::write(&p, r#"{"format": "landopp-model", "format_version": 99}"#).unwrap();
        assert_eq!(code(&opts), "UNSUPPORTED");
        // plain (unsigned, unencrypted) models load without keys; requiring a signature refuses them
        m.save(&p, &SaveOptions::default()).unwrap();
        assert_eq!(Model::load(&p, &LoadOptions::default()).unwrap(), m);
        assert_eq!(code(&LoadOptions { hmac_key: sign, ..LoadOptions::default() }), "INTEGRITY");
    }
}
