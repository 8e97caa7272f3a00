//! Replicas sharing Redis (run with `LANDOPP_TEST_REDIS_URL`, which CI sets; skipped visibly
//! without it): one rate limit across two servers, search pages cached for every replica of the
//! same data version and never served for another query, weights or data version, and a Redis
//! that stops answering costs nothing but the sharing.

mod common;
use landopp_server::config::{DatabaseUrl, Limits, ServerConfig};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use common::http;

async fn server(
    redis: &str,
    key: &str,
    limits: Limits,
    land: std::sync::Arc<landopp_server::land::Land>,
) -> (String, landopp_server::app::St, tokio::sync::oneshot::Sender<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        store: dir.path().join("store.db"),
        redis_url: Some(DatabaseUrl(redis.to_string())),
        listen: "127.0.0.1:0".parse().expect("addr"),
        limits,
        ..Default::default()
    };
    let k = key.to_string();
    let env = move |n: &str| (n == "LANDOPP_BOOTSTRAP_ADMIN_KEY").then(|| k.clone());
    let s = landopp_server::Server::start(config, land, &env).await.expect("starts");
    let (addr, state) = (s.addr.to_string(), s.state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(s.serve_until(async move {
        let _ = rx.await;
    }));
    (addr, state, tx, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_limits_and_pages_through_redis() {
    let Some(url) = std::env::var("LANDOPP_TEST_REDIS_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("SKIPPED: LANDOPP_TEST_REDIS_URL is not set (no Redis for this test)");
        return;
    };
    let land = std::sync::Arc::new(landopp_server::land::Land::demo(None).expect("demo"));
    // a key of this run's own (its bucket is nobody else's)
    let (key, _) = landopp_server::auth::new_key(landopp_server::auth::Role::Admin, "", None);
    let limited = Limits { rate_per_key: 5.0, rate_per_ip: 0.0, burst_factor: 1.0, ..Default::default() };
    let (a, sa, _ta, _da) = server(&url, &key, limited.clone(), land.clone()).await;
    let (b, sb, _tb, _db) = server(&url, &key, limited, land.clone()).await;
    let search = "/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=5";
    let (a2, b2, k2) = (a.clone(), b.clone(), key.clone());
    let statuses = tokio::task::spawn_blocking(move || {
        (0..20)
            .map(|i| http(if i % 2 == 0 { &a2 } else { &b2 }, &k2, "GET", "/v1/profiles", None).status)
            .collect::<Vec<_>>()
    })
    .await
    .expect("requests");
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    // one bucket of 5 (plus what refills while the requests run) across both; two own buckets
    // would have let 10 through
    assert!((5..=8).contains(&ok) && ok + limited == 20, "{statuses:?}");

    // pages: the same data version on both replicas shares them
    let v = 1_000_000 + landopp_server::store::now();
    sa.data_version.store(v, Ordering::SeqCst);
    sb.data_version.store(v, Ordering::SeqCst);
    let (key2, _) = landopp_server::auth::new_key(landopp_server::auth::Role::Admin, "", None);
    let unlimited = Limits { rate_per_key: 0.0, rate_per_ip: 0.0, ..Default::default() };
    let (c, sc, _tc, _dc) = server(&url, &key2, unlimited.clone(), land.clone()).await;
    let (d, sd, _td, _dd) = server(&url, &key2, unlimited, land.clone()).await;
    sc.data_version.store(v, Ordering::SeqCst);
    sd.data_version.store(v, Ordering::SeqCst);
    let profile: Value = serde_json::from_str(landopp_server::land::PRESETS[0].1).expect("preset");
    let (c2, d2, k) = (c.clone(), d.clone(), key2.clone());
    tokio::task::spawn_blocking(move || {
        let first = http(&c2, &k, "GET", search, None);
        assert_eq!(first.status, 200);
        assert!(first.head.contains("x-cache: miss"), "{}", first.head);
        std::thread::sleep(std::time::Duration::from_millis(200)); // the background SET
        let again = http(&c2, &k, "GET", search, None);
        assert!(again.head.contains("x-cache: hit"), "{}", again.head);
        assert_eq!(again.body, first.body);
        let other = http(&d2, &k, "GET", search, None);
        assert!(other.head.contains("x-cache: hit"), "another replica, the same data: {}", other.head);
        assert_eq!(other.body, first.body);
        // another query, or what-if weights: never the cached page
        let limit4 = http(&c2, &k, "GET", &search.replace("limit=5", "limit=4"), None);
        assert!(limit4.head.contains("x-cache: miss"));
        let q = json!({"aoi": {"bbox": [14.54, 45.86, 14.58, 45.89]}, "crs": "EPSG:4326", "limit": 5});
        let criteria = profile["criteria"].as_array().expect("criteria");
        let w: serde_json::Map<String, Value> = criteria
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c["column"].as_str()?.to_string(), json!(if i == 0 { 10.0 } else { 1.0 }))))
            .collect();
        let what_if = http(&c2, &k, "POST", "/v1/parcels/search", Some(&json!({"query": q, "weights": w}).to_string()));
        assert_eq!(what_if.status, 200, "{}", what_if.body);
        assert!(what_if.head.contains("x-cache: miss"));
        assert_ne!(what_if.body["hits"], first.body["hits"], "re-weighted, not the cached page");
        // a rescore is computed, never cached
        let mut p2 = profile.clone();
        p2["criteria"][0]["weight"] = json!(10.0);
        let r = http(&c2, &k, "POST", "/v1/rescore", Some(&json!({"profile": p2, "query": q}).to_string()));
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.head.contains("x-cache: hit"));
    })
    .await
    .expect("cache");
    // new data: the old pages are not served
    sc.data_version.store(v + 1, Ordering::SeqCst);
    let (c3, k) = (c.clone(), key2.clone());
    tokio::task::spawn_blocking(move || {
        let after = http(&c3, &k, "GET", search, None);
        assert!(after.head.contains("x-cache: miss"), "a new data version misses: {}", after.head);
    })
    .await
    .expect("new data");

    // Redis stops answering: every request still answered, from this replica's own limits
    let u = url.clone();
    let (c4, k) = (c.clone(), key2.clone());
    tokio::task::spawn_blocking(move || {
        let mut r = std::process::Command::new("redis-cli");
        let port = u.rsplit(':').next().and_then(|p| p.split('/').next()).unwrap_or("6379").to_string();
        let paused = r.args(["-p", &port, "client", "pause", "1500"]).output().map(|o| o.status.success());
        if !matches!(paused, Ok(true)) {
            eprintln!("SKIPPED: redis-cli could not pause Redis");
            return;
        }
        let t0 = std::time::Instant::now();
        for _ in 0..5 {
            let s = http(&c4, &k, "GET", search, None);
            assert_eq!(s.status, 200, "{}", s.body);
        }
        assert!(
            t0.elapsed() < std::time::Duration::from_millis(1400),
            "answered within the 50 ms budget each: {:?}",
            t0.elapsed()
        );
    })
    .await
    .expect("redis paused");
}
