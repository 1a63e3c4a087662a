//! Running an adapter's flow: send each step's vendor request through an [`Upstream`],
//! feed the answer back, retry idempotent calls by asking the adapter again, single-flight
//! steps that carry a sharing key, and never run past the request's deadline.

use crate::breaker::{self, Breaker, CircuitState};
use crate::config::BreakerConfig;
use crate::host::{Instance, Plugin, PluginFault, Resume};
use crate::metrics::{status_class, Metrics, RequestMetrics};
use crate::problem::ApiProblem;
use crate::problem::ProblemCode;
use crate::trace::TraceContext;
use async_trait::async_trait;
use parking_lot::Mutex;
use prometheus::{Histogram, IntCounter};
use rand::{Rng, RngCore};
use sever_plugin_abi::{Env, Request, Step, Success, VendorRequest};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tracing::Instrument;

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
    fn status_class(&self) -> &'static str {
        match self {
            TransportError::Timeout(_) => "timeout",
            _ => "connect_error",
        }
    }

    fn retryable(&self) -> bool {
        !matches!(self, TransportError::Invalid(_))
    }

    fn problem(&self, backend: &str) -> ApiProblem {
        let code = match self {
            TransportError::Connect(_) => ProblemCode::UpstreamUnavailable,
            TransportError::Timeout(_) => ProblemCode::UpstreamTimeout,
            TransportError::Protocol(_) => ProblemCode::UpstreamError,
            TransportError::Invalid(_) => ProblemCode::Internal,
        };
        ApiProblem::new(code, format!("{backend}: {self}")).on_backend(backend)
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

type Shared = Arc<Result<UpstreamResponse, TransportError>>;

/// In-flight shared steps of one backend, by sharing key.
#[derive(Debug, Default)]
struct Flights {
    map: Mutex<HashMap<String, watch::Receiver<Option<Shared>>>>,
}

/// Removes the leader's entry however the leader ends (answer, error or cancellation).
struct LeaderGuard<'a> {
    flights: &'a Flights,
    key: &'a str,
    rx: watch::Receiver<Option<Shared>>,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.flights.map.lock();
        if map.get(self.key).is_some_and(|r| r.same_channel(&self.rx)) {
            map.remove(self.key);
        }
    }
}

impl Flights {
    /// Sends through `send` unless a call with the same key is already under way, in which
    /// case waits for its answer. The leader gets a guard too: its entry (and the answer in
    /// it) stays visible until the guard is dropped, after the leader's flow has taken the
    /// answer in (say, cached the token), so that a flow starting in between shares the
    /// answer instead of sending the call again.
    async fn run<'a, F, Fut>(&'a self, key: &'a str, send: F) -> (Shared, Option<LeaderGuard<'a>>)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<UpstreamResponse, TransportError>>,
    {
        loop {
            let role = {
                let mut map = self.map.lock();
                match map.get(key) {
                    Some(rx) => Err(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(None);
                        map.insert(key.to_owned(), rx.clone());
                        Ok((tx, rx))
                    }
                }
            };
            match role {
                Ok((tx, rx)) => {
                    let guard = LeaderGuard {
                        flights: self,
                        key,
                        rx,
                    };
                    let shared: Shared = Arc::new(send().await);
                    // Followers may all have gone; that is fine.
                    let _ = tx.send(Some(Arc::clone(&shared)));
                    return (shared, Some(guard));
                }
                Err(mut rx) => {
                    if let Ok(value) = rx.wait_for(Option::is_some).await {
                        if let Some(shared) = value.as_ref() {
                            return (Arc::clone(shared), None);
                        }
                    }
                    // The leader was cancelled before answering: try again (perhaps lead).
                }
            }
        }
    }
}

/// One configured backend, ready to serve.
pub struct Backend {
    pub name: String,
    pub url: String,
    pub tags: Vec<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub max_concurrency: usize,
    /// Values of the plugin's secret settings, redacted wherever requests are shown.
    secrets: Vec<String>,
    /// Per-backend concurrency limit: beyond it, 503 overloaded at once.
    slots: tokio::sync::Semaphore,
    breaker: Breaker,
    instance: Instance,
    flights: Flights,
    upstream_ok: [IntCounter; 5],
    upstream_timeout: IntCounter,
    upstream_connect_error: IntCounter,
    upstream_duration: Histogram,
    plugin_panics: IntCounter,
    plugin_errors: IntCounter,
    requests: RequestMetrics,
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("plugin", &self.plugin().name())
            .field("url", &self.url)
            .finish()
    }
}

