//! The safe trait an adapter implements.

use crate::settings::{self, Settings};
use sever_plugin_abi::{
    BackendSpec, ConnectionSpec, Env, Input, PluginInfo, Request, SettingError, Step,
};

/// A vendor adapter: a pure state machine that turns a canonical [`Request`] into vendor
/// calls and the vendor's answers into a canonical outcome.
///
/// # How the methods fit together
///
/// 1. **Load.** The host asks for the plugin's metadata once: [`Adapter::info`] (its
///    actions and the target field sets each accepts), with the settings keys taken from
///    [`Adapter::Settings`] (and which are secret).
/// 2. **Create.** For every configured backend that uses the plugin, the SDK reads the
///    backend's settings into [`Adapter::Settings`], reporting every problem at once (each
///    becomes a config error naming the backend and key); when they pass, it calls
///    [`Adapter::new`] with the typed settings. The instance lives as long as the backend; state that
///    outlives a request (a cached OAuth2 token) lives in it, behind thread-safe interior
///    mutability, because every request on every thread shares it.
/// 3. **Start.** For each canonical request the host has parsed and validated (the
///    action is one you declared, the target holds exactly one of your field sets),
///    [`Adapter::start`] returns the flow's state and its first [`Step`].
/// 4. **Steps.** [`Step::Send`] asks the host to send a vendor request; the host then
///    calls [`Adapter::resume`] with [`Input::Response`]. Return the next `Send` for
///    multi-step flows (token, then action; list, then close each) or finish with
///    [`Step::Done`] / [`Step::Fail`] (a [`Problem`](crate::Problem) of a
///    [`ProblemKind`](crate::ProblemKind): what the vendor's answer means).
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

    /// The backend settings, as a `#[derive(Settings)]` struct
    /// ([`crate::settings`]); `()` for none.
    type Settings: Settings;

    /// The per-request state carried between steps.
    type Flow: Send + 'static;

    /// What the plugin can do (description, actions, transport). Called once per load.
    /// `name`, `version` and `settings` are filled in by the SDK from [`Adapter::NAME`],
    /// [`Adapter::VERSION`] and [`Adapter::Settings`].
    fn info() -> PluginInfo;

    /// Creates the instance for one backend from its settings, already read and checked.
    /// Return errors only for what the settings type could not check (how two keys fit
    /// together); each names its key.
    fn new(backend: Backend<Self::Settings>) -> Result<Self, Vec<SettingError>>;

    /// Begins a flow.
    fn start(&self, request: &Request, env: &Env) -> (Self::Flow, Step);

    /// Continues a flow.
    fn resume(&self, flow: &mut Self::Flow, input: Input<'_>, env: &Env) -> Step;

    /// How the host connects to the backend, for a transport other than HTTP (declared with
    /// [`PluginInfo::transport`]): the user name, password, client id… from the settings
    /// this instance was made with. Called once, after [`Adapter::new`]; the host opens the
    /// connection lazily, on the first exchange. `None` (the default) for HTTP.
    fn connection(&self) -> Option<ConnectionSpec> {
        None
    }
}

/// One configured backend, as [`Adapter::new`] receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend<S> {
    /// The backend's name in the config.
    pub name: String,
    /// The vendor base URL, without a trailing `/`.
    pub url: String,
    /// The backend's settings, read into the adapter's type.
    pub settings: S,
}

/// No settings at all.
impl Settings for () {
    fn specs() -> Vec<sever_plugin_abi::SettingSpec> {
        Vec::new()
    }

    fn read(_reader: &mut settings::Reader<'_>) -> Option<Self> {
        Some(())
    }
}

/// The metadata the host receives: [`Adapter::info`] with the name, version and settings
/// filled in.
pub fn info<A: Adapter>() -> PluginInfo {
    let mut info = A::info();
    A::NAME.clone_into(&mut info.name);
    A::VERSION.clone_into(&mut info.version);
    info.settings = A::Settings::specs();
    info
}

/// Creates an instance of `A` from a backend spec exactly as the host's call does: the
/// settings are read into [`Adapter::Settings`] (every problem at once), then, when they
/// passed, [`Adapter::new`] runs. What an adapter's tests call instead of `A::new`.
///
/// ```
/// # use sever_plugin_sdk::prelude::*;
/// # #[derive(Debug)] struct Echo;
/// # impl Adapter for Echo {
/// #   const NAME: &'static str = "echo"; const VERSION: &'static str = "1";
/// #   type Settings = (); type Flow = ();
/// #   fn info() -> PluginInfo { PluginInfo::new("echo", vec![]) }
/// #   fn new(_: Backend<()>) -> Result<Self, Vec<SettingError>> { Ok(Echo) }
/// #   fn start(&self, _: &Request, _: &Env) -> ((), Step) { panic!("not called") }
/// #   fn resume(&self, _: &mut (), _: Input<'_>, _: &Env) -> Step { panic!("not called") }
/// # }
/// let spec = BackendSpec { name: "b".into(), url: "http://h".into(), settings: Default::default() };
/// assert!(sever_plugin_sdk::create::<Echo>(&spec).is_ok());
/// let spec = BackendSpec { settings: serde_json::json!({"typo": 1}).as_object().unwrap().clone(), ..spec };
/// assert_eq!(sever_plugin_sdk::create::<Echo>(&spec).unwrap_err()[0].key, "typo");
/// ```
pub fn create<A: Adapter>(spec: &BackendSpec) -> Result<A, Vec<SettingError>> {
    let specs = A::Settings::specs();
    let mut reader = settings::Reader::new(&specs, &spec.settings);
    let read = A::Settings::read(&mut reader);
    let errors = reader.finish();
    match read {
        Some(settings) if errors.is_empty() => A::new(Backend {
            name: spec.name.clone(),
            url: spec.url.clone(),
            settings,
        }),
        _ => Err(errors),
    }
}
