//! The integer codes of [`crate::raw`] as Rust enums, converted with checked `TryFrom`s:
//! an unknown value is an error the reader reports, never undefined behaviour.

use crate::raw::*;
use std::fmt;

/// An integer that is not one of the codes of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode {
    /// What kind of code (`status`, `step kind`…).
    pub what: &'static str,
    pub value: u32,
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {}", self.what, self.value)
    }
}

impl std::error::Error for UnknownCode {}

/// Declares a `#[repr(u32)]`-free enum over ABI codes with `code()` and a checked
/// `TryFrom<u32>`.
macro_rules! codes {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $code:ident,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL: [$name; [$(stringify!($variant)),+].len()] = [$($name::$variant,)+];

            /// The ABI code.
            pub const fn code(self) -> u32 {
                match self {
                    $($name::$variant => $code,)+
                }
            }
        }

        impl TryFrom<u32> for $name {
            type Error = $crate::kinds::UnknownCode;

            fn try_from(value: u32) -> Result<Self, $crate::kinds::UnknownCode> {
                match value {
                    $($code => Ok($name::$variant),)+
                    _ => Err($crate::kinds::UnknownCode { what: $what, value }),
                }
            }
        }
    };
}

codes! {
    /// What a plugin call returned.
    Status, "status" {
        /// [`SEVER_STATUS_OK`].
        Ok = SEVER_STATUS_OK,
        /// [`SEVER_STATUS_ERROR`].
        Error = SEVER_STATUS_ERROR,
        /// [`SEVER_STATUS_PANIC`].
        Panic = SEVER_STATUS_PANIC,
    }
}

codes! {
    /// [`SeverStep::kind`].
    StepKind, "step kind" {
        /// [`SEVER_STEP_HTTP`].
        Http = SEVER_STEP_HTTP,
        /// [`SEVER_STEP_DONE`].
        Done = SEVER_STEP_DONE,
        /// [`SEVER_STEP_FAIL`].
        Fail = SEVER_STEP_FAIL,
        /// [`SEVER_STEP_REDIS`] (3.1).
        Redis = SEVER_STEP_REDIS,
        /// [`SEVER_STEP_SQL`] (3.1).
        Sql = SEVER_STEP_SQL,
        /// [`SEVER_STEP_MQTT`] (3.1).
        Mqtt = SEVER_STEP_MQTT,
        /// [`SEVER_STEP_NATS`] (3.1).
        Nats = SEVER_STEP_NATS,
    }
}

codes! {
    /// [`SeverInput::kind`].
    InputKind, "input kind" {
        /// [`SEVER_INPUT_HTTP_RESPONSE`].
        HttpResponse = SEVER_INPUT_HTTP_RESPONSE,
        /// [`SEVER_INPUT_RETRY`].
        Retry = SEVER_INPUT_RETRY,
        /// [`SEVER_INPUT_REDIS_REPLY`] (3.1).
        RedisReply = SEVER_INPUT_REDIS_REPLY,
        /// [`SEVER_INPUT_SQL_RESULT`] (3.1).
        SqlResult = SEVER_INPUT_SQL_RESULT,
        /// [`SEVER_INPUT_MQTT_RESULT`] (3.1).
        MqttResult = SEVER_INPUT_MQTT_RESULT,
        /// [`SEVER_INPUT_NATS_REPLIES`] (3.1).
        NatsReplies = SEVER_INPUT_NATS_REPLIES,
    }
}

codes! {
    /// [`SeverRedisReply::kind`].
    RedisReplyKind, "Redis reply kind" {
        /// [`SEVER_REDIS_INTEGER`].
        Integer = SEVER_REDIS_INTEGER,
        /// [`SEVER_REDIS_SIMPLE`].
        Simple = SEVER_REDIS_SIMPLE,
        /// [`SEVER_REDIS_BULK`].
        Bulk = SEVER_REDIS_BULK,
        /// [`SEVER_REDIS_NIL`].
        Nil = SEVER_REDIS_NIL,
        /// [`SEVER_REDIS_ERROR`].
        Error = SEVER_REDIS_ERROR,
        /// [`SEVER_REDIS_ARRAY`].
        Array = SEVER_REDIS_ARRAY,
    }
}

codes! {
    /// [`SeverSqlValue::kind`].
    SqlValueKind, "SQL value kind" {
        /// [`SEVER_SQL_NULL`].
        Null = SEVER_SQL_NULL,
        /// [`SEVER_SQL_BOOL`].
        Bool = SEVER_SQL_BOOL,
        /// [`SEVER_SQL_INT4`].
        Int4 = SEVER_SQL_INT4,
        /// [`SEVER_SQL_INT8`].
        Int8 = SEVER_SQL_INT8,
        /// [`SEVER_SQL_TEXT`].
        Text = SEVER_SQL_TEXT,
    }
}

impl StepKind {
    /// The kind's name (`http`, `redis_command`…, `done`, `fail`): what dry-run output and
    /// conformance cases call an exchange.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Http => "http",
            StepKind::Done => "done",
            StepKind::Fail => "fail",
            StepKind::Redis => "redis_command",
            StepKind::Sql => "sql_query",
            StepKind::Mqtt => "mqtt_request",
            StepKind::Nats => "nats_request",
        }
    }

    /// True for a kind that asks the host to perform an exchange (not `done` or `fail`).
    pub fn is_exchange(self) -> bool {
        !matches!(self, StepKind::Done | StepKind::Fail)
    }
}
