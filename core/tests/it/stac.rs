//! STAC item search (feature `remote`) against a loopback STAC API built from the real Earth
//! Search item in `fixtures/stac/`, paging and misbehaving the ways real services do; and the
//! best scene per parcel from cloud masks served by the same server.
#![cfg(feature = "remote")]

use crate::common::fixture;
use landopp::raster::{write_geotiff, GeoTiffWriteOptions, GeoTransform, Raster};
use landopp::sources::stac::{best_scenes, search, SceneChoiceOptions, SearchMethod, StacSearch};
use landopp::{BandData, Crs};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Normal,
    /// The first request of every page: 429 with `Retry-After: 1`.
    RateLimited,
    /// The first two requests: 500 and 503.
    Burst,
    /// Every answer's Content-Length is larger than its body.
    Truncated,
    /// Answers are an HTML error page with 200.
    Html,
    /// Never answers.
    Hang,
    /// The next link points at the page itself.
    Loop,
    /// The answer is JSON but not a FeatureCollection.
    NotItems,
    /// The third request: 404 (not retried).
    FailThird,
}

struct Stac {
    base: String,
    requests: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

/// `n` items made from the fixture item: ids, dates and cloud cover varied, `scl` assets pointed
/// (relatively) at `/files/scl_{i % 2}.tif` of the server.
fn items(n: usize, base: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("stac/S2A_29RKH_20200219_0_L2A.stac.json")).expect("item");
    let template: Value = serde_json::from_str(&text).expect("json");
    (0..n)
        .map(|i| {
            let mut it = template.clone();
            let id = format!("S2A_29RKH_2020_{i:04}_L2A");
            it["id"] = json!(id);
            it["properties"]["datetime"] = json!(format!("2020-{:02}-{:02}T11:34:25Z", 1 + (i / 28) % 12, 1 + i % 28));
            it["properties"]["eo:cloud_cover"] = json!((i * 37 % 100) as f64);
            it["links"] = json!([{"rel": "self", "href": format!("{base}/collections/sentinel-2-l2a/items/{id}")}]);
            it["assets"]["scl"]["href"] = json!(format!("../../../files/scl_{}.tif", i % 2));
            it
        })
        .collect()
}

fn serve(n: usize, mode: Mode, files: HashMap<String, Vec<u8>>) -> Stac {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    let all = Arc::new(items(n, &base));
    let requests = Arc::new(AtomicUsize::new(0));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let (rq, bs, files) = (requests.clone(), bodies.clone(), Arc::new(files));
    let b = base.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (all, rq, bs, files, b) = (all.clone(), rq.clone(), bs.clone(), files.clone(), b.clone());
            std::thread::spawn(move || {
                let _ = answer(s, &all, mode, &rq, &bs, &files, &b);
            });
        }
    });
    Stac { base, requests, bodies }
}

