//! A strict simulator of Okta's org authorization server (client credentials with a
//! `private_key_jwt` client assertion) and the Management API's `revokeUserSessions`.
//!
//! ```text
//! POST /oauth2/v1/token
//!      grant_type=client_credentials&scope=…&client_assertion_type=…jwt-bearer&client_assertion=<JWT>
//! DELETE /api/v1/users/{userId}/sessions?oauthTokens={true|false}[&forgetDevices={true|false}]
//!      Authorization: SSWS <api token> | Bearer <access token>
//! ```
//!
//! **Token endpoint**, checks in order (errors are OAuth2's): `POST` (else 405); the form
//! content type and a well-formed form, each key once (else 400 `invalid_request`);
//! `grant_type=client_credentials` (else 400 `unsupported_grant_type`); the JWT bearer
//! `client_assertion_type` and a `client_assertion` (else 400 `invalid_request`); the
//! assertion's RS256 signature by the service app's public key, checked by this
//! simulator's own code ([`jwt`]; else 401 `invalid_client`); its header's `kid`, when the
//! app has one; `iss` = `sub` = the client id; `aud` = `http://<Host>/oauth2/v1/token`;
//! `exp` in the future and at most an hour after `iat`; a `jti` never seen before (else
//! 401 `invalid_client`, each with its own description); every requested scope granted
//! (else 400 `invalid_scope`). Then a random token for those scopes.
//!
//! **Revocation**, checks in order (errors are Okta's `{errorCode, errorSummary,
//! errorLink, errorId, errorCauses}`, every answer carries `X-Okta-Request-Id`, `Date` and
//! `X-Rate-Limit-*`): the route (else a plain 404 page); `DELETE` (else 405 `E0000022`);
//! `SSWS` with a configured API token, or a `Bearer` token it issued, unexpired by its clock
//! (else 401 `E0000011`); the credential may manage users — an API token unless
//! [`OktaSim::set_forbidden`], a bearer token with `okta.users.manage` (else 403
//! `E0000006`); the rate limit ([`OktaSim::throttle_next`]: 429 `E0000047` with
//! `X-Rate-Limit-Reset` and no `Retry-After`); query parameters `oauthTokens` and optional
//! `forgetDevices`, each `true` or `false`, nothing else (else 400 `E0000001`); no body
//! (else 400 `E0000003`); a known user (else 404 `E0000007`). Then the user's sessions are
//! gone and the answer is 204 — again 204 for a repeat (idempotent: no sessions left).

mod contract;
pub(crate) mod jwt;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use axum::http::request::Parts;
use axum::response::Response;
use parking_lot::Mutex;

use super::oauth::TokenBook;
use super::{Call, Canned, Fault, RecordedCall, Serving, Sim, Switch, Vendor};

/// The scope that lets a bearer token revoke sessions.
pub const MANAGE_USERS: &str = "okta.users.manage";

/// Which endpoint a fault or delay applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/oauth2/v1/token`.
    Token,
    /// `/api/v1/…`.
    Api,
}

impl Switch for Endpoint {
    const COUNT: usize = 2;

