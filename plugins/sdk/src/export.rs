//! The plugin side of the ABI: generic `extern "C"` functions that wrap an [`Adapter`],
//! and the [`export_plugin!`](crate::export_plugin) macro that publishes them.
//!
//! Every function here catches panics and turns them into `SEVER_STATUS_PANIC`:
//! unwinding across `extern "C"` would abort the host. A missing input (a null request,
//! input or environment) is an error, never a default.

#![allow(unsafe_code)]

use crate::adapter::{create, info, Adapter};
use sever_plugin_abi::raw::{
    SeverBuf, SeverBytes, SeverEnv, SeverInput, SeverRequest, SeverStep, SEVER_STATUS_ERROR,
    SEVER_STATUS_OK, SEVER_STATUS_PANIC,
};
use sever_plugin_abi::view::{request_from_view, with_input, StepStore};
use sever_plugin_abi::{BackendSpec, Env, SettingError, Step};
use std::any::Any;
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Text of a caught panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

/// A `Vec<u8>` taken apart into a buffer the host gives back to [`buf_free`].
fn buf(v: Vec<u8>) -> SeverBuf {
    let mut v = std::mem::ManuallyDrop::new(v);
    SeverBuf {
        ptr: v.as_mut_ptr(),
        len: v.len(),
        cap: v.capacity(),
    }
}

/// Writes `bytes` to `out` (when not null) as a buffer of this library.
///
/// # Safety
/// `out` must be null or valid for writes of a `SeverBuf`.
unsafe fn put(out: *mut SeverBuf, bytes: Vec<u8>) {
    if !out.is_null() {
        // SAFETY: caller guarantees `out` is valid for writes.
        unsafe { out.write(buf(bytes)) };
    }
}

/// Runs `f`, turning a panic into `SEVER_STATUS_PANIC` with its message in `out`.
///
/// # Safety
/// `out` must be null or valid for writes of a `SeverBuf`.
unsafe fn guarded(out: *mut SeverBuf, f: impl FnOnce() -> (u32, Vec<u8>)) -> u32 {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => (
            SEVER_STATUS_PANIC,
            panic_message(payload.as_ref()).into_bytes(),
        ),
    };
    if status != SEVER_STATUS_OK || !bytes.is_empty() {
        // SAFETY: forwarded caller contract.
        unsafe { put(out, bytes) };
    }
    status
}

fn settings_errors(errors: &[SettingError]) -> (u32, Vec<u8>) {
    (
        SEVER_STATUS_ERROR,
        serde_json::to_vec(errors).unwrap_or_default(),
    )
}

/// The host's clock and randomness, or an error: a missing environment must not turn into
/// time 0 and zero random bytes (nonces would repeat silently).
///
/// # Safety
/// `raw` must be null or readable.
unsafe fn env_from(raw: *const SeverEnv) -> Result<Env, String> {
    if raw.is_null() {
        return Err("no environment (clock and random bytes) passed to the call".into());
    }
    // SAFETY: non-null, readable for the call (caller contract).
    let raw = unsafe { *raw };
    Ok(Env {
        unix_ms: raw.unix_ms,
        random: raw.random,
    })
}

/// A flow as the plugin keeps it: the adapter's state, and the last step with the storage
/// its [`SeverStep`] view points into, read by the host until its next call on the flow.
struct FlowState<F> {
    flow: F,
    step: Step,
    store: StepStore,
}

impl<F> FlowState<F> {
    fn view(&mut self) -> Result<SeverStep, String> {
        self.store.view(&self.step)
    }
}

