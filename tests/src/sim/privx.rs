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
//! checks, and leave the state alone; calls to other paths get none. Assumed (PrivX does
//! not document it): a non-UUID id is a 400 `VALUE_INCORRECT_FORMAT`, an unknown target a
//! 404 `GENERAL_ERROR`.

mod contract;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::{Call, Canned, Fault, RecordedCall, Serving, Sim, Switch, Vendor};
use contract::PrivxError;

/// The token endpoint's path.
pub const TOKEN_PATH: &str = "/auth/api/v1/oauth/token";
/// The prefix of the terminate paths.
pub const TERMINATE_PREFIX: &str = "/connection-manager/api/v1/terminate/";

/// Which endpoint a fault or delay applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /auth/api/v1/oauth/token`.
    Token,
    /// `POST /connection-manager/api/v1/terminate/…`.
    Terminate,
}

impl Switch for Endpoint {
    const COUNT: usize = 2;

    fn of(parts: &Parts) -> Option<Self> {
        let path = parts.uri.path();
        if path == TOKEN_PATH {
            Some(Endpoint::Token)
        } else if path.starts_with(TERMINATE_PREFIX) {
            Some(Endpoint::Terminate)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        self as usize
    }
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

/// A running PrivX simulator; stops (and closes its port) when dropped.
pub type PrivxSim = Sim<Privx>;

/// What the simulated PrivX knows and has issued, and its clients' credentials.
#[derive(Debug)]
pub struct Privx {
    config: PrivxSimConfig,
    state: Mutex<Registry>,
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

impl Vendor for Privx {
    const NAME: &'static str = "privx";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html; charset=utf-8",
        "<html><body>Welcome to nginx (not really)</body></html>",
    );
    type Config = PrivxSimConfig;
    type Switch = Endpoint;

    fn new(config: PrivxSimConfig) -> (Self, Serving) {
        let mut state = Registry {
            users: config.users.clone(),
            hosts: config.hosts.clone(),
            ..Registry::default()
        };
        for (id, (user, host)) in &config.connections {
            state.connect(id, user, host);
        }
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        let state = Mutex::new(state);
        (Privx { config, state }, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(500, "GENERAL_ERROR", "Simulated internal server error")
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        let code = error.code.clone();
        PrivxError::new(error.status_code(), code, &error.message).into_response()
    }

    fn unreadable(&self) -> Option<Canned> {
        let message = "request body could not be read";
        Some(Canned::new(400, "INVALID_REQUEST_DATA", message))
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match Endpoint::of(call.parts) {
            Some(Endpoint::Token) => self.token(call.parts, call.body),
            Some(Endpoint::Terminate) => self.terminate(call.parts, call.body),
            None => {
                let path = call.parts.uri.path();
                PrivxError::not_found(format!("no route for {path}")).into_response()
            }
        }
    }
}

/// PrivX's answer when it is overloaded: 503 `MAX_LOAD`.
fn max_load() -> Fault {
    Canned::new(503, "MAX_LOAD", "Service is under maximum load").into()
}

impl Sim<Privx> {
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

    /// Every access token issued so far, in order (valid or not).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.vendor().state.lock().issued.clone()
    }

    /// Revokes every token issued so far: they answer 401 from now on.
    pub fn revoke_all_tokens(&self) {
        self.vendor().state.lock().tokens.clear();
    }

    /// Whether the API client lacks the terminate scope (terminate answers 403).
    pub fn set_forbidden(&self, forbidden: bool) {
        self.vendor().state.lock().forbidden = forbidden;
    }

    /// Adds a live connection.
    pub fn connect(&self, id: &str, user: &str, host: &str) {
        self.vendor().state.lock().connect(id, user, host);
    }

    /// Whether a connection was flagged for termination.
    pub fn is_flagged(&self, id: &str) -> bool {
        let state = self.vendor().state.lock();
        state.connections.get(id).is_some_and(|c| c.flagged)
    }

    /// The flagged connections, sorted.
    pub fn flagged_connections(&self) -> Vec<String> {
        let state = self.vendor().state.lock();
        let flagged = state.connections.iter().filter(|(_, c)| c.flagged);
        flagged.map(|(id, _)| id.clone()).collect()
    }

    /// Makes every call to `endpoint` misbehave (or behave again with [`Fault::None`]).
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.switches(endpoint).set(fault);
    }

    /// Makes every call to `endpoint` answer 503 `MAX_LOAD` (or follow the contract again):
    /// its standing fault.
    pub fn set_overloaded(&self, endpoint: Endpoint, overloaded: bool) {
        let fault = if overloaded { max_load() } else { Fault::None };
        self.switches(endpoint).set(fault);
    }

    /// Makes the next `count` calls to `endpoint` misbehave with `fault`, before the
    /// standing fault applies again. Replaces any count still pending.
    pub fn fail_next(&self, endpoint: Endpoint, count: usize, fault: Fault) {
        self.switches(endpoint).fail_next(count, fault);
    }

    /// Makes the next `count` calls to `endpoint` answer 503 `MAX_LOAD`.
    pub fn overload_next(&self, endpoint: Endpoint, count: usize) {
        self.switches(endpoint).fail_next(count, max_load());
    }

    /// Delays every answer of `endpoint` (faults included); zero turns it off.
    pub fn set_delay(&self, endpoint: Endpoint, delay: Duration) {
        self.switches(endpoint).set_delay(delay);
    }
}

impl Registry {
    /// Adds a live connection of `user` to `host`.
    fn connect(&mut self, id: &str, user: &str, host: &str) {
        self.users.insert(user.to_owned());
        self.hosts.insert(host.to_owned());
        let connection = Connection {
            user: user.to_owned(),
            host: host.to_owned(),
            flagged: false,
        };
        self.connections.insert(id.to_owned(), connection);
    }
}
