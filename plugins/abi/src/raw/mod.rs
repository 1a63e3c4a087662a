//! The `#[repr(C)]` types and constants of the ABI, named as in C.
//!
//! `include/sever_plugin.h` is generated from this file by cbindgen (a test fails when the
//! checked-in header differs from a fresh generation), so what a C author reads and what
//! the Rust SDK and host use are one definition. Only plain integers, raw pointers,
//! `extern "C"` function pointers and the structs below cross the boundary.
//!
//! Every integer that stands for a choice (a status, a kind, a code) is a plain `u32`
//! here, never a Rust enum: a value the reader does not know must be refusable, and a
//! Rust enum holding an unknown discriminant is undefined behaviour. The readers convert
//! with checked `TryFrom`s (see [`crate::kinds`]).
//!
//! Growth. [`SeverStep`], [`SeverInput`] and [`SeverDescriptor`] carry a `size`. A payload
//! or descriptor of a later minor version may be longer than the reader's type: the reader
//! reads the fields it knows and ignores the rest. One of an older minor may be shorter:
//! fields past its `size` read as zero (every field added after 3.0 is defined so that
//! zero means "absent"). Nothing is ever shorter than its 3.0 layout.

use std::ffi::c_void;

/// The major ABI version: host and plugin must agree exactly. Bumped for any change a
/// plugin or host built before it would misread.
pub const SEVER_ABI_MAJOR: u32 = 3;
/// The minor ABI version: compatible additions (a new step kind, a field appended to a
/// payload or to the descriptor). A host loads plugins of any minor of its major.
pub const SEVER_ABI_MINOR: u32 = 1;

/// `"SEVERPLG"` as a little-endian `u64`: identifies a Sever plugin descriptor.
pub const SEVER_MAGIC: u64 = 0x474C505245564553;

/// A call succeeded: the outputs hold its answer.
pub const SEVER_STATUS_OK: u32 = 0;
/// A reported error: the error buffer holds a UTF-8 message (or JSON where documented).
pub const SEVER_STATUS_ERROR: u32 = 1;
/// The plugin caught a panic: the error buffer holds its message. The flow is never used
/// again (the host still frees it).
pub const SEVER_STATUS_PANIC: u32 = 2;

/// [`SeverDescriptor::flags`]: the plugin aborts the process on a panic (Rust's
/// `panic = "abort"`). The host refuses such a plugin.
pub const SEVER_FLAG_PANIC_ABORTS: u32 = 1;

/// [`SeverRequest::action`]: `disconnect`.
pub const SEVER_ACTION_DISCONNECT: u32 = 1;
/// [`SeverRequest::action`]: `terminate`.
pub const SEVER_ACTION_TERMINATE: u32 = 2;
/// [`SeverRequest::action`]: `unbind`.
pub const SEVER_ACTION_UNBIND: u32 = 3;

/// How many target fields a [`SeverRequest`] carries, in this order: `client_id`,
/// `connection_id`, `user_id`, `source`, `topic`, `message_type`, `host_id`.
pub const SEVER_TARGET_FIELDS: usize = 7;

/// [`SeverStep::kind`]: perform the [`SeverHttpRequest`] in `payload`.
pub const SEVER_STEP_HTTP: u32 = 1;
/// [`SeverStep::kind`]: the action is complete; `payload` is a [`SeverDone`].
pub const SEVER_STEP_DONE: u32 = 2;
/// [`SeverStep::kind`]: the action failed; `payload` is a [`SeverFail`].
pub const SEVER_STEP_FAIL: u32 = 3;

/// [`SeverStep::kind`] (3.1): send the [`SeverRedisCommand`] in `payload` on the backend's
/// Redis connection.
pub const SEVER_STEP_REDIS: u32 = 4;
/// [`SeverStep::kind`] (3.1): run the [`SeverSqlQuery`] in `payload` on the backend's SQL
/// connection.
pub const SEVER_STEP_SQL: u32 = 5;
/// [`SeverStep::kind`] (3.1): publish the [`SeverMqttRequest`] in `payload` on the backend's
/// MQTT connection and gather its answers.
pub const SEVER_STEP_MQTT: u32 = 6;
/// [`SeverStep::kind`] (3.1): send the [`SeverNatsRequest`] in `payload` on the backend's
/// NATS connection and gather its replies.
pub const SEVER_STEP_NATS: u32 = 7;

/// [`SeverInput::kind`]: the answer to an HTTP step; `payload` is a [`SeverHttpResponse`].
pub const SEVER_INPUT_HTTP_RESPONSE: u32 = 1;
/// [`SeverInput::kind`]: plan the last (idempotent) exchange again; `payload` is a
/// [`SeverRetry`].
pub const SEVER_INPUT_RETRY: u32 = 2;