/// Runs a flow call: `f` returns the step's view or an error message; a panic becomes
/// `SEVER_STATUS_PANIC`. Writes `out_step` only on success and `out_error` only on failure.
///
/// # Safety
/// `out_step` and `out_error` must be null or valid for writes.
unsafe fn guarded_step(
    out_step: *mut SeverStep,
    out_error: *mut SeverBuf,
    f: impl FnOnce() -> Result<SeverStep, String>,
) -> u32 {
    let (status, message) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(step)) => {
            if out_step.is_null() {
                (SEVER_STATUS_ERROR, "no step to write into".to_owned())
            } else {
                // SAFETY: caller guarantees `out_step` is valid for writes.
                unsafe { out_step.write(step) };
                return SEVER_STATUS_OK;
            }
        }
        Ok(Err(message)) => (SEVER_STATUS_ERROR, message),
        Err(payload) => (SEVER_STATUS_PANIC, panic_message(payload.as_ref())),
    };
    // SAFETY: forwarded caller contract.
    unsafe { put(out_error, message.into_bytes()) };
    status
}

/// `metadata` for adapter `A`.
///
/// # Safety
/// `out` must be valid for writes.
pub unsafe extern "C" fn metadata<A: Adapter>(out: *mut SeverBuf) -> u32 {
    // SAFETY: forwarded caller contract.
    unsafe {
        guarded(out, || match serde_json::to_vec(&info::<A>()) {
            Ok(json) => (SEVER_STATUS_OK, json),
            Err(e) => (
                SEVER_STATUS_ERROR,
                format!("cannot encode: {e}").into_bytes(),
            ),
        })
    }
}

/// `instance_new` for adapter `A`.
///
/// # Safety
/// `spec` must be readable; `out_instance` and `out_error` valid for writes.
pub unsafe extern "C" fn instance_new<A: Adapter>(
    spec: SeverBytes,
    out_instance: *mut *mut c_void,
    out_error: *mut SeverBuf,
) -> u32 {
    let run = || {
        // SAFETY: the host keeps `spec` alive for the call.
        let spec = unsafe { spec.as_slice() };
        let spec: BackendSpec = match serde_json::from_slice(spec) {
            Ok(s) => s,
            Err(e) => {
                return settings_errors(&[SettingError::new(
                    "",
                    format!("unreadable settings: {e}"),
                )])
            }
        };
        match create::<A>(&spec) {
            Ok(_) if out_instance.is_null() => {
                settings_errors(&[SettingError::new("", "no place to write the instance")])
            }
            Ok(instance) => {
                let ptr = Box::into_raw(Box::new(instance)).cast::<c_void>();
                // SAFETY: the host passes a valid out pointer (checked non-null above).
                unsafe { out_instance.write(ptr) };
                (SEVER_STATUS_OK, Vec::new())
            }
            Err(errors) => settings_errors(&errors),
        }
    };
    // SAFETY: forwarded caller contract.
    unsafe { guarded(out_error, run) }
}

/// `instance_free` for adapter `A`.
///
/// # Safety
/// `instance` must come from `instance_new::<A>` and not be used afterwards.
pub unsafe extern "C" fn instance_free<A: Adapter>(instance: *mut c_void) -> u32 {
    if instance.is_null() {
        return SEVER_STATUS_OK;
    }
    // SAFETY: instance came from Box::<A>::into_raw in instance_new.
    let boxed = unsafe { Box::from_raw(instance.cast::<A>()) };
    // SAFETY: null out pointer: nothing is written.
    unsafe {
        guarded(std::ptr::null_mut(), move || {
            drop(boxed);
            (SEVER_STATUS_OK, Vec::new())
        })
    }
}

/// `instance_connection` for adapter `A`: its [`Adapter::connection`] as JSON (`null` for
/// none).
///
/// # Safety
/// `instance` must be a live instance of `A`; `out` valid for writes.
pub unsafe extern "C" fn instance_connection<A: Adapter>(
    instance: *const c_void,
    out: *mut SeverBuf,
) -> u32 {
    let run = || {
        if instance.is_null() {
            return (SEVER_STATUS_ERROR, b"no instance".to_vec());
        }
        // SAFETY: caller contract: a live instance (shared access only).
        let adapter = unsafe { &*instance.cast::<A>() };
        match serde_json::to_vec(&adapter.connection()) {
            Ok(json) => (SEVER_STATUS_OK, json),
            Err(e) => (
                SEVER_STATUS_ERROR,
                format!("cannot encode: {e}").into_bytes(),
            ),
        }
    };
    // SAFETY: forwarded caller contract.
    unsafe { guarded(out, run) }
}

