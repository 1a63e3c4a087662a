//! The safe RAII wrappers over a loaded plugin: [`Plugin`], [`Instance`], [`Flow`].
//!
//! Every call checks what comes back: an unknown status, a missing flow or instance, or a
//! step the host cannot read is a [`PluginFault`] naming the plugin, never undefined
//! behaviour. A flow whose call did not return `OK` is never called again, only freed.

use sever_plugin_abi::raw::{
    SeverBuf, SeverBufFreeFn, SeverBytes, SeverDescriptor, SeverEnv, SeverFlowFreeFn,
    SeverFlowResumeFn, SeverFlowStartFn, SeverInstanceConnectionFn, SeverInstanceFreeFn,
    SeverInstanceNewFn, SeverMetadataFn, SeverStep, SEVER_ABI_MAJOR,
};
use sever_plugin_abi::view::{self, Resume};
use sever_plugin_abi::{
    BackendSpec, ConnectionSpec, Env, PluginInfo, Request, SettingError, Status, Step,
};
use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

/// The descriptor's entries, each checked non-null at load.
#[derive(Clone, Copy)]
pub(crate) struct Entries {
    pub(crate) metadata: SeverMetadataFn,
    instance_new: SeverInstanceNewFn,
    instance_free: SeverInstanceFreeFn,
    flow_start: SeverFlowStartFn,
    flow_resume: SeverFlowResumeFn,
    flow_free: SeverFlowFreeFn,
    buf_free: SeverBufFreeFn,
    /// 3.1; null in a plugin of 3.0 or an HTTP plugin.
    pub(crate) instance_connection: Option<SeverInstanceConnectionFn>,
}

impl Entries {
    /// The entries of a descriptor, or the name of the first null one.
    pub(crate) fn check(d: &SeverDescriptor) -> Result<Entries, &'static str> {
        Ok(Entries {
            metadata: d.metadata.ok_or("metadata")?,
            instance_new: d.instance_new.ok_or("instance_new")?,
            instance_free: d.instance_free.ok_or("instance_free")?,
            flow_start: d.flow_start.ok_or("flow_start")?,
            flow_resume: d.flow_resume.ok_or("flow_resume")?,
            flow_free: d.flow_free.ok_or("flow_free")?,
            buf_free: d.buf_free.ok_or("buf_free")?,
            instance_connection: d.instance_connection,
        })
    }

    /// Copies a plugin-owned buffer out and frees it through the plugin.
    pub(crate) fn take(&self, buf: SeverBuf) -> Vec<u8> {
        PluginBuf { entries: self, buf }.bytes().to_vec()
    }
}

/// A loaded, checked plugin library.
pub struct Plugin {
    path: PathBuf,
    abi_minor: u32,
    entries: Entries,
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
    /// The plugin reported an error, or returned something the host cannot read (an
    /// unknown status, kind or code; text that is not UTF-8; a missing output).
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
    pub(crate) fn new(path: PathBuf, abi_minor: u32, entries: Entries, info: PluginInfo) -> Self {
        Plugin {
            path,
            abi_minor,
            entries,
            info,
        }
    }

    /// The plugin's metadata (name, version, transport, actions, settings).
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

    /// The ABI version it was built for, `major.minor` (the major is always the host's:
    /// others are refused at load).
    pub fn abi(&self) -> String {
        format!("{SEVER_ABI_MAJOR}.{}", self.abi_minor)
    }

    /// The minor ABI version it was built for.
    pub fn abi_minor(&self) -> u32 {
        self.abi_minor
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

    /// A status the plugin returned, checked.
    fn status(&self, raw: u32, call: &str) -> Result<Status, PluginFault> {
        Status::try_from(raw).map_err(|e| self.broken(format!("{call} returned an {e}")))
    }

    /// Creates the instance for one backend.
    pub fn instantiate(self: &Arc<Self>, spec: &BackendSpec) -> Result<Instance, InstanceError> {
        let json = serde_json::to_vec(spec).map_err(|e| self.broken(e.to_string()))?;
        let mut out_instance: *mut c_void = std::ptr::null_mut();
        let mut out_error = SeverBuf::EMPTY;
        // SAFETY: inputs live for the call; out pointers are valid locals.
        let status = unsafe {
            (self.entries.instance_new)(
                SeverBytes::from_slice(&json),
                &mut out_instance,
                &mut out_error,
            )
        };
        let error = self.entries.take(out_error);
        let instance = NonNull::new(out_instance);
        let status = match self.status(status, "instance_new") {
            Ok(status) => status,
            Err(fault) => {
                if let Some(ptr) = instance {
                    // An instance it made despite the refusal is its own: free it.
                    // SAFETY: the pointer came from this plugin's instance_new.
                    unsafe { (self.entries.instance_free)(ptr.as_ptr()) };
                }
                return Err(fault.into());
            }
        };
        match (status, instance) {
            (Status::Ok, Some(ptr)) => Ok(Instance {
                plugin: Arc::clone(self),
                ptr,
            }),
            (Status::Ok, None) => Err(self
                .broken("instance_new returned no instance".into())
                .into()),
            (Status::Error, _) => match serde_json::from_slice::<Vec<SettingError>>(&error) {
                Ok(errors) if !errors.is_empty() => Err(InstanceError::Settings(errors)),
                _ => Err(self.fault(status, &error).into()),
            },
            (Status::Panic, _) => Err(self.fault(status, &error).into()),
        }
    }
}

/// A buffer the plugin returned, read in place and freed through the plugin on drop.
struct PluginBuf<'p> {
    entries: &'p Entries,
    buf: SeverBuf,
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
        let buf = std::mem::replace(&mut self.buf, SeverBuf::EMPTY);
        if !buf.ptr.is_null() {
            // SAFETY: the buffer came from this plugin and is freed exactly once (replaced
            // by an empty one above).
            unsafe { (self.entries.buf_free)(buf) };
        }
    }
}

