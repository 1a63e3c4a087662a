//! # `entra-id` — Microsoft Entra ID (Microsoft Graph) adapter
//!
//! **Action.** `terminate` by `user_id` (the user's object id GUID, or userPrincipalName):
//! `POST {url}/v1.0/users/{user_id}/revokeSignInSessions` with
//! `Authorization: Bearer <access_token>` and no body (`Content-Length: 0`), marked
//! idempotent. The id is percent-encoded as one path segment (guests' UPNs hold `#EXT#`:
//! `#` → `%23`); a UPN starting with `$` needs Graph's `/users('$…')` form, so it is refused
//! with 400 `invalid_request` before any call (pass the object id instead).
//!
//! **Outcome `accepted`**: the call resets `signInSessionsValidFromDateTime` and invalidates
//! refresh tokens and session cookies "with a small delay of a few minutes"; access tokens
//! already issued stay valid until they expire unless the resource uses Continuous Access
//! Evaluation (up to about an hour). Any 2xx is the same answer: Graph documents a 204 but,
//! by a known service issue, answers 200 `{"value": true}`.
//!
//! **Token.** `POST {login_url}/{tenant_id}/oauth2/v2.0/token`, form
//! `grant_type=client_credentials&client_id=…&client_secret=…&scope={url}/.default`
//! (`https://graph.microsoft.com/.default` for the default url) →
//! `{"token_type": "Bearer", "expires_in": 3599, "access_token"}`. Cached per backend until
//! 30 s before it expires (by the host's clock), shared by concurrent requests (sharing key
//! `token`), replaced once on a `401` and the call retried once: the SDK's token helper.
//!
//! **Settings.** `tenant_id`, `client_id`, `client_secret` (secret), `login_url` (default
//! `https://login.microsoftonline.com`; national clouds differ). The backend `url` is
//! `https://graph.microsoft.com`. The app registration needs the application permission
//! `User.RevokeSessions.All` with admin consent.
//!
//! **Answers.** Graph errors are `{"error": {"code", "message", "innerError": {"request-id",
//! "date"}}}`: `vendor.code` = `error.code`, `vendor.message` = `error.message`,
//! `vendor.request_id` = the `request-id` header (else `innerError.request-id`).
//!
//! | vendor | canonical |
//! |---|---|
//! | 200 `{"value": true}`, 204, any 2xx with an empty or JSON body | `accepted` |
//! | 404 with a Graph error (`Request_ResourceNotFound`) | 404 `target_not_found` |
//! | 401 (`InvalidAuthenticationToken`) after one token refresh | 502 `upstream_unauthorized` |
//! | 403 (`Authorization_RequestDenied`: no `User.RevokeSessions.All`, or the target is an admin that needs a stronger role) | 502 `upstream_unauthorized` |
//! | token endpoint 400 / 401 (`invalid_client` AADSTS7000215, `unauthorized_client`, `invalid_scope`…; `trace_id` and `correlation_id` kept in `vendor`) | 502 `upstream_unauthorized` |
//! | 429 with `Retry-After` | 429 `rate_limited`, with the vendor's wait |
//! | 503 (with `Retry-After`), other 5xx | 502 `upstream_error`, retryable, the vendor's `Retry-After` kept |
//! | other 4xx; a 404 without a Graph error (a wrong `url`) | 502 `upstream_rejected` |
//! | a 2xx that is markup, or `{"value": false}` | 502 `upstream_error` |
//!
//! **Confirmed** (microsoft-graph-docs `user-revokesigninsessions.md` and its known issue;
//! learn.microsoft.com Graph errors; entra-docs `v2-oauth2-client-creds-grant-flow.md`): the
//! call, no body, the permission, the few-minutes delay, no effect on external users; the
//! token request, answer and error body; Graph's error object and `Retry-After`.
//!
//! **Assumed:** the scope for national clouds (`{url}/.default`); the code name
//! `Request_ResourceNotFound`; that a 403 may mean the target is a privileged admin; that
//! Graph still answers 200 for an external (guest) user, whose home tenant is not revoked;
//! the `/users('$…')` form for `$`-UPNs (refused here); `{"value": false}` as a failure
//! (documented as always true).

