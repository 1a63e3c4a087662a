//! A strict simulator of the Microsoft identity platform's token endpoint (client
//! credentials) and Microsoft Graph's `revokeSignInSessions`, on one port (configure it as
//! both the backend `url` and `login_url`).
//!
//! ```text
//! POST /{tenant}/oauth2/v2.0/token
//!      grant_type=client_credentials&client_id=…&client_secret=…&scope=<this Graph>/.default
//! POST /v1.0/users/{object id | userPrincipalName}/revokeSignInSessions
//! ```
//!
//! **Token endpoint**, checks in order (errors are `{"error", "error_description":
//! "AADSTS…", "error_codes", "timestamp", "trace_id", "correlation_id"}`): `POST` (else 405);
//! the tenant (else 400 `invalid_request` AADSTS90002); the form content type and a
//! well-formed form with each key once (else 400 `invalid_request` AADSTS900144);
//! `grant_type=client_credentials` (else 400 `unsupported_grant_type` AADSTS70003); a known
//! `client_id` (else 400 `unauthorized_client` AADSTS700016); its secret (else 401
//! `invalid_client` AADSTS7000215); `scope` = `http://<Host>/.default`, this simulator's
//! own Graph (else 400 `invalid_scope` AADSTS1002012). Then a random token.
//!
//! **Graph**, checks in order (errors are `{"error": {"code", "message", "innerError":
//! {"date", "request-id", "client-request-id"}}}`, every answer has a `request-id` header):
//! the route (else 404 `UnknownError`); `POST` (else 405 `Request_BadRequest`); a bearer
//! token it issued, unexpired by its clock (else 401 `InvalidAuthenticationToken`); the
//! permission `User.RevokeSessions.All` (else 403 `Authorization_RequestDenied`, see
//! [`EntraSim::set_permission`]); an empty body (else 400 `Request_BadRequest`); a known
//! user by object id or UPN (case-insensitive; else 404 `Request_ResourceNotFound`). Then
//! the user's `signInSessionsValidFromDateTime` is reset and the answer is 200
//! `{"@odata.context": "…#Edm.Boolean", "value": true}` (the documented service issue) —
//! again for a repeat (idempotent).
//!
//! Faults are set per [`Endpoint`] and apply before the checks; a [`Canned`] error is
//! written as a Graph error (or, on the token endpoint, an AADSTS one).

mod contract;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::request::Parts;
use axum::response::Response;
use parking_lot::Mutex;

use super::oauth::TokenBook;
use super::{Call, Canned, Fault, RecordedCall, Serving, Sim, Switch, Vendor};

/// Which endpoint a fault or delay applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/{tenant}/oauth2/v2.0/token`.
    Token,
    /// `/v1.0/…`.
    Graph,
}

impl Switch for Endpoint {
    const COUNT: usize = 2;

    fn of(parts: &Parts) -> Option<Self> {
        let path = parts.uri.path();
        if path.ends_with("/oauth2/v2.0/token") {
            Some(Endpoint::Token)
        } else if path.starts_with("/v1.0/") {
            Some(Endpoint::Graph)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What the simulated tenant knows when it starts.
#[derive(Debug, Clone)]
pub struct EntraSimConfig {
    /// Where to listen; port 0 (the default) picks a free port.
    pub listen: SocketAddr,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// `expires_in` of issued tokens, in seconds; they are refused after it.
    pub token_lifetime_s: u64,
    /// Users: object id → userPrincipalName.
    pub users: BTreeMap<String, String>,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl EntraSimConfig {
    /// A tenant with one app registration; tokens live 3599 s; no users.
    pub fn new(tenant_id: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            token_lifetime_s: 3599,
            users: BTreeMap::new(),
            echo_calls: false,
        }
    }

    /// A user with this object id and UPN.
    pub fn with_user(mut self, object_id: &str, upn: &str) -> Self {
        self.users.insert(object_id.to_owned(), upn.to_owned());
        self
    }

    /// Tokens live `seconds`.
    pub fn with_token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime_s = seconds;
        self
    }
}

/// A running Entra ID / Graph simulator; stops (and closes its port) when dropped.
pub type EntraSim = Sim<Entra>;

/// The simulated tenant.
#[derive(Debug)]
pub struct Entra {
    config: EntraSimConfig,
    tokens: TokenBook,
    state: Mutex<Tenant>,
}

#[derive(Debug, Default)]
struct Tenant {
    /// Object ids revoked, in order (repeats included).
    revoked: Vec<String>,
    /// The app lacks `User.RevokeSessions.All`.
    forbidden: bool,
    /// Answers given so far, for request ids.
    answers: u64,
}

impl Vendor for Entra {
    const NAME: &'static str = "entra";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html; charset=utf-8",
        "<html><body>Sign in to your account (not really)</body></html>",
    );
    type Config = EntraSimConfig;
    type Switch = Endpoint;

    fn new(config: EntraSimConfig) -> (Self, Serving) {
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        let vendor = Entra {
            config,
            tokens: TokenBook::default(),
            state: Mutex::default(),
        };
        (vendor, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(503, "serviceNotAvailable", "Service unavailable").retry_after("3")
    }

    fn refuse(&self, error: &Canned, parts: &Parts) -> Response {
        match Endpoint::of(parts) {
            Some(Endpoint::Token) => {
                self.aadsts(error.status_code(), &error.code, 90000, &error.message)
            }
            _ => self.graph_error(error.status_code(), &error.code, &error.message),
        }
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match Endpoint::of(call.parts) {
            Some(Endpoint::Token) => self.token(call.parts, call.body),
            Some(Endpoint::Graph) => self.revoke(call.parts, call.body),
            None => {
                let path = call.parts.uri.path();
                let message =
                    format!("No HTTP resource was found that matches the request URI '{path}'.");
                self.graph_error(axum::http::StatusCode::NOT_FOUND, "UnknownError", &message)
            }
        }
    }
}

impl Sim<Entra> {
    /// The calls to the token endpoint.
    pub fn token_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls
            .filter(|c| c.raw_path.ends_with("/oauth2/v2.0/token"))
            .collect()
    }

    /// The calls to Graph.
    pub fn graph_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls.filter(|c| c.raw_path.starts_with("/v1.0/")).collect()
    }

    /// Every access token issued so far, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.vendor().tokens.issued()
    }

    /// The simulator's clock passes the expiry of every token issued so far.
    pub fn expire_tokens(&self) {
        self.vendor().tokens.expire_all();
    }

    /// The object ids whose sessions were revoked, in order (repeats included).
    pub fn revoked(&self) -> Vec<String> {
        self.vendor().state.lock().revoked.clone()
    }

    /// Whether the app holds `User.RevokeSessions.All` (else Graph answers 403).
    pub fn set_permission(&self, granted: bool) {
        self.vendor().state.lock().forbidden = !granted;
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
