//! A strict simulator of ECI Nexus's `UpdateConnectionEnabledClients` operation.
//!
//! It serves exactly one operation, as the vendor's OpenAPI page documents it:
//!
//! ```text
//! PATCH /v1/tenants/{tenantId}/connections/{connectionId}/clients
//! Authorization: Bearer <token>  +  ApplicationToken: <application token>
//!   (or)  Authorization: Basic base64(<username>:<password>)
//! Content-Type: application/json
//!
//! {"enabled": false, "clientId": "<client id>"}
//! ```
//!
//! and answers `204` with no body, or an RFC 7807 problem (`type`, `title`, `status`,
//! `detail`, `instance`, plus ASP.NET's `traceId`) as `application/problem+json`. Checks
//! run in this order; the first that fails answers:
//!
//! 1. the path has that shape (raw path split on `/` before decoding, no empty segment)
//!    — else 404 with no body (no such route);
//! 2. the method is `PATCH` — else 405 with no body and `Allow: PATCH`;
//! 3. the credentials are a configured pair: bearer token **and** application token (in
//!    the configured header, `ApplicationToken` by default), or Basic username and
//!    password — else 401 with no body and `WWW-Authenticate` (assumed, as in the adapter);
//! 4. the credential holds `client.write` or `client.write.all` — else 403 problem;
//! 5. each segment percent-decodes to UTF-8 — else 400 problem;
//! 6. the content type is `application/json` — else 415 problem;
//! 7. the body is a JSON object with a boolean `enabled` and a string `clientId`, and
//!    nothing else (stricter than the vendor, to catch adapter mistakes) — else 400 problem;
//! 8. the tenant, then the connection, then the client (in that tenant) exist — else 404
//!    problem with its own detail ("Tenant 't' not found", "Connection …", "Client …").
//!
//! Then the client's flag on that connection is set to `enabled` and the answer is 204;
//! disabling a client that is already disabled answers 204 again (idempotent, assumed).
//! Faults (a [`Canned`] answer is written as a problem, its code as the title) and the delay
//! apply before any check and leave state alone.

mod contract;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::json;

use super::{Call, Canned, Serving, Sim, Vendor};

/// The permission the operation requires (or [`WRITE_ALL`]).
pub const WRITE: &str = "client.write";
/// The tenant-wide variant of [`WRITE`].
pub const WRITE_ALL: &str = "client.write.all";

/// One way in: which secrets it takes and which permissions it grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NexusLogin {
    /// `Authorization: Bearer {bearer_token}` plus the application token header.
    Bearer {
        bearer_token: String,
        application_token: String,
        permissions: Vec<String>,
    },
    /// `Authorization: Basic base64({username}:{password})`.
    Basic {
        username: String,
        password: String,
        permissions: Vec<String>,
    },
}

impl NexusLogin {
    fn permissions(&self) -> &[String] {
        match self {
            NexusLogin::Bearer { permissions, .. } | NexusLogin::Basic { permissions, .. } => {
                permissions
            }
        }
    }
}

/// One tenant: its clients, and per identity connection the clients enabled on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NexusTenant {
    pub clients: BTreeSet<String>,
    pub connections: BTreeMap<String, BTreeSet<String>>,
}

