//! Prometheus metrics (spec §8). Label values come only from config and the spec's code
//! list, never from caller input, so every label set is bounded.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

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
    pub circuit_state: IntGaugeVec,
}

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
                "Vendor HTTP calls, by status class.",
            ),
            &["backend", "plugin", "status_class"],
        ));
        let upstream_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "sever_upstream_duration_seconds",
                "Vendor HTTP call duration.",
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
        let circuit_state = must(IntGaugeVec::new(
            Opts::new(
                "sever_circuit_state",
                "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.",
            ),
            &["backend"],
        ));
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_duration.clone()),
            Box::new(upstream_requests.clone()),
            Box::new(upstream_duration.clone()),
            Box::new(in_flight.clone()),
            Box::new(plugin_info.clone()),
            Box::new(plugin_panics.clone()),
            Box::new(circuit_state.clone()),
        ] {
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
            circuit_state,
        }
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
    fn every_spec_metric_is_exported() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["disconnect", "b", "done"])
            .inc();
        m.request_duration
            .with_label_values(&["disconnect", "b"])
            .observe(0.01);
        m.upstream_requests
            .with_label_values(&["b", "p", "2xx"])
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
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}
