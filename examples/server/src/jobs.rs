//! Feature-build jobs: a posted feature spec runs in the background (202 + a job id), one at a
//! time (2 cores), with progress in the store, cancellable (the core's per-work stop token), the
//! result a CSV feature table. A posted spec names files only relative to the configured data
//! folder: absolute paths, `..`, symlinks out of it and `model` steps (which name server
//! environment variables) are refused, so no request can make the server read a file it chooses.

use crate::problem::Problem;
use crate::store::{self, Store};
use axum::http::StatusCode;
use landopp::interrupt::Token;
use landopp::pipeline::{FeatureSpec, FeatureStep};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Most jobs waiting at once.
const MAX_QUEUED: usize = 16;

/// The job runner.
#[derive(Debug)]
pub struct Jobs {
    root: PathBuf,
    out: PathBuf,
    tokens: Mutex<HashMap<String, Token>>,
    slot: Arc<tokio::sync::Semaphore>,
    waiting: Arc<AtomicUsize>,
}

impl Jobs {
    /// Jobs reading from `root`, writing results to `out`.
    pub fn new(root: &Path, out: &Path) -> Result<Jobs, String> {
        let root = root.canonicalize().map_err(|e| format!("jobs data folder {}: {e}", root.display()))?;
        std::fs::create_dir_all(out).map_err(|e| format!("jobs output folder {}: {e}", out.display()))?;
        Ok(Jobs {
            root,
            out: out.to_path_buf(),
            tokens: Mutex::new(HashMap::new()),
            slot: Arc::new(tokio::sync::Semaphore::new(1)),
            waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Where a job's result is.
    pub fn result_path(&self, id: &str) -> Option<PathBuf> {
        let ok = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| self.out.join(format!("{id}.csv")))
    }

    /// A message without the server's own folder.
    pub fn scrub(&self, msg: &str) -> String {
        let root = format!("{}/", self.root.display());
        msg.replace(&root, "").replace(&self.root.display().to_string(), "")
    }

    /// Check a posted spec and point its paths into the data folder.
    pub fn sandbox(&self, spec: &mut FeatureSpec) -> Result<(), Problem> {
        if spec.features.iter().any(|f| matches!(f, FeatureStep::Model { .. })) {
            return Err(Problem::bad_request("model steps are not run from posted specs: use /v1/models/predict"));
        }
        for p in spec.input_paths() {
            // no URL either: the server does not fetch what strangers point it at
            let url = p.to_str().is_some_and(|s| s.contains("://"));
            let plain = !url && !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
            if !plain {
                return Err(Problem::bad_request(
                    "paths in a posted spec are relative to the server's data folder, without '..', a root or a URL",
                ));
            }
        }
        spec.resolve_paths(&self.root);
        for p in spec.input_paths() {
            let shown = self.scrub(&p.display().to_string());
            let real =
                p.canonicalize().map_err(|_| Problem::not_found(format!("no file {shown:?} in the data folder")))?;
            if !real.starts_with(&self.root) {
                return Err(Problem::bad_request(format!("{shown:?} leads out of the data folder")));
            }
        }
        spec.validate().map_err(|e| {
            let mut p = Problem::from(e);
            p.detail = self.scrub(&p.detail);
            p
        })
    }

    /// Queue a checked spec; returns the job id.
    pub async fn start(self: &Arc<Self>, store: &Store, actor: &str, spec: FeatureSpec) -> Result<String, Problem> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_QUEUED {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, "BUSY", "too many jobs are waiting: try later"));
        }
        let id: String = crate::auth::random_bytes::<8>().iter().map(|b| format!("{b:02x}")).collect();
        let (i, a) = (id.clone(), actor.to_string());
        if let Err(e) = store.run(move |c| store::jobs::insert(c, &i, &a)).await {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(e.into());
        }
        let token = Token::new();
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), token.clone());
        let (me, store, jid) = (self.clone(), store.clone(), id.clone());
        let forget = id.clone();
        tokio::spawn(async move {
            let permit = me.slot.clone().acquire_owned().await;
            me.waiting.fetch_sub(1, Ordering::SeqCst);
            let (m2, s2, j2, t2) = (me.clone(), store.clone(), jid.clone(), token.clone());
            let outcome = tokio::task::spawn_blocking(move || m2.run(&s2, &j2, &spec, &t2)).await;
            drop(permit);
            if let Err(e) = outcome {
                let msg = e.to_string();
                let _ =
                    store.run(move |c| store::jobs::finish(c, &jid, "failed", Some(("INTERNAL", &msg)), None)).await;
            }
            me.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(&forget);
        });
        Ok(id)
    }

    fn run(&self, store: &Store, id: &str, spec: &FeatureSpec, token: &Token) -> store::StoreResult<()> {
        let out = self.out.join(format!("{id}.csv"));
        let result = landopp::interrupt::with_token(token, || -> landopp::Result<(i64, i64)> {
            landopp::interrupt::check("job")?;
            let progress = |p: landopp::pipeline::Progress<'_>| {
                let msg = self.scrub(p.message);
                let _ = store.run_sync(|c| store::jobs::progress(c, id, p.done as i64, p.total as i64, &msg));
            };
            let table = spec.run(&progress)?;
            landopp::interrupt::check("job")?;
            table.write_csv(&out)?;
            Ok((table.len() as i64, table.columns().len() as i64))
        });
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
        store.run_sync(|c| match &result {
            Ok(shape) => store::jobs::finish(c, id, "succeeded", None, Some(*shape)),
            Err(e) if e.code() == "INTERRUPTED" => store::jobs::finish(c, id, "cancelled", None, None),
            Err(e) => store::jobs::finish(c, id, "failed", Some((e.code(), &self.scrub(&e.to_string()))), None),
        })
    }

    /// Ask a job to stop; false when it is not queued or running.
    pub fn cancel(&self, id: &str) -> bool {
        match self.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }
}
