//! The canonical API's request handling (spec §3–§6), independent of the HTTP server.
//!
//! The server calls, in the spec's order: [`route`] (404, 405), [`Sever::authenticate`]
//! (401), [`check_content_type`] (415), reads the body under `max_body_bytes` (413), then
//! [`Sever::act`] for the rest: JSON and fields (400) → scope (403) → backend exists (404)
//! → action supported (422) → limits (503) → audit ready (503) → vendor calls.

use crate::app::Sever;
use crate::audit::{now_rfc3339, AuditRecord};
use crate::auth::Caller;
use crate::canonical::{self, CanonicalRequest, Selection};
use crate::dispatch::Backend;
use crate::idempotency::{in_flight_ttl, Claim, Fingerprint, ScopeKey, StoredAnswer};
use crate::metrics::Ended;
use crate::problem::ProblemCode;
use crate::problem::{success_body, Answer, ApiProblem};
use crate::trace::TraceContext;
use serde_json::{json, Map, Value};
use sever_plugin_abi::{Outcome, Request, Step, Success};
use std::sync::atomic::Ordering;
use std::sync::Arc;
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
    /// `GET /openapi.json` (see [`crate::openapi`]).
    OpenApi,
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
        "/openapi.json" => (Route::OpenApi, "GET"),
        _ => return Err(RouteError::NotFound),
    };
    if method == allow || (allow == "GET" && method == "HEAD") {
        Ok(route)
    } else {
        Err(RouteError::MethodNotAllowed { allow })
    }
}

/// The most an `Idempotency-Key` may hold (spec §3).
pub const MAX_IDEMPOTENCY_KEY: usize = 128;

/// 400 unless the key is 1–128 visible ASCII characters.
fn check_idempotency_key(key: &[u8]) -> Result<&str, ApiProblem> {
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY
        && key.iter().all(|b| b.is_ascii_graphic());
    match std::str::from_utf8(key) {
        Ok(key) if ok => Ok(key),
        _ => Err(ApiProblem::new(
            ProblemCode::InvalidRequest,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        )),
    }
}

