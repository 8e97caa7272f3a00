//! A model registry on a directory (list, add, promote, roll back) and a durable feedback log.
//!
//! Layout: `<dir>/models/<model_version>.json` (saved [`Model`]s, whose clear model cards are
//! listed without keys) and `<dir>/registry.json` (`{"production": version, "history": [...]}`,
//! replaced atomically: write, fsync, rename). The feedback log is an append-only JSON-lines file:
//! each record is written and `fsync`ed before [`FeedbackLog::append`] returns, so acknowledged
//! records survive a crash; a torn last line from a crash mid-write is skipped on reading.
//!
//! [`Registry::retrain`] closes the loop: when enough new outcomes have arrived (or the features
//! of the newly observed parcels drift), a candidate is trained with the production model's
//! hyper-parameters on the observed outcomes, both are scored on the same held-out parcels, and
//! the candidate is registered — and promoted only if it beats the production model.

use super::lifecycle::{FitOptions, LoadOptions, Model, ModelCard, SaveOptions};
use crate::error::{Error, Result};
use crate::features::FeatureTable;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A model registry rooted at a directory.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    production: Option<String>,
    history: Vec<String>,
}

fn write_atomic(path: &Path, text: &str) -> Result<()> {
    crate::output::write_atomic(path, text.as_bytes())
}

impl Registry {
    /// Open (creating) a registry directory.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(dir.join("models")).map_err(|e| Error::io(&dir, e))?;
        Ok(Registry { dir })
    }

    fn state(&self) -> Result<State> {
        let p = self.dir.join("registry.json");
        match std::fs::read_to_string(&p) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| Error::Format {
                format: "landopp registry",
                path: p,
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    fn set_state(&self, s: &State) -> Result<()> {
        write_atomic(&self.dir.join("registry.json"), &serde_json::to_string_pretty(s).expect("state serialises"))
    }

    fn path_of(&self, version: &str) -> Result<PathBuf> {
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c)) {
            return Err(Error::InvalidInput(format!("model version {version:?}: use letters, digits and . _ - +")));
        }
        Ok(self.dir.join("models").join(format!("{version}.json")))
    }

    /// Add a model under its card's version (refused if that version exists).
    pub fn add(&self, model: &Model, opts: &SaveOptions<'_>) -> Result<PathBuf> {
        let p = self.path_of(&model.card.model_version)?;
        if p.exists() {
            return Err(Error::InvalidInput(format!(
                "model version {} is already registered",
                model.card.model_version
            )));
        }
        model.save(&p, opts)?;
        Ok(p)
    }

    /// Cards of every registered model (read without keys), by version.
    pub fn list(&self) -> Result<Vec<ModelCard>> {
        let mut out = Vec::new();
        let dir = self.dir.join("models");
        for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
                let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Format {
                    format: "landopp model",
                    path: p.clone(),
                    message: e.to_string(),
                })?;
                let card = serde_json::from_value(v["card"].clone()).map_err(|e| Error::Format {
                    format: "landopp model",
                    path: p.clone(),
                    message: e.to_string(),
                })?;
                out.push(card);
            }
        }
        out.sort_by(|a: &ModelCard, b| a.model_version.cmp(&b.model_version));
        Ok(out)
    }

    /// The production version, if any.
    pub fn production(&self) -> Result<Option<String>> {
        Ok(self.state()?.production)
    }

    /// Path of a registered version's file.
    pub fn model_path(&self, version: &str) -> Result<PathBuf> {
        let p = self.path_of(version)?;
        if !p.exists() {
            return Err(Error::not_found(
                "model version",
                version,
                self.list()?.into_iter().map(|c| c.model_version).collect(),
            ));
        }
        Ok(p)
    }

    /// Make `version` the production model.
    pub fn promote(&self, version: &str) -> Result<()> {
        self.model_path(version)?;
        let mut s = self.state()?;
        if let Some(cur) = s.production.take() {
            s.history.push(cur);
        }
        s.production = Some(version.to_string());
        self.set_state(&s)
    }

    /// Return to the previously promoted version; returns it.
    pub fn rollback(&self) -> Result<String> {
        let mut s = self.state()?;
        let prev =
            s.history.pop().ok_or_else(|| Error::InvalidInput("no earlier production model to roll back to".into()))?;
        s.production = Some(prev.clone());
        self.set_state(&s)?;
        Ok(prev)
    }
}

