//! # `keycloak` — Keycloak Admin REST API adapter
//!
//! **Action.** `terminate`, by exactly one of `user_id` (log the user out everywhere) or
//! `connection_id` (end one user session, an id as `GET …/users/{id}/sessions` lists it).
//!
//! | canonical target | vendor call |
//! |---|---|
//! | `user_id` (`user_lookup: id`, the default) | `POST {url}{path_prefix}/admin/realms/{realm}/users/{user_id}/logout`, no body |
//! | `user_id` (`user_lookup: username`) | `GET …/admin/realms/{realm}/users?username={user_id}&exact=true&briefRepresentation=true` → `[{"id", "username"}]`, then the `logout` above with that id; `[]` → `target_not_found` |
//! | `connection_id` | `DELETE {url}{path_prefix}/admin/realms/{realm}/sessions/{connection_id}` |
//!
//! Each with `Authorization: Bearer <access_token>`, every id percent-encoded as one path
//! segment (local users have UUIDs, federated users `f:<component>:<external-id>`: no UUID
//! check), marked idempotent (a second logout is a 204 again; a second session delete a
//! 404, which the detail then explains).
//!
//! **Token.** `POST {url}{path_prefix}/realms/{token_realm}/protocol/openid-connect/token`,
//! form `grant_type=client_credentials&client_id=…&client_secret=…` (the confidential
//! client's service account) → `{"access_token", "expires_in", "token_type": "Bearer", …}`.
//! Cached per backend until 30 s before it expires (by the host's clock), shared by
//! concurrent requests (one token request for a burst, sharing key `token`), replaced once
//! on a `401` from an admin call and the call retried once — all of it the SDK's token
//! helper (`sever_plugin_sdk::token`).
//!
//! **Settings.** `realm`, `client_id`, `client_secret` (secret; a confidential client with
//! "Service accounts roles" on), `token_realm` (default: `realm`), `user_lookup` (`id`,
//! default, or `username`), `path_prefix` (default empty; `/auth` for the old WildFly
//! distributions ≤ 16). The service account needs realm-management `manage-users` and
//! `query-users` (or `view-users`): without the query role an unknown user answers 403, not
//! 404 ("make sure somebody can't phish ids").
//!
//! **Answers.** Errors are `{"error", "error_description"?}`: a code-like `error`
//! (`unknown_error`) goes to `vendor.code`, a sentence (`User not found`) to
//! `vendor.message`, with `error_description` after it.
//!
//! | vendor | canonical |
//! |---|---|
//! | 204 (any 2xx with an empty or JSON body) | `done`: the sessions are removed before the answer (`logout` also sets the user's not-before, so refresh tokens and introspection fail from then on); already issued access tokens stay valid until they expire for services that verify them offline. A `logout` of a user without sessions is 204 too: `done` does not mean anybody was logged in |
//! | 404 `User not found` / `Sesssion not found` [sic] | 404 `target_not_found` |
//! | 404 `Realm not found.` (admin API), `Realm does not exist` (token endpoint), or a 404 that names neither (a wrong `url` or `path_prefix`) | 502 `upstream_rejected` |
//! | 401 after one token refresh; 403 (a missing role, or a token of another realm) | 502 `upstream_unauthorized` |
//! | token endpoint 400 / 401 (`invalid_client`, `unauthorized_client` "Client not enabled to retrieve service account") | 502 `upstream_unauthorized` |
//! | 429 | 429 `rate_limited`, with the vendor's wait |
//! | other 4xx | 502 `upstream_rejected` |
//! | 5xx (`unknown_error`) | 502 `upstream_error` (retryable) |
//! | a 2xx body that is neither empty nor JSON; a lookup answer that is not a list | 502 `upstream_error` |
//!
//! **Confirmed** (keycloak/keycloak `UserResource.logout`, `UsersResource.user`,
//! `RealmAdminResource.deleteSession`, `KeycloakErrorHandler`,
//! `ClientCredentialsGrantType`; the generated Admin API docs): the three calls, the 204s,
//! the error texts above, 403 instead of 404 without `query-users`, `exact` and
//! `briefRepresentation` on `GET /users`.
//!
//! **Assumed:** the client secret in the form (Basic is also accepted); no refresh token for
//! this grant; `path_prefix` `/auth` for ≤ 16; no rate limit in the admin API (a 429 from a
//! gateway in front is still `rate_limited`); `Realm does not exist` on the token endpoint;
//! with `exact=true` at most one user matches (several are refused as ambiguous rather than
//! cutting the wrong one).

mod answer;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::token::{ClientAuth, Grant, Resumed, Session, TokenClient};

/// A Keycloak backend's settings.
#[derive(Debug, Settings)]
pub struct KeycloakSettings {
    /// realm whose users and sessions are cut
    realm: String,
    /// confidential client with a service account (realm-management manage-users, query-users)
    client_id: String,
    /// the client's secret
    #[setting(secret)]
    client_secret: String,
    /// realm of the client (default: realm; master for a cross-realm admin client)
    token_realm: Option<String>,
    /// what a user_id is: id (default) or username (looked up first)
    #[setting(check = check_user_lookup)]
    user_lookup: Option<String>,
    /// path before /realms and /admin (default empty; /auth for Keycloak 16 and older)
    #[setting(check = check_path_prefix)]
    path_prefix: Option<String>,
}