mod answer;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::token::{ClientAuth, Grant, Resumed, Session, TokenClient};

/// The token endpoint's host when `login_url` is not set.
const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";

/// An Entra ID backend's settings: the app registration's client credentials.
#[derive(Debug, Settings)]
pub struct EntraSettings {
    /// directory (tenant) id or a verified domain
    #[setting(check = settings::no_whitespace)]
    tenant_id: String,
    /// application (client) id of the app registration (User.RevokeSessions.All, admin consent)
    client_id: String,
    /// the app registration's client secret
    #[setting(secret)]
    client_secret: String,
    /// token endpoint host (default https://login.microsoftonline.com; national clouds differ)
    #[setting(check = check_login_url)]
    login_url: Option<String>,
}

fn check_login_url(value: &str) -> Result<(), String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    match rest {
        Some(host)
            if !host.is_empty()
                && !host.contains(char::is_whitespace)
                && !host.contains(['?', '#']) =>
        {
            Ok(())
        }
        _ => Err("must be an http or https URL such as https://login.microsoftonline.com".into()),
    }
}

/// One Entra ID backend.
#[derive(Debug)]
pub struct EntraId {
    url: String,
    tokens: TokenClient,
}

/// A revocation in progress.
#[derive(Debug)]
pub struct Flow {
    user_id: String,
    session: Session,
}

impl EntraId {
    /// `POST …/v1.0/users/{id}/revokeSignInSessions`, without its token.
    fn revoke_request(&self, user_id: &str) -> VendorRequest {
        let url = encode::url_with_segments(
            &self.url,
            &["v1.0", "users", user_id, "revokeSignInSessions"],
        );
        VendorRequest::new("POST", url)
            .header("accept", "application/json")
            .idempotent(true)
            .purpose("revoke sign-in sessions")
    }
}

impl Adapter for EntraId {
    const NAME: &'static str = "entra-id";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = EntraSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Microsoft Entra ID via Microsoft Graph (terminate: revoke a user's sign-in sessions; \
             OAuth2 client credentials)",
            vec![ActionSpec::new(
                Action::Terminate,
                [[TargetField::UserId]],
                "POST …/v1.0/users/{object id or UPN}/revokeSignInSessions: refresh tokens and \
                 session cookies stop working within minutes (answered `accepted`); the user may \
                 sign in again",
            )],
        )
    }

    fn new(backend: Backend<EntraSettings>) -> Result<Self, Vec<SettingError>> {
        let EntraSettings {
            tenant_id,
            client_id,
            client_secret,
            login_url,
        } = backend.settings;
        let login_url = login_url.unwrap_or_else(|| DEFAULT_LOGIN_URL.to_owned());
        let endpoint =
            encode::url_with_segments(&login_url, &[&tenant_id, "oauth2", "v2.0", "token"]);
        let tokens = TokenClient::new(
            "entra-id",
            endpoint,
            Grant::ClientCredentials,
            ClientAuth::post(&client_id, &client_secret),
        )
        .scope(&format!("{}/.default", backend.url))
        .credentials_noun("the app registration's client credentials")
        .default_lifetime_s(3599);
        Ok(EntraId {
            url: backend.url,
            tokens,
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let user_id = request.target.field(TargetField::UserId).to_owned();
        let mut flow = Flow {
            user_id,
            session: Session::default(),
        };
        if flow.user_id.starts_with('$') {
            let problem = Problem::new(
                ProblemKind::InvalidTarget,
                format!(
                    "target.user_id '{}' starts with '$': Graph addresses such a userPrincipalName \
                     only as /users('…'); pass the user's object id instead",
                    flow.user_id
                ),
            );
            return (flow, Step::Fail(problem));
        }
        let user_id = &flow.user_id;
        let step = self
            .tokens
            .send(&mut flow.session, env, || self.revoke_request(user_id));
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        let user_id = &flow.user_id;
        let call = || self.revoke_request(user_id);
        match self.tokens.resume(&mut flow.session, input, env, call) {
            Resumed::Step(step) => step,
            Resumed::Answer(response) => answer::revoke(user_id, &response, env),
        }
    }
}

export_plugin!(EntraId);