/// When to retrain and how to judge the candidate.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrainPolicy {
    /// Retrain once this many outcomes were observed after the production model was created.
    #[serde(default = "hundred")]
    pub min_new_records: usize,
    /// ...or once a feature's PSI between parcels observed before and after exceeds this.
    #[serde(default)]
    pub max_psi: Option<f64>,
    /// Share of the observed parcels held out to compare the two models (by a hash of the id).
    #[serde(default = "fifth")]
    pub holdout_fraction: f64,
    /// Comparison metric (default `r2`, or `balanced_accuracy` for classes).
    #[serde(default)]
    pub metric: Option<String>,
    /// Salt of the hold-out hash.
    #[serde(default)]
    pub salt: String,
}

fn hundred() -> usize {
    100
}
fn fifth() -> f64 {
    0.2
}

impl Default for RetrainPolicy {
    fn default() -> Self {
        RetrainPolicy { min_new_records: 100, max_psi: None, holdout_fraction: 0.2, metric: None, salt: String::new() }
    }
}

/// What [`Registry::retrain`] found and did.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetrainReport {
    /// The production model it started from.
    pub champion: String,
    /// Outcomes observed after the champion was created.
    pub new_records: usize,
    /// Largest feature PSI (before vs after), and its feature.
    pub max_psi: Option<(String, f64)>,
    /// Whether a retraining was due, and why (or why not).
    pub due: bool,
    /// Why.
    pub reason: String,
    /// The candidate's version, if one was trained (it is registered either way).
    pub candidate: Option<String>,
    /// Comparison metric.
    pub metric: String,
    /// Champion and candidate on the held-out parcels.
    pub champion_score: Option<f64>,
    /// Candidate on the held-out parcels.
    pub candidate_score: Option<f64>,
    /// Held-out parcels.
    pub holdout_rows: usize,
    /// The candidate became the production model.
    pub promoted: bool,
}

