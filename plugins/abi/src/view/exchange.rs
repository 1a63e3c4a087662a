//! The exchanges beyond HTTP (ABI 3.1): each step's view, written by the plugin into its
//! [`StepStore`] and read by the host.

use super::step::{exchange_from_view, exchange_view, StepStore};
use super::{array, read_payload, text};
use crate::kinds::SqlValueKind;
use crate::model::{MqttRequest, NatsRequest, RedisCommand, SqlQuery, SqlValue};
use crate::raw::{
    SeverBytes, SeverMqttRequest, SeverNatsRequest, SeverRedisCommand, SeverSqlQuery, SeverSqlValue,
};
use std::ffi::c_void;

fn list(out: &mut Vec<SeverBytes>, items: &[String]) -> (*const SeverBytes, usize) {
    out.extend(items.iter().map(|i| SeverBytes::from_slice(i.as_bytes())));
    (out.as_ptr(), out.len())
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

/// A value as a view, pointing into `value`.
pub(super) fn sql_value_view(value: &SqlValue) -> SeverSqlValue {
    let (kind, integer, text) = match value {
        SqlValue::Null => (SqlValueKind::Null, 0, SeverBytes::NONE),
        SqlValue::Bool(b) => (SqlValueKind::Bool, i64::from(*b), SeverBytes::NONE),
        SqlValue::Int4(i) => (SqlValueKind::Int4, i64::from(*i), SeverBytes::NONE),
        SqlValue::Int8(i) => (SqlValueKind::Int8, *i, SeverBytes::NONE),
        SqlValue::Text(t) => (SqlValueKind::Text, 0, SeverBytes::from_slice(t.as_bytes())),
    };
    SeverSqlValue {
        kind: kind.code(),
        reserved: 0,
        integer,
        text,
    }
}

/// The value a view describes; an unknown kind, an `int4` out of range or a `bool` other
/// than 0 or 1 is refused.
///
/// # Safety
/// `raw.text` must be readable for the call.
pub(super) unsafe fn sql_value_from_view(raw: &SeverSqlValue) -> Result<SqlValue, String> {
    Ok(
        match SqlValueKind::try_from(raw.kind).map_err(|e| e.to_string())? {
            SqlValueKind::Null => SqlValue::Null,
            SqlValueKind::Bool => match raw.integer {
                0 => SqlValue::Bool(false),
                1 => SqlValue::Bool(true),
                other => return Err(format!("SQL bool {other}")),
            },
            SqlValueKind::Int4 => SqlValue::Int4(
                i32::try_from(raw.integer).map_err(|_| format!("int4 {}", raw.integer))?,
            ),
            SqlValueKind::Int8 => SqlValue::Int8(raw.integer),
            // SAFETY: caller contract.
            SqlValueKind::Text => SqlValue::Text(unsafe { text(raw.text, "SQL text") }?.to_owned()),
        },
    )
}

/// Plugin side: a Redis command's view.
pub(super) fn redis_view(store: &mut StepStore, command: &RedisCommand) -> SeverRedisCommand {
    let e = &command.exchange;
    let exchange = exchange_view(
        &mut store.redact,
        e.idempotent,
        e.timeout_ms,
        e.share.as_deref(),
        e.purpose.as_deref(),
        &e.redact,
    );
    let (args, args_len) = list(&mut store.list, &command.args);
    SeverRedisCommand {
        exchange,
        args,
        args_len,
    }
}

/// Host side: the Redis command a view describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn redis_from_view(
    payload: *const c_void,
    size: u32,
) -> Result<RedisCommand, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverRedisCommand = unsafe { read_payload(payload, size, "the Redis step") }?;
    Ok(RedisCommand {
        args: unsafe { strings(raw.args, raw.args_len, "a Redis argument") }?,
        exchange: unsafe { exchange_from_view(&raw.exchange) }?,
    })
}

