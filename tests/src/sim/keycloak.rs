//! A strict simulator of Keycloak's token endpoint and the three Admin REST API calls Sever
//! makes.
//!
//! ```text
//! POST {prefix}/realms/{token realm}/protocol/openid-connect/token
//!      grant_type=client_credentials&client_id=…&client_secret=…
//! POST   {prefix}/admin/realms/{realm}/users/{id}/logout
//! GET    {prefix}/admin/realms/{realm}/users?username=…&exact=true&briefRepresentation=true
//! DELETE {prefix}/admin/realms/{realm}/sessions/{session id}
//! ```
//!
//! **Token endpoint**, checks in order (errors are OAuth2's `{"error",
//! "error_description"}`): a known realm (else 404 `{"error":"Realm does not exist"}`);
//! `POST` (else 405); `Content-Type: application/x-www-form-urlencoded` (else 400
//! `invalid_request`); a well-formed form, each key once (else 400 `invalid_request`);
//! `grant_type=client_credentials` (else 400 `unsupported_grant_type`); the client id and
//! secret, in the form or as HTTP Basic (else 401 `invalid_client` "Invalid client or Invalid
//! client credentials"); then a fresh random token living `token_lifetime_s`.
//!
//! **Admin calls**, checks in order (errors are `{"error": "<message>"}`): the realm exists
//! (else 404 `Realm not found.`); a route it knows (else 404 `HTTP 404 Not Found`) and its
//! method (else 405); a bearer token it issued and that has not expired by its clock (else
//! 401 `HTTP 401 Unauthorized`); the service account holds `manage-users` (else 403
//! `HTTP 403 Forbidden`, see [`KeycloakSim::set_manage_users`]); no request body (stricter
//! than Keycloak, to catch adapter mistakes: 400); then:
//! - `logout`: an unknown user is 404 `User not found` — or, without `query-users`
//!   ([`KeycloakSim::set_query_users`]), 403, as Keycloak hides ids from who cannot query;
//!   a known user loses every session and the answer is 204 — again 204 for a repeat;
//! - `GET users`: `username` given, `exact=true`, `briefRepresentation=true` and nothing
//!   else (else 400); `query-users` needed (else 403); the matching users (usernames are
//!   lower case, matched exactly);
//! - `DELETE sessions/{id}`: an unknown session is 404 `Sesssion not found` [sic]; a known
//!   one is removed (204), so a repeat is that 404.
//!
//! Faults ([`Fault`], delays) are set per [`Endpoint`], apply before the checks and leave
//! the state alone; a [`Canned`] error is written as `{"error": message}`.

mod contract;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use parking_lot::Mutex;
use serde_json::json;

use super::oauth::{json_response, TokenBook};
use super::{Call, Canned, Fault, RecordedCall, Serving, Sim, Switch, Vendor};

/// Which endpoint a fault or delay applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `…/protocol/openid-connect/token`.
    Token,
    /// `…/admin/realms/…`.
    Admin,
}

impl Switch for Endpoint {
    const COUNT: usize = 2;

    fn of(parts: &Parts) -> Option<Self> {
        let path = parts.uri.path();
        if path.ends_with("/protocol/openid-connect/token") {
            Some(Endpoint::Token)
        } else if path.contains("/admin/realms/") {
            Some(Endpoint::Admin)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the simulated Keycloak knows when it starts.
#[derive(Debug, Clone)]
pub struct KeycloakSimConfig {
    /// Where to listen; port 0 (the default) picks a free port.
    pub listen: SocketAddr,
    /// The realm whose users are cut.
    pub realm: String,
    /// The realm the client lives in (`master` for a cross-realm admin client).
    pub token_realm: String,
    pub client_id: String,
    pub client_secret: String,
    /// `""`, or `/auth` for the old distributions.
    pub path_prefix: String,
    /// `expires_in` of issued tokens, in seconds; they are refused after it.
    pub token_lifetime_s: u64,
    /// Users: id → username.
    pub users: BTreeMap<String, String>,
    /// Sessions: id → user id.
    pub sessions: BTreeMap<String, String>,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl KeycloakSimConfig {
    /// A realm with a confidential client (in the same realm); tokens live 300 s; no users.
    pub fn new(realm: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            realm: realm.to_owned(),
            token_realm: realm.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            path_prefix: String::new(),
            token_lifetime_s: 300,
            users: BTreeMap::new(),
            sessions: BTreeMap::new(),
            echo_calls: false,
        }
    }

    /// A user with this id and username.
    pub fn with_user(mut self, id: &str, username: &str) -> Self {
        self.users
            .insert(id.to_owned(), username.to_ascii_lowercase());
        self
    }

    /// A live session of a user.
    pub fn with_session(mut self, session_id: &str, user_id: &str) -> Self {
        self.sessions
            .insert(session_id.to_owned(), user_id.to_owned());
        self
    }

    /// The client lives in `realm` (e.g. `master`).
    pub fn with_token_realm(mut self, realm: &str) -> Self {
        realm.clone_into(&mut self.token_realm);
        self
    }

    /// Everything is served under `prefix` (e.g. `/auth`).
    pub fn with_path_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.path_prefix);
        self
    }

    /// Tokens live `seconds`.
    pub fn with_token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime_s = seconds;
        self
    }
}

