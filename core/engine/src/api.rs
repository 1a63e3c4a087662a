//! The canonical API's request handling (spec §3–§6), independent of the HTTP server.
//!
//! The server calls, in the spec's order: [`route`] (404, 405), [`Sever::authenticate`]
//! (401), [`check_content_type`] (415), reads the body under `max_body_bytes` (413), then
//! [`Sever::act`] for the rest: JSON and fields (400) → scope (403) → backend exists (404)
//! → action supported (422) → limits (503) → audit ready (503) → vendor calls.

use crate::app::Sever;
use crate::audit::now_rfc3339;
use crate::auth::Caller;
use crate::canonical::{self, CanonicalRequest, Selection};
use crate::dispatch::Backend;
use crate::metrics::Ended;
use crate::problem::{Answer, ApiProblem};
use crate::trace::TraceContext;
use serde_json::{json, Map, Value};
use sever_plugin_sdk::abi::ABI_VERSION;
use sever_plugin_sdk::{ProblemCode, Request, Step, Success};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// The endpoints of spec §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Actions,
    Backends,
    Plugins,
    Healthz,
    Readyz,
    Metrics,
}

impl Route {
    /// Endpoints under `/v1/` need a valid bearer token.
    pub fn needs_token(self) -> bool {
        matches!(self, Route::Actions | Route::Backends | Route::Plugins)
    }
}

/// Why a method and path have no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// 404 `not_found`.
    NotFound,
    /// 405 `method_not_allowed`; `allow` is the `Allow` header's value.
    MethodNotAllowed { allow: &'static str },
}

impl RouteError {
    /// The problem to answer with.
    pub fn problem(self) -> ApiProblem {
        match self {
            RouteError::NotFound => ApiProblem::new(ProblemCode::NotFound, "no such path"),
            RouteError::MethodNotAllowed { allow } => ApiProblem::new(
                ProblemCode::MethodNotAllowed,
                format!("this path accepts {allow} only"),
            ),
        }
    }
}

/// Finds the endpoint for a method and path: 404 for an unknown path, 405 for a known
/// path with the wrong method.
pub fn route(method: &str, path: &str) -> Result<Route, RouteError> {
    let (route, allow) = match path {
        "/v1/actions" => (Route::Actions, "POST"),
        "/v1/backends" => (Route::Backends, "GET"),
        "/v1/plugins" => (Route::Plugins, "GET"),
        "/healthz" => (Route::Healthz, "GET"),
        "/readyz" => (Route::Readyz, "GET"),
        "/metrics" => (Route::Metrics, "GET"),
        _ => return Err(RouteError::NotFound),
    };
    if method == allow || (allow == "GET" && method == "HEAD") {
        Ok(route)
    } else {
        Err(RouteError::MethodNotAllowed { allow })
    }
}

/// 415 unless the content type is `application/json` (parameters such as `charset` allowed).
pub fn check_content_type(content_type: Option<&[u8]>) -> Result<(), ApiProblem> {
    let ok = content_type
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        Err(ApiProblem::new(
            ProblemCode::UnsupportedMediaType,
            "the body must be JSON: send Content-Type: application/json",
        ))
    }
}

/// How a canonical request ended, before it is rendered, audited and counted.
enum Finished {
    /// `200` with this body; `outcome` is `done`, `accepted` or `dry_run`.
    Answered {
        body: Value,
        outcome: Ended,
        vendor: Option<Map<String, Value>>,
    },
    Failed(ApiProblem),
}

impl From<ApiProblem> for Finished {
    fn from(problem: ApiProblem) -> Self {
        Finished::Failed(problem)
    }
}

