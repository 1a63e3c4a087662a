//! `POST /v1/actions` once the caller is known and the body read: parse it (400), then
//! run it — under its `Idempotency-Key` if it has one — through the checks (`checks.rs`)
//! to its backend's flow, or to every selected backend's (`fan_out.rs`), and hand the
//! report to the sinks.

use super::checks::Admitted;
use super::report::{Ended, Part, Report};
use super::{problems, Call};
use crate::auth::Caller;
use crate::backend::Backend;
use crate::canonical::{self, CanonicalRequest, RequestError, Selection};
use crate::plugin::Request;
use crate::problem::{Answer, ApiProblem};
use crate::trace::TraceContext;
use crate::Sever;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The most an `Idempotency-Key` may hold (spec §3).
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

impl Sever {
    /// `POST /v1/actions` once the caller is known and the body read. `traceparent` is
    /// the caller's W3C trace context header, if any: Sever's spans and the vendor calls
    /// continue that trace. `idempotency_key` is the `Idempotency-Key` header, if any.
    pub async fn act(
        &self,
        caller: &Caller,
        body: &[u8],
        request_id: &str,
        traceparent: Option<&[u8]>,
        idempotency_key: Option<&[u8]>,
    ) -> Answer {
        let started = self.ambient.clock.now();
        self.act_since(
            started,
            caller,
            body,
            request_id,
            traceparent,
            idempotency_key,
        )
        .await
    }

    /// [`Sever::act`] for a request whose head arrived at `started`: reading its body
    /// and its vendor calls share one `server.request_timeout_ms` from then.
    pub(crate) async fn act_since(
        &self,
        started: Instant,
        caller: &Caller,
        body: &[u8],
        request_id: &str,
        traceparent: Option<&[u8]>,
        idempotency_key: Option<&[u8]>,
    ) -> Answer {
        let _in_flight = InFlight::enter(&self.metrics.in_flight);
        let trace = TraceContext::continue_or_start(traceparent, self.ambient.rng.as_ref());
        let parsed = canonical::parse(body);
        // Every field is known when the span is made: recording one later makes the log
        // layers format all of them again (measured: the largest cost of logging).
        let (action, backend) = match &parsed {
            Ok(r) => {
                let backend = match &r.selection {
                    // Only configured names: never a caller-chosen string.
                    Selection::One(name) => self.backend(name).map_or("", |b| b.name.as_str()),
                    Selection::Names(_) | Selection::Tags(_) => "",
                };
                (r.action.as_str(), backend)
            }
            Err(_) => ("", ""),
        };
        let span = tracing::info_span!(
            "canonical_request",
            otel.kind = "server",
            trace_id = %trace.trace_id(),
            span_id = %trace.span_id(),
            parent_id = %trace.parent_id(),
            sampled = trace.sampled(),
            request_id,
            caller = %caller.name,
            action,
            backend,
        );
        let received = Received {
            caller,
            parsed,
            body,
            request_id,
            started,
            trace: &trace,
        };
        self.act_parsed(received, idempotency_key)
            .instrument(span)
            .await
    }

    async fn act_parsed(&self, received: Received<'_>, idempotency_key: Option<&[u8]>) -> Answer {
        let key = match idempotency_key.map(check_idempotency_key).transpose() {
            Ok(key) => key,
            Err(problem) => return self.refuse(problem, received.request_id),
        };
        let request = match received.parsed {
            Ok(r) => r,
            Err(e) => return self.refuse(problems::invalid_request(e), received.request_id),
        };
        let call = Call {
            caller: received.caller,
            request: &request,
            request_id: received.request_id,
            started: received.started,
            trace: received.trace,
            approval: None,
        };
        match key {
            None => {
                let report = self.run(&call).await;
                self.finish(report)
            }
            Some(key) => self.act_once(&call, key, received.body).await,
        }
    }

