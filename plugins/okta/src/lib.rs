//! # `okta` — Okta Management API adapter
//!
//! **Action.** `terminate` by `user_id` (the Okta user **id**, `00u…`; a login is assumed
//! refused by Okta): `DELETE {url}/api/v1/users/{user_id}/sessions?oauthTokens={true|false}
//! [&forgetDevices={true|false}]` with `Accept: application/json` and no body, marked
//! idempotent (revoking a user without sessions is assumed 204 again). The id is
//! percent-encoded as one path segment.
//!
//! **Outcome `done`**: the user's Okta (IdP) sessions are revoked, and with
//! `oauthTokens=true` (Sever's default) their OAuth/OIDC tokens too. Okta's spec warns that
//! "this operation doesn't clear the sessions created for web or native apps": the answer's
//! `vendor.note` says so. The user may sign in again.
//!
//! **Auth**, exactly one option per backend:
//! - `api_token` (secret): `Authorization: SSWS {api_token}`.
//! - `client_id` + `private_key` (secret, PEM RSA key of an "API Services" app) + `key_id`
//!   (optional, the JWK `kid`) + `scopes` (default `okta.users.manage`): an OAuth2 token from
//!   the org authorization server, `POST {url}/oauth2/v1/token` with
//!   `grant_type=client_credentials&scope=…&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=<JWT>`;
//!   the JWT is RS256 with `kid`, `iss` = `sub` = `client_id`, `aud` = the token endpoint,
//!   `iat`, `exp` = `iat` + 5 min, `jti` from the host's random bytes, signed afresh for
//!   every token request. Then `Authorization: Bearer <access_token>`. Cached per backend
//!   until 30 s before it expires, single-flighted (sharing key `token`), replaced once on a
//!   `401`: the SDK's token helper. Apps with "Require DPoP" on are not supported.
//!
//! **Settings.** The auth option above; `revoke_oauth_tokens` (bool, default `true` —
//! Sever's choice for a cut; Okta's default is `false`); `forget_devices` (bool, optional:
//! absent, the parameter is not sent and Okta's default applies). The backend `url` is
//! `https://{yourOktaDomain}`.
//!
//! **Answers.** Errors are `{errorCode, errorSummary, errorLink, errorId, errorCauses}`:
//! `vendor.code` = `errorCode`, `vendor.message` = `errorSummary` plus each
//! `errorCauses[].errorSummary`, `vendor.error_id` = `errorId`, `vendor.request_id` =
//! `X-Okta-Request-Id`.
//!
//! | vendor | canonical |
//! |---|---|
//! | 204 (any 2xx with an empty or JSON body) | `done` |
//! | 404 `E0000007` "Not found: Resource not found: {id} (User)" | 404 `target_not_found` |
//! | 401 `E0000011` "Invalid token provided" (OAuth: after one token refresh) | 502 `upstream_unauthorized` |
//! | 403 `E0000006` "You do not have permission to perform the requested action" | 502 `upstream_unauthorized` |
//! | 429 `E0000047` (rate or concurrency limit) | 429 `rate_limited`, `Retry-After` = `X-Rate-Limit-Reset` − `Date` (as the Okta SDKs compute it; the host's clock without a `Date`), or the vendor's `Retry-After` |
//! | token endpoint 400 / 401 (`invalid_client`, `invalid_scope`, `invalid_dpop_proof`…) | 502 `upstream_unauthorized` |
//! | other 4xx (400 `E0000001` "Api validation failed"); a 404 without an Okta error | 502 `upstream_rejected` |
//! | 5xx | 502 `upstream_error` (retryable) |
//! | a 2xx body that is markup | 502 `upstream_error` |
//!
//! **Confirmed** (okta-management-openapi-spec `revokeUserSessions`; the rate-limit best
//! practices; okta-sdk-nodejs's request executor): the call, its query parameters and their
//! defaults, SSWS and the `okta.users.manage` scope, the error schema and the examples
//! E0000006, E0000007, E0000011, E0000047, `X-Rate-Limit-*`, `X-Okta-Request-Id`.
//!
//! **Assumed:** the service-app token request details (not re-read); that Okta sends
//! `X-Rate-Limit-*` rather than `Retry-After`; that a user without sessions is a 204; that a
//! login in place of the id is refused; DPoP-bound apps unsupported.

mod answer;
mod auth;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::token::{Resumed, Session};

use auth::Auth;
pub use auth::OktaSettings;

/// What the answer's `vendor.note` says on success (Okta's own warning).
const NOTE: &str = "Okta (IdP) sessions revoked; sessions that web or native apps created \
                    themselves are not cleared by this call";

/// One Okta org.
#[derive(Debug)]
pub struct Okta {
    url: String,
    auth: Auth,
    /// `?oauthTokens=…[&forgetDevices=…]`.
    query: String,
}

/// A revocation in progress.
#[derive(Debug)]
pub struct Flow {
    user_id: String,
    session: Session,
}

impl Okta {
    /// `DELETE …/api/v1/users/{id}/sessions?…`, without its credentials.
    fn revoke_request(&self, user_id: &str) -> VendorRequest {
        let path =
            encode::url_with_segments(&self.url, &["api", "v1", "users", user_id, "sessions"]);
        VendorRequest::new("DELETE", format!("{path}{}", self.query))
            .header("accept", "application/json")
            .idempotent(true)
            .purpose("revoke sessions")
    }

    fn send(&self, flow: &mut Flow, env: &Env) -> Step {
        let user_id = &flow.user_id;
        match &self.auth {
            Auth::ApiToken { authorization } => Step::Send(
                self.revoke_request(user_id)
                    .header("authorization", authorization.clone()),
            ),
            Auth::OAuth(tokens) => {
                tokens.send(&mut flow.session, env, || self.revoke_request(user_id))
            }
        }
    }
}

impl Adapter for Okta {
    const NAME: &'static str = "okta";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = OktaSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Okta Management API (terminate: revoke all of a user's sessions; SSWS API token, or \
             OAuth2 with a private_key_jwt service app)",
            vec![ActionSpec::new(
                Action::Terminate,
                [[TargetField::UserId]],
                "DELETE …/api/v1/users/{user id}/sessions?oauthTokens=true: ends the user's Okta \
                 sessions (and OAuth tokens); the user may sign in again",
            )],
        )
    }

    fn new(backend: Backend<OktaSettings>) -> Result<Self, Vec<SettingError>> {
        let (auth, query) = auth::from_settings(&backend.url, backend.settings)?;
        Ok(Okta {
            url: backend.url,
            auth,
            query,
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let mut flow = Flow {
            user_id: request.target.field(TargetField::UserId).to_owned(),
            session: Session::default(),
        };
        let step = self.send(&mut flow, env);
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        let response = match &self.auth {
            Auth::ApiToken { .. } => match input {
                Input::Response(response) => response,
                Input::Retry { .. } => return self.send(flow, env),
                // The host answers only the kinds of exchange this adapter plans (HTTP).
                _ => unreachable!("okta: resumed with the answer to an exchange it never plans"),
            },
            Auth::OAuth(tokens) => {
                let user_id = &flow.user_id;
                let call = || self.revoke_request(user_id);
                match tokens.resume(&mut flow.session, input, env, call) {
                    Resumed::Step(step) => return step,
                    Resumed::Answer(response) => response,
                }
            }
        };
        answer::revoke(&flow.user_id, &response, env, self.auth.is_oauth(), NOTE)
    }
}

export_plugin!(Okta);
