//! Prometheus metrics (spec §8). Label values come only from config and the spec's code
//! list, never from caller input, so every label set is bounded.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};
use std::sync::Arc;

mod request;
pub use request::{OutcomeLabel, RequestMetrics};

/// The `state` label values of `sever_approvals_total`.
pub const APPROVAL_STATES: [&str; 5] = ["requested", "approved", "denied", "expired", "executed"];

/// Buckets from 100 µs to 10 s: a proxy's own cost sits at the bottom, vendor calls above.
pub const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// Every metric Sever exports, in its own registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_requests: IntCounterVec,
    pub upstream_duration: HistogramVec,
    pub in_flight: IntGauge,
    pub plugin_info: IntGaugeVec,
    pub plugin_panics: IntCounterVec,
    /// `sever_plugin_errors_total`: plugin calls that failed without a panic (an error the
    /// plugin reported, or an answer the host could not read: an unknown status, kind or
    /// code, text that is not UTF-8).
    pub plugin_errors: IntCounterVec,
    pub circuit_state: IntGaugeVec,
    /// `sever_idempotency_evictions_total`: keys the in-memory store dropped before they
    /// expired, to stay within `idempotency.max_entries`.
    pub idempotency_evictions: IntCounter,
    /// `sever_idempotency_replays_total`: requests answered with a stored answer.
    pub idempotency_replays: IntCounter,
    /// `sever_audit_write_failures_total{phase}`: audit lines not written (`intent`: the
    /// request was refused; `outcome`: it was answered with `Sever-Audit: incomplete`).
    pub audit_write_failures: IntCounterVec,
    /// `sever_approvals_total{state}`: approval transitions, by the state entered
    /// (`requested`, `approved`, `denied`, `expired`, `executed`).
    pub approvals: IntCounterVec,
    /// `sever_approvals_pending`: approvals waiting for a decision (this process's store;
    /// with Redis, every replica's, as last counted by this one).
    pub approvals_pending: IntGauge,
    /// The name of every metric registered, in registration order.
    names: Arc<[String]>,
    /// `sever_config_reloads_total{result}`: reloads (SIGHUP) by `success` or `failure`.
    pub config_reloads: IntCounterVec,
    /// `sever_config_last_reload_successful`: 1 when the last reload (or the start) loaded
    /// the config, 0 when it failed and the config before stays in force.
    pub config_last_reload_successful: IntGauge,
    /// `sever_config_last_reload_success_timestamp_seconds`: when the config in force was
    /// loaded (Unix time).
    pub config_last_reload_success_timestamp: Gauge,
    /// `sever_http_connections{listener}`: open connections on `api` (`server.listen`)
    /// and `metrics` (`server.metrics_listen`).
    pub http_connections: IntGaugeVec,
    /// `sever_http_connections_refused_total{listener}`: connections closed as soon as
    /// accepted, the listener being at its connection limit.
    pub http_connections_refused: IntCounterVec,
    /// `sever_http_refusals_total{reason}`: request heads answered with an error and their
    /// connection closed before they reached the API (a [`crate::framing::Refusal`]
    /// label, or `header_timeout`).
    pub http_refusals: IntCounterVec,
    /// `sever_tls_handshake_failures_total{reason}`: connections on a TLS `listen` closed
    /// before a request could be read: the handshake failed (`failed`) or did not end
    /// within `server.header_timeout_ms` of the accept (`timeout`).
    pub tls_handshake_failures: IntCounterVec,
}

/// The `listener` labels of the connection metrics.
pub const LISTENERS: [&str; 2] = ["api", "metrics"];

/// The `reason` label of a head not complete within `server.header_timeout_ms`.
pub const HEADER_TIMEOUT: &str = "header_timeout";

/// The `reason` labels of `sever_tls_handshake_failures_total`.
pub const TLS_HANDSHAKE_REASONS: [&str; 2] = ["failed", "timeout"];