impl Registry {
    /// Retrain if due (see the module docs). `table` holds the parcels' current features (by
    /// id); each parcel's latest `feedback` record is its observed outcome. The candidate gets
    /// `candidate_version`; `load` opens the production model, `save` writes the candidate.
    // Long by design: the documented retraining steps in order (due? → hold-out → champion vs
    // candidate → register → promote), each a few lines.
    pub fn retrain(
        &self,
        table: &FeatureTable,
        feedback: &[Feedback],
        policy: &RetrainPolicy,
        candidate_version: &str,
        load: &LoadOptions<'_>,
        save: &SaveOptions<'_>,
    ) -> Result<RetrainReport> {
        use std::collections::HashMap;
        if !(policy.holdout_fraction > 0.0 && policy.holdout_fraction < 1.0) {
            return Err(Error::InvalidInput(format!("holdout_fraction {} outside (0, 1)", policy.holdout_fraction)));
        }
        let champion = self
            .production()?
            .ok_or_else(|| Error::InvalidInput("no production model to retrain: promote one first".into()))?;
        let champ = Model::load(self.model_path(&champion)?, load)?;
        let card = &champ.card;
        let task = card.hyper_parameters.task();
        let metric = policy
            .metric
            .clone()
            .unwrap_or_else(|| if task == super::Task::Regression { "r2" } else { "balanced_accuracy" }.to_string());
        let mut latest: HashMap<&str, &Feedback> = HashMap::new();
        for f in feedback {
            let e = latest.entry(f.parcel_id.as_str()).or_insert(f);
            if f.at_unix >= e.at_unix {
                *e = f;
            }
        }
        let rows: Vec<usize> = (0..table.len()).filter(|&i| latest.contains_key(table.ids()[i].as_str())).collect();
        if rows.is_empty() {
            return Err(Error::Empty("no feedback record matches a parcel of the table".into()));
        }
        let is_new = |i: usize| latest[table.ids()[i].as_str()].at_unix > card.created_at_unix;
        let new_records = feedback.iter().filter(|f| f.at_unix > card.created_at_unix).count();
        // drift of the numeric features: parcels observed before vs after the champion
        let (old, new): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| !is_new(i));
        let mut max_psi: Option<(String, f64)> = None;
        if old.len() >= 10 && new.len() >= 10 {
            for f in card.features.iter().filter(|f| !card.categories.contains_key(*f)) {
                let v = &table.column(f)?.values;
                let a: Vec<f64> = old.iter().map(|&i| v[i]).collect();
                let b: Vec<f64> = new.iter().map(|&i| v[i]).collect();
                let p = super::drift::psi(&a, &b, 10)?;
                if max_psi.as_ref().is_none_or(|m| p > m.1) {
                    max_psi = Some((f.clone(), p));
                }
            }
        }
        let drifted = matches!((&max_psi, policy.max_psi), (Some((_, p)), Some(t)) if *p > t);
        let due = new_records >= policy.min_new_records || drifted;
        let reason = if new_records >= policy.min_new_records {
            format!("{new_records} new outcomes (threshold {})", policy.min_new_records)
        } else if drifted {
            let (f, p) = max_psi.clone().expect("drifted implies a PSI");
            format!("feature {f} drifted (PSI {p:.3} > {})", policy.max_psi.unwrap_or_default())
        } else {
            format!("{new_records} new outcomes (< {}) and no drift over the threshold", policy.min_new_records)
        };
        let mut report = RetrainReport {
            champion: champion.clone(),
            new_records,
            max_psi,
            due,
            reason,
            candidate: None,
            metric: metric.clone(),
            champion_score: None,
            candidate_score: None,
            holdout_rows: 0,
            promoted: false,
        };
        if !due {
            return Ok(report);
        }
        // the observed parcels with their outcome as the target, split by a hash of the id
        let mut labelled = table.select_rows(&rows)?;
        labelled.add_column(
            card.target.clone(),
            rows.iter().map(|&i| latest[table.ids()[i].as_str()].observed).collect(),
            Default::default(),
        )?;
        let split = super::drift::AbSplit {
            salt: format!("holdout\u{1f}{}", policy.salt),
            share_b: policy.holdout_fraction,
            model_a: "train".into(),
            model_b: "holdout".into(),
        };
        let mut train = Vec::new();
        let mut hold = Vec::new();
        for (r, id) in labelled.ids().iter().enumerate() {
            if split.assign(id)? == "holdout" {
                hold.push(r)
            } else {
                train.push(r)
            }
        }
        if train.is_empty() || hold.is_empty() {
            return Err(Error::Empty(format!(
                "{} observed parcels: too few to split into training and hold-out",
                labelled.len()
            )));
        }
        let (train_t, hold_t) = (labelled.select_rows(&train)?, labelled.select_rows(&hold)?);
        let opts = FitOptions {
            model_version: Some(candidate_version.to_string()),
            metrics: Default::default(),
            unseen_category: card.unseen_category,
        };
        // categorical targets arrive as class codes: fit on the codes, keep the champion's labels
        let mut cand = Model::fit_table(&train_t, &card.features, &card.target, &card.hyper_parameters, &opts)?;
        cand.card.classes = card.classes.clone();
        let y: Vec<f64> = hold_t.column(&card.target)?.values.to_vec();
        let score_of = |m: &Model| -> Result<f64> {
            super::metric(&metric, &y, &m.predict_table(&hold_t)?, m.estimator.n_classes())
        };
        let (champ_s, cand_s) = (score_of(&champ)?, score_of(&cand)?);
        cand.card.metrics.insert(format!("{metric}_holdout"), cand_s);
        cand.card.metrics.insert(format!("{metric}_holdout_champion_{champion}"), champ_s);
        self.add(&cand, save)?;
        let better = if super::greater_is_better(&metric) { cand_s > champ_s } else { cand_s < champ_s };
        if better {
            self.promote(candidate_version)?;
        }
        report.candidate = Some(candidate_version.to_string());
        report.champion_score = Some(champ_s);
        report.candidate_score = Some(cand_s);
        report.holdout_rows = hold.len();
        report.promoted = better;
        Ok(report)
    }
}

