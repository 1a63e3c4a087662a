//! The safe trait an adapter implements.

use crate::model::{BackendSpec, Env, Input, PluginInfo, Request, SettingError, Step};

/// A vendor adapter: a pure state machine that turns a canonical [`Request`] into vendor
/// HTTP calls and the vendor's answers into a canonical outcome.
///
/// # How the methods fit together
///
/// 1. **Load.** The host calls [`Adapter::info`] once to learn the plugin's actions (and
///    the target field sets each accepts) and its settings keys (and which are secret).
/// 2. **Create.** For every configured backend that uses the plugin, the host calls
///    [`Adapter::new`] with the backend's name, URL and settings. Validate every setting
///    here and return all problems at once; a problem becomes a config error naming the
///    backend and key. The instance lives as long as the backend; state that outlives a
///    request (a cached OAuth2 token) lives in it, behind thread-safe interior mutability,
///    because every request on every thread shares it.
/// 3. **Start.** For each canonical request the host has parsed and validated (the
///    action is one you declared, the target holds exactly one of your field sets),
///    [`Adapter::start`] returns the flow's state and its first [`Step`].
/// 4. **Steps.** [`Step::Send`] asks the host to send a vendor request; the host then
///    calls [`Adapter::resume`] with [`Input::Response`]. Return the next `Send` for
///    multi-step flows (token, then action; list, then close each) or finish with
///    [`Step::Done`] / [`Step::Fail`].
/// 5. **Retries.** If a request you marked `idempotent` gets no answer, or you answered
///    it with a `Fail` whose problem is `retryable`, the host may call `resume` with
///    [`Input::Retry`]: plan the same call again, with a fresh nonce and timestamp from
///    the new [`Env`]. The host never resends your bytes by itself.
///
/// Adapters never do I/O, never read the clock and never draw randomness: [`Env`] carries
/// time and random bytes into every call, which makes every flow reproducible in a test.
/// A panic is caught at the boundary and answered as `500 internal`.
pub trait Adapter: Send + Sync + Sized + 'static {
    /// The name backends refer to (`plugin: cedalo`): lowercase, stable.
    const NAME: &'static str;

    /// The adapter's version; usually `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;

    /// The per-request state carried between steps.
    type Flow: Send + 'static;

    /// What the plugin can do: actions and settings. Called once per load. The `name` and
    /// `version` fields are overwritten with [`Adapter::NAME`] and [`Adapter::VERSION`].
    fn info() -> PluginInfo;

    /// Creates the instance for one backend, validating its settings.
    fn new(backend: BackendSpec) -> Result<Self, Vec<SettingError>>;

    /// Begins a flow.
    fn start(&self, request: &Request, env: &Env) -> (Self::Flow, Step);

    /// Continues a flow.
    fn resume(&self, flow: &mut Self::Flow, input: Input<'_>, env: &Env) -> Step;
}
