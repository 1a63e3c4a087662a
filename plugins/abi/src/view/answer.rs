//! The answers to the exchanges beyond HTTP (ABI 3.1), as inputs: written by the host,
//! read (and copied into owned values) by the plugin.

use super::exchange::{sql_value_from_view, sql_value_view};
use super::{array, optional, read_payload, text};
use crate::kinds::{InputKind, RedisReplyKind};
use crate::model::{MqttResult, NatsReplies, RedisReply, SqlMessage, SqlResult, SqlValue};
use crate::raw::{
    SeverBytes, SeverInput, SeverMqttResult, SeverNatsReplies, SeverRedisReply, SeverSqlMessage,
    SeverSqlResult, SeverSqlValue,
};
use std::ffi::c_void;

fn input<T>(kind: InputKind, payload: &T) -> SeverInput {
    SeverInput {
        kind: kind.code(),
        size: std::mem::size_of::<T>() as u32,
        payload: (payload as *const T).cast::<c_void>(),
    }
}

fn bytes_of(items: &[String]) -> Vec<SeverBytes> {
    items
        .iter()
        .map(|i| SeverBytes::from_slice(i.as_bytes()))
        .collect()
}

/// Reads a borrowed list of strings.
///
/// # Safety
/// `ptr` must point to `len` readable views (or be null), each readable.
unsafe fn strings(ptr: *const SeverBytes, len: usize, what: &str) -> Result<Vec<String>, String> {
    // SAFETY (both): caller contract.
    unsafe { array(ptr, len) }
        .iter()
        .map(|b| unsafe { text(*b, what) }.map(str::to_owned))
        .collect()
}

/// Host side: calls `f` with a view of a Redis reply.
pub(super) fn redis_input<R>(reply: &RedisReply, f: impl FnOnce(&SeverInput) -> R) -> R {
    let empty = Vec::new();
    let (kind, integer, text, items) = match reply {
        RedisReply::Integer(i) => (RedisReplyKind::Integer, *i, SeverBytes::NONE, empty),
        RedisReply::Simple(t) => (
            RedisReplyKind::Simple,
            0,
            SeverBytes::from_slice(t.as_bytes()),
            empty,
        ),
        RedisReply::Bulk(t) => (
            RedisReplyKind::Bulk,
            0,
            SeverBytes::from_slice(t.as_bytes()),
            empty,
        ),
        RedisReply::Nil => (RedisReplyKind::Nil, 0, SeverBytes::NONE, empty),
        RedisReply::Error(t) => (
            RedisReplyKind::Error,
            0,
            SeverBytes::from_slice(t.as_bytes()),
            empty,
        ),
        RedisReply::Array(items) => (RedisReplyKind::Array, 0, SeverBytes::NONE, bytes_of(items)),
    };
    let raw = SeverRedisReply {
        kind: kind.code(),
        reserved: 0,
        integer,
        text,
        items: items.as_ptr(),
        items_len: items.len(),
    };
    f(&input(InputKind::RedisReply, &raw))
}

/// Plugin side: the Redis reply an input describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn redis_from_input(
    payload: *const c_void,
    size: u32,
) -> Result<RedisReply, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverRedisReply = unsafe { read_payload(payload, size, "the Redis reply") }?;
    let text = || unsafe { text(raw.text, "the Redis reply") }.map(str::to_owned);
    Ok(
        match RedisReplyKind::try_from(raw.kind).map_err(|e| e.to_string())? {
            RedisReplyKind::Integer => RedisReply::Integer(raw.integer),
            RedisReplyKind::Simple => RedisReply::Simple(text()?),
            RedisReplyKind::Bulk => RedisReply::Bulk(text()?),
            RedisReplyKind::Nil => RedisReply::Nil,
            RedisReplyKind::Error => RedisReply::Error(text()?),
            RedisReplyKind::Array => RedisReply::Array(unsafe {
                strings(raw.items, raw.items_len, "a Redis array item")
            }?),
        },
    )
}

fn message_view(m: &SqlMessage) -> SeverSqlMessage {
    SeverSqlMessage {
        severity: SeverBytes::from_slice(m.severity.as_bytes()),
        code: SeverBytes::from_slice(m.code.as_bytes()),
        message: SeverBytes::from_slice(m.message.as_bytes()),
        detail: SeverBytes::from_opt(m.detail.as_deref()),
    }
}

/// # Safety
/// Every pointer in `raw` must be readable for the call.
unsafe fn message_from_view(raw: &SeverSqlMessage) -> Result<SqlMessage, String> {
    // SAFETY (every block): caller contract.
    Ok(SqlMessage {
        severity: unsafe { text(raw.severity, "a severity") }?.to_owned(),
        code: unsafe { text(raw.code, "an SQLSTATE") }?.to_owned(),
        message: unsafe { text(raw.message, "a message") }?.to_owned(),
        detail: unsafe { optional(raw.detail, "a detail") }?.map(str::to_owned),
    })
}