/// One observed outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// Parcel id.
    pub parcel_id: String,
    /// Model version that made the prediction.
    pub model_version: String,
    /// What the model predicted.
    pub predicted: f64,
    /// What happened (sale price, permit issued 1/0, ...).
    pub observed: f64,
    /// When it was observed, seconds since the Unix epoch.
    pub at_unix: u64,
}

/// An append-only, fsynced JSON-lines feedback log.
#[derive(Debug)]
pub struct FeedbackLog {
    path: PathBuf,
    file: std::fs::File,
}

impl FeedbackLog {
    /// Open (creating) the log for appending. A torn last line left by a crash mid-write is cut
    /// off first, so new records start on a line of their own.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Ok(m) = std::fs::metadata(&path) {
            if !m.is_file() {
                return Err(Error::InvalidInput(format!("feedback log {} is not a regular file", path.display())));
            }
        }
        if let Ok(bytes) = std::fs::read(&path) {
            if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| Error::io(&path, e))?;
                f.set_len(keep as u64).and_then(|_| f.sync_all()).map_err(|e| Error::io(&path, e))?;
            }
        }
        let file =
            std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(FeedbackLog { path, file })
    }

    /// Append one record; returns once it is on disk (`fsync`).
    pub fn append(&mut self, r: &Feedback) -> Result<()> {
        if !r.observed.is_finite() || !r.predicted.is_finite() {
            return Err(Error::InvalidInput(format!("feedback for {}: values must be finite", r.parcel_id)));
        }
        let mut line = serde_json::to_string(r).map_err(|e| Error::InvalidInput(e.to_string()))?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).and_then(|_| self.file.sync_data()).map_err(|e| Error::io(&self.path, e))
    }

    /// Every intact record of a log. A line that is not a record (corrupted on disk, or torn by
    /// a crash mid-write) is skipped and reported with its line number and byte offset: one bad
    /// line never makes the rest of the log unreadable.
    pub fn read(path: impl AsRef<Path>) -> Result<FeedbackRead> {
        let path = path.as_ref();
        let bytes = crate::error::read_file_bounded(path, u64::MAX, "feedback log")?;
        let mut out = FeedbackRead::default();
        let mut offset = 0u64;
        for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
            let at = offset;
            offset += line.len() as u64 + 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let parsed = std::str::from_utf8(line).map_err(|_| "not UTF-8 text".to_string()).and_then(|l| {
                serde_json::from_str::<Feedback>(l)
                    .map_err(|e| format!("not a feedback record ({})", json_category(&e)))
            });
            match parsed {
                Ok(r) => out.records.push(r),
                Err(reason) => out.skipped.push(SkippedLine { line: i + 1, offset: at, reason }),
            }
        }
        Ok(out)
    }
}

/// What [`FeedbackLog::read`] found: the intact records, and the lines it skipped.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeedbackRead {
    /// Intact records, in log order.
    pub records: Vec<Feedback>,
    /// Lines that were not records.
    pub skipped: Vec<SkippedLine>,
}

/// A log line that was skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: usize,
    /// Byte offset of the line's start.
    pub offset: u64,
    /// Why (never the line's content).
    pub reason: String,
}

