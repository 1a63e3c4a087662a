//! # sever-plugin-host
//!
//! The host side of the Sever plugin ABI: loads adapter libraries, checks them before
//! calling anything ([`load_file`]: magic, major version, descriptor size, every entry
//! non-null, panics that unwind, names, metadata), and wraps the C ABI in safe RAII types
//! ([`Plugin`], [`Instance`], [`Flow`]) whose every call checks what the plugin returned.
//! The [`conformance`] kit runs an adapter's example cases against its built library
//! through the same code.
//!
//! Sever's engine uses it, and adapters use it in their `[dev-dependencies]` only (for
//! their conformance test): an adapter's own library never links a loader.
//!
//! Libraries are never unloaded: `dlclose` of a Rust library is unsound in practice
//! (thread-local destructors, statics). Every handle holds an `Arc<Plugin>`, so nothing
//! outlives the code it points into, and the loader deliberately leaks its `Library`.

#![allow(unsafe_code)]

pub mod conformance;
mod load;
mod plugin;

pub use load::{load_file, load_static, LoadError};
pub use plugin::{Flow, Instance, InstanceError, Plugin, PluginFault};
pub use sever_plugin_abi::view::Resume;

#[cfg(test)]
mod tests;
