//! # The Sever plugin SDK
//!
//! Everything an adapter author needs, and the only crate an adapter depends on.
//!
//! An adapter is a `cdylib` crate with one type implementing [`Adapter`] and one line,
//! [`export_plugin!`]. The adapter is a pure state machine ("sans-I/O", like rustls and
//! quinn-proto): given a backend's settings and a canonical request it returns the vendor
//! HTTP request to send ([`Step::Send`]); given each vendor answer it returns the next
//! request or the final canonical outcome ([`Step::Done`] / [`Step::Fail`]). The host does
//! all I/O, supplies the clock and random bytes ([`Env`]), single-flights steps that carry
//! a sharing key, and retries idempotent calls by asking the adapter again.
//!
//! ```ignore
//! use sever_plugin_sdk::prelude::*;
//!
//! pub struct Echo { url: String }
//!
//! impl Adapter for Echo {
//!     const NAME: &'static str = "echo";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     type Flow = ();
//!     fn info() -> PluginInfo { /* actions, settings */ }
//!     fn new(b: BackendSpec) -> Result<Self, Vec<SettingError>> { Ok(Echo { url: b.url }) }
//!     fn start(&self, r: &Request, _: &Env) -> ((), Step) {
//!         let url = encode::url_with_segments(&self.url, &["kick", r.target.field(TargetField::ClientId)]);
//!         ((), Step::Send(VendorRequest::new("POST", url)))
//!     }
//!     fn resume(&self, _: &mut (), input: Input<'_>, _: &Env) -> Step { /* map the answer */ }
//! }
//! export_plugin!(Echo);
//! ```
//!
//! Helpers, by the method that needs them: for `info`, [`PluginInfo::new`],
//! [`ActionSpec::new`] and [`SettingSpec::required`] / [`SettingSpec::secret`] (and their
//! optional forms); for `new`, [`settings::Settings`] (every problem at once, "exactly one
//! of these option groups"); for planning calls, [`encode`] (URL segments, header checks,
//! HTTP Basic credentials); for reading answers, [`vendor`] (status mapping, problems with
//! the vendor's words, RFC 7807 documents, lenient JSON).
//!
//! The ABI itself (for host authors and the curious) is documented in [`abi`]. With the
//! `host` feature (for hosts, never an adapter), the `host` module loads plugin libraries
//! and calls them through safe wrappers: Sever's engine and the conformance harness share it.
//!
//! With the `conformance` feature (in an adapter's `[dev-dependencies]` only), the
//! `conformance` module runs the adapter's declared example cases against its built
//! library through the real ABI.

pub mod abi;
mod adapter;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod encode;
#[doc(hidden)]
pub mod export;
#[cfg(feature = "host")]
pub mod host;
mod info;
pub mod model;
pub mod settings;
pub mod vendor;
mod view;

pub use adapter::Adapter;
pub use model::{
    Action, ActionSpec, BackendSpec, Env, Input, Outcome, PluginInfo, Problem, ProblemCode,
    Request, SettingError, SettingSpec, Step, Success, Target, TargetField, VendorRequest,
    VendorResponse,
};

/// `use sever_plugin_sdk::prelude::*;` brings in what an adapter uses.
pub mod prelude {
    pub use crate::encode;
    pub use crate::export_plugin;
    pub use crate::settings::Settings;
    pub use crate::vendor;
    pub use crate::{
        Action, ActionSpec, Adapter, BackendSpec, Env, Input, Outcome, PluginInfo, Problem,
        ProblemCode, Request, SettingError, SettingSpec, Step, Success, Target, TargetField,
        VendorRequest, VendorResponse,
    };
}
