//! A strict simulator of the HiveMQ Enterprise REST API's two disconnect operations, built
//! from its OpenAPI document (4.30.0):
//!
//! ```text
//! DELETE /api/v1/mqtt/clients/{clientId}/connection?preventWillMessage=…   disconnectClient
//! DELETE /api/v1/mqtt/clients/{clientId}?preventWillMessage=…              invalidateClientSession
//! ```
//!
//! Answers `204` with no body, or `{"errors": [{"title", "detail"}]}`
//! (`application/json`). Checks run in this order; the first that fails answers:
//!
//! 1. the path is one of the two (raw path split on `/` before decoding) — else 404 with a
//!    plain-text body (no such route); the method is `DELETE` — else 405;
//! 2. with REST API auth on (the Enterprise Security Extension's `rest-api-pipeline`): HTTP
//!    Basic with a configured user — else 401, empty body; the user has the permission —
//!    else 403, empty body (ESE's bodies are undocumented: assumed empty);
//! 3. `Accept`, when sent, takes `application/json` — else 406;
//! 4. the only query parameter is `preventWillMessage`, `true` or `false` — else 400
//!    `Parameter invalid`; the segment decodes to UTF-8 and there is no body — else 400;
//! 5. disconnect: the client is connected — else 404 `Resource not found`; it is
//!    disconnected and its session kept (its will published unless prevented);
//!    invalidate: the client has a session (connected or not) — else 404; the session is
//!    removed (a connected client is disconnected, its will published unless prevented).
//!
//! Faults and the delay apply before any check and leave state alone; a [`Canned`] answer is
//! written as one error, its code as the title.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::json;

use super::calls::{basic_credentials, decode_segment};
use super::{Call, Canned, Serving, Sim, Vendor};

/// What the simulated HiveMQ knows when it starts.
#[derive(Debug, Clone)]
pub struct HivemqSimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// REST API users allowed to disconnect (ESE); empty: the REST API has no auth.
    pub users: Vec<(String, String)>,
    /// REST API users without the permission (403).
    pub unpermitted_users: Vec<(String, String)>,
    /// Sessions by client id: `true` when the client is connected.
    pub sessions: BTreeMap<String, bool>,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl Default for HivemqSimConfig {
    /// No auth, no session.
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: Vec::new(),
            unpermitted_users: Vec::new(),
            sessions: BTreeMap::new(),
            echo_calls: false,
        }
    }
}

impl HivemqSimConfig {
    /// Turns REST API auth on and accepts this user.
    pub fn with_user(mut self, user: &str, password: &str) -> Self {
        self.users.push((user.to_owned(), password.to_owned()));
        self
    }

    /// A user that authenticates but lacks the permission.
    pub fn with_unpermitted_user(mut self, user: &str, password: &str) -> Self {
        self.unpermitted_users
            .push((user.to_owned(), password.to_owned()));
        self
    }

    /// A connected client (with its session).
    pub fn with_client(mut self, client_id: &str) -> Self {
        self.sessions.insert(client_id.to_owned(), true);
        self
    }

    /// A persistent session whose client is offline.
    pub fn with_offline_session(mut self, client_id: &str) -> Self {
        self.sessions.insert(client_id.to_owned(), false);
        self
    }
}

/// A running HiveMQ simulator; stops (and closes its port) when dropped.
pub type HivemqSim = Sim<Hivemq>;

/// What the simulated HiveMQ knows: users, sessions, and the wills it published.
#[derive(Debug)]
pub struct Hivemq {
    users: Vec<(String, String)>,
    unpermitted_users: Vec<(String, String)>,
    sessions: Mutex<BTreeMap<String, bool>>,
    wills: Mutex<Vec<String>>,
}

