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
    pin!(SeverDescriptor, 112 {
        magic: 0, abi_major: 8, size: 12, abi_minor: 16, flags: 20, name: 24, version: 40,
        metadata: 56, instance_new: 64, instance_free: 72, flow_start: 80, flow_resume: 88,
        flow_free: 96, buf_free: 104,
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