/// What the simulated Nexus knows when it starts.
#[derive(Debug, Clone)]
pub struct NexusSimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The header carrying the application token (default `ApplicationToken`).
    pub application_token_header: String,
    /// Accepted credentials.
    pub logins: Vec<NexusLogin>,
    /// Tenants by id; the first one added is the one the shortcuts act on.
    pub tenants: BTreeMap<String, NexusTenant>,
    /// The tenant the shortcuts act on.
    pub default_tenant: String,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl NexusSimConfig {
    /// One empty tenant, no credentials yet.
    pub fn new(tenant: &str) -> Self {
        let mut tenants = BTreeMap::new();
        tenants.insert(tenant.to_owned(), NexusTenant::default());
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            application_token_header: "ApplicationToken".to_owned(),
            logins: Vec::new(),
            tenants,
            default_tenant: tenant.to_owned(),
            echo_calls: false,
        }
    }

    /// Accepts this bearer + application token pair with `client.write`.
    pub fn with_bearer(self, bearer_token: &str, application_token: &str) -> Self {
        self.with_bearer_permissions(bearer_token, application_token, &[WRITE])
    }

    /// Accepts this bearer + application token pair with these permissions.
    pub fn with_bearer_permissions(
        mut self,
        bearer_token: &str,
        application_token: &str,
        permissions: &[&str],
    ) -> Self {
        self.logins.push(NexusLogin::Bearer {
            bearer_token: bearer_token.to_owned(),
            application_token: application_token.to_owned(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        });
        self
    }

    /// Accepts this Basic username and password with `client.write`.
    pub fn with_basic(self, username: &str, password: &str) -> Self {
        self.with_basic_permissions(username, password, &[WRITE])
    }

    /// Accepts this Basic username and password with these permissions.
    pub fn with_basic_permissions(
        mut self,
        username: &str,
        password: &str,
        permissions: &[&str],
    ) -> Self {
        self.logins.push(NexusLogin::Basic {
            username: username.to_owned(),
            password: password.to_owned(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        });
        self
    }

    /// Expects the application token in this header instead of `ApplicationToken`.
    pub fn with_application_token_header(mut self, name: &str) -> Self {
        name.clone_into(&mut self.application_token_header);
        self
    }

    /// Adds an identity connection to the default tenant.
    pub fn with_connection(mut self, connection: &str) -> Self {
        self.default_mut()
            .connections
            .entry(connection.to_owned())
            .or_default();
        self
    }

    /// Adds a client to the default tenant and enables it on `connection` (added if new).
    pub fn with_client_on(mut self, connection: &str, client: &str) -> Self {
        let tenant = self.default_mut();
        tenant.clients.insert(client.to_owned());
        tenant
            .connections
            .entry(connection.to_owned())
            .or_default()
            .insert(client.to_owned());
        self
    }

    /// Adds another, empty tenant.
    pub fn with_tenant(mut self, tenant: &str) -> Self {
        self.tenants.entry(tenant.to_owned()).or_default();
        self
    }

    fn default_mut(&mut self) -> &mut NexusTenant {
        self.tenants.entry(self.default_tenant.clone()).or_default()
    }
}

/// A running Nexus simulator; stops (and closes its port) when dropped.
pub type NexusSim = Sim<Nexus>;

/// What the simulated Nexus knows: the accepted credentials and the tenants.
#[derive(Debug)]
pub struct Nexus {
    application_token_header: String,
    logins: Vec<NexusLogin>,
    default_tenant: String,
    tenants: Mutex<BTreeMap<String, NexusTenant>>,
}

impl Vendor for Nexus {
    const NAME: &'static str = "nexus";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html; charset=utf-8",
        "<html><body>Nexus sign-in</body></html>",
    );
    type Config = NexusSimConfig;
    type Switch = ();

    fn new(config: NexusSimConfig) -> (Self, Serving) {
        let nexus = Nexus {
            application_token_header: config.application_token_header,
            logins: config.logins,
            default_tenant: config.default_tenant,
            tenants: Mutex::new(config.tenants),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (nexus, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        let title = "An error occurred while processing your request.";
        Canned::new(500, title, "Simulated internal server error")
    }

    fn refuse(&self, error: &Canned, parts: &Parts) -> Response {
        let status = error.status_code();
        problem(status, &error.code, &error.message, parts.uri.path())
    }

    fn unreadable(&self) -> Option<Canned> {
        let detail = "The request body could not be read.";
        Some(Canned::new(400, "Bad Request", detail))
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match self.update(call.parts, call.body) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(answer) => answer.into_response(call.parts.uri.path()),
        }
    }
}

impl Sim<Nexus> {
    /// Whether `client` is enabled on `connection` of the default tenant.
    pub fn is_enabled(&self, connection: &str, client: &str) -> bool {
        let nexus = self.vendor();
        let tenants = nexus.tenants.lock();
        tenants
            .get(&nexus.default_tenant)
            .and_then(|t| t.connections.get(connection))
            .is_some_and(|enabled| enabled.contains(client))
    }

    /// The clients enabled on `connection` of the default tenant, sorted.
    pub fn enabled_clients(&self, connection: &str) -> Vec<String> {
        let nexus = self.vendor();
        let tenants = nexus.tenants.lock();
        tenants
            .get(&nexus.default_tenant)
            .and_then(|t| t.connections.get(connection))
            .map(|enabled| enabled.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// An RFC 7807 problem answer, shaped like ASP.NET Core's `ProblemDetails`.
fn problem(status: StatusCode, title: &str, detail: &str, instance: &str) -> Response {
    let body = json!({
        "type": format!("https://httpstatuses.io/{}", status.as_u16()),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": instance,
        "traceId": "00-5e1b77a4c0d7f1e2a3b4c5d6e7f80912-a1b2c3d4e5f60718-00",
    });
    (
        status,
        [(
            header::CONTENT_TYPE,
            "application/problem+json; charset=utf-8",
        )],
        body.to_string(),
    )
        .into_response()
}

/// Why the contract's checks refused a call.
#[derive(Debug)]
enum Refusal {
    /// No such route: 404, no body.
    NoRoute,
    /// 405, no body, `Allow: PATCH`.
    Method,
    /// 401, no body.
    Unauthenticated,
    /// A problem document.
    Problem(StatusCode, &'static str, String),
}

impl Refusal {
    fn into_response(self, instance: &str) -> Response {
        match self {
            Refusal::NoRoute => StatusCode::NOT_FOUND.into_response(),
            Refusal::Method => {
                (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "PATCH")]).into_response()
            }
            Refusal::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer, Basic realm=\"nexus\"")],
            )
                .into_response(),
            Refusal::Problem(status, title, detail) => problem(status, title, &detail, instance),
        }
    }
}

#[cfg(test)]
mod tests;
