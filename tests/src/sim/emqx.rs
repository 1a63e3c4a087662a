//! A strict simulator of EMQX 5's management REST API: kick one client, list clients by
//! username (paged), kick in bulk.
//!
//! ```text
//! DELETE /api/v5/clients/{clientid}                               → 204 | 404 CLIENTID_NOT_FOUND
//! GET    /api/v5/clients?username={u}&page={n}&limit={l}          → 200 {"data": [...], "meta": {...}}
//! POST   /api/v5/clients/kickout/bulk   ["id", ...]               → 204 (unknown ids ignored)
//! Authorization: Basic base64(api_key:api_secret)
//! ```
//!
//! Errors are `{"code", "message"}` (`application/json`), as EMQX writes them. Checks run in
//! this order; the first that fails answers:
//!
//! 1. the path is one of the three (raw path split on `/` before decoding, so `%2F` stays
//!    inside its segment) — else 404 `NOT_FOUND`; the method is the route's — else 405
//!    `METHOD_NOT_ALLOWED`;
//! 2. `Authorization` is `Basic` — else 401 `AUTHORIZATION_HEADER_ERROR`; the key and secret
//!    are a configured pair — else 401 `BAD_API_KEY_OR_SECRET` (every 401 with
//!    `WWW-Authenticate: Basic Realm="emqx-dashboard"`); the key's role may call the API —
//!    else 403 `UNAUTHORIZED_ROLE`;
//! 3. kick: the segment decodes to UTF-8 and the body is empty — else 400 `BAD_REQUEST`;
//!    the client exists — else 404 `CLIENTID_NOT_FOUND`;
//! 4. list: exactly the parameters `username`, `page` (≥ 1), `limit` (1–10000), each once,
//!    decoding to UTF-8 — else 400 `INVALID_PARAMETER` (stricter than EMQX, which takes
//!    more filters); rows are the clients of that exact username, sorted by client id;
//! 5. bulk: `Content-Type: application/json` — else 415 `UNSUPPORTED_MEDIA_TYPE`; a
//!    non-empty JSON array of strings — else 400 `BAD_REQUEST`; every listed client that
//!    exists is kicked, the others are ignored, and the answer is 204 either way.
//!
//! A kick removes the client (its session is destroyed, as EMQX does). Faults and the delay
//! apply before any check and leave state alone.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::calls::{basic_credentials, credentials, decode_segment, media_type};
use super::{Call, Canned, Serving, Sim, Vendor};

/// The most rows one list page may ask for.
pub const MAX_LIMIT: u64 = 10_000;

/// What the simulated EMQX knows when it starts.
#[derive(Debug, Clone)]
pub struct EmqxSimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// API keys and secrets allowed to kick clients.
    pub keys: Vec<(String, String)>,
    /// API keys that authenticate but whose role may not call these APIs (403).
    pub viewer_keys: Vec<(String, String)>,
    /// Connected clients: client id → username.
    pub clients: BTreeMap<String, String>,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl EmqxSimConfig {
    /// One API key; no client connected.
    pub fn new(api_key: &str, api_secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: vec![(api_key.to_owned(), api_secret.to_owned())],
            viewer_keys: Vec::new(),
            clients: BTreeMap::new(),
            echo_calls: false,
        }
    }

    /// Connects a client with this username.
    pub fn with_client(mut self, client_id: &str, username: &str) -> Self {
        self.clients
            .insert(client_id.to_owned(), username.to_owned());
        self
    }

    /// Adds a key whose role may not call these APIs.
    pub fn with_viewer_key(mut self, api_key: &str, api_secret: &str) -> Self {
        self.viewer_keys
            .push((api_key.to_owned(), api_secret.to_owned()));
        self
    }
}

/// A running EMQX simulator; stops (and closes its port) when dropped.
pub type EmqxSim = Sim<Emqx>;

/// What the simulated EMQX knows: its keys and connected clients.
#[derive(Debug)]
pub struct Emqx {
    keys: Vec<(String, String)>,
    viewer_keys: Vec<(String, String)>,
    clients: Mutex<BTreeMap<String, String>>,
}

/// An EMQX error answer.
#[derive(Debug)]
struct EmqxError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> EmqxError {
    EmqxError {
        status,
        code,
        message: message.into(),
    }
}

fn answer(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"code": code, "message": message}).to_string();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let realm = HeaderValue::from_static("Basic Realm=\"emqx-dashboard\"");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, realm);
    }
    response
}

impl Vendor for Emqx {
    const NAME: &'static str = "emqx";
    const GARBAGE: (&'static str, &'static str) =
        ("text/html", "<html><body>EMQX Dashboard</body></html>");
    type Config = EmqxSimConfig;
    type Switch = ();

