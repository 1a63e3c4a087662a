//! # `nexus` — ECI Nexus identity/tenant service: disable a client on an identity connection
//!
//! **Action.** `unbind` with the target `client_id` + `connection_id`:
//!
//! ```text
//! PATCH {url}/v1/tenants/{tenant_id}/connections/{connection_id}/clients
//! Content-Type: application/json
//!
//! {"enabled":false,"clientId":"<client_id>"}
//! ```
//!
//! (the vendor's operation `UpdateConnectionEnabledClients`). Every path segment is
//! percent-encoded; the client id travels in the JSON body. Here **`connection_id` names an
//! identity connection** — a sign-in source of the tenant (a directory, a social login…),
//! not a network connection — and the call **stops the client signing in through that
//! connection from now on; it does not end sessions already open**. A tag fan-out may
//! mix this `unbind` with brokers' `unbind`, so `sever plugins` says the same.
//! The vendor permission `client.write` (or `client.write.all`) is required.
//!
//! **Settings.** `tenant_id`, and exactly one of two auth options (the vendor accepts
//! either, confirmed):
//!
//! | option | keys | sent as |
//! |---|---|---|
//! | bearer + application token | `bearer_token` (secret), `application_token` (secret), `application_token_header` (default `ApplicationToken`) | `Authorization: Bearer {bearer_token}` and `{application_token_header}: {application_token}` |
//! | HTTP Basic | `username`, `password` (secret) | `Authorization: Basic base64(username:password)` |
//!
//! Neither option, both, or half of one is a settings error naming the keys. A username
//! may not contain `:` (RFC 7617); tokens may not contain whitespace.
//!
//! **Answers.** Errors are RFC 7807 problems `{type, title, detail, status, instance}`
//! (confirmed for 400, 403 and 404). Their members are carried into the canonical
//! problem's `vendor` object (`vendor.type`, `.title`, `.detail`, `.instance`, plus
//! `vendor.message` = "title: detail"), control characters made safe.
//!
//! | vendor | canonical |
//! |---|---|
//! | 204 | `done` |
//! | other 2xx with no body | `done` (assumed: only 204 is documented) |
//! | 2xx with a body | 502 `upstream_error` (not what Nexus answers) |
//! | 400 | 502 `upstream_rejected`, the problem's title and detail in `vendor.message` |
//! | 401, 403 | 502 `upstream_unauthorized` |
//! | 404 (tenant, connection or client unknown) | 404 `target_not_found` |
//! | 429 | 429 `rate_limited` (the vendor's `Retry-After` passed on) |
//! | other 4xx | 502 `upstream_rejected` |
//! | 5xx, 3xx, anything unreadable | 502 `upstream_error` (5xx retryable: the call is idempotent) |
//!
//! **Confirmed** (the vendor's OpenAPI page): method, path, parameters, body schema
//! (`enabled` boolean, `clientId` string), 204 on success, RFC 7807 bodies for 400/403/404,
//! the two security options (Bearer **and** ApplicationToken, or Basic), the permission.
//!
//! **Assumed** (no public source says so):
//! - the application token's header is named `ApplicationToken` (the OpenAPI page names
//!   the security scheme, not the header) — configurable with `application_token_header`;
//! - 401 is the answer to missing or wrong credentials, possibly with no body;
//! - repeating the call answers 204 again (idempotent), so 5xx and lost answers are retried;
//! - 404 covers an unknown tenant, connection *or* client — the vendor's own `title` /
//!   `detail` (kept in `vendor`) tell which;
//! - a 2xx other than 204 without a body also means done.

mod answer;
mod auth;

use sever_plugin_sdk::prelude::*;

use auth::Auth;
pub use auth::NexusSettings;

/// One Nexus backend: a tenant and the credentials to act on it.
#[derive(Debug)]
pub struct Nexus {
    url: String,
    tenant_id: String,
    auth: Auth,
}

/// An unbind in progress: what it acts on, kept to plan a retry and to word problems.
#[derive(Debug, Clone)]
pub struct Flow {
    client_id: String,
    connection_id: String,
}

impl Nexus {
    fn unbind_request(&self, flow: &Flow) -> VendorRequest {
        let url = encode::url_with_segments(
            &self.url,
            &[
                "v1",
                "tenants",
                &self.tenant_id,
                "connections",
                &flow.connection_id,
                "clients",
            ],
        );
        // Written by hand to keep the documented member order; the id is JSON-escaped.
        let body = format!(
            r#"{{"enabled":false,"clientId":{}}}"#,
            serde_json::Value::from(flow.client_id.as_str())
        );
        let request = VendorRequest::new("PATCH", url)
            .header("content-type", "application/json")
            .body(body)
            .idempotent(true)
            .purpose("disable the client on the identity connection");
        self.auth.apply(request)
    }
}

impl Adapter for Nexus {
    const NAME: &'static str = "nexus";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = NexusSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "ECI Nexus identity service: unbind disables a client on an identity connection \
             (a sign-in source, not a network connection): no future sign-ins through it; \
             live sessions are not ended",
            vec![ActionSpec::new(
                Action::Unbind,
                [[TargetField::ClientId, TargetField::ConnectionId]],
                "PATCH …/connections/{connection_id}/clients {\"enabled\": false}: \
                 connection_id names an identity connection (a sign-in source), not a \
                 network connection; stops future sign-ins of the client through it, does \
                 not end live sessions",
            )],
        )
    }

    fn new(backend: Backend<NexusSettings>) -> Result<Self, Vec<SettingError>> {
        // The settings reader refuses anything but one complete option, so this only
        // guards against a mistake in it.
        let auth = Auth::from_settings(&backend.settings)
            .ok_or_else(|| vec![SettingError::new("", "no usable credentials")])?;
        Ok(Nexus {
            url: backend.url,
            tenant_id: backend.settings.tenant_id,
            auth,
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let flow = Flow {
            client_id: request.target.field(TargetField::ClientId).to_owned(),
            connection_id: request.target.field(TargetField::ConnectionId).to_owned(),
        };
        let step = Step::Send(self.unbind_request(&flow));
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Response(response) => answer::map(self, flow, &response),
            Input::Retry { .. } => Step::Send(self.unbind_request(flow)),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("nexus: resumed with the answer to an exchange it never plans"),
        }
    }
}

export_plugin!(Nexus);

#[cfg(test)]
mod tests;