/// A backend instance created by a plugin. Shared by every request to the backend.
pub struct Instance {
    plugin: Arc<Plugin>,
    ptr: NonNull<c_void>,
}

// SAFETY: the ABI requires instances to be usable from any thread at once (the SDK's
// `Adapter` trait bounds enforce it for Rust plugins); the pointer is only passed back.
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
        // SAFETY: the pointer came from this plugin's instance_new and is freed once; no
        // flow of it is alive (each borrows the instance).
        unsafe { (self.plugin.entries.instance_free)(self.ptr.as_ptr()) };
    }
}

fn raw_env(env: &Env) -> SeverEnv {
    SeverEnv {
        unix_ms: env.unix_ms,
        random: env.random,
    }
}

/// An empty step for the plugin to fill in.
const NO_STEP: SeverStep = SeverStep {
    kind: 0,
    size: 0,
    payload: std::ptr::null(),
};

impl Instance {
    /// The plugin behind this instance.
    pub fn plugin(&self) -> &Arc<Plugin> {
        &self.plugin
    }

    /// How the host connects to this instance's backend, for a transport other than HTTP
    /// (`None` for an HTTP plugin, or one that has no connection to describe).
    pub fn connection(&self) -> Result<Option<ConnectionSpec>, PluginFault> {
        let Some(entry) = self.plugin.entries.instance_connection else {
            return Ok(None);
        };
        let mut out = SeverBuf::EMPTY;
        // SAFETY: the instance is live; `out` is a valid local.
        let status = unsafe { entry(self.ptr.as_ptr(), &mut out) };
        let bytes = self.plugin.entries.take(out);
        match self.plugin.status(status, "instance_connection")? {
            Status::Ok => serde_json::from_slice(&bytes).map_err(|e| {
                self.plugin
                    .broken(format!("unreadable connection spec: {e}"))
            }),
            other => Err(self.plugin.fault(other, &bytes)),
        }
    }

    /// The step a plugin call returned, copied out of the plugin's view (which dies with
    /// the next call on the flow), or the fault it reported.
    fn read_step(
        &self,
        status: Status,
        step: &SeverStep,
        error: SeverBuf,
    ) -> Result<Step, PluginFault> {
        let error = PluginBuf {
            entries: &self.plugin.entries,
            buf: error,
        };
        if status != Status::Ok {
            return Err(self.plugin.fault(status, error.bytes()));
        }
        // SAFETY: on success the plugin wrote a view whose payload stays readable until our
        // next call on the flow; nothing calls the flow before this copy is done.
        unsafe { view::step_from_view(step) }
            .map_err(|e| self.plugin.broken(format!("unreadable step: {e}")))
    }

    /// Starts a flow for a canonical request (passed to the plugin as a borrowed view).
    pub fn start(&self, request: &Request, env: &Env) -> Result<(Flow<'_>, Step), PluginFault> {
        let raw_request = view::request_view(request);
        let env = raw_env(env);
        let mut out_flow: *mut c_void = std::ptr::null_mut();
        let mut out_step = NO_STEP;
        let mut out_error = SeverBuf::EMPTY;
        // SAFETY: instance is live; the request view and env live for the call (they
        // borrow `request` and locals); out pointers are valid locals.
        let status = unsafe {
            (self.plugin.entries.flow_start)(
                self.ptr.as_ptr(),
                &raw_request,
                &env,
                &mut out_flow,
                &mut out_step,
                &mut out_error,
            )
        };
        let status = match self.plugin.status(status, "flow_start") {
            Ok(status) => status,
            Err(fault) => {
                self.plugin.entries.take(out_error);
                return Err(fault);
            }
        };
        // The ABI says no flow exists unless the call succeeded: a pointer written with
        // another status is never touched (freeing it could free it twice).
        let flow = Flow {
            instance: self,
            ptr: NonNull::new(out_flow).filter(|_| status == Status::Ok),
            ended: false,
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
    /// Set after a call that did not return `OK`: the flow's state may be half-updated;
    /// it is freed, never resumed.
    ended: bool,
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

impl Flow<'_> {
    /// Feeds the flow and returns its next step.
    pub fn resume(&mut self, input: Resume<'_>, env: &Env) -> Result<Step, PluginFault> {
        let plugin = &self.instance.plugin;
        let Some(ptr) = self.ptr.filter(|_| !self.ended) else {
            return Err(plugin.broken("flow resumed after a failed call".into()));
        };
        let env = raw_env(env);
        let mut out_step = NO_STEP;
        let mut out_error = SeverBuf::EMPTY;
        let status = view::with_input_view(input, |raw| {
            // SAFETY: instance and flow are live and the flow is exclusively ours (&mut
            // self); `raw` and everything it points to live until the call returns.
            unsafe {
                (plugin.entries.flow_resume)(
                    self.instance.ptr.as_ptr(),
                    ptr.as_ptr(),
                    raw,
                    &env,
                    &mut out_step,
                    &mut out_error,
                )
            }
        });
        let status = match plugin.status(status, "flow_resume") {
            Ok(status) => status,
            Err(fault) => {
                self.ended = true;
                plugin.entries.take(out_error);
                return Err(fault);
            }
        };
        self.ended = status != Status::Ok;
        self.instance.read_step(status, &out_step, out_error)
    }
}

impl Drop for Flow<'_> {
    fn drop(&mut self) {
        if let Some(ptr) = self.ptr {
            // SAFETY: the pointer came from this plugin's flow_start and is freed once.
            unsafe { (self.instance.plugin.entries.flow_free)(ptr.as_ptr()) };
        }
    }
}
