//! # `hivemq` — HiveMQ Enterprise REST API adapter
//!
//! **Action.** `disconnect` by `client_id`, one call, chosen by the `invalidate_session`
//! setting:
//!
//! | `invalidate_session` | vendor call | what the cut does |
//! |---|---|---|
//! | `false` (default) | `DELETE {url}/api/v1/mqtt/clients/{client_id}/connection?preventWillMessage={true\|false}` (`disconnectClient`) | closes the client's connection; its session (subscriptions, queued messages) stays, so a reconnect resumes it |
//! | `true` | `DELETE {url}/api/v1/mqtt/clients/{client_id}?preventWillMessage={true\|false}` (`invalidateClientSession`) | "Invalidates the client session … If the client is currently connected, it will be disconnected as well": the session is gone |
//!
//! Either way the client may reconnect at once: HiveMQ's REST API has no ban. The
//! setting selects the call for the backend as a whole, so an operator decides once per
//! broker whether a cut also drops sessions (configure two backends on one broker to have
//! both). Both calls send `Accept: application/json` and no body; `preventWillMessage`
//! is the `prevent_will_message` setting (default `false`: the will is published, as for
//! any unexpected disconnect). The client id is one path segment, percent-encoded over its
//! UTF-8 bytes keeping only `A-Z a-z 0-9 - . _ ~`.
//!
//! **Auth.** HiveMQ's REST API has no authentication of its own (it binds 127.0.0.1:8888 by
//! default); with the Enterprise Security Extension's `rest-api-pipeline` it takes HTTP
//! Basic. Set `username` and `password` together for that, or neither.
//!
//! **Settings.** `username` (optional; no `:`), `password` (optional, secret; with
//! `username`), `prevent_will_message` (bool, default `false`), `invalidate_session` (bool,
//! default `false`).
//!
//! **Answers.** Errors are read as `{"errors": [{"title", "detail"}]}` (the OpenAPI
//! document's `Errors` schema and every example), then as a top-level `title`/`detail`
//! (the problem+json its prose names), then as raw text; the first error's
//! `title: detail` goes into `vendor.message` and the `detail`.
//!
//! | vendor | canonical |
//! |---|---|
//! | 204 | `done` |
//! | 404 `Resource not found` (unknown client; an offline client is assumed to be 404 too) | 404 `target_not_found` |
//! | 400 `Parameter invalid` | 502 `upstream_rejected` |
//! | 401, 403 (ESE; bodies undocumented) | 502 `upstream_unauthorized` |
//! | 429 | 429 `rate_limited` (the vendor's `Retry-After` passed on) |
//! | 503 `Endpoint not active yet` (cluster nodes below the endpoint's version), other 5xx | 502 `upstream_error` (retryable) |
//! | any other 4xx | 502 `upstream_rejected` |
//! | a 2xx other than 204 | 502 `upstream_error` |
//!
//! Both calls are idempotent (disconnecting a disconnected client is a 404, invalidating
//! an invalidated session too): the host may retry them; a retry is the same call.
//!
//! **Confirmed** (HiveMQ REST API OpenAPI document 4.30.0, as shipped in hivemq/mqtt-cli;
//! HiveMQ's REST API docs; the ESE auth tests in hivemq/helm-charts): both paths and
//! methods, `preventWillMessage`, 204, the `errors` bodies and titles of 400 and 404, 503
//! "Endpoint not active yet", percent-encoded client ids, Basic through ESE with 401 for
//! wrong credentials and 403 for a missing permission.
//!
//! **Assumed:** a known but offline client answers 404 like an unknown one; ESE's 401/403
//! bodies are empty or not JSON; the ESE permissions
//! `HIVEMQ_MQTT_CLIENTS_CLIENTID_CONNECTION_DELETE` and
//! `HIVEMQ_MQTT_CLIENTS_CLIENTID_DELETE` govern the two calls (third-party schemas only).
//! `terminate` by username is not offered: the list endpoint gives only client ids, so it
//! would take one call per connected client to find a user's.

mod answer;

#[cfg(test)]
mod tests;

use sever_plugin_sdk::prelude::*;

