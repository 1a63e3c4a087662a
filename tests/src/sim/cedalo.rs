//! A strict simulator of the Cedalo Management Center's "Clients Control" API.
//!
//! It serves exactly one operation, as Cedalo documents it:
//!
//! ```text
//! PUT /api/projects/{projectId}/brokers/{brokerId}/clients/{client}/disconnect
//! Authorization: Bearer <application token>
//! Content-Type: application/json
//!
//! {"clientId": "<the same client id>"}
//! ```
//!
//! and answers `200 {}`, or an error `{"message", "code", "status"}` with
//! `Content-Type: application/json; charset=utf-8`. Checks run in this order; the first that
//! fails answers:
//!
//! 1. the path has that shape (raw path split on `/` before decoding, so an encoded `%2F`
//!    stays inside its segment; no empty segment) — else 404 `NOT_FOUND`;
//! 2. the method is `PUT` — else 405 `METHOD_NOT_ALLOWED` (with `Allow: PUT`);
//! 3. the bearer token is the configured one — else 401 `UNAUTHORIZED`; a token configured
//!    as forbidden gets 403 `FORBIDDEN`;
//! 4. each segment percent-decodes to UTF-8 — else 400 `BAD_REQUEST`;
//! 5. the project, then the broker, exist — else 404 `NOT_FOUND`, "Project not found" /
//!    "Broker not found";
//! 6. the content type is `application/json`, the body is exactly `{"clientId": <string>}`
//!    and `clientId` equals the decoded `{client}` segment — else 400 `BAD_REQUEST`;
//! 7. the client is connected to that broker — else 404 `NOT_FOUND`, "Client not found"
//!    (a different message from 5, so tests can tell a wrong config from a gone client).
//!
//! A successful disconnect removes the client from the broker's registry. Faults
//! ([`Fault`](super::Fault)) and the delay apply before any of these checks and leave the
//! state alone.
//! Assumed, as in the adapter: the `{client}` segment and `clientId` both carry the MQTT
//! client id. Only the header carries the token here (Cedalo also accepts `?token=`).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::calls::{credentials, decode_segment, media_type};
use super::{Call, Canned, Serving, Sim, Vendor};

/// What the simulated Management Center knows when it starts.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; port 0 (the default) picks a free port.
    pub listen: SocketAddr,
    /// The one valid application token.
    pub token: String,
    /// Tokens that authenticate but may not disconnect clients (answered 403).
    pub forbidden_tokens: Vec<String>,
    /// Known brokers as (project id, broker id, connected client ids); the first is the
    /// one `connect_client`/`is_connected` act on.
    pub brokers: Vec<(String, String, Vec<String>)>,
    /// Print one line per answered call to stdout (`METHOD PATH -> STATUS`).
    pub echo_calls: bool,
}

impl Default for SimConfig {
    /// Project `p1`, broker `b1`, token `sim-token`, no client connected.
    fn default() -> Self {
        Self::new("p1", "b1", "sim-token")
    }
}

impl SimConfig {
    /// One project with one broker, accepting `token`; no client connected yet.
    pub fn new(project: &str, broker: &str, token: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: token.to_owned(),
            forbidden_tokens: Vec::new(),
            brokers: vec![(project.to_owned(), broker.to_owned(), Vec::new())],
            echo_calls: false,
        }
    }

    /// Connects these clients to the first broker.
    pub fn with_clients<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some((_, _, clients)) = self.brokers.first_mut() {
            clients.extend(ids.into_iter().map(Into::into));
        }
        self
    }

    /// Adds another (empty) broker, possibly in another project.
    pub fn with_broker(mut self, project: &str, broker: &str) -> Self {
        self.brokers
            .push((project.to_owned(), broker.to_owned(), Vec::new()));
        self
    }

    /// Adds a token that authenticates but is not allowed to disconnect (403).
    pub fn with_forbidden_token(mut self, token: &str) -> Self {
        self.forbidden_tokens.push(token.to_owned());
        self
    }
}

/// A running Cedalo simulator; stops (and closes its port) when dropped.
pub type CedaloSim = Sim<Cedalo>;

/// What the simulated Management Center knows: tokens, brokers and their clients.
#[derive(Debug)]
pub struct Cedalo {
    token: String,
    forbidden_tokens: Vec<String>,
    default_broker: (String, String),
    /// (project, broker) → connected client ids.
    brokers: Mutex<HashMap<(String, String), BTreeSet<String>>>,
}