impl Sever {
    /// 401 unless the `Authorization` header carries a known bearer token.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, ApiProblem> {
        self.auth
            .authenticate(authorization)
            .map_err(|e| ApiProblem::new(ProblemCode::Unauthenticated, e.to_string()))
    }

    /// Counts a canonical request refused before its body was parsed (401, 413, 415).
    pub fn count_refusal(&self, code: ProblemCode) {
        self.unlabeled.record(None, Ended::Problem(code), None);
    }

    /// `GET /healthz`.
    pub fn healthz(&self) -> Answer {
        Answer::json(200, &json!({"status": "ok"}))
    }

    /// `GET /readyz`: 200 once config and plugins are loaded and the listener serves.
    pub fn readyz(&self) -> Answer {
        if self.ready.load(Ordering::Acquire) {
            Answer::json(200, &json!({"status": "ready"}))
        } else {
            Answer::json(503, &json!({"status": "starting"}))
        }
    }

    /// `GET /metrics`.
    pub fn metrics_answer(&self) -> Answer {
        Answer::text(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            self.metrics.render(),
        )
    }

    /// `GET /v1/backends`: names, plugins, tags, actions and breaker state; no settings.
    pub fn backends_answer(&self) -> Answer {
        let list: Vec<Value> = self
            .backends
            .iter()
            .map(|b| {
                let info = b.plugin().info();
                json!({
                    "name": b.name,
                    "plugin": info.name,
                    "tags": b.tags,
                    "actions": info.actions.iter().map(|a| a.action).collect::<Vec<_>>(),
                    "breaker": breaker_state(
                        self.metrics.circuit_state.with_label_values(&[b.name.as_str()]).get(),
                    ),
                })
            })
            .collect();
        Answer::json(200, &json!({ "backends": list }))
    }

    /// `GET /v1/plugins`: name, version, ABI version, actions with their target fields.
    pub fn plugins_answer(&self) -> Answer {
        let list: Vec<Value> = self.plugins.iter().map(|p| plugin_json(p)).collect();
        Answer::json(200, &json!({ "plugins": list }))
    }

    /// `POST /v1/actions` once the caller is known and the body read. `traceparent` is
    /// the caller's W3C trace context header, if any: vendor calls continue that trace.
    pub async fn act(
        &self,
        caller: &Caller,
        body: &[u8],
        request_id: &str,
        traceparent: Option<&[u8]>,
    ) -> Answer {
        let started = Instant::now();
        let _in_flight = InFlight::enter(&self.metrics.in_flight);
        let trace = TraceContext::continue_or_start(traceparent);
        let span = tracing::info_span!(
            "canonical_request",
            request_id,
            caller = %caller.name,
            trace_id = %trace.trace_id(),
            action = tracing::field::Empty,
            backend = tracing::field::Empty,
        );
        self.act_inner(caller, body, request_id, started, &trace)
            .instrument(span)
            .await
    }

    async fn act_inner(
        &self,
        caller: &Caller,
        body: &[u8],
        request_id: &str,
        started: Instant,
        trace: &TraceContext,
    ) -> Answer {
        let request = match canonical::parse(body) {
            Ok(r) => r,
            Err(e) => {
                let problem = ApiProblem::new(ProblemCode::InvalidRequest, e.0);
                self.count_refusal(problem.code);
                return Answer::problem(&problem, request_id);
            }
        };
        let action = request.action.as_str();
        let Selection::One(name) = &request.selection else {
            let problem = ApiProblem::new(
                ProblemCode::InvalidRequest,
                "fan-out with `backends` is not available in this release; send one request per backend",
            );
            return self.finish(caller, &request, None, request_id, started, problem.into());
        };
        let backend = self.backend(name);
        let span = tracing::Span::current();
        span.record("action", action);
        if let Some(b) = backend {
            span.record("backend", b.name.as_str());
        }
        let finished = match self
            .check_and_run(caller, &request, name, request_id, started, trace)
            .await
        {
            Ok(f) => f,
            Err(problem) => problem.into(),
        };
        self.finish(
            caller,
            &request,
            backend.map(|b| b.as_ref()),
            request_id,
            started,
            finished,
        )
    }

    async fn check_and_run(
        &self,
        caller: &Caller,
        request: &CanonicalRequest,
        name: &str,
        request_id: &str,
        started: Instant,
        trace: &TraceContext,
    ) -> Result<Finished, ApiProblem> {
        if !self.auth.allows(caller, name, request.action) {
            return Err(ApiProblem::new(
                ProblemCode::Forbidden,
                format!(
                    "token '{}' may not {} on backend '{name}'",
                    caller.name, request.action
                ),
            ));
        }
        let backend = self.backend(name).ok_or_else(|| {
            ApiProblem::new(
                ProblemCode::UnknownBackend,
                format!("no backend is named '{name}'"),
            )
        })?;
        let info = backend.plugin().info();
        let spec = info.action(request.action).ok_or_else(|| {
            ApiProblem::new(
                ProblemCode::UnsupportedAction,
                format!(
                    "{}: the {} adapter cannot {} (it can: {})",
                    backend.name,
                    info.name,
                    request.action,
                    info.actions
                        .iter()
                        .map(|a| a.action.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .on_backend(&backend.name)
        })?;
        let target = canonical::fit_target(&request.target, spec).map_err(|e| {
            ApiProblem::new(ProblemCode::InvalidRequest, e.0).on_backend(&backend.name)
        })?;
        let plugin_request = Request {
            request_id: request_id.to_owned(),
            action: request.action,
            target,
            reason: request.reason.clone(),
        };
        if request.dry_run {
            return self.dry_run(backend, &plugin_request);
        }
        let overloaded = |what: &str| {
            ApiProblem::new(
                ProblemCode::Overloaded,
                format!("{what}; try again shortly"),
            )
            .on_backend(&backend.name)
        };
        if self.metrics.in_flight.get() > self.config.server.max_in_flight as i64 {
            return Err(overloaded("too many requests in flight"));
        }
        let _slot = backend.try_slot().ok_or_else(|| {
            overloaded(&format!(
                "{}: backend concurrency limit reached",
                backend.name
            ))
        })?;
        if let Some(audit) = &self.audit {
            if !audit.ready() {
                return Err(ApiProblem::new(
                    ProblemCode::AuditUnavailable,
                    "the audit log cannot be written; nothing was sent",
                ));
            }
        }
        let deadline = started + self.config.server.request_timeout;
        let (success, _calls) = backend
            .run(self.upstream.as_ref(), &plugin_request, deadline, trace)
            .await?;
        Ok(self.success(backend, request, success, request_id, started))
    }

    fn success(
        &self,
        backend: &Backend,
        request: &CanonicalRequest,
        success: Success,
        request_id: &str,
        started: Instant,
    ) -> Finished {
        let body = json!({
            "request_id": request_id,
            "action": request.action,
            "backend": backend.name,
            "outcome": success.outcome.as_str(),
            "vendor": success.vendor,
            "duration_ms": millis(started.elapsed()),
        });
        Finished::Answered {
            body,
            outcome: Ended::Outcome(success.outcome),
            vendor: Some(success.vendor),
        }
    }

    fn dry_run(&self, backend: &Backend, request: &Request) -> Result<Finished, ApiProblem> {
        let step = backend.plan(request)?;
        let (requests, stops) = match &step {
            Step::Send(r) => {
                let purpose = r.purpose.as_deref().unwrap_or("this call");
                (
                    vec![backend.redacted(r)],
                    Value::from(format!("needs the vendor's answer to {purpose}")),
                )
            }
            Step::Done(_) => (Vec::new(), Value::Null),
            Step::Fail(p) => {
                return Err(ApiProblem::from_plugin(p.clone(), &backend.name));
            }
        };
        let body = json!({
            "request_id": request.request_id,
            "action": request.action,
            "backend": backend.name,
            "outcome": "dry_run",
            "requests": requests,
            "planning_stops": stops,
        });
        Ok(Finished::Answered {
            body,
            outcome: Ended::DryRun,
            vendor: None,
        })
    }

    /// Audit line, request counter, and the answer.
    fn finish(
        &self,
        caller: &Caller,
        request: &CanonicalRequest,
        backend: Option<&Backend>,
        request_id: &str,
        started: Instant,
        finished: Finished,
    ) -> Answer {
        let action = request.action.as_str();
        let (answer, ended, vendor) = match finished {
            Finished::Answered {
                body,
                outcome,
                vendor,
            } => (Answer::json(200, &body), outcome, vendor),
            Finished::Failed(p) => (
                Answer::problem(&p, request_id),
                Ended::Problem(p.code),
                p.vendor,
            ),
        };
        let outcome = ended.as_str();
        // Labels come from config only: an unknown (caller-chosen) name is never a label.
        let (backend_label, handles) = match backend {
            Some(b) => (b.name.as_str(), b.request_metrics()),
            None => ("", &self.unlabeled),
        };
        // Every request counted with an action is also timed, refusals included.
        let seconds = started.elapsed().as_secs_f64();
        handles.record(Some(request.action), ended, Some(seconds));
        tracing::info!(
            request_id,
            caller = %caller.name,
            action,
            backend = backend_label,
            outcome,
            status = answer.status,
            duration_ms = millis(started.elapsed()),
            "canonical request"
        );
        if let Some(audit) = &self.audit {
            let vendor = vendor.as_ref();
            let mut line = json!({
                "time": now_rfc3339(),
                "request_id": request_id,
                "caller": caller.name,
                "action": action,
                "backend": match &request.selection { Selection::One(n) => Value::from(n.as_str()), _ => Value::Null },
                "target": request.target,
                "reason": request.reason,
                "dry_run": request.dry_run,
                "vendor_status": vendor.and_then(|v| v.get("status")).cloned(),
                "vendor_request_id": vendor.and_then(|v| v.get("request_id")).cloned(),
                "duration_ms": millis(started.elapsed()),
            });
            if let Some(map) = line.as_object_mut() {
                let key = if answer.status < 300 {
                    "outcome"
                } else {
                    "code"
                };
                map.insert(key.into(), Value::from(outcome));
                if caller.is_insecure() {
                    map.insert("insecure".into(), Value::Bool(true));
                }
            }
            if let Err(e) = audit.write(&line) {
                tracing::error!(error = %e, request_id, "audit line not written");
            }
        }
        answer
    }
}

/// Counts a request in `sever_in_flight_requests` for as long as it lives, however it
/// ends (answered, or dropped with its connection).
struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a prometheus::IntGauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The `sever_circuit_state` gauge's value as a word.
fn breaker_state(gauge: i64) -> &'static str {
    match gauge {
        0 => "closed",
        1 => "half_open",
        _ => "open",
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// The JSON shape of one plugin for `/v1/plugins` and `sever plugins`.
pub fn plugin_json(p: &crate::host::Plugin) -> Value {
    let info = p.info();
    json!({
        "name": info.name,
        "version": info.version,
        "abi": ABI_VERSION,
        "description": info.description,
        "path": p.path(),
        "actions": info.actions.iter().map(|a| json!({
            "action": a.action,
            "target_sets": a.target_sets,
            "optional_fields": a.optional_fields,
            "description": a.description,
        })).collect::<Vec<_>>(),
        "settings": info.settings.iter().map(|s| json!({
            "key": s.key, "secret": s.secret, "required": s.required, "description": s.description,
        })).collect::<Vec<_>>(),
    })
}
