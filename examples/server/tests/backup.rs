//! Backup and restore with `deploy/backup.sh` and `deploy/restore.sh`: back up while the server
//! takes writes, lose the store, restore, and every record acknowledged before the backup is
//! back — for the embedded SQLite store always, and for PostgreSQL with
//! `LANDOPP_TEST_DATABASE_URL` (CI sets it; skipped visibly without it).

mod common;
use common::spawn_demo as spawn;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(script: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(script)
}

fn post(addr: &str, n: usize) -> i64 {
    common::feedback(addr, n).expect("feedback answered 201")
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
    let Some(base) = common::pg_base() else { return };
    let (schema, url) = common::pg_schema(&base, "b");
    let mut db = postgres::Client::connect(&base, postgres::NoTls).expect("connects");
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
