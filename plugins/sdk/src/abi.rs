//! The C ABI between the Sever host and an adapter plugin (version 1).
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
//! Metadata, backend settings, canonical requests and steps are JSON documents (the types
//! in [`crate::model`]); a vendor response is passed as a borrowed [`RawInput`] view so that
//! its body never needs re-encoding.
//!
//! # Memory
//! Inputs are borrowed for the duration of a call. Every [`Buf`] a plugin returns was
//! allocated by the plugin and must be released with the plugin's own
//! [`Descriptor::buf_free`]. Instances and flows are opaque pointers freed with
//! [`Descriptor::instance_free`] and [`Descriptor::flow_free`].
//!
//! # Panics
//! Every function catches panics; a panic returns [`Status::Panic`] with the message in
//! the output buffer. A plugin built with `panic = "abort"` is refused at load
//! ([`Descriptor::unwind`] is 0), since it could not keep a panic from ending the host.
//!
//! # Threads
//! An instance is shared by all of the host's threads (`Send + Sync`); a flow is used by one
//! thread at a time but may move between threads.

#![allow(unsafe_code)]

use std::ffi::c_void;

/// The ABI version this SDK speaks. Bumped on every change to this module or to the
/// JSON messages; host and plugin must match exactly.
pub const ABI_VERSION: u32 = 1;

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
    /// A view of a slice.
    pub fn from_slice(s: &[u8]) -> Self {
        Bytes {
            ptr: s.as_ptr(),
            len: s.len(),
        }
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

/// One response header (borrowed).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawHeader {
    /// Lowercase ASCII name.
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
/// Starts a flow for a [`crate::Request`] (JSON): writes the flow handle and the first
/// [`crate::Step`] (JSON).
pub type FlowStartFn = unsafe extern "C" fn(
    instance: *const c_void,
    request: Bytes,
    env: *const RawEnv,
    out_flow: *mut *mut c_void,
    out_step: *mut Buf,
) -> Status;
/// Resumes a flow with an input: writes the next [`crate::Step`] (JSON).
pub type FlowResumeFn = unsafe extern "C" fn(
    instance: *const c_void,
    flow: *mut c_void,
    input: *const RawInput,
    env: *const RawEnv,
    out_step: *mut Buf,
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

/// The byte size every v1 descriptor reports.
pub const DESCRIPTOR_SIZE: u32 = std::mem::size_of::<Descriptor>() as u32;
