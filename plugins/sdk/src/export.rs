//! The plugin side of the ABI: generic `extern "C"` functions that wrap an [`Adapter`],
//! and the [`export_plugin!`](crate::export_plugin) macro that publishes them.
//!
//! Every function here catches panics and turns them into [`Status::Panic`]: unwinding
//! across `extern "C"` would abort the host.

#![allow(unsafe_code)]

use crate::abi::{
    Buf, Bytes, RawEnv, RawHeader, RawInput, RawRequest, RawStep, Status, INPUT_RESPONSE,
    INPUT_RETRY,
};
use crate::adapter::Adapter;
use crate::model::{BackendSpec, Env, Input, SettingError, Step, VendorResponse};
use crate::view::{request_from_view, StepStore};
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

/// Runs `f`, turning a panic into [`Status::Panic`] with its message in `out`.
///
/// # Safety
/// `out` must be null or valid for writes of a `Buf`.
unsafe fn guarded(out: *mut Buf, f: impl FnOnce() -> (Status, Vec<u8>)) -> Status {
    let (status, bytes) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => (Status::Panic, panic_message(payload.as_ref()).into_bytes()),
    };
    if !out.is_null() {
        // SAFETY: caller guarantees `out` is valid for writes.
        unsafe { out.write(Buf::from_vec(bytes)) };
    }
    status
}

fn to_json<T: serde::Serialize>(value: &T) -> (Status, Vec<u8>) {
    match serde_json::to_vec(value) {
        Ok(out) => (Status::Ok, out),
        Err(e) => (Status::Error, format!("cannot encode: {e}").into_bytes()),
    }
}

/// A flow as the plugin keeps it: the adapter's state, and the last step with the storage
/// its [`RawStep`] view points into — read by the host until its next call on the flow.
struct FlowState<F> {
    flow: F,
    step: Step,
    store: StepStore,
}

impl<F> FlowState<F> {
    fn view(&mut self) -> Result<RawStep, String> {
        self.store.view(&self.step)
    }
}

/// Runs a flow call: `f` returns the step's view or an error message; a panic becomes
/// [`Status::Panic`]. Writes `out_step` only on success and `out_error` only on failure.
///
/// # Safety
/// `out_step` and `out_error` must be null or valid for writes.
unsafe fn guarded_step(
    out_step: *mut RawStep,
    out_error: *mut Buf,
    f: impl FnOnce() -> Result<RawStep, String>,
) -> Status {
    let (status, message) = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(step)) => {
            if !out_step.is_null() {
                // SAFETY: caller guarantees `out_step` is valid for writes.
                unsafe { out_step.write(step) };
            }
            return Status::Ok;
        }
        Ok(Err(message)) => (Status::Error, message),
        Err(payload) => (Status::Panic, panic_message(payload.as_ref())),
    };
    if !out_error.is_null() {
        // SAFETY: caller guarantees `out_error` is valid for writes.
        unsafe { out_error.write(Buf::from_vec(message.into_bytes())) };
    }
    status
}

/// Response headers a resume reads without allocating; more go to the heap.
const STACK_HEADERS: usize = 16;

fn env_from(raw: *const RawEnv) -> Env {
    if raw.is_null() {
        return Env {
            unix_ms: 0,
            random: [0; 32],
        };
    }
    // SAFETY: the host passes a valid pointer for the call (checked non-null above).
    let raw = unsafe { *raw };
    Env {
        unix_ms: raw.unix_ms,
        random: raw.random,
    }
}

/// `metadata` for adapter `A`.
///
/// # Safety
/// `out` must be valid for writes.
pub unsafe extern "C" fn metadata<A: Adapter>(out: *mut Buf) -> Status {
    // SAFETY: forwarded caller contract.
    unsafe {
        guarded(out, || {
            let mut info = A::info();
            A::NAME.clone_into(&mut info.name);
            A::VERSION.clone_into(&mut info.version);
            to_json(&info)
        })
    }
}

