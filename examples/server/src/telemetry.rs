//! Logs and traces. JSON logs on stderr always (filtered by `LANDOPP_LOG`, default `info`); with
//! the `otlp` cargo feature and an OTLP endpoint in the environment (`OTEL_EXPORTER_OTLP_ENDPOINT`
//! or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, the OpenTelemetry SDK's own variables, as are
//! `OTEL_EXPORTER_OTLP_PROTOCOL` = `http/protobuf` | `http/json`, `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_SERVICE_NAME`), every request is also exported as a server span — a child of the caller's
//! W3C `traceparent` — with a child span per core call and per store call, batched in the
//! background and flushed at shutdown.
//!
//! Request spans are made whatever the log filter says (a `LANDOPP_LOG=warn` server still
//! exports its traces); the log filter applies to the log lines only.

use axum::http::HeaderMap;
use tracing::Span;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The installed telemetry; [`Telemetry::shutdown`] flushes the spans not yet exported.
#[derive(Debug, Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

/// True when the environment names an OTLP endpoint.
fn otlp_wanted(env: &dyn Fn(&str) -> Option<String>) -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|k| env(k).is_some_and(|v| !v.trim().is_empty()))
}

/// Install the global subscriber: JSON logs, and the OTLP exporter when built in and configured.
pub fn init(env: &dyn Fn(&str) -> Option<String>) -> Result<Telemetry, String> {
    let filter = tracing_subscriber::EnvFilter::try_new(env("LANDOPP_LOG").unwrap_or_else(|| "info".into()))
        .map_err(|e| format!("LANDOPP_LOG: {e}"))?;
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .with_filter(filter);
    let registry = tracing_subscriber::registry().with(logs);
    #[cfg(feature = "otlp")]
    if otlp_wanted(env) {
        let (layer, provider) = otlp::layer(env)?;
        registry.with(layer).try_init().map_err(|e| e.to_string())?;
        tracing::info!("exporting traces over OTLP");
        return Ok(Telemetry { provider: Some(provider) });
    }
    registry.try_init().map_err(|e| e.to_string())?;
    if otlp_wanted(env) {
        tracing::warn!("an OTLP endpoint is set but this build has no `otlp` feature: no traces are exported");
    }
    Ok(Telemetry::default())
}

impl Telemetry {
    /// Export the spans still buffered (waits for the collector, bounded by the exporter's timeout).
    pub fn shutdown(self) {
        #[cfg(feature = "otlp")]
        if let Some(p) = self.provider {
            if let Err(e) = p.shutdown() {
                tracing::warn!(error = %e, "flushing traces at shutdown failed");
            }
        }
    }
}

/// The span of one request (named and finished by the caller).
pub fn request_span(method: &str, request_id: &str) -> Span {
    tracing::info_span!(
        target: "landopp_server::request",
        "request",
        otel.name = tracing::field::Empty,
        otel.kind = "server",
        http.request.method = method,
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
        request_id = request_id,
    )
}

/// Name a request span once its route is known (`GET /v1/parcels/search`) and record the outcome.
pub fn finish(span: &Span, method: &str, route: &str, status: u16) {
    let name = format!("{method} {route}");
    span.record("http.route", route);
    span.record("http.response.status_code", i64::from(status));
    #[cfg(feature = "otlp")]
    if !span.is_disabled() {
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        // started already (its ids went back in the response): rename the live span
        span.context().span().update_name(name.clone());
    }
    span.record("otel.name", name.as_str());
}

/// A child span of the current request for a core or store call.
/// Outside a request (background writers, start-up) there is no span: no root spans of their own.
pub fn work_span(kind: &'static str) -> Span {
    if Span::current().is_none() {
        return Span::none();
    }
    tracing::info_span!(target: "landopp_server::request", "work", otel.name = kind)
}

/// Trace and span ids of `span` as W3C hex, when it is exported (its parent set from the
/// request's `traceparent`); `None` when no exporter is installed.
pub fn link(span: &Span, headers: &HeaderMap) -> Option<(String, String)> {
    #[cfg(feature = "otlp")]
    return otlp::link(span, headers);
    #[cfg(not(feature = "otlp"))]
    {
        let _ = (span, headers);
        None
    }
}

#[cfg(feature = "otlp")]
mod otlp {
    use super::*;
    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    /// Request spans only (target `landopp_server::request`), whatever `LANDOPP_LOG` says.
    pub(super) fn layer<S>(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(impl Layer<S> + Send + Sync + 'static, SdkTracerProvider), String>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("OTLP exporter: {e}"))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if env("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("landopp-server");
        }
        let provider =
            SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
        let tracer = provider.tracer("landopp-server");
        let only_requests =
            tracing_subscriber::filter::Targets::new().with_target("landopp_server::request", tracing::Level::INFO);
        Ok((tracing_opentelemetry::layer().with_tracer(tracer).with_filter(only_requests), provider))
    }

    struct Headers<'a>(&'a HeaderMap);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }

    pub(super) fn link(span: &Span, headers: &HeaderMap) -> Option<(String, String)> {
        if span.is_disabled() {
            return None;
        }
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
        let cx = span.context();
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| (sc.trace_id().to_string(), sc.span_id().to_string()))
    }
}
