//! The PrivX contract the simulator enforces: the token endpoint and terminate (see the
//! parent module's documentation for the order of the checks).

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{header, request::Parts, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde_json::json;

use super::{Privx, TERMINATE_PREFIX};
use crate::sim::calls::{basic_credentials, credentials, decode_segment, media_type};

const FORM: &str = "application/x-www-form-urlencoded";
const FLAGGED: &str = "Connection(s) flagged for termination.";

impl Privx {
    /// `POST /auth/api/v1/oauth/token`.
    pub(super) fn token(&self, parts: &Parts, body: &[u8]) -> Response {
        match self.issue(parts, body) {
            Ok(response) => response,
            Err(error) => error.into_response(),
        }
    }

    fn issue(&self, parts: &Parts, body: &[u8]) -> Result<Response, OAuthError> {
        if parts.method != Method::POST {
            return Err(OAuthError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "the token endpoint accepts POST only",
            ));
        }
        let config = &self.config;
        let expected = (
            config.oauth_client_id.as_str(),
            config.oauth_client_secret.as_str(),
        );
        match basic_credentials(&parts.headers) {
            Some((id, secret)) if (id.as_str(), secret.as_str()) == expected => {}
            _ => {
                return Err(OAuthError::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                ))
            }
        }
        if !media_type(&parts.headers).eq_ignore_ascii_case(FORM) {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
        let form = parse_form(body).ok_or_else(|| {
            OAuthError::invalid_request("malformed form body or a parameter given twice")
        })?;
        let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let (Some(grant), Some(username), Some(password)) =
            (get("grant_type"), get("username"), get("password"))
        else {
            return Err(OAuthError::invalid_request(
                "grant_type, username and password are required",
            ));
        };
        if grant != "password" {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant type '{grant}' is not supported"),
            ));
        }
        if username != config.api_client_id || password != config.api_client_secret {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "invalid API client credentials",
            ));
        }
        let token = random_hex();
        let lifetime = Duration::from_secs(config.token_expires_in_s);
        let mut state = self.state.lock();
        state
            .tokens
            .insert(token.clone(), Instant::now() + lifetime);
        state.issued.push(token.clone());
        let body = json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": config.token_expires_in_s,
            "refresh_token": random_hex(),
            "scope": "connectionsTerminate",
        });
        Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response())
    }

    /// `POST /connection-manager/api/v1/terminate/{connection|user|host}/{id}`.
    pub(super) fn terminate(&self, parts: &Parts, body: &[u8]) -> Response {
        match self.flag(parts, body) {
            Ok(()) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                FLAGGED,
            )
                .into_response(),
            Err(error) => error.into_response(),
        }
    }

    fn flag(&self, parts: &Parts, body: &[u8]) -> Result<(), PrivxError> {
        let path = parts.uri.path();
        let rest = path.strip_prefix(TERMINATE_PREFIX).unwrap_or_default();
        let (kind, id) = match rest.split('/').collect::<Vec<_>>().as_slice() {
            [kind @ ("connection" | "user" | "host"), id] if !id.is_empty() => (*kind, *id),
            _ => return Err(PrivxError::not_found(format!("no route for {path}"))),
        };
        if parts.method != Method::POST {
            return Err(PrivxError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "BAD_REQUEST",
                format!("method {} not allowed", parts.method),
            ));
        }
        self.authorize(&parts.headers)?;
        let property = format!("{kind}_id");
        let id = decode_segment(id).filter(|id| is_uuid(id));
        let Some(id) = id else {
            return Err(PrivxError::bad_request(
                "VALUE_INCORRECT_FORMAT",
                format!("{property} must be a UUID"),
            )
            .property(&property));
        };
        if !body.is_empty() {
            return Err(PrivxError::bad_request(
                "INVALID_REQUEST_DATA",
                "terminate takes no request body",
            ));
        }
        let mut state = self.state.lock();
        let known = match kind {
            "connection" => state.connections.contains_key(&id),
            "user" => state.users.contains(&id),
            _ => state.hosts.contains(&id),
        };
        if !known {
            let mut noun = kind.to_owned();
            noun[..1].make_ascii_uppercase();
            return Err(PrivxError::not_found(format!("{noun} not found")).property(&property));
        }
        for (connection_id, connection) in &mut state.connections {
            let matches = match kind {
                "connection" => *connection_id == id,
                "user" => connection.user == id,
                _ => connection.host == id,
            };
            connection.flagged |= matches;
        }
        Ok(())
    }

    fn authorize(&self, headers: &HeaderMap) -> Result<(), PrivxError> {
        let unauthorized = |message: &str| {
            PrivxError::new(
                StatusCode::UNAUTHORIZED,
                "GENERAL_ERROR",
                message.to_owned(),
            )
        };
        let Some(token) = credentials(headers, "bearer") else {
            return Err(unauthorized("OAuth2 authorization missing"));
        };
        let state = self.state.lock();
        match state.tokens.get(token) {
            None => Err(unauthorized("OAuth2 token unknown or revoked")),
            Some(expires) if Instant::now() >= *expires => {
                Err(unauthorized("OAuth2 token expired"))
            }
            Some(_) if state.forbidden => Err(PrivxError::new(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                "OAuth2 authorization OK but scope insufficient",
            )),
            Some(_) => Ok(()),
        }
    }
}

/// `a=b&c=d`, `+` as space, percent-decoded UTF-8; `None` if malformed or a key repeats.
pub(super) fn parse_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=')?;
        let key = decode(key)?;
        if pairs.iter().any(|(k, _)| *k == key) {
            return None;
        }
        pairs.push((key, decode(value)?));
    }
    Some(pairs)
}

/// Whether `id` is a UUID in its 8-4-4-4-12 hex form.
pub(super) fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// 64 random hex digits (std's per-instance random hash keys; good enough for a simulator).
fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    (0..4)
        .map(|_| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

/// An OAuth2 error answer: `{"error", "error_description"}`.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    fn invalid_request(description: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        let extra = match self.status {
            StatusCode::METHOD_NOT_ALLOWED => Some((header::ALLOW, "POST")),
            StatusCode::UNAUTHORIZED => Some((header::WWW_AUTHENTICATE, "Basic realm=\"privx\"")),
            _ => None,
        };
        if let Some((name, value)) = extra {
            let value = header::HeaderValue::from_static(value);
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// A PrivX error answer: `{"error_code", "error_message", "property", "details"}`.
#[derive(Debug)]
pub(super) struct PrivxError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    property: Option<String>,
}

impl PrivxError {
    pub(super) fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            property: None,
        }
    }

    pub(super) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "GENERAL_ERROR", message)
    }

    fn property(mut self, property: &str) -> Self {
        self.property = Some(property.to_owned());
        self
    }
}

impl IntoResponse for PrivxError {
    fn into_response(self) -> Response {
        let body = json!({
            "error_code": self.code,
            "error_message": self.message,
            "property": self.property.unwrap_or_default(),
            "details": [],
        });
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            let allow = header::HeaderValue::from_static("POST");
            response.headers_mut().insert(header::ALLOW, allow);
        }
        response
    }
}
