//! # sever-engine
//!
//! Everything Sever does between the bytes of a canonical request and the bytes of its
//! answer, without an HTTP server: the canonical model ([`canonical`]), configuration
//! ([`config`]), caller auth ([`auth`]), the plugin host ([`host`]), the dispatcher that
//! runs adapter flows ([`dispatch`]), the audit log ([`audit`]), metrics ([`metrics`]) and
//! the API's request handling ([`api`]). The `sever` crate puts it behind pingora.
//!
//! Data flows one way: request bytes → [`canonical::CanonicalRequest`] (validated once) →
//! adapter steps → vendor calls → canonical outcome → answer + audit + metrics.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod breaker;
pub mod canonical;
pub mod config;
pub mod dispatch;
pub mod idempotency;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod plugin_dir;
pub mod problem;
mod problem_code;
pub mod trace;

/// The plugin host (`sever-plugin-host`): the loader and the safe wrappers Sever calls
/// plugins through, shared with the adapters' conformance kit.
pub use sever_plugin_host as host;

pub use app::Sever;
