//! # The Sever plugin SDK
//!
//! Everything an adapter author needs, and the only crate an adapter depends on (no loader
//! is in its dependency tree).
//!
//! An adapter is a `cdylib` crate with one type implementing [`Adapter`], its settings as
//! a `#[derive(Settings)]` struct, and one line, [`export_plugin!`]. The adapter is a pure
//! state machine ("sans-I/O", like rustls and quinn-proto): given a backend's settings and a
//! canonical request it returns the vendor request to send ([`Step::Send`]); given each
//! vendor answer it returns the next request or the final canonical outcome
//! ([`Step::Done`] / [`Step::Fail`] with a [`ProblemKind`]). The host does all I/O, supplies
//! the clock and random bytes ([`Env`]), single-flights steps that carry a sharing key, and
//! retries idempotent calls by asking the adapter again.
//!
//! ```
//! use sever_plugin_sdk::prelude::*;
//!
//! #[derive(Debug, Settings)]
//! pub struct EchoSettings {
//!     /// API key (sent as a bearer token)
//!     #[setting(secret, check = settings::visible_ascii)]
//!     api_key: String,
//! }
//!
//! pub struct Echo { url: String, authorization: String }
//!
//! impl Adapter for Echo {
//!     const NAME: &'static str = "echo";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     type Settings = EchoSettings;
//!     type Flow = ();
//!     fn info() -> PluginInfo {
//!         PluginInfo::new("Echo broker", vec![ActionSpec::new(
//!             Action::Disconnect, [[TargetField::ClientId]], "POST …/kick/{client_id}",
//!         )])
//!     }
//!     fn new(b: Backend<EchoSettings>) -> Result<Self, Vec<SettingError>> {
//!         Ok(Echo { url: b.url, authorization: format!("Bearer {}", b.settings.api_key) })
//!     }
//!     fn start(&self, r: &Request, _: &Env) -> ((), Step) {
//!         let url = encode::url_with_segments(&self.url, &["kick", r.target.field(TargetField::ClientId)]);
//!         let call = VendorRequest::new("POST", url).header("authorization", self.authorization.as_str());
//!         ((), Step::Send(call))
//!     }
//!     fn resume(&self, _: &mut (), input: Input<'_>, _: &Env) -> Step {
//!         match input {
//!             Input::Response(r) if r.status == 204 => Step::Done(vendor::done(&r)),
//!             Input::Response(r) => Step::Fail(vendor::problem(
//!                 vendor::kind_for_status(r.status), &r, None, None, format!("echo answered {}", r.status))),
//!             Input::Retry { .. } => Step::Fail(Problem::new(ProblemKind::VendorError, "not retried")),
//!             // Answers to exchanges Echo never plans (Redis, SQL, MQTT, NATS): the host
//!             // never resumes it with one, and a panic is caught and counted as its fault.
//!             _ => unreachable!("echo plans HTTP requests only"),
//!         }
//!     }
//! }
//! export_plugin!(Echo);
//! ```
//!
//! Helpers, by the method that needs them: for `info`, [`PluginInfo::new`] and
//! [`ActionSpec::new`]; for settings, [`settings`] (the derive, value types, checks, a
//! choice of auth options); for `new` in tests, [`create`]; for planning calls, [`encode`]
//! (URL segments, header checks, HTTP Basic credentials); for reading answers, [`vendor`]
//! (status mapping, problems with the vendor's words, RFC 7807 documents, lenient JSON,
//! throttling waits); for list-then-act flows over several pages, [`paging`]; for OAuth2
//! bearer tokens, [`token`] (cached, single-flighted, refreshed on a 401; signed client
//! assertions with the `client-assertion` feature).
//!
//! The ABI itself (for the curious, and for authors in other languages) is the
//! `sever-plugin-abi` crate, re-exported as [`abi`], and `docs/plugin-abi.md`.

// `#[derive(Settings)]` names the SDK by its crate name, also inside the SDK's own tests.
extern crate self as sever_plugin_sdk;

mod adapter;
pub mod encode;
#[doc(hidden)]
pub mod export;
pub mod paging;
pub mod settings;
pub mod token;
pub mod vendor;

/// The ABI crate: `#[repr(C)]` types, constants and the messages they carry.
pub use sever_plugin_abi as abi;

pub use adapter::{create, info, Adapter, Backend};
pub use sever_plugin_abi::{
    Action, ActionSpec, BackendSpec, ConnectionSpec, Env, Exchange, Input, MqttRequest, MqttResult,
    NatsReplies, NatsRequest, Outcome, PluginInfo, Problem, ProblemKind, RedisCommand, RedisReply,
    Request, SettingError, SettingSpec, SqlMessage, SqlQuery, SqlResult, SqlValue, Step, Success,
    Target, TargetField, Transport, VendorRequest, VendorResponse,
};

/// `use sever_plugin_sdk::prelude::*;` brings in what an adapter uses.
pub mod prelude {
    pub use crate::encode;
    pub use crate::export_plugin;
    pub use crate::paging;
    pub use crate::settings::{self, Settings};
    pub use crate::vendor;
    pub use crate::{
        Action, ActionSpec, Adapter, Backend, BackendSpec, ConnectionSpec, Env, Exchange, Input,
        MqttRequest, MqttResult, NatsReplies, NatsRequest, Outcome, PluginInfo, Problem,
        ProblemKind, RedisCommand, RedisReply, Request, SettingError, SettingSpec, SqlMessage,
        SqlQuery, SqlResult, SqlValue, Step, Success, Target, TargetField, Transport,
        VendorRequest, VendorResponse,
    };
}
