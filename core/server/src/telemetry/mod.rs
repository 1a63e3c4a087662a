//! OpenTelemetry export of Sever's spans over OTLP/gRPC (`tracing.otlp_endpoint`).
//!
//! The engine describes its work with `tracing` spans: `canonical_request` (request id,
//! caller, trace id, action, backend) and a `vendor_call` child per vendor call (backend,
//! method, host, status, duration). [`SpanExport`] is a `tracing` layer that turns every
//! span of the engine into an OpenTelemetry span when it closes, and [`Telemetry`] ships
//! them to the collector.
//!
//! **Trace ids.** The engine owns every id (`sever_engine::trace`): a span it creates
//! carries `trace_id`, `span_id`, `parent_id` (the caller's span, for Sever's root span),
//! `sampled` and `otel.kind` (`server`, `client`, `internal`) as fields, and this layer
//! exports the span under exactly those ids, so that the caller's span, Sever's
//! `canonical_request`, each `vendor_call` and the `traceparent` the vendor received form
//! one chain. A span without ids of its own (say, `fan_out_backend`) gets a fresh span id
//! and inherits the trace, parent and sampling of its nearest exported ancestor. A trace
//! the caller does not sample is not exported at all. That is why this is a small layer of
//! its own and not `tracing-opentelemetry`: the latter takes trace ids only from an
//! OpenTelemetry parent context and keeps its span builder private, so a span cannot be
//! given the ids the engine already chose and sent to the vendor.
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
//! secret, a path or a body (the engine's rule for its spans); the id, sampling and kind
//! fields become the span's own rather than attributes. Events are not exported.

mod layer;

pub(crate) use layer::SpanExport;

use opentelemetry::KeyValue;
use opentelemetry_otlp::tonic_types::transport::ClientTlsConfig;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanExporter, SpanProcessor,
};
use opentelemetry_sdk::Resource;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
        let layer = SpanExport::new(Arc::clone(&processor));
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
