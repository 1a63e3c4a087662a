//! The canonical problem codes (spec §4) and what Sever answers each with: the HTTP status,
//! the title and the problem `type`. Sever owns this table; an adapter can only report a
//! [`ProblemKind`], which [`ProblemCode::from`] turns into one of these.

use serde::{Deserialize, Serialize};
use sever_plugin_abi::ProblemKind;
use std::fmt;

/// The canonical problem codes of spec §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    InvalidRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    UnknownBackend,
    TargetNotFound,
    MethodNotAllowed,
    IdempotencyConflict,
    IdempotencyInFlight,
    PayloadTooLarge,
    UnsupportedMediaType,
    UnsupportedAction,
    RateLimited,
    UpstreamUnauthorized,
    UpstreamRejected,
    UpstreamError,
    UpstreamUnavailable,
    Overloaded,
    CircuitOpen,
    AuditUnavailable,
    UpstreamTimeout,
    Internal,
    RequestTimeout,
    HeadersTooLarge,
    NotImplemented,
    HttpVersionNotSupported,
    ApprovalNotFound,
    ApprovalDecided,
    ApprovalExpired,
}

impl ProblemCode {
    /// Every code, in the spec's table order.
    pub const ALL: [ProblemCode; 29] = [
        ProblemCode::InvalidRequest,
        ProblemCode::Unauthenticated,
        ProblemCode::Forbidden,
        ProblemCode::NotFound,
        ProblemCode::UnknownBackend,
        ProblemCode::TargetNotFound,
        ProblemCode::MethodNotAllowed,
        ProblemCode::IdempotencyConflict,
        ProblemCode::IdempotencyInFlight,
        ProblemCode::PayloadTooLarge,
        ProblemCode::UnsupportedMediaType,
        ProblemCode::UnsupportedAction,
        ProblemCode::RateLimited,
        ProblemCode::UpstreamUnauthorized,
        ProblemCode::UpstreamRejected,
        ProblemCode::UpstreamError,
        ProblemCode::UpstreamUnavailable,
        ProblemCode::Overloaded,
        ProblemCode::CircuitOpen,
        ProblemCode::AuditUnavailable,
        ProblemCode::UpstreamTimeout,
        ProblemCode::Internal,
        ProblemCode::RequestTimeout,
        ProblemCode::HeadersTooLarge,
        ProblemCode::NotImplemented,
        ProblemCode::HttpVersionNotSupported,
        ProblemCode::ApprovalNotFound,
        ProblemCode::ApprovalDecided,
        ProblemCode::ApprovalExpired,
    ];

