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
//! Faults, the canned answer and the delay apply before any check and leave state alone.

mod contract;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use parking_lot::Mutex;
use serde_json::json;

use super::{CallLog, Fault, HangUp, RecordedCall, SimServer};

/// Bodies larger than this are not read.
const MAX_BODY_BYTES: usize = 1 << 20;

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

/// An answer the simulator gives instead of following the contract (a 400 or 429 the
/// vendor may send), as an RFC 7807 problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexusCanned {
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub retry_after: Option<String>,
}

impl NexusCanned {
    /// A problem answer with this status, title and detail.
    pub fn problem(status: u16, title: &str, detail: &str) -> Self {
        Self {
            status,
            title: title.to_owned(),
            detail: detail.to_owned(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, value: &str) -> Self {
        self.retry_after = Some(value.to_owned());
        self
    }
}

/// A running Nexus simulator; stops (and closes its port) when dropped.
#[derive(Debug)]
pub struct NexusSim {
    shared: Arc<Shared>,
    server: SimServer,
}

#[derive(Debug)]
struct Shared {
    application_token_header: String,
    logins: Vec<NexusLogin>,
    default_tenant: String,
    tenants: Mutex<BTreeMap<String, NexusTenant>>,
    log: CallLog,
    fault: Mutex<Fault>,
    next_faults: Mutex<(usize, Fault)>,
    canned: Mutex<Option<NexusCanned>>,
    delay: Mutex<Duration>,
}

impl NexusSim {
    /// Starts a simulator; panics if it cannot listen.
    pub fn start(config: NexusSimConfig) -> Self {
        let listen = config.listen;
        Self::try_start(config)
            .unwrap_or_else(|err| panic!("nexus simulator cannot listen on {listen}: {err}"))
    }

    /// Starts a simulator, or says why it cannot listen.
    pub fn try_start(config: NexusSimConfig) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            application_token_header: config.application_token_header,
            logins: config.logins,
            default_tenant: config.default_tenant,
            tenants: Mutex::new(config.tenants),
            log: CallLog::new(config.echo_calls),
            fault: Mutex::default(),
            next_faults: Mutex::new((0, Fault::None)),
            canned: Mutex::default(),
            delay: Mutex::default(),
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let server = SimServer::start(config.listen, "nexus", app)?;
        Ok(Self { shared, server })
    }

    /// The base URL to configure as the backend's `url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.log.snapshot()
    }

    /// Forgets the calls received so far.
    pub fn clear_calls(&self) {
        self.shared.log.clear();
    }

    /// Whether `client` is enabled on `connection` of the default tenant.
    pub fn is_enabled(&self, connection: &str, client: &str) -> bool {
        let tenants = self.shared.tenants.lock();
        tenants
            .get(&self.shared.default_tenant)
            .and_then(|t| t.connections.get(connection))
            .is_some_and(|enabled| enabled.contains(client))
    }

    /// The clients enabled on `connection` of the default tenant, sorted.
    pub fn enabled_clients(&self, connection: &str) -> Vec<String> {
        let tenants = self.shared.tenants.lock();
        tenants
            .get(&self.shared.default_tenant)
            .and_then(|t| t.connections.get(connection))
            .map(|enabled| enabled.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Makes the simulator misbehave (or behave again with [`Fault::None`]).
    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock() = fault;
    }

    /// Makes the next `count` calls misbehave with `fault`, then the standing fault applies.
    pub fn fail_next(&self, count: usize, fault: Fault) {
        *self.shared.next_faults.lock() = (count, fault);
    }

    /// Answers every call with this problem (`None`: follow the contract again).
    pub fn set_canned(&self, canned: Option<NexusCanned>) {
        *self.shared.canned.lock() = canned;
    }

    /// Delays every answer by `delay`; zero turns it off.
    pub fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock() = delay;
    }
}

async fn handle(
    State(sim): State<Arc<Shared>>,
    Extension(hang_up): Extension<HangUp>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let (body, readable) = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => (body, true),
        Err(_) => (Bytes::new(), false),
    };
    let index = sim.log.record(RecordedCall::new(&parts, &body));
    let one_off = {
        let mut next = sim.next_faults.lock();
        (next.0 > 0).then(|| {
            next.0 -= 1;
            next.1
        })
    };
    let delay = *sim.delay.lock();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let instance = parts.uri.path().to_owned();
    let canned = sim.canned.lock().clone();
    let response = match one_off.unwrap_or_else(|| *sim.fault.lock()) {
        Fault::HangUp => {
            sim.log.answered(index, None);
            return hang_up.now().await;
        }
        Fault::InternalError => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred while processing your request.",
            "Simulated internal server error",
            &instance,
        ),
        Fault::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body>Nexus sign-in</body></html>",
        )
            .into_response(),
        Fault::None => match canned {
            Some(canned) => {
                let status = StatusCode::from_u16(canned.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = problem(status, &canned.title, &canned.detail, &instance);
                if let Some(value) = canned
                    .retry_after
                    .and_then(|v| HeaderValue::from_str(&v).ok())
                {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
                response
            }
            None if !readable => problem(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "The request body could not be read.",
                &instance,
            ),
            None => match sim.update(&parts, &body) {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(answer) => answer.into_response(&instance),
            },
        },
    };
    sim.log.answered(index, Some(response.status().as_u16()));
    response
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