/// `flow_start` for adapter `A`.
///
/// # Safety
/// `instance` must be a live instance of `A`; `request` (with every pointer in it) and
/// `env` readable for the call; `out_flow`, `out_step` and `out_error` valid for writes.
pub unsafe extern "C" fn flow_start<A: Adapter>(
    instance: *const c_void,
    request: *const SeverRequest,
    env: *const SeverEnv,
    out_flow: *mut *mut c_void,
    out_step: *mut SeverStep,
    out_error: *mut SeverBuf,
) -> u32 {
    let run = || {
        if instance.is_null() || out_flow.is_null() {
            return Err("no instance, or no place to write the flow".to_owned());
        }
        // SAFETY: caller contract: live instance (shared access only).
        let adapter = unsafe { &*instance.cast::<A>() };
        // SAFETY: caller contract: the request and every pointer in it are readable.
        let request = unsafe { request_from_view(request) }
            .map_err(|e| format!("unreadable request: {e}"))?;
        // SAFETY: caller contract.
        let env = unsafe { env_from(env) }?;
        let (flow, step) = adapter.start(&request, &env);
        let mut state = Box::new(FlowState {
            flow,
            step,
            store: StepStore::default(),
        });
        // The view points into the boxed state, which does not move from here on.
        let view = state.view()?;
        // SAFETY: valid out pointer (caller contract, checked non-null above).
        unsafe { out_flow.write(Box::into_raw(state).cast::<c_void>()) };
        Ok(view)
    };
    // SAFETY: forwarded caller contract.
    unsafe { guarded_step(out_step, out_error, run) }
}

/// `flow_resume` for adapter `A`.
///
/// # Safety
/// `instance` must be a live instance of `A` and `flow` a live flow it started, not used
/// concurrently; `input` (with every pointer in it) and `env` readable for the call;
/// `out_step` and `out_error` valid for writes.
pub unsafe extern "C" fn flow_resume<A: Adapter>(
    instance: *const c_void,
    flow: *mut c_void,
    input: *const SeverInput,
    env: *const SeverEnv,
    out_step: *mut SeverStep,
    out_error: *mut SeverBuf,
) -> u32 {
    let run = || {
        if instance.is_null() || flow.is_null() {
            return Err("no instance or no flow".to_owned());
        }
        // SAFETY: caller contract: live instance, exclusive flow.
        let (adapter, state) = unsafe {
            (
                &*instance.cast::<A>(),
                &mut *flow.cast::<FlowState<A::Flow>>(),
            )
        };
        // SAFETY: caller contract.
        let env = unsafe { env_from(env) }?;
        // SAFETY: caller contract: the input and every pointer in it are readable.
        let step =
            unsafe { with_input(input, |input| adapter.resume(&mut state.flow, input, &env)) }?;
        state.step = step;
        state.view()
    };
    // SAFETY: forwarded caller contract.
    unsafe { guarded_step(out_step, out_error, run) }
}

/// `flow_free` for adapter `A`.
///
/// # Safety
/// `flow` must come from `flow_start::<A>` and not be used afterwards.
pub unsafe extern "C" fn flow_free<A: Adapter>(flow: *mut c_void) -> u32 {
    if flow.is_null() {
        return SEVER_STATUS_OK;
    }
    // SAFETY: flow came from Box::<FlowState<A::Flow>>::into_raw in flow_start.
    let boxed = unsafe { Box::from_raw(flow.cast::<FlowState<A::Flow>>()) };
    // SAFETY: null out pointer: nothing is written.
    unsafe {
        guarded(std::ptr::null_mut(), move || {
            drop(boxed);
            (SEVER_STATUS_OK, Vec::new())
        })
    }
}

/// `buf_free`: releases a buffer this library returned.
///
/// # Safety
/// `buf` must come from this library and not be freed twice.
pub unsafe extern "C" fn buf_free(buf: SeverBuf) {
    // Dropping a Vec<u8> cannot panic, but stay inside the rule: nothing unwinds out.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !buf.ptr.is_null() {
            // SAFETY: ptr/len/cap came from a Vec<u8> of this library's allocator (`buf`
            // above), not freed before (caller contract).
            drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
        }
    }));
}

