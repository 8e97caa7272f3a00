//! OTLP trace export (`--features otlp`): the real binary, pointed at a collector on loopback
//! (`OTEL_EXPORTER_OTLP_ENDPOINT`, `http/json`), exports each request as a server span that
//! continues the caller's `traceparent`, with child spans for the core call, and flushes them at
//! SIGTERM.
#![cfg(feature = "otlp")]

mod common;
use common::KEY;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A minimal OTLP/HTTP collector: keeps every body POSTed to /v1/traces, answers 200 `{}`.
fn collector() -> (String, Arc<Mutex<Vec<Value>>>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in l.incoming().flatten() {
            let sink = sink.clone();
            std::thread::spawn(move || serve(conn, &sink));
        }
    });
    (addr, got)
}

fn serve(conn: TcpStream, sink: &Mutex<Vec<Value>>) {
    let mut w = conn.try_clone().expect("clone");
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or("").to_string();
        let mut len = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        if path == "/v1/traces" {
            if let Ok(v) = serde_json::from_slice(&body) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(v);
            }
        }
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
    }
}

fn get(addr: &str, path: &str, traceparent: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-API-Key: {KEY}\r\ntraceparent: {traceparent}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    resp
}

fn spans(bodies: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for b in bodies {
        for rs in b["resourceSpans"].as_array().into_iter().flatten() {
            let service = rs["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .map(|a| a["value"]["stringValue"].clone());
            assert_eq!(service, Some(Value::from("landopp-server")), "{rs}");
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                out.extend(ss["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    out
}

#[test]
fn requests_are_exported_as_spans_continuing_the_callers_trace() {
    let (collector, got) = collector();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store.db");
    let endpoint = format!("http://{collector}");
    // the log filter (warn) does not silence the traces
    let (mut child, addr) = common::spawn(
        &["--demo", "--listen", "127.0.0.1:0", "--store", store.to_str().expect("path")],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint), ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")],
    );

    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let resp = get(
        &addr,
        "/v1/parcels/search?bbox=14.54,45.86,14.58,45.89&crs=EPSG:4326&limit=3",
        &format!("00-{trace}-{parent}-01"),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let back =
        resp.lines().find_map(|l| l.strip_prefix("traceparent: ")).expect("a traceparent comes back").to_string();
    let parts: Vec<&str> = back.split('-').collect();
    assert_eq!(parts[1], trace, "{back}");
    let server_span = parts[2].to_string();
    assert_ne!(server_span, parent);

    // SIGTERM: drain, then the buffered spans are flushed to the collector
    let ok = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(ok.success());
    assert!(child.wait().expect("exit").success());

    let bodies = got.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let all = spans(&bodies);
    let req = all
        .iter()
        .find(|s| s["traceId"] == trace && s["name"] == "GET /v1/parcels/search")
        .unwrap_or_else(|| panic!("no request span in {all:?}"));
    assert_eq!(req["spanId"], server_span.as_str(), "the span id sent back is the exported span's");
    assert_eq!(req["parentSpanId"], parent, "the caller's span is the parent");
    assert_eq!(req["kind"], 2, "SPAN_KIND_SERVER");
    let attrs = req["attributes"].as_array().expect("attributes");
    let attr = |k: &str| attrs.iter().find(|a| a["key"] == k).map(|a| a["value"].clone());
    assert_eq!(
        attr("http.route").and_then(|v| v["stringValue"].as_str().map(String::from)).as_deref(),
        Some("/v1/parcels/search")
    );
    let status = attr("http.response.status_code").expect("status");
    assert!(status["intValue"] == 200 || status["intValue"] == "200", "{status}");
    // the core call is a child of the request
    assert!(
        all.iter().any(|s| s["name"] == "core" && s["parentSpanId"] == server_span.as_str() && s["traceId"] == trace),
        "no core span under the request: {all:?}"
    );
}
