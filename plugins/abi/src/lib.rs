//! # The Sever plugin ABI (version 3)
//!
//! The boundary between Sever and an adapter plugin, and nothing else: the `#[repr(C)]`
//! types and constants ([`raw`], also published as the C header `include/sever_plugin.h`),
//! checked conversions of their integer codes ([`kinds`]), the messages they carry as
//! plain Rust types ([`model`]) and the conversions between the two, both directions in one
//! place ([`view`]).
//!
//! An adapter written in Rust depends on `sever-plugin-sdk`, which re-exports what it
//! needs from here; a host (Sever's engine, the conformance kit) on `sever-plugin-host`.
//! An adapter in another language includes the header. The call sequence, ownership of
//! every buffer, threading and versioning rules are written down in `docs/plugin-abi.md`.
//!
//! ## In one paragraph
//! A plugin exports one C function, `sever_plugin_descriptor`, returning a static
//! [`raw::SeverDescriptor`]. The host reads its frozen header (magic, major version, size),
//! checks every function pointer, reads the metadata (JSON), creates one instance per
//! configured backend (JSON settings in, JSON errors out), and then, per canonical request,
//! starts a flow with a borrowed [`raw::SeverRequest`] and resumes it with borrowed
//! [`raw::SeverInput`]s, copying each [`raw::SeverStep`] out before its next call. The plugin
//! does no I/O and reads no clock: the host passes time and random bytes in every call.

#![allow(unsafe_code)]

#[macro_use]
pub mod kinds;
mod layout;
pub mod model;
pub mod raw;
pub mod view;

pub use kinds::{InputKind, Status, StepKind, UnknownCode};
pub use model::*;

/// The exported entry point's name, NUL-terminated for `dlsym`.
pub const DESCRIPTOR_SYMBOL: &[u8] = b"sever_plugin_descriptor\0";

/// The size of a [`raw::SeverDescriptor`] of this ABI version: what the SDK's plugins report.
pub const DESCRIPTOR_SIZE: u32 = std::mem::size_of::<raw::SeverDescriptor>() as u32;

/// The size of a [`raw::SeverDescriptor`] of ABI 3.0 (up to and including `buf_free`): the
/// least a host accepts.
pub const DESCRIPTOR_MIN_SIZE: u32 =
    std::mem::offset_of!(raw::SeverDescriptor, instance_connection) as u32;

/// A descriptor that may be handed to a host without further proof: one the SDK's
/// `static_descriptor!` built for a Rust adapter linked into the same binary.
///
/// Hosts take this instead of a bare `&'static SeverDescriptor`, so that registering a
/// statically linked adapter stays a safe call while a hand-filled descriptor (whose
/// function pointers could point anywhere) cannot be registered without `unsafe`.
#[derive(Debug, Clone, Copy)]
pub struct StaticDescriptor(&'static raw::SeverDescriptor);

impl StaticDescriptor {
    /// Vouches for a descriptor.
    ///
    /// # Safety
    /// Every function pointer in `descriptor` must implement the contract of its type in
    /// [`raw`] (the SDK's export functions do) for as long as the process runs.
    pub const unsafe fn new(descriptor: &'static raw::SeverDescriptor) -> Self {
        StaticDescriptor(descriptor)
    }

    /// The descriptor.
    pub fn get(self) -> &'static raw::SeverDescriptor {
        self.0
    }
}

// SAFETY: a descriptor is immutable static data (pointers to static strings and to
// functions); sharing it between threads is sound.
unsafe impl Sync for raw::SeverDescriptor {}
// SAFETY: as above; nothing in it is tied to a thread.
unsafe impl Send for raw::SeverDescriptor {}