/// `instance_new` for adapter `A`.
///
/// # Safety
/// `spec` must be readable; `out_instance` and `out_error` valid for writes.
pub unsafe extern "C" fn instance_new<A: Adapter>(
    spec: Bytes,
    out_instance: *mut *mut c_void,
    out_error: *mut Buf,
) -> Status {
    let run = || {
        // SAFETY: the host keeps `spec` alive for the call.
        let spec = unsafe { spec.as_slice() };
        let spec: BackendSpec = match serde_json::from_slice(spec) {
            Ok(s) => s,
            Err(e) => {
                let errors = vec![SettingError::new("", format!("unreadable settings: {e}"))];
                return (
                    Status::Error,
                    serde_json::to_vec(&errors).unwrap_or_default(),
                );
            }
        };
        match A::new(spec) {
            Ok(instance) => {
                let ptr = Box::into_raw(Box::new(instance)).cast::<c_void>();
                // SAFETY: the host passes a valid out pointer.
                unsafe { out_instance.write(ptr) };
                (Status::Ok, Vec::new())
            }
            Err(errors) => (
                Status::Error,
                serde_json::to_vec(&errors).unwrap_or_default(),
            ),
        }
    };
    // SAFETY: forwarded caller contract.
    unsafe { guarded(out_error, run) }
}

/// `instance_free` for adapter `A`.
///
/// # Safety
/// `instance` must come from `instance_new::<A>` and not be used afterwards.
pub unsafe extern "C" fn instance_free<A: Adapter>(instance: *mut c_void) -> Status {
    if instance.is_null() {
        return Status::Ok;
    }
    // SAFETY: instance came from Box::<A>::into_raw in instance_new.
    let boxed = unsafe { Box::from_raw(instance.cast::<A>()) };
    // SAFETY: null out pointer: nothing is written.
    unsafe {
        guarded(std::ptr::null_mut(), move || {
            drop(boxed);
            (Status::Ok, Vec::new())
        })
    }
}

/// `flow_start` for adapter `A`.
///
/// # Safety
/// `instance` must be a live instance of `A`; `request` (with every pointer in it) and
/// `env` readable for the call; `out_flow`, `out_step` and `out_error` valid for writes.
pub unsafe extern "C" fn flow_start<A: Adapter>(
    instance: *const c_void,
    request: *const RawRequest,
    env: *const RawEnv,
    out_flow: *mut *mut c_void,
    out_step: *mut RawStep,
    out_error: *mut Buf,
) -> Status {
    let run = || {
        // SAFETY: caller contract: live instance (shared access only), readable request.
        let (adapter, request) = unsafe { (&*instance.cast::<A>(), &*request) };
        // SAFETY: caller contract: every pointer in the request is readable.
        let request = unsafe { request_from_view(request) }
            .map_err(|e| format!("unreadable request: {e}"))?;
        let (flow, step) = adapter.start(&request, &env_from(env));
        let mut state = Box::new(FlowState {
            flow,
            step,
            store: StepStore::default(),
        });
        // The view points into the boxed state, which does not move from here on.
        let view = state.view()?;
        // SAFETY: valid out pointer (caller contract).
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
    input: *const RawInput,
    env: *const RawEnv,
    out_step: *mut RawStep,
    out_error: *mut Buf,
) -> Status {
    let run = || {
        // SAFETY: caller contract: live instance, exclusive flow, readable input.
        let (adapter, state, raw) = unsafe {
            (
                &*instance.cast::<A>(),
                &mut *flow.cast::<FlowState<A::Flow>>(),
                &*input,
            )
        };
        let env = env_from(env);
        match raw.kind {
            INPUT_RESPONSE => {
                let raw_headers: &[RawHeader] = if raw.headers_len == 0 {
                    &[]
                } else {
                    // SAFETY: headers/headers_len describe a live array (caller contract).
                    unsafe { std::slice::from_raw_parts(raw.headers, raw.headers_len) }
                };
                let readable = raw_headers.iter().filter_map(|h| {
                    // SAFETY: each header's bytes are live for the call.
                    let (name, value) = unsafe { (h.name.as_slice(), h.value.as_slice()) };
                    std::str::from_utf8(name).ok().map(|n| (n, value))
                });
                // The usual handful of headers lives on the stack: no allocation.
                let mut stack: [(&str, &[u8]); STACK_HEADERS] = [("", &[]); STACK_HEADERS];
                let heap: Vec<(&str, &[u8])>;
                let headers: &[(&str, &[u8])] = if raw_headers.len() <= STACK_HEADERS {
                    let mut n = 0;
                    for (slot, header) in stack.iter_mut().zip(readable) {
                        *slot = header;
                        n += 1;
                    }
                    &stack[..n]
                } else {
                    heap = readable.collect();
                    &heap
                };
                let response = VendorResponse {
                    status: raw.status,
                    headers,
                    // SAFETY: body is live for the call.
                    body: unsafe { raw.body.as_slice() },
                };
                state.step = adapter.resume(&mut state.flow, Input::Response(response), &env);
            }
            INPUT_RETRY => {
                let retry = Input::Retry {
                    attempt: raw.attempt,
                };
                state.step = adapter.resume(&mut state.flow, retry, &env);
            }
            other => return Err(format!("unknown input kind {other}")),
        }
        state.view()
    };
    // SAFETY: forwarded caller contract.
    unsafe { guarded_step(out_step, out_error, run) }
}

/// `flow_free` for adapter `A`.
///
/// # Safety
/// `flow` must come from `flow_start::<A>` and not be used afterwards.
pub unsafe extern "C" fn flow_free<A: Adapter>(flow: *mut c_void) -> Status {
    if flow.is_null() {
        return Status::Ok;
    }
    // SAFETY: flow came from Box::<FlowState<A::Flow>>::into_raw in flow_start.
    let boxed = unsafe { Box::from_raw(flow.cast::<FlowState<A::Flow>>()) };
    // SAFETY: null out pointer: nothing is written.
    unsafe {
        guarded(std::ptr::null_mut(), move || {
            drop(boxed);
            (Status::Ok, Vec::new())
        })
    }
}

/// `buf_free`: releases a buffer this library returned.
///
/// # Safety
/// `buf` must come from this library and not be freed twice.
pub unsafe extern "C" fn buf_free(buf: Buf) {
    // Dropping a Vec<u8> cannot panic, but stay inside the rule: nothing unwinds out.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: caller contract.
        drop(unsafe { buf.into_vec() });
    }));
}

