//! The exchanges beyond HTTP (ABI 3.1) — a Redis command, an SQL query, an MQTT request, a
//! NATS request — and what the host hands back for each: exactly what the server said.
//!
//! The host owns one long-lived, authenticated connection per backend for these, opened
//! from the plugin's [`ConnectionSpec`](crate::ConnectionSpec); a step only says what to
//! send on it. Identifiers are data, never syntax: an argument array, a query parameter, a
//! payload — never spliced into a command line or an SQL text.

use serde::{Deserialize, Serialize};

/// What every exchange shares, whatever its protocol (an HTTP [`crate::VendorRequest`]
/// carries the same fields itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Exchange {
    /// True when performing the exchange twice has the effect of once: only such exchanges
    /// are retried, and a retry is planned again by the plugin.
    pub idempotent: bool,
    /// A tighter limit than the backend's `timeout_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Single-flight key (see [`crate::VendorRequest::share`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<String>,
    /// What the exchange is for, in a few words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Literal strings in the exchange that must never be shown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub redact: Vec<String>,
}

/// One Redis command, as its arguments (RESP2 bulk strings):
/// `["CLIENT", "KILL", "ID", "7"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedisCommand {
    pub args: Vec<String>,
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// What a Redis server answered. Text is UTF-8 (the host replaces invalid sequences).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisReply {
    /// `:7`.
    Integer(i64),
    /// `+OK`.
    Simple(String),
    /// A bulk string (`CLIENT LIST`'s lines).
    Bulk(String),
    /// The null bulk string or array.
    Nil,
    /// `-ERR …`, `-NOPERM …`, `-WRONGPASS …` (also from the connection's `AUTH`): the whole
    /// text, its first word the error's code.
    Error(String),
    /// An array of strings (integers as their decimal text).
    Array(Vec<String>),
}

/// A typed SQL value: a query's parameter, or a cell of a result (another type arrives as
/// the server's text form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlValue {
    Null,
    Bool(bool),
    Int4(i32),
    Int8(i64),
    Text(String),
}

/// One parameterised SQL statement: `$1`, `$2`… are `params`, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlQuery {
    pub sql: String,
    #[serde(default)]
    pub params: Vec<SqlValue>,
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// A message of the SQL server: an error, or a notice that came with a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SqlMessage {
    /// `ERROR`, `FATAL`, `WARNING`…
    pub severity: String,
    /// The SQLSTATE (`42501`, `28P01`).
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What an SQL statement gave: its rows, or the error that stopped it (also an
/// authentication error when the connection was refused), and the notices sent with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SqlResult {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SqlMessage>,
    pub rows: Vec<Vec<SqlValue>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<SqlMessage>,
}

/// Publish `payload` on `topic`, then gather the messages on `response_topic` that contain
/// one of the `correlation` strings (the exchange ends when one message has come for each,
/// or at the timeout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttRequest {
    pub topic: String,
    /// 0, 1 or 2.
    pub qos: u8,
    pub payload: String,
    pub response_topic: String,
    #[serde(default)]
    pub correlation: Vec<String>,
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// What an MQTT broker said: the reason codes of the connection and of the publish, and the
/// matching answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MqttResult {
    /// CONNACK's reason code (0 accepted; 0x86 bad user name or password, 0x87 not
    /// authorized).
    pub connack_reason: u8,
    /// PUBACK's reason code (0 accepted; 0x87 not authorized).
    pub puback_reason: u8,
    /// The matching messages' payloads, in arrival order.
    pub messages: Vec<String>,
}

/// A NATS request on `subject`: the first reply (`gather_ms` 0), or every reply within
/// `gather_ms` (a discovery every server of a cluster answers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsRequest {
    pub subject: String,
    pub payload: String,
    #[serde(default)]
    pub gather_ms: u64,
    #[serde(flatten)]
    pub exchange: Exchange,
}

/// What NATS servers said.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NatsReplies {
    /// The server answered that the subject has no responders.
    pub no_responders: bool,
    /// The server's `-ERR` text (`'Authorization Violation'`), when it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The replies' payloads, in arrival order.
    pub replies: Vec<String>,
}
