//! County parcel services (feature `remote`): an ArcGIS REST feature layer and an OGC API –
//! Features collection served on loopback from the real Slovenian land-use parcels
//! (`fixtures/formats/slovenia_lulc.geojson`), paged the ways the services page; the fetched
//! layer equals the file read locally.
#![cfg(feature = "remote")]

use crate::common::fixture;
use landopp::sources::features::{arcgis, ogc_features, ArcGisQuery, OgcQuery};
use landopp::vector::{read_layer, ColumnData, ReadOptions};
use serde_json::{json, Value};
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

type Handler = dyn Fn(&str, usize) -> (u16, &'static str, String, String) + Send + Sync;

/// A server calling `handle(target, request number)` → `(status, content type, extra headers,
/// body)`; one request per connection. Returns the base URL and the targets asked for.
fn serve(handle: Arc<Handler>) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", l.local_addr().expect("addr"));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let n = Arc::new(AtomicUsize::new(0));
    let a = asked.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let (handle, a, n) = (handle.clone(), a.clone(), n.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut r = BufReader::new(s.try_clone()?);
                let mut w = s;
                let (_, target, _) = crate::common::read_request(&mut r)?;
                a.lock().expect("lock").push(target.clone());
                let (status, ctype, extra, body) = handle(&target, n.fetch_add(1, Ordering::SeqCst));
                write!(
                    w,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
                    body.len()
                )
            });
        }
    });
    (base, asked)
}

fn param(target: &str, key: &str) -> Option<String> {
    let q = target.split_once('?')?.1;
    q.split('&').find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(|v| v.replace("%2C", ",").replace("%3D", "=")))
}

/// The fixture's features, each with an `EDITED` date (epoch ms, as ArcGIS's GeoJSON gives
/// dates; every fifth null) and its crs member.
fn features() -> (Vec<Value>, Value) {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("formats/slovenia_lulc.geojson")).expect("read"))
            .expect("json");
    let mut f = v["features"].as_array().expect("features").clone();
    for (i, x) in f.iter_mut().enumerate() {
        x["properties"]["EDITED"] =
            if i % 5 == 0 { Value::Null } else { json!(1_600_000_000_000i64 + i as i64 * 86_400_000) };
    }
    (f, v["crs"].clone())
}

