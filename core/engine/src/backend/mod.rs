//! One configured backend and what it does with an adapter's request: run the adapter's
//! flow to its end against the vendor, behind the backend's own limits.
//!
//! [`Backend::execute`] is the way in for a request that sends: a concurrency slot
//! (`max_concurrency`), then the circuit breaker ([`breaker`]), then the flow loop
//! (`flow.rs`): each step's vendor request goes out through an [`Upstream`]
//! (`exchange.rs`), shared by flows that ask the same (`single_flight.rs`), retried by
//! asking the adapter again, never past the request's deadline. [`Backend::plan`] is the
//! way in for a dry-run: the first step, redacted (`redaction.rs`), nothing sent.
//!
//! A backend answers in its own terms — a [`Success`], a [`Plan`] or a [`FlowError`] —
//! and never in the API's: the API turns a `FlowError` into the problem it answers.

pub mod breaker;
mod exchange;
mod flow;
mod redaction;
mod single_flight;
mod transport;

pub use breaker::CircuitState;
pub use exchange::{TransportError, Upstream, UpstreamResponse};
pub use redaction::REDACTED;
pub use transport::LinkError;

use crate::clock::Ambient;
use crate::config::BackendConfig;
use crate::metrics::{Metrics, RequestMetrics};
use crate::plugin::{Instance, Plugin, PluginFault, Problem, Request, Step, Success};
use crate::problem::ProblemCode;
use crate::trace::TraceContext;
use breaker::Breaker;
use exchange::UpstreamMetrics;
use prometheus::IntCounter;
use serde_json::Value;
use single_flight::Flights;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use transport::Link;

/// Why a backend did not bring a flow to its end. Each is answered as one problem (see
/// `crate::api::problems`).
#[derive(Debug, Clone, PartialEq)]
pub enum FlowError {
    /// The adapter's verdict (`Step::Fail`): on the vendor's answer, or on the request.
    Adapter(Problem),
    /// The last exchange got no answer (after any retries).
    Transport(TransportError),
    /// The request's deadline passed before the next exchange could start.
    DeadlinePassed,
    /// The adapter plugin failed (panicked, or broke the ABI); logged and counted already.
    Plugin,
    /// The circuit breaker is open: nothing was sent.
    CircuitOpen { retry_after: Duration },
    /// Every one of the backend's concurrency slots is taken: nothing was sent.
    Busy,
}

impl FlowError {
    /// Whether this says the vendor is unwell (counted by the circuit breaker): no
    /// connection, no answer in time, a 5xx or an answer the adapter cannot read.
    fn vendor_unwell(&self) -> bool {
        match self {
            FlowError::Adapter(problem) => breaker::is_failure(ProblemCode::from(problem.kind)),
            FlowError::Transport(e) => e.vendor_unwell(),
            FlowError::DeadlinePassed => true,
            FlowError::Plugin | FlowError::CircuitOpen { .. } | FlowError::Busy => false,
        }
    }
}

/// What a dry-run shows: the vendor requests that can be planned without a vendor answer
/// (redacted), and why planning stopped there.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub requests: Vec<Value>,
    /// `None` when the flow ended without a vendor call.
    pub planning_stops: Option<String>,
}

/// One configured backend, ready to serve.
pub struct Backend {
    pub name: String,
    pub url: String,
    pub tags: Vec<String>,
    /// The limit for one vendor call.
    timeout: Duration,
    /// Retries of calls the adapter marks idempotent.
    retries: u32,
    /// Values of the plugin's secret settings, redacted wherever requests are shown.
    secrets: Vec<String>,
    /// Beyond `max_concurrency` flows at once: refused at once.
    slots: tokio::sync::Semaphore,
    breaker: Breaker,
    instance: Instance,
    /// The connection of a transport other than HTTP, opened on the first exchange and
    /// kept as long as this backend object lives (across reloads that keep it).
    link: Link,
    flights: Flights,
    upstream_metrics: UpstreamMetrics,
    plugin_panics: IntCounter,
    plugin_errors: IntCounter,
    /// `sever_requests_total` / `sever_request_duration_seconds` under this backend's
    /// label (the API's metrics sink counts with them).
    requests: RequestMetrics,
    ambient: Ambient,
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

impl Backend {
    /// The backend `config` describes, on its plugin `instance`, with its metric handles
    /// resolved now so that the request path never formats or looks up a label. For a
    /// transport other than HTTP the plugin's connection spec is read and checked here;
    /// nothing connects before the first exchange.
    pub fn new(
        config: &BackendConfig,
        instance: Instance,
        metrics: &Metrics,
        ambient: Ambient,
    ) -> Result<Self, LinkError> {
        let plugin = instance.plugin().name().to_owned();
        let name = config.name.as_str();
        let transport = instance.plugin().info().transport;
        let spec = instance
            .connection()
            .map_err(|fault| LinkError(format!("the plugin's connection spec: {fault}")))?;
        let mut secrets = redaction::secret_values(instance.plugin(), &config.settings);
        if let Some(spec) = &spec {
            for secret in [&spec.password, &spec.token, &spec.creds]
                .into_iter()
                .flatten()
            {
                if !secret.is_empty() && !secrets.contains(secret) {
                    secrets.push(secret.clone());
                }
            }
        }
        let link = Link::new(transport, &config.url, spec)?;
        Ok(Backend {
            name: config.name.clone(),
            url: config.url.clone(),
            tags: config.tags.clone(),
            timeout: config.timeout,
            retries: config.retries,
            secrets,
            slots: tokio::sync::Semaphore::new(config.max_concurrency),
            breaker: Breaker::new(
                config.breaker,
                metrics.circuit_state.with_label_values(&[name]),
                Arc::clone(&ambient.clock),
            ),
            upstream_metrics: UpstreamMetrics::new(metrics, name, &plugin, link.label()),
            link,
            plugin_panics: metrics.plugin_panics.with_label_values(&[plugin.as_str()]),
            plugin_errors: metrics.plugin_errors.with_label_values(&[plugin.as_str()]),
            requests: RequestMetrics::new(metrics, name),
            flights: Flights::default(),
            instance,
            ambient,
        })
    }

