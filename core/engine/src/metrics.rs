//! Prometheus metrics (spec §8). Label values come only from config and the spec's code
//! list, never from caller input, so every label set is bounded.

use crate::plugin::{Action, Outcome};
use crate::problem::ProblemCode;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::sync::{Arc, OnceLock};

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
}

/// The `listener` labels of the connection metrics.
pub const LISTENERS: [&str; 2] = ["api", "metrics"];

/// The `reason` label of a head not complete within `server.header_timeout_ms`.
pub const HEADER_TIMEOUT: &str = "header_timeout";

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
            names: names.into(),
            config_reloads,
            config_last_reload_successful,
            config_last_reload_success_timestamp,
            http_connections,
            http_connections_refused,
            http_refusals,
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
mod tests {
    use super::*;

    #[test]
    fn cached_handles_record_under_the_right_labels() {
        let m = Metrics::new();
        let r = RequestMetrics::new(&m, "b1");
        let accepted = OutcomeLabel::success(Outcome::Accepted);
        r.record(Some(Action::Unbind), accepted, Some(0.002));
        r.record(Some(Action::Unbind), accepted, Some(0.002));
        r.record(None, OutcomeLabel::problem(ProblemCode::Internal), None);
        RequestMetrics::new(&m, "").record(
            None,
            OutcomeLabel::problem(ProblemCode::Unauthenticated),
            None,
        );
        r.record(Some(Action::Disconnect), OutcomeLabel::DRY_RUN, Some(0.001));
        let text = String::from_utf8(m.render()).unwrap_or_default();
        let value = |line: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(line)?.strip_prefix(' '))
                .map(str::to_owned)
        };
        for (series, expected) in [
            (
                r#"sever_requests_total{action="unbind",backend="b1",outcome="accepted"}"#,
                "2",
            ),
            (
                r#"sever_requests_total{action="",backend="b1",outcome="internal"}"#,
                "1",
            ),
            (
                r#"sever_requests_total{action="",backend="",outcome="unauthenticated"}"#,
                "1",
            ),
            (
                r#"sever_requests_total{action="disconnect",backend="b1",outcome="dry_run"}"#,
                "1",
            ),
            (
                r#"sever_request_duration_seconds_count{action="unbind",backend="b1"}"#,
                "2",
            ),
        ] {
            assert_eq!(
                value(series).as_deref(),
                Some(expected),
                "{series} in:\n{text}"
            );
        }
    }

    #[test]
    fn every_outcome_label_has_its_own_slot_and_name() {
        let mut labels = vec![
            OutcomeLabel::success(Outcome::Done),
            OutcomeLabel::success(Outcome::Accepted),
            OutcomeLabel::DRY_RUN,
            OutcomeLabel::UNKNOWN,
        ];
        labels.extend(ProblemCode::ALL.map(OutcomeLabel::problem));
        assert_eq!(labels.len(), OutcomeLabel::COUNT);
        for (i, label) in labels.iter().enumerate() {
            assert_eq!(label.index(), i, "{}", label.name());
        }
        for code in ProblemCode::ALL {
            assert_eq!(OutcomeLabel::problem(code).name(), code.as_str());
        }
        assert_eq!(labels[0].name(), "done");
        assert_eq!(labels[2].name(), "dry_run");
    }

    #[test]
    fn a_failed_reload_clears_the_success_gauge_and_keeps_the_last_success_time() {
        let m = Metrics::new();
        m.config_loaded(false, true, 100.0);
        m.config_loaded(true, false, 200.0);
        assert_eq!(m.config_last_reload_successful.get(), 0);
        assert_eq!(m.config_last_reload_success_timestamp.get(), 100.0);
        m.config_loaded(true, true, 300.0);
        assert_eq!(m.config_last_reload_successful.get(), 1);
        assert_eq!(m.config_last_reload_success_timestamp.get(), 300.0);
        assert_eq!(m.config_reloads.with_label_values(&["success"]).get(), 1);
        assert_eq!(m.config_reloads.with_label_values(&["failure"]).get(), 1);
    }

    #[test]
    fn every_spec_metric_is_exported() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["disconnect", "b", "done"])
            .inc();
        m.request_duration
            .with_label_values(&["disconnect", "b"])
            .observe(0.01);
        m.upstream_requests
            .with_label_values(&["b", "p", "http", "2xx"])
            .inc();
        m.upstream_duration
            .with_label_values(&["b", "p"])
            .observe(0.01);
        m.plugin_info.with_label_values(&["p", "1", "1"]).set(1);
        m.plugin_panics.with_label_values(&["p"]).inc();
        m.circuit_state.with_label_values(&["b"]).set(0);
        let text = String::from_utf8(m.render()).unwrap_or_default();
        for name in [
            "sever_requests_total",
            "sever_request_duration_seconds_bucket",
            "sever_upstream_requests_total",
            "sever_upstream_duration_seconds_bucket",
            "sever_in_flight_requests",
            "sever_plugin_info",
            "sever_plugin_panics_total",
            "sever_circuit_state",
            "sever_idempotency_evictions_total",
            "sever_idempotency_replays_total",
            "sever_audit_write_failures_total",
            "sever_config_reloads_total",
            "sever_config_last_reload_successful",
            "sever_config_last_reload_success_timestamp_seconds",
            "sever_http_connections",
            "sever_http_connections_refused_total",
            "sever_http_refusals_total",
        ] {
            let exported = text
                .lines()
                .any(|l| l.starts_with(name) && !l.starts_with('#'));
            assert!(exported, "{name} missing from:\n{text}");
        }
    }
}

