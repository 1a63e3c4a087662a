//! OpenTelemetry export of Sever's spans over OTLP/gRPC (`tracing.otlp_endpoint`).
//!
//! The engine describes its work with `tracing` spans: `canonical_request` (request id,
//! caller, trace id, action, backend) and a `vendor_call` child per vendor call (backend,
//! method, host, status, duration). [`SpanExport`] is a `tracing` layer that turns every
//! span of the engine into an OpenTelemetry span when it closes, and [`Telemetry`] ships
//! them to the collector.
//!
//! **Trace ids.** A `canonical_request` span is exported with the trace id in its
//! `trace_id` field: the trace Sever continues on the vendor calls (the caller's
//! `traceparent` trace id when one was sent, else the one Sever started). Its children
//! inherit trace id and parent from it. That is why this is a small layer of its own and
//! not `tracing-opentelemetry`: the latter takes trace ids only from an OpenTelemetry
//! parent context and keeps its span builder private, so a root span cannot be given the
//! trace id the engine already chose and sent to the vendor.
//!
//! **Never in the way of a request.** A closed span is handed to the SDK's batch
//! processor, which queues it in a bounded channel (a full queue drops the span) and
//! exports from its own thread. The gRPC client runs on a one-worker tokio runtime of its
//! own, made before pingora builds its runtimes; each export is bounded by
//! [`EXPORT_TIMEOUT`]. A failing export is logged as a warning at most once per
//! [`WARN_EVERY`], and its spans are dropped. [`Telemetry::shutdown`] flushes what is
//! queued, bounded by [`FLUSH_TIMEOUT`].
//!
//! **What is exported.** The spans' own fields, which are logged too and so never hold a
//! secret, a path or a body (the engine's rule for its spans); `trace_id` becomes the
//! span's trace id rather than an attribute. Events are not exported.

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, IdGenerator, RandomIdGenerator, SpanData, SpanEvents,
    SpanExporter, SpanLinks, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The bound on one export, retries included.
pub(crate) const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// The bound on one gRPC attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The bound on the flush at shutdown.
pub(crate) const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// At most one "export failed" warning per this long.
pub(crate) const WARN_EVERY: Duration = Duration::from_secs(60);

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TelemetryError {
    #[error("tracing.otlp_endpoint: cannot start the exporter's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("tracing.otlp_endpoint: cannot set up the OTLP exporter: {0}")]
    Exporter(#[source] opentelemetry_otlp::ExporterBuildError),
}

/// The running exporter: flush it with [`Telemetry::shutdown`] before the process ends.
/// Cheap to clone (all clones share one exporter).
#[derive(Clone)]
pub(crate) struct Telemetry {
    processor: Arc<BatchSpanProcessor>,
    // Drives the gRPC client; dropped (stopped) with the last clone.
    _runtime: Arc<tokio::runtime::Runtime>,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry").finish_non_exhaustive()
    }
}

impl Telemetry {
    /// Starts exporting to `endpoint` (an `http(s)://host:port` OTLP/gRPC endpoint) and
    /// returns the exporter with the layer that feeds it. Nothing is sent until a span
    /// closes; an unreachable collector is not an error here.
    pub(crate) fn start(endpoint: &str) -> Result<(Telemetry, SpanExport), TelemetryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sever-otlp")
            .enable_all()
            .build()
            .map_err(TelemetryError::Runtime)?;
        // tonic's channel spawns its connection tasks where it is built: on this runtime.
        let mut exporter = {
            let _entered = runtime.enter();
            let mut builder = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(ATTEMPT_TIMEOUT)
                .with_retry_policy(opentelemetry_otlp::RetryPolicy::recommended());
            // tonic trusts no root by default: use the system's (SSL_CERT_FILE and
            // SSL_CERT_DIR are honoured).
            if endpoint
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            {
                builder = builder.with_tls_config(ClientTlsConfig::new().with_native_roots());
            }
            builder.build().map_err(TelemetryError::Exporter)?
        };
        exporter.set_resource(&resource());
        let watched = Watched {
            inner: Arc::new(exporter),
            runtime: runtime.handle().clone(),
            endpoint: endpoint.to_owned(),
            failures: Mutex::new(Failures::default()),
        };
        // Queue size, batch size and delay keep the SDK defaults (2048 spans, 512, 5 s)
        // unless the standard OTEL_BSP_* variables say otherwise.
        let processor = Arc::new(
            BatchSpanProcessor::builder(watched)
                .with_batch_config(BatchConfigBuilder::default().build())
                .build(),
        );
        let layer = SpanExport {
            processor: Arc::clone(&processor),
            scope: InstrumentationScope::builder("sever")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            ids: RandomIdGenerator::default(),
        };
        let telemetry = Telemetry {
            processor,
            _runtime: Arc::new(runtime),
        };
        Ok((telemetry, layer))
    }

    /// Exports what is queued and stops the exporter, waiting at most [`FLUSH_TIMEOUT`].
    /// Later calls do nothing.
    pub(crate) fn shutdown(&self) {
        match self.processor.shutdown_with_timeout(FLUSH_TIMEOUT) {
            Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
            Err(e) => tracing::warn!("OpenTelemetry: spans not flushed at shutdown: {e}"),
        }
    }
}