    /// The adapter plugin.
    pub fn plugin(&self) -> &Arc<Plugin> {
        self.instance.plugin()
    }

    /// The backend's cached request metric handles.
    pub fn request_metrics(&self) -> &RequestMetrics {
        &self.requests
    }

    /// The circuit breaker's state.
    pub fn circuit_state(&self) -> CircuitState {
        self.breaker.state()
    }

    /// Runs the adapter's flow for `request` to its end, sending every step through
    /// `upstream`, within the backend's limits: refused at once ([`FlowError::Busy`]) when
    /// every concurrency slot is taken, and ([`FlowError::CircuitOpen`]) while the breaker
    /// is open; the result is reported to the breaker afterwards.
    ///
    /// Every vendor call carries a `traceparent` in `trace` (unless the adapter set one)
    /// naming its own `vendor_call` span, which records backend, method, host, status and
    /// duration — never the path, headers or bodies.
    pub async fn execute(
        &self,
        upstream: &dyn Upstream,
        request: &Request,
        deadline: Instant,
        trace: &TraceContext,
    ) -> Result<Success, FlowError> {
        let _slot = self.slots.try_acquire().map_err(|_| FlowError::Busy)?;
        let permit = self
            .breaker
            .admit()
            .map_err(|refused| FlowError::CircuitOpen {
                retry_after: refused.retry_after,
            })?;
        let result = self.run(upstream, request, deadline, trace).await;
        permit.record(matches!(&result, Err(e) if e.vendor_unwell()));
        result
    }

    /// The first step of the flow for `request`, without sending anything and without
    /// opening a connection (dry-run).
    pub fn plan(&self, request: &Request) -> Result<Plan, FlowError> {
        let (_flow, step) = self
            .instance
            .start(request, &self.ambient.env())
            .map_err(|f| self.fault(request, f))?;
        match step {
            Step::Done(_) => Ok(Plan {
                requests: Vec::new(),
                planning_stops: None,
            }),
            Step::Fail(problem) => Err(FlowError::Adapter(problem)),
            step if !self.performs(&step) => Err(self.fault(request, self.foreign_step(&step))),
            step => {
                let purpose = step
                    .exchange()
                    .and_then(|o| o.purpose)
                    .unwrap_or("this call");
                let whose = if matches!(step, Step::Send(_)) {
                    "vendor"
                } else {
                    "server"
                };
                Ok(Plan {
                    planning_stops: Some(format!("needs the {whose}'s answer to {purpose}")),
                    requests: vec![redaction::redacted_step(&self.secrets, &step)],
                })
            }
        }
    }

    /// Whether `step` is an exchange of the plugin's transport (the only kind the host
    /// performs for it).
    fn performs(&self, step: &Step) -> bool {
        step.kind() == self.plugin().info().transport.step_kind()
    }

    /// A plugin fault for an exchange the plugin's transport does not perform (an HTTP
    /// plugin planning a Redis command): the host would not know where to send it.
    fn foreign_step(&self, step: &Step) -> PluginFault {
        PluginFault::Broken {
            plugin: self.plugin().name().to_owned(),
            message: format!(
                "planned a {} step, which its transport ({}) does not perform",
                step.kind().as_str(),
                self.plugin().info().transport
            ),
        }
    }

    /// Logs a plugin failure (and counts it: a panic, or another fault): its text stays in
    /// the log, the caller learns only that the adapter failed.
    fn fault(&self, request: &Request, fault: PluginFault) -> FlowError {
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
        FlowError::Plugin
    }
}
