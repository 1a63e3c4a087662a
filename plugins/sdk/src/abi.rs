//! The C ABI between the Sever host and an adapter plugin (version 2).
//!
//! Rust has no stable ABI, so nothing Rust-specific (`String`, `Vec`, trait objects)
//! crosses the shared-library boundary: only the `#[repr(C)]` types below, plain
//! integers, raw pointers and `extern "C"` function pointers.
//!
//! # The one symbol
//! A plugin exports [`DESCRIPTOR_SYMBOL`] (`sever_plugin_descriptor`), a function taking
//! nothing and returning `*const Descriptor`. The descriptor's first three fields —
//! [`Descriptor::magic`], [`Descriptor::abi_version`] and [`Descriptor::size`] — are frozen
//! forever: a host reads them first and refuses the plugin unless the magic matches and the
//! ABI version equals its own, before it reads anything else.
//!
//! # Messages
//! Metadata and backend settings — read once, at load — are JSON documents (the types in
//! [`crate::model`]). Everything on the per-request path crosses as borrowed `#[repr(C)]`
//! views, so nothing is encoded or parsed twice: the canonical request as a
//! [`RawRequest`], each step as a [`RawStep`], each vendor response as a [`RawInput`].
//! The only JSON left on that path is a final step's free-form `vendor` object.
//!
//! (Version 1 sent the request and the steps as JSON: about half of a Cedalo translation's
//! instructions went to encoding and parsing them on both sides of the boundary.)
//!
//! # Memory
//! Inputs are borrowed for the duration of a call. A [`RawStep`] points into the flow that
//! returned it and stays valid until the next call on that flow (`flow_resume` or
//! `flow_free`): the host copies what it keeps before then. Every [`Buf`] a plugin returns
//! was allocated by the plugin and must be released with the plugin's own
//! [`Descriptor::buf_free`]. Instances and flows are opaque pointers freed with
//! [`Descriptor::instance_free`] and [`Descriptor::flow_free`].
//!
//! # Optional strings
//! A [`Bytes`] with a null pointer is *absent* ([`Bytes::NONE`]); one with a non-null
//! pointer and length 0 is the empty string.
//!
//! # Panics
//! Every function catches panics; a panic returns [`Status::Panic`] with the message in
//! the error buffer. A plugin built with `panic = "abort"` is refused at load
//! ([`Descriptor::unwind`] is 0), since it could not keep a panic from ending the host.
//!
//! # Threads
//! An instance is shared by all of the host's threads (`Send + Sync`); a flow is used by one
//! thread at a time but may move between threads.

#![allow(unsafe_code)]

use std::ffi::c_void;

/// The ABI version this SDK speaks. Bumped on every change to this module or to the
/// JSON messages; host and plugin must match exactly.
pub const ABI_VERSION: u32 = 2;

/// `b"SEVERPLG"` as a little-endian `u64`: identifies a Sever plugin descriptor.
pub const MAGIC: u64 = u64::from_le_bytes(*b"SEVERPLG");

/// The exported symbol's name, NUL-terminated for `dlsym`.
pub const DESCRIPTOR_SYMBOL: &[u8] = b"sever_plugin_descriptor\0";

/// The exported function's type.
pub type DescriptorFn = unsafe extern "C" fn() -> *const Descriptor;

/// Borrowed bytes: valid for the duration of the call they are passed to.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Bytes {
    pub ptr: *const u8,
    pub len: usize,
}

impl Bytes {
    /// Absent (an optional string that is not there).
    pub const NONE: Bytes = Bytes {
        ptr: std::ptr::null(),
        len: 0,
    };

    /// A view of a slice.
    pub fn from_slice(s: &[u8]) -> Self {
        Bytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// A view of an optional string: [`Bytes::NONE`] for `None`.
    pub fn from_opt(s: Option<&str>) -> Self {
        s.map_or(Bytes::NONE, |s| Bytes::from_slice(s.as_bytes()))
    }

    /// True unless the pointer is null.
    pub fn is_some(&self) -> bool {
        !self.ptr.is_null()
    }

    /// The bytes as a slice.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that outlive `'a` (or `len` must be 0).
    pub unsafe fn as_slice<'a>(&self) -> &'a [u8] {
        if self.len == 0 || self.ptr.is_null() {
            &[]
        } else {
            // SAFETY: the caller guarantees ptr/len describe live, readable memory.
            unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
        }
    }
}

/// Bytes owned by the plugin (a `Vec<u8>` taken apart); released with `buf_free`.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

impl Buf {
    /// An empty buffer (owns nothing).
    pub const EMPTY: Buf = Buf {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };

