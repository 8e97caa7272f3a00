//! Model serving as a serving system does it: the registry's models loaded and warmed at start
//! (the first request is as fast as the rest), the production model swapped atomically on promote
//! (requests in flight finish on the model they started with), A/B routing by parcel id, batch
//! prediction with per-feature explanations.

use crate::store::{self, Store, StoreError};
use landopp::ml::drift::AbSplit;
use landopp::ml::lifecycle::{LoadOptions, Model, ModelCard};
use landopp::ml::registry::{Registry, RetrainPolicy, RetrainReport};
use landopp::{FeatureTable, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// Where models come from.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// A model registry directory (`landopp train --registry`).
    pub registry: std::path::PathBuf,
    /// Route parcels between two registered versions (deterministic by parcel id).
    #[serde(default)]
    pub ab_split: Option<AbSplit>,
    /// Train and promote the demo's model when the registry is empty (`--demo` sets it).
    #[serde(default)]
    pub demo: bool,
    /// The training data's feature table (CSV): the served features' drift (PSI, KS) against it
    /// is computed at start, served at `/v1/models/drift` and as the gauge
    /// `landopp_feature_drift_psi{feature}`. `--demo` uses its training table.
    #[serde(default)]
    pub drift_reference: Option<std::path::PathBuf>,
}

/// The served models.
#[derive(Debug)]
pub struct Models {
    registry: Registry,
    live: RwLock<HashMap<String, Arc<Model>>>,
    production: RwLock<Option<String>>,
    ab: Option<AbSplit>,
    drift: Option<landopp::ml::drift::DriftReport>,
    promoting: std::sync::Mutex<()>,
    /// The shared database whose registry this one follows ([`Models::share`]).
    shared: std::sync::OnceLock<Store>,
}

/// Why a registry call failed: the library (the model, the registry directory), or the shared
/// database.
#[derive(Debug)]
pub enum Failure {
    /// The library refused or failed.
    Core(landopp::Error),
    /// The shared database failed or cannot be reached.
    Store(StoreError),
}

impl From<landopp::Error> for Failure {
    fn from(e: landopp::Error) -> Self {
        Failure::Core(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Core(e) => write!(f, "[{}] {e}", e.code()),
            Failure::Store(e) => e.fmt(f),
        }
    }
}

impl From<Failure> for crate::problem::Problem {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Core(e) => e.into(),
            Failure::Store(e) => e.into(),
        }
    }
}

/// One prediction.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Prediction {
    /// Parcel id.
    pub parcel_id: String,
    /// Model version that answered.
    pub model_version: String,
    /// The prediction (regression) or each class's probability, in `outputs` order; null for a
    /// parcel with a missing input.
    pub values: Vec<Option<f64>>,
    /// What each value is (`prediction`, or the class labels).
    pub outputs: Vec<String>,
    /// Per feature and output, its contribution (with `explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contributions: Option<Vec<FeatureContribution>>,
}

/// A feature's contribution to a prediction.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct FeatureContribution {
    /// Feature.
    pub feature: String,
    /// Its value for the parcel.
    pub value: Option<f64>,
    /// Contribution to each output.
    pub contribution: Vec<f64>,
}

/// A model's predictions against the outcomes recorded as feedback.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Accuracy {
    /// Model version.
    pub model_version: String,
    /// Feedback records compared (with a label for a regression, an outcome that is one of the
    /// classes for a classifier, on parcels with complete inputs).
    pub n: usize,
    /// Feedback records left out (no usable label or outcome, or a missing input).
    pub skipped: usize,
    /// `accuracy` (classifiers), or `r2`, `rmse`, `mae` (regressions); absent with no record.
    pub metrics: std::collections::BTreeMap<String, f64>,
}

/// One prediction touches every tree and the encoder before the first request does. A model
/// whose inputs the served features lack is refused here, at start or promote, not at the first
/// request.
fn warm(m: &Model, features: &FeatureTable) -> Result<()> {
    if !features.is_empty() {
        let one = features.select_rows(&[0])?;
        m.predict_table(&one)?;
    }
    Ok(())
}

