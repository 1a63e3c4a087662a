//! The plugin host: loads adapter libraries, checks their ABI, and wraps the C ABI in safe
//! RAII types ([`Plugin`], [`Instance`], [`Flow`]).
//!
//! Libraries are never unloaded: `dlclose` of a Rust library is unsound in practice
//! (thread-local destructors, statics). Every handle holds an `Arc<Plugin>`, so nothing
//! outlives the code it points into, and [`Plugin`] deliberately leaks its `Library`.
//!
//! Behind the SDK's `host` feature: Sever's engine (as `sever_engine::host`) and the
//! conformance harness use it; an adapter never enables it.

#![allow(unsafe_code)]

mod load;

pub use load::{load_dir, load_file, load_static, DirLoad, LoadError};

use crate::abi::{self, Buf, Bytes, Descriptor, RawEnv, RawHeader, RawInput, RawStep, Status};
use crate::view;
use crate::{BackendSpec, Env, PluginInfo, Request, SettingError, Step};
use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

/// A loaded, ABI-checked plugin library.
pub struct Plugin {
    path: PathBuf,
    descriptor: &'static Descriptor,
    info: PluginInfo,
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("path", &self.path)
            .finish()
    }
}

/// A failure inside a plugin call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginFault {
    /// The plugin panicked; the panic was caught at the boundary.
    #[error("plugin {plugin} panicked: {message}")]
    Panic { plugin: String, message: String },
    /// The plugin reported an error, or returned something the host cannot read.
    #[error("plugin {plugin} failed: {message}")]
    Broken { plugin: String, message: String },
}

impl PluginFault {
    /// True for a caught panic.
    pub fn is_panic(&self) -> bool {
        matches!(self, PluginFault::Panic { .. })
    }
}

/// Why a backend instance could not be created.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The plugin refused the settings.
    #[error("invalid settings")]
    Settings(Vec<SettingError>),
    /// The plugin failed.
    #[error(transparent)]
    Fault(#[from] PluginFault),
}

impl Plugin {
    /// The plugin's metadata (name, version, actions, settings).
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ABI version it speaks (always the host's: others are refused at load).
    pub fn abi_version(&self) -> u32 {
        self.descriptor.abi_version
    }

    /// Copies a plugin-owned buffer out and frees it through the plugin.
    fn take(&self, buf: Buf) -> Vec<u8> {
        self.own(buf).bytes().to_vec()
    }

    /// Holds a plugin-owned buffer, to be read in place and freed through the plugin on
    /// drop (no copy on the hot path).
    fn own(&self, buf: Buf) -> PluginBuf<'_> {
        PluginBuf { plugin: self, buf }
    }

    fn fault(&self, status: Status, message: &[u8]) -> PluginFault {
        let plugin = self.info.name.clone();
        let message = String::from_utf8_lossy(message).into_owned();
        match status {
            Status::Panic => PluginFault::Panic { plugin, message },
            _ => PluginFault::Broken { plugin, message },
        }
    }

    fn broken(&self, message: String) -> PluginFault {
        PluginFault::Broken {
            plugin: self.info.name.clone(),
            message,
        }
    }

    /// Creates the instance for one backend.
    pub fn instantiate(self: &Arc<Self>, spec: &BackendSpec) -> Result<Instance, InstanceError> {
        let json = serde_json::to_vec(spec).map_err(|e| self.broken(e.to_string()))?;
        let mut out_instance: *mut c_void = std::ptr::null_mut();
        let mut out_error = Buf::EMPTY;
        // SAFETY: inputs live for the call; out pointers are valid locals.
        let status = unsafe {
            (self.descriptor.instance_new)(
                Bytes::from_slice(&json),
                &mut out_instance,
                &mut out_error,
            )
        };
        let error = self.take(out_error);
        match status {
            Status::Ok => match NonNull::new(out_instance) {
                Some(ptr) => Ok(Instance {
                    plugin: Arc::clone(self),
                    ptr,
                }),
                None => Err(self
                    .broken("instance_new returned no instance".into())
                    .into()),
            },
            Status::Error => match serde_json::from_slice::<Vec<SettingError>>(&error) {
                Ok(errors) => Err(InstanceError::Settings(errors)),
                Err(_) => Err(self.fault(status, &error).into()),
            },
            Status::Panic => Err(self.fault(status, &error).into()),
        }
    }
}

/// A buffer the plugin returned, read in place and freed through the plugin on drop.
struct PluginBuf<'p> {
    plugin: &'p Plugin,
    buf: Buf,
}

