//! Every problem the API answers with, made in one place: one function per reason, named
//! for it, and [`flow_failed`], which turns each way a backend's flow can fail — the
//! adapter's verdict, a transport error, the deadline, a plugin failure, the backend's own
//! limits — into exactly one problem code.

use crate::api::MAX_IDEMPOTENCY_KEY;
use crate::auth::Caller;
use crate::backend::{Backend, FlowError, TransportError};
use crate::canonical::RequestError;
use crate::plugin::Action;
use crate::problem::ApiProblem;
use crate::problem::ProblemCode;

/// 404 `not_found`.
pub(crate) fn not_found() -> ApiProblem {
    ApiProblem::new(ProblemCode::NotFound, "no such path")
}

/// 405 `method_not_allowed`.
pub(crate) fn method_not_allowed(allow: &str) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::MethodNotAllowed,
        format!("this path accepts {allow} only"),
    )
}

/// 401 `unauthenticated`; `why` says what was wrong with the credentials.
pub(crate) fn unauthenticated(why: impl std::fmt::Display) -> ApiProblem {
    ApiProblem::new(ProblemCode::Unauthenticated, why.to_string())
}

/// 415 `unsupported_media_type`.
pub(crate) fn unsupported_media_type() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::UnsupportedMediaType,
        "the body must be JSON: send Content-Type: application/json",
    )
}

/// 413 `payload_too_large`.
pub(crate) fn payload_too_large(limit: usize) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::PayloadTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

/// 400: the body could not be read off the connection (a fixed detail: the parser's
/// own error text is not for callers).
pub(crate) fn unreadable_body() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::InvalidRequest,
        "the body could not be read: its framing is invalid or the connection closed",
    )
}

/// 408: the body did not arrive within `server.request_timeout_ms` of the head.
pub(crate) fn body_timeout() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::RequestTimeout,
        "the body did not arrive within server.request_timeout_ms",
    )
}

/// 400: the body is not a canonical request (the error names the field).
pub(crate) fn invalid_request(error: RequestError) -> ApiProblem {
    ApiProblem::new(ProblemCode::InvalidRequest, error.0)
}

/// 400: a `GET /v1/audit` query parameter that is unknown, repeated or invalid.
pub(crate) fn invalid_audit_query(detail: impl Into<String>) -> ApiProblem {
    ApiProblem::new(ProblemCode::InvalidRequest, detail)
}

/// 503 `audit_unavailable` on `GET /v1/audit`: no audit log, or its file cannot be read.
pub(crate) fn audit_unreadable(detail: impl Into<String>) -> ApiProblem {
    ApiProblem::new(ProblemCode::AuditUnavailable, detail)
}

/// 400: a malformed `Idempotency-Key`.
pub(crate) fn invalid_idempotency_key() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::InvalidRequest,
        format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
    )
}

/// 400: a fan-out lists a backend twice.
pub(crate) fn duplicate_backend(name: &str) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::InvalidRequest,
        format!("backends lists '{name}' twice"),
    )
}

/// 400: tags that select no backend.
pub(crate) fn no_backend_with_tags(tags: &[String]) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::InvalidRequest,
        format!("no backend carries all of the tags {}", tags.join(", ")),
    )
}

/// 403 `forbidden`.
pub(crate) fn forbidden(caller: &Caller, action: Action, backend: &str) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::Forbidden,
        format!(
            "token '{}' may not {action} on backend '{backend}'",
            caller.name
        ),
    )
}

/// 404 `unknown_backend`.
pub(crate) fn unknown_backend(name: &str) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::UnknownBackend,
        format!("no backend is named '{name}'"),
    )
}

/// 422 `unsupported_action`: the backend's adapter cannot do `action`.
pub(crate) fn unsupported_action(backend: &Backend, action: Action) -> ApiProblem {
    let info = backend.plugin().info();
    let can: Vec<&str> = info.actions.iter().map(|a| a.action.as_str()).collect();
    ApiProblem::new(
        ProblemCode::UnsupportedAction,
        format!(
            "{}: the {} adapter cannot {action} (it can: {})",
            backend.name,
            info.name,
            can.join(", ")
        ),
    )
    .on_backend(&backend.name)
}

