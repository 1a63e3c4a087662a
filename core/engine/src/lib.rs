//! # sever-engine
//!
//! Everything Sever does between the bytes of a canonical request and the bytes of its
//! answer, without an HTTP server: the canonical model ([`canonical`]), configuration
//! ([`config`]), caller auth ([`auth`]), the plugin host ([`host`], through [`plugin`]),
//! the backends that run adapter flows against vendors ([`backend`]), the audit log
//! ([`audit`]), metrics ([`metrics`]), trace context ([`trace`]), the injected clock
//! ([`clock`]) and the API's request handling ([`api`]). The `sever` crate puts it behind
//! pingora.
//!
//! Data flows one way: request bytes → [`canonical::CanonicalRequest`] (validated once) →
//! the checks of spec §4 → adapter steps → vendor calls → how the request ended
//! ([`api::Ended`]) → answer + audit + metrics. [`api`]'s module doc walks through it.

pub mod api;
pub mod app;
pub mod approvals;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod canonical;
pub mod clock;
pub mod config;
pub mod console;
pub mod framing;
pub mod idempotency;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod plugin;
pub mod plugin_dir;
pub mod problem;
mod problem_code;
mod redis_link;
mod reuse;
pub mod trace;

pub use app::{Sever, SeverBuilder};
pub use plugin::host;
