//! Saving and loading models: a versioned envelope with a model card, a SHA-256 checksum, an
//! optional HMAC-SHA256 signature and optional AES-256-GCM encryption at rest (key supplied by the
//! caller). Loading a tampered, foreign, wrongly keyed or wrong-schema model is a typed error:
//! `FORMAT` (not a landopp model), `UNSUPPORTED` (newer format), `INTEGRITY` (checksum, signature
//! or decryption failed), `INVALID_INPUT` (feature schema differs from the expected one).
//!
//! ```
//! use landopp::ml::{Dataset, Estimator, Params, Task};
//! use landopp::ml::lifecycle::{Model, ModelCard, SaveOptions, LoadOptions};
//! let d = Dataset { x: vec![0.0, 1.0, 2.0, 3.0], p: 1, y: vec![0.0, 0.0, 1.0, 1.0] };
//! let params = Params::parse(r#"{"model": "random_forest", "task": "regression", "n_estimators": 3}"#)?;
//! let estimator = Estimator::fit(&d, &params)?;
//! let card = ModelCard::new("1.0.0", &["slope_mean"], "developed", &d, Default::default(), &params);
//! let key = [7u8; 32];
//! let dir = std::env::temp_dir().join("landopp-doc-model.json");
//! Model { card, estimator }.save(&dir, &SaveOptions { hmac_key: Some(b"a 16-byte secret"), encryption_key: Some(&key) })?;
//! let m = Model::load(&dir, &LoadOptions { hmac_key: Some(b"a 16-byte secret"), encryption_key: Some(&key), expect_features: None })?;
//! assert_eq!(m.card.model_version, "1.0.0");
//! let wrong = Model::load(&dir, &LoadOptions { hmac_key: Some(b"a 16-byte secret"), encryption_key: Some(&[0u8; 32]), expect_features: None });
//! assert_eq!(wrong.unwrap_err().code(), "INTEGRITY");
//! # Ok::<(), landopp::Error>(())
//! ```

use super::{Dataset, Estimator, Explained, Params, Task};
use crate::error::{Error, Result};
use crate::features::FeatureTable;
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
pub const FORMAT_VERSION: u32 = 2;

/// What a model is and how it was made.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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
    /// Validation metrics by name (e.g. `r2_spatial_5fold`); an undefined one is NaN (`null` in
    /// the file, read back as NaN: a card with a NaN metric saved, and then would not load).
    #[serde(deserialize_with = "nan_for_null")]
    pub metrics: BTreeMap<String, f64>,
    /// Hyper-parameters.
    pub hyper_parameters: Params,
    /// landopp version that trained it.
    pub library_version: String,
    /// Categorical features: the categories seen in training, in one-hot order (the model sees
    /// one 0/1 column per category).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, Vec<String>>,
    /// What prediction does with a category not seen in training.
    #[serde(default)]
    pub unseen_category: UnseenCategory,
    /// Labels of the target's classes (class code = position), for a categorical target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

/// Policy for a category not seen in training (as scikit-learn's `OneHotEncoder(handle_unknown=)`).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnseenCategory {
    /// Refuse the row: `INVALID_INPUT` naming the column and the category (default).
    #[default]
    Error,
    /// Encode it as no category (every one-hot column 0), like a missing value.
    Ignore,
}

