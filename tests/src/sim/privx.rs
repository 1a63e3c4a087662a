//! A strict simulator of PrivX's OAuth2 token endpoint and connection-manager terminate API.
//!
//! ```text
//! POST /auth/api/v1/oauth/token
//! Authorization: Basic base64(<oauth client id>:<oauth client secret>)
//! Content-Type: application/x-www-form-urlencoded
//!
//! grant_type=password&username=<api client id>&password=<api client secret>
//!
//! POST /connection-manager/api/v1/terminate/{connection|user|host}/{uuid}
//! Authorization: Bearer <access token>
//! ```
//!
//! **Token endpoint**, checks in order (the first that fails answers an OAuth2 error
//! `{"error", "error_description"}`): the method is `POST` (else 405); Basic credentials of
//! the configured OAuth client (else 401 `invalid_client`); `Content-Type:
//! application/x-www-form-urlencoded`, the only accepted type (else 400 `invalid_request`);
//! a well-formed form with each key once and `grant_type`, `username`, `password` present
//! (else 400 `invalid_request`); `grant_type=password` (else 400 `unsupported_grant_type`);
//! the API client's id and secret (else 400 `invalid_grant`). Then it issues a random token:
//! `{"access_token", "token_type": "bearer", "expires_in", "refresh_token", "scope"}`.
//!
//! **Terminate**, checks in order (errors are PrivX's `{"error_code", "error_message",
//! "property", "details"}`): the method is `POST` (else 405); a bearer token it issued, not
//! expired and not revoked (else 401); the API client has the terminate scope (else 403
//! `PERMISSION_DENIED`, see [`PrivxSim::set_forbidden`]); the id is a UUID (else 400
//! `VALUE_INCORRECT_FORMAT`); no body (else 400 `INVALID_REQUEST_DATA`: the adapter sends
//! none, as the Go SDK); the connection, user or host is known (else 404). Success flags the
//! connection (or every connection of the user or host) and answers `200`
//! `Connection(s) flagged for termination.` Terminating a flagged connection again answers
//! 200 again. Any other path is 404.
//!
//! Faults ([`Fault`], 503 `MAX_LOAD`, delays) are set per [`Endpoint`], apply before the
//! checks, and leave the state alone. Assumed (PrivX does not document it): a non-UUID id
//! is a 400 `VALUE_INCORRECT_FORMAT`, an unknown target a 404 `GENERAL_ERROR`.

mod contract;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use parking_lot::Mutex;

use super::{CallLog, Fault, HangUp, RecordedCall, SimServer};
use contract::PrivxError;

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/auth/api/v1/oauth/token";
/// The prefix of the terminate paths.
pub const TERMINATE_PREFIX: &str = "/connection-manager/api/v1/terminate/";

const MAX_BODY_BYTES: usize = 1 << 20;

/// Which endpoint a fault or delay applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/api/v1/oauth/token`.
    Token,
    /// `POST /connection-manager/api/v1/terminate/…`.
    Terminate,
}

/// What the simulated PrivX knows when it starts.
#[derive(Debug, Clone)]
pub struct PrivxSimConfig {
    /// Where to listen; port 0 (the default) picks a free port.
    pub listen: SocketAddr,
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    pub api_client_id: String,
    pub api_client_secret: String,
    /// `expires_in` of issued tokens, in seconds; tokens are refused after it.
    pub token_expires_in_s: u64,
    /// Known connections: id → (user id, host id).
    pub connections: BTreeMap<String, (String, String)>,
    /// Known users and hosts (those of the connections are added at start).
    pub users: BTreeSet<String>,
    pub hosts: BTreeSet<String>,
    /// Print one line per answered call to stdout (`METHOD PATH -> STATUS`).
    pub echo_calls: bool,
}

impl PrivxSimConfig {
    /// An OAuth client and an API client; tokens live 300 s; nothing connected.
    pub fn new(oauth_id: &str, oauth_secret: &str, api_id: &str, api_secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            oauth_client_id: oauth_id.to_owned(),
            oauth_client_secret: oauth_secret.to_owned(),
            api_client_id: api_id.to_owned(),
            api_client_secret: api_secret.to_owned(),
            token_expires_in_s: 300,
            connections: BTreeMap::new(),
            users: BTreeSet::new(),
            hosts: BTreeSet::new(),
            echo_calls: false,
        }
    }

    /// A live connection of `user` to `host`.
    pub fn with_connection(mut self, id: &str, user: &str, host: &str) -> Self {
        self.connections
            .insert(id.to_owned(), (user.to_owned(), host.to_owned()));
        self
    }

    /// A known user (with or without connections).
    pub fn with_user(mut self, user: &str) -> Self {
        self.users.insert(user.to_owned());
        self
    }

    /// Tokens live `seconds`.
    pub fn with_token_expiry(mut self, seconds: u64) -> Self {
        self.token_expires_in_s = seconds;
        self
    }
}