fn check_user_lookup(value: &str) -> Result<(), String> {
    match value {
        "id" | "username" => Ok(()),
        _ => Err("must be id or username".into()),
    }
}

fn check_path_prefix(value: &str) -> Result<(), String> {
    let ok = value.starts_with('/')
        && value.len() > 1
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
        && !value.split('/').any(|s| s == "." || s == "..");
    if ok {
        Ok(())
    } else {
        Err("must be a path such as /auth (letters, digits, - . _ ~ /)".into())
    }
}

/// One Keycloak backend.
#[derive(Debug)]
pub struct Keycloak {
    /// `{url}{path_prefix}`.
    base: String,
    realm: String,
    by_username: bool,
    tokens: TokenClient,
}

/// Which call a flow is at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `GET …/users?username=…`.
    Lookup { username: String },
    /// `POST …/users/{id}/logout`.
    Logout { id: String },
    /// `DELETE …/sessions/{id}`.
    DeleteSession { id: String },
}

/// A terminate in progress.
#[derive(Debug)]
pub struct Flow {
    stage: Stage,
    session: Session,
    /// The host asked for a call again (a lost answer): a 404 may be the first attempt's work.
    retried: bool,
}

impl Keycloak {
    fn admin_url(&self, tail: &[&str]) -> String {
        let mut segments = vec!["admin", "realms", self.realm.as_str()];
        segments.extend_from_slice(tail);
        encode::url_with_segments(&self.base, &segments)
    }

    /// The call of `stage`, without its bearer token (the token helper adds it).
    fn request(&self, stage: &Stage) -> VendorRequest {
        match stage {
            Stage::Lookup { username } => {
                let url = format!(
                    "{}?username={}&exact=true&briefRepresentation=true",
                    self.admin_url(&["users"]),
                    encode::component(username)
                );
                VendorRequest::new("GET", url)
                    .header("accept", "application/json")
                    .purpose("find user")
            }
            Stage::Logout { id } => {
                VendorRequest::new("POST", self.admin_url(&["users", id, "logout"]))
                    .purpose("logout")
            }
            Stage::DeleteSession { id } => {
                VendorRequest::new("DELETE", self.admin_url(&["sessions", id]))
                    .purpose("delete session")
            }
        }
        .idempotent(true)
    }

    fn send(&self, flow: &mut Flow, env: &Env) -> Step {
        let stage = &flow.stage;
        self.tokens
            .send(&mut flow.session, env, || self.request(stage))
    }
}

impl Adapter for Keycloak {
    const NAME: &'static str = "keycloak";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = KeycloakSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Keycloak Admin REST API (terminate: log a user out everywhere, or end one session; \
             OAuth2 client credentials)",
            vec![ActionSpec::new(
                Action::Terminate,
                [[TargetField::UserId], [TargetField::ConnectionId]],
                "user_id: POST …/admin/realms/{realm}/users/{id}/logout (every session of the user; \
                 the user may log in again); connection_id: DELETE …/sessions/{session id} \
                 (one user session)",
            )],
        )
    }

    fn new(backend: Backend<KeycloakSettings>) -> Result<Self, Vec<SettingError>> {
        let KeycloakSettings {
            realm,
            client_id,
            client_secret,
            token_realm,
            user_lookup,
            path_prefix,
        } = backend.settings;
        let prefix = path_prefix.unwrap_or_default();
        let base = format!("{}{}", backend.url, prefix.trim_end_matches('/'));
        let token_realm = token_realm.unwrap_or_else(|| realm.clone());
        let endpoint = encode::url_with_segments(
            &base,
            &[
                "realms",
                &token_realm,
                "protocol",
                "openid-connect",
                "token",
            ],
        );
        let tokens = TokenClient::new(
            "keycloak",
            endpoint,
            Grant::ClientCredentials,
            ClientAuth::post(&client_id, &client_secret),
        )
        .credentials_noun("the client credentials (client_id, client_secret, service account)");
        Ok(Keycloak {
            base,
            realm,
            by_username: user_lookup.as_deref() == Some("username"),
            tokens,
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let stage = match (
            request.target.get(TargetField::UserId),
            request.target.get(TargetField::ConnectionId),
        ) {
            (Some(user), _) if self.by_username => Stage::Lookup {
                username: user.to_owned(),
            },
            (Some(user), _) => Stage::Logout {
                id: user.to_owned(),
            },
            (None, session) => Stage::DeleteSession {
                id: session.unwrap_or_default().to_owned(),
            },
        };
        let mut flow = Flow {
            stage,
            session: Session::default(),
            retried: false,
        };
        let step = self.send(&mut flow, env);
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        flow.retried |= matches!(input, Input::Retry { .. });
        let stage = &flow.stage;
        let call = || self.request(stage);
        let response = match self.tokens.resume(&mut flow.session, input, env, call) {
            Resumed::Step(step) => return step,
            Resumed::Answer(response) => response,
        };
        match answer::read(&flow.stage, &response, env, flow.retried) {
            answer::Read::Step(step) => step,
            answer::Read::Found { id } => {
                flow.stage = Stage::Logout { id };
                flow.retried = false;
                self.send(flow, env)
            }
        }
    }
}

export_plugin!(Keycloak);