/// A HiveMQ backend's settings.
#[derive(Debug, Settings)]
pub struct HivemqSettings {
    /// REST API user, with the Enterprise Security Extension (HTTP Basic; with password)
    #[setting(check = username)]
    username: Option<String>,
    /// REST API password (with username)
    #[setting(secret, check = settings::visible_ascii)]
    password: Option<String>,
    /// suppress the client's will message (default false)
    prevent_will_message: Option<bool>,
    /// also invalidate the client's session: DELETE …/clients/{client_id} instead of
    /// …/clients/{client_id}/connection (default false)
    invalidate_session: Option<bool>,
}

/// The Basic user: visible ASCII, no colon.
fn username(value: &str) -> Result<(), String> {
    settings::visible_ascii(value)?;
    settings::no_colon(value)
}

/// One HiveMQ cluster's REST API.
pub struct Hivemq {
    url: String,
    /// `base64(username:password)` when the REST API takes Basic auth.
    credentials: Option<String>,
    prevent_will_message: bool,
    invalidate_session: bool,
}

impl std::fmt::Debug for Hivemq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hivemq")
            .field("url", &self.url)
            .field("basic_auth", &self.credentials.is_some())
            .field("prevent_will_message", &self.prevent_will_message)
            .field("invalidate_session", &self.invalidate_session)
            .finish()
    }
}

/// A disconnect in progress: the client id, to plan a retry.
#[derive(Debug)]
pub struct Flow {
    client_id: String,
}

impl Hivemq {
    fn disconnect(&self, client_id: &str) -> VendorRequest {
        let base = ["api", "v1", "mqtt", "clients", client_id];
        let (mut url, purpose) = if self.invalidate_session {
            let url = encode::url_with_segments(&self.url, &base);
            (url, "invalidate the client's session")
        } else {
            let segments = [&base[..], &["connection"]].concat();
            let url = encode::url_with_segments(&self.url, &segments);
            (url, "disconnect the client")
        };
        url.push_str("?preventWillMessage=");
        url.push_str(if self.prevent_will_message {
            "true"
        } else {
            "false"
        });
        let mut request = VendorRequest::new("DELETE", url)
            .header("accept", "application/json")
            .idempotent(true)
            .purpose(purpose);
        if let Some(credentials) = &self.credentials {
            request = request
                .header("authorization", format!("Basic {credentials}"))
                .redact(credentials.clone());
        }
        request
    }
}

impl Adapter for Hivemq {
    const NAME: &'static str = "hivemq";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = HivemqSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "HiveMQ Enterprise REST API (disconnect a client; invalidate_session also drops \
             its session)",
            vec![ActionSpec::new(
                Action::Disconnect,
                [[TargetField::ClientId]],
                "DELETE /api/v1/mqtt/clients/{client_id}/connection (the session stays), or \
                 with invalidate_session DELETE /api/v1/mqtt/clients/{client_id} (the session \
                 is dropped); the client may reconnect",
            )],
        )
    }

    fn new(backend: Backend<HivemqSettings>) -> Result<Self, Vec<SettingError>> {
        let HivemqSettings {
            username,
            password,
            prevent_will_message,
            invalidate_session,
        } = backend.settings;
        let credentials = match (username, password) {
            (Some(user), Some(password)) => Some(encode::basic_auth(&user, &password)),
            (None, None) => None,
            (Some(_), None) => return Err(vec![missing("password", "username")]),
            (None, Some(_)) => return Err(vec![missing("username", "password")]),
        };
        Ok(Hivemq {
            url: backend.url,
            credentials,
            prevent_will_message: prevent_will_message.unwrap_or(false),
            invalidate_session: invalidate_session.unwrap_or(false),
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let client_id = request.target.field(TargetField::ClientId).to_owned();
        let step = Step::Send(self.disconnect(&client_id));
        (Flow { client_id }, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Response(response) => {
                answer::answer(&flow.client_id, self.invalidate_session, &response)
            }
            Input::Retry { .. } => Step::Send(self.disconnect(&flow.client_id)),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("hivemq: resumed with the answer to an exchange it never plans"),
        }
    }
}

/// `key` is required because `with` is set (HTTP Basic takes both).
fn missing(key: &str, with: &str) -> SettingError {
    SettingError {
        key: key.to_owned(),
        message: format!("required with {with}: HTTP Basic takes both (or set neither)"),
    }
}

export_plugin!(Hivemq);
