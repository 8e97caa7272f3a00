//! The reference server over real HTTP on loopback: every route × role, credentials of every
//! kind gone wrong, limits, headers, CORS, problem+json, hostile input, the OpenAPI document.

mod common;

use landopp_server::auth::Role;
use landopp_server::config::ServerConfig;
use landopp_server::land::Land;
use landopp_server::models::ModelsConfig;
use landopp_server::Server;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn land() -> Arc<Land> {
    static LAND: OnceLock<Arc<Land>> = OnceLock::new();
    LAND.get_or_init(|| Arc::new(Land::demo(None).expect("the bundled demo area loads"))).clone()
}

struct Srv {
    addr: SocketAddr,
    admin: String,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// With `LANDOPP_TEST_DATABASE_URL` (CI sets it), every test server stores in PostgreSQL, each
/// in a schema of its own (the tests count rows).
fn pg_schema() -> Option<String> {
    let url = std::env::var("LANDOPP_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty())?;
    let name = format!("t{}_{}_{}", std::process::id(), rand_suffix(), landopp_server::store::now());
    let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("LANDOPP_TEST_DATABASE_URL connects");
    c.batch_execute(&format!("CREATE SCHEMA {name}")).expect("schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-csearch_path%3D{name}%2Cpublic"))
}

async fn start_with(c: ServerConfig, env: HashMap<&'static str, String>) -> Srv {
    start_on(c, env, land()).await
}

async fn start_on(mut c: ServerConfig, env: HashMap<&'static str, String>, land: Arc<Land>) -> Srv {
    let dir = tempfile::tempdir().expect("tempdir");
    c.store = dir.path().join("store.db");
    if c.database_url.is_none() {
        c.database_url =
            tokio::task::spawn_blocking(pg_schema).await.expect("schema").map(landopp_server::config::DatabaseUrl);
    }
    if c.jobs_root.is_none() {
        c.jobs_root = Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"));
    }
    if c.models.is_none() {
        c.models = Some(ModelsConfig {
            registry: dir.path().join("models"),
            ab_split: None,
            demo: true,
            drift_reference: None,
        });
    }
    c.listen = "127.0.0.1:0".parse().expect("addr");
    let s = Server::start(c, land, &|k| env.get(k).cloned()).await.expect("server starts");
    let addr = s.addr;
    let admin = s.bootstrap_key.clone().expect("an empty store makes an admin key");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(s.serve_until(async move {
        let _ = rx.await;
    }));
    Srv { addr, admin, _dir: dir, _stop: tx }
}

/// The demo area with its hillshade basemap.
async fn start() -> Srv {
    let dem = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/slovenia/dem.tif");
    let data = landopp_server::config::DataConfig { dem: Some(dem), ..Default::default() };
    start_with(ServerConfig { data: Some(data), ..Default::default() }, HashMap::new()).await
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
    /// The body's bytes (tiles, PNG).
    bytes: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).map(String::as_str)
    }
    fn problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        assert_eq!(self.json()["code"], code, "{}", self.body);
    }
}

/// One raw HTTP/1.1 exchange (so malformed requests can be sent as they are).
async fn raw(addr: SocketAddr, request: String) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |k| k + 4);
    let bytes = buf[split.min(buf.len())..].to_vec();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Resp { status, headers, body: body.to_string(), bytes }
}

async fn call(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        r.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        r.push_str("\r\n");
    }
    raw(addr, r).await
}

async fn as_key(addr: SocketAddr, key: &str, method: &str, path: &str, body: Option<&str>) -> Resp {
    call(addr, method, path, &[("X-API-Key", key)], body).await
}

async fn new_key(s: &Srv, role: &str) -> String {
    let r =
        as_key(s.addr, &s.admin, "POST", "/v1/keys", Some(&json!({"role": role, "label": "test"}).to_string())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["key"].as_str().expect("key").to_string()
}

/// A request that succeeds for each route (by operation id), for the route × role matrix.
fn sample(id: &str) -> (String, Option<String>) {
    let q = json!({"aoi": {"bbox": [14.54, 45.86, 14.58, 45.89]}, "crs": "EPSG:4326", "limit": 3});
    let profile: Value = serde_json::from_str(landopp_server::land::PRESETS[0].1).expect("preset");
    match id {
        "searchGet" => ("/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=3".into(), None),
        "searchPost" => ("/v1/parcels/search".into(), Some(json!({"query": q}).to_string())),
        "parcel" => ("/v1/parcels/357730".into(), None),
        "parcelStability" => ("/v1/parcels/357730/stability".into(), None),
        "tileParcels" => ("/v1/tiles/parcels/13/4427/2918.mvt".into(), None),
        "tileHillshade" => ("/v1/tiles/hillshade/13/4427/2918.png".into(), None),
        "tileScores" => ("/v1/tiles/scores/11/1106/729.png".into(), None),
        "rescore" => ("/v1/rescore".into(), Some(json!({"profile": profile, "query": q}).to_string())),
        "sites" => ("/v1/sites".into(), Some(json!({"query": q, "min_acres": 1}).to_string())),
        "parcelsGeojson" => ("/v1/parcels/geojson".into(), Some(json!({"ids": ["357730"]}).to_string())),
        "feedback" => (
            "/v1/feedback".into(),
            Some(json!({"parcel_id": "357730", "label": 1.0, "outcome": "grassland"}).to_string()),
        ),
        "modelUpload" => ("/v1/models".into(), Some(model_file(&format!("up-{}", rand_suffix()), 3))),
        // not due: the report says why, nothing is trained
        "retrain" => ("/v1/models/retrain".into(), Some(json!({"policy": {"min_new_records": 1000000}}).to_string())),
        "predict" => ("/v1/models/predict".into(), Some(json!({"parcel_ids": ["357730", "1447274"]}).to_string())),
        "jobFeatures" => ("/v1/jobs/features".into(), Some(json!({"spec": demo_spec()}).to_string())),
        "keyCreate" => ("/v1/keys".into(), Some(json!({"role": "viewer"}).to_string())),
        "userCreate" => (
            "/v1/users".into(),
            Some(json!({"username": format!("u{}", rand_suffix()), "password": "correct horse battery", "role": "viewer"}).to_string()),
        ),
        _ => (String::new(), None),
    }
}

/// A small saved model file's text (a forest on two served features).
fn model_file(version: &str, seed: u64) -> String {
    common::model_file(land().index.features(), version, seed)
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The dashboard: its built files at `/` and `/assets/{file}` with the page's CSP, nothing else
/// of the folder; 404 with how to build it when it is not built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_is_served() {
    let web = tempfile::tempdir().expect("dir");
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>t</title>").expect("write");
    std::fs::write(web.path().join("app.js"), "console.log(1)").expect("write");
    std::fs::create_dir(web.path().join("sub")).expect("dir");
    std::fs::write(web.path().join("sub/secret.txt"), "no").expect("write");
    let s = start_with(ServerConfig { web_root: Some(web.path().to_path_buf()), ..Default::default() }, HashMap::new())
        .await;
    let r = call(s.addr, "GET", "/", &[], None).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/html; charset=utf-8")));
    assert!(r.header("content-security-policy").expect("csp").contains("script-src 'self'"));
    assert!(r.body.contains("<title>t</title>"));
    let r = call(s.addr, "GET", "/assets/app.js", &[], None).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("text/javascript; charset=utf-8")));
    for bad in ["/assets/sub%2Fsecret.txt", "/assets/..%2Fhttp.rs", "/assets/sub/secret.txt", "/assets/missing.js"] {
        let r = call(s.addr, "GET", bad, &[], None).await;
        assert_eq!(r.status, 404, "{bad}");
    }
    let empty = tempfile::tempdir().expect("dir");
    let s =
        start_with(ServerConfig { web_root: Some(empty.path().to_path_buf()), ..Default::default() }, HashMap::new())
            .await;
    let r = call(s.addr, "GET", "/", &[], None).await;
    r.problem(404, "NOT_FOUND");
    assert!(r.json()["detail"].as_str().expect("detail").contains("npm run build"));
}