/// 400: the target does not fit the action's field sets on this backend.
pub(crate) fn target_mismatch(backend: &Backend, error: RequestError) -> ApiProblem {
    ApiProblem::new(ProblemCode::InvalidRequest, error.0).on_backend(&backend.name)
}

/// 503 `overloaded`: over `server.max_in_flight`.
pub(crate) fn server_overloaded() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::Overloaded,
        "too many requests in flight; try again shortly",
    )
}

/// 503 `audit_unavailable`.
pub(crate) fn audit_unavailable() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::AuditUnavailable,
        "the audit log cannot be written; nothing was sent",
    )
}

/// 409 `idempotency_conflict`.
pub(crate) fn idempotency_conflict() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::IdempotencyConflict,
        "this Idempotency-Key was used with a different request; use a new key",
    )
}

/// 409 `idempotency_in_flight`.
pub(crate) fn idempotency_in_flight() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::IdempotencyInFlight,
        "a request with this Idempotency-Key is still running; repeat it later to get its answer",
    )
}

/// 503 `overloaded`: the idempotency store cannot be asked.
pub(crate) fn idempotency_store_unavailable() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::Overloaded,
        "the idempotency store cannot be reached; nothing was sent",
    )
}

/// 503 `overloaded`: the approvals store cannot be asked.
pub(crate) fn approval_store_unavailable() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::Overloaded,
        "the approvals store cannot be reached; nothing was sent",
    )
}

/// 404 `approval_not_found`: no approval by this id that the caller may see.
pub(crate) fn approval_not_found() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::ApprovalNotFound,
        "no approval by this id is visible to this caller",
    )
}

/// 409 `approval_decided`: approved (or being run), denied, or run already.
pub(crate) fn approval_decided(state: &str) -> ApiProblem {
    ApiProblem::new(
        ProblemCode::ApprovalDecided,
        format!("this approval is already {state}"),
    )
}

/// 410 `approval_expired`: its `ttl_ms` ran out before anyone decided.
pub(crate) fn approval_expired() -> ApiProblem {
    ApiProblem::new(
        ProblemCode::ApprovalExpired,
        "this approval expired before it was approved or denied; nothing was sent",
    )
}

/// 403 `forbidden`: the caller may not decide this approval (`why` says which rule).
pub(crate) fn approval_forbidden(why: impl Into<String>) -> ApiProblem {
    ApiProblem::new(ProblemCode::Forbidden, why)
}

/// How a backend's flow failed, as the problem answered for it.
pub(crate) fn flow_failed(error: FlowError, backend: &Backend) -> ApiProblem {
    let name = backend.name.as_str();
    let problem = match error {
        FlowError::Adapter(problem) => return ApiProblem::from_plugin(problem, name),
        FlowError::Transport(e) => {
            let code = match e {
                TransportError::Connect(_) => ProblemCode::UpstreamUnavailable,
                TransportError::Timeout(_) => ProblemCode::UpstreamTimeout,
                TransportError::Protocol(_) => ProblemCode::UpstreamError,
                TransportError::Invalid(_) => ProblemCode::Internal,
            };
            ApiProblem::new(code, format!("{name}: {e}"))
        }
        FlowError::DeadlinePassed => ApiProblem::new(
            ProblemCode::UpstreamTimeout,
            format!("{name}: the request timeout left no time for the next vendor call"),
        ),
        FlowError::Plugin => ApiProblem::new(
            ProblemCode::Internal,
            format!(
                "{name}: the {} adapter failed; see the server log",
                backend.plugin().name()
            ),
        ),
        FlowError::CircuitOpen { retry_after } => {
            let mut problem = ApiProblem::new(
                ProblemCode::CircuitOpen,
                format!(
                    "{name}: the circuit breaker is open after repeated vendor failures; nothing was sent"
                ),
            );
            problem.retry_after = Some(retry_after.as_secs().max(1).to_string());
            problem
        }
        FlowError::Busy => ApiProblem::new(
            ProblemCode::Overloaded,
            format!("{name}: backend concurrency limit reached; try again shortly"),
        ),
    };
    problem.on_backend(name)
}