/// One request per connection.
fn answer(
    s: TcpStream,
    all: &[Value],
    mode: Mode,
    rq: &AtomicUsize,
    bodies: &Mutex<Vec<Value>>,
    files: &HashMap<String, Vec<u8>>,
    base: &str,
) -> std::io::Result<()> {
    let mut r = BufReader::new(s.try_clone()?);
    let mut w = s;
    let (method, target, body) = crate::common::read_request(&mut r)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    if let Some(f) = path.strip_prefix("/files/").and_then(|n| files.get(n)) {
        write!(w, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", f.len())?;
        return w.write_all(f);
    }
    let k = rq.fetch_add(1, Ordering::SeqCst);
    let send = |w: &mut TcpStream, status: &str, ctype: &str, extra: &str, body: &[u8], claimed: usize| {
        write!(
            w,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {claimed}\r\n{extra}Connection: close\r\n\r\n"
        )?;
        w.write_all(body)
    };
    if path != "/search" {
        return send(&mut w, "404 Not Found", "application/json", "", b"{}", 2);
    }
    // the page's request, from the body (POST) or the query string (GET)
    let req: Value = if method == "POST" {
        serde_json::from_slice(&body).unwrap_or(json!({}))
    } else {
        let mut m = serde_json::Map::new();
        for kv in query.split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = decode(v);
            m.insert(k.to_string(), v.parse::<f64>().map(|n| json!(n)).unwrap_or(json!(v)));
        }
        Value::Object(m)
    };
    bodies.lock().expect("lock").push(req.clone());
    let token = req["token"].as_f64().unwrap_or(0.0) as usize;
    match mode {
        Mode::RateLimited if k.is_multiple_of(2) => {
            return send(&mut w, "429 Too Many Requests", "application/json", "Retry-After: 1\r\n", b"{}", 2)
        }
        Mode::Burst if k < 2 => {
            let st = if k == 0 { "500 Internal Server Error" } else { "503 Service Unavailable" };
            return send(&mut w, st, "text/plain", "", b"secret stack trace", 18);
        }
        Mode::Hang => {
            std::thread::sleep(Duration::from_secs(30));
            return Ok(());
        }
        Mode::Html => return send(&mut w, "200 OK", "text/html", "", b"<html>secret</html>", 19),
        Mode::FailThird if k == 2 => return send(&mut w, "404 Not Found", "application/json", "", b"{}", 2),
        Mode::NotItems => return send(&mut w, "200 OK", "application/json", "", b"{\"type\":\"Feature\"}", 18),
        _ => {}
    }
    // POST searches filter on the query extension (GET ones leave it to the client)
    let lte = req["query"]["eo:cloud_cover"]["lte"].as_f64().unwrap_or(f64::INFINITY);
    let matching: Vec<&Value> =
        all.iter().filter(|i| i["properties"]["eo:cloud_cover"].as_f64().unwrap_or(0.0) <= lte).collect();
    let limit = req["limit"].as_f64().unwrap_or(10.0) as usize;
    let page: Vec<Value> = matching.iter().skip(token).take(limit).map(|v| (*v).clone()).collect();
    let mut links = vec![];
    if token + limit < matching.len() || mode == Mode::Loop {
        let next = if mode == Mode::Loop { token } else { token + limit };
        links.push(if method == "POST" {
            json!({"rel": "next", "href": format!("{base}/search"), "method": "POST", "body": {"token": next}, "merge": true})
        } else {
            let q: Vec<&str> = query.split('&').filter(|kv| !kv.starts_with("token=")).collect();
            json!({"rel": "next", "href": format!("{base}/search?{}&token={next}", q.join("&"))})
        });
    }
    let out = json!({"type": "FeatureCollection", "features": page, "links": links, "numberMatched": matching.len()});
    let bytes = out.to_string().into_bytes();
    let claimed = if mode == Mode::Truncated { bytes.len() + 100 } else { bytes.len() };
    send(&mut w, "200 OK", "application/geo+json", "", &bytes, claimed)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() + 1 {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(base: &str) -> StacSearch {
    StacSearch {
        collections: vec!["sentinel-2-l2a".into()],
        bbox: Some([-11.9, 24.3, -10.9, 25.3]),
        datetime: Some("2020-01-01/2020-12-31".into()),
        ..StacSearch::new(base)
    }
}

#[test]
fn a_search_follows_next_links_by_post_and_by_get() {
    let srv = serve(1000, Mode::Normal, HashMap::new());
    let t = Instant::now();
    let got = search(&query(&srv.base)).expect("search");
    eprintln!("1,000 items over {} pages in {:?}", got.pages, t.elapsed());
    assert_eq!((got.items.len(), got.pages, got.matched), (1000, 10, Some(1000)));
    assert_eq!(srv.requests.load(Ordering::SeqCst), 10);
    let ids: Vec<String> = got.items.iter().map(|i| i.scene_id.clone()).collect();
    assert_eq!(ids, (0..1000).map(|i| format!("S2A_29RKH_2020_{i:04}_L2A")).collect::<Vec<_>>());
    // the record: what the satellite_imagery table holds, and absolute asset hrefs
    let first = &got.items[0];
    assert_eq!(first.platform, "sentinel-2a");
    assert_eq!(first.datetime, "2020-01-01T11:34:25Z");
    assert_eq!(first.cloud_cover, Some(0.0));
    assert_eq!(first.resolution_m, Some(10.0));
    assert_eq!(first.processing_baseline.as_deref(), Some("02.14"));
    assert_eq!(first.collection.as_deref(), Some("sentinel-2-l2a"));
    assert_eq!(first.assets["scl"].href, format!("{}/files/scl_0.tif", srv.base));
    assert_eq!(first.assets["red"].band.as_deref(), Some("red"));
    assert!(first.assets["red"].href.starts_with("https://sentinel-cogs.s3.us-west-2.amazonaws.com/"));
    assert_eq!(first.bbox.map(|b| b[0]), Some(-11.97923472537954));
    // merged POST bodies keep the search and add the token
    let bodies = srv.bodies.lock().expect("lock").clone();
    assert_eq!(bodies[3]["collections"], json!(["sentinel-2-l2a"]));
    assert_eq!(bodies[3]["token"], json!(300));

    // GET, capped at 250 items: the pages asked for and no more
    let srv = serve(1000, Mode::Normal, HashMap::new());
    let q = StacSearch { method: SearchMethod::Get, max_items: 250, ..query(&srv.base) };
    let got = search(&q).expect("search");
    assert_eq!((got.items.len(), got.pages), (250, 3));
    assert_eq!(got.items[249].scene_id, "S2A_29RKH_2020_0249_L2A");

    // a cloud-cover limit: sent (the POST server filters) and checked on every item (the GET
    // server ignores it)
    for method in [SearchMethod::Post, SearchMethod::Get] {
        let srv = serve(300, Mode::Normal, HashMap::new());
        let q = StacSearch { method, max_cloud_cover: Some(20.0), ..query(&srv.base) };
        let got = search(&q).expect("search");
        let want = (0..300).filter(|i| (i * 37 % 100) <= 20).count();
        assert_eq!(got.items.len(), want, "{method:?}");
        assert!(got.items.iter().all(|i| i.cloud_cover.is_some_and(|c| c <= 20.0)));
        assert_eq!(got.filtered_out, if method == SearchMethod::Get { 300 - want } else { 0 });
    }
}

#[test]
fn rate_limits_and_server_error_bursts_are_waited_out() {
    let srv = serve(30, Mode::RateLimited, HashMap::new());
    let t = Instant::now();
    let got = search(&StacSearch { limit: 10, ..query(&srv.base) }).expect("search");
    assert_eq!((got.items.len(), got.pages), (30, 3));
    assert!(t.elapsed() >= Duration::from_secs(3), "Retry-After: 1 honoured on each page: {:?}", t.elapsed());
    assert_eq!(srv.requests.load(Ordering::SeqCst), 6);
    let srv = serve(30, Mode::Burst, HashMap::new());
    let got = search(&query(&srv.base)).expect("search");
    assert_eq!(got.items.len(), 30);
    assert_eq!(srv.requests.load(Ordering::SeqCst), 3);
}

#[test]
fn broken_services_get_remote_errors_naming_the_url_and_status() {
    let expect = |mode: Mode, q: fn(&str) -> StacSearch, says: &str| {
        let srv = serve(30, mode, HashMap::new());
        let t = Instant::now();
        let e = search(&q(&format!("{}/?token=hush", srv.base))).unwrap_err();
        assert_eq!(e.code(), "REMOTE", "{mode:?}: {e}");
        let m = e.to_string();
        assert!(m.contains(says), "{mode:?}: {m}");
        assert!(m.contains(&srv.base) && !m.contains("hush") && !m.contains("secret"), "{mode:?}: {m}");
        t.elapsed()
    };
    expect(Mode::Truncated, query, "");
    expect(Mode::Html, query, "text/html, not JSON");
    expect(Mode::NotItems, query, "not a GeoJSON FeatureCollection");
    expect(Mode::Loop, |b| StacSearch { limit: 10, ..query(b) }, "repeats a page");
    let waited = expect(Mode::Hang, |b| StacSearch { timeout_s: 1.0, ..query(b) }, "");
    assert!(waited < Duration::from_secs(5), "a hanging server is not asked again: {waited:?}");
    // a wrong endpoint: the status
    let srv = serve(1, Mode::Normal, HashMap::new());
    let e = search(&StacSearch::new(format!("{}/nope/search/x", srv.base))).unwrap_err();
    assert_eq!(e.code(), "REMOTE");
    assert!(e.to_string().contains("(HTTP 404)"), "{e}");
    // nobody listening
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", l.local_addr().expect("addr"));
    drop(l);
    assert_eq!(search(&StacSearch::new(dead)).unwrap_err().code(), "REMOTE");
}

#[test]
fn a_host_that_keeps_failing_is_not_asked_again_for_a_while() {
    let srv = serve(1, Mode::Hang, HashMap::new());
    let q = StacSearch { timeout_s: 0.2, ..query(&srv.base) };
    for _ in 0..5 {
        let e = search(&q).unwrap_err();
        assert!(!e.to_string().contains("circuit breaker"), "{e}");
    }
    assert_eq!(srv.requests.load(Ordering::SeqCst), 5, "a timeout is not asked again");
    let t = Instant::now();
    let e = search(&q).unwrap_err();
    assert_eq!(e.code(), "REMOTE");
    assert!(e.to_string().contains("failed 5 times in a row") && e.to_string().contains("circuit breaker"), "{e}");
    assert!(t.elapsed() < Duration::from_millis(100), "refused at once");
    assert_eq!(srv.requests.load(Ordering::SeqCst), 5, "the open circuit sends nothing");
    // another host is not affected
    let ok = serve(3, Mode::Normal, HashMap::new());
    assert_eq!(search(&query(&ok.base)).expect("search").items.len(), 3);
}

/// A 20 × 20 SCL mask of 10 m cells at UTM 29N (x 200,000.., y ..2,800,000), class 5 (clear)
/// but 9 (cloud) in columns `cloudy`.
fn scl(cloudy: std::ops::Range<usize>) -> Vec<u8> {
    let mut a = ndarray::Array2::<u8>::from_elem((20, 20), 5);
    for r in 0..20 {
        for c in cloudy.clone() {
            a[[r, c]] = 9;
        }
    }
    let gt = GeoTransform::north_up(200_000.0, 2_800_000.0, 10.0, 10.0);
    let r =
        Raster::new(vec![BandData::U8(a)], gt, Some(Crs::from_epsg(32629).expect("crs")), Some(0.0)).expect("raster");
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("scl.tif");
    write_geotiff(&p, &r, &GeoTiffWriteOptions::default()).expect("write");
    std::fs::read(p).expect("read")
}

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> landopp::geo_types::MultiPolygon<f64> {
    use landopp::geo_types::{LineString, MultiPolygon, Polygon};
    let ring = LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]);
    MultiPolygon(vec![Polygon::new(ring, vec![])])
}

