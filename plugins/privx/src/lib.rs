//! # `privx` — PrivX (SSH Communications Security) connection manager adapter
//!
//! **Action.** `terminate`, by exactly one of `connection_id`, `user_id` or `host_id` (the
//! last is an extension of the canonical spec). Each id must be a UUID
//! (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits, either case); anything else is a
//! `400 invalid_request` before any call.
//!
//! | canonical target | vendor call |
//! |---|---|
//! | `connection_id` | `POST {url}/connection-manager/api/v1/terminate/connection/{connection_id}` |
//! | `user_id` | `POST {url}/connection-manager/api/v1/terminate/user/{user_id}` |
//! | `host_id` | `POST {url}/connection-manager/api/v1/terminate/host/{host_id}` |
//!
//! Each with `Authorization: Bearer <access_token>` and no body (the PrivX Go SDK sends
//! none), marked idempotent: flagging a connection twice flags it once.
//!
//! **Token.** `POST {url}/auth/api/v1/oauth/token` with
//! `Authorization: Basic base64(oauth_client_id:oauth_client_secret)`,
//! `Content-Type: application/x-www-form-urlencoded` (the only type PrivX accepts) and the
//! body `grant_type=password&username=<api_client_id>&password=<api_client_secret>` (values
//! form-encoded) → `{"access_token", "token_type": "bearer", "expires_in", "refresh_token",
//! "scope"}`. The token is cached in the backend's instance, shared by every request, and
//! used until 30 s before it expires (a quarter of its lifetime for tokens living under
//! 2 minutes), by the host's clock (`Env::unix_ms`). The token step carries the sharing key
//! `token`, so a burst of requests that find no valid token causes one token request, whose
//! answer every waiting request gets (all of it is the SDK's token helper,
//! `sever_plugin_sdk::token`, which Keycloak, Okta and Entra ID use too). On a `401` from a terminate call the cached token is
//! dropped (if it is still the refused one), a new token is taken — the one another request
//! just cached, or a fresh one from the endpoint, again shared — and the call is retried
//! once; a second `401` is `upstream_unauthorized`. The refresh is not a host retry: it
//! does not use up the backend's `retries`.
//!
//! **Settings.** `oauth_client_id` (usually `privx-external`; must not contain `:`),
//! `oauth_client_secret` (secret), `api_client_id`, `api_client_secret` (secret) — the
//! values PrivX shows for an API client. Every secret, its form-encoded form and the Basic
//! credentials are redacted wherever a request is shown (dry run); the cached access token
//! is redacted from terminate calls.
//!
//! **Answers.** Errors are `{"error_code", "error_message", "property", "details"}` (the
//! body may be empty); `error_code` and `error_message` go into `vendor.code` and
//! `vendor.message` (and `property` into `vendor.property`), and the message into `detail`.
//!
//! | vendor | canonical |
//! |---|---|
//! | terminate 2xx ("Connection(s) flagged for termination.") | `accepted`: the gateway tears the connections down asynchronously |
//! | terminate 401, after one token refresh | 502 `upstream_unauthorized` |
//! | terminate 403 (scope insufficient: needs `admin`, `connectionsTerminate` or `service`) | 502 `upstream_unauthorized` |
//! | token endpoint 400 / 401 / 403 (`{"error": "invalid_client" \| "invalid_grant" \| …, "error_description"}`) | 502 `upstream_unauthorized`, the OAuth error in `vendor.code` / `vendor.message` |
//! | 429 (either endpoint) | 429 `rate_limited`, passing `Retry-After` on |
//! | terminate 503, or `error_code` `MAX_LOAD` / `TOO_MANY_CONNECTIONS` / `OUT_OF_RESOURCES` | 502 `upstream_error`, retryable |
//! | terminate 404 | 404 `target_not_found` |
//! | terminate 400, other 4xx | 502 `upstream_rejected` |
//! | other 5xx | 502 `upstream_error` (terminate: not retried; token endpoint: retryable) |
//! | token endpoint 404 (wrong `url`) | 502 `upstream_rejected` |
//! | a 2xx body that is markup or binary, a token answer without a usable `access_token` | 502 `upstream_error` |
//!
//! **Confirmed** (PrivX API documents, the PrivX Go and Python SDKs): the three terminate
//! paths, POST, bearer token, no body; the token endpoint, the password grant with the API
//! client's id and secret, Basic credentials of the OAuth client sent as is (Go's
//! `SetBasicAuth`), the form content type; the token answer's fields; the error body's
//! shape and codes; `404` for an unknown resource, `403` for an insufficient scope; the
//! required scopes.
//!
//! **Assumed** (no source says so):
//! - the `200` body is not relied on (documented as the text "Connection(s) flagged for
//!   termination."); any readable 2xx is `accepted`, markup or binary is `upstream_error`;
//! - terminate is idempotent (a repeat of a flagged connection is harmless), so overload
//!   answers are retried within the backend's `retries`;
//! - an answer without a usable `expires_in` lives 300 s (PrivX's default); the 30 s refresh
//!   margin is ours (the Go SDK uses none);
//! - a `401` means the token expired or was revoked: one refresh is worth trying; a token
//!   endpoint `400` (`invalid_grant`, `unsupported_grant_type`) is a credentials problem;
//! - an unknown user or host answers `404` like an unknown connection; a known user
//!   without connections answers `200`;
//! - a UUID in either case is accepted by PrivX and sent as given.

