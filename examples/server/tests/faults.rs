//! The shared store's faults (run with `LANDOPP_TEST_DATABASE_URL`, which CI sets; skipped
//! visibly without it), through a TCP proxy the test cuts and restores: the database down at
//! start → the server runs, not ready, and becomes ready when it comes; the database lost
//! mid-traffic → writes answer 503 problem+json fast (a circuit breaker, not a timeout per
//! request) while searches keep answering from memory; the database back → writes succeed again
//! without a restart, and every acknowledged write is there.

mod common;
use common::KEY;
use landopp_server::config::{DatabaseUrl, ServerConfig};
use serde_json::Value;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A TCP proxy to the database that can be cut (every connection closed, new ones refused).
struct Proxy {
    addr: String,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        let up = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (u, cs) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                if !u.load(Ordering::SeqCst) {
                    let _ = c.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(db) = TcpStream::connect(&target) else { continue };
                let mut list = cs.lock().unwrap_or_else(|p| p.into_inner());
                for s in [&c, &db] {
                    if let Ok(s) = s.try_clone() {
                        list.push(s);
                    }
                }
                for (mut from, mut to) in [(c.try_clone(), db.try_clone()), (db.try_clone(), c.try_clone())]
                    .into_iter()
                    .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { addr, up, conns }
    }
    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value, String) {
    let r = common::http(addr, KEY, method, path, body);
    (r.status, r.body, r.head)
}

/// Poll until `f` holds (at most `secs`).
fn until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_down_at_start_lost_and_back() {
    let Some(base) = common::pg_base() else { return };
    // the database's host:port, replaced by the proxy's
    let (at, rest) = base.split_once('@').expect("user@host in the URL");
    let (hostport, tail) = rest.split_once('/').expect("/database in the URL");
    let b = base.clone();
    let (schema, _) = tokio::task::spawn_blocking(move || common::pg_schema(&b, "f")).await.expect("schema");
    let proxy = Proxy::start(hostport.to_string());
    let url = common::in_schema(&format!("{at}@{}/{tail}", proxy.addr), &schema);

    // down at start: the server runs, alive but not ready, and authenticates nobody
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        store: dir.path().join("unused.db"),
        database_url: Some(DatabaseUrl(url)),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let land = landopp_server::land::Land::demo(None).expect("demo");
    let env = |k: &str| (k == "LANDOPP_BOOTSTRAP_ADMIN_KEY").then(|| KEY.to_string());
    let server = landopp_server::Server::start(config, land, &env).await.expect("starts without its database");
    let addr = server.addr.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.serve_until(async move {
        let _ = rx.await;
    }));
    let a = addr.clone();
    let search = "/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=3";
    let proxy = Arc::new(proxy);
    let p = proxy.clone();
    tokio::task::spawn_blocking(move || {
        assert_eq!(http(&a, "GET", "/healthz", None).0, 200);
        assert_eq!(http(&a, "GET", "/readyz", None).0, 503);
        let (s, body, head) = http(&a, "GET", search, None);
        assert_eq!((s, body["code"].as_str()), (503, Some("STORE_UNAVAILABLE")), "{body}");
        assert!(head.contains("retry-after"), "{head}");

        // the database comes: ready without a restart (the start-up work retried with backoff)
        p.restore();
        assert!(until(20, || http(&a, "GET", "/readyz", None).0 == 200), "ready once the database answers");
        assert_eq!(http(&a, "GET", search, None).0, 200);
        let mut acked = 0;
        let post = |a: &str| http(a, "POST", "/v1/feedback", Some(r#"{"parcel_id": "357730", "label": 1}"#));
        let (s, body, _) = post(&a);
        assert_eq!(s, 201, "{body}");
        acked += 1;

        // lost mid-traffic: writes 503 fast, searches still answer
        p.cut();
        let t0 = Instant::now();
        let (s, body, head) = post(&a);
        assert_eq!((s, body["code"].as_str()), (503, Some("STORE_UNAVAILABLE")), "{body}");
        assert!(head.contains("content-type: application/problem+json"), "{head}");
        assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
        let t1 = Instant::now();
        assert_eq!(post(&a).0, 503);
        assert!(t1.elapsed() < Duration::from_millis(500), "the breaker answers at once: {:?}", t1.elapsed());
        for _ in 0..5 {
            assert_eq!(http(&a, "GET", search, None).0, 200, "reads keep serving from memory");
        }
        assert_eq!(http(&a, "GET", "/readyz", None).0, 503);

        // back: writes succeed again without a restart
        p.restore();
        assert!(
            until(20, || {
                let ok = post(&a).0 == 201;
                if ok {
                    acked += 1;
                }
                ok
            }),
            "writes recover"
        );
        assert_eq!(http(&a, "GET", "/readyz", None).0, 200);
        let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("connects");
        let n: i64 = c.query_one(&format!("SELECT COUNT(*) FROM {schema}.feedback"), &[]).expect("count").get(0);
        assert_eq!(n, acked as i64, "every acknowledged write is there, nothing else");
    })
    .await
    .expect("scenario");
    let _ = tx.send(());
}