/// A connection the simulator knows.
#[derive(Debug, Clone)]
struct Connection {
    user: String,
    host: String,
    flagged: bool,
}

/// One way of misbehaving.
#[derive(Debug, Clone, Copy)]
enum Misbehaviour {
    Fault(Fault),
    /// 503 with error code `MAX_LOAD`.
    MaxLoad,
}

/// How one endpoint misbehaves.
#[derive(Debug, Clone, Copy)]
struct Faults {
    fault: Fault,
    overloaded: bool,
    /// The next N calls to this endpoint misbehave so.
    next: (usize, Misbehaviour),
    delay: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            fault: Fault::None,
            overloaded: false,
            next: (0, Misbehaviour::Fault(Fault::None)),
            delay: Duration::ZERO,
        }
    }
}

/// A running PrivX simulator; stops (and closes its port) when dropped.
#[derive(Debug)]
pub struct PrivxSim {
    shared: Arc<Shared>,
    server: SimServer,
}

#[derive(Debug)]
struct Shared {
    config: PrivxSimConfig,
    state: Mutex<Registry>,
    log: CallLog,
    faults: Mutex<[Faults; 2]>,
}

/// What the simulated PrivX knows and has issued.
#[derive(Debug, Default)]
struct Registry {
    connections: BTreeMap<String, Connection>,
    users: BTreeSet<String>,
    hosts: BTreeSet<String>,
    /// Valid tokens and when they expire.
    tokens: HashMap<String, Instant>,
    /// Every token issued, in order.
    issued: Vec<String>,
    forbidden: bool,
}

impl PrivxSim {
    /// Starts a simulator; panics if it cannot listen.
    pub fn start(config: PrivxSimConfig) -> Self {
        let listen = config.listen;
        Self::try_start(config)
            .unwrap_or_else(|err| panic!("privx simulator cannot listen on {listen}: {err}"))
    }

    /// Starts a simulator, or says why it cannot listen.
    pub fn try_start(config: PrivxSimConfig) -> io::Result<Self> {
        let mut state = Registry {
            users: config.users.clone(),
            hosts: config.hosts.clone(),
            ..Registry::default()
        };
        for (id, (user, host)) in &config.connections {
            state.users.insert(user.clone());
            state.hosts.insert(host.clone());
            let connection = Connection {
                user: user.clone(),
                host: host.clone(),
                flagged: false,
            };
            state.connections.insert(id.clone(), connection);
        }
        let shared = Arc::new(Shared {
            log: CallLog::new(config.echo_calls),
            config,
            state: Mutex::new(state),
            faults: Mutex::default(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = SimServer::start(shared.config.listen, "privx", app)?;
        Ok(Self { shared, server })
    }

    /// The base URL to configure as the backend's `url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.log.snapshot()
    }

    /// The calls to the token endpoint.
    pub fn token_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls.filter(|c| c.raw_path == TOKEN_PATH).collect()
    }

    /// The calls to the terminate endpoints.
    pub fn terminate_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls
            .filter(|c| c.raw_path.starts_with(TERMINATE_PREFIX))
            .collect()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.shared.log.clear();
    }