#[test]
fn the_best_scene_of_each_parcel_is_the_one_that_sees_it_clearest() {
    // scene 0 is cloudy over the west half, scene 1 over the east half
    let files = HashMap::from([("scl_0.tif".to_string(), scl(0..10)), ("scl_1.tif".to_string(), scl(10..20))]);
    let srv = serve(2, Mode::Normal, files);
    let found = search(&query(&srv.base)).expect("search");
    let (x, y) = (200_000.0, 2_800_000.0);
    let parcels = vec![
        square(x + 10.0, y - 100.0, x + 60.0, y - 50.0), // west: clear in scene 1
        square(x + 120.0, y - 100.0, x + 190.0, y - 50.0), // east: clear in scene 0
        square(x + 70.0, y - 40.0, x + 170.0, y - 10.0), // 30 % west, 70 % east
        square(x + 150.0, y - 40.0, x + 250.0, y - 10.0), // half outside the scenes
        square(x + 500.0, y - 40.0, x + 600.0, y - 10.0), // outside both
    ];
    let crs = Crs::from_epsg(32629).expect("crs");
    let c = best_scenes(&found.items, &parcels, Some(&crs), &SceneChoiceOptions::default()).expect("choice");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    let want0 = [0.0, 1.0, 0.7, 0.5, 0.0];
    let want1 = [1.0, 0.0, 0.3, 0.0, 0.0];
    for p in 0..5 {
        assert!(close(c.clear[0][p], want0[p]) && close(c.clear[1][p], want1[p]), "parcel {p}: {:?}", c.clear);
    }
    assert_eq!(c.best, vec![Some(1), Some(0), Some(0), Some(0), None]);
    // the same parcels in WGS 84 give the same choice (reprojected to each mask's CRS)
    let t = landopp::Transformer::new(&crs, &Crs::wgs84()).expect("t");
    let wgs: Vec<_> = parcels.iter().map(|p| t.transform_multipolygon(p).expect("p")).collect();
    let c2 = best_scenes(&found.items, &wgs, Some(&Crs::wgs84()), &SceneChoiceOptions::default()).expect("choice");
    assert_eq!(c2.best, c.best);
    // counting cloud as clear: both scenes see every parcel in them whole; ties go to the later capture
    let all_clear = SceneChoiceOptions { scl_classes: vec![0], ..Default::default() };
    let c3 = best_scenes(&found.items, &parcels, Some(&crs), &all_clear).expect("choice");
    assert_eq!(c3.best[0], Some(1), "same share: the later scene");
    // a scene without a mask asset cannot be judged
    let mut no_mask = found.items.clone();
    no_mask[1].assets.remove("scl");
    let e = best_scenes(&no_mask, &parcels, Some(&crs), &SceneChoiceOptions::default()).unwrap_err();
    assert_eq!(e.code(), "INVALID_INPUT");
    assert!(e.to_string().contains("no scl or qa_pixel asset"), "{e}");
}

