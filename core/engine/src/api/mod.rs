//! The canonical API (spec §3–§6), independent of the HTTP server.
//!
//! A request flows one way through these files; read them in this order:
//!
//! 1. [`Sever::serve`] (here): the checks before the body is a canonical request, in the
//!    spec's order — route (404, 405; `routing.rs`) → token (401) → content type (415) →
//!    size, while reading (413) — then the read-only endpoints (`endpoints.rs`, and
//!    `audit_query.rs` for `GET /v1/audit`) or [`Sever::act`]. The console's static files
//!    (`/console`, [`crate::console`]) are answered before the route, outside the API.
//! 2. `act.rs`: the body parsed (400), then run under its `Idempotency-Key` if it has one
//!    (`idempotency.rs`).
//! 3. `checks.rs`: the rest of spec §4, in one place for every kind of request — scope
//!    (403) → backend exists (404) → action supported (422) → Sever's limits (503) — and
//!    what a dry-run is subject to.
//! 4. The intent line (`intent.rs`: nothing is sent without it), then the vendor calls: one backend's flow (`crate::backend`), or every selected backend's
//!    concurrently (`fan_out.rs`); a backend's failure becomes a problem in `problems.rs`,
//!    where every problem the API answers is made.
//! 5. `report.rs`: how the request ended, as one `Report` value, handed
//!    to three sinks that only read it: `observe.rs` (metrics and the log line),
//!    `audit_line.rs` (the outcome lines) and `answer.rs` (the answer).

mod act;
mod answer;
mod approval_hold;
mod approvals;
mod audit_line;
mod audit_query;
mod checks;
mod endpoints;
mod fan_out;
mod idempotency;
mod intent;
mod observe;
pub(crate) mod problems;
mod report;
mod routing;

pub use act::MAX_IDEMPOTENCY_KEY;
pub use audit_query::{DEFAULT_LIMIT as AUDIT_DEFAULT_LIMIT, MAX_LIMIT as AUDIT_MAX_LIMIT};
pub use endpoints::plugin_json;
pub use intent::PendingIntents;
pub use report::Ended;
pub use report::{AUDIT_HEADER, AUDIT_INCOMPLETE};
pub use routing::{check_content_type, route, Route, RouteError};

use crate::auth::{Caller, PeerCertificate};
use crate::canonical::CanonicalRequest;
use crate::problem::Answer;
use crate::trace::TraceContext;
use crate::Sever;
use std::future::Future;
use std::time::Instant;

/// An HTTP request as the API reads it. The server implements it over its own session;
/// nothing here knows the HTTP framework.
pub trait Incoming {
    /// The request method (`GET`, `POST`, …).
    fn method(&self) -> &str;
    /// The request path, without the query.
    fn path(&self) -> &str;
    /// The request's query string (after `?`, still percent-encoded), if it has one.
    fn query(&self) -> Option<&str>;
    /// A request header's value (the first, if repeated).
    fn header(&self, name: &str) -> Option<&[u8]>;
    /// The verified client certificate of the request's connection, if it presented one.
    fn peer_certificate(&self) -> Option<&PeerCertificate>;
    /// Reads the body, refusing it as soon as it passes `limit` bytes (not after).
    fn read_body(&mut self, limit: usize) -> impl Future<Output = Body> + Send;
}

/// What reading a request's body gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Complete(Vec<u8>),
    /// Over `server.max_body_bytes` (declared, or while reading).
    TooLarge,
    /// The connection broke, or the body was not valid HTTP framing. (Which, is not
    /// told: the parser's error text is never shown to the caller.)
    Broken,
    /// Not all of it arrived within `server.request_timeout_ms` of the head.
    TimedOut,
}

/// Which listener a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// `server.listen`: the whole API.
    Api,
    /// `server.metrics_listen`: `/metrics` and the probes (`/healthz`, `/readyz`) only.
    MetricsOnly,
}

