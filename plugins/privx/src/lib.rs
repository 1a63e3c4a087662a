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
//! answer every waiting request gets. On a `401` from a terminate call the cached token is
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
mod token;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;
use token::{Credentials, TokenCache};

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

/// One PrivX backend: its URL, the API client's credentials, and its token cache.
#[derive(Debug)]
pub struct Privx {
    url: String,
    credentials: Credentials,
    cache: TokenCache,
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

/// What a flow waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    /// The token endpoint's answer.
    Token,
    /// The terminate call's answer, sent with this token.
    Terminate { token: String },
}

/// A terminate in progress.
#[derive(Debug)]
pub struct Flow {
    kind: TargetKind,
    id: String,
    waiting: Waiting,
    /// A 401 already led to a new token (at most once per request).
    refreshed: bool,
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
    fn terminate_request(&self, kind: TargetKind, id: &str, token: &str) -> VendorRequest {
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
            .header("authorization", format!("Bearer {token}"))
            .idempotent(true)
            .purpose("terminate")
            .redact(token)
    }

    /// The next call: terminate with the cached token if it is valid, else fetch one.
    fn next_call(&self, flow: &mut Flow, env: &Env) -> Step {
        match self.cache.valid(env.unix_ms) {
            Some(token) => self.terminate_with(flow, token),
            None => {
                flow.waiting = Waiting::Token;
                Step::Send(self.credentials.request(&self.url))
            }
        }
    }

    fn terminate_with(&self, flow: &mut Flow, token: String) -> Step {
        let step = Step::Send(self.terminate_request(flow.kind, &flow.id, &token));
        flow.waiting = Waiting::Terminate { token };
        step
    }

    fn answer(&self, flow: &mut Flow, response: &VendorResponse<'_>, env: &Env) -> Step {
        match flow.waiting.clone() {
            Waiting::Token => match token::read_answer(response) {
                Ok(issued) => {
                    self.cache.store(&issued, env.unix_ms);
                    self.terminate_with(flow, issued.access_token)
                }
                Err(problem) => Step::Fail(problem),
            },
            Waiting::Terminate { token } if response.status == 401 => {
                // The token expired early or was revoked: never hand it out again.
                self.cache.forget(&token);
                if flow.refreshed {
                    return answer::terminate(flow.kind, &flow.id, response);
                }
                flow.refreshed = true;
                self.next_call(flow, env)
            }
            Waiting::Terminate { .. } => answer::terminate(flow.kind, &flow.id, response),
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
        let credentials = Credentials::new(
            &oauth_client_id,
            &oauth_client_secret,
            &api_client_id,
            &api_client_secret,
        );
        Ok(Privx {
            url: backend.url,
            credentials,
            cache: TokenCache::default(),
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
            waiting: Waiting::Token,
            refreshed: false,
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
        match input {
            Input::Response(response) => self.answer(flow, &response, env),
            // Plan again from the cache: a retried terminate uses the current token, a
            // retried token request may find one another request has cached meanwhile.
            Input::Retry { .. } => self.next_call(flow, env),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("privx: resumed with the answer to an exchange it never plans"),
        }
    }
}

export_plugin!(Privx);
