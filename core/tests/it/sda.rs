//! USDA Soil Data Access (feature `remote`) against a loopback server answering SDA's SQL the
//! way the service does (`JSON+COLUMNNAME`): map units from the real Bangor SSURGO layer
//! (`../shared/data/bangor_me/soils_ssurgo_mapunits.gpkg`) selected by the parcels' WKT, and
//! component / mapunit / muaggatt rows made up per map-unit key. The soils computed from the
//! service equal the `soils` step run on the same layer and tables read from files.
#![cfg(feature = "remote")]

use crate::common::shared;
use geo::Intersects;
use geo_types::{Geometry, MultiPolygon};
use landopp::pipeline::{run_steps, FeatureSpec};
use landopp::sources::sda::{soil_data_access, SdaQuery};
use landopp::vector::{read_layer, wkt, Parcels, ReadOptions};
use serde_json::{json, Value};
use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

const DRAINAGE: [&str; 4] = ["Well drained", "Moderately well drained", "Poorly drained", "Somewhat poorly drained"];
const HYDGRP: [&str; 4] = ["A", "B", "C", "C/D"];
const FARMLAND: [&str; 3] = ["All areas are prime farmland", "Not prime farmland", "Farmland of statewide importance"];
const FLOODING: [&str; 3] = ["None", "Rare", "Occasional"];

/// Made-up component rows of a map unit: `(cokey, comppct_r, majcompflag, drainagecl, hydgrp)`.
fn components(mukey: u64) -> Vec<[String; 5]> {
    let (a, b) = ((mukey % 7) as usize, (mukey % 5) as usize);
    let major = 60 + a as u64 * 5;
    vec![
        [format!("{}1", mukey), major.to_string(), "Yes".into(), DRAINAGE[a % 4].into(), HYDGRP[b % 4].into()],
        [
            format!("{}2", mukey),
            (100 - major).to_string(),
            "No".into(),
            DRAINAGE[(a + 1) % 4].into(),
            HYDGRP[(b + 2) % 4].into(),
        ],
    ]
}

/// `slopegradwta` (null for every 11th key) and `flodfreqdcd` of a map unit.
fn aggregates(mukey: u64) -> (Option<String>, String) {
    let slope = (!mukey.is_multiple_of(11)).then(|| format!("{:.1}", (mukey % 17) as f64 * 0.5));
    (slope, FLOODING[(mukey % 3) as usize].into())
}

/// (mukey, mupolygonkey, polygon in WGS 84)
type Unit = (String, String, MultiPolygon<f64>);

struct Sda {
    units: Vec<Unit>,
    /// Spatial requests with more polygons than this are refused with 500 (SDA's size limit).
    max_polygons: usize,
    /// Every query, in order.
    asked: Mutex<Vec<String>>,
}

fn keys_in(sql: &str) -> Vec<u64> {
    let s = &sql[sql.find("IN (").expect("IN list") + 4..];
    s[..s.find(')').expect(")")].split(',').map(|k| k.trim().trim_matches('\'').parse().expect("key")).collect()
}

impl Sda {
    fn answer(&self, sql: &str) -> (u16, Value) {
        self.asked.lock().expect("lock").push(sql.to_string());
        if sql.contains("FROM mupolygon") {
            let start = sql.find("STGeomFromText('").expect("wkt") + 16;
            let w = &sql[start..start + sql[start..].find('\'').expect("end")];
            let aoi = wkt::parse_polygonal(w).expect("the client's WKT reads");
            if aoi.0.len() > self.max_polygons {
                return (500, json!({"error": "secret: the answer is over 32 MB"}));
            }
            let mut rows = vec![json!(["mukey", "mupolygonkey", "wkt"])];
            for (mk, pk, g) in &self.units {
                if g.intersects(&aoi) {
                    let mut s = String::new();
                    wkt::write_multipolygon(g, None, &mut s);
                    rows.push(json!([mk, pk, s]));
                }
            }
            return (200, if rows.len() == 1 { json!({}) } else { json!({ "Table": rows }) });
        }
        let keys = keys_in(sql);
        let mut rows: Vec<Value> = Vec::new();
        if sql.contains("FROM component") {
            rows.push(json!(["mukey", "cokey", "comppct_r", "majcompflag", "drainagecl", "hydgrp"]));
            for k in &keys {
                for c in components(*k) {
                    rows.push(json!([k.to_string(), c[0], c[1], c[2], c[3], c[4]]));
                }
            }
        } else if sql.contains("FROM mapunit") {
            rows.push(json!(["mukey", "farmlndcl"]));
            rows.extend(keys.iter().map(|k| json!([k.to_string(), FARMLAND[(k % 3) as usize]])));
        } else if sql.contains("FROM muaggatt") {
            // the columns asked for: made-up slope and flooding, null for the others
            let cols: Vec<&str> = sql["SELECT ".len()..sql.find(" FROM").expect("FROM")].split(", ").collect();
            rows.push(json!(cols));
            rows.extend(keys.iter().map(|k| {
                let (s, f) = aggregates(*k);
                let row: Vec<Value> = cols
                    .iter()
                    .map(|c| match *c {
                        "mukey" => json!(k.to_string()),
                        "slopegradwta" => json!(s),
                        "flodfreqdcd" => json!(f),
                        _ => Value::Null,
                    })
                    .collect();
                json!(row)
            }));
        } else {
            return (400, json!({"error": "unknown table"}));
        }
        (200, json!({ "Table": rows }))
    }
}

