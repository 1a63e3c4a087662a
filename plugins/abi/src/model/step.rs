//! What an adapter asks of the host (steps), and what the host answers (inputs).

use super::exchange::{
    Exchange, MqttRequest, MqttResult, NatsReplies, NatsRequest, RedisCommand, RedisReply,
    SqlQuery, SqlResult,
};
use crate::raw::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// One HTTP request the host is asked to send to the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorRequest {
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// Absolute `http://` or `https://` URL. Build it with [`crate::encode`] helpers.
    pub url: String,
    /// Header name/value pairs in order. `Host` and `Content-Length` are set by the host.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Request body (empty for none).
    #[serde(default)]
    pub body: String,
    /// True when sending this request twice has the same effect as once: only such
    /// requests are retried, and a retry goes back through [`crate::Adapter::resume`]
    /// with [`Input::Retry`].
    #[serde(default)]
    pub idempotent: bool,
    /// A tighter limit for this call than the backend's `timeout_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Single-flight key: concurrent flows on the same backend whose steps carry the same
    /// key send one request; every waiting flow is resumed with the one answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    /// What this call is for, in a few words ("token", "list connections"); shown in
    /// traces and in dry-run output (`planning_stops`: "needs the vendor's answer to `purpose`").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Literal strings in this request that must never be shown (a signature, a token
    /// taken from a cache). Secret settings and `Authorization` headers are redacted by
    /// the host without being listed here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
}

