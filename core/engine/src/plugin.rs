//! What the engine uses of the plugin ABI (`sever-plugin-abi`) and its host
//! (`sever-plugin-host`), in one place.
//!
//! Every other module of the engine names these types through `crate::plugin`: when the
//! plugin ABI changes, this file (and the few functions that translate an adapter's answer,
//! such as [`crate::problem::ApiProblem::from_plugin`]) is where the engine meets it. The
//! engine never depends on the SDK: that is the adapters' crate.

pub use sever_plugin_abi::raw::SEVER_ABI_MAJOR;
pub use sever_plugin_abi::{
    Action, ActionSpec, BackendSpec, Env, Outcome, Problem, ProblemKind, Request, Step, Success,
    Target, TargetField, Transport, VendorRequest,
};
/// The plugin host: the loader and the safe wrappers Sever calls plugins through, shared
/// with the adapters' conformance kit.
pub use sever_plugin_host as host;
pub use sever_plugin_host::{Instance, InstanceError, Plugin, PluginFault, Resume};