    fn of(parts: &Parts) -> Option<Self> {
        let path = parts.uri.path();
        if path == "/oauth2/v1/token" {
            Some(Endpoint::Token)
        } else if path.starts_with("/api/v1/") {
            Some(Endpoint::Api)
        } else {
            None
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An "API Services" app that authenticates with `private_key_jwt`.
#[derive(Debug, Clone)]
pub struct ServiceApp {
    pub client_id: String,
    /// The public modulus in hex (e = 65537).
    pub modulus_hex: String,
    /// The JWK's `kid`, which assertions must name; `None`: any.
    pub kid: Option<String>,
    /// The scopes granted to the app.
    pub scopes: BTreeSet<String>,
}

/// What the simulated org knows when it starts.
#[derive(Debug, Clone)]
pub struct OktaSimConfig {
    /// Where to listen; port 0 (the default) picks a free port.
    pub listen: SocketAddr,
    /// Valid SSWS API tokens.
    pub api_tokens: Vec<String>,
    pub service_app: Option<ServiceApp>,
    /// `expires_in` of issued tokens, in seconds; they are refused after it.
    pub token_lifetime_s: u64,
    /// Users: id → live sessions.
    pub users: BTreeMap<String, u32>,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl OktaSimConfig {
    /// An org without credentials or users; tokens live 3600 s.
    pub fn new() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_tokens: Vec::new(),
            service_app: None,
            token_lifetime_s: 3600,
            users: BTreeMap::new(),
            echo_calls: false,
        }
    }

    /// An SSWS API token of a super admin.
    pub fn with_api_token(mut self, token: &str) -> Self {
        self.api_tokens.push(token.to_owned());
        self
    }

    /// A service app with this public key (modulus in hex), `kid` and `okta.users.manage`.
    pub fn with_service_app(
        mut self,
        client_id: &str,
        modulus_hex: &str,
        kid: Option<&str>,
    ) -> Self {
        self.service_app = Some(ServiceApp {
            client_id: client_id.to_owned(),
            modulus_hex: modulus_hex.trim().to_owned(),
            kid: kid.map(str::to_owned),
            scopes: BTreeSet::from([MANAGE_USERS.to_owned()]),
        });
        self
    }

    /// A user with `sessions` live sessions.
    pub fn with_user(mut self, id: &str, sessions: u32) -> Self {
        self.users.insert(id.to_owned(), sessions);
        self
    }

    /// Tokens live `seconds`.
    pub fn with_token_lifetime(mut self, seconds: u64) -> Self {
        self.token_lifetime_s = seconds;
        self
    }
}

impl Default for OktaSimConfig {
    fn default() -> Self {
        Self::new()
    }
}

/// One `DELETE …/sessions` that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub user_id: String,
    pub oauth_tokens: bool,
    pub forget_devices: Option<bool>,
    /// Sessions the user had.
    pub sessions: u32,
}

/// A running Okta simulator; stops (and closes its port) when dropped.
pub type OktaSim = Sim<Okta>;

/// The simulated org.
#[derive(Debug)]
pub struct Okta {
    config: OktaSimConfig,
    key: Option<jwt::PublicKey>,
    tokens: TokenBook,
    state: Mutex<Org>,
}

#[derive(Debug, Default)]
struct Org {
    users: BTreeMap<String, u32>,
    revocations: Vec<Revocation>,
    /// Scopes of each issued token.
    scopes: HashMap<String, BTreeSet<String>>,
    /// Every `jti` accepted (replays are refused).
    jtis: BTreeSet<String>,
    forbidden: bool,
    /// The next N revocations are throttled, the limit resetting this many seconds later.
    throttle: (usize, u64),
    answers: u64,
}

impl Vendor for Okta {
    const NAME: &'static str = "okta";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html;charset=UTF-8",
        "<html><body>Okta sign-in (not really)</body></html>",
    );
    type Config = OktaSimConfig;
    type Switch = Endpoint;

    fn new(config: OktaSimConfig) -> (Self, Serving) {
        let key = config
            .service_app
            .as_ref()
            .and_then(|app| jwt::PublicKey::from_modulus_hex(&app.modulus_hex));
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        let state = Org {
            users: config.users.clone(),
            ..Org::default()
        };
        let vendor = Okta {
            config,
            key,
            tokens: TokenBook::default(),
            state: Mutex::new(state),
        };
        (vendor, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(500, "E0000009", "Internal Server Error")
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        self.okta_error(error.status_code(), &error.code, &error.message)
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match Endpoint::of(call.parts) {
            Some(Endpoint::Token) => self.token(call.parts, call.body),
            Some(Endpoint::Api) => self.revoke(call.parts, call.body),
            None => self.not_found(),
        }
    }
}

impl Sim<Okta> {
    /// The calls to the token endpoint.
    pub fn token_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls.filter(|c| c.raw_path == "/oauth2/v1/token").collect()
    }

    /// The calls to the Management API.
    pub fn api_calls(&self) -> Vec<RecordedCall> {
        let calls = self.calls().into_iter();
        calls
            .filter(|c| c.raw_path.starts_with("/api/v1/"))
            .collect()
    }

    /// Every access token issued so far, in order.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.vendor().tokens.issued()
    }

    /// The simulator's clock passes the expiry of every token issued so far.
    pub fn expire_tokens(&self) {
        self.vendor().tokens.expire_all();
    }

    /// The revocations made, in order (repeats included).
    pub fn revocations(&self) -> Vec<Revocation> {
        self.vendor().state.lock().revocations.clone()
    }

    /// Whether the API token may not manage users (the revocation answers 403).
    pub fn set_forbidden(&self, forbidden: bool) {
        self.vendor().state.lock().forbidden = forbidden;
    }

    /// The next `count` revocations hit the rate limit, which resets `reset_in_s` seconds
    /// after each answer's `Date`.
    pub fn throttle_next(&self, count: usize, reset_in_s: u64) {
        self.vendor().state.lock().throttle = (count, reset_in_s);
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
