//! The token endpoint's and Graph's contract (see the parent module for the order of the
//! checks).

use std::time::Duration;

use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::Entra;
use crate::sim::oauth::{self, field, media_type, parse_form, Refused, FORM};

const CONTEXT: &str = "https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean";
const TIMESTAMP: &str = "2023-11-14 22:13:20Z";

impl Entra {
    fn next_request_id(&self) -> String {
        let mut tenant = self.state.lock();
        tenant.answers += 1;
        format!("5e1a0c3d-0000-4000-8000-{:012x}", tenant.answers)
    }

    /// An AADSTS token error, with the ids Entra adds.
    pub(super) fn aadsts(
        &self,
        status: StatusCode,
        error: &str,
        code: u32,
        text: &str,
    ) -> Response {
        let trace = self.next_request_id();
        let extra = json!({"error_codes": [code], "timestamp": TIMESTAMP, "trace_id": trace,
                           "correlation_id": "c0rre1a7-0000-4000-8000-000000000001"});
        let description = format!("AADSTS{code}: {text} Trace ID: {trace}");
        oauth::oauth_error(
            status,
            error,
            &description,
            extra.as_object().cloned().unwrap_or_default(),
        )
    }

    /// A Graph error object, with a `request-id` header that matches its `innerError`.
    pub(super) fn graph_error(&self, status: StatusCode, code: &str, message: &str) -> Response {
        let id = self.next_request_id();
        let body = json!({"error": {"code": code, "message": message,
            "innerError": {"date": "2023-11-14T22:13:20", "request-id": id, "client-request-id": id}}});
        with_request_id(oauth::json_response(status, &body), &id)
    }

    /// `POST /{tenant}/oauth2/v2.0/token`.
    pub(super) fn token(&self, parts: &Parts, body: &[u8]) -> Response {
        let bad =
            |code: &str, n: u32, text: &str| self.aadsts(StatusCode::BAD_REQUEST, code, n, text);
        if parts.method != Method::POST {
            return self.aadsts(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                900561,
                "The endpoint only accepts POST requests.",
            );
        }
        let tenant = oauth::segments_after(parts.uri.path(), "").and_then(|s| s.first().cloned());
        if tenant.as_deref() != Some(self.config.tenant_id.as_str()) {
            return bad("invalid_request", 90002, "Tenant not found.");
        }
        if !media_type(&parts.headers).eq_ignore_ascii_case(FORM) {
            return bad(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
        let Some(form) = parse_form(body) else {
            return bad(
                "invalid_request",
                900144,
                "The request body is malformed or repeats a parameter.",
            );
        };
        if field(&form, "grant_type") != Some("client_credentials") {
            return bad(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            );
        }
        if field(&form, "client_id") != Some(self.config.client_id.as_str()) {
            return bad(
                "unauthorized_client",
                700016,
                "Application was not found in the directory.",
            );
        }
        if field(&form, "client_secret") != Some(self.config.client_secret.as_str()) {
            return self.aadsts(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided.",
            );
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let scope = format!("http://{host}/.default");
        if field(&form, "scope") != Some(scope.as_str()) {
            return bad(
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid.",
            );
        }
        let lifetime = self.config.token_lifetime_s;
        let token = self.tokens.issue(Duration::from_secs(lifetime));
        let extra = json!({"ext_expires_in": lifetime});
        oauth::token_answer(
            &token,
            lifetime,
            extra.as_object().cloned().unwrap_or_default(),
        )
    }

    /// `POST /v1.0/users/{id}/revokeSignInSessions`.
    pub(super) fn revoke(&self, parts: &Parts, body: &[u8]) -> Response {
        let segments = oauth::segments_after(parts.uri.path(), "/v1.0").unwrap_or_default();
        let [users, id, action] = segments.as_slice() else {
            return self.not_a_route(parts);
        };
        if users != "users" || action != "revokeSignInSessions" || id.is_empty() {
            return self.not_a_route(parts);
        }
        if parts.method != Method::POST {
            return self.graph_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            );
        }
        match self.tokens.check(&parts.headers) {
            Ok(_) => {}
            Err(Refused::Missing) => {
                return self.graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token is empty.",
                )
            }
            Err(_) => {
                return self.graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                )
            }
        }
        if self.state.lock().forbidden {
            return self.graph_error(
                StatusCode::FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            );
        }
        if !body.is_empty() {
            return self.graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                "This operation takes no request body.",
            );
        }
        let found = self
            .config
            .users
            .iter()
            .find(|(object_id, upn)| *object_id == id || upn.eq_ignore_ascii_case(id))
            .map(|(object_id, _)| object_id.clone());
        let Some(object_id) = found else {
            let message = format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present.");
            return self.graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", &message);
        };
        self.state.lock().revoked.push(object_id);
        let request_id = self.next_request_id();
        let body: Value = json!({"@odata.context": CONTEXT, "value": true});
        with_request_id(oauth::json_response(StatusCode::OK, &body), &request_id)
    }

    fn not_a_route(&self, parts: &Parts) -> Response {
        let message = format!("Resource not found for the segment '{}'.", parts.uri.path());
        self.graph_error(StatusCode::NOT_FOUND, "UnknownError", &message)
    }
}

fn with_request_id(mut response: Response, id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert("request-id", value.clone());
        response.headers_mut().insert("client-request-id", value);
    }
    response
}
