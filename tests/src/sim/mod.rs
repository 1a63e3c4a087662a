//! Vendor simulators: strict, stateful stand-ins for the vendor APIs Sever's adapters call.
//!
//! A simulator enforces its vendor's documented contract the way the real service would
//! (paths, methods, credentials, content type, body shape, state), so an adapter that sends
//! a slightly wrong call fails a test instead of passing against a lenient mock.
//!
//! Each simulator is an axum app served on its own tokio runtime in a background thread, so
//! plain synchronous `#[test]`s can start one, point a real `sever` process at its `url()`,
//! and afterwards ask what it received ([`RecordedCall`]) and what state it is in. Fault
//! switches ([`Fault`], delays) turn it into a broken vendor at runtime, and a [`Gate`]
//! holds its answers while a test acts on calls known to be under way. Dropping a
//! simulator stops it and closes its port (in-flight connections are cut).
//!
//! This module holds what every simulator shares: [`Sim`], which serves a [`Vendor`]'s
//! contract and state with the shared plumbing — the call record (`calls.rs`), the fault
//! switches and the delay (`faults.rs`), hang-ups and the serving thread (`server.rs`) — and
//! gives every simulator its `start`, `url`, `calls`, `clear_calls`, `hold_answers`,
//! `set_fault`, `fail_next` and `set_delay`. Each vendor's contract and state live in its own submodule,
//! and its simulator is `Sim<ThatVendor>` (e.g. [`CedaloSim`] is `Sim<Cedalo>`).

pub mod alibaba;
pub mod aws_iot;
mod calls;
pub mod cedalo;
pub mod emqx;
pub mod entra;
mod faults;
mod gate;
pub mod hivemq;
pub mod iudx;
pub mod keycloak;
pub mod nexus;
mod oauth;
pub mod okta;
pub mod privx;
mod server;

pub use alibaba::{AlibabaCall, AlibabaFault, AlibabaSim, AlibabaSimConfig};
pub use aws_iot::{AwsIotSim, AwsIotSimConfig};
pub use calls::RecordedCall;
pub use cedalo::{CedaloSim, SimConfig};
pub use emqx::{EmqxSim, EmqxSimConfig};
pub use entra::{EntraSim, EntraSimConfig};
pub use faults::{Canned, Fault};
pub use gate::Gate;
pub use hivemq::{HivemqSim, HivemqSimConfig};
pub use iudx::{IudxSim, IudxSimConfig};
pub use keycloak::{KeycloakSim, KeycloakSimConfig};
pub use nexus::{NexusSim, NexusSimConfig};
pub use okta::{OktaSim, OktaSimConfig};
pub use privx::{PrivxSim, PrivxSimConfig};

use std::fmt::Debug;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use parking_lot::{Mutex, MutexGuard};

use calls::CallLog;
use faults::Switches;
use gate::GateState;
use server::{HangUp, SimServer};

/// One vendor's contract and state, which [`Sim`] serves with the shared plumbing: it reads
/// and records every call, applies the fault switches and the delay, hangs up or answers
/// garbage, and hands the rest to the vendor.
pub trait Vendor: Debug + Send + Sync + Sized + 'static {
    /// Names the simulator (its thread, the panic when it cannot listen).
    const NAME: &'static str;
    /// Bodies larger than this are not read.
    const MAX_BODY_BYTES: usize = 1 << 20;
    /// What [`Fault::Garbage`] answers `200 OK` with: a content type and a body that is not
    /// JSON.
    const GARBAGE: (&'static str, &'static str);
    /// Whether a fault's vendor error ([`Fault::InternalError`], [`Fault::Answer`]) is handed
    /// to [`Vendor::serve`], which answers it once the call is authenticated; by default it
    /// is answered before any check.
    const ERRORS_AFTER_AUTH: bool = false;

    /// What the simulator is started with.
    type Config;
    /// Which set of fault switches governs a call: `()` for one set for every call.
    type Switch: Switch;

    /// The state `config` describes, and where and how to serve it.
    fn new(config: Self::Config) -> (Self, Serving);
    /// The vendor's answer to [`Fault::InternalError`].
    fn internal_error(&self, parts: &Parts) -> Canned;
    /// Writes a vendor error in the vendor's error shape.
    fn refuse(&self, error: &Canned, parts: &Parts) -> Response;
    /// The vendor error for a body that could not be read; `None` serves it as empty.
    fn unreadable(&self) -> Option<Canned> {
        None
    }
    /// Follows the contract for a call no fault answered first.
    fn serve(&self, call: Call<'_>) -> Response;
    /// Forgets what the vendor noted about calls, when the call log is cleared.
    fn calls_cleared(&self) {}
}

/// Keys a simulator's sets of fault switches.
pub trait Switch: Copy + Send + 'static {
    /// How many sets there are.
    const COUNT: usize;
    /// The set that governs a call; `None`: no fault and no delay apply to it.
    fn of(parts: &Parts) -> Option<Self>;
    /// The set's position, below [`Switch::COUNT`].
    fn index(self) -> usize;
}

/// One set for every call.
impl Switch for () {
    const COUNT: usize = 1;

    fn of(_: &Parts) -> Option<Self> {
        Some(())
    }

    fn index(self) -> usize {
        0
    }
}

/// Where and how a simulator serves.
#[derive(Debug, Clone, Copy)]
pub struct Serving {
    /// Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Print one line per answered call to stdout (`METHOD PATH -> STATUS`).
    pub echo_calls: bool,
}

/// A call as [`Vendor::serve`] gets it.
#[derive(Debug)]
pub struct Call<'a> {
    pub parts: &'a Parts,
    /// The body (empty if it could not be read).
    pub body: &'a [u8],
    /// The vendor error a fault asks for, with [`Vendor::ERRORS_AFTER_AUTH`].
    pub error: Option<Canned>,
    /// The call's position in [`Sim::calls`].
    pub index: usize,
}

