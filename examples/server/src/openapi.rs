//! The OpenAPI 3.1 document, generated from the route table ([`crate::routes::ROUTES`]) and the
//! Rust types of every body (schemars; OpenAPI 3.1's schema dialect is JSON Schema 2020-12, which
//! schemars writes). The core's documents (`Query`, `Page`, `Profile`, `Site`, ...) come from the
//! same derive the Node and Python type generators use, so the API description cannot drift from
//! what the library accepts. The committed `examples/server/openapi.json` is checked against it
//! by a test (`LANDOPP_BLESS=1` rewrites it).

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

/// A schema (or a `$ref` to one in `components/schemas`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema of `T`.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details, with the stable error code of landopp",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string", "description": "INVALID_INPUT, INVALID_GEOMETRY, CRS, NOT_FOUND, BAD_REQUEST, UNAUTHENTICATED, FORBIDDEN, RATE_LIMITED, PAYLOAD_TOO_LARGE, TOO_MANY_VERTICES, CONFLICT, TIMEOUT, STORE_UNAVAILABLE, INTERNAL, ..."},
            "detail": {"type": "string"}
        }
    })
}

fn problem(desc: &str) -> Value {
    json!({"description": desc, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
}

/// The document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for r in crate::routes::ROUTES {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(r.id));
        op.insert("summary".into(), json!(r.summary));
        let tag = if r.path.starts_with("/v1/") { r.path.split('/').nth(2).unwrap_or("v1") } else { "operations" };
        op.insert("tags".into(), json!([tag]));
        let mut params: Vec<Value> = r
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.params.iter().map(|(name, d)| {
            let schema = if *name == "filter" {
                json!({"type": "array", "items": {"type": "string"}})
            } else {
                json!({"type": "string"})
            };
            json!({"name": name, "in": "query", "required": false, "description": d, "schema": schema})
        }));
        if !params.is_empty() {
            op.insert("parameters".into(), Value::Array(params));
        }
        if let Some(b) = r.body {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": b(&mut g)}}}),
            );
        }
        let mut responses = Map::new();
        let (code, s) = r.ok;
        let ok = match (s, r.path) {
            (Some(s), _) => json!({"description": "success", "content": {"application/json": {"schema": s(&mut g)}}}),
            (None, "/metrics") => json!({"description": "Prometheus text format", "content": {"text/plain": {}}}),
            (None, "/openapi.json") => json!({"description": "OpenAPI 3.1", "content": {"application/json": {}}}),
            (None, _) => json!({"description": "done"}),
        };
        responses.insert(code.to_string(), ok);
        if r.body.is_some() || !r.params.is_empty() {
            responses
                .insert("400".into(), problem("the request cannot be read (JSON, parameters, core INVALID_INPUT)"));
        }
        if r.body.is_some() {
            responses.insert("413".into(), problem("body above limits.body_bytes"));
        }
        if r.role.is_some() {
            responses.insert("401".into(), problem("no or invalid credentials"));
            responses.insert("403".into(), problem("the role does not allow it"));
            responses.insert("429".into(), problem("over the rate limit (Retry-After)"));
            op.insert("security".into(), json!([{"apiKey": []}, {"bearer": []}]));
            op.insert("x-min-role".into(), json!(r.role.map(|x| x.as_str())));
        }
        op.insert("responses".into(), Value::Object(responses));
        paths.entry(r.path.to_string()).or_insert_with(|| json!({}))[r.method.to_ascii_lowercase()] = Value::Object(op);
    }
    let mut schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    schemas.insert("Problem".into(), problem_schema());
    let schemas: Map<String, Value> = {
        let mut v: Vec<(String, Value)> = schemas.into_iter().collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().collect()
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "landopp reference server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Ranked, explained land parcels behind an API: search, parcels, rescoring, site assembly, feedback, analytics, keys and users. Errors are application/problem+json with landopp's stable codes.",
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"}
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        }
    })
}