    /// Takes ownership of a vector's allocation.
    pub fn from_vec(v: Vec<u8>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        Buf {
            ptr: v.as_mut_ptr(),
            len: v.len(),
            cap: v.capacity(),
        }
    }

    /// Rebuilds the vector. Only the plugin that made the buffer may call this.
    ///
    /// # Safety
    /// `self` must come from [`Buf::from_vec`] in this same library and not have been
    /// freed already.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        if self.ptr.is_null() {
            Vec::new()
        } else {
            // SAFETY: ptr/len/cap came from a Vec<u8> of this allocator (caller's contract).
            unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) }
        }
    }
}

/// The result of every call.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success: the output holds the answer.
    Ok = 0,
    /// A reported error: the output holds a message (UTF-8, or JSON where documented).
    Error = 1,
    /// The plugin panicked: the output holds the panic message. The host must not use the
    /// flow again (it may still free it).
    Panic = 2,
}

/// The host's clock and randomness for one call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawEnv {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Fresh random bytes.
    pub random: [u8; 32],
}

/// One header: of a vendor response (name lowercase ASCII) or of a request a step asks
/// the host to send (name as the adapter wrote it).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawHeader {
    pub name: Bytes,
    pub value: Bytes,
}

/// [`RawInput::kind`]: the vendor answered.
pub const INPUT_RESPONSE: u32 = 1;
/// [`RawInput::kind`]: plan the last (idempotent) request again.
pub const INPUT_RETRY: u32 = 2;

/// Why a flow is resumed (borrowed for the call).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawInput {
    /// [`INPUT_RESPONSE`] or [`INPUT_RETRY`].
    pub kind: u32,
    /// With [`INPUT_RETRY`]: the retry's number, from 1.
    pub attempt: u32,
    /// With [`INPUT_RESPONSE`]: the HTTP status.
    pub status: u16,
    pub headers: *const RawHeader,
    pub headers_len: usize,
    pub body: Bytes,
}

/// [`RawRequest::action`]: `disconnect`.
pub const ACTION_DISCONNECT: u32 = 1;
/// [`RawRequest::action`]: `terminate`.
pub const ACTION_TERMINATE: u32 = 2;
/// [`RawRequest::action`]: `unbind`.
pub const ACTION_UNBIND: u32 = 3;

/// How many target fields a [`RawRequest`] carries: one slot per [`crate::TargetField`],
/// in [`crate::TargetField::ALL`] order (`client_id`, `connection_id`, `user_id`, `source`,
/// `topic`, `message_type`, `host_id`).
pub const TARGET_FIELDS: usize = 7;

/// A canonical request (borrowed for the call). Every string is UTF-8; the host has
/// validated the identifiers (see [`crate::Target`]).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawRequest {
    pub request_id: Bytes,
    /// One of the `ACTION_*` constants.
    pub action: u32,
    /// The target's fields in [`crate::TargetField::ALL`] order; [`Bytes::NONE`] where absent.
    pub target: [Bytes; TARGET_FIELDS],
    /// The caller's reason, or [`Bytes::NONE`].
    pub reason: Bytes,
}

/// [`RawStep::kind`]: send the request described by the step's send fields.
pub const STEP_SEND: u32 = 1;
/// [`RawStep::kind`]: the action is complete (`outcome`, `vendor`).
pub const STEP_DONE: u32 = 2;
/// [`RawStep::kind`]: the action failed (`problem`, `detail`, `vendor`, `retryable`,
/// `retry_after`).
pub const STEP_FAIL: u32 = 3;

/// [`RawStep::outcome`]: `done`.
pub const OUTCOME_DONE: u32 = 1;
/// [`RawStep::outcome`]: `accepted`.
pub const OUTCOME_ACCEPTED: u32 = 2;

/// What an adapter asks of the host next (a [`crate::Step`] as a view). Points into the
/// flow that returned it; valid until the next call on that flow. Fields that do not
/// belong to `kind` are zero / [`Bytes::NONE`]. Every string is UTF-8.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawStep {
    /// [`STEP_SEND`], [`STEP_DONE`] or [`STEP_FAIL`].
    pub kind: u32,
    /// Send: 1 when the request may be sent more than once.
    pub idempotent: u32,
    /// Send: the HTTP method.
    pub method: Bytes,
    /// Send: the absolute URL.
    pub url: Bytes,
    /// Send: header name/value pairs, in order.
    pub headers: *const RawHeader,
    pub headers_len: usize,
    /// Send: the body (empty for none).
    pub body: Bytes,
    /// Send: a per-call timeout in milliseconds; 0 for the backend's.
    pub timeout_ms: u64,
    /// Send: the single-flight key, or [`Bytes::NONE`].
    pub share: Bytes,
    /// Send: what the call is for, or [`Bytes::NONE`].
    pub purpose: Bytes,
    /// Send: literal strings never to be shown.
    pub redact: *const Bytes,
    pub redact_len: usize,
    /// Done: [`OUTCOME_DONE`] or [`OUTCOME_ACCEPTED`].
    pub outcome: u32,
    /// Fail: 1 when the problem is worth retrying.
    pub retryable: u32,
    /// Fail: the problem code's wire name (`target_not_found`…).
    pub problem: Bytes,
    /// Fail: the human explanation.
    pub detail: Bytes,
    /// Fail: the vendor's `Retry-After`, or [`Bytes::NONE`].
    pub retry_after: Bytes,
    /// Done and fail: what the vendor said, a JSON object; [`Bytes::NONE`] for none.
    pub vendor: Bytes,
}