/// A running simulator of one vendor; stops (and closes its port) when dropped.
#[derive(Debug)]
pub struct Sim<V: Vendor> {
    core: Arc<Core<V>>,
    server: SimServer,
}

/// What the serving thread shares with the [`Sim`].
#[derive(Debug)]
struct Core<V> {
    vendor: V,
    log: CallLog,
    switches: Vec<Mutex<Switches>>,
    gate: Arc<GateState>,
}

impl<V: Vendor> Sim<V> {
    /// Starts a simulator; panics if it cannot listen (see [`Sim::try_start`]).
    pub fn start(config: V::Config) -> Self {
        let (vendor, serving) = V::new(config);
        Self::serve(vendor, serving).unwrap_or_else(|err| {
            let listen = serving.listen;
            panic!("{} simulator cannot listen on {listen}: {err}", V::NAME)
        })
    }

    /// Starts a simulator, or says why it cannot listen.
    pub fn try_start(config: V::Config) -> io::Result<Self> {
        let (vendor, serving) = V::new(config);
        Self::serve(vendor, serving)
    }

    fn serve(vendor: V, serving: Serving) -> io::Result<Self> {
        let core = Arc::new(Core {
            vendor,
            log: CallLog::new(serving.echo_calls),
            switches: (0..V::Switch::COUNT).map(|_| Mutex::default()).collect(),
            gate: Arc::default(),
        });
        let app = Router::new()
            .fallback(handle::<V>)
            .with_state(Arc::clone(&core));
        let server = SimServer::start(serving.listen, V::NAME, app)?;
        Ok(Self { core, server })
    }

    /// TCP connections the simulator accepted so far (a kept-alive connection counts once).
    pub fn connections_accepted(&self) -> u64 {
        self.server.connections_accepted()
    }

    /// The base URL to configure as the backend's `url`, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The address the simulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Every call received so far, as it arrived, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.core.log.snapshot()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.core.log.clear();
        self.core.vendor.calls_cleared();
    }

    /// Holds every answer (calls are still recorded as they arrive) until the gate is
    /// released or dropped: wait for [`Gate::held`] calls, act, then release them.
    pub fn hold_answers(&self) -> Gate {
        Gate::close(&self.core.gate)
    }

    /// The vendor's state.
    fn vendor(&self) -> &V {
        &self.core.vendor
    }

    /// The fault switches of the calls `key` governs.
    fn switches(&self, key: V::Switch) -> MutexGuard<'_, Switches> {
        self.core.switches[key.index()].lock()
    }
}

impl<V: Vendor<Switch = ()>> Sim<V> {
    /// Makes the simulator misbehave (or behave again with [`Fault::None`]).
    pub fn set_fault(&self, fault: impl Into<Fault>) {
        self.switches(()).set(fault.into());
    }

    /// Makes the next `count` calls (in arrival order) misbehave with `fault`; later calls
    /// get the fault set with `set_fault` again (by default: none). Replaces any count still
    /// pending; `count` 0 turns it off.
    pub fn fail_next(&self, count: usize, fault: impl Into<Fault>) {
        self.switches(()).fail_next(count, fault.into());
    }

    /// Delays every answer (faults included) by `delay`; zero turns it off.
    pub fn set_delay(&self, delay: Duration) {
        self.switches(()).set_delay(delay);
    }
}

/// Serves one call: records it, applies the fault switches and the delay, then answers the
/// fault or hands the call to the vendor.
async fn handle<V: Vendor>(
    State(core): State<Arc<Core<V>>>,
    Extension(hang_up): Extension<HangUp>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, V::MAX_BODY_BYTES).await.ok();
    let recorded = RecordedCall::new(&parts, body.as_ref().unwrap_or(&Bytes::new()));
    let index = core.log.record(recorded);
    core.gate.pass().await;
    let switches = V::Switch::of(&parts).map(|key| &core.switches[key.index()]);
    let (one_off, delay) = switches.map_or((None, Duration::ZERO), |s| s.lock().claim());
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let standing = || switches.map(|s| s.lock().standing()).unwrap_or_default();
    let error = match one_off.unwrap_or_else(standing) {
        Fault::HangUp => {
            core.log.answered(index, None);
            return hang_up.now().await;
        }
        Fault::Stall => {
            core.log.answered(index, None);
            return std::future::pending().await;
        }
        Fault::ResetMidAnswer => {
            core.log.answered(index, None);
            return server::cut_short_answer();
        }
        Fault::Garbage => {
            let (content_type, text) = V::GARBAGE;
            let garbage = (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text);
            return core.answered(index, garbage.into_response());
        }
        // Resolved by the switches; as a fallback it behaves.
        Fault::Flapping => None,
        Fault::InternalError => Some(core.vendor.internal_error(&parts)),
        Fault::Answer(canned) => Some(canned),
        Fault::None if body.is_none() => core.vendor.unreadable(),
        Fault::None => None,
    };
    let response = match error {
        Some(error) if !V::ERRORS_AFTER_AUTH => {
            error.headers_onto(core.vendor.refuse(&error, &parts))
        }
        error => core.vendor.serve(Call {
            parts: &parts,
            body: body.as_deref().unwrap_or_default(),
            error,
            index,
        }),
    };
    core.answered(index, response)
}

impl<V> Core<V> {
    /// Notes the status answered to call `index` and passes the answer on.
    fn answered(&self, index: usize, response: Response) -> Response {
        self.log.answered(index, Some(response.status().as_u16()));
        response
    }
}
