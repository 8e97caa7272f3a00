//! `kill -9` at any moment loses nothing that was acknowledged: the real binary takes a stream of
//! feedback posts, is killed mid-stream, restarts on the same store, and every record answered
//! 201 is there (WAL, synchronous = FULL). SIGTERM drains: a request in flight is answered.

mod common;
use common::{feedback as post, spawn_demo};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const KEY: &str = common::KEY;

/// With `LANDOPP_TEST_DATABASE_URL` (CI sets it), the store is PostgreSQL: a fresh schema per
/// test, the same one across a restart (its name kept beside the store file).
fn database(store: &std::path::Path) -> Option<String> {
    let base = std::env::var("LANDOPP_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let marker = store.with_extension("schema");
    Some(match std::fs::read_to_string(&marker) {
        Ok(name) => common::in_schema(&base, &name),
        Err(_) => {
            let (name, url) = common::pg_schema(&base, "d");
            std::fs::write(&marker, &name).expect("marker");
            url
        }
    })
}

fn open_store(store: &std::path::Path) -> landopp_server::store::Store {
    match database(store) {
        Some(url) => landopp_server::store::Store::connect(&url).expect("database connects"),
        None => landopp_server::store::Store::open(store).expect("store opens"),
    }
}

fn spawn(store: &std::path::Path) -> (common::Proc, String) {
    spawn_demo(store, database(store).as_deref())
}

#[test]
fn kill_9_loses_no_acknowledged_feedback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store.db");
    let (mut child, addr) = spawn(&store);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (acked, stop, addr) = (acked.clone(), stop.clone(), addr.clone());
            std::thread::spawn(move || {
                let mut n = w * 1_000_000;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    match post(&addr, n) {
                        Some(id) => acked.lock().unwrap_or_else(|p| p.into_inner()).push(id),
                        None => return,
                    }
                }
            })
        })
        .collect();
    // kill -9 while both writers are mid-stream
    while acked.lock().unwrap_or_else(|p| p.into_inner()).len() < 40 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer");
    }
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // restart on the same store: it opens (WAL recovery) and keeps serving
    let (mut child, addr) = spawn(&store);
    let after = post(&addr, 0).expect("the restarted server takes feedback");
    child.kill().expect("stop");
    child.wait().expect("reaped");
    let s = open_store(&store);
    let ids = s.run_sync(landopp_server::store::feedback::ids).expect("ids");
    let missing: Vec<&i64> = acked.iter().filter(|id| !ids.contains(id)).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?} of {}", acked.len());
    assert!(ids.contains(&after));
    assert!(acked.len() >= 40, "{}", acked.len());
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = spawn(&dir.path().join("store.db"));
    let body = r#"{"parcel_id": "357730", "outcome": "sold"}"#;
    let mut s = TcpStream::connect(&addr).expect("connect");
    let head = format!(
        "POST /v1/feedback HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: {KEY}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // half the request, then SIGTERM, then the rest
    s.write_all(head.as_bytes()).expect("head");
    s.write_all(&body.as_bytes()[..10]).expect("part");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(TcpStream::connect(&addr).is_err(), "no new connections once draining");
    s.write_all(&body.as_bytes()[10..]).expect("rest");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("response");
    assert!(resp.starts_with("HTTP/1.1 201"), "{resp}");
    let status = child.wait().expect("exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_container_healthcheck_asks_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, addr) = spawn(&dir.path().join("store.db"));
    let check = |path: &str| {
        Command::new(env!("CARGO_BIN_EXE_landopp-server"))
            .args(["healthcheck", "--addr", &addr, "--path", path])
            .output()
            .expect("runs")
    };
    assert!(check("/readyz").status.success());
    let missing = check("/no-such-route");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("404"), "{missing:?}");
    child.kill().expect("stop");
    child.wait().expect("reaped");
    assert!(!check("/healthz").status.success(), "a stopped server fails the check");
}