/// A running Keycloak simulator; stops (and closes its port) when dropped.
pub type KeycloakSim = Sim<Keycloak>;

/// The simulated Keycloak.
#[derive(Debug)]
pub struct Keycloak {
    config: KeycloakSimConfig,
    tokens: TokenBook,
    state: Mutex<Realm>,
}

/// What the realm holds and what was done to it.
#[derive(Debug)]
struct Realm {
    users: BTreeMap<String, String>,
    sessions: BTreeMap<String, String>,
    /// User ids logged out, in order (repeats included).
    logouts: Vec<String>,
    manage_users: bool,
    query_users: bool,
}

impl Vendor for Keycloak {
    const NAME: &'static str = "keycloak";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html;charset=utf-8",
        "<html><body>Keycloak is starting (not really)</body></html>",
    );
    type Config = KeycloakSimConfig;
    type Switch = Endpoint;

    fn new(config: KeycloakSimConfig) -> (Self, Serving) {
        let state = Realm {
            users: config.users.clone(),
            sessions: config.sessions.clone(),
            logouts: Vec::new(),
            manage_users: true,
            query_users: true,
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        let vendor = Keycloak {
            config,
            tokens: TokenBook::default(),
            state: Mutex::new(state),
        };
        (vendor, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(
            500,
            "unknown_error",
            "For more on this error consult the server log.",
        )
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        let body = if error.status >= 500 {
            json!({ "error": error.code, "error_description": error.message })
        } else {
            json!({ "error": error.message })
        };
        json_response(error.status_code(), &body)
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match Endpoint::of(call.parts) {
            Some(Endpoint::Token) => self.token(call.parts, call.body),
            Some(Endpoint::Admin) => self.admin(call.parts, call.body),
            None => json_response(
                StatusCode::NOT_FOUND,
                &json!({ "error": "HTTP 404 Not Found" }),
            ),
        }
    }
}

impl Sim<Keycloak> {
    /// The calls to the token endpoint.
    pub fn token_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls
            .filter(|c| c.raw_path.ends_with("/protocol/openid-connect/token"))
            .collect()
    }

    /// The calls to the admin API.
    pub fn admin_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls
            .filter(|c| c.raw_path.contains("/admin/realms/"))
            .collect()
    }

    /// Every access token issued so far, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.vendor().tokens.issued()
    }

    /// The simulator's clock passes the expiry of every token issued so far: they answer
    /// 401 from now on.
    pub fn expire_tokens(&self) {
        self.vendor().tokens.expire_all();
    }

    /// The live sessions: session id → user id.
    pub fn sessions(&self) -> BTreeMap<String, String> {
        self.vendor().state.lock().sessions.clone()
    }

    /// The user ids logged out, in order (repeats included).
    pub fn logouts(&self) -> Vec<String> {
        self.vendor().state.lock().logouts.clone()
    }

    /// Whether the service account holds `manage-users` (else every admin call is 403).
    pub fn set_manage_users(&self, granted: bool) {
        self.vendor().state.lock().manage_users = granted;
    }

    /// Whether the service account holds `query-users` (else an unknown user is 403).
    pub fn set_query_users(&self, granted: bool) {
        self.vendor().state.lock().query_users = granted;
    }

    /// Makes every call to `endpoint` misbehave (or behave again with [`Fault::None`]).
    pub fn set_fault(&self, endpoint: Endpoint, fault: impl Into<Fault>) {
        self.switches(endpoint).set(fault.into());
    }

    /// Makes the next `count` calls to `endpoint` misbehave with `fault`.
    pub fn fail_next(&self, endpoint: Endpoint, count: usize, fault: impl Into<Fault>) {
        self.switches(endpoint).fail_next(count, fault.into());
    }

    /// Delays every answer of `endpoint`; zero turns it off.
    pub fn set_delay(&self, endpoint: Endpoint, delay: Duration) {
        self.switches(endpoint).set_delay(delay);
    }
}