    /// Runs a parsed request to its report: the checks, then its backend's flow or every
    /// selected backend's.
    pub(crate) async fn run<'a>(&'a self, call: &'a Call<'a>) -> Report<'a> {
        let admitted = match self.admit(call) {
            Ok(admitted) => admitted,
            Err(problem) => return self.refused(call, problem),
        };
        // Checked like any other; held, not sent, when an approvals rule matches.
        if let Some(rule) = self.approval_rule(call, &admitted) {
            return self.hold(call, admitted, rule).await;
        }
        // Written before the first vendor call; nothing is sent without it.
        let intent = match self.write_intent(call, &admitted) {
            Ok(intent) => intent,
            Err(problem) => return self.refused(call, problem),
        };
        match admitted {
            Admitted::One(backend, request) => {
                let ended = self.run_part(call, backend, Ok(request)).await;
                let elapsed = self.elapsed(call);
                let part = Part {
                    backend: Some(backend),
                    audit_backend: Some(&backend.name),
                    ended,
                    took: elapsed,
                };
                Report::One {
                    call,
                    part,
                    elapsed,
                    intent,
                }
            }
            Admitted::Many(admitted) => {
                let mut report = self.fan_out(call, admitted).await;
                if let Report::FanOut { intent: slot, .. } = &mut report {
                    *slot = intent;
                }
                report
            }
        }
    }

    /// A request refused as a whole by the checks. A single-backend request is counted
    /// under its backend's label when that backend exists, and audited with the name asked.
    pub(crate) fn refused<'a>(&'a self, call: &'a Call<'a>, problem: ApiProblem) -> Report<'a> {
        let (backend, audit_backend) = match &call.request.selection {
            Selection::One(name) => (self.backend(name).map(Arc::as_ref), Some(name.as_str())),
            Selection::Names(_) | Selection::Tags(_) => (None, None),
        };
        let elapsed = self.elapsed(call);
        Report::One {
            call,
            part: Part {
                backend,
                audit_backend,
                ended: Ended::Failed(problem),
                took: elapsed,
            },
            elapsed,
            intent: None,
        }
    }

    /// One backend's part of an admitted request: planned (dry-run) or run against the
    /// vendor, within the backend's own limits.
    pub(crate) async fn run_part(
        &self,
        call: &Call<'_>,
        backend: &Backend,
        request: Result<Request, ApiProblem>,
    ) -> Ended {
        let request = match request {
            Ok(r) => r,
            Err(problem) => return Ended::Failed(problem),
        };
        let result = if call.request.dry_run {
            backend.plan(&request).map(Ended::Planned)
        } else {
            let deadline = call.started + self.config.server.request_timeout;
            backend
                .execute(self.upstream.as_ref(), &request, deadline, call.trace)
                .await
                .map(Ended::Succeeded)
        };
        result.unwrap_or_else(|e| Ended::Failed(problems::flow_failed(e, backend)))
    }

    /// How long `call` has run.
    pub(crate) fn elapsed(&self, call: &Call<'_>) -> Duration {
        self.ambient
            .clock
            .now()
            .saturating_duration_since(call.started)
    }
}

/// A request before its body is known to be a canonical request.
struct Received<'a> {
    caller: &'a Caller,
    parsed: Result<CanonicalRequest, RequestError>,
    body: &'a [u8],
    request_id: &'a str,
    started: Instant,
    trace: &'a TraceContext,
}

/// 400 unless the key is 1–128 visible ASCII characters.
fn check_idempotency_key(key: &[u8]) -> Result<&str, ApiProblem> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.iter().all(|b| b.is_ascii_graphic());
    match std::str::from_utf8(key) {
        Ok(key) if ok => Ok(key),
        _ => Err(problems::invalid_idempotency_key()),
    }
}

/// Counts a request in `sever_in_flight_requests` for as long as it lives, however it
/// ends (answered, or dropped with its connection).
pub(super) struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    pub(super) fn enter(gauge: &'a prometheus::IntGauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