/// One HiveMQ error answer; `None` title: an empty body.
#[derive(Debug)]
struct Refusal(StatusCode, Option<(&'static str, String)>);

fn errors(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({"errors": [{"title": title, "detail": detail}]}).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl Vendor for Hivemq {
    const NAME: &'static str = "hivemq";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html",
        "<html><body>HiveMQ Control Center</body></html>",
    );
    type Config = HivemqSimConfig;
    type Switch = ();

    fn new(config: HivemqSimConfig) -> (Self, Serving) {
        let hivemq = Hivemq {
            users: config.users,
            unpermitted_users: config.unpermitted_users,
            sessions: Mutex::new(config.sessions),
            wills: Mutex::default(),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (hivemq, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(500, "Internal error", "An unexpected error occurred")
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        errors(error.status_code(), &error.code, &error.message)
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match self.disconnect(call.parts, call.body) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(Refusal(status, Some((title, detail)))) => errors(status, title, &detail),
            Err(Refusal(StatusCode::NOT_FOUND, None)) => {
                (StatusCode::NOT_FOUND, "Not Found").into_response()
            }
            Err(Refusal(status, None)) => status.into_response(),
        }
    }
}

impl Hivemq {
    fn disconnect(&self, parts: &Parts, body: &[u8]) -> Result<(), Refusal> {
        let raw: Vec<&str> = parts.uri.path().split('/').collect();
        let (segment, invalidate) = match raw.as_slice() {
            ["", "api", "v1", "mqtt", "clients", id, "connection"] if !id.is_empty() => {
                (*id, false)
            }
            ["", "api", "v1", "mqtt", "clients", id] if !id.is_empty() => (*id, true),
            _ => return Err(Refusal(StatusCode::NOT_FOUND, None)),
        };
        if parts.method != Method::DELETE {
            return Err(Refusal(StatusCode::METHOD_NOT_ALLOWED, None));
        }
        self.authenticate(&parts.headers)?;
        let accept = parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok());
        if accept.is_some_and(|a| !a.contains("application/json") && !a.contains("*/*")) {
            return Err(Refusal(StatusCode::NOT_ACCEPTABLE, None));
        }
        let prevent_will = prevent_will_message(parts.uri.query().unwrap_or_default())?;
        let invalid = |detail: &str| {
            let error = ("Parameter invalid", detail.to_owned());
            Refusal(StatusCode::BAD_REQUEST, Some(error))
        };
        let Some(client) = decode_segment(segment) else {
            return Err(invalid("Path parameter 'clientId' is invalid"));
        };
        if !body.is_empty() {
            return Err(invalid("This operation takes no request body"));
        }
        let mut sessions = self.sessions.lock();
        let connected = match sessions.get(&client) {
            Some(connected) if invalidate || *connected => *connected,
            _ => {
                let detail = format!("Resource with id '{client}' not found");
                return Err(Refusal(
                    StatusCode::NOT_FOUND,
                    Some(("Resource not found", detail)),
                ));
            }
        };
        if invalidate {
            sessions.remove(&client);
        } else {
            sessions.insert(client.clone(), false);
        }
        if connected && !prevent_will {
            self.wills.lock().push(client);
        }
        Ok(())
    }

    fn authenticate(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.users.is_empty() && self.unpermitted_users.is_empty() {
            return Ok(()); // the REST API has no auth without ESE
        }
        let pair = basic_credentials(headers).ok_or(Refusal(StatusCode::UNAUTHORIZED, None))?;
        if self.unpermitted_users.contains(&pair) {
            return Err(Refusal(StatusCode::FORBIDDEN, None));
        }
        if !self.users.contains(&pair) {
            return Err(Refusal(StatusCode::UNAUTHORIZED, None));
        }
        Ok(())
    }
}

/// The query: nothing, or `preventWillMessage=true|false` once.
fn prevent_will_message(query: &str) -> Result<bool, Refusal> {
    let mut prevent = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = match (name, value, prevent) {
            ("preventWillMessage", "true", None) => true,
            ("preventWillMessage", "false", None) => false,
            _ => {
                let detail = format!("Query parameter '{name}' is invalid");
                return Err(Refusal(
                    StatusCode::BAD_REQUEST,
                    Some(("Parameter invalid", detail)),
                ));
            }
        };
        prevent = Some(value);
    }
    Ok(prevent.unwrap_or(false))
}

impl Sim<Hivemq> {
    /// Whether the client is connected.
    pub fn is_connected(&self, client_id: &str) -> bool {
        self.vendor().sessions.lock().get(client_id) == Some(&true)
    }

    /// Whether the client has a session (connected or not).
    pub fn has_session(&self, client_id: &str) -> bool {
        self.vendor().sessions.lock().contains_key(client_id)
    }

    /// Connects a client (with a session).
    pub fn connect(&self, client_id: &str) {
        self.vendor()
            .sessions
            .lock()
            .insert(client_id.to_owned(), true);
    }

    /// The clients whose will was published by a disconnect, in order.
    pub fn wills_published(&self) -> Vec<String> {
        self.vendor().wills.lock().clone()
    }

    /// The connected clients' ids, sorted.
    pub fn connected_clients(&self) -> Vec<String> {
        let sessions = self.vendor().sessions.lock();
        sessions
            .iter()
            .filter(|(_, c)| **c)
            .map(|(id, _)| id.clone())
            .collect()
    }
}