/// A search that fails on its third page resumes from it with the resume file (both methods):
/// the same records as a search in one go, the pages already read not asked again.
#[test]
fn a_failed_search_resumes_after_its_last_page() {
    let dir = tempfile::tempdir().expect("tmp");
    for method in [SearchMethod::Post, SearchMethod::Get] {
        let whole = search(&StacSearch {
            method,
            max_cloud_cover: Some(50.0),
            ..query(&serve(500, Mode::Normal, HashMap::new()).base)
        })
        .expect("in one go");
        let srv = serve(500, Mode::FailThird, HashMap::new());
        let file = dir.path().join(format!("{method:?}.resume"));
        let q = StacSearch { method, max_cloud_cover: Some(50.0), resume_file: Some(file.clone()), ..query(&srv.base) };
        let e = search(&q).expect_err("the third page fails");
        assert_eq!(e.code(), "REMOTE");
        assert_eq!(std::fs::read_to_string(&file).expect("kept").lines().count(), 3);
        let before = srv.requests.load(Ordering::SeqCst);
        let got = search(&q).expect("resumed");
        let ids =
            |r: &landopp::sources::stac::StacResults| r.items.iter().map(|i| i.scene_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(&whole), "{method:?}");
        assert_eq!((got.pages, got.matched, got.filtered_out), (whole.pages, whole.matched, whole.filtered_out));
        assert_eq!(srv.requests.load(Ordering::SeqCst) - before, whole.pages - 2, "{method:?}");
        assert!(!file.exists());
    }
}