/// Host side: calls `f` with a view of an SQL result. Rows of unequal length are refused by
/// the plugin side; the host sends what the server gave, row by row.
pub(super) fn sql_input<R>(result: &SqlResult, f: impl FnOnce(&SeverInput) -> R) -> R {
    let columns = result.rows.first().map_or(0, Vec::len);
    let values: Vec<SeverSqlValue> = result
        .rows
        .iter()
        .flat_map(|row| row.iter().map(sql_value_view))
        .collect();
    let notices: Vec<SeverSqlMessage> = result.notices.iter().map(message_view).collect();
    let empty = SqlMessage {
        severity: String::new(),
        code: String::new(),
        message: String::new(),
        detail: None,
    };
    let raw = SeverSqlResult {
        failed: u32::from(result.error.is_some()),
        reserved: 0,
        error: message_view(result.error.as_ref().unwrap_or(&empty)),
        columns,
        values: values.as_ptr(),
        values_len: values.len(),
        notices: notices.as_ptr(),
        notices_len: notices.len(),
    };
    f(&input(InputKind::SqlResult, &raw))
}

/// Plugin side: the SQL result an input describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn sql_from_input(
    payload: *const c_void,
    size: u32,
) -> Result<SqlResult, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverSqlResult = unsafe { read_payload(payload, size, "the SQL result") }?;
    let values = unsafe { array(raw.values, raw.values_len) }
        .iter()
        .map(|v| unsafe { sql_value_from_view(v) })
        .collect::<Result<Vec<SqlValue>, String>>()?;
    let rows = match raw.columns {
        0 if values.is_empty() => Vec::new(),
        0 => return Err("SQL values without columns".into()),
        n if values.len() % n != 0 => {
            return Err(format!(
                "{} SQL values do not fill rows of {n}",
                values.len()
            ))
        }
        n => values.chunks(n).map(<[SqlValue]>::to_vec).collect(),
    };
    let notices = unsafe { array(raw.notices, raw.notices_len) }
        .iter()
        .map(|m| unsafe { message_from_view(m) })
        .collect::<Result<Vec<_>, String>>()?;
    let error = if raw.failed != 0 {
        Some(unsafe { message_from_view(&raw.error) }?)
    } else {
        None
    };
    Ok(SqlResult {
        error,
        rows,
        notices,
    })
}

/// Host side: calls `f` with a view of an MQTT result.
pub(super) fn mqtt_input<R>(result: &MqttResult, f: impl FnOnce(&SeverInput) -> R) -> R {
    let messages = bytes_of(&result.messages);
    let raw = SeverMqttResult {
        connack_reason: u32::from(result.connack_reason),
        puback_reason: u32::from(result.puback_reason),
        messages: messages.as_ptr(),
        messages_len: messages.len(),
    };
    f(&input(InputKind::MqttResult, &raw))
}

/// Plugin side: the MQTT result an input describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn mqtt_from_input(
    payload: *const c_void,
    size: u32,
) -> Result<MqttResult, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverMqttResult = unsafe { read_payload(payload, size, "the MQTT result") }?;
    let reason = |code: u32| u8::try_from(code).map_err(|_| format!("MQTT reason code {code}"));
    Ok(MqttResult {
        connack_reason: reason(raw.connack_reason)?,
        puback_reason: reason(raw.puback_reason)?,
        messages: unsafe { strings(raw.messages, raw.messages_len, "an MQTT message") }?,
    })
}

/// Host side: calls `f` with a view of NATS replies.
pub(super) fn nats_input<R>(replies: &NatsReplies, f: impl FnOnce(&SeverInput) -> R) -> R {
    let items = bytes_of(&replies.replies);
    let raw = SeverNatsReplies {
        no_responders: u32::from(replies.no_responders),
        reserved: 0,
        error: SeverBytes::from_opt(replies.error.as_deref()),
        replies: items.as_ptr(),
        replies_len: items.len(),
    };
    f(&input(InputKind::NatsReplies, &raw))
}

/// Plugin side: the NATS replies an input describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn nats_from_input(
    payload: *const c_void,
    size: u32,
) -> Result<NatsReplies, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverNatsReplies = unsafe { read_payload(payload, size, "the NATS replies") }?;
    Ok(NatsReplies {
        no_responders: raw.no_responders != 0,
        error: unsafe { optional(raw.error, "the NATS error") }?.map(str::to_owned),
        replies: unsafe { strings(raw.replies, raw.replies_len, "a NATS reply") }?,
    })
}