impl PluginBuf<'_> {
    fn bytes(&self) -> &[u8] {
        if self.buf.ptr.is_null() {
            return &[];
        }
        // SAFETY: the plugin returned ptr/len describing its live allocation, which stays
        // alive until `drop` frees it.
        unsafe { std::slice::from_raw_parts(self.buf.ptr, self.buf.len) }
    }
}

impl Drop for PluginBuf<'_> {
    fn drop(&mut self) {
        let buf = std::mem::replace(&mut self.buf, Buf::EMPTY);
        if !buf.ptr.is_null() {
            // SAFETY: the buffer came from this plugin and is freed exactly once (replaced
            // by an empty one above).
            unsafe { (self.plugin.descriptor.buf_free)(buf) };
        }
    }
}

/// A backend instance created by a plugin. Shared by every request to the backend.
pub struct Instance {
    plugin: Arc<Plugin>,
    ptr: NonNull<c_void>,
}

// SAFETY: the ABI requires instances to be `Send + Sync` (the SDK's `Adapter` trait bounds
// enforce it for Rust plugins); the pointer is only passed back to the plugin.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.plugin.info.name)
            .finish()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the pointer came from this plugin's instance_new and is freed once.
        unsafe { (self.plugin.descriptor.instance_free)(self.ptr.as_ptr()) };
    }
}

fn raw_env(env: &Env) -> RawEnv {
    RawEnv {
        unix_ms: env.unix_ms,
        random: env.random,
    }
}

impl Instance {
    /// The plugin behind this instance.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// The step a plugin call returned, copied out of the plugin's view (which dies with
    /// the next call on the flow), or the fault it reported.
    fn read_step(&self, status: Status, step: &RawStep, error: Buf) -> Result<Step, PluginFault> {
        let error = self.plugin.own(error);
        if status != Status::Ok {
            return Err(self.plugin.fault(status, error.bytes()));
        }
        // SAFETY: on success the plugin wrote a view whose pointers stay readable until our
        // next call on the flow; nothing calls the flow before this copy is done.
        unsafe { view::step_from_view(step) }
            .map_err(|e| self.plugin.broken(format!("unreadable step: {e}")))
    }

    /// Starts a flow for a canonical request (passed to the plugin as a borrowed view).
    pub fn start(&self, request: &Request, env: &Env) -> Result<(Flow<'_>, Step), PluginFault> {
        let raw_request = view::request_view(request);
        let env = raw_env(env);
        let mut out_flow: *mut c_void = std::ptr::null_mut();
        let mut out_step = RawStep::empty(0);
        let mut out_error = Buf::EMPTY;
        // SAFETY: instance is live; the request view and env live for the call (they
        // borrow `request` and locals); out pointers are valid locals.
        let status = unsafe {
            (self.plugin.descriptor.flow_start)(
                self.ptr.as_ptr(),
                &raw_request,
                &env,
                &mut out_flow,
                &mut out_step,
                &mut out_error,
            )
        };
        let flow = Flow {
            instance: self,
            ptr: NonNull::new(out_flow),
            poisoned: status == Status::Panic,
        };
        let step = self.read_step(status, &out_step, out_error)?;
        if flow.ptr.is_none() {
            return Err(self.plugin.broken("flow_start returned no flow".into()));
        }
        Ok((flow, step))
    }
}

/// One request's flow inside a plugin. Freed on drop.
pub struct Flow<'i> {
    instance: &'i Instance,
    ptr: Option<NonNull<c_void>>,
    /// Set after a panic: the flow's state may be half-updated; it is freed, never resumed.
    poisoned: bool,
}

// SAFETY: the ABI allows a flow to move between threads (it is never used concurrently:
// `resume` takes `&mut self`).
unsafe impl Send for Flow<'_> {}

impl fmt::Debug for Flow<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("plugin", &self.instance.plugin.info.name)
            .finish()
    }
}

/// Response headers passed to a resume without allocating; more go to the heap.
const STACK_HEADERS: usize = 16;

/// Why a flow is resumed, host side.
#[derive(Debug, Clone, Copy)]
pub enum Resume<'a> {
    /// The vendor's answer.
    Response {
        status: u16,
        headers: &'a [(String, Vec<u8>)],
        body: &'a [u8],
    },
    /// Plan the last idempotent request again.
    Retry { attempt: u32 },
}