/// What an upload did.
#[derive(Debug)]
pub enum Uploaded {
    /// Registered (and loaded).
    Added(Box<ModelInfo>),
    /// A model with this version is registered already (nothing changed).
    Exists(String),
    /// The file is not a sound landopp model, or it cannot predict from the served features.
    Refused(landopp::Error),
}

/// A registered model.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct ModelInfo {
    /// Its card.
    pub card: ModelCard,
    /// True for the production model.
    pub production: bool,
    /// Loaded and warm in this process.
    pub loaded: bool,
}

impl Models {
    /// Open the registry, load the production model and the A/B pair, and warm them on `features`.
    pub fn open(c: &ModelsConfig, features: &FeatureTable) -> Result<Models> {
        let mut m = Models::read(c)?;
        m.prepare(c, features)?;
        Ok(m)
    }

    /// The first half of [`Models::open`], which needs no features (so it runs while the parcels
    /// load): the registry, and the production model and the A/B pair read from their files.
    pub fn read(c: &ModelsConfig) -> Result<Models> {
        let m = Models {
            registry: Registry::open(&c.registry)?,
            live: RwLock::new(HashMap::new()),
            production: RwLock::new(None),
            ab: c.ab_split.clone(),
            drift: None,
            promoting: std::sync::Mutex::new(()),
            shared: std::sync::OnceLock::new(),
        };
        let mut versions = Vec::new();
        if let Some(ab) = &m.ab {
            ab.assign("")?;
            versions.extend([ab.model_a.clone(), ab.model_b.clone()]);
        }
        let production = m.registry.production()?;
        versions.extend(production.clone());
        for v in versions {
            m.read_version(&v)?;
        }
        *m.production.write().unwrap_or_else(|e| e.into_inner()) = production;
        Ok(m)
    }

    /// The second half of [`Models::open`]: warm every loaded model on the served features and
    /// compute their drift against the reference.
    pub fn prepare(&mut self, c: &ModelsConfig, features: &FeatureTable) -> Result<()> {
        let live: Vec<Arc<Model>> = self.live.read().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        for m in live {
            warm(&m, features)?;
        }
        self.drift = match &c.drift_reference {
            None => None,
            Some(p) => Some(landopp::ml::drift::report_tables(&FeatureTable::read_csv(p)?, features, None, None)?),
        };
        for col in self.drift.iter().flat_map(|d| &d.columns) {
            metrics::gauge!("landopp_feature_drift_psi", "feature" => col.name.clone()).set(col.psi);
        }
        Ok(())
    }

    /// The demo's registry: a random forest predicting a parcel's land-use class from its
    /// terrain and shape (labels from the land-use map itself: a stand-in for an outcome model
    /// trained on sales or permits), added and promoted when the registry is new.
    pub fn demo(dir: &Path, features: &FeatureTable) -> Result<Models> {
        let registry = Registry::open(dir)?;
        let reference = dir.join("training_features.csv");
        if registry.list()?.is_empty() {
            let cols: Vec<String> =
                ["slope_mean", "slope_share_le_8", "area_acres", "polsby_popper", "mrr_fill", "mrr_elongation"]
                    .map(String::from)
                    .to_vec();
            let params = landopp::ml::Params::parse(
                r#"{"model": "random_forest", "task": "classification", "n_estimators": 50, "seed": 7}"#,
            )?;
            let opts =
                landopp::ml::lifecycle::FitOptions { model_version: Some("demo-1.0.0".into()), ..Default::default() };
            let model = Model::fit_table(features, &cols, "landuse_dominant", &params, &opts)?;
            registry.add(&model, &Default::default())?;
            registry.promote("demo-1.0.0")?;
            features.write_csv(&reference)?;
        }
        let c = ModelsConfig {
            registry: dir.to_path_buf(),
            ab_split: None,
            demo: false,
            drift_reference: reference.exists().then_some(reference),
        };
        Models::open(&c, features)
    }

    /// Read a version's file unless loaded (served once warmed, by [`Models::prepare`]).
    fn read_version(&self, version: &str) -> Result<Arc<Model>> {
        self.serve(version, |_| Ok(()))
    }