impl Vendor for Cedalo {
    const NAME: &'static str = "cedalo";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html; charset=utf-8",
        "<html><body>502 Bad Gateway (not really)</body>",
    );
    type Config = SimConfig;
    type Switch = ();

    fn new(config: SimConfig) -> (Self, Serving) {
        let default_broker = config
            .brokers
            .first()
            .map(|(p, b, _)| (p.clone(), b.clone()))
            .unwrap_or_default();
        let brokers = config
            .brokers
            .iter()
            .map(|(p, b, clients)| ((p.clone(), b.clone()), clients.iter().cloned().collect()))
            .collect();
        let cedalo = Cedalo {
            token: config.token,
            forbidden_tokens: config.forbidden_tokens,
            default_broker,
            brokers: Mutex::new(brokers),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (cedalo, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(500, "INTERNAL_ERROR", "Simulated internal server error")
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        let (code, message) = (error.code.clone(), error.message.clone());
        VendorError::new(error.status_code(), code, message).into_response()
    }

    fn unreadable(&self) -> Option<Canned> {
        Some(Canned::new(
            400,
            "BAD_REQUEST",
            "request body could not be read",
        ))
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match self.disconnect(call.parts, call.body) {
            Ok(()) => (StatusCode::OK, [(header::CONTENT_TYPE, JSON_UTF8)], "{}").into_response(),
            Err(error) => error.into_response(),
        }
    }
}

impl Sim<Cedalo> {
    /// Connects a client to the first configured broker.
    pub fn connect_client(&self, id: &str) {
        let (project, broker) = self.vendor().default_broker.clone();
        self.connect_client_to(&project, &broker, id);
    }

    /// Connects a client to a broker, creating the broker if it is not known yet.
    pub fn connect_client_to(&self, project: &str, broker: &str, id: &str) {
        let mut brokers = self.vendor().brokers.lock();
        let key = (project.to_owned(), broker.to_owned());
        brokers.entry(key).or_default().insert(id.to_owned());
    }

    /// Whether a client is connected to the first configured broker.
    pub fn is_connected(&self, id: &str) -> bool {
        let cedalo = self.vendor();
        let brokers = cedalo.brokers.lock();
        brokers
            .get(&cedalo.default_broker)
            .is_some_and(|clients| clients.contains(id))
    }

    /// The clients connected to the first configured broker, sorted.
    pub fn connected_clients(&self) -> Vec<String> {
        let cedalo = self.vendor();
        let brokers = cedalo.brokers.lock();
        brokers
            .get(&cedalo.default_broker)
            .map(|clients| clients.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl Cedalo {
    /// Applies the contract's checks in order (see the module documentation) and, when all
    /// pass, disconnects the client.
    fn disconnect(&self, parts: &Parts, body: &[u8]) -> Result<(), VendorError> {
        let path = parts.uri.path();
        let raw: Vec<&str> = path.split('/').collect();
        let (project, broker, client) = match raw.as_slice() {
            ["", "api", "projects", project, "brokers", broker, "clients", client, "disconnect"]
                if !project.is_empty() && !broker.is_empty() && !client.is_empty() =>
            {
                (*project, *broker, *client)
            }
            _ => {
                let message = format!("Cannot {} {path}", parts.method);
                return Err(VendorError::not_found(message));
            }
        };
        if parts.method != Method::PUT {
            return Err(VendorError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!("Method {} is not supported for this resource", parts.method),
            ));
        }
        self.authorize(&parts.headers)?;
        let (Some(project), Some(broker), Some(client)) = (
            decode_segment(project),
            decode_segment(broker),
            decode_segment(client),
        ) else {
            return Err(VendorError::bad_request(
                "path segments must be percent-encoded UTF-8",
            ));
        };

        let mut brokers = self.brokers.lock();
        if !brokers.keys().any(|(p, _)| *p == project) {
            return Err(VendorError::not_found("Project not found"));
        }
        let Some(clients) = brokers.get_mut(&(project, broker)) else {
            return Err(VendorError::not_found("Broker not found"));
        };
        check_body(&parts.headers, body, &client)?;
        if !clients.remove(&client) {
            return Err(VendorError::not_found("Client not found"));
        }
        Ok(())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), VendorError> {
        let unauthorized =
            |message: &str| VendorError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
        if !headers.contains_key(header::AUTHORIZATION) {
            return Err(unauthorized("Missing authorization"));
        }
        let Some(token) = credentials(headers, "bearer") else {
            return Err(unauthorized("Authorization must be a bearer token"));
        };
        if self.forbidden_tokens.iter().any(|t| t == token) {
            return Err(VendorError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "Request is not allowed: missing permission to disconnect clients",
            ));
        }
        if token != self.token {
            return Err(unauthorized("Invalid application token"));
        }
        Ok(())
    }
}

/// Checks the content type and that the body is exactly `{"clientId": "<client>"}`.
fn check_body(headers: &HeaderMap, body: &[u8], client: &str) -> Result<(), VendorError> {
    if !media_type(headers).eq_ignore_ascii_case("application/json") {
        return Err(VendorError::bad_request(
            "Content-Type must be application/json",
        ));
    }
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(VendorError::bad_request("request body is not valid JSON"));
    };
    let Some(object) = body.as_object() else {
        return Err(VendorError::bad_request(
            "request body must be a JSON object",
        ));
    };
    if let Some(key) = object.keys().find(|k| *k != "clientId") {
        return Err(VendorError::bad_request(format!(
            "unknown property '{key}'"
        )));
    }
    match object.get("clientId") {
        None => Err(VendorError::bad_request("clientId is required")),
        Some(Value::String(id)) if id == client => Ok(()),
        Some(Value::String(_)) => Err(VendorError::bad_request(
            "clientId in the body does not match the client in the path",
        )),
        Some(_) => Err(VendorError::bad_request("clientId must be a string")),
    }
}

const JSON_UTF8: &str = "application/json; charset=utf-8";

/// An error answer in Cedalo's documented shape: `{"message", "code", "status"}`.
#[derive(Debug)]
struct VendorError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
}

impl VendorError {
    fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
}

impl IntoResponse for VendorError {
    fn into_response(self) -> Response {
        let body = json!({
            "message": self.message,
            "code": self.code,
            "status": self.status.as_u16(),
        });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, JSON_UTF8)],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            let allow = header::HeaderValue::from_static("PUT");
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}

#[cfg(test)]
mod tests;