impl Flow<'_> {
    /// Feeds the flow and returns its next step.
    pub fn resume(&mut self, input: Resume<'_>, env: &Env) -> Result<Step, PluginFault> {
        let plugin = &self.instance.plugin;
        let Some(ptr) = self.ptr.filter(|_| !self.poisoned) else {
            return Err(plugin.broken("flow resumed after a panic".into()));
        };
        let empty = RawHeader {
            name: Bytes::from_slice(&[]),
            value: Bytes::from_slice(&[]),
        };
        // The usual handful of headers is passed from the stack: no allocation.
        let mut stack = [empty; STACK_HEADERS];
        let heap: Vec<RawHeader>;
        let raw = match input {
            Resume::Response {
                status,
                headers,
                body,
            } => {
                let views = headers.iter().map(|(n, v)| RawHeader {
                    name: Bytes::from_slice(n.as_bytes()),
                    value: Bytes::from_slice(v),
                });
                let raw_headers: &[RawHeader] = if headers.len() <= STACK_HEADERS {
                    for (slot, view) in stack.iter_mut().zip(views) {
                        *slot = view;
                    }
                    &stack[..headers.len()]
                } else {
                    heap = views.collect();
                    &heap
                };
                RawInput {
                    kind: abi::INPUT_RESPONSE,
                    attempt: 0,
                    status,
                    headers: raw_headers.as_ptr(),
                    headers_len: raw_headers.len(),
                    body: Bytes::from_slice(body),
                }
            }
            Resume::Retry { attempt } => RawInput {
                kind: abi::INPUT_RETRY,
                attempt,
                status: 0,
                headers: std::ptr::null(),
                headers_len: 0,
                body: Bytes::from_slice(&[]),
            },
        };
        let env = raw_env(env);
        let mut out_step = RawStep::empty(0);
        let mut out_error = Buf::EMPTY;
        // SAFETY: instance and flow are live and the flow is exclusively ours (&mut self);
        // `raw` and everything it points to live until the call returns.
        let status = unsafe {
            (plugin.descriptor.flow_resume)(
                self.instance.ptr.as_ptr(),
                ptr.as_ptr(),
                &raw,
                &env,
                &mut out_step,
                &mut out_error,
            )
        };
        if status == Status::Panic {
            self.poisoned = true;
        }
        self.instance.read_step(status, &out_step, out_error)
    }
}

impl Drop for Flow<'_> {
    fn drop(&mut self) {
        if let Some(ptr) = self.ptr {
            // SAFETY: the pointer came from this plugin's flow_start and is freed once.
            unsafe { (self.instance.plugin.descriptor.flow_free)(ptr.as_ptr()) };
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::prelude::*;

    /// Ends every flow with `done`, naming the response headers it was given.
    struct HeaderNames;

    impl Adapter for HeaderNames {
        const NAME: &'static str = "header-names";
        const VERSION: &'static str = "1";
        type Flow = ();

        fn info() -> PluginInfo {
            PluginInfo::new("test adapter", Vec::new(), Vec::new())
        }
        fn new(_: BackendSpec) -> Result<Self, Vec<SettingError>> {
            Ok(HeaderNames)
        }
        fn start(&self, _: &Request, _: &Env) -> ((), Step) {
            (
                (),
                Step::Send(VendorRequest::new("GET", "http://h/".into())),
            )
        }
        fn resume(&self, _: &mut (), input: Input<'_>, _: &Env) -> Step {
            let Input::Response(response) = input else {
                return Step::Fail(Problem::new(ProblemCode::Internal, "no response"));
            };
            let names: Vec<&str> = response.headers.iter().map(|(n, _)| *n).collect();
            let mut vendor = serde_json::Map::new();
            vendor.insert("headers".into(), names.join(",").into());
            Step::Done(Success {
                outcome: Outcome::Done,
                vendor,
            })
        }
    }

    #[test]
    fn every_response_header_crosses_the_boundary_however_many_there_are() {
        let descriptor = crate::static_descriptor!(HeaderNames);
        let plugin = load_static(descriptor, Path::new("<test>")).unwrap();
        let spec = BackendSpec {
            name: "b".into(),
            url: "http://h".into(),
            settings: serde_json::Map::new(),
        };
        let instance = plugin.instantiate(&spec).unwrap();
        let env = Env {
            unix_ms: 0,
            random: [0; 32],
        };
        let request = Request {
            request_id: "r".into(),
            action: Action::Disconnect,
            target: Target::default(),
            reason: None,
        };
        // Up to STACK_HEADERS headers travel in stack arrays, more on the heap.
        for count in [0, 1, STACK_HEADERS, STACK_HEADERS + 1, 40] {
            let headers: Vec<(String, Vec<u8>)> = (0..count)
                .map(|i| (format!("h{i}"), b"v".to_vec()))
                .collect();
            let (mut flow, _) = instance.start(&request, &env).unwrap();
            let answer = Resume::Response {
                status: 200,
                headers: &headers,
                body: b"",
            };
            let Step::Done(success) = flow.resume(answer, &env).unwrap() else {
                panic!("expected done")
            };
            let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                success.vendor["headers"],
                names.join(","),
                "{count} headers"
            );
        }
    }
}