    /// Load and warm a version unless loaded; it is served only once warmed.
    fn load(&self, version: &str, features: &FeatureTable) -> Result<Arc<Model>> {
        self.serve(version, |m| warm(m, features))
    }

    /// The loaded version, or its file read, passed through `ready`, then served.
    fn serve(&self, version: &str, ready: impl FnOnce(&Model) -> Result<()>) -> Result<Arc<Model>> {
        if let Some(m) = self.live.read().unwrap_or_else(|e| e.into_inner()).get(version) {
            return Ok(m.clone());
        }
        let m = Arc::new(Model::load(self.registry.model_path(version)?, &LoadOptions::default())?);
        ready(&m)?;
        self.live.write().unwrap_or_else(|e| e.into_inner()).insert(version.to_string(), m.clone());
        Ok(m)
    }

    /// The served features' drift against the training reference (none configured: `None`).
    pub fn drift(&self) -> Option<&landopp::ml::drift::DriftReport> {
        self.drift.as_ref()
    }

    /// Every registered model.
    pub fn list(&self) -> Result<Vec<ModelInfo>> {
        let prod = self.production.read().unwrap_or_else(|e| e.into_inner()).clone();
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        Ok(self
            .registry
            .list()?
            .into_iter()
            .map(|card| ModelInfo {
                production: prod.as_deref() == Some(card.model_version.as_str()),
                loaded: live.contains_key(&card.model_version),
                card,
            })
            .collect())
    }

    /// Make `version` production: loaded and warmed first, then swapped in one step. With a
    /// shared database, the database's production version changes first (every replica follows).
    pub fn promote(&self, version: &str, features: &FeatureTable, actor: &str) -> std::result::Result<(), Failure> {
        // one promote at a time: the registry file and the served model move together
        let _one = self.promoting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = self.shared.get() {
            if !self.registered(version)? {
                self.pull(db, version)?;
            }
        }
        self.load(version, features)?;
        if let Some(db) = self.shared.get() {
            // stored before it is named production (the database's key)
            let m = self.stored(version)?;
            db.run_sync(|c| store::models::add(c, &m, actor))?;
            db.run_sync(|c| store::models::promote(c, version, actor))?;
        }
        self.registry.promote(version)?;
        *self.production.write().unwrap_or_else(|e| e.into_inner()) = Some(version.to_string());
        Ok(())
    }

    fn registered(&self, version: &str) -> Result<bool> {
        Ok(self.registry.list()?.iter().any(|c| c.model_version == version))
    }

    /// A registered version as the database stores it: its card and the registry's file.
    fn stored(&self, version: &str) -> Result<store::models::StoredModel> {
        let path = self.registry.model_path(version)?;
        let file = std::fs::read_to_string(&path).map_err(|e| landopp::Error::io(&path, e))?;
        let card = self.registry.list()?.into_iter().find(|c| c.model_version == version);
        Ok(store::models::StoredModel {
            model_version: version.to_string(),
            card: serde_json::to_string(&card).map_err(|e| landopp::Error::Internal(e.to_string()))?,
            file,
        })
    }

    /// Copy a version from the database into the local registry, checked as an upload is
    /// (checksum, structure, card); false when the database does not hold it.
    fn pull(&self, db: &Store, version: &str) -> std::result::Result<bool, Failure> {
        let Some(text) = db.run_sync(|c| store::models::file(c, version))? else { return Ok(false) };
        let m = Model::from_json(&text, format!("model {version} in the database"), &LoadOptions::default())?;
        if m.card.model_version != version {
            return Err(Failure::Core(landopp::Error::Integrity(format!(
                "the database's model {version} is a file of version {}",
                m.card.model_version
            ))));
        }
        self.registry.add(&m, &Default::default())?;
        Ok(true)
    }

    /// Follow the shared database's registry (a PostgreSQL store; an embedded one is ignored):
    /// from now on uploads, promotions and retrainings are stored there first.
    pub fn share(&self, db: &Store) {
        if db.is_shared() {
            let _ = self.shared.set(db.clone());
        }
    }