    /// The wire name (`target_not_found`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::InvalidRequest => "invalid_request",
            ProblemCode::Unauthenticated => "unauthenticated",
            ProblemCode::Forbidden => "forbidden",
            ProblemCode::NotFound => "not_found",
            ProblemCode::UnknownBackend => "unknown_backend",
            ProblemCode::TargetNotFound => "target_not_found",
            ProblemCode::MethodNotAllowed => "method_not_allowed",
            ProblemCode::IdempotencyConflict => "idempotency_conflict",
            ProblemCode::IdempotencyInFlight => "idempotency_in_flight",
            ProblemCode::PayloadTooLarge => "payload_too_large",
            ProblemCode::UnsupportedMediaType => "unsupported_media_type",
            ProblemCode::UnsupportedAction => "unsupported_action",
            ProblemCode::RateLimited => "rate_limited",
            ProblemCode::UpstreamUnauthorized => "upstream_unauthorized",
            ProblemCode::UpstreamRejected => "upstream_rejected",
            ProblemCode::UpstreamError => "upstream_error",
            ProblemCode::UpstreamUnavailable => "upstream_unavailable",
            ProblemCode::Overloaded => "overloaded",
            ProblemCode::CircuitOpen => "circuit_open",
            ProblemCode::AuditUnavailable => "audit_unavailable",
            ProblemCode::UpstreamTimeout => "upstream_timeout",
            ProblemCode::Internal => "internal",
            ProblemCode::RequestTimeout => "request_timeout",
            ProblemCode::HeadersTooLarge => "headers_too_large",
            ProblemCode::NotImplemented => "not_implemented",
            ProblemCode::HttpVersionNotSupported => "http_version_not_supported",
            ProblemCode::ApprovalNotFound => "approval_not_found",
            ProblemCode::ApprovalDecided => "approval_decided",
            ProblemCode::ApprovalExpired => "approval_expired",
        }
    }

    /// The HTTP status Sever answers with.
    pub fn status(self) -> u16 {
        match self {
            ProblemCode::InvalidRequest => 400,
            ProblemCode::Unauthenticated => 401,
            ProblemCode::Forbidden => 403,
            ProblemCode::NotFound | ProblemCode::UnknownBackend | ProblemCode::TargetNotFound => {
                404
            }
            ProblemCode::MethodNotAllowed => 405,
            ProblemCode::IdempotencyConflict | ProblemCode::IdempotencyInFlight => 409,
            ProblemCode::PayloadTooLarge => 413,
            ProblemCode::UnsupportedMediaType => 415,
            ProblemCode::UnsupportedAction => 422,
            ProblemCode::RateLimited => 429,
            ProblemCode::UpstreamUnauthorized
            | ProblemCode::UpstreamRejected
            | ProblemCode::UpstreamError
            | ProblemCode::UpstreamUnavailable => 502,
            ProblemCode::Overloaded | ProblemCode::CircuitOpen | ProblemCode::AuditUnavailable => {
                503
            }
            ProblemCode::UpstreamTimeout => 504,
            ProblemCode::Internal => 500,
            ProblemCode::RequestTimeout => 408,
            ProblemCode::HeadersTooLarge => 431,
            ProblemCode::NotImplemented => 501,
            ProblemCode::HttpVersionNotSupported => 505,
            ProblemCode::ApprovalNotFound => 404,
            ProblemCode::ApprovalDecided => 409,
            ProblemCode::ApprovalExpired => 410,
        }
    }

    /// A short, fixed, human title (RFC 9457 `title`).
    pub fn title(self) -> &'static str {
        match self {
            ProblemCode::InvalidRequest => "The request is not a valid canonical request",
            ProblemCode::Unauthenticated => "A valid bearer token is required",
            ProblemCode::Forbidden => "The token may not do this action on this backend",
            ProblemCode::NotFound => "No such path",
            ProblemCode::UnknownBackend => "No backend by that name",
            ProblemCode::TargetNotFound => "The backend has no such target",
            ProblemCode::MethodNotAllowed => "Method not allowed on this path",
            ProblemCode::IdempotencyConflict => "Idempotency key reused with a different request",
            ProblemCode::IdempotencyInFlight => "A request with this idempotency key is running",
            ProblemCode::PayloadTooLarge => "The request body is too large",
            ProblemCode::UnsupportedMediaType => "The request body must be application/json",
            ProblemCode::UnsupportedAction => "The backend's adapter cannot do this action",
            ProblemCode::RateLimited => "Rate limited",
            ProblemCode::UpstreamUnauthorized => "The backend refused Sever's credentials",
            ProblemCode::UpstreamRejected => "The backend refused the request",
            ProblemCode::UpstreamError => "The backend failed",
            ProblemCode::UpstreamUnavailable => "The backend cannot be reached",
            ProblemCode::Overloaded => "Sever is overloaded",
            ProblemCode::CircuitOpen => "The backend's circuit breaker is open",
            ProblemCode::AuditUnavailable => "The audit log cannot be written",
            ProblemCode::UpstreamTimeout => "The backend did not answer in time",
            ProblemCode::Internal => "Internal error",
            ProblemCode::RequestTimeout => "The request did not arrive in time",
            ProblemCode::HeadersTooLarge => "The request head is too large",
            ProblemCode::NotImplemented => "The request uses a feature Sever does not implement",
            ProblemCode::HttpVersionNotSupported => "The HTTP version is not supported",
            ProblemCode::ApprovalNotFound => "No approval by that id",
            ProblemCode::ApprovalDecided => "The approval was already approved or denied",
            ProblemCode::ApprovalExpired => "The approval expired before it was decided",
        }
    }

    /// The problem `type` URI reference (`/problems/target-not-found`).
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.as_str().replace('_', "-"))
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<ProblemCode> {
        ProblemCode::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ProblemKind> for ProblemCode {
    /// The code Sever answers a plugin's problem of this kind with (the table of
    /// [`ProblemKind::canonical_code`]).
    fn from(kind: ProblemKind) -> Self {
        match kind {
            ProblemKind::TargetNotFound => ProblemCode::TargetNotFound,
            ProblemKind::InvalidTarget => ProblemCode::InvalidRequest,
            ProblemKind::CredentialsRefused => ProblemCode::UpstreamUnauthorized,
            ProblemKind::Rejected => ProblemCode::UpstreamRejected,
            ProblemKind::VendorError | ProblemKind::Unreadable => ProblemCode::UpstreamError,
            ProblemKind::RateLimited => ProblemCode::RateLimited,
            ProblemKind::Unavailable => ProblemCode::UpstreamUnavailable,
            ProblemKind::Timeout => ProblemCode::UpstreamTimeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_answered_with_the_code_the_abi_documents() {
        for kind in ProblemKind::ALL {
            assert_eq!(
                ProblemCode::from(kind).as_str(),
                kind.canonical_code(),
                "{kind}"
            );
        }
    }

    #[test]
    fn no_kind_becomes_an_answer_about_the_caller() {
        for kind in ProblemKind::ALL {
            let status = ProblemCode::from(kind).status();
            assert!(
                ![401, 403, 409, 413, 415].contains(&status),
                "{kind}: {status}"
            );
            assert_ne!(
                ProblemCode::from(kind),
                ProblemCode::UnknownBackend,
                "{kind}"
            );
        }
    }

    #[test]
    fn codes_parse_back_from_their_wire_names() {
        for code in ProblemCode::ALL {
            assert_eq!(ProblemCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(ProblemCode::parse("upstream-error"), None);
    }
}