#[test]
fn an_arcgis_layer_pages_to_the_end_with_typed_fields() {
    let (feats, crs) = features();
    let n = feats.len();
    let handler: Arc<Handler> = Arc::new(move |target: &str, k: usize| {
        let path = target.split('?').next().unwrap_or("");
        if path.ends_with("/FeatureServer/0") {
            let info = json!({"name": "lulc", "objectIdField": "OBJECTID", "maxRecordCount": 25, "fields": [
                {"name": "index", "type": "esriFieldTypeString"}, {"name": "RABA_ID", "type": "esriFieldTypeInteger"},
                {"name": "AREA", "type": "esriFieldTypeDouble"}, {"name": "EDITED", "type": "esriFieldTypeDate"}]});
            return (200, "application/json", String::new(), info.to_string());
        }
        // the second page's first try: too many requests
        if k == 2 {
            return (429, "application/json", "Retry-After: 1\r\n".into(), "{}".into());
        }
        let off: usize = param(target, "resultOffset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let count: usize = param(target, "resultRecordCount").and_then(|v| v.parse().ok()).unwrap_or(25);
        let page: Vec<Value> = feats.iter().skip(off).take(count).cloned().collect();
        let more = off + count < n;
        // newer servers say it at the top, older ones under properties
        let mut fc = json!({"type": "FeatureCollection", "crs": crs, "features": page});
        if off.is_multiple_of(50) {
            fc["exceededTransferLimit"] = json!(more);
        } else {
            fc["properties"] = json!({"exceededTransferLimit": more});
        }
        (200, "application/geo+json", String::new(), fc.to_string())
    });
    let (base, asked) = serve(handler);
    let url = format!("{base}/arcgis/rest/services/Lulc/FeatureServer/0");
    let layer = arcgis(&ArcGisQuery::new(url.clone())).expect("arcgis");
    let local = read_layer(fixture("formats/slovenia_lulc.geojson"), &ReadOptions::default()).expect("local");
    assert_eq!(layer.len(), local.len());
    assert_eq!(layer.geometries, local.geometries);
    assert_eq!(layer.crs, local.crs);
    for c in &local.columns {
        let got = layer.columns.iter().find(|x| x.name == c.name).expect("column");
        assert_eq!(got.data, c.data, "{}", c.name);
    }
    let edited = layer.columns.iter().find(|c| c.name == "EDITED").expect("EDITED");
    let ColumnData::DateTime(t) = &edited.data else { panic!("EDITED is {:?}", edited.data.type_name()) };
    assert_eq!(t[0], None);
    assert_eq!(t[1].map(|t| (t.ms, t.offset_min)), Some((1_600_086_400_000, Some(0))));
    let asked = asked.lock().expect("lock").clone();
    // the description, then 4 pages of 25 (one asked twice after the 429)
    assert_eq!(asked.len(), 1 + 4 + 1, "{asked:#?}");
    assert!(
        asked[1].contains("where=1%3D1")
            && asked[1].contains("orderByFields=OBJECTID")
            && asked[1].contains("f=geojson")
    );
    assert_eq!(param(&asked[5], "resultOffset").as_deref(), Some("75"));

    // a bbox becomes an envelope in WGS 84; a service error is REMOTE with its code
    let handler: Arc<Handler> = Arc::new(|target: &str, _| {
        if target.contains("/query") {
            (
                200,
                "application/json",
                String::new(),
                json!({"error": {"code": 400, "message": "secret detail"}}).to_string(),
            )
        } else {
            (200, "application/json", String::new(), json!({"fields": []}).to_string())
        }
    });
    let (base, asked) = serve(handler);
    let q = ArcGisQuery {
        bbox: Some([14.5, 45.8, 14.6, 45.9]),
        ..ArcGisQuery::new(format!("{base}/x/MapServer/3?token=hush"))
    };
    let e = arcgis(&q).unwrap_err();
    assert_eq!(e.code(), "REMOTE");
    let m = e.to_string();
    assert!(m.contains("(HTTP 400)") && !m.contains("secret") && !m.contains("hush"), "{m}");
    let asked = asked.lock().expect("lock").clone();
    assert!(
        asked[1].contains("geometry=14.5%2C45.8%2C14.6%2C45.9")
            && asked[1].contains("geometryType=esriGeometryEnvelope"),
        "{asked:?}"
    );
    assert_eq!(
        ArcGisQuery { where_clause: " ".into(), ..ArcGisQuery::new("http://h/x") }.validate().unwrap_err().code(),
        "INVALID_INPUT"
    );
}

#[test]
fn an_ogc_api_collection_follows_relative_next_links() {
    let (feats, crs) = features();
    let n = feats.len();
    let handler: Arc<Handler> = Arc::new(move |target: &str, _| {
        let limit: usize = param(target, "limit").and_then(|v| v.parse().ok()).unwrap_or(10);
        let off: usize = param(target, "offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let page: Vec<Value> = feats.iter().skip(off).take(limit).cloned().collect();
        let mut links = vec![json!({"rel": "self", "href": target})];
        if off + limit < n {
            links.push(json!({"rel": "next", "type": "application/geo+json", "href": format!("items?limit={limit}&offset={}", off + limit)}));
        }
        let fc = json!({"type": "FeatureCollection", "crs": crs, "features": page, "links": links, "numberMatched": n});
        (200, "application/geo+json", String::new(), fc.to_string())
    });
    let (base, asked) = serve(handler);
    let q = OgcQuery { collection: Some("lulc".into()), limit: 30, ..OgcQuery::new(format!("{base}/ogc")) };
    let layer = ogc_features(&q).expect("ogc");
    let local = read_layer(fixture("formats/slovenia_lulc.geojson"), &ReadOptions::default()).expect("local");
    assert_eq!((layer.len(), layer.name.as_str()), (local.len(), "lulc"));
    assert_eq!(layer.geometries, local.geometries);
    let asked = asked.lock().expect("lock").clone();
    assert_eq!(
        asked,
        vec![
            "/ogc/collections/lulc/items?limit=30",
            "/ogc/collections/lulc/items?limit=30&offset=30",
            "/ogc/collections/lulc/items?limit=30&offset=60"
        ]
    );
    // max_features is a limit, never a cut: an error
    let q = OgcQuery { max_features: 50, ..q };
    let e = ogc_features(&q).unwrap_err();
    assert_eq!(e.code(), "REMOTE");
    assert!(e.to_string().contains("max_features"), "{e}");
}

/// Resumable paging: a fetch that fails on its third page leaves a resume file with the two
/// pages it read; the same query run again with it asks from the third page on, returns the
/// whole layer (equal to a fetch in one go) and removes the file; the file of another query is
/// refused. Progress is told after every page.
#[test]
fn a_failed_fetch_resumes_after_its_last_page() {
    use landopp::sources::features::{arcgis_with, ogc_features_with};
    use std::sync::atomic::AtomicBool;
    let (feats, crs) = features();
    let n = feats.len();
    let down = Arc::new(AtomicBool::new(true));
    let d = down.clone();
    let handler: Arc<Handler> = Arc::new(move |target: &str, _| {
        let path = target.split('?').next().unwrap_or("");
        if path.ends_with("/FeatureServer/0") {
            let info = json!({"name": "lulc", "objectIdField": "OBJECTID", "maxRecordCount": 20, "fields": []});
            return (200, "application/json", String::new(), info.to_string());
        }
        let off: usize =
            param(target, "resultOffset").or(param(target, "offset")).and_then(|v| v.parse().ok()).unwrap_or(0);
        if off >= 40 && d.load(Ordering::SeqCst) {
            return (404, "application/json", String::new(), "{}".into());
        }
        let page: Vec<Value> = feats.iter().skip(off).take(20).cloned().collect();
        let mut fc = json!({"type": "FeatureCollection", "crs": crs, "features": page,
                            "exceededTransferLimit": off + 20 < n, "numberMatched": n});
        if off + 20 < n {
            fc["links"] = json!([{"rel": "next", "href": format!("items?limit=20&offset={}", off + 20)}]);
        }
        (200, "application/geo+json", String::new(), fc.to_string())
    });
    let (base, asked) = serve(handler);
    let dir = tempfile::tempdir().expect("tmp");
    let journal = dir.path().join("lulc.resume");
    let q = ArcGisQuery { resume_file: Some(journal.clone()), ..ArcGisQuery::new(format!("{base}/a/FeatureServer/0")) };
    let told = Mutex::new(Vec::new());
    let e = arcgis_with(&q, &|p| told.lock().expect("lock").push(p.features)).expect_err("page 3 fails");
    assert_eq!(e.code(), "REMOTE");
    assert_eq!(*told.lock().expect("lock"), vec![20, 40]);
    let kept = std::fs::read_to_string(&journal).expect("resume file");
    assert_eq!(kept.lines().count(), 3, "the query and two pages");
    // a page cut short by a crash while it was written: dropped, the rest read back
    std::fs::write(&journal, format!("{kept}{{\"next\": 60, \"features\": [{{\"type\"")).expect("write");
    down.store(false, Ordering::SeqCst);
    asked.lock().expect("lock").clear();
    let layer = arcgis_with(&q, &|p| told.lock().expect("lock").push(p.features)).expect("resumed");
    assert!(!journal.exists(), "the resume file goes when the fetch completes");
    let whole = arcgis(&ArcGisQuery::new(format!("{base}/a/FeatureServer/0"))).expect("in one go");
    assert_eq!(layer.geometries, whole.geometries);
    assert_eq!(layer.len(), n);
    let asked = asked.lock().expect("lock").clone();
    let offsets: Vec<String> = asked.iter().filter_map(|t| param(t, "resultOffset")).collect();
    assert_eq!(&offsets[..3], ["40", "60", "80"], "{asked:?}");
    assert_eq!(told.lock().expect("lock")[2..], [60, 80, n]);

    // OGC API: the same, resumed from the stored next link
    down.store(true, Ordering::SeqCst);
    let og = dir.path().join("ogc.resume");
    let q = OgcQuery {
        limit: 20,
        resume_file: Some(og.clone()),
        ..OgcQuery::new(format!("{base}/ogc/collections/c/items"))
    };
    assert_eq!(ogc_features_with(&q, &|_| {}).expect_err("fails").code(), "REMOTE");
    down.store(false, Ordering::SeqCst);
    let last = Mutex::new(None);
    let layer = ogc_features_with(&q, &|p| *last.lock().expect("lock") = Some(p)).expect("resumed");
    assert_eq!(layer.len(), n);
    let p = last.lock().expect("lock").expect("told");
    assert_eq!((p.pages, p.features, p.matched), (5, n, Some(n as u64)));
    assert!(!og.exists());
    // an empty file (mktemp) starts a new journal
    std::fs::write(&og, "").expect("write");
    assert_eq!(ogc_features(&q).expect("from an empty file").len(), n);
    assert!(!og.exists());
    // another query's file is refused, and left as it is
    std::fs::write(&og, kept).expect("write");
    let e = ogc_features(&q).expect_err("another query");
    assert_eq!(e.code(), "INVALID_INPUT");
    assert!(e.to_string().contains("another query"), "{e}");
    assert!(og.exists());
}