    /// Make this replica's registry agree with the shared database's: versions only the database
    /// holds are copied into the local registry (a version that does not load is logged and left
    /// out), versions only the local registry holds are stored (the first replica seeds the
    /// database), and the database's production version — loaded and warmed on `features` —
    /// becomes this replica's (a database with none takes this replica's). Returns the production
    /// version when it changed here.
    pub fn sync(&self, features: &FeatureTable) -> std::result::Result<Option<String>, Failure> {
        let Some(db) = self.shared.get() else { return Ok(None) };
        let _one = self.promoting.lock().unwrap_or_else(|e| e.into_inner());
        let actor = format!("replica:{}", store::replica());
        let stored = db.run_sync(store::models::versions)?;
        let local: std::collections::BTreeSet<String> =
            self.registry.list()?.into_iter().map(|c| c.model_version).collect();
        for v in stored.iter().filter(|v| !local.contains(*v)) {
            // copied and kept loaded, as the replica that took the upload keeps it: a request
            // naming the version is answered by every replica
            let copied = self.pull(db, v).and_then(|_| self.load(v, features).map_err(Failure::from));
            if let Err(e) = copied {
                tracing::error!(model_version = %v, error = %e, "a model in the database does not load: left out");
            }
        }
        for v in local.iter().filter(|v| !stored.contains(v)) {
            // one version that cannot be stored must not stop following production
            let pushed = self
                .stored(v)
                .map_err(Failure::from)
                .and_then(|m| db.run_sync(|c| store::models::add(c, &m, &actor)).map_err(Failure::from));
            if let Err(e) = pushed {
                tracing::warn!(model_version = %v, error = %e, "a local model could not be stored in the database: retried at the next look");
            }
        }
        let current = self.production();
        match db.run_sync(store::models::production)? {
            Some(p) if current.as_deref() != Some(p.as_str()) => match self.load(&p, features) {
                Ok(_) => {
                    self.registry.promote(&p)?;
                    *self.production.write().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
                    Ok(Some(p))
                }
                Err(e) => {
                    tracing::error!(model_version = %p, error = %e, "the database's production model does not load here: kept the current one");
                    Ok(None)
                }
            },
            None => {
                if let Some(p) = current {
                    db.run_sync(|c| store::models::promote(c, &p, &actor))?;
                }
                Ok(None)
            }
            Some(_) => Ok(None),
        }
    }

    /// Verify an uploaded model file (checksum, structure, card), check that it predicts from
    /// the served features (warmed), then register it — not promoted — and keep it loaded. With a
    /// shared database the file is stored there first, and a version any replica registered
    /// already is refused.
    pub fn upload(&self, text: &str, features: &FeatureTable, actor: &str) -> std::result::Result<Uploaded, Failure> {
        let m = match Model::from_json(text, "the uploaded model", &LoadOptions::default()) {
            Ok(m) => m,
            Err(e) => return Ok(Uploaded::Refused(e)),
        };
        if let Err(e) = warm(&m, features) {
            return Ok(Uploaded::Refused(e));
        }
        let v = m.card.model_version.clone();
        // a version the registry cannot file (its name) is refused before anything is stored
        if let Err(e) = self.registry.model_path(&v) {
            if e.kind() == landopp::ErrorKind::InvalidInput {
                return Ok(Uploaded::Refused(e));
            }
        }
        let _one = self.promoting.lock().unwrap_or_else(|e| e.into_inner());
        if self.registered(&v)? {
            return Ok(Uploaded::Exists(v));
        }
        if let Some(db) = self.shared.get() {
            let card = serde_json::to_string(&m.card).map_err(|e| landopp::Error::Internal(e.to_string()))?;
            let row = store::models::StoredModel { model_version: v.clone(), card, file: text.to_string() };
            if !db.run_sync(|c| store::models::add(c, &row, actor))? {
                return Ok(Uploaded::Exists(v));
            }
        }
        self.registry.add(&m, &Default::default())?;
        let card = m.card.clone();
        self.live.write().unwrap_or_else(|e| e.into_inner()).insert(v, Arc::new(m));
        Ok(Uploaded::Added(Box::new(ModelInfo { card, production: false, loaded: true })))
    }

