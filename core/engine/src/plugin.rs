//! What the engine uses of the plugin SDK and its host, in one place.
//!
//! Every other module of the engine names these types through `crate::plugin`, never
//! through `sever_plugin_sdk` directly: when the plugin ABI changes, this file (and the
//! few functions that translate an adapter's answer, such as
//! [`crate::problem::ApiProblem::from_plugin`]) is where the engine meets it.

pub use sever_plugin_sdk::abi::ABI_VERSION;
pub use sever_plugin_sdk::encode;
/// The plugin host, shared with the SDK's conformance harness.
pub use sever_plugin_sdk::host;
pub use sever_plugin_sdk::host::{Instance, InstanceError, Plugin, PluginFault, Resume};
pub use sever_plugin_sdk::{
    Action, ActionSpec, BackendSpec, Env, Outcome, Problem, ProblemCode, Request, Step, Success,
    Target, TargetField, VendorRequest,
};