/// What every step of one canonical request needs to know about it.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub caller: &'a Caller,
    pub request: &'a CanonicalRequest,
    pub request_id: &'a str,
    pub started: Instant,
    pub trace: &'a TraceContext,
    /// Set when this is the run of an approved request: never held again, and its audit
    /// lines name the approval and its approver.
    pub approval: Option<&'a approval_hold::ApprovalRun<'a>>,
}

impl Sever {
    /// Answers one HTTP request that arrived on `listener`; `request_id` is its
    /// `X-Request-Id`.
    pub async fn serve<I: Incoming + Send>(
        &self,
        incoming: &mut I,
        request_id: &str,
        listener: Listener,
    ) -> Answer {
        // The responder console's static files (`/console`), outside the API's routes.
        if listener == Listener::Api && self.config.server.console {
            let (method, path) = (incoming.method(), incoming.path());
            if let Some(answer) =
                crate::console::answer(method, path, incoming.header("if-none-match"))
            {
                return answer;
            }
        }
        let route = match route(incoming.method(), incoming.path()) {
            // The probes too, so they stay answerable while `listen` is flooded.
            Ok(r @ (Route::Metrics | Route::Healthz | Route::Readyz)) => r,
            Ok(_) | Err(_) if listener == Listener::MetricsOnly => {
                return Answer::problem(&problems::not_found(), request_id)
            }
            Ok(route) => route,
            Err(e) => {
                let answer = Answer::problem(&e.problem(), request_id);
                return match e {
                    RouteError::MethodNotAllowed { allow } => {
                        answer.with_header("allow", allow.to_owned())
                    }
                    RouteError::NotFound => answer,
                };
            }
        };
        // Probes and scrapers need no token; everything under `/v1/` does.
        match route {
            Route::Healthz => return self.healthz(),
            Route::Readyz => return self.readyz(),
            Route::Metrics => return self.metrics_answer(),
            Route::OpenApi => return crate::openapi::answer(),
            Route::Actions | Route::Backends | Route::Plugins | Route::Audit => {}
            Route::Approvals | Route::Approval | Route::ApprovalApprove | Route::ApprovalDeny => {}
        }
        let caller = self.authenticate_peer(
            incoming.header("authorization"),
            incoming.peer_certificate(),
        );
        let caller = match caller {
            Ok(caller) => caller,
            // Counted as a canonical request only on the canonical request's path.
            Err(problem) if route == Route::Actions => return self.refuse(problem, request_id),
            Err(problem) => return Answer::problem(&problem, request_id),
        };
        match route {
            Route::Backends => self.backends_answer(),
            Route::Plugins => self.plugins_answer(),
            Route::Audit => {
                let query = incoming.query().map(str::to_owned);
                self.audit_query(&caller, query.as_deref(), request_id)
                    .await
            }
            r if r.is_approvals() => {
                self.approvals_endpoint(r, incoming.path(), &caller, request_id)
                    .await
            }
            _ => self.action(incoming, &caller, request_id).await,
        }
    }

    /// `POST /v1/actions` from the content type on.
    async fn action<I: Incoming + Send>(
        &self,
        incoming: &mut I,
        caller: &Caller,
        request_id: &str,
    ) -> Answer {
        if let Err(problem) = check_content_type(incoming.header("content-type")) {
            return self.refuse(problem, request_id);
        }
        // One budget from here: the body and then the vendor calls.
        let started = self.ambient.clock.now();
        let limit = self.config.server.max_body_bytes;
        let body = match incoming.read_body(limit).await {
            Body::Complete(body) => body,
            Body::TooLarge => return self.refuse(problems::payload_too_large(limit), request_id),
            Body::Broken => return self.refuse(problems::unreadable_body(), request_id),
            Body::TimedOut => return self.refuse(problems::body_timeout(), request_id),
        };
        // Owned: the request runs across awaits, and the session is not shared.
        let traceparent = incoming.header("traceparent").map(<[u8]>::to_vec);
        let key = incoming.header("idempotency-key").map(<[u8]>::to_vec);
        self.act_since(
            started,
            caller,
            &body,
            request_id,
            traceparent.as_deref(),
            key.as_deref(),
        )
        .await
    }
}
