//! The descriptor a plugin exports, and the types of its entries.

use super::{SeverBuf, SeverBytes, SeverEnv, SeverInput, SeverRequest, SeverStep};
use std::ffi::c_void;

/// Writes the plugin's metadata (JSON, `PluginInfo`) into `out`.
pub type SeverMetadataFn = unsafe extern "C" fn(out: *mut SeverBuf) -> u32;
/// Creates the instance for one backend from its spec (JSON, `BackendSpec`). On
/// [`SEVER_STATUS_ERROR`], `out_error` holds a JSON array of `SettingError`.
pub type SeverInstanceNewFn = unsafe extern "C" fn(
    spec: SeverBytes,
    out_instance: *mut *mut c_void,
    out_error: *mut SeverBuf,
) -> u32;
/// Frees an instance (after every flow of it was freed).
pub type SeverInstanceFreeFn = unsafe extern "C" fn(instance: *mut c_void) -> u32;
/// Starts a flow for a request: writes the flow and its first step. On any other status
/// than [`SEVER_STATUS_OK`] no flow exists and `out_error` holds a UTF-8 message.
pub type SeverFlowStartFn = unsafe extern "C" fn(
    instance: *const c_void,
    request: *const SeverRequest,
    env: *const SeverEnv,
    out_flow: *mut *mut c_void,
    out_step: *mut SeverStep,
    out_error: *mut SeverBuf,
) -> u32;
/// Resumes a flow with an input: writes the next step. On any other status than
/// [`SEVER_STATUS_OK`], `out_error` holds a UTF-8 message and the flow is only freed.
pub type SeverFlowResumeFn = unsafe extern "C" fn(
    instance: *const c_void,
    flow: *mut c_void,
    input: *const SeverInput,
    env: *const SeverEnv,
    out_step: *mut SeverStep,
    out_error: *mut SeverBuf,
) -> u32;
/// Frees a flow.
pub type SeverFlowFreeFn = unsafe extern "C" fn(flow: *mut c_void) -> u32;
/// Frees a buffer the plugin returned.
pub type SeverBufFreeFn = unsafe extern "C" fn(buf: SeverBuf);
/// (3.1) Writes how the host connects to an instance's backend (JSON, `ConnectionSpec`)
/// into `out`: called once after `instance_new` for a plugin whose transport is not HTTP.
pub type SeverInstanceConnectionFn =
    unsafe extern "C" fn(instance: *const c_void, out: *mut SeverBuf) -> u32;

/// What `sever_plugin_descriptor()` returns: static for the life of the library.
///
/// The first three fields are frozen for every ABI version, past and future: a host reads
/// them first and refuses the plugin unless `magic` matches and `abi_major` equals its own,
/// before reading anything else. Every function pointer of 3.0 must be non-null; an entry
/// added later is read only when `size` covers it.
#[repr(C)]
#[derive(Debug)]
pub struct SeverDescriptor {
    /// Always [`SEVER_MAGIC`]. Frozen.
    pub magic: u64,
    /// [`SEVER_ABI_MAJOR`] as the plugin was built. Frozen.
    pub abi_major: u32,
    /// `sizeof(SeverDescriptor)` as the plugin was built. Frozen.
    pub size: u32,
    /// [`SEVER_ABI_MINOR`] as the plugin was built.
    pub abi_minor: u32,
    /// `SEVER_FLAG_*` bits.
    pub flags: u32,
    /// The plugin's name, `[a-z0-9][a-z0-9_-]{0,62}` (static).
    pub name: SeverBytes,
    /// The plugin's version (static).
    pub version: SeverBytes,
    // The entries, each a nullable pointer of the function type named in its comment
    // (written out: cbindgen cannot see through an `Option` of a type alias).
    /// A [`SeverMetadataFn`].
    pub metadata: Option<unsafe extern "C" fn(out: *mut SeverBuf) -> u32>,
    /// A [`SeverInstanceNewFn`].
    pub instance_new: Option<
        unsafe extern "C" fn(
            spec: SeverBytes,
            out_instance: *mut *mut c_void,
            out_error: *mut SeverBuf,
        ) -> u32,
    >,
    /// A [`SeverInstanceFreeFn`].
    pub instance_free: Option<unsafe extern "C" fn(instance: *mut c_void) -> u32>,
    /// A [`SeverFlowStartFn`].
    pub flow_start: Option<
        unsafe extern "C" fn(
            instance: *const c_void,
            request: *const SeverRequest,
            env: *const SeverEnv,
            out_flow: *mut *mut c_void,
            out_step: *mut SeverStep,
            out_error: *mut SeverBuf,
        ) -> u32,
    >,
    /// A [`SeverFlowResumeFn`].
    pub flow_resume: Option<
        unsafe extern "C" fn(
            instance: *const c_void,
            flow: *mut c_void,
            input: *const SeverInput,
            env: *const SeverEnv,
            out_step: *mut SeverStep,
            out_error: *mut SeverBuf,
        ) -> u32,
    >,
    /// A [`SeverFlowFreeFn`].
    pub flow_free: Option<unsafe extern "C" fn(flow: *mut c_void) -> u32>,
    /// A [`SeverBufFreeFn`].
    pub buf_free: Option<unsafe extern "C" fn(buf: SeverBuf)>,
    /// (3.1) A [`SeverInstanceConnectionFn`]: required for a transport other than HTTP,
    /// may be null otherwise.
    pub instance_connection:
        Option<unsafe extern "C" fn(instance: *const c_void, out: *mut SeverBuf) -> u32>,
}

/// The exported entry point's type: `const SeverDescriptor *sever_plugin_descriptor(void)`.
pub type SeverDescriptorFn = unsafe extern "C" fn() -> *const SeverDescriptor;