    /// Retrain the production model on the outcomes recorded as feedback (the core's
    /// [`Registry::retrain`]: due by count or drift, champion vs candidate on held-out parcels,
    /// the candidate promoted only when better — then loaded, warmed and swapped in here).
    /// A regression learns from each record's `label`; a classifier from its `outcome`, which
    /// must be one of the champion's classes (other records are left out).
    pub fn retrain(
        &self,
        features: &FeatureTable,
        feedback: &[(i64, crate::store::Feedback)],
        policy: &RetrainPolicy,
        candidate_version: &str,
        actor: &str,
    ) -> std::result::Result<RetrainReport, Failure> {
        let _one = self.promoting.lock().unwrap_or_else(|e| e.into_inner());
        let champion = self
            .production()
            .ok_or_else(|| landopp::Error::InvalidInput("no production model to retrain: promote one first".into()))?;
        let (_, champ) = self.route("", Some(&champion), None)?;
        let classes = champ.card.classes.clone().unwrap_or_default();
        let k = champ.estimator.n_classes();
        let records: Vec<landopp::ml::registry::Feedback> = feedback
            .iter()
            .filter_map(|(at, f)| {
                let observed = if k == 0 {
                    f.label.filter(|l| l.is_finite())?
                } else {
                    classes.iter().take(k).position(|c| Some(c) == f.outcome.as_ref())? as f64
                };
                Some(landopp::ml::registry::Feedback {
                    parcel_id: f.parcel_id.clone(),
                    model_version: champion.clone(),
                    predicted: f64::NAN,
                    observed,
                    at_unix: (*at).max(0) as u64,
                })
            })
            .collect();
        let report = self.registry.retrain(
            features,
            &records,
            policy,
            candidate_version,
            &Default::default(),
            &Default::default(),
        )?;
        if let (Some(db), Some(c)) = (self.shared.get(), &report.candidate) {
            let m = self.stored(c)?;
            db.run_sync(|x| store::models::add(x, &m, actor))?;
            if report.promoted {
                db.run_sync(|x| store::models::promote(x, c, actor))?;
            }
        }
        if report.promoted {
            self.load(candidate_version, features)?;
            *self.production.write().unwrap_or_else(|e| e.into_inner()) = Some(candidate_version.to_string());
        }
        Ok(report)
    }

    /// The production version, if any.
    pub fn production_version(&self) -> Option<String> {
        self.production()
    }

    fn production(&self) -> Option<String> {
        self.production.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The model that answers for `parcel_id`: the asked version, else the A/B split's, else
    /// production.
    /// `production` is read once per request by the caller, so one request is answered by one
    /// production model even while a promote swaps it.
    fn route(&self, parcel_id: &str, version: Option<&str>, production: Option<&str>) -> Result<(String, Arc<Model>)> {
        let v = match (version, &self.ab) {
            (Some(v), _) => v.to_string(),
            (None, Some(ab)) => ab.assign(parcel_id)?.to_string(),
            (None, None) => production
                .map(str::to_string)
                .ok_or_else(|| landopp::Error::InvalidInput("no production model: promote one first".into()))?,
        };
        let m = self
            .live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&v)
            .cloned()
            .ok_or_else(|| landopp::Error::not_found("loaded model version", v.clone(), self.loaded()))?;
        Ok((v, m))
    }

    fn loaded(&self) -> Vec<String> {
        let mut v: Vec<String> = self.live.read().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect();
        v.sort();
        v
    }