    fn new(config: EmqxSimConfig) -> (Self, Serving) {
        let emqx = Emqx {
            keys: config.keys,
            viewer_keys: config.viewer_keys,
            clients: Mutex::new(config.clients),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (emqx, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(500, "UNKNOWN_ERROR", "simulated internal error")
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        answer(error.status_code(), &error.code, &error.message)
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match self.route(call.parts, call.body) {
            Ok(Success::Kicked) => StatusCode::NO_CONTENT.into_response(),
            Ok(Success::Page(page)) => {
                let json = [(header::CONTENT_TYPE, "application/json")];
                (StatusCode::OK, json, page).into_response()
            }
            Err(e) => answer(e.status, e.code, &e.message),
        }
    }
}

/// A call that passed every check.
#[derive(Debug)]
enum Success {
    /// 204: a kick or a bulk kick.
    Kicked,
    /// 200: a list page's JSON.
    Page(String),
}

impl Emqx {
    fn route(&self, parts: &Parts, body: &[u8]) -> Result<Success, EmqxError> {
        let raw: Vec<&str> = parts.uri.path().split('/').collect();
        let (method, client) = match raw.as_slice() {
            ["", "api", "v5", "clients"] => (Method::GET, None),
            ["", "api", "v5", "clients", "kickout", "bulk"] => (Method::POST, None),
            ["", "api", "v5", "clients", id] if !id.is_empty() => (Method::DELETE, Some(*id)),
            _ => {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    "Request path not found",
                ))
            }
        };
        if parts.method != method {
            let message = format!("Method {} is not allowed here", parts.method);
            return Err(error(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                message,
            ));
        }
        self.authenticate(parts)?;
        match client {
            Some(segment) => self.kick(segment, body).map(|()| Success::Kicked),
            None if method == Method::GET => self
                .list(parts.uri.query().unwrap_or_default())
                .map(Success::Page),
            None => self.bulk(parts, body).map(|()| Success::Kicked),
        }
    }

    fn authenticate(&self, parts: &Parts) -> Result<(), EmqxError> {
        if credentials(&parts.headers, "basic").is_none() {
            let message = "Support authorization: basic/bearer ";
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "AUTHORIZATION_HEADER_ERROR",
                message,
            ));
        }
        let pair = basic_credentials(&parts.headers).ok_or_else(bad_key)?;
        if self.viewer_keys.contains(&pair) {
            let message = "This API is not allowed for the role of this API key";
            return Err(error(StatusCode::FORBIDDEN, "UNAUTHORIZED_ROLE", message));
        }
        if !self.keys.contains(&pair) {
            return Err(bad_key());
        }
        Ok(())
    }

    fn kick(&self, segment: &str, body: &[u8]) -> Result<(), EmqxError> {
        let Some(id) = decode_segment(segment) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "client id is not UTF-8",
            ));
        };
        if !body.is_empty() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                "a kick takes no body",
            ));
        }
        match self.clients.lock().remove(&id) {
            Some(_) => Ok(()),
            None => Err(error(
                StatusCode::NOT_FOUND,
                "CLIENTID_NOT_FOUND",
                "Client ID not found",
            )),
        }
    }

    fn list(&self, query: &str) -> Result<String, EmqxError> {
        let invalid = |why: &str| error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", why);
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                let spaced = s.replace('+', " ");
                percent_decode_str(&spaced)
                    .decode_utf8()
                    .map(|v| v.into_owned())
            };
            let (Ok(name), Ok(value)) = (decode(name), decode(value)) else {
                return Err(invalid("query parameters must be percent-encoded UTF-8"));
            };
            if !matches!(name.as_str(), "username" | "page" | "limit") {
                return Err(invalid(&format!("unexpected query parameter {name}")));
            }
            if params.insert(name.clone(), value).is_some() {
                return Err(invalid(&format!("{name} given twice")));
            }
        }
        let number = |name: &str, max: u64| {
            params
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| invalid(&format!("{name} must be an integer from 1 to {max}")))
        };
        let (page, limit) = (number("page", u64::MAX)?, number("limit", MAX_LIMIT)?);
        let user = params
            .get("username")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("username is required"))?;
        let clients = self.clients.lock();
        let rows: Vec<Value> = clients
            .iter()
            .filter(|(_, name)| *name == user)
            .map(|(id, name)| {
                json!({"clientid": id, "username": name, "connected": true,
                       "node": "emqx@127.0.0.1", "proto_name": "MQTT", "proto_ver": 5})
            })
            .collect();
        let count = rows.len() as u64;
        let skip = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
        let take = usize::try_from(limit).unwrap_or(usize::MAX);
        let data: Vec<Value> = rows.into_iter().skip(skip).take(take).collect();
        let hasnext = page.saturating_mul(limit) < count;
        let meta = json!({"count": count, "limit": limit, "page": page, "hasnext": hasnext});
        Ok(json!({"data": data, "meta": meta}).to_string())
    }

    fn bulk(&self, parts: &Parts, body: &[u8]) -> Result<(), EmqxError> {
        if !media_type(&parts.headers).eq_ignore_ascii_case("application/json") {
            let message = "Unsupported media type, use application/json";
            return Err(error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                message,
            ));
        }
        let ids: Vec<String> = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) if !items.is_empty() => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(()),
                })
                .collect::<Result<_, _>>()
                .map_err(|()| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
                        "ids must be strings",
                    )
                })?,
            _ => {
                let message = "the body must be a non-empty JSON array of client ids";
                return Err(error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message));
            }
        };
        let mut clients = self.clients.lock();
        for id in ids {
            clients.remove(&id);
        }
        Ok(())
    }
}

fn bad_key() -> EmqxError {
    error(
        StatusCode::UNAUTHORIZED,
        "BAD_API_KEY_OR_SECRET",
        "Check api_key/api_secret",
    )
}

impl Sim<Emqx> {
    /// Connects a client with this username.
    pub fn connect(&self, client_id: &str, username: &str) {
        let mut clients = self.vendor().clients.lock();
        clients.insert(client_id.to_owned(), username.to_owned());
    }

    /// Whether a client is connected.
    pub fn is_connected(&self, client_id: &str) -> bool {
        self.vendor().clients.lock().contains_key(client_id)
    }

    /// The connected clients' ids, sorted.
    pub fn connected_clients(&self) -> Vec<String> {
        self.vendor().clients.lock().keys().cloned().collect()
    }
}