/// Serve `sda` on loopback: POST bodies `{"query", "format": "JSON+COLUMNNAME"}`.
fn serve(sda: Arc<Sda>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/tabular/post.rest", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let sda = sda.clone();
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut r = BufReader::new(s.try_clone()?);
                let mut w = s;
                let (method, _, body) = crate::common::read_request(&mut r)?;
                let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, v) = if method != "POST" || req["format"] != "JSON+COLUMNNAME" {
                    (400, json!({"error": "bad request"}))
                } else {
                    sda.answer(req["query"].as_str().unwrap_or(""))
                };
                let body = v.to_string();
                write!(
                    w,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            });
        }
    });
    url
}

/// The Bangor map units (WGS 84) and the first `n` parcels.
fn bangor(n: usize) -> Option<(Vec<Unit>, Parcels, std::path::PathBuf)> {
    let d = shared()?.join("bangor_me");
    let soils = read_layer(d.join("soils_ssurgo_mapunits.gpkg"), &ReadOptions::default()).expect("soils");
    assert_eq!(soils.crs.as_ref().and_then(|c| c.epsg()), Some(4326));
    let mukey = soils.column("MUKEY").expect("MUKEY");
    let units = soils
        .geometries
        .iter()
        .enumerate()
        .filter_map(|(i, g)| match g {
            Some(Geometry::MultiPolygon(m)) => Some((mukey.data.get(i).to_string(), (1000 + i).to_string(), m.clone())),
            Some(Geometry::Polygon(p)) => {
                Some((mukey.data.get(i).to_string(), (1000 + i).to_string(), MultiPolygon(vec![p.clone()])))
            }
            _ => None,
        })
        .collect();
    let layer = read_layer(d.join("parcels.gpkg"), &ReadOptions::default()).expect("parcels");
    let idx: Vec<usize> = (0..n.min(layer.len())).collect();
    let parcels = Parcels::from_layer(layer.take(&idx), None).expect("parcels");
    Some((units, parcels, d))
}

fn write_csv(path: &Path, head: &str, rows: impl Iterator<Item = String>) {
    let mut s = format!("{head}\n");
    for r in rows {
        s.push_str(&r);
        s.push('\n');
    }
    std::fs::write(path, s).expect("write csv");
}

