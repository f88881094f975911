//! Logs and traces. One request is one trace: the W3C `traceparent` travels in gRPC metadata
//! and in AMQP message headers, and is stored with each outbox row so that the trace survives
//! the broker (and a broker outage).
//!
//! The trap this module avoids: with tracing-opentelemetry, setting a span's parent *after*
//! the span was entered silently starts a new trace. Every span that continues a remote trace
//! is created by [`span_with_remote_parent`], which sets the parent before anyone enters it.

use std::collections::HashMap;
use std::io::IsTerminal;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat};

/// Keeps the trace pipeline alive; [`TelemetryGuard::shutdown`] flushes what is buffered.
#[must_use = "dropping the guard without shutdown loses the last traces"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports every finished span now. Tests call this before asking the receiver.
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "trace flush failed");
        }
    }

    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("trace exporter shutdown failed: {error}");
        }
    }
}

/// Installs the global subscriber (logs, and OTLP traces when an endpoint is configured) and
/// the W3C trace-context propagator. Call once per process, inside the Tokio runtime (the
/// OTLP exporter's gRPC channel needs it).
pub fn init(service_name: &str, config: &Config) -> anyhow::Result<TelemetryGuard> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());

    let filter = TelemetryFilter::new(&config.log_filter)?;
    // Logs go to stderr, so that what a command prints on stdout (the `up` instructions) stays
    // clean; colours only on a terminal.
    let log_layer = match config.log_format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };

    let provider = match &config.otlp_endpoint {
        Some(endpoint) => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()?;
            let resource = opentelemetry_sdk::Resource::builder()
                .with_service_name(service_name.to_string())
                .build();
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(resource)
                    .build(),
            )
        }
        None => None,
    };
    let otel_layer = provider.as_ref().map(|provider| {
        opentelemetry::global::set_tracer_provider(provider.clone());
        tracing_opentelemetry::layer().with_tracer(provider.tracer("tsunagu"))
    });

    tracing_subscriber::registry()
        .with(filter)
        .with(log_layer)
        .with(otel_layer)
        .try_init()?;
    Ok(TelemetryGuard { provider })
}

/// The one filter of the subscriber, global on purpose: spans at INFO and above always pass
/// (traces do not depend on `RUST_LOG`), events pass when `RUST_LOG` admits them.
///
/// Not per-layer filters: tracing-subscriber carries a per-layer filter's decision from
/// `enabled()` to `on_new_span()` in thread-local state, and a bare `enabled()` call in
/// between (sqlx's `tracing::enabled!` after every query) leaves it stale, so the next span
/// vanished from the trace layer whenever `RUST_LOG` named a target more verbose than the
/// rest (tokio-rs/tracing#2519). The trace test runs with such a filter.
struct TelemetryFilter {
    events: Targets,
}

impl TelemetryFilter {
    fn new(spec: &str) -> anyhow::Result<TelemetryFilter> {
        let events = spec.parse::<Targets>().map_err(|error| {
            anyhow::anyhow!("RUST_LOG={spec:?} is not a list of target=level directives: {error}")
        })?;
        Ok(TelemetryFilter { events })
    }

    fn admits(&self, metadata: &Metadata<'_>) -> bool {
        (metadata.is_span() && *metadata.level() <= Level::INFO)
            || self.events.would_enable(metadata.target(), metadata.level())
    }
}

impl<S: Subscriber> Layer<S> for TelemetryFilter {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.admits(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: tracing_subscriber::layer::Context<'_, S>) -> bool {
        self.admits(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let events = <Targets as Layer<S>>::max_level_hint(&self.events);
        Some(events.map_or(LevelFilter::INFO, |events| events.max(LevelFilter::INFO)))
    }
}

/// The trace context of the current span as W3C headers (`traceparent`, `tracestate`).
pub fn current_trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut headers);
    headers
}

/// Makes `span` a child of the remote context in `carrier`. Call it before the span is entered.
pub fn set_remote_parent(span: &tracing::Span, carrier: &dyn Extractor) {
    let parent = TraceContextPropagator::new().extract(carrier);
    // Err only when the span is disabled (filtered out); there is nothing to link then.
    let _ = span.set_parent(parent);
}

/// Writes the current span's context into `carrier` (gRPC metadata, AMQP headers, a map).
pub fn inject_current(carrier: &mut dyn Injector) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, carrier);
}

/// The current trace id as hex, for logs and responses; `None` outside a sampled trace.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    let context = tracing::Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Reads W3C headers from an HTTP/2 header map (incoming gRPC calls).
pub struct HttpHeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HttpHeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|key| key.as_str()).collect()
    }
}

/// Writes W3C headers into outgoing gRPC metadata.
pub struct MetadataInjector<'a>(pub &'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}