/// The `&'static` [`Descriptor`](crate::abi::Descriptor) of an [`Adapter`], without
/// exporting a symbol. [`export_plugin!`](crate::export_plugin) uses it; hosts and tests
/// use it to run an adapter linked statically through exactly the same ABI functions as
/// a loaded library.
///
/// ```
/// # use sever_plugin_sdk::prelude::*;
/// # struct A;
/// # impl Adapter for A {
/// #   const NAME: &'static str = "a"; const VERSION: &'static str = "1";
/// #   type Flow = ();
/// #   fn info() -> PluginInfo { panic!("not called") }
/// #   fn new(_: BackendSpec) -> Result<Self, Vec<SettingError>> { Ok(A) }
/// #   fn start(&self, _: &Request, _: &Env) -> ((), Step) { panic!("not called") }
/// #   fn resume(&self, _: &mut (), _: Input<'_>, _: &Env) -> Step { panic!("not called") }
/// # }
/// let descriptor: &'static sever_plugin_sdk::abi::Descriptor = sever_plugin_sdk::static_descriptor!(A);
/// assert_eq!(descriptor.abi_version, sever_plugin_sdk::abi::ABI_VERSION);
/// ```
#[macro_export]
macro_rules! static_descriptor {
    ($adapter:ty) => {{
        static DESCRIPTOR: $crate::abi::Descriptor = $crate::abi::Descriptor {
            magic: $crate::abi::MAGIC,
            abi_version: $crate::abi::ABI_VERSION,
            size: $crate::abi::DESCRIPTOR_SIZE,
            unwind: if cfg!(panic = "unwind") { 1 } else { 0 },
            name: $crate::abi::Bytes {
                ptr: <$adapter as $crate::Adapter>::NAME.as_ptr(),
                len: <$adapter as $crate::Adapter>::NAME.len(),
            },
            version: $crate::abi::Bytes {
                ptr: <$adapter as $crate::Adapter>::VERSION.as_ptr(),
                len: <$adapter as $crate::Adapter>::VERSION.len(),
            },
            metadata: $crate::export::metadata::<$adapter>,
            instance_new: $crate::export::instance_new::<$adapter>,
            instance_free: $crate::export::instance_free::<$adapter>,
            flow_start: $crate::export::flow_start::<$adapter>,
            flow_resume: $crate::export::flow_resume::<$adapter>,
            flow_free: $crate::export::flow_free::<$adapter>,
            buf_free: $crate::export::buf_free,
        };
        &DESCRIPTOR
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
        pub extern "C" fn sever_plugin_descriptor() -> *const $crate::abi::Descriptor {
            $crate::static_descriptor!($adapter)
        }
    };
}