#[test]
fn soils_from_soil_data_access_equal_the_soils_step_on_files() {
    let Some((units, parcels, dir)) = bangor(400) else { return };
    let sda = Arc::new(Sda { units: units.clone(), max_polygons: usize::MAX, asked: Mutex::new(vec![]) });
    let url = serve(sda.clone());

    // the same tables as CSV files, for the local run
    let tmp = tempfile::tempdir().expect("tmp");
    let mut keys: Vec<u64> = units.iter().map(|u| u.0.parse().expect("key")).collect();
    keys.sort();
    keys.dedup();
    let (comp, mu) = (tmp.path().join("component.csv"), tmp.path().join("mapunit.csv"));
    write_csv(
        &comp,
        "mukey,cokey,comppct_r,majcompflag,drainagecl,hydgrp",
        keys.iter().flat_map(|k| components(*k).into_iter().map(move |c| format!("{k},{}", c.join(",")))),
    );
    write_csv(&mu, "mukey,farmlndcl", keys.iter().map(|k| format!("{k},{}", FARMLAND[(k % 3) as usize])));

    let spec = |step: Value| {
        let s = json!({"version": 1, "parcels": {"path": dir.join("parcels.gpkg")}, "features": [step]});
        FeatureSpec::parse(&s.to_string()).expect("spec")
    };
    let local = run_steps(
        &parcels,
        &spec(json!({"type": "soils", "layer": dir.join("soils_ssurgo_mapunits.gpkg"), "mukey_field": "MUKEY",
                     "component_table": comp, "mapunit_table": mu})),
        &|_| {},
    )
    .expect("local soils");
    let remote = run_steps(
        &parcels,
        &spec(json!({"type": "soil_data_access", "url": url, "muaggatt": ["slopegradwta", "flodfreqdcd"]})),
        &|_| {},
    )
    .expect("remote soils");

    // two spatial requests of 200 parcels, then one component, mapunit and muaggatt query
    let asked = sda.asked.lock().expect("lock").clone();
    assert_eq!(asked.iter().filter(|q| q.contains("FROM mupolygon")).count(), 2);
    assert_eq!(asked.len(), 5, "{asked:?}");

    // every local column: equal where the remote run has it, all zero (a map unit no parcel
    // touches) where it does not
    let mut compared = 0;
    for c in local.columns() {
        match remote.columns().iter().find(|r| r.name == c.name) {
            Some(r) => {
                assert_eq!(c.is_categorical(), r.is_categorical(), "{}", c.name);
                for i in 0..local.len() {
                    if c.is_categorical() {
                        assert_eq!(c.label(i), r.label(i), "{} row {i}", c.name);
                    } else {
                        let (a, b) = (c.values[i], r.values[i]);
                        assert!((a - b).abs() <= 1e-9 || (a.is_nan() && b.is_nan()), "{} row {i}: {a} vs {b}", c.name);
                    }
                }
                compared += 1;
            }
            None => {
                assert!(c.name.starts_with("soil_mukey_"), "{} missing from the remote run", c.name);
                assert!(c.values.iter().all(|v| *v == 0.0), "{} is not all zero", c.name);
            }
        }
    }
    assert!(compared > 10, "only {compared} columns compared");
    let dom = local.columns().iter().find(|c| c.name == "soil_drainage_dominant").expect("dominant");
    assert!((0..local.len()).filter(|&i| dom.label(i).is_some()).count() > 300);

    // the muaggatt columns: the area-weighted mean / the largest area share over the map units
    let slope = remote.columns().iter().find(|c| c.name == "soil_slopegradwta").expect("slope");
    let flood = remote.columns().iter().find(|c| c.name == "soil_flodfreqdcd").expect("flooding");
    assert!(flood.is_categorical() && !slope.is_categorical());
    let shares: Vec<(u64, &landopp::features::FeatureColumn)> = local
        .columns()
        .iter()
        .filter_map(|c| {
            let k = c.name.strip_prefix("soil_mukey_")?.strip_suffix("_share")?;
            Some((k.parse().ok()?, c))
        })
        .collect();
    let mut checked = 0;
    for i in 0..local.len() {
        let (mut sum, mut w) = (0.0, 0.0);
        let mut by_class = [0.0; 3];
        for (k, c) in &shares {
            let s = c.values[i];
            if s > 0.0 {
                if let Some(v) = aggregates(*k).0 {
                    sum += s * v.parse::<f64>().expect("number");
                    w += s;
                }
                by_class[(k % 3) as usize] += s;
            }
        }
        if w > 0.0 {
            assert!((slope.values[i] - sum / w).abs() < 1e-9, "row {i}: {} vs {}", slope.values[i], sum / w);
            checked += 1;
        } else {
            assert!(slope.values[i].is_nan());
        }
        let best = (0..3).filter(|&j| by_class[j] > 0.0).max_by(|&a, &b| by_class[a].total_cmp(&by_class[b]));
        assert_eq!(flood.label(i), best.map(|j| FLOODING[j]), "row {i}");
    }
    assert!(checked > 300, "{checked}");
}

