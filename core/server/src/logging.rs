//! Logging on stderr (human or JSON lines, level from `RUST_LOG`), and span export over
//! OTLP when the config asks for it.

use crate::logline;
use crate::telemetry::{SpanExport, Telemetry, TelemetryError};
use clap::ValueEnum;
use sever_engine::config;
use std::io::IsTerminal;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{self, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Auto,
    Human,
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG`; with `export`, the engine's spans also go to
/// the OpenTelemetry collector, whatever `RUST_LOG` says.
pub(crate) fn init_logging(format: LogFormat, export: Option<SpanExport>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // At `info` every request's log line names the request itself (request and trace id,
    // caller, action, backend, outcome, status, duration), so spans stay out of the log:
    // formatting each span's fields for the log was the largest per-request cost with
    // logging on. With `debug` (or finer) anywhere, spans are in the log again, as the
    // context of every line. The OpenTelemetry export gets its spans either way.
    let spans_in_log = filter
        .max_level_hint()
        .is_none_or(|level| level >= LevelFilter::DEBUG);
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = if json && !spans_in_log {
        // The same line as the generic JSON format's, with a fraction of its work.
        log.event_format(logline::LeanJson).boxed()
    } else if json {
        log.json().flatten_event(true).boxed()
    } else {
        log.boxed()
    };
    // The hint keeps `RUST_LOG`'s maximum level: without it the combined filter would have
    // none, and every disabled `log` record of pingora's would reach the filters.
    let hint = filter.max_level_hint().unwrap_or(LevelFilter::TRACE);
    let filter = filter.and(
        filter::filter_fn(move |meta| spans_in_log || !meta.is_span()).with_max_level_hint(hint),
    );
    // Without the hint, the export's filter would lift the global maximum level to trace,
    // and every disabled debug call (pingora's `log` records too) would reach the filters.
    let wants = filter::filter_fn(SpanExport::wants).with_max_level_hint(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(log.with_filter(filter));
    // Not `.with(Option<Layer>)`: an absent layer is interested in every callsite, so every
    // span would still be built (and entered on every poll) for no layer at all.
    match export {
        Some(export) => registry.with(export.with_filter(wants)).init(),
        None => registry.init(),
    }
}

/// Sets up logging, and span export when `tracing.otlp_endpoint` is set. Logging is set
/// up even when the exporter cannot be, so that the error can be logged.
pub(crate) fn start_logging(
    format: LogFormat,
    config: Option<&config::Config>,
) -> Result<Option<Telemetry>, TelemetryError> {
    let Some(endpoint) = config.and_then(|c| c.tracing.otlp_endpoint.as_deref()) else {
        init_logging(format, None);
        return Ok(None);
    };
    match Telemetry::start(endpoint) {
        Ok((telemetry, export)) => {
            init_logging(format, Some(export));
            tracing::info!(endpoint, "exporting spans over OTLP/gRPC");
            Ok(Some(telemetry))
        }
        Err(e) => {
            init_logging(format, None);
            Err(e)
        }
    }
}
