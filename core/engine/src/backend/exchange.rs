//! One exchange with a vendor: the [`Upstream`] that sends an adapter's request, what comes
//! back ([`UpstreamResponse`] or a [`TransportError`]), and the per-backend upstream
//! metrics every exchange is counted in.

use super::transport::Answer;
use crate::metrics::Metrics;
use crate::plugin::VendorRequest;
use async_trait::async_trait;
use prometheus::{Histogram, IntCounter};
use std::fmt;
use std::time::Duration;

/// A vendor's HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamResponse {
    pub status: u16,
    /// Lowercase names.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// A vendor call that produced no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Connection or TLS set-up failed.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// No complete answer in time.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    /// The connection broke or the answer was not HTTP.
    #[error("broken answer: {0}")]
    Protocol(String),
    /// The adapter asked for something that cannot be sent (bad URL, bad header).
    #[error("cannot send the adapter's request: {0}")]
    Invalid(String),
}

impl TransportError {
    /// Whether trying again may help: everything but a request that cannot be sent.
    pub fn retryable(&self) -> bool {
        !matches!(self, TransportError::Invalid(_))
    }

    /// Whether it says the vendor is unwell (for the circuit breaker): every failure but a
    /// request that could not be sent, which is the adapter's fault.
    pub fn vendor_unwell(&self) -> bool {
        !matches!(self, TransportError::Invalid(_))
    }
}

/// Sends one vendor request. Implemented by the server over a pooled HTTP/1.1 client, and
/// by fakes in tests.
#[async_trait]
pub trait Upstream: Send + Sync + fmt::Debug {
    /// Sends `request`, giving up after `timeout`.
    async fn send(
        &self,
        request: &VendorRequest,
        timeout: Duration,
    ) -> Result<UpstreamResponse, TransportError>;
}

/// One backend's `sever_upstream_requests_total` and `sever_upstream_duration_seconds`
/// handles, resolved once so an exchange never formats or looks up a label.
#[derive(Debug)]
pub(super) struct UpstreamMetrics {
    /// By status class: `1xx` … `5xx` for HTTP; `ok`, `error` for the other transports.
    answered: Vec<(&'static str, IntCounter)>,
    timeout: IntCounter,
    connect_error: IntCounter,
    duration: Histogram,
}

/// The answered classes of a transport's exchanges (bounded: five for HTTP, two for the
/// others; `timeout` and `connect_error` besides).
fn answered_classes(transport: &str) -> &'static [&'static str] {
    if transport == "http" {
        &["1xx", "2xx", "3xx", "4xx", "5xx"]
    } else {
        &["ok", "error"]
    }
}

impl UpstreamMetrics {
    pub(super) fn new(metrics: &Metrics, backend: &str, plugin: &str, transport: &str) -> Self {
        let counter = |class: &str| {
            metrics
                .upstream_requests
                .with_label_values(&[backend, plugin, transport, class])
        };
        UpstreamMetrics {
            answered: answered_classes(transport)
                .iter()
                .map(|class| (*class, counter(class)))
                .collect(),
            timeout: counter("timeout"),
            connect_error: counter("connect_error"),
            duration: metrics
                .upstream_duration
                .with_label_values(&[backend, plugin]),
        }
    }

    /// Counts one exchange and its duration.
    pub(super) fn record(&self, result: &Result<Answer, TransportError>, took: Duration) {
        self.duration.observe(took.as_secs_f64());
        match result {
            Ok(answer) => {
                let class = answer.status_class();
                if let Some((_, counter)) = self.answered.iter().find(|(c, _)| *c == class) {
                    counter.inc();
                }
            }
            Err(TransportError::Timeout(_)) => self.timeout.inc(),
            Err(_) => self.connect_error.inc(),
        }
    }
}

/// The host (and port) of a URL, for spans: never its path or query, which hold
/// identifiers and sometimes credentials.
pub(super) fn host_of(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| {
            u.authority()
                .map(|a| a.as_str().rsplit('@').next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_shows_the_host_and_port_never_the_user_info_path_or_query() {
        assert_eq!(
            host_of("https://user:pw@vendor.test:8443/a/b?token=x"),
            "vendor.test:8443"
        );
        assert_eq!(host_of("http://vendor.test/clients/c1"), "vendor.test");
        assert_eq!(host_of("not a url"), "");
    }

    #[test]
    fn only_a_request_that_cannot_be_sent_is_final_and_the_adapters_fault() {
        let invalid = TransportError::Invalid("bad header".into());
        assert!(!invalid.retryable() && !invalid.vendor_unwell());
        for e in [
            TransportError::Connect("refused".into()),
            TransportError::Timeout(Duration::from_secs(1)),
            TransportError::Protocol("garbage".into()),
        ] {
            assert!(e.retryable() && e.vendor_unwell(), "{e}");
        }
    }
}