/// `service.name` = `sever`, `service.version`, the SDK's own attributes, and whatever
/// `OTEL_RESOURCE_ATTRIBUTES` adds.
fn resource() -> Resource {
    Resource::builder()
        .with_service_name("sever")
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Export failures seen, for the rate-limited warning.
#[derive(Debug, Default)]
struct Failures {
    last_warning: Option<Instant>,
    failing: bool,
}

/// The OTLP exporter, run on its own runtime, bounded, and watched for failures.
struct Watched {
    inner: Arc<opentelemetry_otlp::SpanExporter>,
    runtime: tokio::runtime::Handle,
    endpoint: String,
    failures: Mutex<Failures>,
}

impl fmt::Debug for Watched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watched")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Watched {
    fn note(&self, result: &OTelSdkResult) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        match result {
            Ok(()) if failures.failing => {
                failures.failing = false;
                tracing::info!(endpoint = %self.endpoint, "OpenTelemetry export works again");
            }
            Ok(()) => {}
            Err(e) => {
                failures.failing = true;
                let due = failures
                    .last_warning
                    .is_none_or(|at| at.elapsed() >= WARN_EVERY);
                if due {
                    failures.last_warning = Some(Instant::now());
                    tracing::warn!(
                        endpoint = %self.endpoint,
                        "OpenTelemetry export failed, spans dropped: {e} (next warning in {} s at \
                         the earliest)",
                        WARN_EVERY.as_secs()
                    );
                }
            }
        }
    }
}

impl SpanExporter for Watched {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // The batch processor calls this from its own thread, outside any runtime: run
        // the gRPC call where its channel lives.
        let inner = Arc::clone(&self.inner);
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(EXPORT_TIMEOUT, inner.export(batch)).await });
        let result = match task.await {
            Ok(Ok(result)) => result,
            Ok(Err(_elapsed)) => Err(OTelSdkError::Timeout(EXPORT_TIMEOUT)),
            Err(e) => Err(OTelSdkError::InternalFailure(e.to_string())),
        };
        self.note(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
}

/// A `tracing` layer that exports the engine's spans (see the module doc). Add it with
/// [`SpanExport::wants`] as its filter, so that `RUST_LOG` governs the log alone.
pub(crate) struct SpanExport {
    processor: Arc<BatchSpanProcessor>,
    scope: InstrumentationScope,
    ids: RandomIdGenerator,
}

impl fmt::Debug for SpanExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanExport").finish_non_exhaustive()
    }
}

impl SpanExport {
    /// The spans exported: the engine's, at info level or above. Events never.
    pub(crate) fn wants(meta: &Metadata<'_>) -> bool {
        meta.is_span() && meta.target().starts_with("sever_engine") && *meta.level() <= Level::INFO
    }
}

/// A span being recorded, kept in the `tracing` span's extensions until it closes.
#[derive(Debug)]
struct Open {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: SpanId,
    start: SystemTime,
    attributes: Vec<KeyValue>,
}