/// The settings a [`Backend`] is built from (besides its plugin instance).
#[derive(Debug, Clone)]
pub struct BackendParams {
    pub name: String,
    pub url: String,
    pub tags: Vec<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub max_concurrency: usize,
    pub breaker: BreakerConfig,
    pub secrets: Vec<String>,
}

impl Backend {
    /// Wraps an instance, pre-resolving its metric handles so the hot path never formats
    /// or looks up label values.
    pub fn new(params: BackendParams, instance: Instance, metrics: &Metrics) -> Self {
        let plugin = instance.plugin().name().to_owned();
        let counter = |class: &str| {
            metrics.upstream_requests.with_label_values(&[
                params.name.as_str(),
                plugin.as_str(),
                class,
            ])
        };
        Backend {
            upstream_ok: ["1xx", "2xx", "3xx", "4xx", "5xx"].map(counter),
            upstream_timeout: counter("timeout"),
            upstream_connect_error: counter("connect_error"),
            upstream_duration: metrics
                .upstream_duration
                .with_label_values(&[params.name.as_str(), plugin.as_str()]),
            plugin_panics: metrics.plugin_panics.with_label_values(&[plugin.as_str()]),
            plugin_errors: metrics.plugin_errors.with_label_values(&[plugin.as_str()]),
            requests: RequestMetrics::new(metrics, &params.name),
            breaker: Breaker::new(
                params.breaker,
                metrics
                    .circuit_state
                    .with_label_values(&[params.name.as_str()]),
            ),
            name: params.name,
            url: params.url,
            tags: params.tags,
            timeout: params.timeout,
            retries: params.retries,
            max_concurrency: params.max_concurrency,
            secrets: params.secrets,
            slots: tokio::sync::Semaphore::new(params.max_concurrency),
            instance,
            flights: Flights::default(),
        }
    }

    /// The adapter plugin.
    pub fn plugin(&self) -> &Arc<Plugin> {
        self.instance.plugin()
    }

    /// The backend's cached `sever_requests_total` / `sever_request_duration_seconds` handles.
    pub fn request_metrics(&self) -> &RequestMetrics {
        &self.requests
    }