    /// Every access token issued so far, in order (valid or not).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.state.lock().issued.clone()
    }

    /// Revokes every token issued so far: they answer 401 from now on.
    pub fn revoke_all_tokens(&self) {
        self.shared.state.lock().tokens.clear();
    }

    /// Whether the API client lacks the terminate scope (terminate answers 403).
    pub fn set_forbidden(&self, forbidden: bool) {
        self.shared.state.lock().forbidden = forbidden;
    }

    /// Adds a live connection.
    pub fn connect(&self, id: &str, user: &str, host: &str) {
        let mut state = self.shared.state.lock();
        state.users.insert(user.to_owned());
        state.hosts.insert(host.to_owned());
        let connection = Connection {
            user: user.to_owned(),
            host: host.to_owned(),
            flagged: false,
        };
        state.connections.insert(id.to_owned(), connection);
    }

    /// Whether a connection was flagged for termination.
    pub fn is_flagged(&self, id: &str) -> bool {
        let state = self.shared.state.lock();
        state.connections.get(id).is_some_and(|c| c.flagged)
    }

    /// The flagged connections, sorted.
    pub fn flagged_connections(&self) -> Vec<String> {
        let state = self.shared.state.lock();
        let flagged = state.connections.iter().filter(|(_, c)| c.flagged);
        flagged.map(|(id, _)| id.clone()).collect()
    }

    fn faults(&self, endpoint: Endpoint, change: impl FnOnce(&mut Faults)) {
        change(&mut self.shared.faults.lock()[endpoint as usize]);
    }

    /// Makes every call to `endpoint` misbehave (or behave again with [`Fault::None`]).
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.faults(endpoint, |f| f.fault = fault);
    }

    /// Makes every call to `endpoint` answer 503 `MAX_LOAD` (or not).
    pub fn set_overloaded(&self, endpoint: Endpoint, overloaded: bool) {
        self.faults(endpoint, |f| f.overloaded = overloaded);
    }

    /// Makes the next `count` calls to `endpoint` misbehave with `fault`, before the
    /// persistent settings apply again. Replaces any count still pending.
    pub fn fail_next(&self, endpoint: Endpoint, count: usize, fault: Fault) {
        self.faults(endpoint, |f| f.next = (count, Misbehaviour::Fault(fault)));
    }

    /// Makes the next `count` calls to `endpoint` answer 503 `MAX_LOAD`.
    pub fn overload_next(&self, endpoint: Endpoint, count: usize) {
        self.faults(endpoint, |f| f.next = (count, Misbehaviour::MaxLoad));
    }

    /// Delays every answer of `endpoint` (faults included); zero turns it off.
    pub fn set_delay(&self, endpoint: Endpoint, delay: Duration) {
        self.faults(endpoint, |f| f.delay = delay);
    }
}

async fn handle(
    State(sim): State<Arc<Shared>>,
    Extension(hang_up): Extension<HangUp>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (body, readable) = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => (body, true),
        Err(_) => (Bytes::new(), false),
    };
    let index = sim.log.record(RecordedCall::new(&parts, &body));
    let path = parts.uri.path();
    let endpoint = if path == TOKEN_PATH {
        Some(Endpoint::Token)
    } else if path.starts_with(TERMINATE_PREFIX) {
        Some(Endpoint::Terminate)
    } else {
        None
    };
    // Claimed on arrival, so the first N calls to arrive get a one-off fault.
    let (misbehaviour, delay) = match endpoint {
        Some(endpoint) => {
            let mut faults = sim.faults.lock();
            let faults = &mut faults[endpoint as usize];
            let persistent = if faults.overloaded {
                Misbehaviour::MaxLoad
            } else {
                Misbehaviour::Fault(faults.fault)
            };
            let chosen = if faults.next.0 > 0 {
                faults.next.0 -= 1;
                faults.next.1
            } else {
                persistent
            };
            (chosen, faults.delay)
        }
        None => (Misbehaviour::Fault(Fault::None), Duration::ZERO),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match misbehaviour {
        Misbehaviour::Fault(Fault::HangUp) => {
            sim.log.answered(index, None);
            return hang_up.now().await;
        }
        Misbehaviour::MaxLoad => PrivxError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "MAX_LOAD",
            "Service is under maximum load",
        )
        .into_response(),
        Misbehaviour::Fault(Fault::InternalError) => PrivxError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "GENERAL_ERROR",
            "Simulated internal server error",
        )
        .into_response(),
        Misbehaviour::Fault(Fault::Garbage) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body>Welcome to nginx (not really)</body></html>",
        )
            .into_response(),
        Misbehaviour::Fault(Fault::None) if !readable => {
            PrivxError::bad_request("INVALID_REQUEST_DATA", "request body could not be read")
                .into_response()
        }
        Misbehaviour::Fault(Fault::None) => match endpoint {
            Some(Endpoint::Token) => sim.token(&parts, &body),
            Some(Endpoint::Terminate) => sim.terminate(&parts, &body),
            None => PrivxError::not_found(format!("no route for {path}")).into_response(),
        },
    };
    sim.log.answered(index, Some(response.status().as_u16()));
    response
}
