//! The messages that cross the plugin boundary, as plain Rust types.
//!
//! Metadata, backend specs and settings errors cross the boundary as JSON (these types'
//! serde forms, schemas in `docs/plugin-abi/`); requests, steps and inputs as borrowed
//! `#[repr(C)]` views of these types ([`crate::raw`], converted in [`crate::view`]). The host
//! and the SDK share these definitions, so neither side can drift from the other.

mod exchange;
mod metadata;
mod request;
mod step;

pub use exchange::{
    Exchange, MqttRequest, MqttResult, NatsReplies, NatsRequest, RedisCommand, RedisReply,
    SqlMessage, SqlQuery, SqlResult, SqlValue,
};
pub use metadata::{
    ActionSpec, BackendSpec, ConnectionSpec, PluginInfo, SettingError, SettingSpec, Transport,
};
pub use request::{Action, Env, Request, Target, TargetField};
pub use step::{
    ExchangeOptions, Input, Outcome, Problem, ProblemKind, Step, Success, VendorRequest,
    VendorResponse,
};