impl RawStep {
    /// A step of `kind` with every other field empty.
    pub const fn empty(kind: u32) -> Self {
        RawStep {
            kind,
            idempotent: 0,
            method: Bytes::NONE,
            url: Bytes::NONE,
            headers: std::ptr::null(),
            headers_len: 0,
            body: Bytes::NONE,
            timeout_ms: 0,
            share: Bytes::NONE,
            purpose: Bytes::NONE,
            redact: std::ptr::null(),
            redact_len: 0,
            outcome: 0,
            retryable: 0,
            problem: Bytes::NONE,
            detail: Bytes::NONE,
            retry_after: Bytes::NONE,
            vendor: Bytes::NONE,
        }
    }
}

/// Writes the plugin's [`crate::PluginInfo`] as JSON into `out`.
pub type MetadataFn = unsafe extern "C" fn(out: *mut Buf) -> Status;
/// Creates a backend instance from a [`crate::BackendSpec`] (JSON). On [`Status::Error`],
/// `out_error` holds a JSON array of [`crate::SettingError`].
pub type InstanceNewFn = unsafe extern "C" fn(
    spec: Bytes,
    out_instance: *mut *mut c_void,
    out_error: *mut Buf,
) -> Status;
/// Frees an instance.
pub type InstanceFreeFn = unsafe extern "C" fn(instance: *mut c_void) -> Status;
/// Starts a flow for a canonical request: writes the flow handle and a view of its first
/// step. On [`Status::Error`] or [`Status::Panic`], `out_error` holds a UTF-8 message and
/// no flow is written.
pub type FlowStartFn = unsafe extern "C" fn(
    instance: *const c_void,
    request: *const RawRequest,
    env: *const RawEnv,
    out_flow: *mut *mut c_void,
    out_step: *mut RawStep,
    out_error: *mut Buf,
) -> Status;
/// Resumes a flow with an input: writes a view of the next step. On [`Status::Error`] or
/// [`Status::Panic`], `out_error` holds a UTF-8 message.
pub type FlowResumeFn = unsafe extern "C" fn(
    instance: *const c_void,
    flow: *mut c_void,
    input: *const RawInput,
    env: *const RawEnv,
    out_step: *mut RawStep,
    out_error: *mut Buf,
) -> Status;
/// Frees a flow.
pub type FlowFreeFn = unsafe extern "C" fn(flow: *mut c_void) -> Status;
/// Frees a buffer the plugin returned.
pub type BufFreeFn = unsafe extern "C" fn(buf: Buf);

/// What `sever_plugin_descriptor` returns. Static for the life of the library.
#[repr(C)]
#[derive(Debug)]
pub struct Descriptor {
    /// Always [`MAGIC`]. Frozen field.
    pub magic: u64,
    /// The ABI the plugin was built for. Frozen field.
    pub abi_version: u32,
    /// `size_of::<Descriptor>()` as the plugin saw it. Frozen field.
    pub size: u32,
    /// 1 when the plugin was built with `panic = "unwind"`.
    pub unwind: u32,
    /// The plugin's name (UTF-8, static).
    pub name: Bytes,
    /// The plugin's version (UTF-8, static).
    pub version: Bytes,
    pub metadata: MetadataFn,
    pub instance_new: InstanceNewFn,
    pub instance_free: InstanceFreeFn,
    pub flow_start: FlowStartFn,
    pub flow_resume: FlowResumeFn,
    pub flow_free: FlowFreeFn,
    pub buf_free: BufFreeFn,
}

// SAFETY: a descriptor is immutable static data (pointers to static strings and to
// functions); sharing it between threads is sound.
unsafe impl Sync for Descriptor {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for Descriptor {}

/// The byte size every descriptor of this ABI version reports.
pub const DESCRIPTOR_SIZE: u32 = std::mem::size_of::<Descriptor>() as u32;