/// Plugin side: an SQL query's view.
pub(super) fn sql_view(store: &mut StepStore, query: &SqlQuery) -> SeverSqlQuery {
    let e = &query.exchange;
    let exchange = exchange_view(
        &mut store.redact,
        e.idempotent,
        e.timeout_ms,
        e.share.as_deref(),
        e.purpose.as_deref(),
        &e.redact,
    );
    store.values.extend(query.params.iter().map(sql_value_view));
    SeverSqlQuery {
        exchange,
        sql: SeverBytes::from_slice(query.sql.as_bytes()),
        params: store.values.as_ptr(),
        params_len: store.values.len(),
    }
}

/// Host side: the SQL query a view describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn sql_from_view(payload: *const c_void, size: u32) -> Result<SqlQuery, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverSqlQuery = unsafe { read_payload(payload, size, "the SQL step") }?;
    let params = unsafe { array(raw.params, raw.params_len) }
        .iter()
        .map(|v| unsafe { sql_value_from_view(v) })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(SqlQuery {
        sql: unsafe { text(raw.sql, "the SQL text") }?.to_owned(),
        params,
        exchange: unsafe { exchange_from_view(&raw.exchange) }?,
    })
}

/// Plugin side: an MQTT request's view.
pub(super) fn mqtt_view(store: &mut StepStore, request: &MqttRequest) -> SeverMqttRequest {
    let e = &request.exchange;
    let exchange = exchange_view(
        &mut store.redact,
        e.idempotent,
        e.timeout_ms,
        e.share.as_deref(),
        e.purpose.as_deref(),
        &e.redact,
    );
    let (correlation, correlation_len) = list(&mut store.list, &request.correlation);
    SeverMqttRequest {
        exchange,
        topic: SeverBytes::from_slice(request.topic.as_bytes()),
        qos: u32::from(request.qos),
        reserved: 0,
        payload: SeverBytes::from_slice(request.payload.as_bytes()),
        response_topic: SeverBytes::from_slice(request.response_topic.as_bytes()),
        correlation,
        correlation_len,
    }
}

/// Host side: the MQTT request a view describes; a QoS above 2 is refused.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn mqtt_from_view(
    payload: *const c_void,
    size: u32,
) -> Result<MqttRequest, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverMqttRequest = unsafe { read_payload(payload, size, "the MQTT step") }?;
    let qos = u8::try_from(raw.qos)
        .ok()
        .filter(|q| *q <= 2)
        .ok_or_else(|| format!("MQTT QoS {}", raw.qos))?;
    Ok(MqttRequest {
        topic: unsafe { text(raw.topic, "the topic") }?.to_owned(),
        qos,
        payload: unsafe { text(raw.payload, "the payload") }?.to_owned(),
        response_topic: unsafe { text(raw.response_topic, "the response topic") }?.to_owned(),
        correlation: unsafe {
            strings(raw.correlation, raw.correlation_len, "a correlation string")
        }?,
        exchange: unsafe { exchange_from_view(&raw.exchange) }?,
    })
}

/// Plugin side: a NATS request's view.
pub(super) fn nats_view(store: &mut StepStore, request: &NatsRequest) -> SeverNatsRequest {
    let e = &request.exchange;
    let exchange = exchange_view(
        &mut store.redact,
        e.idempotent,
        e.timeout_ms,
        e.share.as_deref(),
        e.purpose.as_deref(),
        &e.redact,
    );
    SeverNatsRequest {
        exchange,
        subject: SeverBytes::from_slice(request.subject.as_bytes()),
        payload: SeverBytes::from_slice(request.payload.as_bytes()),
        gather_ms: request.gather_ms,
    }
}

/// Host side: the NATS request a view describes.
///
/// # Safety
/// The payload and its pointers must be readable for the call.
pub(super) unsafe fn nats_from_view(
    payload: *const c_void,
    size: u32,
) -> Result<NatsRequest, String> {
    // SAFETY (every block): caller contract; `read_payload` checks the size.
    let raw: SeverNatsRequest = unsafe { read_payload(payload, size, "the NATS step") }?;
    Ok(NatsRequest {
        subject: unsafe { text(raw.subject, "the subject") }?.to_owned(),
        payload: unsafe { text(raw.payload, "the payload") }?.to_owned(),
        gather_ms: raw.gather_ms,
        exchange: unsafe { exchange_from_view(&raw.exchange) }?,
    })
}
