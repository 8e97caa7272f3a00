//! A model registry on a directory (list, add, promote, roll back) and a durable feedback log.
//!
//! Layout: `<dir>/models/<model_version>.json` (saved [`Model`]s, whose clear model cards are
//! listed without keys) and `<dir>/registry.json` (`{"production": version, "history": [...]}`,
//! replaced atomically: write, fsync, rename). The feedback log is an append-only JSON-lines file:
//! each record is written and `fsync`ed before [`FeedbackLog::append`] returns, so acknowledged
//! records survive a crash; a torn last line from a crash mid-write is skipped on reading.

use super::lifecycle::{Model, ModelCard, SaveOptions};
use crate::error::{Error, Result};
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
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
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

    /// Every complete record of a log (a torn last line, from a crash mid-write, is skipped; a
    /// corrupt line elsewhere is a `FORMAT` error).
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<Feedback>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let complete = text.ends_with('\n');
        let lines: Vec<&str> = text.lines().collect();
        let mut out = Vec::with_capacity(lines.len());
        for (i, l) in lines.iter().enumerate() {
            match serde_json::from_str(l) {
                Ok(r) => out.push(r),
                Err(_) if i + 1 == lines.len() && !complete => {} // torn tail
                Err(e) => {
                    return Err(Error::Format {
                        format: "landopp feedback log",
                        path: path.to_path_buf(),
                        message: format!("line {}: {e}", i + 1),
                    })
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::{lifecycle::ModelCard, Dataset, Estimator, ForestParams, Params, Task};

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
        assert_eq!(FeedbackLog::read(&log).unwrap(), vec![rec(0), rec(1), rec(2)]);
        // reopening after the crash cuts the torn tail; new records follow cleanly
        drop(f);
        let mut f = FeedbackLog::open(&log).unwrap();
        f.append(&rec(3)).unwrap();
        assert_eq!(FeedbackLog::read(&log).unwrap(), vec![rec(0), rec(1), rec(2), rec(3)]);
        let mut text = std::fs::read_to_string(&log).unwrap();
        text.insert_str(0, "garbage\n");
        std::fs::write(&log, text).unwrap();
        assert_eq!(FeedbackLog::read(&log).unwrap_err().code(), "FORMAT");
        assert_eq!(f.append(&Feedback { observed: f64::NAN, ..rec(9) }).unwrap_err().code(), "INVALID_INPUT");
    }
}
