//! Backup and restore with `deploy/backup.sh` and `deploy/restore.sh`: back up while the server
//! takes writes, lose the store, restore, and every record acknowledged before the backup is
//! back — for the embedded SQLite store always, and for PostgreSQL with
//! `LANDOPP_TEST_DATABASE_URL` (CI sets it; skipped visibly without it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const KEY: &str = "lok_0123456789abcdef_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn deploy(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(script)
}

fn spawn(store: &Path, database_url: Option<&str>) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_landopp-server"));
    if let Some(u) = database_url {
        cmd.env("LANDOPP_DATABASE_URL", u);
    }
    let mut child = cmd
        .args(["--demo", "--listen", "127.0.0.1:0", "--store"])
        .arg(store)
        .env("LANDOPP_BOOTSTRAP_ADMIN_KEY", KEY)
        .env("LANDOPP_LOG", "warn")
        .env("LANDOPP_RATE_LIMIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
    let addr = line.trim().rsplit("http://").next().expect("address").to_string();
    (child, addr)
}

/// POST one feedback record; its id when answered 201.
fn post(addr: &str, n: usize) -> i64 {
    let body = format!(r#"{{"parcel_id": "357730", "label": {n}}}"#);
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = format!(
        "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let v: serde_json::Value = serde_json::from_str(resp.split("\r\n\r\n").nth(1).unwrap_or("")).expect("json");
    v["id"].as_i64().expect("id")
}

fn run(script: &str, arg: &Path, env: &[(&str, &str)]) {
    let mut cmd = Command::new("bash");
    cmd.arg(deploy(script)).arg(arg).env("LANDOPP_SERVER", env!("CARGO_BIN_EXE_landopp-server"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("script runs");
    assert!(
        out.status.success(),
        "{script}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sqlite_backup_while_serving_then_restore() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store.db");
    let (mut child, addr) = spawn(&store, None);
    let before: Vec<i64> = (0..20).map(|n| post(&addr, n)).collect();
    let backup = dir.path().join("backup.db");
    let s = store.to_str().expect("path");
    run("backup.sh", &backup, &[("LANDOPP_STORE", s)]);
    let after: Vec<i64> = (0..5).map(|n| post(&addr, 100 + n)).collect();
    child.kill().expect("stop");
    child.wait().expect("reaped");
    // the store is lost
    for f in ["store.db", "store.db-wal", "store.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    run("restore.sh", &backup, &[("LANDOPP_STORE", s)]);
    let st = landopp_server::store::Store::open(&store).expect("the restored store opens");
    let ids = st.run_sync(landopp_server::store::feedback::ids).expect("ids");
    assert_eq!(ids, before, "every record acknowledged before the backup, and only those");
    assert!(after.iter().all(|i| !ids.contains(i)));
    // and the server runs on it
    let (mut child, addr) = spawn(&store, None);
    post(&addr, 7);
    child.kill().expect("stop");
    child.wait().expect("reaped");
    // a file that is not a backup is refused, the store untouched
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, "not sqlite").expect("junk");
    let out = Command::new("bash").arg(deploy("restore.sh")).arg(&junk).env("LANDOPP_STORE", s).output().expect("runs");
    assert!(!out.status.success());
    assert!(landopp_server::store::Store::open(&store).is_ok());
}

#[test]
fn postgres_backup_while_serving_then_restore() {
    let Some(base) = std::env::var("LANDOPP_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("SKIPPED: LANDOPP_TEST_DATABASE_URL is not set (no PostgreSQL for this test)");
        return;
    };
    let schema = format!("b{}_{}", std::process::id(), landopp_server::store::now());
    let mut db = postgres::Client::connect(&base, postgres::NoTls).expect("connects");
    db.batch_execute(&format!("CREATE SCHEMA {schema}")).expect("schema");
    let url = format!("{base}?options=-csearch_path%3D{schema}%2Cpublic");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("unused.db");
    let (mut child, addr) = spawn(&store, Some(&url));
    let before: Vec<i64> = (0..20).map(|n| post(&addr, n)).collect();
    let backup = dir.path().join("backup.dump");
    run("backup.sh", &backup, &[("LANDOPP_DATABASE_URL", &base), ("LANDOPP_BACKUP_SCHEMA", &schema)]);
    child.kill().expect("stop");
    child.wait().expect("reaped");
    // the data is lost
    db.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).expect("drop");
    run("restore.sh", &backup, &[("LANDOPP_DATABASE_URL", &base)]);
    let ids: Vec<i64> = db
        .query(&format!("SELECT id FROM {schema}.feedback ORDER BY id"), &[])
        .expect("ids")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, before);
    let audit: i64 = db
        .query_one(&format!("SELECT COUNT(*) FROM {schema}.audit_log WHERE action = 'feedback.create'"), &[])
        .expect("audit")
        .get(0);
    assert_eq!(audit, 20, "the audit log came back too");
    // the restored database serves, its audit log append-only again
    let (mut child, addr) = spawn(&store, Some(&url));
    post(&addr, 7);
    child.kill().expect("stop");
    child.wait().expect("reaped");
    assert!(db.batch_execute(&format!("DELETE FROM {schema}.audit_log")).is_err());
}