/// Map tiles: the bytes the library makes for the tile (MVT of the default profile with its
/// criteria; the hillshade PNG), the right content types, 400 / 404 for tiles that do not exist
/// or have no DEM. (The vector tile's content is decoded by MapLibre's own decoder in the web
/// app's tests.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_equal_the_library() {
    use landopp::tiles::{hillshade_png, ParcelTileOptions, ScoreTileOptions, TileId};
    let s = start().await;
    let tile = TileId::new(13, 4427, 2918).expect("tile");
    let r = as_key(s.addr, &s.admin, "GET", "/v1/tiles/parcels/13/4427/2918.mvt", None).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/vnd.mapbox-vector-tile")));
    let land = land();
    let scored = land.profile(None).expect("profile");
    let columns = scored.profile.criteria.iter().map(|c| c.column.clone()).collect();
    let opts = ParcelTileOptions { columns, ..Default::default() };
    let expected = land.index.parcel_tile(tile, Some(&scored.scores), &opts).expect("tile");
    assert!(expected.len() > 1000);
    assert_eq!(r.bytes, expected);
    // a what-if tile: the scores of the profile with other weights and a constraint left out
    // (analyst); a viewer may not
    let w = json!({"land use": 0.0, "size (acres)": 2.0});
    let code = scored.profile.constraints.first().map(|c| c.code.clone());
    let mut path = format!("/v1/tiles/parcels/13/4427/2918.mvt?weights={}", urlencode(&w.to_string()));
    let mut changed = scored.profile.with_weights(&serde_json::from_value(w).expect("weights")).expect("weights");
    if let Some(c) = &code {
        path.push_str(&format!("&without_constraints={c}"));
        changed = changed.without_constraints(std::slice::from_ref(c)).expect("constraint");
    }
    let what_if = landopp::scoring::score(land.index.features(), &changed).expect("score");
    let r = as_key(s.addr, &s.admin, "GET", &path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.bytes, land.index.parcel_tile(tile, Some(&what_if), &opts).expect("tile"));
    assert_ne!(r.bytes, expected);
    let viewer = new_key(&s, "viewer").await;
    as_key(s.addr, &viewer, "GET", &path, None).await.problem(403, "FORBIDDEN");
    // score tiles: the library's PNG for the profile and for the what-if
    let overview = TileId::new(11, 1106, 729).expect("tile");
    let score_opts = ScoreTileOptions::default();
    let r = as_key(s.addr, &viewer, "GET", "/v1/tiles/scores/11/1106/729.png", None).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/png")));
    let png = land.index.score_png(overview, &scored.scores, &score_opts).expect("png");
    assert_eq!(r.bytes, png);
    let cells = land.index.score_tile(overview, &scored.scores, &score_opts).expect("cells");
    let painted =
        cells.outer_iter().flat_map(|r| r.outer_iter().map(|p| p[3]).collect::<Vec<_>>()).filter(|a| *a > 0).count();
    assert!(painted > 500, "{painted} pixels painted");
    let scores_path = path.replace("/v1/tiles/parcels/13/4427/2918.mvt", "/v1/tiles/scores/11/1106/729.png");
    let r = as_key(s.addr, &s.admin, "GET", &scores_path, None).await;
    assert_eq!(r.bytes, land.index.score_png(overview, &what_if, &score_opts).expect("png"));
    assert_ne!(r.bytes, png);
    as_key(s.addr, &viewer, "GET", &scores_path, None).await.problem(403, "FORBIDDEN");
    let r = as_key(s.addr, &viewer, "GET", "/v1/land", None).await;
    assert_eq!(
        r.json()["detail_zoom"],
        json!(land.index.detail_zoom(landopp_server::land::DETAIL_PARCELS).expect("zoom"))
    );
    let r = as_key(s.addr, &s.admin, "GET", "/v1/tiles/parcels/13/4427/2918.mvt?without_constraints=NOPE", None).await;
    r.problem(404, "NOT_FOUND");
    let r = as_key(s.addr, &s.admin, "GET", "/v1/tiles/parcels/13/4427/2918.mvt?weights=%7Bx", None).await;
    r.problem(400, "BAD_REQUEST");
    // rank stability: the library's one-at-a-time sensitivity (±20 %, top 10), this parcel's row
    let r = as_key(s.addr, &viewer, "GET", "/v1/parcels/357730/stability", None).await;
    let how = landopp::scoring::Perturbation::OneAtATime { delta: 0.2 };
    let all = landopp::scoring::sensitivity(&scored.scores, &scored.profile, how, 10).expect("sensitivity");
    let row = land.row("357730").expect("row");
    assert_eq!(r.json(), serde_json::to_value(&all.parcels[row]).expect("json"));
    as_key(s.addr, &viewer, "GET", "/v1/parcels/nope/stability", None).await.problem(404, "NOT_FOUND");
    // a tile away from the parcels is empty (and valid)
    let r = as_key(s.addr, &s.admin, "GET", "/v1/tiles/parcels/13/0/0.mvt", None).await;
    assert_eq!((r.status, r.bytes.len()), (200, 0));
    let r = as_key(s.addr, &s.admin, "GET", "/v1/tiles/hillshade/13/4427/2918.png", None).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("image/png")));
    let dem =
        landopp::Raster::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/slovenia/dem.tif"))
            .expect("dem");
    assert_eq!(r.bytes, hillshade_png(&dem, tile, &Default::default()).expect("png"));
    for bad in [
        "/v1/tiles/parcels/23/0/0.mvt",
        "/v1/tiles/parcels/2/4/0.mvt",
        "/v1/tiles/hillshade/x/0/0.png",
        "/v1/tiles/scores/2/4/0.png",
    ] {
        let r = as_key(s.addr, &s.admin, "GET", bad, None).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
    }
    let r = as_key(s.addr, &s.admin, "GET", "/v1/tiles/parcels/13/4427/2918.mvt?profile=nope", None).await;
    r.problem(404, "NOT_FOUND");
    // without a DEM the basemap route says so
    let no_dem = start_with(ServerConfig::default(), HashMap::new()).await;
    let r = as_key(no_dem.addr, &no_dem.admin, "GET", "/v1/tiles/hillshade/13/4427/2918.png", None).await;
    r.problem(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_by_every_role() {
    let s = start().await;
    let keys: Vec<(Role, String)> = vec![
        (Role::Viewer, new_key(&s, "viewer").await),
        (Role::Analyst, new_key(&s, "analyst").await),
        (Role::Admin, s.admin.clone()),
    ];
    let mut checked = 0;
    for route in landopp_server::routes::ROUTES {
        let (path, body) = match sample(route.id) {
            (p, b) if !p.is_empty() => (p, b),
            _ => (route.path.to_string(), None),
        };
        let Some(min) = route.role else {
            // the dashboard's files: `web_is_served` (built or not)
            if route.id != "login" && !route.id.starts_with("dashboard") {
                let r = call(s.addr, route.method, &path, &[], body.as_deref()).await;
                assert_eq!(r.status, 200, "{} {path}: {}", route.method, r.body);
            }
            continue;
        };
        // the parameterised key / user routes are exercised in their own tests
        if path.contains('{') {
            continue;
        }
        let r = call(s.addr, route.method, &path, &[], body.as_deref()).await;
        r.problem(401, "UNAUTHENTICATED");
        assert!(r.header("www-authenticate").is_some());
        for (role, key) in &keys {
            let r = as_key(s.addr, key, route.method, &path, body.as_deref()).await;
            if *role >= min {
                assert!((200..300).contains(&r.status), "{:?} {} {path}: {} {}", role, route.method, r.status, r.body);
            } else {
                r.problem(403, "FORBIDDEN");
            }
            checked += 1;
        }
    }
    assert!(checked >= 36, "{checked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_revoked_expired_rotated_and_malformed() {
    let s = start().await;
    let k = new_key(&s, "viewer").await;
    let id = k.split('_').nth(1).expect("id").to_string();
    assert_eq!(as_key(s.addr, &k, "GET", "/v1/profiles", None).await.status, 200);
    // rotate: a new key works, the old one is revoked
    let r = as_key(s.addr, &s.admin, "POST", &format!("/v1/keys/{id}/rotate"), None).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let k2 = r.json()["key"].as_str().expect("key").to_string();
    assert_eq!(r.json()["record"]["role"], "viewer");
    let r = as_key(s.addr, &k, "GET", "/v1/profiles", None).await;
    r.problem(401, "UNAUTHENTICATED");
    assert!(r.json()["detail"].as_str().unwrap_or("").contains("revoked"));
    assert_eq!(as_key(s.addr, &k2, "GET", "/v1/profiles", None).await.status, 200);
    // revoke
    let id2 = k2.split('_').nth(1).expect("id");
    assert_eq!(as_key(s.addr, &s.admin, "DELETE", &format!("/v1/keys/{id2}"), None).await.status, 204);
    as_key(s.addr, &k2, "GET", "/v1/profiles", None).await.problem(401, "UNAUTHENTICATED");
    as_key(s.addr, &s.admin, "DELETE", &format!("/v1/keys/{id2}"), None).await.problem(404, "NOT_FOUND");
    // a right id with a wrong secret, and garbage
    let forged = format!("lok_{id}_{}", "0".repeat(64));
    as_key(s.addr, &forged, "GET", "/v1/profiles", None).await.problem(401, "UNAUTHENTICATED");
    for bad in ["", "lok_", "Bearer x", "lok_zz_zz", &"a".repeat(5000)] {
        as_key(s.addr, bad, "GET", "/v1/profiles", None).await.problem(401, "UNAUTHENTICATED");
    }
    // expired: a key made to expire has no grace
    let r = as_key(s.addr, &s.admin, "POST", "/v1/keys", Some(r#"{"role": "viewer", "expires_in_days": 0}"#)).await;
    let k3 = r.json()["key"].as_str().expect("key").to_string();
    let r = as_key(s.addr, &k3, "GET", "/v1/profiles", None).await;
    r.problem(401, "UNAUTHENTICATED");
    assert!(r.json()["detail"].as_str().unwrap_or("").contains("expired"));
    // the list never shows secrets or their hashes
    let r = as_key(s.addr, &s.admin, "GET", "/v1/keys", None).await;
    assert!(!r.body.contains(&k2[21..]) && !r.body.contains("secret"), "{}", r.body);
    // the audit log saw it all (authentication failures in the next batch, within a second)
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let a = as_key(s.addr, &s.admin, "GET", "/v1/audit?limit=1000", None).await.json();
    let actions: Vec<&str> = a.as_array().expect("list").iter().filter_map(|e| e["action"].as_str()).collect();
    for want in ["key.create", "key.revoke", "auth_failure"] {
        assert!(actions.contains(&want), "{want} in {actions:?}");
    }
    assert!(!a.to_string().contains(&forged), "the audit log does not echo presented keys");
}

fn hs_token(secret: &[u8], claims: Value, alg: jsonwebtoken::Algorithm) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret).expect("key");
    jsonwebtoken::encode(&jsonwebtoken::Header::new(alg), &claims, &key).expect("encode")
}

fn claims(role: &str, exp_in: i64, nbf_in: i64, aud: &str) -> Value {
    let now = landopp_server::store::now();
    json!({"sub": "user:ann", "role": role, "iss": "landopp-server", "aud": aud, "iat": now, "nbf": now + nbf_in, "exp": now + exp_in})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_login_and_every_bad_jwt() {
    let secret = "s".repeat(40);
    let env = HashMap::from([("LANDOPP_JWT_SECRET", secret.clone())]);
    let s = start_with(ServerConfig::default(), env).await;
    let r = as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/users",
        Some(r#"{"username": "ann", "password": "correct horse battery", "role": "analyst"}"#),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/users",
        Some(r#"{"username": "ann", "password": "correct horse battery", "role": "viewer"}"#),
    )
    .await
    .problem(409, "CONFLICT");
    as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/users",
        Some(r#"{"username": "bob", "password": "short", "role": "viewer"}"#),
    )
    .await
    .problem(400, "BAD_REQUEST");
    call(s.addr, "POST", "/v1/auth/login", &[], Some(r#"{"username": "ann", "password": "wrong password!"}"#))
        .await
        .problem(401, "UNAUTHENTICATED");
    call(s.addr, "POST", "/v1/auth/login", &[], Some(r#"{"username": "nobody", "password": "wrong password!"}"#))
        .await
        .problem(401, "UNAUTHENTICATED");
    let r = call(
        s.addr,
        "POST",
        "/v1/auth/login",
        &[],
        Some(r#"{"username": "ann", "password": "correct horse battery"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["access_token"].as_str().expect("token").to_string();
    let bearer = |t: &str| format!("Bearer {t}");
    let ok = call(
        s.addr,
        "POST",
        "/v1/feedback",
        &[("Authorization", &bearer(&token))],
        Some(r#"{"parcel_id": "357730", "outcome": "sold"}"#),
    )
    .await;
    assert_eq!(ok.status, 201, "analyst token posts feedback: {}", ok.body);
    call(s.addr, "GET", "/v1/keys", &[("Authorization", &bearer(&token))], None).await.problem(403, "FORBIDDEN");
    // tampered: the role raised in the payload, signature kept
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload = {
        use base64_lite::encode;
        encode(&claims("admin", 3600, 0, "landopp").to_string())
    };
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let hs = jsonwebtoken::Algorithm::HS256;
    let cases = [
        ("tampered", tampered),
        ("expired", hs_token(secret.as_bytes(), claims("admin", -3600, -7200, "landopp"), hs)),
        ("not yet valid", hs_token(secret.as_bytes(), claims("admin", 7200, 3600, "landopp"), hs)),
        ("wrong audience", hs_token(secret.as_bytes(), claims("admin", 3600, 0, "someone-else"), hs)),
        ("wrong key", hs_token(&[7u8; 40], claims("admin", 3600, 0, "landopp"), hs)),
        ("HS384", hs_token(secret.as_bytes(), claims("admin", 3600, 0, "landopp"), jsonwebtoken::Algorithm::HS384)),
        (
            "alg none",
            format!(
                "{}.{}.",
                base64_lite::encode(r#"{"alg":"none","typ":"JWT"}"#),
                base64_lite::encode(&claims("admin", 3600, 0, "landopp").to_string())
            ),
        ),
        ("garbage", "a.b.c".into()),
    ];
    for (what, t) in cases {
        let r = call(s.addr, "GET", "/v1/users", &[("Authorization", &bearer(&t))], None).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert!(!r.body.contains(&t), "{what}: the token is not echoed");
    }
    // a token ends with its user: deleted, or re-created with another role
    assert_eq!(as_key(s.addr, &s.admin, "DELETE", "/v1/users/ann", None).await.status, 204);
    let r = call(s.addr, "GET", "/v1/profiles", &[("Authorization", &bearer(&token))], None).await;
    r.problem(401, "UNAUTHENTICATED");
    assert!(r.body.contains("no longer exists"), "{}", r.body);
    as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/users",
        Some(r#"{"username": "ann", "password": "correct horse battery", "role": "viewer"}"#),
    )
    .await;
    let r = call(s.addr, "GET", "/v1/profiles", &[("Authorization", &bearer(&token))], None).await;
    r.problem(401, "UNAUTHENTICATED");
    let audit = as_key(s.addr, &s.admin, "GET", "/v1/audit", None).await.json().to_string();
    assert!(audit.contains("\"login\"") && audit.contains("user.create"), "{audit}");
    assert!(!audit.contains("correct horse"), "passwords never reach the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rs256_tokens_and_algorithm_confusion() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");
    let mut c = ServerConfig::default();
    c.auth.jwt_algorithm = "RS256".into();
    c.auth.jwt_private_key_file = Some(format!("{dir}/rs256-test-private.pem").into());
    c.auth.jwt_public_key_file = Some(format!("{dir}/rs256-test-public.pem").into());
    let s = start_with(c, HashMap::new()).await;
    as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/users",
        Some(r#"{"username": "rae", "password": "correct horse battery", "role": "viewer"}"#),
    )
    .await;
    let r = call(
        s.addr,
        "POST",
        "/v1/auth/login",
        &[],
        Some(r#"{"username": "rae", "password": "correct horse battery"}"#),
    )
    .await;
    let token = r.json()["access_token"].as_str().expect("token").to_string();
    let header: Value =
        serde_json::from_slice(&base64_lite::decode(token.split('.').next().expect("header"))).expect("json");
    assert_eq!(header["alg"], "RS256");
    assert_eq!(
        call(s.addr, "GET", "/v1/profiles", &[("Authorization", &format!("Bearer {token}"))], None).await.status,
        200
    );
    // HS/RS confusion: an HS256 token keyed with the public key's PEM text
    let public = std::fs::read(format!("{dir}/rs256-test-public.pem")).expect("pem");
    let confused = hs_token(&public, claims("admin", 3600, 0, "landopp"), jsonwebtoken::Algorithm::HS256);
    call(s.addr, "GET", "/v1/profiles", &[("Authorization", &format!("Bearer {confused}"))], None)
        .await
        .problem(401, "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let mut c = ServerConfig::default();
    c.limits.rate_per_key = 2.0;
    c.limits.burst_factor = 1.0;
    let s = start_with(c, HashMap::new()).await;
    let mut codes = Vec::new();
    let mut last = None;
    for _ in 0..6 {
        let r = as_key(s.addr, &s.admin, "GET", "/v1/profiles", None).await;
        codes.push(r.status);
        if r.status == 429 {
            last = Some(r);
        }
    }
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    let r = last.expect("some requests were limited");
    r.problem(429, "RATE_LIMITED");
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s >= 1));
    assert_eq!(r.header("ratelimit-limit"), Some("2"));
    let metrics = call(s.addr, "GET", "/metrics", &[], None).await.body;
    assert!(metrics.contains("landopp_rate_limited_total"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_headers_limits_and_problem_json() {
    let mut c = ServerConfig { cors_origins: vec!["https://maps.example.org".into()], ..Default::default() };
    c.limits.body_bytes = 4096;
    c.limits.max_vertices = 8;
    c.limits.timeout_ms = 300;
    let s = start_with(c, HashMap::new()).await;
    // a request that never finishes sending its body: 503 TIMEOUT after timeout_ms
    let t0 = std::time::Instant::now();
    let slow = raw(
        s.addr,
        format!("POST /v1/parcels/search HTTP/1.1\r\nHost: x\r\nConnection: close\r\nOrigin: https://maps.example.org\r\nX-API-Key: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{", s.admin),
    );
    // the connection stays open without the rest: `raw` waits for the server to answer and close
    let slow = tokio::time::timeout(std::time::Duration::from_secs(10), slow)
        .await
        .expect("the server answers without the body");
    slow.problem(503, "TIMEOUT");
    // made by the outer middleware, it carries CORS headers too (a browser reads its status)
    assert_eq!(slow.header("access-control-allow-origin"), Some("https://maps.example.org"), "{:?}", slow.headers);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(300));
    let pre = |origin: &'static str| {
        let addr = s.addr;
        async move {
            call(
                addr,
                "OPTIONS",
                "/v1/parcels/search",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    ("Access-Control-Request-Headers", "x-api-key,content-type"),
                ],
                None,
            )
            .await
        }
    };
    let ok = pre("https://maps.example.org").await;
    assert_eq!(ok.header("access-control-allow-origin"), Some("https://maps.example.org"), "{:?}", ok.headers);
    let refused = pre("https://evil.example.com").await;
    assert_eq!(refused.header("access-control-allow-origin"), None, "{:?}", refused.headers);

    // security headers on every answer, errors included
    for r in
        [as_key(s.addr, &s.admin, "GET", "/v1/profiles", None).await, call(s.addr, "GET", "/nope", &[], None).await]
    {
        for h in [
            "strict-transport-security",
            "content-security-policy",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "x-request-id",
            "traceparent",
        ] {
            assert!(r.header(h).is_some(), "{h} in {:?}", r.headers);
        }
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
    call(s.addr, "GET", "/nope", &[], None).await.problem(404, "NOT_FOUND");
    call(s.addr, "DELETE", "/v1/profiles", &[("X-API-Key", &s.admin)], None).await.problem(405, "METHOD_NOT_ALLOWED");
    // a traceparent is continued: same trace id, new span
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = call(s.addr, "GET", "/healthz", &[("traceparent", tp)], None).await;
    let back = r.header("traceparent").expect("traceparent");
    assert!(back.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && !back.contains("00f067aa0ba902b7"), "{back}");
    // 413 above the body limit
    let big = json!({"query": {"filters": [{"column": "x".repeat(5000)}]}}).to_string();
    as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&big)).await.problem(413, "PAYLOAD_TOO_LARGE");
    // malformed JSON, wrong types, unknown fields, malformed query strings: 400
    for b in ["{", "[]", r#"{"query": {"limit": "ten"}}"#, r#"{"query": {}, "surprise": 1}"#] {
        as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(b)).await.problem(400, "BAD_REQUEST");
    }
    for q in [
        "bbox=1,2,3",
        "bbox=a,b,c,d",
        "limit=-1",
        "limit=99999",
        "nonsense=1",
        "bbox=0,0,1,1&bbox=0,0,1,1",
        "point=1,2",
        "filter=broken",
        "explain=maybe",
        "min_score=NaN",
        "%zz=1",
    ] {
        let r = as_key(s.addr, &s.admin, "GET", &format!("/v1/parcels/search?{q}"), None).await;
        assert_eq!((q, r.status), (q, 400));
        r.problem(400, "BAD_REQUEST");
    }
    // the core's codes come through: a bowtie polygon is INVALID_GEOMETRY (422), a bad CRS 400
    let bowtie = json!({"query": {"aoi": {"polygon": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}}});
    as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&bowtie.to_string()))
        .await
        .problem(422, "INVALID_GEOMETRY");
    let r = as_key(s.addr, &s.admin, "GET", "/v1/parcels/search?bbox=0,0,1,1&crs=EPSG:999999", None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["code"], "CRS");
    let ring: Vec<[f64; 2]> = (0..20)
        .map(|k| {
            let a = k as f64 / 19.0 * std::f64::consts::TAU;
            [14.56 + 0.01 * a.cos(), 45.87 + 0.01 * a.sin()]
        })
        .collect();
    let many = json!({"query": {"aoi": {"polygon": {"type": "Polygon", "coordinates": [ring]}}, "crs": "EPSG:4326"}});
    as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&many.to_string()))
        .await
        .problem(422, "TOO_MANY_VERTICES");
    // weights are an analyst's what-if; absurd weights are the core's INVALID_INPUT
    let viewer = new_key(&s, "viewer").await;
    let w = json!({"weights": {"land use": 2}}).to_string();
    as_key(s.addr, &viewer, "POST", "/v1/parcels/search", Some(&w)).await.problem(403, "FORBIDDEN");
    let neg = json!({"weights": {"land use": -1}}).to_string();
    as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&neg)).await.problem(400, "INVALID_INPUT");
    let unknown = json!({"weights": {"nope": 1}}).to_string();
    as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&unknown)).await.problem(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_strings_are_data_and_paths_are_not_files() {
    let s = start().await;
    let sql = "score'; DROP TABLE users; --";
    let r = as_key(s.addr, &s.admin, "GET", &format!("/v1/parcels/search?filter={}:0:1", urlencode(sql)), None).await;
    r.problem(404, "NOT_FOUND");
    let note = "'); DELETE FROM feedback; --";
    let fb = json!({"parcel_id": "357730", "note": note}).to_string();
    assert_eq!(as_key(s.addr, &s.admin, "POST", "/v1/feedback", Some(&fb)).await.status, 201);
    assert_eq!(as_key(s.addr, &s.admin, "POST", "/v1/feedback", Some(&fb)).await.status, 201);
    as_key(s.addr, &s.admin, "POST", "/v1/feedback", Some(r#"{"parcel_id": "no such parcel"}"#))
        .await
        .problem(404, "NOT_FOUND");
    assert_eq!(as_key(s.addr, &s.admin, "GET", "/v1/users", None).await.status, 200, "users table still there");
    for path in
        ["/v1/parcels/..%2F..%2F..%2Fetc%2Fpasswd", "/v1/parcels/../../etc/passwd", "/v1/parcels/%2Fetc%2Fpasswd"]
    {
        let r = as_key(s.addr, &s.admin, "GET", path, None).await;
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert!(!r.body.contains("root:"), "{path}");
    }
    for q in ["profile=..%2F..%2Fetc%2Fpasswd", "profile=%2Fetc%2Fpasswd"] {
        let r = as_key(s.addr, &s.admin, "GET", &format!("/v1/parcels/search?{q}"), None).await;
        r.problem(404, "NOT_FOUND");
        assert!(!r.body.contains("root:"));
    }
    // no path is taken from a request: a profile posted with a file-ish column is just a name
    let mut p: Value = serde_json::from_str(landopp_server::land::PRESETS[0].1).expect("preset");
    p["criteria"][0]["column"] = json!("/etc/passwd");
    let r = as_key(s.addr, &s.admin, "POST", "/v1/rescore", Some(&json!({"profile": p}).to_string())).await;
    assert!(r.status == 404 || r.status == 400, "{}", r.body);
    assert!(!r.body.contains("root:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_match_the_library() {
    let s = start().await;
    let l = land();
    let q: landopp::search::Query =
        serde_json::from_value(json!({"aoi": {"bbox": [14.54, 45.86, 14.58, 45.89]}, "crs": "EPSG:4326", "limit": 5}))
            .expect("query");
    let want = serde_json::to_value(l.index.query_with(&q, Some(&l.profiles[0].scores)).expect("query")).expect("json");
    let got =
        as_key(s.addr, &s.admin, "GET", "/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=5", None)
            .await
            .json();
    assert_eq!(got, want);
    let post =
        as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&json!({"query": q}).to_string())).await.json();
    assert_eq!(post, want);
    // paging by cursor walks the same order
    let next = got["next_cursor"].as_str().expect("cursor");
    let p2 = as_key(
        s.addr,
        &s.admin,
        "GET",
        &format!("/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=5&cursor={next}"),
        None,
    )
    .await
    .json();
    assert_ne!(p2["hits"][0]["id"], got["hits"][0]["id"]);
    // a what-if rescoring equals the library's with the same weights, and leaves the default alone
    let w = std::collections::BTreeMap::from([("land use".to_string(), 5.0)]);
    let prof = l.profiles[0].profile.with_weights(&w).expect("weights");
    let sc = landopp::scoring::score(l.index.features(), &prof).expect("score");
    let want_w = serde_json::to_value(l.index.query_with(&q, Some(&sc)).expect("q")).expect("json");
    let got_w =
        as_key(s.addr, &s.admin, "POST", "/v1/parcels/search", Some(&json!({"query": q, "weights": w}).to_string()))
            .await
            .json();
    assert_eq!(got_w, want_w);
    let again =
        as_key(s.addr, &s.admin, "GET", "/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=5", None)
            .await
            .json();
    assert_eq!(again, want);
    // parcel by id: score, rank and explanation of the library
    let d = as_key(s.addr, &s.admin, "GET", "/v1/parcels/357730", None).await.json();
    let row = l.row("357730").expect("row");
    assert_eq!(d["score"], json!(l.profiles[0].scores.score[row]));
    assert_eq!(d["explanation"], serde_json::to_value(l.profiles[0].scores.explanation(row)).expect("json"));
    assert!(
        d["features"].as_array().is_some_and(|f| f.iter().any(|c| c["name"] == "slope_mean" && c["unit"] == "deg")),
        "{d}"
    );
    assert!(!d.to_string().contains("/work/") && !d.to_string().contains("fixtures/"), "no server paths: {d}");
    as_key(s.addr, &s.admin, "GET", "/v1/parcels/does-not-exist", None).await.problem(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_routes_and_the_committed_file() {
    let doc = landopp_server::openapi::document();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let text = serde_json::to_string_pretty(&doc).expect("json") + "\n";
    if std::env::var_os("LANDOPP_BLESS").is_some() {
        std::fs::write(path, &text).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == text,
        "examples/server/openapi.json is stale: run LANDOPP_BLESS=1 cargo test -p landopp-server --test http openapi"
    );
    assert_eq!(doc["openapi"], "3.1.0");
    // every documented operation is served (neither 404 nor 405), every $ref resolves
    let s = start().await;
    let ops = doc["paths"].as_object().expect("paths");
    for (p, methods) in ops {
        for m in methods.as_object().expect("methods").keys() {
            let concrete = p.replace("{id}", "x").replace("{name}", "x");
            let r = as_key(s.addr, &s.admin, &m.to_ascii_uppercase(), &concrete, Some("{}")).await;
            assert!(
                r.status != 405 && !(r.status == 404 && r.json()["detail"] == "no such route"),
                "{m} {p}: {}",
                r.status
            );
        }
    }
    let refs: Vec<String> = text
        .match_indices("\"$ref\": \"")
        .map(|(i, _)| text[i + 9..].split('"').next().unwrap_or("").to_string())
        .collect();
    for r in refs {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(doc["components"]["schemas"].get(name).is_some(), "dangling {r}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// base64url without padding (JWT segments), enough for the tests.
mod base64_lite {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    pub fn encode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for k in 0..=c.len() {
                out.push(A[((n >> (18 - 6 * k)) & 63) as usize] as char);
            }
        }
        out
    }
    pub fn decode(s: &str) -> Vec<u8> {
        let v: Vec<u32> = s.bytes().filter_map(|c| A.iter().position(|a| *a == c).map(|p| p as u32)).collect();
        let mut out = Vec::new();
        for c in v.chunks(4) {
            let n = c.iter().enumerate().fold(0u32, |n, (k, x)| n | (x << (18 - 6 * k)));
            for k in 0..c.len().saturating_sub(1) {
                out.push((n >> (16 - 8 * k)) as u8);
            }
        }
        out
    }
}

#[test]
fn readme_role_table_is_the_route_table() {
    let mut t = String::from("| method | path | least role | what |\n|---|---|---|---|\n");
    for r in landopp_server::routes::ROUTES {
        let role = r.role.map_or("public", |x| x.as_str());
        t.push_str(&format!("| {} | `{}` | {role} | {} |\n", r.method, r.path, r.summary));
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(path).expect("README");
    let (a, rest) = readme.split_once("<!-- rbac:start -->\n").expect("start marker");
    let (_, b) = rest.split_once("<!-- rbac:end -->").expect("end marker");
    let fresh = format!("{a}<!-- rbac:start -->\n{t}<!-- rbac:end -->{b}");
    if std::env::var_os("LANDOPP_BLESS").is_some() {
        std::fs::write(path, &fresh).expect("write README");
    }
    let readme = std::fs::read_to_string(path).expect("README");
    assert!(readme == fresh, "the role table in examples/server/README.md is stale: LANDOPP_BLESS=1 cargo test -p landopp-server --test http readme");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_predict_explain_promote_and_ab_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reg = dir.path().join("models");
    let s = start_with(
        ServerConfig {
            models: Some(ModelsConfig { registry: reg.clone(), ab_split: None, demo: true, drift_reference: None }),
            ..Default::default()
        },
        HashMap::new(),
    )
    .await;
    let list = as_key(s.addr, &s.admin, "GET", "/v1/models", None).await.json();
    assert_eq!(list[0]["card"]["model_version"], "demo-1.0.0");
    assert_eq!(list[0]["production"], true);
    assert_eq!(list[0]["loaded"], true, "production is loaded and warm at start");
    // predictions equal the library's on the same model file
    let ids = ["357730", "1447274", "232813"];
    let r = as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/models/predict",
        Some(&json!({"parcel_ids": ids, "explain": true}).to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let got = r.json();
    let registry = landopp::ml::registry::Registry::open(&reg).expect("registry");
    let model =
        landopp::ml::lifecycle::Model::load(registry.model_path("demo-1.0.0").expect("path"), &Default::default())
            .expect("model");
    let l = land();
    let rows: Vec<usize> = ids.iter().map(|i| l.row(i).expect("row")).collect();
    let sub = l.index.features().select_rows(&rows).expect("rows");
    let p0 = model.predict_column(&sub, 0).expect("predict");
    let explained = model.explain_table(&sub).expect("explain");
    for (j, id) in ids.iter().enumerate() {
        assert_eq!(got[j]["parcel_id"], *id);
        assert_eq!(got[j]["model_version"], "demo-1.0.0");
        assert_eq!(got[j]["values"][0], json!(p0[j]));
        let c = &got[j]["contributions"];
        assert_eq!(c.as_array().map(Vec::len), Some(model.card.features.len()));
        assert_eq!(c[0]["contribution"], json!(explained[j].contributions[0]));
        let outputs = got[j]["outputs"].as_array().expect("outputs");
        assert!(outputs.iter().any(|o| o == "grassland"), "{outputs:?}");
    }
    as_key(s.addr, &s.admin, "POST", "/v1/models/predict", Some(r#"{"parcel_ids": ["nope"]}"#))
        .await
        .problem(404, "NOT_FOUND");
    as_key(s.addr, &s.admin, "POST", "/v1/models/predict", Some(r#"{"parcel_ids": []}"#))
        .await
        .problem(400, "BAD_REQUEST");
    as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/models/predict",
        Some(r#"{"parcel_ids": ["357730"], "model_version": "9.9"}"#),
    )
    .await
    .problem(404, "NOT_FOUND");
    // a second version, registered beside; promote swaps it in (only an admin may)
    let params = landopp::ml::Params::parse(
        r#"{"model": "random_forest", "task": "classification", "n_estimators": 10, "seed": 3}"#,
    )
    .expect("params");
    let opts = landopp::ml::lifecycle::FitOptions { model_version: Some("demo-2.0.0".into()), ..Default::default() };
    let cols: Vec<String> = vec!["slope_mean".into(), "area_acres".into()];
    let m2 = landopp::ml::lifecycle::Model::fit_table(l.index.features(), &cols, "landuse_dominant", &params, &opts)
        .expect("fit");
    registry.add(&m2, &Default::default()).expect("add");
    let analyst = new_key(&s, "analyst").await;
    as_key(s.addr, &analyst, "POST", "/v1/models/demo-2.0.0/promote", None).await.problem(403, "FORBIDDEN");
    assert_eq!(as_key(s.addr, &s.admin, "POST", "/v1/models/demo-2.0.0/promote", None).await.status, 204);
    let after =
        as_key(s.addr, &s.admin, "POST", "/v1/models/predict", Some(r#"{"parcel_ids": ["357730"]}"#)).await.json();
    assert_eq!(after[0]["model_version"], "demo-2.0.0");
    assert_eq!(
        after[0]["values"][0],
        json!(
            m2.predict_column(&l.index.features().select_rows(&[l.row("357730").expect("row")]).expect("row"), 0)
                .expect("p")[0]
        )
    );
    let r = as_key(s.addr, &s.admin, "POST", "/v1/models/..%2F..%2Fetc/promote", None).await;
    assert!(r.status == 400 || r.status == 404, "{}", r.body);
    as_key(s.addr, &s.admin, "POST", "/v1/models/no-such/promote", None).await.problem(404, "NOT_FOUND");
    let metrics = call(s.addr, "GET", "/metrics", &[], None).await.body;
    assert!(metrics.contains("landopp_model_predictions_total{model_version=\"demo-2.0.0\"}"), "{metrics}");
    // an A/B split routes each parcel by its id, the same way every time, as the library assigns
    // the demo's drift reference is its own training table: no drift
    let d = as_key(s.addr, &s.admin, "GET", "/v1/models/drift", None).await.json();
    assert_eq!(d["drifted"], json!([]), "{d}");
    drop(s);
    // a reference where parcels were three times as large: area drifts, slope does not
    let mut t = landopp::FeatureTable::new(l.index.features().ids().to_vec());
    for name in ["area_acres", "slope_mean"] {
        let c = l.index.features().column(name).expect("col");
        let f = if name == "area_acres" { 3.0 } else { 1.0 };
        t.add_column(name, c.values.iter().map(|v| v * f).collect(), Default::default()).expect("add");
    }
    let shifted = dir.path().join("reference.csv");
    t.write_csv(&shifted).expect("csv");
    let ab = landopp::ml::drift::AbSplit {
        salt: "t".into(),
        share_b: 0.5,
        model_a: "demo-1.0.0".into(),
        model_b: "demo-2.0.0".into(),
    };
    let s = start_with(
        ServerConfig {
            models: Some(ModelsConfig {
                registry: reg.clone(),
                ab_split: Some(ab.clone()),
                demo: false,
                drift_reference: Some(shifted.clone()),
            }),
            ..Default::default()
        },
        HashMap::new(),
    )
    .await;
    let all: Vec<&String> = l.index.features().ids().iter().collect();
    let r = as_key(s.addr, &s.admin, "POST", "/v1/models/predict", Some(&json!({"parcel_ids": all}).to_string()))
        .await
        .json();
    let mut seen = std::collections::HashSet::new();
    for p in r.as_array().expect("list") {
        let id = p["parcel_id"].as_str().expect("id");
        assert_eq!(p["model_version"], ab.assign(id).expect("assign"));
        seen.insert(p["model_version"].as_str().unwrap_or("").to_string());
    }
    assert_eq!(seen.len(), 2, "both arms answer");
    let d = as_key(s.addr, &s.admin, "GET", "/v1/models/drift", None).await.json();
    assert_eq!(d["drifted"], json!(["area_acres"]), "{d}");
    let metrics = call(s.addr, "GET", "/metrics", &[], None).await.body;
    assert!(metrics.contains("landopp_feature_drift_psi{feature=\"area_acres\"}"), "{metrics}");
}

fn demo_spec() -> Value {
    let area: Value = serde_json::from_str(include_str!("../../node-search-service/sample-area.json")).expect("area");
    area["spec"].clone()
}

async fn wait_job(s: &Srv, id: &str) -> Value {
    for _ in 0..600 {
        let j = as_key(s.addr, &s.admin, "GET", &format!("/v1/jobs/{id}"), None).await.json();
        if ["succeeded", "failed", "cancelled"].contains(&j["state"].as_str().unwrap_or("")) {
            return j;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_jobs_run_sandboxed_and_cancel() {
    let s = start().await;
    let r =
        as_key(s.addr, &s.admin, "POST", "/v1/jobs/features", Some(&json!({"spec": demo_spec()}).to_string())).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/jobs/{id}").as_str()));
    let j = wait_job(&s, &id).await;
    assert_eq!(j["state"], "succeeded", "{j}");
    assert_eq!(j["done"], j["total"]);
    // the result is the library's table for the same spec
    let csv = as_key(s.addr, &s.admin, "GET", &format!("/v1/jobs/{id}/result"), None).await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut spec = landopp::pipeline::FeatureSpec::parse(&demo_spec().to_string()).expect("spec");
    spec.resolve_paths(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").canonicalize().expect("dir"),
    );
    let mut want = Vec::new();
    spec.run(&|_| {}).expect("run").write_csv_to(&mut want).expect("csv");
    assert_eq!(csv.body.as_bytes(), want.as_slice());
    assert_eq!(j["rows"], json!(land().index.len()));
    let other = new_key(&s, "analyst").await;
    as_key(s.addr, &other, "GET", &format!("/v1/jobs/{id}/result"), None).await.problem(403, "FORBIDDEN");
    // a viewer cannot start jobs; nothing outside the data folder is read
    let viewer = new_key(&s, "viewer").await;
    as_key(s.addr, &viewer, "POST", "/v1/jobs/features", Some(&json!({"spec": demo_spec()}).to_string()))
        .await
        .problem(403, "FORBIDDEN");
    let with = |path: &str| {
        let mut sp = demo_spec();
        sp["parcels"]["path"] = json!(path);
        json!({"spec": sp}).to_string()
    };
    for bad in ["/etc/passwd", "../../../../etc/passwd", "slovenia/../../Cargo.toml", "", "http://127.0.0.1:9/x.gpkg"] {
        let r = as_key(s.addr, &s.admin, "POST", "/v1/jobs/features", Some(&with(bad))).await;
        r.problem(400, "BAD_REQUEST");
        assert!(!r.body.contains("root:"), "{bad}");
    }
    let r = as_key(s.addr, &s.admin, "POST", "/v1/jobs/features", Some(&with("slovenia/missing.gpkg"))).await;
    r.problem(404, "NOT_FOUND");
    assert!(r.body.contains("slovenia/missing.gpkg") && !r.body.contains(env!("CARGO_MANIFEST_DIR")), "{}", r.body);
    let mut m = demo_spec();
    m["features"] =
        json!([{"type": "model", "path": "slovenia/dem.tif", "prefix": "m", "hmac_key_env": "LANDOPP_JWT_SECRET"}]);
    let r = as_key(s.addr, &s.admin, "POST", "/v1/jobs/features", Some(&json!({"spec": m}).to_string())).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // a symlink inside the data folder that leads out of it
    let root = tempfile::tempdir().expect("root");
    std::os::unix::fs::symlink("/etc/passwd", root.path().join("parcels.gpkg")).expect("symlink");
    let s2 =
        start_with(ServerConfig { jobs_root: Some(root.path().to_path_buf()), ..Default::default() }, HashMap::new())
            .await;
    let r = as_key(s2.addr, &s2.admin, "POST", "/v1/jobs/features", Some(&with("parcels.gpkg"))).await;
    r.problem(400, "BAD_REQUEST");
    assert!(r.json()["detail"].as_str().unwrap_or("").contains("out of the data folder"), "{}", r.body);
    // cancel: a long spec (many terrain steps), cancelled right after it starts
    let mut long = demo_spec();
    let step = long["features"][1].clone();
    let steps: Vec<Value> = (0..400)
        .map(|k| {
            let mut t = step.clone();
            t["prefix"] = json!(format!("s{k}"));
            t
        })
        .collect();
    long["features"] = Value::Array(steps);
    let r = as_key(s.addr, &s.admin, "POST", "/v1/jobs/features", Some(&json!({"spec": long}).to_string())).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.json()["id"].as_str().expect("id").to_string();
    let analyst = new_key(&s, "analyst").await;
    as_key(s.addr, &analyst, "DELETE", &format!("/v1/jobs/{id}"), None).await.problem(403, "FORBIDDEN");
    assert_eq!(as_key(s.addr, &s.admin, "DELETE", &format!("/v1/jobs/{id}"), None).await.status, 202);
    let j = wait_job(&s, &id).await;
    assert_eq!(j["state"], "cancelled", "{j}");
    assert!(j["done"].as_i64().unwrap_or(0) < 400, "{j}");
    as_key(s.addr, &s.admin, "DELETE", &format!("/v1/jobs/{id}"), None).await.problem(409, "CONFLICT");
    as_key(s.addr, &s.admin, "GET", &format!("/v1/jobs/{id}/result"), None).await.problem(409, "CONFLICT");
    as_key(s.addr, &s.admin, "GET", "/v1/jobs/0123456789abcdef", None).await.problem(404, "NOT_FOUND");
    let list = as_key(s.addr, &s.admin, "GET", "/v1/jobs", None).await.json();
    assert!(list.as_array().is_some_and(|l| l.len() >= 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_areas_scores_model_usage_and_accuracy() {
    let s = start().await;
    for _ in 0..3 {
        assert_eq!(
            as_key(
                s.addr,
                &s.admin,
                "GET",
                "/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=1",
                None
            )
            .await
            .status,
            200
        );
    }
    assert_eq!(
        as_key(
            s.addr,
            &s.admin,
            "GET",
            "/v1/parcels/search?point=14.56,45.87&radius_m=100&crs=EPSG:4326&limit=1",
            None
        )
        .await
        .status,
        200
    );
    let l = land();
    let mut ids: Vec<&String> = l.index.features().ids().iter().collect();
    ids.sort();
    let r = as_key(s.addr, &s.admin, "POST", "/v1/models/predict", Some(&json!({"parcel_ids": ids}).to_string())).await;
    assert_eq!(r.status, 200);
    // feedback: the land-use class observed on the ground for ten parcels
    let lu = l.index.features().column("landuse_dominant").expect("col");
    let mut fed = Vec::new();
    for id in ids.iter().take(10) {
        let label = lu.label(l.row(id).expect("row")).unwrap_or("").to_string();
        fed.push((id.to_string(), label.clone()));
        let b = json!({"parcel_id": id, "outcome": label}).to_string();
        assert_eq!(as_key(s.addr, &s.admin, "POST", "/v1/feedback", Some(&b)).await.status, 201);
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // the analytics writer's batch
    let areas = as_key(s.addr, &s.admin, "GET", "/v1/analytics/areas?resolution=9", None).await.json();
    let cell = |lng: f64, lat: f64| h3o::LatLng::new(lat, lng).expect("ll").to_cell(h3o::Resolution::Nine).to_string();
    assert_eq!(areas[0]["cell"], cell(14.56, 45.875), "{areas}");
    assert_eq!(areas[0]["count"], 3);
    assert_eq!(areas[1]["cell"], cell(14.56, 45.87));
    as_key(s.addr, &s.admin, "GET", "/v1/analytics/areas?resolution=16", None).await.problem(400, "BAD_REQUEST");
    let h = as_key(s.addr, &s.admin, "GET", "/v1/analytics/scores?bins=4", None).await.json();
    let sc = &l.profiles[0].scores;
    let n_in: i64 = h["counts"].as_array().expect("counts").iter().map(|b| b.as_i64().unwrap_or(0)).sum();
    assert_eq!(n_in + h["excluded"].as_i64().unwrap_or(0) + h["missing"].as_i64().unwrap_or(0), l.index.len() as i64);
    let top = sc.score.iter().zip(&sc.excluded).filter(|(v, e)| !**e && **v >= 0.75).count();
    assert_eq!(h["counts"][3], json!(top));
    assert_eq!(h["edges"], json!([0.0, 0.25, 0.5, 0.75, 1.0]));
    assert_eq!(h["excluded"], json!(sc.excluded.iter().filter(|e| **e).count()));
    let usage = as_key(s.addr, &s.admin, "GET", "/v1/analytics/models", None).await.json();
    assert_eq!(usage, json!([{"model_version": "demo-1.0.0", "requests": 1, "parcels": ids.len()}]));
    // accuracy: the served model against the feedback, as the library computes it
    let acc = as_key(s.addr, &s.admin, "GET", "/v1/analytics/accuracy", None).await.json();
    let reg_models = as_key(s.addr, &s.admin, "GET", "/v1/models", None).await.json();
    let classes: Vec<String> = serde_json::from_value(reg_models[0]["card"]["classes"].clone()).expect("classes");
    let rows: Vec<usize> = fed.iter().map(|(id, _)| l.row(id).expect("row")).collect();
    let truth: Vec<f64> = fed.iter().map(|(_, c)| classes.iter().position(|x| x == c).expect("class") as f64).collect();
    let p = as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/models/predict",
        Some(&json!({"parcel_ids": fed.iter().map(|f| &f.0).collect::<Vec<_>>()}).to_string()),
    )
    .await
    .json();
    let correct = p
        .as_array()
        .expect("p")
        .iter()
        .zip(&truth)
        .filter(|(q, t)| {
            let v: Vec<f64> = q["values"].as_array().expect("v").iter().map(|x| x.as_f64().unwrap_or(-1.0)).collect();
            let arg = v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(usize::MAX, |x| x.0);
            arg as f64 == **t
        })
        .count();
    assert_eq!(acc["n"], json!(rows.len()), "{acc}");
    assert_eq!(acc["metrics"]["accuracy"], json!(correct as f64 / rows.len() as f64), "{acc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_under_load_drops_no_request() {
    let mut c = ServerConfig::default();
    c.limits.rate_per_key = 0.0;
    let s = start_with(c, HashMap::new()).await;
    let reg = landopp::ml::registry::Registry::open(s._dir.path().join("models")).expect("registry");
    let params = landopp::ml::Params::parse(
        r#"{"model": "random_forest", "task": "classification", "n_estimators": 5, "seed": 1}"#,
    )
    .expect("params");
    let opts = landopp::ml::lifecycle::FitOptions { model_version: Some("demo-1.1.0".into()), ..Default::default() };
    let cols: Vec<String> = vec!["slope_mean".into(), "area_acres".into()];
    reg.add(
        &landopp::ml::lifecycle::Model::fit_table(land().index.features(), &cols, "landuse_dominant", &params, &opts)
            .expect("fit"),
        &Default::default(),
    )
    .expect("add");
    let (addr, key) = (s.addr, s.admin.clone());
    let clients: Vec<_> = (0..8)
        .map(|_| {
            let key = key.clone();
            tokio::spawn(async move {
                let mut versions = Vec::new();
                for _ in 0..25 {
                    let r = as_key(
                        addr,
                        &key,
                        "POST",
                        "/v1/models/predict",
                        Some(r#"{"parcel_ids": ["357730", "232813"]}"#),
                    )
                    .await;
                    assert_eq!(r.status, 200, "{}", r.body);
                    let p = r.json();
                    // one request, one model: a promote during it does not split the batch
                    assert_eq!(p[0]["model_version"], p[1]["model_version"], "{p}");
                    versions.push(p[0]["model_version"].as_str().unwrap_or("").to_string());
                }
                versions
            })
        })
        .collect();
    for k in 0..10 {
        let v = if k % 2 == 0 { "demo-1.1.0" } else { "demo-1.0.0" };
        assert_eq!(as_key(addr, &key, "POST", &format!("/v1/models/{v}/promote"), None).await.status, 204);
    }
    let mut all = Vec::new();
    for c in clients {
        all.extend(c.await.expect("client"));
    }
    assert_eq!(all.len(), 200);
    assert!(all.iter().all(|v| v == "demo-1.0.0" || v == "demo-1.1.0"), "{all:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_key_from_the_environment_survives_its_revocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = format!("lok_{}_{}", "1".repeat(16), "2".repeat(64));
    let config = || ServerConfig {
        store: dir.path().join("store.db"),
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    };
    let env = HashMap::from([("LANDOPP_BOOTSTRAP_ADMIN_KEY", key.clone())]);
    let s = Server::start(config(), land(), &|k| env.get(k).cloned()).await.expect("starts");
    assert!(s.bootstrap_key.is_none(), "the given key is used, none is made");
    let addr = s.addr;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let h = tokio::spawn(s.serve_until(async move {
        let _ = rx.await;
    }));
    let r = as_key(addr, &key, "POST", "/v1/keys", Some(r#"{"role": "admin"}"#)).await;
    let other = r.json()["key"].as_str().expect("key").to_string();
    assert_eq!(as_key(addr, &other, "DELETE", &format!("/v1/keys/{}", "1".repeat(16)), None).await.status, 204);
    let _ = tx.send(());
    let _ = h.await;
    // restarted with the same variable: starts, and the revoked key stays revoked
    let s = Server::start(config(), land(), &|k| env.get(k).cloned()).await.expect("starts again");
    assert!(!s.state.keys.is_active(&"1".repeat(16), landopp_server::store::now()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_assembly_has_bounds() {
    let mut c = ServerConfig::default();
    c.limits.max_site_parcels = 5;
    let s = start_with(c, HashMap::new()).await;
    let q = json!({"aoi": {"bbox": [14.54, 45.86, 14.58, 45.89]}, "crs": "EPSG:4326"});
    let r = as_key(s.addr, &s.admin, "POST", "/v1/sites", Some(&json!({"query": q, "tolerance_m": 5000}).to_string()))
        .await;
    r.problem(400, "BAD_REQUEST");
    let r = as_key(s.addr, &s.admin, "POST", "/v1/sites", Some(&json!({"query": q}).to_string())).await;
    r.problem(400, "INVALID_INPUT");
    assert!(r.body.contains("at most 5"), "{}", r.body);
    let small = json!({"aoi": {"point": {"xy": [14.56, 45.87], "radius_m": 30}}, "crs": "EPSG:4326"});
    let r = as_key(s.addr, &s.admin, "POST", "/v1/sites", Some(&json!({"query": small}).to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn geojson_export_is_the_whole_outline_in_wgs84() {
    let s = start().await;
    let l = land();
    let ids = ["1447274", "357730"];
    let r = as_key(s.addr, &s.admin, "POST", "/v1/parcels/geojson", Some(&json!({"ids": ids}).to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/geo+json"));
    let fc = r.json();
    assert_eq!(fc["type"], "FeatureCollection");
    // the library's parcels reprojected to WGS 84: the same vertices, in the order asked
    let parcels = landopp::Parcels::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/slovenia/lulc_polygons.gpkg"),
        None,
        Some("index"),
    )
    .expect("parcels")
    .to_crs(&landopp::Crs::from_epsg(4326).expect("crs"))
    .expect("to WGS 84");
    for (f, id) in fc["features"].as_array().expect("features").iter().zip(ids) {
        assert_eq!((f["type"].as_str(), f["id"].as_str()), (Some("Feature"), Some(id)));
        assert_eq!(f["geometry"]["type"], "MultiPolygon");
        let k = parcels.ids.iter().position(|x| x == id).expect("id");
        let want: Vec<(f64, f64)> =
            parcels.geometries[k].0.iter().flat_map(|p| p.exterior().0.iter().map(|c| (c.x, c.y))).collect();
        let got: Vec<(f64, f64)> = f["geometry"]["coordinates"]
            .as_array()
            .expect("polygons")
            .iter()
            .flat_map(|p| {
                p[0].as_array().expect("ring").iter().map(|c| (c[0].as_f64().expect("x"), c[1].as_f64().expect("y")))
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{id}: every vertex, none simplified");
        for (a, b) in got.iter().zip(&want) {
            assert!((a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9, "{id}: {a:?} vs {b:?}");
        }
        let row = l.row(id).expect("row");
        assert_eq!(f["properties"]["score"].as_f64(), Some(l.profiles[0].scores.score[row]));
        assert_eq!(f["properties"]["id"], id);
    }
    // bad asks: no id, too many, an unknown one (named, cut at 64 characters)
    for (body, status) in [
        (json!({"ids": []}), 400),
        (json!({"ids": vec!["357730"; 1001]}), 400),
        (json!({"ids": ["357730", "no-such-parcel"]}), 404),
        (json!({"ids": ["357730"], "profile": "nope"}), 404),
    ] {
        let r = as_key(s.addr, &s.admin, "POST", "/v1/parcels/geojson", Some(&body.to_string())).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_upload_and_retrain_on_feedback() {
    let s = start_with(
        ServerConfig {
            limits: landopp_server::config::Limits { model_bytes: 400_000, ..Default::default() },
            ..Default::default()
        },
        HashMap::new(),
    )
    .await;
    let analyst = new_key(&s, "analyst").await;
    let text = model_file("uploaded-1", 11);
    // only an admin uploads
    as_key(s.addr, &analyst, "POST", "/v1/models", Some(&text)).await.problem(403, "FORBIDDEN");
    let r = as_key(s.addr, &s.admin, "POST", "/v1/models", Some(&text)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location"), Some("/v1/models/uploaded-1"));
    assert_eq!(r.json()["production"], false);
    assert_eq!(r.json()["loaded"], true);
    // served as uploaded: the predictions are the library's on the same file
    let l = land();
    let p = as_key(
        s.addr,
        &s.admin,
        "POST",
        "/v1/models/predict",
        Some(r#"{"parcel_ids": ["357730"], "model_version": "uploaded-1"}"#),
    )
    .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let m = landopp::ml::lifecycle::Model::from_json(&text, "t", &Default::default()).expect("model");
    let one = l.index.features().select_rows(&[l.row("357730").expect("row")]).expect("row");
    assert_eq!(p.json()[0]["values"][0], json!(m.predict_column(&one, 0).expect("predict")[0]));
    // the same version again, a tampered file, not a model, a model of unserved features, too large
    as_key(s.addr, &s.admin, "POST", "/v1/models", Some(&text)).await.problem(409, "CONFLICT");
    let tampered = text.replacen("\"n_estimators\":5", "\"n_estimators\":6", 1);
    assert_ne!(tampered, text);
    as_key(s.addr, &s.admin, "POST", "/v1/models", Some(&tampered)).await.problem(422, "INTEGRITY");
    as_key(s.addr, &s.admin, "POST", "/v1/models", Some(r#"{"format": "other"}"#)).await.problem(422, "FORMAT");
    // a version name the registry cannot file is refused before anything is stored
    let badly_named = model_file("has spaces/and slash", 4);
    as_key(s.addr, &s.admin, "POST", "/v1/models", Some(&badly_named)).await.problem(422, "INVALID_INPUT");
    let mut t = landopp::FeatureTable::new(l.index.features().ids().to_vec());
    t.add_column("unserved", vec![1.0; t.len()], Default::default()).expect("col");
    t.add_column("y", (0..t.len()).map(|i| (i % 2) as f64).collect(), Default::default()).expect("col");
    let params = landopp::ml::Params::parse(r#"{"model": "random_forest", "task": "regression", "n_estimators": 2}"#)
        .expect("params");
    let opts = landopp::ml::lifecycle::FitOptions { model_version: Some("other-1".into()), ..Default::default() };
    let other =
        landopp::ml::lifecycle::Model::fit_table(&t, &["unserved".to_string()], "y", &params, &opts).expect("fit");
    let dir = tempfile::tempdir().expect("tempdir");
    other.save(dir.path().join("o.json"), &Default::default()).expect("save");
    let other = std::fs::read_to_string(dir.path().join("o.json")).expect("read");
    as_key(s.addr, &s.admin, "POST", "/v1/models", Some(&other)).await.problem(422, "NOT_FOUND");
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(500_000));
    as_key(s.addr, &s.admin, "POST", "/v1/models", Some(&big)).await.problem(413, "PAYLOAD_TOO_LARGE");
    let list = as_key(s.addr, &s.admin, "GET", "/v1/models", None).await.json();
    assert_eq!(list.as_array().map(Vec::len), Some(2), "refused uploads leave no trace: {list}");

    // online learning: outcomes observed after the champion was trained, then a retrain
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let lu = l.index.features().column("landuse_dominant").expect("col");
    let mut ids: Vec<&String> = l.index.features().ids().iter().collect();
    ids.sort();
    let ids: Vec<&String> = ids.into_iter().take(120).collect();
    for id in &ids {
        let label = lu.label(l.row(id).expect("row")).unwrap_or("").to_string();
        let b = json!({"parcel_id": id, "outcome": label}).to_string();
        let r = as_key(s.addr, &s.admin, "POST", "/v1/feedback", Some(&b)).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let body = json!({"policy": {"min_new_records": 50, "salt": "t"}, "candidate_version": "demo-1.1.0"}).to_string();
    as_key(s.addr, &analyst, "POST", "/v1/models/retrain", Some(&body)).await.problem(403, "FORBIDDEN");
    let r = as_key(s.addr, &s.admin, "POST", "/v1/models/retrain", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rep = r.json();
    assert_eq!(rep["champion"], "demo-1.0.0", "{rep}");
    assert_eq!(rep["due"], true, "{rep}");
    assert_eq!(rep["new_records"], json!(ids.len()), "{rep}");
    assert_eq!(rep["candidate"], "demo-1.1.0", "{rep}");
    assert!(rep["holdout_rows"].as_u64().unwrap_or(0) > 0, "{rep}");
    // the served production follows the registry's decision
    let list = as_key(s.addr, &s.admin, "GET", "/v1/models", None).await.json();
    let prod: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|m| m["production"] == true)
        .filter_map(|m| m["card"]["model_version"].as_str())
        .collect();
    let want = if rep["promoted"] == true { "demo-1.1.0" } else { "demo-1.0.0" };
    assert_eq!(prod, vec![want], "{rep}");
    let p = as_key(s.addr, &s.admin, "POST", "/v1/models/predict", Some(r#"{"parcel_ids": ["357730"]}"#)).await;
    assert_eq!(p.json()[0]["model_version"], want);
    // the same candidate version again is refused
    as_key(s.addr, &s.admin, "POST", "/v1/models/retrain", Some(&body)).await.problem(400, "INVALID_INPUT");
    let audit = as_key(s.addr, &s.admin, "GET", "/v1/audit?limit=100", None).await.json();
    let actions: Vec<&str> = audit.as_array().expect("audit").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"model.upload") && actions.contains(&"model.retrain"), "{actions:?}");
}

/// Features from a satellite scene carry its provenance to the parcel route (what the
/// dashboard's feature table shows): the real Sentinel-2 L2A scene of `../shared/data` with its
/// STAC item, parcels laid over it, NDVI with clouds masked by the SCL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scene_features_name_their_scene_date_and_cloud_cover() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !shared.join("README.md").exists() {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI=true but ../shared/data is missing");
        eprintln!("SKIPPED: ../shared/data not found");
        return;
    }
    let scene = shared.join("sentinel2_l2a_29RKH_2020-02-19");
    let dir = tempfile::tempdir().expect("tmp");
    // 25 parcels of 2 × 2 km on the scene (EPSG:32629)
    let feats: Vec<Value> = (0..25)
        .map(|k| {
            let (x, y) = (220_000.0 + f64::from(k % 5) * 10_000.0, 2_720_000.0 + f64::from(k / 5) * 10_000.0);
            json!({"type": "Feature", "properties": {"pid": format!("p{k}")},
                   "geometry": {"type": "Polygon", "coordinates": [[[x, y], [x + 2000.0, y], [x + 2000.0, y + 2000.0], [x, y + 2000.0], [x, y]]]}})
        })
        .collect();
    let parcels = json!({"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32629"}}, "features": feats});
    std::fs::write(dir.path().join("parcels.geojson"), parcels.to_string()).expect("write");
    let spec = json!({"version": 1, "parcels": {"path": dir.path().join("parcels.geojson"), "id_field": "pid"},
        "features": [{"type": "spectral", "bands": {"R": scene.join("B04.tif"), "N": scene.join("B08.tif")},
                      "indices": ["NDVI"], "stac": scene.join("S2A_29RKH_20200219_0_L2A.stac.json"),
                      "scl": scene.join("SCL.tif"), "stats": ["mean"]}]});
    std::fs::write(dir.path().join("spec.json"), spec.to_string()).expect("write");
    let profile = json!({"version": 1, "name": "greenness", "method": {"type": "weighted_sum"},
        "criteria": [{"column": "ndvi_mean", "weight": 1, "transform": {"type": "linear_benefit", "min": 0, "max": 0.3}}]});
    std::fs::write(dir.path().join("profile.json"), profile.to_string()).expect("write");
    let data = landopp_server::config::DataConfig {
        spec: Some(dir.path().join("spec.json")),
        profiles: vec![dir.path().join("profile.json")],
        ..Default::default()
    };
    let land =
        Arc::new(tokio::task::spawn_blocking(move || Land::from_config(&data)).await.expect("join").expect("land"));
    // no demo model: it needs the demo area's columns
    let models =
        ModelsConfig { registry: dir.path().join("models"), ab_split: None, demo: false, drift_reference: None };
    let s = start_on(ServerConfig { models: Some(models), ..Default::default() }, HashMap::new(), land).await;
    let r = as_key(s.addr, &s.admin, "GET", "/v1/parcels/p12", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let f = r.json()["features"]
        .as_array()
        .expect("features")
        .iter()
        .find(|f| f["name"] == "ndvi_mean")
        .cloned()
        .expect("ndvi");
    let source = f["source"].as_str().expect("source");
    // the STAC item's id, datetime and eo:cloud_cover (4.05 %)
    assert!(source.contains("S2A_29RKH_20200219_0_L2A"), "{source}");
    assert!(source.contains("2020-02-19"), "{source}");
    assert!(source.contains("cloud cover 4.05%"), "{source}");
    assert!(f["method"].as_str().expect("method").contains("clouds masked"), "{f}");
    assert!(f["value"].as_f64().is_some_and(f64::is_finite), "{f}");
}