impl ModelCard {
    /// A card for a model trained now on `data`.
    pub fn new(
        model_version: &str,
        features: &[&str],
        target: &str,
        data: &Dataset,
        metrics: BTreeMap<String, f64>,
        params: &Params,
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
            categories: BTreeMap::new(),
            unseen_category: UnseenCategory::Error,
            classes: None,
        }
    }

    /// Columns the model sees: one per numeric feature, one per category of a categorical one.
    pub fn encoded_width(&self) -> usize {
        self.features.iter().map(|f| self.categories.get(f).map_or(1, Vec::len)).sum()
    }

    /// The model's input matrix (row-major) from the card's features in a table: numeric columns
    /// as they are (NaN refused later: impute first), categorical ones one-hot encoded with the
    /// training categories (missing = no category; unseen per [`ModelCard::unseen_category`]).
    pub fn encode(&self, t: &FeatureTable) -> Result<Vec<f64>> {
        let w = self.encoded_width();
        let n = t.len();
        let mut x = vec![0.0; n * w];
        let mut off = 0;
        for name in &self.features {
            let col = t.column(name)?;
            match (self.categories.get(name), &col.categories) {
                (None, None) => {
                    for i in 0..n {
                        x[i * w + off] = col.values[i];
                    }
                    off += 1;
                }
                (Some(cats), Some(_)) => {
                    for i in 0..n {
                        let Some(label) = col.label(i) else { continue };
                        match cats.binary_search_by(|c| c.as_str().cmp(label)) {
                            Ok(k) => x[i * w + off + k] = 1.0,
                            Err(_) if self.unseen_category == UnseenCategory::Ignore => {}
                            Err(_) => {
                                return Err(Error::InvalidInput(format!(
                                    "column {name:?}, row {i} ({}): category {label:?} was not seen in training \
                                     (known: {}; unseen_category policy: error — retrain, or use \"ignore\")",
                                    t.ids()[i],
                                    cats.join(", ")
                                )))
                            }
                        }
                    }
                    off += cats.len();
                }
                (None, Some(_)) => {
                    return Err(Error::InvalidInput(format!(
                        "column {name:?} is categorical here but was numeric in training"
                    )))
                }
                (Some(_), None) => {
                    return Err(Error::InvalidInput(format!(
                        "column {name:?} is numeric here but was categorical in training"
                    )))
                }
            }
        }
        Ok(x)
    }
}

/// A model with its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The card.
    pub card: ModelCard,
    /// The fitted model.
    pub estimator: Estimator,
}

/// How [`Model::fit_table`] records the model.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// The model's version (default `0.1.0`).
    pub model_version: Option<String>,
    /// Validation metrics to record in the card.
    pub metrics: BTreeMap<String, f64>,
    /// Policy for unseen categories at prediction.
    pub unseen_category: UnseenCategory,
}

impl Model {
    /// Fit on a feature table: `features` (numeric, or categorical → one-hot) predict `target`
    /// (numeric; for classification class codes `0..k`, or a categorical column whose labels
    /// become the classes).
    pub fn fit_table(
        t: &FeatureTable,
        features: &[String],
        target: &str,
        params: &Params,
        opts: &FitOptions,
    ) -> Result<Model> {
        let (card, d) = Model::table_dataset(t, features, target, params, opts)?;
        let estimator = Estimator::fit(&d, params)?;
        Ok(Model { card, estimator })
    }

    /// The card (schema, categories, classes, data hash) and the encoded training data of
    /// [`Model::fit_table`], for callers that cross-validate before fitting.
    pub fn table_dataset(
        t: &FeatureTable,
        features: &[String],
        target: &str,
        params: &Params,
        opts: &FitOptions,
    ) -> Result<(ModelCard, Dataset)> {
        params.validate()?;
        if features.is_empty() {
            return Err(Error::Empty("no feature column to learn from".into()));
        }
        if let Some(f) = features.iter().find(|f| f.as_str() == target) {
            return Err(Error::InvalidInput(format!("the target {f:?} is also a feature")));
        }
        let mut card = ModelCard::new(
            opts.model_version.as_deref().unwrap_or("0.1.0"),
            &features.iter().map(String::as_str).collect::<Vec<_>>(),
            target,
            &Dataset { x: vec![], p: 1, y: vec![] },
            opts.metrics.clone(),
            params,
        );
        card.unseen_category = opts.unseen_category;
        for f in features {
            if let Some(c) = &t.column(f)?.categories {
                card.categories.insert(f.clone(), c.clone());
            }
        }
        let y = t.column(target)?;
        if y.categories.is_some() && params.task() == Task::Regression {
            return Err(Error::InvalidInput(format!("target {target:?} is categorical: use task classification")));
        }
        card.classes = y.categories.clone();
        let d = Dataset { x: card.encode(t)?, p: card.encoded_width(), y: y.values.to_vec() };
        let mut h = Sha256::new();
        for v in d.x.iter().chain(&d.y) {
            h.update(v.to_le_bytes());
        }
        card.training_data_sha256 = hex(&h.finalize());
        Ok((card, d))
    }