    /// Takes one of the backend's concurrency slots, or `None` when all are in use.
    pub fn try_slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.slots.try_acquire().ok()
    }

    /// The circuit breaker's state.
    pub fn circuit_state(&self) -> CircuitState {
        self.breaker.state()
    }

    /// Runs a flow like [`Backend::run`] behind the backend's circuit breaker: refused at
    /// once with `503 circuit_open` (and `Retry-After`) while it is open, and the result
    /// reported to it afterwards.
    pub async fn execute(
        &self,
        upstream: &dyn Upstream,
        request: &Request,
        deadline: Instant,
        trace: &TraceContext,
    ) -> Result<Success, ApiProblem> {
        let permit = self.breaker.admit().map_err(|refused| {
            let mut problem = ApiProblem::new(
                ProblemCode::CircuitOpen,
                format!(
                    "{}: the circuit breaker is open after repeated vendor failures; nothing was sent",
                    self.name
                ),
            )
            .on_backend(&self.name);
            problem.retry_after = Some(refused.retry_after.as_secs().max(1).to_string());
            problem
        })?;
        let result = self.run(upstream, request, deadline, trace).await;
        permit.record(matches!(&result, Err(p) if breaker::is_failure(p.code)));
        result.map(|(success, _calls)| success)
    }

    /// A vendor request as it may be shown (dry-run): every secret setting value, every
    /// string the adapter listed in `redact`, and the values of credential headers are
    /// replaced by `<redacted>`.
    pub fn redacted(&self, request: &VendorRequest) -> serde_json::Value {
        const REDACTED: &str = "<redacted>";
        // Each secret also in the forms adapters place values in: percent-encoded (URL
        // paths, query strings, form bodies) and JSON-escaped.
        let mut secrets: Vec<String> = Vec::new();
        for secret in self.secrets.iter().chain(request.redact.iter()) {
            if secret.is_empty() {
                continue;
            }
            let json = serde_json::Value::from(secret.as_str()).to_string();
            let forms = [
                secret.clone(),
                percent_encoding::utf8_percent_encode(secret, URL_COMPONENT).to_string(),
                json.trim_matches('"').to_owned(),
            ];
            for form in forms {
                if !secrets.contains(&form) {
                    secrets.push(form);
                }
            }
        }
        // Longest first, so that a secret containing another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let scrub = |text: &str| {
            secrets
                .iter()
                .fold(text.to_owned(), |t, s| t.replace(s.as_str(), REDACTED))
        };
        let headers: serde_json::Map<String, serde_json::Value> = request
            .headers
            .iter()
            .map(|(name, value)| {
                let lower = name.to_ascii_lowercase();
                let shown = if matches!(
                    lower.as_str(),
                    "authorization" | "proxy-authorization" | "cookie" | "x-api-key" | "apikey"
                ) {
                    REDACTED.to_owned()
                } else {
                    scrub(value)
                };
                (lower, serde_json::Value::String(shown))
            })
            .collect();
        serde_json::json!({
            "method": request.method,
            "url": scrub(&request.url),
            "headers": headers,
            "body": scrub(&request.body),
        })
    }

    fn record(&self, result: &Result<UpstreamResponse, TransportError>, took: Duration) {
        self.upstream_duration.observe(took.as_secs_f64());
        match result {
            Ok(r) => {
                let i = match status_class(r.status) {
                    "1xx" => 0,
                    "2xx" => 1,
                    "3xx" => 2,
                    "4xx" => 3,
                    _ => 4,
                };
                self.upstream_ok[i].inc();
            }
            Err(e) if e.status_class() == "timeout" => self.upstream_timeout.inc(),
            Err(_) => self.upstream_connect_error.inc(),
        }
    }

    pub fn fault(&self, request: &Request, fault: PluginFault) -> ApiProblem {
        if fault.is_panic() {
            self.plugin_panics.inc();
        } else {
            self.plugin_errors.inc();
        }
        tracing::error!(
            request_id = request.request_id.as_str(),
            backend = %self.name,
            plugin = self.plugin().name(),
            error = %fault,
            "adapter plugin failure"
        );
        ApiProblem::new(
            ProblemCode::Internal,
            format!(
                "{}: the {} adapter failed; see the server log",
                self.name,
                self.plugin().name()
            ),
        )
        .on_backend(&self.name)
    }

    /// A plugin fault for an exchange the plugin's transport does not perform (an HTTP
    /// plugin planning a Redis command): the host would not know where to send it.
    pub fn foreign_step(&self, step: &Step) -> PluginFault {
        PluginFault::Broken {
            plugin: self.plugin().name().to_owned(),
            message: format!(
                "planned a {} step, which its transport ({}) does not perform",
                step.kind().as_str(),
                self.plugin().info().transport
            ),
        }
    }

    /// The first step of a flow without sending anything (dry-run planning).
    pub fn plan(&self, request: &Request) -> Result<Step, ApiProblem> {
        let (_flow, step) = self
            .instance
            .start(request, &env())
            .map_err(|f| self.fault(request, f))?;
        Ok(step)
    }

    /// Runs a flow to its end, sending every step through `upstream`.
    ///
    /// Every vendor call carries a `traceparent` continuing `trace` (unless the adapter set
    /// one) and runs in a `vendor_call` span (backend, method, host, status, duration;
    /// never the path, headers or bodies).
    pub async fn run(
        &self,
        upstream: &dyn Upstream,
        request: &Request,
        deadline: Instant,
        trace: &TraceContext,
    ) -> Result<(Success, u32), ApiProblem> {
        let (mut flow, mut step) = self
            .instance
            .start(request, &env())
            .map_err(|f| self.fault(request, f))?;
        let mut calls = 0u32;
        let mut retries_used = 0u32;
        loop {
            let mut vendor_request = match step {
                Step::Done(success) => return Ok((success, calls)),
                Step::Fail(problem) => return Err(ApiProblem::from_plugin(problem, &self.name)),
                Step::Send(r) => r,
                other => return Err(self.fault(request, self.foreign_step(&other))),
            };
            if !vendor_request
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("traceparent"))
            {
                vendor_request
                    .headers
                    .push(("traceparent".to_owned(), trace.child_header()));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let limit = vendor_request
                .timeout_ms
                .map_or(self.timeout, Duration::from_millis)
                .min(self.timeout)
                .min(remaining);
            if limit.is_zero() {
                return Err(TransportError::Timeout(Duration::ZERO).problem(&self.name));
            }
            calls += 1;
            // `leading` keeps a shared step's answer visible to newly started flows until
            // this flow has resumed with it.
            let span = tracing::info_span!(
                "vendor_call",
                backend = %self.name,
                method = %vendor_request.method,
                host = %host_of(&vendor_request.url),
                status = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let call_started = Instant::now();
            let (result, leading) = self
                .send(upstream, &vendor_request, limit)
                .instrument(span.clone())
                .await;
            let took = call_started.elapsed().as_secs_f64() * 1000.0;
            span.record("duration_ms", took);
            match result.as_ref() {
                Ok(r) => {
                    span.record("status", r.status);
                    span.in_scope(|| {
                        tracing::debug!(status = r.status, duration_ms = took, "vendor answered")
                    });
                }
                Err(e) => span.in_scope(
                    || tracing::debug!(error = %e, duration_ms = took, "vendor call failed"),
                ),
            }
            let (next, retryable) = match result.as_ref() {
                Ok(response) => {
                    let next = flow
                        .resume(
                            Resume::Response {
                                status: response.status,
                                headers: &response.headers,
                                body: &response.body,
                            },
                            &env(),
                        )
                        .map_err(|f| self.fault(request, f))?;
                    let retryable = matches!(&next, Step::Fail(p) if p.retryable);
                    (Ok(next), retryable)
                }
                Err(e) => (Err(e.problem(&self.name)), e.retryable()),
            };
            drop(leading);
            // A retryable failure of an idempotent call is planned again by the adapter
            // (fresh nonce, fresh signature), never resent byte for byte.
            if retryable && vendor_request.idempotent && retries_used < self.retries {
                if let Some(pause) = backoff(retries_used, deadline) {
                    tokio::time::sleep(pause).await;
                    retries_used += 1;
                    let retry = Resume::Retry {
                        attempt: retries_used,
                    };
                    step = flow
                        .resume(retry, &env())
                        .map_err(|f| self.fault(request, f))?;
                    continue;
                }
            }
            step = next?;
        }
    }

    async fn send<'a>(
        &'a self,
        upstream: &dyn Upstream,
        request: &'a VendorRequest,
        limit: Duration,
    ) -> (Shared, Option<LeaderGuard<'a>>) {
        let attempt = || async {
            let started = Instant::now();
            let result = upstream.send(request, limit).await;
            self.record(&result, started.elapsed());
            result
        };
        match request.share.as_deref() {
            Some(key) => self.flights.run(key, attempt).await,
            None => (Arc::new(attempt().await), None),
        }
    }
}

/// What adapters percent-encode (everything but RFC 3986's unreserved bytes), so that a
/// secret placed in a URL or form body is found in that form too.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The host (and port) of a URL, for spans: never its path or query, which hold
/// identifiers and sometimes credentials.
fn host_of(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| {
            u.authority()
                .map(|a| a.as_str().rsplit('@').next().unwrap_or_default().to_owned())
        })
        .unwrap_or_default()
}

/// Full-jitter exponential backoff (50 ms, 100 ms, … capped at 2 s), or `None` if the
/// pause would leave no time before the deadline.
fn backoff(retry: u32, deadline: Instant) -> Option<Duration> {
    let cap = Duration::from_millis(50u64 << retry.min(5)).min(Duration::from_secs(2));
    let pause = rand::rng().random_range(Duration::ZERO..=cap);
    let remaining = deadline.saturating_duration_since(Instant::now());
    // Leave the retried call at least as long as the pause itself.
    (remaining > pause * 2 + Duration::from_millis(10)).then_some(pause)
}

/// The host's clock and fresh randomness for one plugin call.
pub fn env() -> Env {
    let unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut random = [0u8; 32];
    rand::rng().fill_bytes(&mut random);
    Env { unix_ms, random }
}
