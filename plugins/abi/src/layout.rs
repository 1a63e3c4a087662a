//! The size and every field offset of each `#[repr(C)]` type, pinned at compile time on
//! 64-bit targets (the C test fixture pins the same numbers with `_Static_assert`s, so the
//! header and the Rust types cannot disagree unnoticed). A change here is an ABI change:
//! see `docs/plugin-abi.md` for which ones are compatible.

#[cfg(target_pointer_width = "64")]
macro_rules! pin {
    ($ty:ty, $size:literal { $($field:ident: $offset:literal),* $(,)? }) => {
        const _: () = {
            assert!(std::mem::size_of::<$ty>() == $size, concat!("size of ", stringify!($ty)));
            $(assert!(
                std::mem::offset_of!($ty, $field) == $offset,
                concat!("offset of ", stringify!($ty), ".", stringify!($field))
            );)*
        };
    };
}

#[cfg(target_pointer_width = "64")]
mod pins {
    use crate::raw::*;

    pin!(SeverBytes, 16 { ptr: 0, len: 8 });
    pin!(SeverBuf, 24 { ptr: 0, len: 8, cap: 16 });
    pin!(SeverEnv, 40 { unix_ms: 0, random: 8 });
    pin!(SeverHeader, 32 { name: 0, value: 16 });
    pin!(SeverRequest, 152 { size: 0, action: 4, request_id: 8, target: 24, reason: 136 });
    pin!(SeverStep, 16 { kind: 0, size: 4, payload: 8 });
    pin!(SeverExchange, 64 {
        idempotent: 0, reserved: 4, timeout_ms: 8, share: 16, purpose: 32, redact: 48,
        redact_len: 56,
    });
    pin!(SeverHttpRequest, 128 {
        exchange: 0, method: 64, url: 80, headers: 96, headers_len: 104, body: 112,
    });
    pin!(SeverDone, 24 { outcome: 0, reserved: 4, vendor: 8 });
    pin!(SeverFail, 56 { problem: 0, retryable: 4, detail: 8, retry_after: 24, vendor: 40 });
    pin!(SeverInput, 16 { kind: 0, size: 4, payload: 8 });
    pin!(SeverHttpResponse, 40 { status: 0, reserved: 4, headers: 8, headers_len: 16, body: 24 });
    pin!(SeverRetry, 4 { attempt: 0 });
    pin!(SeverDescriptor, 120 {
        magic: 0, abi_major: 8, size: 12, abi_minor: 16, flags: 20, name: 24, version: 40,
        metadata: 56, instance_new: 64, instance_free: 72, flow_start: 80, flow_resume: 88,
        flow_free: 96, buf_free: 104, instance_connection: 112,
    });

    // 3.1: the exchanges beyond HTTP.
    pin!(SeverRedisCommand, 80 { exchange: 0, args: 64, args_len: 72 });
    pin!(SeverRedisReply, 48 {
        kind: 0, reserved: 4, integer: 8, text: 16, items: 32, items_len: 40,
    });
    pin!(SeverSqlValue, 32 { kind: 0, reserved: 4, integer: 8, text: 16 });
    pin!(SeverSqlQuery, 96 { exchange: 0, sql: 64, params: 80, params_len: 88 });
    pin!(SeverSqlMessage, 64 { severity: 0, code: 16, message: 32, detail: 48 });
    pin!(SeverSqlResult, 112 {
        failed: 0, reserved: 4, error: 8, columns: 72, values: 80, values_len: 88,
        notices: 96, notices_len: 104,
    });
    pin!(SeverMqttRequest, 136 {
        exchange: 0, topic: 64, qos: 80, reserved: 84, payload: 88, response_topic: 104,
        correlation: 120, correlation_len: 128,
    });
    pin!(SeverMqttResult, 24 {
        connack_reason: 0, puback_reason: 4, messages: 8, messages_len: 16,
    });
    pin!(SeverNatsRequest, 104 { exchange: 0, subject: 64, payload: 80, gather_ms: 96 });
    pin!(SeverNatsReplies, 40 {
        no_responders: 0, reserved: 4, error: 8, replies: 24, replies_len: 32,
    });
}

#[cfg(test)]
mod tests {
    use crate::raw::SEVER_MAGIC;

    #[test]
    fn the_magic_spells_severplg_in_little_endian() {
        assert_eq!(SEVER_MAGIC, u64::from_le_bytes(*b"SEVERPLG"));
    }
}