    /// Predictions for every row of a table (see [`Estimator::predict`]).
    pub fn predict_table(&self, t: &FeatureTable) -> Result<Vec<f64>> {
        self.estimator.predict(&self.card.encode(t)?)
    }

    /// The output a prediction column takes: 0 for a regression; for a classifier the class
    /// whose probability `class` names (a label of the card's classes, or a class code), class 1
    /// of two by default.
    pub fn output_index(&self, class: Option<&str>) -> Result<usize> {
        let k = self.estimator.n_classes();
        match (k, class) {
            (0, None) => Ok(0),
            (0, Some(c)) => Err(Error::InvalidInput(format!("a regression has no class {c:?}"))),
            (2, None) => Ok(1),
            (_, None) => Err(Error::InvalidInput(format!(
                "the model has {k} classes: say which class's probability to output (\"class\")"
            ))),
            (_, Some(c)) => self
                .card
                .classes
                .as_ref()
                .and_then(|l| l.iter().position(|x| x == c))
                .or_else(|| c.parse::<usize>().ok())
                // a label the card lists but the model never saw (an unused category) is not a class
                .filter(|i| *i < k)
                .ok_or_else(|| Error::not_found("class", c, self.card.classes.clone().unwrap_or_default())),
        }
    }

    /// One value per row of a table: output `out` ([`Model::output_index`]) of the prediction,
    /// NaN for rows with a missing (non-finite) input — what a feature spec's model step adds.
    pub fn predict_column(&self, t: &FeatureTable, out: usize) -> Result<Vec<f64>> {
        let k = self.estimator.n_classes();
        if out >= k.max(1) {
            return Err(Error::InvalidInput(format!("output {out} of a model with {} outputs", k.max(1))));
        }
        let w = self.card.encoded_width();
        let x = self.card.encode(t)?;
        let ok: Vec<usize> = (0..t.len()).filter(|&i| x[i * w..(i + 1) * w].iter().all(|v| v.is_finite())).collect();
        let sub: Vec<f64> = ok.iter().flat_map(|&i| x[i * w..(i + 1) * w].iter().copied()).collect();
        let mut v = vec![f64::NAN; t.len()];
        if !ok.is_empty() {
            let pred = self.estimator.predict(&sub)?;
            let stride = k.max(1);
            for (r, &i) in ok.iter().enumerate() {
                v[i] = pred[r * stride + out];
            }
        }
        Ok(v)
    }

    /// What output `out` is, in words (`prediction`, `probability of "cropland"`).
    pub fn output_name(&self, out: usize) -> String {
        match (self.estimator.n_classes(), &self.card.classes) {
            (0, _) => "prediction".to_string(),
            (_, Some(l)) if out < l.len() => format!("probability of {:?}", l[out]),
            _ => format!("probability of class {out}"),
        }
    }

    /// One encoded row explained per card feature (a categorical feature's one-hot contributions
    /// summed).
    pub fn explain_encoded(&self, row: &[f64]) -> Result<Explained> {
        let mut e = self.estimator.explain(row)?;
        if !self.card.categories.is_empty() {
            let mut out = Vec::with_capacity(self.card.features.len());
            let mut it = e.contributions.into_iter();
            for f in &self.card.features {
                let k = self.card.categories.get(f).map_or(1, Vec::len);
                let mut acc = vec![0.0; e.value.len()];
                for c in it.by_ref().take(k) {
                    acc.iter_mut().zip(c).for_each(|(a, v)| *a += v);
                }
                out.push(acc);
            }
            e.contributions = out;
        }
        Ok(e)
    }

    /// Permutation importance per card feature on a table with the target column (a categorical
    /// feature's one-hot columns shuffled together); `(mean, std)` per feature.
    pub fn permutation_importance_table(
        &self,
        t: &FeatureTable,
        opts: &super::ImportanceOptions,
    ) -> Result<Vec<(f64, f64)>> {
        let d = Dataset { x: self.card.encode(t)?, p: self.card.encoded_width(), y: self.target_of(t)? };
        let mut groups = Vec::new();
        let mut off = 0;
        for f in &self.card.features {
            let k = self.card.categories.get(f).map_or(1, Vec::len);
            groups.push(off..off + k);
            off += k;
        }
        super::permutation_importance_grouped(&self.estimator, &d, &groups, opts)
    }