/// Registering a freshly created metric in a fresh registry only fails on a programming
/// error (duplicate or invalid name), caught by the unit tests.
fn must<T>(r: prometheus::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("metric definition: {e}"),
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = must(IntCounterVec::new(
            Opts::new(
                "sever_requests_total",
                "Canonical requests answered, by outcome or problem code.",
            ),
            &["action", "backend", "outcome"],
        ));
        let request_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "sever_request_duration_seconds",
                "Whole canonical request duration, vendor calls included.",
            )
            .buckets(BUCKETS.to_vec()),
            &["action", "backend"],
        ));
        let upstream_requests = must(IntCounterVec::new(
            Opts::new(
                "sever_upstream_requests_total",
                "Vendor exchanges, by transport and status class.",
            ),
            &["backend", "plugin", "transport", "status_class"],
        ));
        let upstream_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "sever_upstream_duration_seconds",
                "Vendor exchange duration.",
            )
            .buckets(BUCKETS.to_vec()),
            &["backend", "plugin"],
        ));
        let in_flight = must(IntGauge::new(
            "sever_in_flight_requests",
            "Canonical requests being processed.",
        ));
        let plugin_info = must(IntGaugeVec::new(
            Opts::new("sever_plugin_info", "Loaded adapter plugins (always 1)."),
            &["plugin", "version", "abi"],
        ));
        let plugin_panics = must(IntCounterVec::new(
            Opts::new(
                "sever_plugin_panics_total",
                "Panics caught at the plugin boundary.",
            ),
            &["plugin"],
        ));
        let plugin_errors = must(IntCounterVec::new(
            Opts::new(
                "sever_plugin_errors_total",
                "Plugin calls that failed without a panic: an error reported, or an answer \
                 the host could not read.",
            ),
            &["plugin"],
        ));
        let circuit_state = must(IntGaugeVec::new(
            Opts::new(
                "sever_circuit_state",
                "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.",
            ),
            &["backend"],
        ));
        let idempotency_evictions = must(IntCounter::new(
            "sever_idempotency_evictions_total",
            "Idempotency keys evicted from the in-memory store before they expired.",
        ));
        let idempotency_replays = must(IntCounter::new(
            "sever_idempotency_replays_total",
            "Requests answered with the stored answer of an earlier one (Idempotency-Key).",
        ));
        let audit_write_failures = must(IntCounterVec::new(
            Opts::new(
                "sever_audit_write_failures_total",
                "Audit lines that could not be written, by phase: intent or outcome.",
            ),
            &["phase"],
        ));
        for phase in ["intent", "outcome"] {
            audit_write_failures.with_label_values(&[phase]);
        }
        let approvals = must(IntCounterVec::new(
            Opts::new(
                "sever_approvals_total",
                "Four-eyes approval transitions, by the state entered: requested, approved, \
                 denied, expired or executed.",
            ),
            &["state"],
        ));
        for state in APPROVAL_STATES {
            approvals.with_label_values(&[state]);
        }
        let approvals_pending = must(IntGauge::new(
            "sever_approvals_pending",
            "Requests waiting for a four-eyes approval.",
        ));
        let mut names = Vec::new();
        let config_reloads = must(IntCounterVec::new(
            Opts::new(
                "sever_config_reloads_total",
                "Config reloads (SIGHUP), by result: success or failure.",
            ),
            &["result"],
        ));
        for result in ["success", "failure"] {
            config_reloads.with_label_values(&[result]);
        }
        let config_last_reload_successful = must(IntGauge::new(
            "sever_config_last_reload_successful",
            "Whether the last config reload (or the start) succeeded (1) or failed (0).",
        ));
        let config_last_reload_success_timestamp = must(Gauge::new(
            "sever_config_last_reload_success_timestamp_seconds",
            "Unix time at which the config in force was loaded.",
        ));
        let http_connections = must(IntGaugeVec::new(
            Opts::new(
                "sever_http_connections",
                "Open HTTP connections, by listener: api or metrics.",
            ),
            &["listener"],
        ));
        let http_connections_refused = must(IntCounterVec::new(
            Opts::new(
                "sever_http_connections_refused_total",
                "Connections closed at once because their listener was at its connection limit.",
            ),
            &["listener"],
        ));
        for listener in LISTENERS {
            http_connections.with_label_values(&[listener]);
            http_connections_refused.with_label_values(&[listener]);
        }
        let http_refusals = must(IntCounterVec::new(
            Opts::new(
                "sever_http_refusals_total",
                "Request heads answered with an error and closed before the API saw them, by reason.",
            ),
            &["reason"],
        ));
        for r in crate::framing::Refusal::ALL {
            http_refusals.with_label_values(&[r.label()]);
        }
        http_refusals.with_label_values(&[HEADER_TIMEOUT]);
        let tls_handshake_failures = must(IntCounterVec::new(
            Opts::new(
                "sever_tls_handshake_failures_total",
                "Connections on a TLS listener closed before a request: the handshake failed or did not end within header_timeout_ms.",
            ),
            &["reason"],
        ));
        for r in TLS_HANDSHAKE_REASONS {
            tls_handshake_failures.with_label_values(&[r]);
        }
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(upstream_requests.clone()),
            Box::new(upstream_duration.clone()),
            Box::new(in_flight.clone()),
            Box::new(plugin_info.clone()),
            Box::new(plugin_panics.clone()),
            Box::new(plugin_errors.clone()),
            Box::new(circuit_state.clone()),
            Box::new(idempotency_evictions.clone()),
            Box::new(idempotency_replays.clone()),
            Box::new(audit_write_failures.clone()),
            Box::new(config_reloads.clone()),
            Box::new(config_last_reload_successful.clone()),
            Box::new(config_last_reload_success_timestamp.clone()),
            Box::new(http_connections.clone()),
            Box::new(http_connections_refused.clone()),
            Box::new(http_refusals.clone()),
            Box::new(tls_handshake_failures.clone()),
            Box::new(approvals.clone()),
            Box::new(approvals_pending.clone()),
        ] {
            names.extend(c.desc().iter().map(|d| d.fq_name.clone()));
            must(registry.register(c));
        }
        Metrics {
            registry,
            requests,
            request_duration,
            upstream_requests,
            upstream_duration,
            in_flight,
            plugin_info,
            plugin_panics,
            plugin_errors,
            circuit_state,
            idempotency_evictions,
            idempotency_replays,
            audit_write_failures,
            approvals,
            approvals_pending,
            names: names.into(),
            config_reloads,
            config_last_reload_successful,
            config_last_reload_success_timestamp,
            http_connections,
            http_connections_refused,
            http_refusals,
            tls_handshake_failures,
        }
    }

    /// Notes a config load: the start (`reload: false`) or a reload, and whether it
    /// succeeded; `unix_s` is when.
    pub fn config_loaded(&self, reload: bool, succeeded: bool, unix_s: f64) {
        if reload {
            let result = if succeeded { "success" } else { "failure" };
            self.config_reloads.with_label_values(&[result]).inc();
        }
        self.config_last_reload_successful.set(i64::from(succeeded));
        if succeeded {
            self.config_last_reload_success_timestamp.set(unix_s);
        }
    }

    /// The name of every metric Sever exports (for the reference docs and their test).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * 1024);
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The `status_class` label for a vendor HTTP status.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests;
