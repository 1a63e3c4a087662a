//! OAuth2 access tokens for adapters whose vendor wants a bearer token: one helper for
//! every token flow, so that no adapter writes its own cache, refresh or redaction.
//!
//! A [`TokenClient`] lives in the backend's instance (one per backend, shared by every
//! request on every thread). It knows how to ask the vendor's token endpoint for a token —
//! the [`Grant`] (client credentials, or the resource owner's password) and how the client
//! authenticates ([`ClientAuth`]: HTTP Basic, the secret in the form, or, with the
//! `client-assertion` feature, a signed JWT) — and it caches the token it got:
//!
//! - **Cached per backend**, used until shortly before it expires by the host's clock
//!   (`Env::unix_ms`): 30 s before, or a quarter of its lifetime for tokens living under
//!   two minutes. Nothing here reads a clock.
//! - **Single-flighted**: the token step carries the sharing key `token`, so concurrent
//!   requests that find no valid token cause one token request, and the host hands its
//!   answer to every waiting request (each caches it; the last write wins, all equal).
//! - **Refreshed once on a 401**: a `401` to the adapter's call drops the cached token
//!   (only if it is still the refused one), takes a new one — the one another request just
//!   cached, or a fresh one — and plans the call again, once per request. A second `401`
//!   goes to the adapter, which maps it (`upstream_unauthorized`). The refresh is not a
//!   host retry: it does not use up the backend's `retries`.
//! - **Redacted**: every secret in the token request (in each form it takes: raw,
//!   form-encoded, Base64 Basic credentials, the signed assertion) and the token in the
//!   adapter's call are listed with [`VendorRequest::redact`].
//!
//! Each request keeps a [`Session`] in its flow. The adapter describes its call (without
//! the `Authorization` header, which the helper adds) and lets the helper decide what to
//! send:
//!
//! ```
//! use sever_plugin_sdk::prelude::*;
//! use sever_plugin_sdk::token::{ClientAuth, Grant, Resumed, Session, TokenClient};
//!
//! let tokens = TokenClient::new(
//!     "tinyidp",
//!     "https://idp.example/token".into(),
//!     Grant::ClientCredentials,
//!     ClientAuth::post("sever", "s3cret"),
//! );
//! let call = || VendorRequest::new("POST", "https://idp.example/users/u1/logout".into());
//! let env = Env { unix_ms: 1_700_000_000_000, random: [7; 32] };
//! let mut session = Session::default();
//!
//! // A cold cache: the token step comes first.
//! let Step::Send(token_step) = tokens.send(&mut session, &env, call) else { panic!() };
//! assert_eq!(token_step.share.as_deref(), Some("token"));
//! assert_eq!(token_step.body, "grant_type=client_credentials&client_id=sever&client_secret=s3cret");
//!
//! // Its answer leads to the call, with the token.
//! let body = br#"{"access_token":"t-1","token_type":"Bearer","expires_in":300}"#;
//! let answer = Input::Response(VendorResponse { status: 200, headers: &[], body });
//! let Resumed::Step(Step::Send(logout)) = tokens.resume(&mut session, answer, &env, call) else { panic!() };
//! assert_eq!(logout.headers, [("authorization".to_owned(), "Bearer t-1".to_owned())]);
//!
//! // The call's own answer is the adapter's to map.
//! let answer = Input::Response(VendorResponse { status: 204, headers: &[], body: b"" });
//! assert!(matches!(tokens.resume(&mut session, answer, &env, call), Resumed::Answer(r) if r.status == 204));
//! ```
//!
//! The token endpoint's own answers are mapped here, the same for every vendor: `200`
//! with a usable bearer `access_token` is the token; `400`/`401`/`403` (`invalid_client`,
//! `invalid_grant`, `unauthorized_client`, `invalid_scope`…) are `credentials_refused`
//! with the OAuth2 `error` and `error_description` in `vendor.code` and `vendor.message`;
//! `404` is `rejected` (no token endpoint there: a wrong URL, realm or tenant); `429` is
//! `rate_limited` with the vendor's wait ([`vendor::retry_after`](crate::vendor::retry_after));
//! `5xx` is a retryable `vendor_error`; an unreadable `200` is `unreadable`. The body of a
//! `200` is never echoed (it holds the token).

mod answer;
#[cfg(feature = "client-assertion")]
mod assertion;
mod cache;
mod grant;
#[cfg(test)]
mod tests;

#[cfg(feature = "client-assertion")]
pub use assertion::ClientAssertion;
pub use grant::{ClientAuth, Grant};

use sever_plugin_abi::{Env, Input, Step, VendorRequest, VendorResponse};

use answer::Words;
use cache::TokenCache;

/// The sharing key of every token step: concurrent flows of one backend that need a token
/// cause one token request.
pub const SHARE_KEY: &str = "token";

/// The lifetime assumed when a token answer has no usable `expires_in` (set another with
/// [`TokenClient::default_lifetime_s`]); a token that dies earlier is replaced on its first
/// 401.
pub const DEFAULT_LIFETIME_S: u64 = 300;

/// A backend's way to its bearer tokens, and the token it holds. See the [module
/// documentation](self).
#[derive(Debug)]
pub struct TokenClient {
    endpoint: String,
    grant: grant::Prepared,
    words: Words,
    default_lifetime_s: u64,
    cache: TokenCache,
}

/// What one request's flow waits for, as far as its token goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Waiting {
    /// Nothing sent yet.
    #[default]
    Nothing,
    /// The token endpoint's answer.
    Token,
    /// The answer to the adapter's call, sent with this token.
    Call { token: String },
}

