//! The messages that cross the plugin boundary, as plain Rust types.
//!
//! Metadata and settings cross the boundary as JSON; requests and steps as borrowed
//! `#[repr(C)]` views of these types (ABI v2, see [`crate::abi`]). The host and the SDK share
//! these definitions, so an adapter never writes or parses JSON for the boundary itself.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A canonical action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// End a client's live session on a broker; it may reconnect by itself.
    Disconnect,
    /// End one connection (`connection_id`) or every connection of a user (`user_id`).
    Terminate,
    /// Remove a subscription/binding so the client stops receiving from a source.
    Unbind,
}

impl Action {
    /// Every action, in the spec's order.
    pub const ALL: [Action; 3] = [Action::Disconnect, Action::Terminate, Action::Unbind];

    /// The action's wire name (`disconnect`, `terminate`, `unbind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Disconnect => "disconnect",
            Action::Terminate => "terminate",
            Action::Unbind => "unbind",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of the canonical `target` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetField {
    /// An MQTT client id, AMQP connection name, queue name…
    ClientId,
    /// One connection, in the vendor's own naming.
    ConnectionId,
    /// A user whose every connection is meant.
    UserId,
    /// Where messages come from (an exchange, an entity).
    Source,
    /// A topic or routing key.
    Topic,
    /// A vendor's message class (IUDX `message-type`).
    MessageType,
    /// A host whose every connection is meant (PrivX extension).
    HostId,
}

impl TargetField {
    /// Every field, in the spec's order.
    pub const ALL: [TargetField; 7] = [
        TargetField::ClientId,
        TargetField::ConnectionId,
        TargetField::UserId,
        TargetField::Source,
        TargetField::Topic,
        TargetField::MessageType,
        TargetField::HostId,
    ];

    /// The field's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetField::ClientId => "client_id",
            TargetField::ConnectionId => "connection_id",
            TargetField::UserId => "user_id",
            TargetField::Source => "source",
            TargetField::Topic => "topic",
            TargetField::MessageType => "message_type",
            TargetField::HostId => "host_id",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<TargetField> {
        TargetField::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for TargetField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identifiers of a canonical request. The host has validated every present field
/// (non-empty, at most 256 bytes, no control characters, not `.` or `..`) and checked that
/// the fields form one of the sets the adapter declared for the action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

impl Target {
    /// The value of one field.
    pub fn get(&self, field: TargetField) -> Option<&str> {
        match field {
            TargetField::ClientId => self.client_id.as_deref(),
            TargetField::ConnectionId => self.connection_id.as_deref(),
            TargetField::UserId => self.user_id.as_deref(),
            TargetField::Source => self.source.as_deref(),
            TargetField::Topic => self.topic.as_deref(),
            TargetField::MessageType => self.message_type.as_deref(),
            TargetField::HostId => self.host_id.as_deref(),
        }
    }

    /// A mutable slot for one field.
    pub fn slot(&mut self, field: TargetField) -> &mut Option<String> {
        match field {
            TargetField::ClientId => &mut self.client_id,
            TargetField::ConnectionId => &mut self.connection_id,
            TargetField::UserId => &mut self.user_id,
            TargetField::Source => &mut self.source,
            TargetField::Topic => &mut self.topic,
            TargetField::MessageType => &mut self.message_type,
            TargetField::HostId => &mut self.host_id,
        }
    }

    /// The fields that are present, in [`TargetField::ALL`] order.
    pub fn present(&self) -> impl Iterator<Item = TargetField> + '_ {
        TargetField::ALL
            .into_iter()
            .filter(|f| self.get(*f).is_some())
    }

    /// The value of a field the host guaranteed present (it is in every accepted set).
    /// Returns `""` if absent, which a correct host never lets happen.
    pub fn field(&self, field: TargetField) -> &str {
        self.get(field).unwrap_or_default()
    }
}

/// The canonical request as an adapter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Sever's id for this request (also in `X-Request-Id`); adapters may pass it on.
    pub request_id: String,
    pub action: Action,
    pub target: Target,
    /// The caller's reason, for vendors that take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the host gives an adapter on every call instead of a clock and a random source,
/// so that adapters are deterministic under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    /// Wall-clock time, milliseconds since the Unix epoch (UTC).
    pub unix_ms: u64,
    /// Fresh random bytes for this call (nonces, request ids).
    pub random: [u8; 32],
}

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

/// Why a flow is resumed.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// The vendor answered the last [`Step::Send`].
    Response(VendorResponse<'a>),
    /// The last request was idempotent and failed (no answer, or a problem the adapter
    /// marked retryable): plan it again (fresh nonce, fresh timestamp). `attempt` counts
    /// from 1.
    Retry { attempt: u32 },
}

/// What an adapter asks of the host next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Send this request and resume the flow with the answer.
    Send(VendorRequest),
    /// The action is complete.
    Done(Success),
    /// The action failed.
    Fail(Problem),
}

/// `done` or `accepted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The vendor reports the cut as made.
    Done,
    /// The vendor acknowledged it and completes it asynchronously.
    Accepted,
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
}

impl ProblemCode {
    /// Every code, in the spec's table order.
    pub const ALL: [ProblemCode; 22] = [
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

/// A failed end of a flow, as the adapter reports it. The host adds `request_id`,
/// `backend`, `status`, `title` and `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    pub code: ProblemCode,
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
    /// A problem with a code and a detail.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Problem {
            code,
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

/// What a plugin can do, shown by `sever plugins` and `GET /v1/plugins`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginInfo {
    /// The name backends refer to (`plugin: cedalo`).
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line on what the adapter talks to.
    #[serde(default)]
    pub description: String,
    pub actions: Vec<ActionSpec>,
    pub settings: Vec<SettingSpec>,
}

impl PluginInfo {
    /// The spec of one action, if supported.
    pub fn action(&self, action: Action) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.action == action)
    }

    /// The settings keys marked secret.
    pub fn secret_keys(&self) -> impl Iterator<Item = &str> {
        self.settings
            .iter()
            .filter(|s| s.secret)
            .map(|s| s.key.as_str())
    }
}

/// One supported action and the target field sets it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub action: Action,
    /// Alternatives: the request's target must contain every field of exactly one set.
    /// privx `terminate`: `[[connection_id], [user_id]]`.
    pub target_sets: Vec<Vec<TargetField>>,
    /// Fields outside the sets that change the call's meaning (iudx `client_id`). They
    /// are passed on when present; other extra fields are dropped by the host.
    #[serde(default)]
    pub optional_fields: Vec<TargetField>,
    /// What the vendor call does, in a sentence.
    #[serde(default)]
    pub description: String,
}

/// One settings key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingSpec {
    pub key: String,
    /// Never logged, always redacted.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: String,
}

/// What a plugin receives when the host creates a backend instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// The backend's name in the config.
    pub name: String,
    /// The vendor base URL, without a trailing `/`.
    pub url: String,
    /// The backend's `settings` map, `${VAR}` already expanded.
    #[serde(default)]
    pub settings: Map<String, Value>,
}

/// A bad setting, reported as a config error naming the backend and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingError {
    /// The settings key (`token`), or `""` for the settings as a whole.
    pub key: String,
    /// What is wrong. Never include a secret value.
    pub message: String,
}

impl SettingError {
    /// An error about one key.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        SettingError {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