/// [`SeverInput::kind`] (3.1): the answer to a Redis step; `payload` is a
/// [`SeverRedisReply`].
pub const SEVER_INPUT_REDIS_REPLY: u32 = 3;
/// [`SeverInput::kind`] (3.1): the answer to an SQL step; `payload` is a [`SeverSqlResult`].
pub const SEVER_INPUT_SQL_RESULT: u32 = 4;
/// [`SeverInput::kind`] (3.1): the answer to an MQTT step; `payload` is a
/// [`SeverMqttResult`].
pub const SEVER_INPUT_MQTT_RESULT: u32 = 5;
/// [`SeverInput::kind`] (3.1): the answer to a NATS step; `payload` is a
/// [`SeverNatsReplies`].
pub const SEVER_INPUT_NATS_REPLIES: u32 = 6;

/// [`SeverRedisReply::kind`]: an integer reply (`:n`), in `integer`.
pub const SEVER_REDIS_INTEGER: u32 = 1;
/// [`SeverRedisReply::kind`]: a simple string (`+OK`), in `text`.
pub const SEVER_REDIS_SIMPLE: u32 = 2;
/// [`SeverRedisReply::kind`]: a bulk string, in `text`.
pub const SEVER_REDIS_BULK: u32 = 3;
/// [`SeverRedisReply::kind`]: the null bulk string or null array.
pub const SEVER_REDIS_NIL: u32 = 4;
/// [`SeverRedisReply::kind`]: an error reply (`-ERR …`), its whole text in `text`.
pub const SEVER_REDIS_ERROR: u32 = 5;
/// [`SeverRedisReply::kind`]: an array of strings (or integers, as their decimal text), in
/// `items`.
pub const SEVER_REDIS_ARRAY: u32 = 6;

/// [`SeverSqlValue::kind`]: SQL `NULL`.
pub const SEVER_SQL_NULL: u32 = 1;
/// [`SeverSqlValue::kind`]: a boolean, in `integer` (0 or 1).
pub const SEVER_SQL_BOOL: u32 = 2;
/// [`SeverSqlValue::kind`]: a 32-bit integer (`int4`), in `integer`.
pub const SEVER_SQL_INT4: u32 = 3;
/// [`SeverSqlValue::kind`]: a 64-bit integer (`int8`), in `integer`.
pub const SEVER_SQL_INT8: u32 = 4;
/// [`SeverSqlValue::kind`]: text, in `text`. In a result, also any other type, as the
/// server's text form.
pub const SEVER_SQL_TEXT: u32 = 5;

/// [`SeverDone::outcome`]: the vendor reports the cut as made.
pub const SEVER_OUTCOME_DONE: u32 = 1;
/// [`SeverDone::outcome`]: the vendor acknowledged it and completes it asynchronously.
pub const SEVER_OUTCOME_ACCEPTED: u32 = 2;

/// [`SeverFail::problem`]: the vendor has no such client, connection, user or binding.
pub const SEVER_PROBLEM_TARGET_NOT_FOUND: u32 = 1;
/// [`SeverFail::problem`]: the target cannot be addressed at this vendor (not a UUID
/// where the vendor needs one, a character it cannot carry); nothing was sent.
pub const SEVER_PROBLEM_INVALID_TARGET: u32 = 2;
/// [`SeverFail::problem`]: the vendor refused Sever's credentials (its 401/403).
pub const SEVER_PROBLEM_CREDENTIALS_REFUSED: u32 = 3;
/// [`SeverFail::problem`]: the vendor refused the request (another 4xx).
pub const SEVER_PROBLEM_REJECTED: u32 = 4;
/// [`SeverFail::problem`]: the vendor failed (a 5xx, an error it reports as its own).
pub const SEVER_PROBLEM_VENDOR_ERROR: u32 = 5;
/// [`SeverFail::problem`]: the vendor's answer cannot be read.
pub const SEVER_PROBLEM_UNREADABLE: u32 = 6;
/// [`SeverFail::problem`]: the vendor throttles; `retry_after` carries its wait, if any.
pub const SEVER_PROBLEM_RATE_LIMITED: u32 = 7;
/// [`SeverFail::problem`]: the vendor says it cannot serve now (maintenance, not ready).
pub const SEVER_PROBLEM_UNAVAILABLE: u32 = 8;
/// [`SeverFail::problem`]: the vendor reports that it timed out.
pub const SEVER_PROBLEM_TIMEOUT: u32 = 9;

/// Borrowed bytes. A null `ptr` is *absent*; a non-null `ptr` with `len` 0 is the empty
/// string. Text is always UTF-8.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverBytes {
    pub ptr: *const u8,
    pub len: usize,
}