/// One request's state with respect to its token: keep one in the flow, hand it to
/// [`TokenClient::send`] and [`TokenClient::resume`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    waiting: Waiting,
    refreshed: bool,
}

impl Session {
    /// Whether a 401 already led to a new token in this request (at most once): a 401 the
    /// adapter now sees came after that refresh.
    pub fn refreshed(&self) -> bool {
        self.refreshed
    }
}

/// What [`TokenClient::resume`] made of an input.
#[derive(Debug)]
pub enum Resumed<'a> {
    /// The helper's own next step: the call (after a token answer or a 401), a new token
    /// request, or the token endpoint's refusal as a problem. Return it.
    Step(Step),
    /// The vendor's answer to the adapter's call (a 401 only after the one refresh):
    /// the adapter's to map.
    Answer(VendorResponse<'a>),
}

impl TokenClient {
    /// A token client for `vendor` (the word its problems start with, e.g. `keycloak`)
    /// asking `endpoint` (the token endpoint's full URL) with `grant`, the client
    /// authenticating with `auth`.
    pub fn new(vendor: &'static str, endpoint: String, grant: Grant, auth: ClientAuth) -> Self {
        TokenClient {
            grant: grant::Prepared::new(grant, auth),
            endpoint,
            words: Words::new(vendor),
            default_lifetime_s: DEFAULT_LIFETIME_S,
            cache: TokenCache::default(),
        }
    }

    /// Adds `scope=<scope>` to the token request.
    pub fn scope(mut self, scope: &str) -> Self {
        self.grant.add_scope(scope);
        self
    }

    /// What the token endpoint refused, in problem details (default "the client
    /// credentials"; PrivX: "the OAuth client or API client credentials").
    pub fn credentials_noun(mut self, noun: &'static str) -> Self {
        self.words.credentials = noun;
        self
    }

    /// The lifetime assumed for a token answer without a usable `expires_in`.
    pub fn default_lifetime_s(mut self, seconds: u64) -> Self {
        self.default_lifetime_s = seconds;
        self
    }

    /// The token endpoint's URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The token request as it would be sent now: `POST`, form-encoded, shared
    /// ([`SHARE_KEY`]), idempotent (a signed assertion is signed again for a retry), every
    /// secret listed for redaction. Fails only if a client assertion cannot be signed.
    pub fn token_request(&self, env: &Env) -> Result<VendorRequest, crate::Problem> {
        self.grant.request(&self.endpoint, env, &self.words)
    }

    /// The cached token, if it is still to be used at `now_ms`.
    pub fn cached(&self, now_ms: u64) -> Option<String> {
        self.cache.valid(now_ms)
    }

    /// Drops the cached token if it is `access_token` (a newer one is kept).
    pub fn forget(&self, access_token: &str) {
        self.cache.forget(access_token);
    }

    /// Plans the adapter's `call` with the cached token, or the token request first when
    /// there is none (then [`TokenClient::resume`] plans `call` once the token came).
    pub fn send(
        &self,
        session: &mut Session,
        env: &Env,
        call: impl FnOnce() -> VendorRequest,
    ) -> Step {
        match self.cache.valid(env.unix_ms) {
            Some(token) => self.call_with(session, token, call),
            None => match self.token_request(env) {
                Ok(request) => {
                    session.waiting = Waiting::Token;
                    Step::Send(request)
                }
                Err(problem) => Step::Fail(problem),
            },
        }
    }

    /// Reads what the host resumed the flow with. A token answer is cached and leads to
    /// `call`; a refusal ends the flow. A first 401 to `call` leads to a new token and
    /// `call` again. A retry plans the last exchange again from the cache. Anything else
    /// is the adapter's answer ([`Resumed::Answer`]).
    pub fn resume<'a>(
        &self,
        session: &mut Session,
        input: Input<'a>,
        env: &Env,
        call: impl FnOnce() -> VendorRequest,
    ) -> Resumed<'a> {
        let response = match input {
            // A retried token request may find the token another request cached meanwhile;
            // a retried call uses the current token.
            Input::Retry { .. } => return Resumed::Step(self.send(session, env, call)),
            Input::Response(response) => response,
            // The host answers only the kinds of exchange planned: this helper plans HTTP.
            _ => unreachable!("token helper: resumed with the answer to a non-HTTP exchange"),
        };
        match std::mem::take(&mut session.waiting) {
            Waiting::Token => Resumed::Step(
                match answer::read(&response, env, &self.words, self.default_lifetime_s) {
                    Ok(issued) => {
                        self.cache.store(&issued, env.unix_ms);
                        self.call_with(session, issued.access_token, call)
                    }
                    Err(problem) => Step::Fail(problem),
                },
            ),
            Waiting::Call { token } if response.status == 401 => {
                // Expired early or revoked: never hand this token out again.
                self.cache.forget(&token);
                if session.refreshed {
                    return Resumed::Answer(response);
                }
                session.refreshed = true;
                Resumed::Step(self.send(session, env, call))
            }
            Waiting::Call { .. } | Waiting::Nothing => Resumed::Answer(response),
        }
    }

    fn call_with(
        &self,
        session: &mut Session,
        token: String,
        call: impl FnOnce() -> VendorRequest,
    ) -> Step {
        let request = call()
            .header("authorization", format!("Bearer {token}"))
            .redact(token.as_str());
        session.waiting = Waiting::Call { token };
        Step::Send(request)
    }
}