#[test]
fn a_chunk_sda_refuses_is_split_until_it_answers() {
    let Some((units, parcels, _)) = bangor(300) else { return };
    let whole = Arc::new(Sda { units: units.clone(), max_polygons: usize::MAX, asked: Mutex::new(vec![]) });
    let split = Arc::new(Sda { units, max_polygons: 70, asked: Mutex::new(vec![]) });
    let q = |url: String| SdaQuery { url, parcels_per_request: 300, ..SdaQuery::default() };
    let a = soil_data_access(&parcels.geometries, parcels.crs.as_ref(), &q(serve(whole))).expect("whole");
    let b = soil_data_access(&parcels.geometries, parcels.crs.as_ref(), &q(serve(split.clone()))).expect("split");
    // 300 → 150 → 75 → 37 / 38: 1 + 2 + 4 + 8 spatial requests, 8 of them answered
    let spatial = split.asked.lock().expect("lock").iter().filter(|s| s.contains("FROM mupolygon")).count();
    assert_eq!(spatial, 15, "{spatial} spatial requests");
    let mut ka: Vec<String> = (0..a.mapunits.len()).map(|i| a.mapunits.columns[1].data.get(i).to_string()).collect();
    let mut kb: Vec<String> = (0..b.mapunits.len()).map(|i| b.mapunits.columns[1].data.get(i).to_string()).collect();
    ka.sort();
    kb.sort();
    assert_eq!(ka, kb, "the split run finds the same map-unit polygons, each once");
    assert!(!ka.is_empty());
    assert_eq!(a.component, b.component);
    assert_eq!(a.muaggatt.columns[0], "mukey");
    // the six default muaggatt columns (four of them null in every row here)
    let t = b.tables().expect("tables");
    assert_eq!(t.aggregates.len(), 6, "{:?}", t.aggregates.keys().collect::<Vec<_>>());
}

/// A server giving `body` with `status` and `ctype` to every request.
fn fixed(status: u16, ctype: &'static str, body: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/tabular/post.rest?token=hush", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut w = s;
            if crate::common::read_request(&mut r).is_ok() {
                let _ = write!(
                    w,
                    "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        }
    });
    url
}

#[test]
fn bad_answers_are_remote_errors_and_no_rows_is_no_map_unit() {
    let square = wkt::parse_polygonal("POLYGON ((-68.8 44.8, -68.79 44.8, -68.79 44.81, -68.8 44.8))").expect("wkt");
    let one = [square];
    let run = |url: String| soil_data_access(&one, None, &SdaQuery { url, ..SdaQuery::default() });
    // no rows: SDA answers {}
    let empty = run(fixed(200, "application/json", "{}")).expect("empty");
    assert!(empty.mapunits.is_empty() && empty.component.rows.is_empty());
    assert_eq!(empty.requests, 1);
    for (status, ctype, body, says) in [
        (200, "text/html", "<html>secret</html>", "not JSON"),
        (200, "application/json", r#"{"Table": [["mukey", "mupolygonkey", "wkt"], ["1", "2"]]}"#, "row 1"),
        (
            200,
            "application/json",
            r#"{"Table": [["mukey", "mupolygonkey", "wkt"], ["x1", "2", "POLYGON EMPTY"]]}"#,
            "mukey",
        ),
        (
            200,
            "application/json",
            r#"{"Table": [["mukey", "mupolygonkey", "wkt"], ["1", "2", "POINT (secret 1)"]]}"#,
            "polygon",
        ),
        (200, "application/json", r#"{"Table": [["mukey", "wkt"], ["1", "POLYGON EMPTY"]]}"#, "mupolygonkey"),
        (200, "application/json", r#"{"error": "secret"}"#, "no Table"),
        (400, "application/json", r#"{"error": "secret: invalid column"}"#, "400"),
    ] {
        let e = run(fixed(status, ctype, body)).expect_err(body);
        let m = e.to_string();
        assert_eq!(e.code(), "REMOTE", "{m}");
        assert!(m.contains(says), "{m} (expected {says:?})");
        assert!(!m.contains("secret") && !m.contains("hush"), "{m}");
    }
    // a query that is not what it should be is refused before anything is sent
    for bad in [
        SdaQuery { muaggatt: vec!["x; DROP TABLE mapunit".into()], ..SdaQuery::default() },
        SdaQuery { parcels_per_request: 0, ..SdaQuery::default() },
        SdaQuery { url: "file:///etc/passwd".into(), ..SdaQuery::default() },
    ] {
        assert_eq!(soil_data_access(&one, None, &bad).expect_err("invalid").code(), "INVALID_INPUT");
    }
}

#[test]
fn the_step_refuses_parcels_outside_the_survey() {
    let Some((_, parcels, dir)) = bangor(5) else { return };
    let sda = Arc::new(Sda { units: vec![], max_polygons: usize::MAX, asked: Mutex::new(vec![]) });
    let url = serve(sda);
    let s = json!({"version": 1, "parcels": {"path": dir.join("parcels.gpkg")},
                   "features": [{"type": "soil_data_access", "url": url}]});
    let e = run_steps(&parcels, &FeatureSpec::parse(&s.to_string()).expect("spec"), &|_| {}).expect_err("no units");
    assert_eq!(e.code(), "INVALID_INPUT");
    assert!(e.to_string().contains("no SSURGO map unit"), "{e}");
}