impl<S> Layer<S> for SpanExport
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        // The nearest exported ancestor (spans this layer does not see are skipped).
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<Open>()
                .map(|o| (o.trace_id, o.span_id))
        });
        let (trace_id, parent_span_id) = match parent {
            Some((trace_id, span_id)) => (trace_id, span_id),
            None => (
                fields.trace_id.unwrap_or_else(|| self.ids.new_trace_id()),
                SpanId::INVALID,
            ),
        };
        span.extensions_mut().insert(Open {
            trace_id,
            span_id: self.ids.new_span_id(),
            parent_span_id,
            start: SystemTime::now(),
            attributes: fields.attributes,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        values.record(&mut fields);
        let mut extensions = span.extensions_mut();
        let Some(open) = extensions.get_mut::<Open>() else {
            return;
        };
        for kv in fields.attributes {
            match open.attributes.iter_mut().find(|old| old.key == kv.key) {
                Some(old) => *old = kv,
                None => open.attributes.push(kv),
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else {
            return;
        };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let name = span.metadata().name();
        let (span_kind, status) = match name {
            "canonical_request" => (SpanKind::Server, Status::Unset),
            "vendor_call" => (SpanKind::Client, vendor_call_status(&open.attributes)),
            _ => (SpanKind::Internal, Status::Unset),
        };
        self.processor.on_end(SpanData {
            span_context: SpanContext::new(
                open.trace_id,
                open.span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: open.parent_span_id,
            parent_span_is_remote: false,
            span_kind,
            name: Cow::Borrowed(name),
            start_time: open.start,
            end_time: SystemTime::now(),
            attributes: open.attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        });
    }
}

/// A vendor call is an error when it got no answer or a 5xx (the OpenTelemetry HTTP client
/// convention); a 4xx is the vendor's verdict on the request, not a failed call.
fn vendor_call_status(attributes: &[KeyValue]) -> Status {
    let status = attributes
        .iter()
        .find(|kv| kv.key.as_str() == "status")
        .map(|kv| &kv.value);
    match status {
        Some(Value::I64(code)) if *code < 500 => Status::Unset,
        Some(Value::I64(code)) => Status::error(format!("vendor answered {code}")),
        _ => Status::error("no answer from the vendor"),
    }
}

/// A span's fields as attributes; `trace_id` (32 hex digits) as the trace id instead.
#[derive(Default)]
struct Fields {
    trace_id: Option<TraceId>,
    attributes: Vec<KeyValue>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "trace_id" {
            self.trace_id = parse_trace_id(value);
            return;
        }
        self.push(field, Value::from(value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `%` fields arrive here too, their Debug being their Display.
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, Value::I64(v)),
            Err(_) => self.push(field, Value::from(value.to_string())),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
}

/// A valid (32 lowercase hex digits, not all zero) trace id.
fn parse_trace_id(text: &str) -> Option<TraceId> {
    let valid = text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    TraceId::from_hex(text)
        .ok()
        .filter(|id| valid && *id != TraceId::INVALID)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_a_well_formed_trace_id_is_taken() {
        assert_eq!(
            parse_trace_id("4bf92f3577b34da6a3ce929d0e0e4736"),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").ok()
        );
        for bad in [
            "",
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "00000000000000000000000000000000",
            "4bf92f3577b34da6a3ce929d0e0e473g",
        ] {
            assert_eq!(parse_trace_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_vendor_call_without_answer_or_with_a_5xx_is_an_error() {
        let status = |code: Option<i64>| {
            let attrs: Vec<KeyValue> = code
                .map(|c| KeyValue::new("status", c))
                .into_iter()
                .collect();
            vendor_call_status(&attrs)
        };
        assert_eq!(status(Some(200)), Status::Unset);
        assert_eq!(status(Some(404)), Status::Unset);
        assert!(matches!(status(Some(503)), Status::Error { .. }));
        assert!(matches!(status(None), Status::Error { .. }));
    }

    #[test]
    fn only_the_engines_info_spans_are_exported() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level: Level, kind: Kind| {
            Metadata::new(
                "x",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                kind,
            )
        };
        assert!(SpanExport::wants(&meta(
            "sever_engine::api",
            Level::INFO,
            Kind::SPAN
        )));
        assert!(!SpanExport::wants(&meta(
            "sever_engine::api",
            Level::DEBUG,
            Kind::SPAN
        )));
        assert!(!SpanExport::wants(&meta(
            "sever_engine::api",
            Level::INFO,
            Kind::EVENT
        )));
        assert!(!SpanExport::wants(&meta(
            "h2::proto",
            Level::INFO,
            Kind::SPAN
        )));
    }
}