impl VendorRequest {
    /// A request with no headers and no body.
    pub fn new(method: &str, url: String) -> Self {
        VendorRequest {
            method: method.to_owned(),
            url,
            headers: Vec::new(),
            body: String::new(),
            idempotent: false,
            timeout_ms: None,
            share: None,
            purpose: None,
            redact: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`: a [`Value`] (`json!`) or,
    /// cheaper on the hot path, any `Serialize` type (a struct of borrowed fields).
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        // A `Value` or a derived `Serialize` with string keys never fails to serialize;
        // an impl that does yields an empty body, which the vendor refuses visibly.
        self.body = serde_json::to_string(body).unwrap_or_default();
        self
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Marks the request safe to send more than once.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// Names what the call is for.
    pub fn purpose(mut self, purpose: &str) -> Self {
        self.purpose = Some(purpose.to_owned());
        self
    }

    /// Sets the single-flight key.
    pub fn share(mut self, key: &str) -> Self {
        self.share = Some(key.to_owned());
        self
    }

    /// Marks a literal value as secret.
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.redact.push(secret.into());
        self
    }
}

/// The vendor's answer to a [`VendorRequest`], as handed to [`crate::Adapter::resume`].
#[derive(Debug, Clone, Copy)]
pub struct VendorResponse<'a> {
    pub status: u16,
    /// Header names are lowercase.
    pub headers: &'a [(&'a str, &'a [u8])],
    pub body: &'a [u8],
}

impl<'a> VendorResponse<'a> {
    /// The first header with this (lowercase) name, if it is valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(self.body).ok()
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.body)
    }
}

/// Why a flow is resumed. Non-exhaustive: a later minor version of the ABI adds the answer
/// of a new exchange kind, and an adapter only ever receives the answers of the kinds it
/// plans, so a wildcard arm (`_ => unreachable!(…)`) covers the rest.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Input<'a> {
    /// The vendor answered the last [`Step::Send`].
    Response(VendorResponse<'a>),
    /// The last request was idempotent and failed (no answer, or a problem the adapter
    /// marked retryable): plan it again (fresh nonce, fresh timestamp). `attempt` counts
    /// from 1.
    Retry { attempt: u32 },
    /// (3.1) The server answered the last [`Step::Redis`].
    Redis(&'a RedisReply),
    /// (3.1) The server answered the last [`Step::Sql`].
    Sql(&'a SqlResult),
    /// (3.1) The broker answered the last [`Step::Mqtt`].
    Mqtt(&'a MqttResult),
    /// (3.1) The servers answered the last [`Step::Nats`].
    Nats(&'a NatsReplies),
}

/// What an adapter asks of the host next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Send this HTTP request and resume the flow with the answer.
    Send(VendorRequest),
    /// The action is complete.
    Done(Success),
    /// The action failed.
    Fail(Problem),
    /// (3.1) Send this Redis command on the backend's connection.
    Redis(RedisCommand),
    /// (3.1) Run this SQL query on the backend's connection.
    Sql(SqlQuery),
    /// (3.1) Publish this MQTT request on the backend's connection and gather its answers.
    Mqtt(MqttRequest),
    /// (3.1) Send this NATS request on the backend's connection and gather its replies.
    Nats(NatsRequest),
}

impl Step {
    /// The step's kind.
    pub fn kind(&self) -> crate::StepKind {
        match self {
            Step::Send(_) => crate::StepKind::Http,
            Step::Done(_) => crate::StepKind::Done,
            Step::Fail(_) => crate::StepKind::Fail,
            Step::Redis(_) => crate::StepKind::Redis,
            Step::Sql(_) => crate::StepKind::Sql,
            Step::Mqtt(_) => crate::StepKind::Mqtt,
            Step::Nats(_) => crate::StepKind::Nats,
        }
    }

    /// The exchange's options, for a step that asks for one (not `done` or `fail`).
    pub fn exchange(&self) -> Option<ExchangeOptions<'_>> {
        match self {
            Step::Send(r) => Some(ExchangeOptions {
                idempotent: r.idempotent,
                timeout_ms: r.timeout_ms,
                share: r.share.as_deref(),
                purpose: r.purpose.as_deref(),
                redact: &r.redact,
            }),
            Step::Redis(c) => Some((&c.exchange).into()),
            Step::Sql(q) => Some((&q.exchange).into()),
            Step::Mqtt(m) => Some((&m.exchange).into()),
            Step::Nats(n) => Some((&n.exchange).into()),
            Step::Done(_) | Step::Fail(_) => None,
        }
    }
}

/// The options every exchange carries, whatever its kind, borrowed from a [`Step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeOptions<'a> {
    pub idempotent: bool,
    pub timeout_ms: Option<u64>,
    pub share: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub redact: &'a [String],
}

impl<'a> From<&'a Exchange> for ExchangeOptions<'a> {
    fn from(e: &'a Exchange) -> Self {
        ExchangeOptions {
            idempotent: e.idempotent,
            timeout_ms: e.timeout_ms,
            share: e.share.as_deref(),
            purpose: e.purpose.as_deref(),
            redact: &e.redact,
        }
    }
}

codes! {
    /// `done` or `accepted` ([`SeverDone::outcome`](crate::raw::SeverDone::outcome)).
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    Outcome, "outcome code" {
        /// The vendor reports the cut as made.
        Done = SEVER_OUTCOME_DONE,
        /// The vendor acknowledged it and completes it asynchronously.
        Accepted = SEVER_OUTCOME_ACCEPTED,
    }
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Accepted => "accepted",
        }
    }
}

/// A successful end of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Success {
    pub outcome: Outcome,
    /// What the vendor said (`status`, `request_id`, counts…), shown to the caller.
    #[serde(default)]
    pub vendor: Map<String, Value>,
}