/// Bytes allocated by the plugin and handed to the host, which gives them back to the
/// plugin's `buf_free` unchanged. `cap` is the plugin's own (Rust: the `Vec`'s capacity).
#[repr(C)]
#[derive(Debug)]
pub struct SeverBuf {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

/// The host's clock and randomness for one call. Plugins never read a clock or draw
/// random numbers themselves.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverEnv {
    /// Milliseconds since the Unix epoch (UTC).
    pub unix_ms: u64,
    /// Fresh random bytes for this call (nonces, correlation ids).
    pub random: [u8; 32],
}

/// One header name and value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverHeader {
    pub name: SeverBytes,
    pub value: SeverBytes,
}

/// A canonical request, in host memory, borrowed for the call. The host has validated
/// every identifier and checked that the target holds one of the field sets the plugin
/// declared for the action.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverRequest {
    /// `sizeof(SeverRequest)` as the host knows it.
    pub size: u32,
    /// One of the `SEVER_ACTION_*` codes.
    pub action: u32,
    pub request_id: SeverBytes,
    /// The target's fields in the order of [`SEVER_TARGET_FIELDS`]; absent ones null.
    pub target: [SeverBytes; SEVER_TARGET_FIELDS],
    /// The caller's reason, or null.
    pub reason: SeverBytes,
}

/// What a plugin asks of the host next. The host owns this struct (it passes a pointer to
/// it as `out_step`); the plugin fills it in with a kind and a pointer to that kind's
/// payload in the plugin's own memory, valid until the next call on the same flow.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverStep {
    /// One of the `SEVER_STEP_*` kinds.
    pub kind: u32,
    /// The payload's size in bytes, as the plugin knows its type.
    pub size: u32,
    /// A [`SeverHttpRequest`], [`SeverDone`] or [`SeverFail`] (per `kind`).
    pub payload: *const c_void,
}

/// What every exchange a step asks for shares, whatever its protocol.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverExchange {
    /// 1 when performing the exchange twice has the effect of once: only such exchanges
    /// are retried (and a retry is planned again by the plugin).
    pub idempotent: u32,
    /// Always 0.
    pub reserved: u32,
    /// A per-exchange limit in milliseconds tighter than the backend's; 0 for none.
    pub timeout_ms: u64,
    /// The single-flight key (concurrent flows of one backend whose steps carry the same
    /// key share one exchange and its answer), or null.
    pub share: SeverBytes,
    /// What the exchange is for, in a few words ("token"), or null.
    pub purpose: SeverBytes,
    /// Literal strings in the exchange that must never be shown.
    pub redact: *const SeverBytes,
    pub redact_len: usize,
}

/// [`SEVER_STEP_HTTP`]: an HTTP request. `Host` and `Content-Length` are set by the host.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverHttpRequest {
    pub exchange: SeverExchange,
    pub method: SeverBytes,
    /// An absolute `http://` or `https://` URL.
    pub url: SeverBytes,
    pub headers: *const SeverHeader,
    pub headers_len: usize,
    /// Empty (or null) for none.
    pub body: SeverBytes,
}

/// [`SEVER_STEP_DONE`]: the action is complete.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverDone {
    /// [`SEVER_OUTCOME_DONE`] or [`SEVER_OUTCOME_ACCEPTED`].
    pub outcome: u32,
    /// Always 0.
    pub reserved: u32,
    /// What the vendor said, a JSON object; null for none.
    pub vendor: SeverBytes,
}

/// [`SEVER_STEP_FAIL`]: the action failed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverFail {
    /// One of the `SEVER_PROBLEM_*` kinds.
    pub problem: u32,
    /// 1 when the failure is worth retrying (acted on only for idempotent exchanges).
    pub retryable: u32,
    /// The human explanation, with the vendor's own words.
    pub detail: SeverBytes,
    /// The vendor's `Retry-After` (seconds or an HTTP date), or null.
    pub retry_after: SeverBytes,
    /// What the vendor said, a JSON object; null for none.
    pub vendor: SeverBytes,
}

/// Why a flow is resumed, in host memory, borrowed for the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverInput {
    /// One of the `SEVER_INPUT_*` kinds.
    pub kind: u32,
    /// The payload's size in bytes, as the host knows its type.
    pub size: u32,
    /// A [`SeverHttpResponse`] or [`SeverRetry`] (per `kind`).
    pub payload: *const c_void,
}

/// [`SEVER_INPUT_HTTP_RESPONSE`]: the vendor's HTTP answer.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverHttpResponse {
    /// The HTTP status (100–999).
    pub status: u32,
    /// Always 0.
    pub reserved: u32,
    /// Header names in lowercase ASCII.
    pub headers: *const SeverHeader,
    pub headers_len: usize,
    pub body: SeverBytes,
}

/// [`SEVER_INPUT_RETRY`]: plan the last exchange again (fresh nonce, fresh timestamp).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SeverRetry {
    /// The retry's number, from 1.
    pub attempt: u32,
}

mod descriptor;
mod exchanges;

pub use descriptor::*;
pub use exchanges::*;