/// serde_json's error category as words (its message could quote the line).
fn json_category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "I/O",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "wrong fields or types",
        serde_json::error::Category::Eof => "truncated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::{lifecycle::ModelCard, Dataset, Estimator, ForestParams, Params, Task};
    use crate::FeatureTable;

    fn model(v: &str) -> Model {
        let d = Dataset { x: vec![0.0, 1.0, 2.0, 3.0], p: 1, y: vec![1.0, 1.0, 2.0, 2.0] };
        let p = ForestParams {
            task: Task::Regression,
            n_estimators: 2,
            max_features: None,
            min_samples_leaf: 1,
            max_depth: None,
            bootstrap: false,
            seed: 0,
        };
        let p = Params::from(p);
        Model {
            card: ModelCard::new(v, &["x"], "y", &d, Default::default(), &p),
            estimator: Estimator::fit(&d, &p).unwrap(),
        }
    }

    #[test]
    fn retrain_promotes_only_a_better_candidate() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        let n = 600;
        let ids: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
        let mut t = FeatureTable::new(ids.clone());
        let x: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
        t.add_column("x", x.clone(), Default::default()).unwrap();
        // champion: trained when y = x
        let mut t0 = t.clone();
        t0.add_column("y", x.clone(), Default::default()).unwrap();
        let params = Params::parse(r#"{"model": "linear", "task": "regression", "alpha": 0.0}"#).unwrap();
        let opts = FitOptions { model_version: Some("1.0.0".into()), ..Default::default() };
        let champ = Model::fit_table(&t0, &["x".to_string()], "y", &params, &opts).unwrap();
        let born = champ.card.created_at_unix;
        r.add(&champ, &Default::default()).unwrap();
        r.promote("1.0.0").unwrap();
        let fb = |k: f64, noise: f64, at: u64| -> Vec<Feedback> {
            (0..n)
                .map(|i| Feedback {
                    parcel_id: ids[i].clone(),
                    model_version: "1.0.0".into(),
                    predicted: x[i],
                    observed: k * x[i] + noise * (((i * 7919) % 13) as f64 - 6.0),
                    at_unix: at,
                })
                .collect()
        };
        let policy = RetrainPolicy { min_new_records: 100, ..Default::default() };
        // old outcomes only: nothing due
        let rep =
            r.retrain(&t, &fb(1.0, 0.0, born - 1), &policy, "1.1.0", &Default::default(), &Default::default()).unwrap();
        assert!(!rep.due && rep.candidate.is_none(), "{rep:?}");
        // the world changed (y = 2x): the candidate wins on held-out parcels and is promoted
        let rep = r
            .retrain(&t, &fb(2.0, 0.0, born + 10), &policy, "1.1.0", &Default::default(), &Default::default())
            .unwrap();
        assert!(rep.due && rep.promoted, "{rep:?}");
        assert!(rep.candidate_score.unwrap() > 0.999 && rep.champion_score.unwrap() < rep.candidate_score.unwrap());
        assert!(rep.holdout_rows > 60 && rep.holdout_rows < 180);
        assert_eq!(r.production().unwrap().as_deref(), Some("1.1.0"));
        // the same data again: the new candidate only ties the champion, so it is kept out
        let rep =
            r.retrain(&t, &fb(2.0, 0.0, u64::MAX), &policy, "1.2.0", &Default::default(), &Default::default()).unwrap();
        assert!(rep.due && !rep.promoted, "{rep:?}");
        assert_eq!(r.production().unwrap().as_deref(), Some("1.1.0"));
        assert!(r.list().unwrap().iter().any(|c| c.model_version == "1.2.0"));
        let bad = RetrainPolicy { holdout_fraction: 1.0, ..Default::default() };
        assert_eq!(
            r.retrain(&t, &[], &bad, "x", &Default::default(), &Default::default()).unwrap_err().code(),
            "INVALID_INPUT"
        );
        assert_eq!(
            r.retrain(&t, &[], &policy, "x", &Default::default(), &Default::default()).unwrap_err().code(),
            "EMPTY"
        );
    }

    #[test]
    fn registry_promote_rollback_and_feedback_log() {
        let dir = tempfile::tempdir().unwrap();
        let r = Registry::open(dir.path()).unwrap();
        r.add(&model("1.0.0"), &Default::default()).unwrap();
        r.add(&model("1.1.0"), &Default::default()).unwrap();
        assert_eq!(r.add(&model("1.1.0"), &Default::default()).unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(r.list().unwrap().iter().map(|c| c.model_version.as_str()).collect::<Vec<_>>(), ["1.0.0", "1.1.0"]);
        assert_eq!(r.production().unwrap(), None);
        r.promote("1.0.0").unwrap();
        r.promote("1.1.0").unwrap();
        assert_eq!(r.production().unwrap().as_deref(), Some("1.1.0"));
        assert_eq!(r.rollback().unwrap(), "1.0.0");
        assert_eq!(Registry::open(dir.path()).unwrap().production().unwrap().as_deref(), Some("1.0.0"));
        assert_eq!(r.rollback().unwrap_err().code(), "INVALID_INPUT");
        assert_eq!(r.promote("9.9.9").unwrap_err().code(), "NOT_FOUND");
        assert_eq!(r.promote("../x").unwrap_err().code(), "INVALID_INPUT");

        let log = dir.path().join("feedback.jsonl");
        let mut f = FeedbackLog::open(&log).unwrap();
        let rec = |i: u64| Feedback {
            parcel_id: format!("p{i}"),
            model_version: "1.0.0".into(),
            predicted: 1.0,
            observed: i as f64,
            at_unix: i,
        };
        for i in 0..3 {
            f.append(&rec(i)).unwrap();
        }
        // a crash mid-write leaves a torn tail: acknowledged records are all there
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"{\"parcel_id\": \"p3\", \"mod")
            .unwrap();
        let r = FeedbackLog::read(&log).unwrap();
        assert_eq!(r.records, vec![rec(0), rec(1), rec(2)]);
        assert_eq!(r.skipped.len(), 1, "the torn tail is reported");
        // reopening after the crash cuts the torn tail; new records follow cleanly
        drop(f);
        let mut f = FeedbackLog::open(&log).unwrap();
        f.append(&rec(3)).unwrap();
        assert_eq!(FeedbackLog::read(&log).unwrap().records, vec![rec(0), rec(1), rec(2), rec(3)]);
        // a corrupt line in the middle (and a non-UTF-8 one) used to make the whole log
        // unreadable: they are skipped and reported, every intact record is kept
        let text = std::fs::read(&log).unwrap();
        let lines: Vec<&[u8]> = text.split_inclusive(|b| *b == b'\n').collect();
        let mut bad = lines[0].to_vec();
        bad.extend_from_slice(b"{\"parcel_id\": \"p9\", garbage}\n");
        bad.extend_from_slice(lines[1]);
        bad.extend_from_slice(b"\xff\xfe secret\n");
        lines[2..].iter().for_each(|l| bad.extend_from_slice(l));
        std::fs::write(&log, &bad).unwrap();
        let r = FeedbackLog::read(&log).unwrap();
        assert_eq!(r.records, vec![rec(0), rec(1), rec(2), rec(3)]);
        let offset = lines[0].len() as u64;
        assert_eq!((r.skipped[0].line, r.skipped[0].offset), (2, offset));
        assert_eq!(r.skipped[1].line, 4);
        assert!(r.skipped.iter().all(|s| !s.reason.contains("secret") && !s.reason.contains("p9")));
        assert_eq!(f.append(&Feedback { observed: f64::NAN, ..rec(9) }).unwrap_err().code(), "INVALID_INPUT");
    }
}