codes! {
    /// What a failed vendor interaction means, in an adapter's words
    /// ([`SeverFail::problem`](crate::raw::SeverFail::problem)). The host turns each kind
    /// into one canonical problem code ([`ProblemKind::canonical_code`]); an adapter cannot
    /// produce any other (no 401, 403, 404 `unknown_backend`, 409, 413 or 415: those are
    /// Sever's own answers about its caller).
    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    ProblemKind, "problem kind" {
        /// The vendor has no such client, connection, user or binding.
        TargetNotFound = SEVER_PROBLEM_TARGET_NOT_FOUND,
        /// The target cannot be addressed at this vendor (not the id format it needs, a
        /// character it cannot carry); nothing was sent.
        InvalidTarget = SEVER_PROBLEM_INVALID_TARGET,
        /// The vendor refused Sever's credentials (its 401/403).
        CredentialsRefused = SEVER_PROBLEM_CREDENTIALS_REFUSED,
        /// The vendor refused the request (another 4xx).
        Rejected = SEVER_PROBLEM_REJECTED,
        /// The vendor failed (a 5xx, an error it reports as its own).
        VendorError = SEVER_PROBLEM_VENDOR_ERROR,
        /// The vendor's answer cannot be read.
        Unreadable = SEVER_PROBLEM_UNREADABLE,
        /// The vendor throttles; set [`Problem::retry_after`] when it says how long.
        RateLimited = SEVER_PROBLEM_RATE_LIMITED,
        /// The vendor says it cannot serve now (maintenance, starting, a dependency down).
        Unavailable = SEVER_PROBLEM_UNAVAILABLE,
        /// The vendor reports that it timed out.
        Timeout = SEVER_PROBLEM_TIMEOUT,
    }
}

impl ProblemKind {
    /// The kind's wire name (`target_not_found`, `credentials_refused`…).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::TargetNotFound => "target_not_found",
            ProblemKind::InvalidTarget => "invalid_target",
            ProblemKind::CredentialsRefused => "credentials_refused",
            ProblemKind::Rejected => "rejected",
            ProblemKind::VendorError => "vendor_error",
            ProblemKind::Unreadable => "unreadable",
            ProblemKind::RateLimited => "rate_limited",
            ProblemKind::Unavailable => "unavailable",
            ProblemKind::Timeout => "timeout",
        }
    }

    /// The canonical problem code Sever answers a failure of this kind with: part of the
    /// ABI's meaning, so that an adapter author knows what the caller will see.
    ///
    /// | kind | code | status |
    /// |---|---|---|
    /// | `target_not_found` | `target_not_found` | 404 |
    /// | `invalid_target` | `invalid_request` | 400 |
    /// | `credentials_refused` | `upstream_unauthorized` | 502 |
    /// | `rejected` | `upstream_rejected` | 502 |
    /// | `vendor_error`, `unreadable` | `upstream_error` | 502 |
    /// | `rate_limited` | `rate_limited` | 429 |
    /// | `unavailable` | `upstream_unavailable` | 502 |
    /// | `timeout` | `upstream_timeout` | 504 |
    pub fn canonical_code(self) -> &'static str {
        match self {
            ProblemKind::TargetNotFound => "target_not_found",
            ProblemKind::InvalidTarget => "invalid_request",
            ProblemKind::CredentialsRefused => "upstream_unauthorized",
            ProblemKind::Rejected => "upstream_rejected",
            ProblemKind::VendorError | ProblemKind::Unreadable => "upstream_error",
            ProblemKind::RateLimited => "rate_limited",
            ProblemKind::Unavailable => "upstream_unavailable",
            ProblemKind::Timeout => "upstream_timeout",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<ProblemKind> {
        ProblemKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed end of a flow, as the adapter reports it. The host maps `kind` to the
/// canonical code and adds `request_id`, `backend`, `status`, `title` and `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// Human explanation; include the vendor's own message.
    pub detail: String,
    /// What the vendor said: `status`, `code`, `message`, `request_id`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<Map<String, Value>>,
    /// Worth trying again (only acted on for idempotent requests, within the deadline).
    #[serde(default)]
    pub retryable: bool,
    /// The vendor's `Retry-After`, passed on with 429 answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
}

impl Problem {
    /// A problem of a kind, with a detail.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        Problem {
            kind,
            detail: detail.into(),
            vendor: None,
            retryable: false,
            retry_after: None,
        }
    }

    /// Attaches what the vendor said.
    pub fn with_vendor(mut self, vendor: Map<String, Value>) -> Self {
        self.vendor = Some(vendor);
        self
    }

    /// Marks the problem worth retrying.
    pub fn retryable(mut self) -> Self {
        self.retryable = true;
        self
    }
}
