//! Helpers the server's integration tests share: raw HTTP over loopback, the real binary started
//! on a store, and a PostgreSQL schema of a test's own.
#![allow(dead_code)] // each test file uses some of them

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The bootstrap admin key the spawned servers are given.
pub const KEY: &str = "lok_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// An answer: status, lower-cased head, JSON body (null when not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub head: String,
    pub body: Value,
}

/// One HTTP/1.1 exchange with `X-API-Key: key` (and a JSON body when given).
pub fn http(addr: &str, key: &str, method: &str, path: &str, body: Option<&str>) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    let b = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    Resp { status, head: head.to_ascii_lowercase(), body: serde_json::from_str(body).unwrap_or(Value::Null) }
}

/// POST one feedback record for a parcel of the demo area; its id when answered 201.
pub fn feedback(addr: &str, n: usize) -> Option<i64> {
    let r = std::panic::catch_unwind(|| {
        http(addr, KEY, "POST", "/v1/feedback", Some(&format!(r#"{{"parcel_id": "357730", "label": {n}}}"#)))
    })
    .ok()?;
    (r.status == 201).then(|| r.body["id"].as_i64()).flatten()
}

/// The real binary with `args` and `env` (plus the bootstrap key, quiet logs, no rate limits),
/// and the address it listens on.
/// A spawned server process, killed and reaped when dropped: a test that fails half-way leaves
/// no server behind (holding ports and database sessions).
pub struct Proc(pub Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_landopp-server"));
    cmd.args(args)
        .env("LANDOPP_BOOTSTRAP_ADMIN_KEY", KEY)
        .env("LANDOPP_LOG", "warn")
        .env("LANDOPP_RATE_LIMIT", "0")
        .env("LANDOPP_RATE_LIMIT_IP", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("the server binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line.trim().rsplit("http://").next().expect("address").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    (Proc(child), addr)
}

/// The demo area on `store` (SQLite), or on `database_url` when given.
pub fn spawn_demo(store: &Path, database_url: Option<&str>) -> (Proc, String) {
    let s = store.to_str().expect("UTF-8 path");
    let env: Vec<(&str, &str)> = database_url.map(|u| ("LANDOPP_DATABASE_URL", u)).into_iter().collect();
    spawn(&["--demo", "--listen", "127.0.0.1:0", "--store", s], &env)
}

/// `LANDOPP_TEST_DATABASE_URL` (CI sets it); `None`, said on stderr, without it.
pub fn pg_base() -> Option<String> {
    let u = std::env::var("LANDOPP_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
    if u.is_none() {
        eprintln!("SKIPPED: LANDOPP_TEST_DATABASE_URL is not set (no PostgreSQL for this test)");
    }
    u
}

/// `base` with its search path set to `schema` (then `public`, where PostGIS lives).
pub fn in_schema(base: &str, schema: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}%2Cpublic")
}

/// A new schema named from `tag` (letters and digits kept) and this process; its URL.
pub fn pg_schema(base: &str, tag: &str) -> (String, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let tag: String = tag.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    let name = format!("{tag}{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut c = postgres::Client::connect(base, postgres::NoTls).expect("LANDOPP_TEST_DATABASE_URL connects");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")).expect("schema");
    (name.clone(), in_schema(base, &name))
}

/// A small saved model file's text: a forest on two served features (`slope_mean`, `area_acres`)
/// predicting `landuse_dominant`.
pub fn model_file(features: &landopp::FeatureTable, version: &str, seed: u64) -> String {
    let params = landopp::ml::Params::parse(&format!(
        r#"{{"model": "random_forest", "task": "classification", "n_estimators": 5, "max_depth": 4, "seed": {seed}}}"#
    ))
    .expect("params");
    let opts = landopp::ml::lifecycle::FitOptions { model_version: Some(version.into()), ..Default::default() };
    let cols: Vec<String> = vec!["slope_mean".into(), "area_acres".into()];
    let m = landopp::ml::lifecycle::Model::fit_table(features, &cols, "landuse_dominant", &params, &opts).expect("fit");
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("m.json");
    m.save(&p, &Default::default()).expect("save");
    std::fs::read_to_string(&p).expect("read")
}