/// The [`StaticDescriptor`](sever_plugin_abi::StaticDescriptor) of an [`Adapter`],
/// without exporting a symbol. [`export_plugin!`](crate::export_plugin) uses it; hosts and
/// tests use it to run an adapter linked statically through exactly the same ABI functions
/// as a loaded library (`sever_plugin_host::load_static`).
///
/// ```
/// # use sever_plugin_sdk::prelude::*;
/// # struct A;
/// # impl Adapter for A {
/// #   const NAME: &'static str = "a"; const VERSION: &'static str = "1";
/// #   type Settings = (); type Flow = ();
/// #   fn info() -> PluginInfo { panic!("not called") }
/// #   fn new(_: Backend<()>) -> Result<Self, Vec<SettingError>> { Ok(A) }
/// #   fn start(&self, _: &Request, _: &Env) -> ((), Step) { panic!("not called") }
/// #   fn resume(&self, _: &mut (), _: Input<'_>, _: &Env) -> Step { panic!("not called") }
/// # }
/// let descriptor = sever_plugin_sdk::static_descriptor!(A);
/// assert_eq!(descriptor.get().abi_major, sever_plugin_sdk::abi::raw::SEVER_ABI_MAJOR);
/// ```
#[macro_export]
macro_rules! static_descriptor {
    ($adapter:ty) => {{
        use $crate::abi::raw as __raw;
        static DESCRIPTOR: __raw::SeverDescriptor = __raw::SeverDescriptor {
            magic: __raw::SEVER_MAGIC,
            abi_major: __raw::SEVER_ABI_MAJOR,
            size: ::core::mem::size_of::<__raw::SeverDescriptor>() as u32,
            abi_minor: __raw::SEVER_ABI_MINOR,
            flags: if cfg!(panic = "abort") {
                __raw::SEVER_FLAG_PANIC_ABORTS
            } else {
                0
            },
            name: __raw::SeverBytes {
                ptr: <$adapter as $crate::Adapter>::NAME.as_ptr(),
                len: <$adapter as $crate::Adapter>::NAME.len(),
            },
            version: __raw::SeverBytes {
                ptr: <$adapter as $crate::Adapter>::VERSION.as_ptr(),
                len: <$adapter as $crate::Adapter>::VERSION.len(),
            },
            metadata: Some($crate::export::metadata::<$adapter>),
            instance_new: Some($crate::export::instance_new::<$adapter>),
            instance_free: Some($crate::export::instance_free::<$adapter>),
            flow_start: Some($crate::export::flow_start::<$adapter>),
            flow_resume: Some($crate::export::flow_resume::<$adapter>),
            flow_free: Some($crate::export::flow_free::<$adapter>),
            buf_free: Some($crate::export::buf_free),
            instance_connection: Some($crate::export::instance_connection::<$adapter>),
        };
        #[allow(unsafe_code)]
        // SAFETY: every entry is the SDK's export function for this adapter, which keeps
        // the contract of its type for the life of the process.
        unsafe {
            $crate::abi::StaticDescriptor::new(&DESCRIPTOR)
        }
    }};
}

/// Publishes an [`Adapter`] as a Sever plugin: exports `sever_plugin_descriptor`.
///
/// ```ignore
/// struct MyAdapter { /* … */ }
/// impl sever_plugin_sdk::Adapter for MyAdapter { /* … */ }
/// sever_plugin_sdk::export_plugin!(MyAdapter);
/// ```
///
/// The crate must be a `cdylib` built with `panic = "unwind"` (the default).
#[macro_export]
macro_rules! export_plugin {
    ($adapter:ty) => {
        /// The Sever plugin entry point.
        #[allow(unsafe_code)]
        #[no_mangle]
        pub extern "C" fn sever_plugin_descriptor() -> *const $crate::abi::raw::SeverDescriptor {
            $crate::static_descriptor!($adapter).get()
        }
    };
}