    /// The target column of a table as the model's codes (class labels mapped to the training
    /// classes).
    fn target_of(&self, t: &FeatureTable) -> Result<Vec<f64>> {
        let y = t.column(&self.card.target)?;
        match (&self.card.classes, &y.categories) {
            (None, None) => Ok(y.values.to_vec()),
            (Some(classes), Some(_)) => (0..t.len())
                .map(|i| {
                    let l = y.label(i).ok_or_else(|| Error::InvalidInput(format!("target of row {i} is missing")))?;
                    classes
                        .iter()
                        .position(|c| c == l)
                        .map(|k| k as f64)
                        .ok_or_else(|| Error::InvalidInput(format!("target class {l:?} was not seen in training")))
                })
                .collect(),
            _ => {
                Err(Error::InvalidInput(format!("target {:?} is not of the type it had in training", self.card.target)))
            }
        }
    }

    /// Every row of a table explained per card feature.
    pub fn explain_table(&self, t: &FeatureTable) -> Result<Vec<Explained>> {
        let x = self.card.encode(t)?;
        let w = self.card.encoded_width();
        x.chunks(w).map(|r| self.explain_encoded(r)).collect()
    }
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

/// Bytes of a key held in an environment variable `var` (none without a variable): the text as
/// bytes (HMAC keys), or 64 hex digits decoded to 32 bytes (`hex32`, AES-256 keys). Specs and
/// command lines name the variable, never the key.
pub fn key_from_env(var: Option<&str>, hex32: bool) -> Result<Option<Vec<u8>>> {
    let Some(var) = var else { return Ok(None) };
    let v = std::env::var(var).map_err(|_| Error::InvalidInput(format!("environment variable {var} is not set")))?;
    if !hex32 {
        check_hmac_key(Some(v.as_bytes())).map_err(|e| Error::InvalidInput(format!("{var}: {e}")))?;
        return Ok(Some(v.into_bytes()));
    }
    let v = v.trim();
    if v.len() != 64 || !v.is_ascii() {
        return Err(Error::InvalidInput(format!("{var} must hold 64 hex digits (a 32-byte key)")));
    }
    (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(&v[i..i + 2], 16).map_err(|_| Error::InvalidInput(format!("{var} is not hex"))))
        .collect::<Result<Vec<u8>>>()
        .map(Some)
}

/// Largest model file read: 2 GiB (a 500-tree forest on a million rows is a few hundred MB).
pub const MAX_MODEL_BYTES: u64 = 2 << 30;

/// Shortest HMAC key accepted, in bytes (128 bits): an empty or short key lets anyone forge a
/// signature.
pub const MIN_HMAC_KEY_BYTES: usize = 16;

fn check_hmac_key(k: Option<&[u8]>) -> Result<()> {
    match k {
        Some(k) if k.len() < MIN_HMAC_KEY_BYTES => Err(Error::InvalidInput(format!(
            "HMAC key of {} bytes: at least {MIN_HMAC_KEY_BYTES} are needed (a short key lets anyone forge a signature)",
            k.len()
        ))),
        _ => Ok(()),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.is_ascii() {
        return Err(Error::Integrity("hex field holds non-ASCII characters".into()));
    }
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
        check_hmac_key(opts.hmac_key)?;
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
        crate::output::write_atomic(path, text.as_bytes())
    }

    /// Read and verify a model (see the module docs for the errors).
    pub fn load(path: impl AsRef<Path>, opts: &LoadOptions<'_>) -> Result<Model> {
        let path = path.as_ref();
        check_hmac_key(opts.hmac_key)?;
        let text = crate::error::read_text_bounded(path, MAX_MODEL_BYTES, "model file")?;
        Model::from_json(&text, path, opts)
    }

    /// Verify and read a model file's text already in memory (an upload); `origin` names it in
    /// errors. The same checks as [`Model::load`].
    pub fn from_json(text: &str, origin: impl AsRef<Path>, opts: &LoadOptions<'_>) -> Result<Model> {
        let path = origin.as_ref();
        check_hmac_key(opts.hmac_key)?;
        let bad = |m: &str| Error::Format { format: "landopp model", path: path.to_path_buf(), message: m.into() };
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| bad(&format!("not JSON: {e}")))?;
        if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad("not a landopp model (no \"format\": \"landopp-model\")"));
        }
        let ver = v.get("format_version").and_then(|f| f.as_u64()).unwrap_or(0);
        if ver > FORMAT_VERSION as u64 {
            return Err(Error::Unsupported(format!(
                "model format version {ver} (this landopp reads up to {FORMAT_VERSION}; upgrade landopp)"
            )));
        }
        if ver < FORMAT_VERSION as u64 {
            return Err(Error::Unsupported(format!(
                "model format version {ver} was written by a pre-release landopp: retrain the model"
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
            (None, None) => env.payload,
            (None, Some(_)) => {
                // a plain file where an encrypted one is expected may have been substituted
                return Err(Error::Integrity(format!(
                    "{}: an encryption key was given but the model is not encrypted",
                    path.display()
                )));
            }
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
        m.estimator.check_structure().map_err(|e| bad(&format!("inconsistent model: {e}")))?;
        if m.card.encoded_width() != m.estimator.n_features() {
            return Err(bad(&format!(
                "the card describes {} model inputs, the model has {}",
                m.card.encoded_width(),
                m.estimator.n_features()
            )));
        }
        if m.card.classes.as_ref().is_some_and(|c| c.len() < m.estimator.n_classes()) {
            return Err(bad("the card names fewer classes than the model predicts"));
        }
        // compared as written (NaN metrics are equal there, not as numbers)
        let same = match (serde_json::to_value(&m.card), serde_json::to_value(&env.card)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
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

/// A map of numbers in which `null` (how JSON writes NaN) reads back as NaN.
fn nan_for_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<BTreeMap<String, f64>, D::Error> {
    let m: BTreeMap<String, Option<f64>> = serde::Deserialize::deserialize(d)?;
    Ok(m.into_iter().map(|(k, v)| (k, v.unwrap_or(f64::NAN))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::Task;

    fn model() -> (Model, Dataset) {
        let d = Dataset { x: (0..40).map(|i| i as f64).collect(), p: 2, y: (0..20).map(|i| (i % 3) as f64).collect() };
        let p: Params = crate::ml::ForestParams {
            task: Task::Regression,
            n_estimators: 5,
            max_features: None,
            min_samples_leaf: 1,
            max_depth: None,
            bootstrap: true,
            seed: 9,
        }
        .into();
        let f = Estimator::fit(&d, &p).unwrap();
        let card = ModelCard::new("2.1.0", &["a", "b"], "y", &d, [("r2".to_string(), 0.5)].into(), &p);
        (Model { card, estimator: f }, d)
    }

    #[test]
    fn tables_with_categories_and_unseen_policy() {
        let n = 120;
        let ids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let zone = |i: usize| ["R1", "C2", "I3"][i % 3].to_string();
        let mut t = FeatureTable::new(ids.clone());
        t.add_column("slope", (0..n).map(|i| (i % 17) as f64).collect(), Default::default()).unwrap();
        t.add_categorical("zone", (0..n).map(|i| Some(zone(i))).collect(), Default::default()).unwrap();
        t.add_categorical(
            "use",
            (0..n).map(|i| Some(if i % 3 == 1 { "shop" } else { "home" }.into())).collect(),
            Default::default(),
        )
        .unwrap();
        let feats = vec!["slope".to_string(), "zone".to_string()];
        let params =
            Params::parse(r#"{"model": "random_forest", "task": "classification", "n_estimators": 10}"#).unwrap();
        let m = Model::fit_table(&t, &feats, "use", &params, &FitOptions::default()).unwrap();
        assert_eq!(m.card.categories["zone"], vec!["C2", "I3", "R1"]);
        assert_eq!(m.card.classes.as_deref(), Some(&["home".to_string(), "shop".to_string()][..]));
        assert_eq!(m.card.encoded_width(), 4);
        let p = m.predict_table(&t).unwrap();
        assert!(p.chunks(2).enumerate().all(|(i, q)| (q[1] > 0.5) == (i % 3 == 1)));
        // a prediction column: the class by label or code, class 1 of two by default; a row with
        // a missing input is NaN
        assert_eq!((m.output_index(None).unwrap(), m.output_index(Some("home")).unwrap()), (1, 0));
        assert_eq!(m.output_index(Some("1")).unwrap(), 1);
        assert_eq!(m.output_index(Some("garden")).unwrap_err().code(), "NOT_FOUND");
        assert_eq!(m.output_name(1), "probability of \"shop\"");
        let col = m.predict_column(&t, 1).unwrap();
        assert!(col.iter().zip(p.chunks(2)).all(|(c, q)| *c == q[1]));
        let mut holes = FeatureTable::new(ids.clone());
        let slope = (0..n).map(|i| if i == 4 { f64::NAN } else { (i % 17) as f64 }).collect();
        holes.add_column("slope", slope, Default::default()).unwrap();
        holes.add_categorical("zone", (0..n).map(|i| Some(zone(i))).collect(), Default::default()).unwrap();
        let col = m.predict_column(&holes, 1).unwrap();
        assert!(col[4].is_nan() && col[5] == p[11]);
        let ex = m.explain_table(&t).unwrap();
        assert_eq!(ex[0].contributions.len(), 2); // per card feature, one-hot summed
        let s: f64 = ex[1].bias[1] + ex[1].contributions.iter().map(|c| c[1]).sum::<f64>();
        assert!((s - p[3]).abs() < 1e-9);
        // an unseen zone: refused by default, no category with "ignore"
        let mut u = FeatureTable::new(vec!["new".into()]);
        u.add_column("slope", vec![3.0], Default::default()).unwrap();
        u.add_categorical("zone", vec![Some("X9".into())], Default::default()).unwrap();
        let e = m.predict_table(&u).unwrap_err();
        assert_eq!(e.code(), "INVALID_INPUT");
        assert!(e.to_string().contains("\"X9\" was not seen"), "{e}");
        let opts = FitOptions { unseen_category: UnseenCategory::Ignore, ..Default::default() };
        let m2 = Model::fit_table(&t, &feats, "use", &params, &opts).unwrap();
        assert_eq!(m2.predict_table(&u).unwrap().len(), 2);
        // schema errors
        let mut v = FeatureTable::new(vec!["a".into()]);
        v.add_column("zone", vec![1.0], Default::default()).unwrap();
        v.add_column("slope", vec![1.0], Default::default()).unwrap();
        assert!(m.predict_table(&v).unwrap_err().to_string().contains("numeric here"));
        assert_eq!(m.predict_table(&FeatureTable::new(vec!["a".into()])).unwrap_err().code(), "NOT_FOUND");
        let reg = Params::parse(r#"{"task": "regression"}"#).unwrap();
        assert_eq!(
            Model::fit_table(&t, &feats, "use", &reg, &FitOptions::default()).unwrap_err().code(),
            "INVALID_INPUT"
        );
        let empty = FeatureTable::new(vec![]);
        assert!(Model::fit_table(&empty, &feats, "use", &params, &FitOptions::default()).is_err());
    }

    #[test]
    fn round_trip_and_every_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        let (m, d) = model();
        let key = [3u8; 32];
        let sign = Some(&b"sixteen bytes k1"[..]);
        m.save(&p, &SaveOptions { hmac_key: sign, encryption_key: Some(&key) }).unwrap();
        let opts = LoadOptions { hmac_key: sign, encryption_key: Some(&key), expect_features: None };
        let back = Model::load(&p, &opts).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.estimator.predict(&d.x).unwrap(), m.estimator.predict(&d.x).unwrap());
        // an undefined metric (NaN) saves and loads back as NaN
        let mut nan = m.clone();
        nan.card.metrics.insert("r2".into(), f64::NAN);
        let q = dir.path().join("nan.json");
        nan.save(&q, &SaveOptions { hmac_key: sign, encryption_key: None }).unwrap();
        let back = Model::load(&q, &LoadOptions { encryption_key: None, ..opts }).unwrap();
        assert!(back.card.metrics["r2"].is_nan());
        let code = |o: &LoadOptions<'_>| Model::load(&p, o).unwrap_err().code();
        assert_eq!(code(&LoadOptions { encryption_key: Some(&[4u8; 32]), ..opts }), "INTEGRITY");
        assert_eq!(code(&LoadOptions { hmac_key: Some(b"sixteen bytes k2"), ..opts }), "INTEGRITY");
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
        // an encryption key given for a plain model: refused (a substituted plain file)
        assert_eq!(code(&LoadOptions { encryption_key: Some(&key), ..LoadOptions::default() }), "INTEGRITY");
        // empty and short HMAC keys are refused, on save and on load
        for k in [&b""[..], b"short"] {
            assert_eq!(code(&LoadOptions { hmac_key: Some(k), ..LoadOptions::default() }), "INVALID_INPUT");
            let e = m.save(&p, &SaveOptions { hmac_key: Some(k), ..Default::default() }).unwrap_err();
            assert_eq!(e.code(), "INVALID_INPUT");
        }
        // non-ASCII text where hex is expected: an error, not a panic on a character boundary
        m.save(&p, &SaveOptions { hmac_key: sign, ..Default::default() }).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["hmac_sha256"] = "é".repeat(32).into();
        std::fs::write(&p, v.to_string()).unwrap();
        assert_eq!(code(&LoadOptions { hmac_key: sign, ..LoadOptions::default() }), "INTEGRITY");
    }

    /// Rewrite a saved model's payload with `edit` and a matching checksum.
    fn tamper(p: &Path, edit: impl Fn(&mut serde_json::Value)) {
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let mut payload: serde_json::Value = serde_json::from_str(v["payload"].as_str().unwrap()).unwrap();
        edit(&mut payload);
        let text = payload.to_string();
        v["sha256"] = hex(&Sha256::digest(text.as_bytes())).into();
        v["payload"] = text.into();
        std::fs::write(p, v.to_string()).unwrap();
    }

    #[test]
    fn inconsistent_model_structures_are_refused_before_use() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        let (m, _) = model();
        let code = || Model::load(&p, &LoadOptions::default()).unwrap_err().code();
        let internal = |v: &serde_json::Value| {
            // an internal node other than the root (the root pointing at itself would be a leaf)
            v["estimator"]["trees"][0]["split"].as_array().unwrap().iter().skip(1).position(|s| s["l"] != 0).unwrap()
                + 1
        };
        type Edit = Box<dyn Fn(&mut serde_json::Value)>;
        let edits: Vec<(&str, Edit)> = vec![
            // a child pointing back at its parent made predict loop forever
            (
                "cycle",
                Box::new(move |v| {
                    let k = internal(v);
                    v["estimator"]["trees"][0]["split"][k]["l"] = k.into();
                }),
            ),
            (
                "feature out of range",
                Box::new(move |v| {
                    let k = internal(v);
                    v["estimator"]["trees"][0]["split"][k]["f"] = 99.into();
                }),
            ),
            (
                "child out of range",
                Box::new(move |v| {
                    let k = internal(v);
                    v["estimator"]["trees"][0]["split"][k]["l"] = 100_000.into();
                }),
            ),
            ("values missing", Box::new(|v| v["estimator"]["trees"][0]["value"] = serde_json::json!([]))),
            ("no trees", Box::new(|v| v["estimator"]["trees"] = serde_json::json!([]))),
            ("zero features", Box::new(|v| v["estimator"]["p"] = 0.into())),
        ];
        for (what, edit) in edits {
            m.save(&p, &SaveOptions::default()).unwrap();
            tamper(&p, |v| edit(v));
            let mut env: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            env["card"] =
                serde_json::from_str::<serde_json::Value>(env["payload"].as_str().unwrap()).unwrap()["card"].clone();
            std::fs::write(&p, env.to_string()).unwrap();
            assert_eq!(code(), "FORMAT", "{what}");
        }
    }
}
