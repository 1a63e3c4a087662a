//! The payloads of the exchanges beyond HTTP (ABI 3.1): Redis commands, SQL queries, MQTT
//! requests and NATS requests, and the answers the host hands back.

use super::{SeverBytes, SeverExchange};

/// [`SEVER_STEP_REDIS`]: one command as an array of arguments (RESP2 bulk strings): an
/// identifier is always one whole argument, never spliced into another.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverRedisCommand {
    pub exchange: SeverExchange,
    pub args: *const SeverBytes,
    pub args_len: usize,
}

/// [`SEVER_INPUT_REDIS_REPLY`]: what the server answered, exactly.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverRedisReply {
    /// One of the `SEVER_REDIS_*` kinds.
    pub kind: u32,
    /// Always 0.
    pub reserved: u32,
    /// [`SEVER_REDIS_INTEGER`]: the integer.
    pub integer: i64,
    /// [`SEVER_REDIS_SIMPLE`], [`SEVER_REDIS_BULK`], [`SEVER_REDIS_ERROR`]: the text (an
    /// error's whole text: `ERR …`, `NOPERM …`, `WRONGPASS …`).
    pub text: SeverBytes,
    /// [`SEVER_REDIS_ARRAY`]: the items.
    pub items: *const SeverBytes,
    pub items_len: usize,
}

/// A typed SQL value: a query's parameter, or a cell of a result.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverSqlValue {
    /// One of the `SEVER_SQL_*` kinds.
    pub kind: u32,
    /// Always 0.
    pub reserved: u32,
    /// [`SEVER_SQL_BOOL`], [`SEVER_SQL_INT4`], [`SEVER_SQL_INT8`]: the value.
    pub integer: i64,
    /// [`SEVER_SQL_TEXT`]: the value.
    pub text: SeverBytes,
}

/// [`SEVER_STEP_SQL`]: one parameterised statement. Identifiers are parameters
/// (`$1`, `$2`…), never spliced into `sql`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverSqlQuery {
    pub exchange: SeverExchange,
    pub sql: SeverBytes,
    pub params: *const SeverSqlValue,
    pub params_len: usize,
}

/// A server message: an error, or a notice (a `WARNING`) that came with a result.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverSqlMessage {
    /// `ERROR`, `FATAL`, `WARNING`, `NOTICE`…
    pub severity: SeverBytes,
    /// The SQLSTATE (`42501`).
    pub code: SeverBytes,
    pub message: SeverBytes,
    /// The server's detail, or null.
    pub detail: SeverBytes,
}

/// [`SEVER_INPUT_SQL_RESULT`]: the rows, or the server's error, and the notices.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverSqlResult {
    /// 1 when the statement (or the connection's authentication) failed: `error` holds why,
    /// and there are no rows.
    pub failed: u32,
    /// Always 0.
    pub reserved: u32,
    pub error: SeverSqlMessage,
    /// Values per row.
    pub columns: usize,
    /// `rows × columns` values, row by row.
    pub values: *const SeverSqlValue,
    pub values_len: usize,
    pub notices: *const SeverSqlMessage,
    pub notices_len: usize,
}

/// [`SEVER_STEP_MQTT`]: publish a message and gather the answers that carry one of the
/// correlation strings (a control-topic request, such as Mosquitto's dynamic security).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverMqttRequest {
    pub exchange: SeverExchange,
    pub topic: SeverBytes,
    /// 0, 1 or 2.
    pub qos: u32,
    /// Always 0.
    pub reserved: u32,
    pub payload: SeverBytes,
    /// Where the answers are published (subscribed before the first publish).
    pub response_topic: SeverBytes,
    /// The answer is every message on `response_topic` containing one of these strings;
    /// the exchange ends when one message for each has arrived (or at the timeout).
    pub correlation: *const SeverBytes,
    pub correlation_len: usize,
}

/// [`SEVER_INPUT_MQTT_RESULT`]: what the broker said.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverMqttResult {
    /// The CONNACK reason code of the connection (0 = accepted; 0x86, 0x87: refused).
    pub connack_reason: u32,
    /// The PUBACK reason code of the publish (0 = accepted; 0x87: not authorized).
    pub puback_reason: u32,
    /// The matching messages' payloads, in arrival order.
    pub messages: *const SeverBytes,
    pub messages_len: usize,
}

/// [`SEVER_STEP_NATS`]: a request on a subject, gathering its replies.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverNatsRequest {
    pub exchange: SeverExchange,
    pub subject: SeverBytes,
    pub payload: SeverBytes,
    /// 0: the first reply ends the exchange; otherwise every reply within this many
    /// milliseconds (a discovery request every server answers).
    pub gather_ms: u64,
}

/// [`SEVER_INPUT_NATS_REPLIES`]: what the servers said.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverNatsReplies {
    /// 1 when the server answered that the subject has no responders.
    pub no_responders: u32,
    /// Always 0.
    pub reserved: u32,
    /// The server's `-ERR` text when it refused the connection or the request, or null.
    pub error: SeverBytes,
    /// The replies' payloads, in arrival order.
    pub replies: *const SeverBytes,
    pub replies_len: usize,
}