/// The stored headers a replay sends again, as static names (anything else is dropped).
fn replayable_header(name: &str) -> Option<&'static str> {
    ["content-type", "retry-after", "www-authenticate"]
        .into_iter()
        .find(|n| n.eq_ignore_ascii_case(name))
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
    /// The vendor reported the cut made (`done`) or acknowledged (`accepted`).
    Succeeded(Success),
    /// `200` with this dry-run body.
    Planned(Value),
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
                    "breaker": b.circuit_state().as_str(),
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
    /// `idempotency_key` is the `Idempotency-Key` header, if any (spec §3).
    pub async fn act(
        &self,
        caller: &Caller,
        body: &[u8],
        request_id: &str,
        traceparent: Option<&[u8]>,
        idempotency_key: Option<&[u8]>,
    ) -> Answer {
        let started = Instant::now();
        let _in_flight = InFlight::enter(&self.metrics.in_flight);
        let trace = TraceContext::continue_or_start(traceparent);
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
            request_id,
            caller = %caller.name,
            trace_id = %trace.trace_id(),
            action,
            backend,
        );
        self.act_inner(
            caller,
            parsed,
            body,
            request_id,
            started,
            &trace,
            idempotency_key,
        )
        .instrument(span)
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn act_inner(
        &self,
        caller: &Caller,
        parsed: Result<CanonicalRequest, canonical::RequestError>,
        body: &[u8],
        request_id: &str,
        started: Instant,
        trace: &TraceContext,
        idempotency_key: Option<&[u8]>,
    ) -> Answer {
        let key = match idempotency_key.map(check_idempotency_key).transpose() {
            Ok(key) => key,
            Err(problem) => {
                self.count_refusal(problem.code);
                return Answer::problem(&problem, request_id);
            }
        };
        let request = match parsed {
            Ok(r) => r,
            Err(e) => {
                let problem = ApiProblem::new(ProblemCode::InvalidRequest, e.0);
                self.count_refusal(problem.code);
                return Answer::problem(&problem, request_id);
            }
        };
        let call = Call {
            caller,
            request: &request,
            request_id,
            started,
            trace,
        };
        match key {
            None => self.dispatch(&call).await.0,
            Some(key) => self.act_once(&call, key, body).await,
        }
    }

    /// Runs a parsed request; also says whether its answer is one an `Idempotency-Key`
    /// keeps (spec §3: once a vendor call was attempted — 2xx, `target_not_found`,
    /// `upstream_*` — never refusals before that, nor dry-runs).
    async fn dispatch(&self, call: &Call<'_>) -> (Answer, bool) {
        let name = match &call.request.selection {
            Selection::One(name) => name,
            Selection::Names(_) | Selection::Tags(_) => {
                let answer = self.fan_out(call).await;
                let kept = !call.request.dry_run && matches!(answer.status, 200 | 207);
                return (answer, kept);
            }
        };
        let backend = self.backend(name);
        let finished = match self.check_and_run(call, name).await {
            Ok(f) => f,
            Err(problem) => problem.into(),
        };
        let (answer, ended) = self.finish(
            call,
            backend.map(|b| b.as_ref()),
            Some(name.as_str()),
            finished,
        );
        let kept = match ended {
            Ended::Outcome(_) => true,
            Ended::DryRun => false,
            Ended::Problem(code) => matches!(
                code,
                ProblemCode::TargetNotFound
                    | ProblemCode::UpstreamUnauthorized
                    | ProblemCode::UpstreamRejected
                    | ProblemCode::UpstreamError
                    | ProblemCode::UpstreamUnavailable
                    | ProblemCode::UpstreamTimeout
            ),
        };
        (answer, kept)
    }

    /// A request under an `Idempotency-Key`: the first runs and its answer is kept; a
    /// repeat gets that answer again (`Idempotent-Replayed: true`) and sends nothing; the
    /// same key with another body, or while the first still runs, is a 409.
    async fn act_once(&self, call: &Call<'_>, key: &str, body: &[u8]) -> Answer {
        let scope = ScopeKey::new(&call.caller.name, key);
        let ttl = in_flight_ttl(self.config.server.request_timeout);
        let claim = self
            .idempotency
            .claim(&scope, &Fingerprint::of_body(body), ttl)
            .await;
        let refuse = |code, detail: &str| {
            let problem = ApiProblem::new(code, detail);
            self.finish(call, None, self.audit_backend(call), problem.into())
                .0
        };
        let guard = match claim {
            Ok(Claim::New(guard)) => guard,
            Ok(Claim::Replay(stored)) => return self.replay(call, stored),
            Ok(Claim::Conflict) => {
                return refuse(
                    ProblemCode::IdempotencyConflict,
                    "this Idempotency-Key was used with a different request; use a new key",
                )
            }
            Ok(Claim::InFlight) => {
                return refuse(
                    ProblemCode::IdempotencyInFlight,
                    "a request with this Idempotency-Key is still running; repeat it later to get its answer",
                )
            }
            Err(e) => {
                tracing::error!(error = %e, request_id = call.request_id, "idempotency store");
                return refuse(
                    ProblemCode::Overloaded,
                    "the idempotency store cannot be reached; nothing was sent",
                );
            }
        };
        let (answer, kept) = self.dispatch(call).await;
        let stored = if kept {
            let first = StoredAnswer {
                status: answer.status,
                request_id: call.request_id.to_owned(),
                headers: answer
                    .headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.clone()))
                    .collect(),
                body: answer.body.clone(),
            };
            guard.complete(first).await
        } else {
            guard.release().await
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, request_id = call.request_id, "idempotency key not updated");
        }
        answer
    }

    /// The first answer under a key, again: its status, headers, body and request id, with
    /// `Idempotent-Replayed: true`. One audit line with `replayed: true`; nothing is sent.
    fn replay(&self, call: &Call<'_>, stored: StoredAnswer) -> Answer {
        tracing::info!(
            request_id = %stored.request_id,
            caller = %call.caller.name,
            status = stored.status,
            "idempotent replay"
        );
        if self.audit.is_some() {
            let line = AuditRecord {
                request_id: &stored.request_id,
                replayed: true,
                status: Some(stored.status),
                ..self.audit_line(call, self.audit_backend(call), None)
            };
            self.write_audit(&line, call.request_id);
        }
        let mut headers: Vec<(&'static str, String)> = stored
            .headers
            .into_iter()
            .filter_map(|(name, value)| replayable_header(&name).map(|n| (n, value)))
            .collect();
        headers.push(("x-request-id", stored.request_id));
        headers.push(("idempotent-replayed", "true".to_owned()));
        Answer {
            status: stored.status,
            headers,
            body: stored.body,
        }
    }

    /// The `backend` an audit line names for a request: its one backend, or null.
    fn audit_backend<'a>(&self, call: &'a Call<'_>) -> Option<&'a str> {
        match &call.request.selection {
            Selection::One(name) => Some(name),
            _ => None,
        }
    }

    /// 403 unless the caller may run the action on every named backend: checked against
    /// the names asked for, before their existence, so a token learns nothing about
    /// backends it may not use.
    fn authorize<'n>(
        &self,
        call: &Call<'_>,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Result<(), ApiProblem> {
        for name in names {
            if !self.auth.allows(call.caller, name, call.request.action) {
                return Err(ApiProblem::new(
                    ProblemCode::Forbidden,
                    format!(
                        "token '{}' may not {} on backend '{name}'",
                        call.caller.name, call.request.action
                    ),
                ));
            }
        }
        Ok(())
    }

    fn known_backend(&self, name: &str) -> Result<&Arc<Backend>, ApiProblem> {
        self.backend(name).ok_or_else(|| {
            ApiProblem::new(
                ProblemCode::UnknownBackend,
                format!("no backend is named '{name}'"),
            )
        })
    }

    /// 503 when the server as a whole is over its in-flight limit, or when the audit log
    /// cannot be written (nothing may be sent unaudited).
    fn check_server_limits(&self) -> Result<(), ApiProblem> {
        if self.metrics.in_flight.get() > self.config.server.max_in_flight as i64 {
            return Err(ApiProblem::new(
                ProblemCode::Overloaded,
                "too many requests in flight; try again shortly",
            ));
        }
        if let Some(audit) = &self.audit {
            if !audit.ready() {
                return Err(ApiProblem::new(
                    ProblemCode::AuditUnavailable,
                    "the audit log cannot be written; nothing was sent",
                ));
            }
        }
        Ok(())
    }

    /// The adapter's request for `backend`: 422 when its adapter lacks the action, 400 when
    /// the target does not fit the action's field sets.
    fn plugin_request(&self, call: &Call<'_>, backend: &Backend) -> Result<Request, ApiProblem> {
        let info = backend.plugin().info();
        let action = call.request.action;
        let spec = info.action(action).ok_or_else(|| {
            ApiProblem::new(
                ProblemCode::UnsupportedAction,
                format!(
                    "{}: the {} adapter cannot {action} (it can: {})",
                    backend.name,
                    info.name,
                    info.actions
                        .iter()
                        .map(|a| a.action.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .on_backend(&backend.name)
        })?;
        let target = canonical::fit_target(&call.request.target, spec).map_err(|e| {
            ApiProblem::new(ProblemCode::InvalidRequest, e.0).on_backend(&backend.name)
        })?;
        Ok(Request {
            request_id: call.request_id.to_owned(),
            action,
            target,
            reason: call.request.reason.clone(),
        })
    }

    async fn check_and_run(&self, call: &Call<'_>, name: &str) -> Result<Finished, ApiProblem> {
        self.authorize(call, [name])?;
        let backend = self.known_backend(name)?;
        let plugin_request = self.plugin_request(call, backend)?;
        if call.request.dry_run {
            return self.dry_run(backend, &plugin_request);
        }
        self.check_server_limits()
            .map_err(|p| p.on_backend(&backend.name))?;
        self.run_on(call, backend, &plugin_request).await
    }

    /// The vendor calls for one backend, behind its concurrency limit and breaker.
    async fn run_on(
        &self,
        call: &Call<'_>,
        backend: &Backend,
        plugin_request: &Request,
    ) -> Result<Finished, ApiProblem> {
        let _slot = backend.try_slot().ok_or_else(|| {
            ApiProblem::new(
                ProblemCode::Overloaded,
                format!(
                    "{}: backend concurrency limit reached; try again shortly",
                    backend.name
                ),
            )
            .on_backend(&backend.name)
        })?;
        let deadline = call.started + self.config.server.request_timeout;
        let success = backend
            .execute(self.upstream.as_ref(), plugin_request, deadline, call.trace)
            .await?;
        Ok(Finished::Succeeded(success))
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
            other => {
                let fault = backend.foreign_step(other);
                return Err(backend.fault(request, fault));
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
        Ok(Finished::Planned(body))
    }

    /// A fan-out (spec §5): every selected backend authorized and known before anything is
    /// sent; then all of them concurrently under the one request deadline. `200` when none
    /// failed, `207` otherwise, with one result per backend and a summary.
    async fn fan_out(&self, call: &Call<'_>) -> Answer {
        let selected = match self.select(call) {
            Ok(list) => list,
            Err(problem) => {
                let (answer, _) = self.finish(call, None, None, problem.into());
                return answer;
            }
        };
        let names: Vec<&str> = selected.iter().map(|b| b.name.as_str()).collect();
        if let Err(problem) = self.check_server_limits() {
            let (answer, _) = self.finish(call, None, None, problem.into());
            return answer;
        }
        let runs = selected.iter().map(|backend| async move {
            let started = Instant::now();
            let finished = match self.plugin_request(call, backend) {
                Err(p) => p.into(),
                Ok(r) if call.request.dry_run => {
                    self.dry_run(backend, &r).unwrap_or_else(Into::into)
                }
                Ok(r) => self
                    .run_on(call, backend, &r)
                    .instrument(tracing::info_span!("fan_out_backend", backend = %backend.name))
                    .await
                    .unwrap_or_else(Into::into),
            };
            (backend, started.elapsed(), finished)
        });
        let done = futures_util::future::join_all(runs).await;
        let mut summary = Summary::default();
        let mut results = Vec::with_capacity(done.len());
        for (backend, took, finished) in done {
            let mut result = match &finished {
                Finished::Succeeded(success) => json!({
                    "backend": backend.name,
                    "outcome": success.outcome.as_str(),
                    "vendor": success.vendor,
                }),
                Finished::Planned(body) => {
                    let mut r = body.clone();
                    if let Some(map) = r.as_object_mut() {
                        map.remove("request_id");
                        map.remove("action");
                    }
                    r
                }
                Finished::Failed(p) => json!({
                    "backend": backend.name,
                    "outcome": "failed",
                    "problem": p.to_json(call.request_id),
                }),
            };
            if let Some(map) = result.as_object_mut() {
                map.insert("duration_ms".into(), Value::from(millis(took)));
            }
            let (_, ended) = self.finish(
                call,
                Some(backend.as_ref()),
                Some(backend.name.as_str()),
                finished,
            );
            summary.count(ended);
            results.push(result);
        }
        let status = if summary.failed == 0 { 200 } else { 207 };
        let mut summary_json = json!({
            "done": summary.done,
            "accepted": summary.accepted,
            "failed": summary.failed,
        });
        if call.request.dry_run {
            summary_json["dry_run"] = Value::from(summary.dry_run);
        }
        let body = json!({
            "request_id": call.request_id,
            "action": call.request.action,
            "results": results,
            "summary": summary_json,
            "duration_ms": millis(call.started.elapsed()),
        });
        tracing::info!(
            request_id = call.request_id,
            trace_id = %call.trace.trace_id(),
            caller = %call.caller.name,
            action = call.request.action.as_str(),
            backends = ?names,
            status,
            done = summary.done,
            accepted = summary.accepted,
            failed = summary.failed,
            "fan-out request"
        );
        let line = AuditRecord {
            backends: Some(&names),
            summary: Some(&summary_json),
            status: Some(status),
            ..self.audit_line(call, None, None)
        };
        self.write_audit(&line, call.request_id);
        Answer::json(status, &body)
    }

    /// The backends a fan-out selects, in config order for tags and request order for
    /// names: 400 for duplicate names or tags that select nothing, 403 if any is
    /// forbidden, 404 if a name is unknown.
    fn select(&self, call: &Call<'_>) -> Result<Vec<Arc<Backend>>, ApiProblem> {
        match &call.request.selection {
            Selection::Names(names) => {
                let mut seen = std::collections::HashSet::new();
                if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
                    return Err(ApiProblem::new(
                        ProblemCode::InvalidRequest,
                        format!("backends lists '{dup}' twice"),
                    ));
                }
                self.authorize(call, names.iter().map(String::as_str))?;
                names
                    .iter()
                    .map(|n| self.known_backend(n).cloned())
                    .collect()
            }
            Selection::Tags(tags) => {
                let selected: Vec<Arc<Backend>> = self
                    .backends
                    .iter()
                    .filter(|b| tags.iter().all(|t| b.tags.contains(t)))
                    .cloned()
                    .collect();
                if selected.is_empty() {
                    return Err(ApiProblem::new(
                        ProblemCode::InvalidRequest,
                        format!("no backend carries all of the tags {}", tags.join(", ")),
                    ));
                }
                self.authorize(call, selected.iter().map(|b| b.name.as_str()))?;
                Ok(selected)
            }
            Selection::One(name) => Ok(vec![self.known_backend(name)?.clone()]),
        }
    }

    /// Counts, logs and audits how one backend's part (or a single-backend request) ended,
    /// and renders its answer.
    fn finish(
        &self,
        call: &Call<'_>,
        backend: Option<&Backend>,
        audit_backend: Option<&str>,
        finished: Finished,
    ) -> (Answer, Ended) {
        let action = call.request.action.as_str();
        let (answer, ended, vendor) = match finished {
            Finished::Succeeded(success) => {
                let body = success_body(
                    call.request_id,
                    call.request.action,
                    backend.map_or("", |b| b.name.as_str()),
                    &success,
                    millis(call.started.elapsed()),
                );
                let ended = Ended::Outcome(success.outcome);
                (Answer::json_bytes(200, body), ended, Some(success.vendor))
            }
            Finished::Planned(body) => (Answer::json(200, &body), Ended::DryRun, None),
            Finished::Failed(p) => (
                Answer::problem(&p, call.request_id),
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
        let seconds = call.started.elapsed().as_secs_f64();
        handles.record(Some(call.request.action), ended, Some(seconds));
        tracing::info!(
            request_id = call.request_id,
            trace_id = %call.trace.trace_id(),
            caller = %call.caller.name,
            action,
            backend = backend_label,
            outcome,
            status = answer.status,
            duration_ms = millis(call.started.elapsed()),
            "canonical request"
        );
        if self.audit.is_some() {
            let mut line = self.audit_line(call, audit_backend, vendor.as_ref());
            if answer.status < 300 {
                line.outcome = Some(outcome);
            } else {
                line.code = Some(outcome);
            }
            self.write_audit(&line, call.request_id);
        }
        (answer, ended)
    }

    /// The fields every audit line of a request carries (spec §7); callers add the rest.
    fn audit_line<'a>(
        &self,
        call: &'a Call<'_>,
        backend: Option<&'a str>,
        vendor: Option<&'a Map<String, Value>>,
    ) -> AuditRecord<'a> {
        AuditRecord {
            time: now_rfc3339(),
            request_id: call.request_id,
            caller: &call.caller.name,
            action: call.request.action,
            backend,
            backends: None,
            target: &call.request.target,
            reason: call.request.reason.as_deref(),
            dry_run: call.request.dry_run,
            outcome: None,
            code: None,
            vendor_status: vendor.and_then(|v| v.get("status")),
            vendor_request_id: vendor.and_then(|v| v.get("request_id")),
            duration_ms: millis(call.started.elapsed()),
            status: None,
            summary: None,
            replayed: false,
            insecure: call.caller.is_insecure(),
        }
    }

    fn write_audit(&self, line: &AuditRecord<'_>, request_id: &str) {
        if let Some(audit) = &self.audit {
            if let Err(e) = audit.write(line) {
                tracing::error!(error = %e, request_id, "audit line not written");
            }
        }
    }
}

/// What every step of one canonical request needs to know about it.
struct Call<'a> {
    caller: &'a Caller,
    request: &'a CanonicalRequest,
    request_id: &'a str,
    started: Instant,
    trace: &'a TraceContext,
}

/// A fan-out's tally of its backends' results.
#[derive(Debug, Default)]
struct Summary {
    done: u32,
    accepted: u32,
    dry_run: u32,
    failed: u32,
}

impl Summary {
    fn count(&mut self, ended: Ended) {
        match ended {
            Ended::Outcome(Outcome::Done) => self.done += 1,
            Ended::Outcome(Outcome::Accepted) => self.accepted += 1,
            Ended::DryRun => self.dry_run += 1,
            Ended::Problem(_) => self.failed += 1,
        }
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

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}

/// The JSON shape of one plugin for `/v1/plugins` and `sever plugins`.
pub fn plugin_json(p: &crate::host::Plugin) -> Value {
    let info = p.info();
    json!({
        "name": info.name,
        "version": info.version,
        "abi": sever_plugin_abi::raw::SEVER_ABI_MAJOR,
        "abi_minor": p.abi_minor(),
        "transport": info.transport,
        "url_schemes": info.schemes(),
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
