//! Conversions between the [`crate::model`] types and their borrowed `#[repr(C)]` views,
//! for both sides of the boundary in one place, so that the host's reading and the
//! plugin's writing of a view cannot drift apart:
//!
//! | message | plugin side | host side |
//! |---|---|---|
//! | request | [`request_from_view`] | [`request_view`] |
//! | step | [`StepStore::view`] | [`step_from_view`] |
//! | input | [`with_input`] | [`with_input_view`] |
//!
//! The exchanges beyond HTTP (3.1) have their views in `exchange` (steps) and `answer`
//! (inputs), reached through the same functions.
//!
//! Every reader checks what it reads: an unknown code, text that is not UTF-8 or a
//! payload shorter than its 3.0 layout is an error naming it, never undefined behaviour.
//! Pointers themselves cannot be checked: each `unsafe fn` here requires that the view's
//! pointers are readable for the call, as the ABI's contract promises.

mod answer;
mod exchange;
mod input;
mod request;
mod step;
#[cfg(test)]
mod tests;

pub use input::{with_input, with_input_view, Resume};
pub use request::{request_from_view, request_view};
pub use step::{step_from_view, StepStore};

use crate::raw::SeverBytes;
use std::ffi::c_void;

impl SeverBytes {
    /// Absent (a null pointer).
    pub const NONE: SeverBytes = SeverBytes {
        ptr: std::ptr::null(),
        len: 0,
    };

    /// A view of a slice (present, even when empty).
    pub fn from_slice(s: &[u8]) -> Self {
        SeverBytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// A view of an optional string: [`SeverBytes::NONE`] for `None`.
    pub fn from_opt(s: Option<&str>) -> Self {
        s.map_or(SeverBytes::NONE, |s| SeverBytes::from_slice(s.as_bytes()))
    }

    /// True unless the pointer is null.
    pub fn is_some(&self) -> bool {
        !self.ptr.is_null()
    }

    /// The bytes as a slice (empty for a null pointer).
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive `'a`, or be null.
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            &[]
        } else {
            // SAFETY: the caller guarantees ptr/len describe live, readable memory.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

impl crate::raw::SeverBuf {
    /// An empty buffer (owns nothing).
    pub const EMPTY: crate::raw::SeverBuf = crate::raw::SeverBuf {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
}

/// Reads borrowed text.
///
/// # Safety
/// `bytes` must be readable for `'a`.
pub(crate) unsafe fn text<'a>(bytes: SeverBytes, what: &str) -> Result<&'a str, String> {
    // SAFETY: caller contract.
    let slice = unsafe { bytes.as_slice() };
    std::str::from_utf8(slice).map_err(|_| format!("{what} is not UTF-8"))
}

/// Reads borrowed optional text (null is `None`).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional<'a>(
    bytes: SeverBytes,
    what: &str,
) -> Result<Option<&'a str>, String> {
    if bytes.is_some() {
        // SAFETY: caller contract.
        unsafe { text(bytes, what) }.map(Some)
    } else {
        Ok(None)
    }
}

/// A borrowed array as a slice (empty for a null pointer or length 0).
///
/// # Safety
/// `ptr` must point to `len` readable values for `'a`, or be null.
pub(crate) unsafe fn array<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: caller contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// A `#[repr(C)]` payload type of the ABI whose all-zero bit pattern is a valid value
/// (integers, raw pointers, [`SeverBytes`]): what a field a shorter (older) payload lacks
/// reads as.
///
/// # Safety
/// Implement only for such types, with `MIN_SIZE` the type's size in the minor version
/// that introduced it.
pub(crate) unsafe trait Payload: Copy {
    /// The size of the type's 3.0 layout: no producer writes less.
    const MIN_SIZE: usize;
}

macro_rules! payload {
    ($($ty:ident),*) => {$(
        // SAFETY: integers, raw pointers and SeverBytes only (zero is null / 0); its
        // layout has not grown since 3.0.
        unsafe impl Payload for crate::raw::$ty {
            const MIN_SIZE: usize = std::mem::size_of::<crate::raw::$ty>();
        }
    )*};
}

payload!(
    SeverHttpRequest,
    SeverDone,
    SeverFail,
    SeverHttpResponse,
    SeverRetry,
    SeverRequest
);
// 3.1: the exchanges beyond HTTP (their layout is 3.1's: the least any producer writes).
payload!(
    SeverRedisCommand,
    SeverRedisReply,
    SeverSqlQuery,
    SeverSqlResult,
    SeverMqttRequest,
    SeverMqttResult,
    SeverNatsRequest,
    SeverNatsReplies
);

/// Reads a payload of `size` bytes at `ptr` as a `T`, by the growth rule of [`crate::raw`]:
/// a longer payload (a later minor version) is read up to `T`'s size and the rest ignored;
/// a shorter one (an earlier minor) is zero-filled past its `size`; one shorter than `T`'s
/// 3.0 layout is refused.
///
/// # Safety
/// `ptr` must point to `size` readable bytes (or be null: refused).
pub(crate) unsafe fn read_payload<T: Payload>(
    ptr: *const c_void,
    size: u32,
    what: &str,
) -> Result<T, String> {
    if ptr.is_null() {
        return Err(format!("{what} has no payload"));
    }
    let size = size as usize;
    if size < T::MIN_SIZE {
        return Err(format!(
            "{what} payload is {size} bytes, less than its {}",
            T::MIN_SIZE
        ));
    }
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: `n <= size` bytes are readable at `ptr` (caller contract) and fit in
    // `value`; the rest of `value` stays zero, a valid `T` (`Payload`).
    unsafe {
        std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), value.as_mut_ptr().cast::<u8>(), n);
        Ok(value.assume_init())
    }
}