    /// The model's predictions for the parcels with feedback, against the feedback: classifiers by
    /// the recorded `outcome` (a class label), regressions by the recorded `label`.
    pub fn accuracy(
        &self,
        features: &FeatureTable,
        row_of: &dyn Fn(&str) -> Option<usize>,
        feedback: &[crate::store::Feedback],
        version: Option<&str>,
    ) -> Result<Accuracy> {
        let v = match version {
            Some(v) => v.to_string(),
            None => self
                .production()
                .ok_or_else(|| landopp::Error::InvalidInput("no production model: promote one first".into()))?,
        };
        let (_, m) = self.route("", Some(&v), None)?;
        let k = m.estimator.n_classes();
        let classes = m.card.classes.clone().unwrap_or_default();
        // (row, truth) of the usable records
        let usable: Vec<(usize, f64)> = feedback
            .iter()
            .filter_map(|f| {
                let row = row_of(&f.parcel_id)?;
                let truth = if k == 0 {
                    f.label.filter(|l| l.is_finite())?
                } else {
                    classes.iter().take(k).position(|c| Some(c) == f.outcome.as_ref())? as f64
                };
                Some((row, truth))
            })
            .collect();
        let sub = features.select_rows(&usable.iter().map(|u| u.0).collect::<Vec<_>>())?;
        let outs: Vec<Vec<f64>> = (0..k.max(1)).map(|o| m.predict_column(&sub, o)).collect::<Result<_>>()?;
        let ok: Vec<usize> = (0..usable.len()).filter(|&j| outs.iter().all(|c| c[j].is_finite())).collect();
        let y: Vec<f64> = ok.iter().map(|&j| usable[j].1).collect();
        let pred: Vec<f64> = ok.iter().flat_map(|&j| outs.iter().map(move |c| c[j])).collect();
        let mut metrics = std::collections::BTreeMap::new();
        if !y.is_empty() {
            let names: &[&str] = if k == 0 { &["r2", "rmse", "mae"] } else { &["accuracy"] };
            for name in names {
                metrics.insert(name.to_string(), landopp::ml::metrics::metric(name, &y, &pred, k)?);
            }
        }
        Ok(Accuracy { model_version: v, n: y.len(), skipped: feedback.len() - y.len(), metrics })
    }

    /// Predict (and explain) the parcels at `rows` of `features`, each by its routed model.
    pub fn predict(
        &self,
        features: &FeatureTable,
        rows: &[(String, usize)],
        version: Option<&str>,
        explain: bool,
    ) -> Result<Vec<Prediction>> {
        // group rows by model so each model predicts one batch
        let production = self.production();
        let mut groups: Vec<(String, Arc<Model>, Vec<usize>)> = Vec::new();
        for (k, (id, _)) in rows.iter().enumerate() {
            let (v, m) = self.route(id, version, production.as_deref())?;
            match groups.iter_mut().find(|g| g.0 == v) {
                Some(g) => g.2.push(k),
                None => groups.push((v, m, vec![k])),
            }
        }
        let mut out: Vec<Option<Prediction>> = (0..rows.len()).map(|_| None).collect();
        for (v, m, ks) in groups {
            let sub = features.select_rows(&ks.iter().map(|&k| rows[k].1).collect::<Vec<_>>())?;
            let k = m.estimator.n_classes();
            let outputs: Vec<String> = match (&m.card.classes, k) {
                (_, 0) => vec!["prediction".into()],
                (Some(l), _) => l.iter().take(k).cloned().collect(),
                (None, _) => (0..k).map(|c| c.to_string()).collect(),
            };
            let cols: Vec<Vec<f64>> = (0..k.max(1)).map(|o| m.predict_column(&sub, o)).collect::<Result<_>>()?;
            let explained = if explain { Some(m.explain_table(&sub)?) } else { None };
            metrics::counter!("landopp_model_predictions_total", "model_version" => v.clone())
                .increment(ks.len() as u64);
            for (j, &kk) in ks.iter().enumerate() {
                let contributions = explained.as_ref().map(|e| {
                    m.card
                        .features
                        .iter()
                        .zip(&e[j].contributions)
                        .map(|(f, c)| FeatureContribution {
                            feature: f.clone(),
                            value: sub.column(f).ok().map(|col| col.values[j]).filter(|x| !x.is_nan()),
                            contribution: c.clone(),
                        })
                        .collect()
                });
                out[kk] = Some(Prediction {
                    parcel_id: rows[kk].0.clone(),
                    model_version: v.clone(),
                    values: cols.iter().map(|c| Some(c[j]).filter(|x| !x.is_nan())).collect(),
                    outputs: outputs.clone(),
                    contributions,
                });
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}