mod answer;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::token::{ClientAuth, Grant, Resumed, Session, TokenClient};

/// A PrivX backend's settings: the OAuth client and the API client of the password grant.
#[derive(Debug, Settings)]
pub struct PrivxSettings {
    /// OAuth client id (usually privx-external)
    #[setting(check = settings::no_colon)]
    oauth_client_id: String,
    /// OAuth client secret
    #[setting(secret)]
    oauth_client_secret: String,
    /// API client id (the password grant's username)
    api_client_id: String,
    /// API client secret (the password grant's password)
    #[setting(secret)]
    api_client_secret: String,
}

/// One PrivX backend: its URL and its token client (the API client's credentials and the
/// cached token).
#[derive(Debug)]
pub struct Privx {
    url: String,
    tokens: TokenClient,
}

/// Which terminate operation a request maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetKind {
    Connection,
    User,
    Host,
}

impl TargetKind {
    const ALL: [TargetKind; 3] = [TargetKind::Connection, TargetKind::User, TargetKind::Host];

    fn field(self) -> TargetField {
        match self {
            TargetKind::Connection => TargetField::ConnectionId,
            TargetKind::User => TargetField::UserId,
            TargetKind::Host => TargetField::HostId,
        }
    }

    /// The path segment, and the word in messages.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            TargetKind::Connection => "connection",
            TargetKind::User => "user",
            TargetKind::Host => "host",
        }
    }
}

/// A terminate in progress.
#[derive(Debug)]
pub struct Flow {
    kind: TargetKind,
    id: String,
    /// Where the request stands with its token (the SDK's token helper).
    session: Session,
}

/// Whether `id` is a UUID in its 8-4-4-4-12 hex form.
fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

impl Privx {
    /// The terminate call, without its bearer token (the token helper adds it).
    fn terminate_request(&self, kind: TargetKind, id: &str) -> VendorRequest {
        let url = encode::url_with_segments(
            &self.url,
            &[
                "connection-manager",
                "api",
                "v1",
                "terminate",
                kind.noun(),
                id,
            ],
        );
        VendorRequest::new("POST", url)
            .idempotent(true)
            .purpose("terminate")
    }

    /// The next call: terminate with the cached token if it is valid, else fetch one.
    fn next_call(&self, flow: &mut Flow, env: &Env) -> Step {
        let (kind, id) = (flow.kind, &flow.id);
        let call = || self.terminate_request(kind, id);
        self.tokens.send(&mut flow.session, env, call)
    }

    fn resume_with(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        let (kind, id) = (flow.kind, &flow.id);
        let call = || self.terminate_request(kind, id);
        match self.tokens.resume(&mut flow.session, input, env, call) {
            Resumed::Step(step) => step,
            Resumed::Answer(response) => answer::terminate(kind, id, &response),
        }
    }
}

impl Adapter for Privx {
    const NAME: &'static str = "privx";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = PrivxSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "PrivX connection manager (terminate; OAuth2 password grant with an API client)",
            vec![ActionSpec::new(
                Action::Terminate,
                TargetKind::ALL.map(|kind| [kind.field()]),
                "POST …/terminate/{connection|user|host}/{uuid}: flags the connections for \
                 termination (answered `accepted`)",
            )],
        )
    }

    fn new(backend: Backend<PrivxSettings>) -> Result<Self, Vec<SettingError>> {
        let PrivxSettings {
            oauth_client_id,
            oauth_client_secret,
            api_client_id,
            api_client_secret,
        } = backend.settings;
        let endpoint =
            encode::url_with_segments(&backend.url, &["auth", "api", "v1", "oauth", "token"]);
        let tokens = TokenClient::new(
            "privx",
            endpoint,
            Grant::password(&api_client_id, &api_client_secret),
            ClientAuth::basic(&oauth_client_id, &oauth_client_secret),
        )
        .credentials_noun("the OAuth client or API client credentials");
        Ok(Privx {
            url: backend.url,
            tokens,
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let found = TargetKind::ALL
            .into_iter()
            .find_map(|kind| Some((kind, request.target.get(kind.field())?)));
        let (kind, id) = found.unwrap_or((TargetKind::Connection, ""));
        let mut flow = Flow {
            kind,
            id: id.to_owned(),
            session: Session::default(),
        };
        if !is_uuid(id) {
            let field = kind.field();
            let problem = Problem::new(
                ProblemKind::InvalidTarget,
                format!("target.{field} must be a PrivX UUID (8-4-4-4-12 hex digits), got '{id}'"),
            );
            return (flow, Step::Fail(problem));
        }
        let step = self.next_call(&mut flow, env);
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        // A token answer, a first 401 and a retry are the token helper's; a retried
        // terminate uses the current token, a retried token request may find one another
        // request has cached meanwhile.
        self.resume_with(flow, input, env)
    }
}

export_plugin!(Privx);