/// The `outcome` label of `sever_requests_total`: `done`, `accepted`, `dry_run`,
/// `unknown` or a problem code, with its slot in a handle cache so that counting never formats or looks
/// up a label. (How a request ended is `crate::api::Ended`; this is its label.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeLabel {
    index: usize,
    name: &'static str,
}

impl OutcomeLabel {
    /// How many label values there are.
    pub const COUNT: usize = 4 + ProblemCode::ALL.len();

    /// `dry_run`.
    pub const DRY_RUN: OutcomeLabel = OutcomeLabel {
        index: 2,
        name: "dry_run",
    };

    /// `unknown`: the request's vendor calls were started, and Sever stopped (drain past
    /// `shutdown_grace_ms`) or the request was dropped before it could tell how they
    /// ended.
    pub const UNKNOWN: OutcomeLabel = OutcomeLabel {
        index: 3,
        name: "unknown",
    };

    /// `done` or `accepted`.
    pub fn success(outcome: Outcome) -> Self {
        let index = match outcome {
            Outcome::Done => 0,
            Outcome::Accepted => 1,
        };
        OutcomeLabel {
            index,
            name: outcome.as_str(),
        }
    }

    /// A problem code.
    pub fn problem(code: ProblemCode) -> Self {
        OutcomeLabel {
            // A fieldless enum's discriminants follow its declaration order (= `ALL`).
            index: 4 + code as usize,
            name: code.as_str(),
        }
    }

    /// The label value.
    pub fn name(self) -> &'static str {
        self.name
    }

    /// The slot in `0..COUNT`.
    pub fn index(self) -> usize {
        self.index
    }
}

/// `sever_requests_total` and `sever_request_duration_seconds` handles for one `backend`
/// label (`""` for requests whose backend is unknown), resolved once on first use: the
/// hot path then increments a cached counter without hashing or formatting label values.
#[derive(Debug)]
pub struct RequestMetrics {
    backend: String,
    requests: IntCounterVec,
    durations: HistogramVec,
    /// `[action][outcome]`; action index 3 is the empty action label.
    counters: Vec<OnceLock<IntCounter>>,
    histograms: [OnceLock<Histogram>; 4],
}

fn action_index(action: Option<Action>) -> usize {
    match action {
        Some(Action::Disconnect) => 0,
        Some(Action::Terminate) => 1,
        Some(Action::Unbind) => 2,
        None => 3,
    }
}

impl RequestMetrics {
    /// Handles for `backend` (a configured name, or `""`).
    pub fn new(metrics: &Metrics, backend: &str) -> Self {
        RequestMetrics {
            backend: backend.to_owned(),
            requests: metrics.requests.clone(),
            durations: metrics.request_duration.clone(),
            counters: (0..4 * OutcomeLabel::COUNT)
                .map(|_| OnceLock::new())
                .collect(),
            histograms: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    /// Counts one request and, when it has an action, its duration.
    pub fn record(&self, action: Option<Action>, outcome: OutcomeLabel, seconds: Option<f64>) {
        let a = action_index(action);
        let label = action.map_or("", Action::as_str);
        self.counters[a * OutcomeLabel::COUNT + outcome.index]
            .get_or_init(|| {
                self.requests
                    .with_label_values(&[label, self.backend.as_str(), outcome.name])
            })
            .inc();
        if let Some(s) = seconds {
            self.histograms[a]
                .get_or_init(|| {
                    self.durations
                        .with_label_values(&[label, self.backend.as_str()])
                })
                .observe(s);
        }
    }
}
