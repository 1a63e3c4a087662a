//! The org authorization server's and the Management API's contract (see the parent
//! module for the order of the checks).

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map};

use super::{jwt, Okta, Revocation, MANAGE_USERS};
use crate::sim::oauth::{self, credentials, field, media_type, oauth_error, parse_form, FORM};

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn invalid_client(description: &str) -> Response {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        description,
        Map::new(),
    )
}

fn invalid_request(description: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        description,
        Map::new(),
    )
}

impl Okta {
    /// Okta's headers on every Management API answer.
    fn stamped(&self, mut response: Response, reset_in_s: u64, remaining: u32) -> Response {
        let id = {
            let mut org = self.state.lock();
            org.answers += 1;
            format!("XkQ{:08}AbC", org.answers)
        };
        let now = SystemTime::now();
        // From the same instant as `Date`: reset − Date is exactly `reset_in_s`.
        let reset = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) + reset_in_s;
        let headers = response.headers_mut();
        let pairs = [
            ("x-okta-request-id", id),
            ("date", httpdate::fmt_http_date(now)),
            ("x-rate-limit-limit", "600".to_owned()),
            ("x-rate-limit-remaining", remaining.to_string()),
            ("x-rate-limit-reset", reset.to_string()),
        ];
        for (name, value) in pairs {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }

    /// An Okta error, `{errorCode, errorSummary, errorLink, errorId, errorCauses}`.
    pub(super) fn okta_error(&self, status: StatusCode, code: &str, summary: &str) -> Response {
        let body = json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
                          "errorId": format!("oae{}", &oauth::random_hex()[..20]), "errorCauses": []});
        self.stamped(oauth::json_response(status, &body), 60, 599)
    }

    /// An unknown path: Okta's HTML 404 page.
    pub(super) fn not_found(&self) -> Response {
        let page = (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>404 Not Found</body></html>",
        );
        self.stamped(page.into_response(), 60, 599)
    }

    /// `POST /oauth2/v1/token`.
    pub(super) fn token(&self, parts: &Parts, body: &[u8]) -> Response {
        if parts.method != Method::POST {
            return oauth_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "The token endpoint accepts POST only.",
                Map::new(),
            );
        }
        if !media_type(&parts.headers).eq_ignore_ascii_case(FORM) {
            return invalid_request("Content-Type must be application/x-www-form-urlencoded.");
        }
        let Some(form) = parse_form(body) else {
            return invalid_request("The request body is malformed or repeats a parameter.");
        };
        if field(&form, "grant_type") != Some("client_credentials") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported.",
                Map::new(),
            );
        }
        let (Some(JWT_BEARER), Some(assertion)) = (
            field(&form, "client_assertion_type"),
            field(&form, "client_assertion"),
        ) else {
            return invalid_request(
                "client_assertion_type must be jwt-bearer, with a client_assertion.",
            );
        };
        let (Some(app), Some(key)) = (&self.config.service_app, &self.key) else {
            return invalid_client("No client authenticates with private_key_jwt here.");
        };
        let (head, claims) = match jwt::verify_rs256(assertion, key) {
            Ok(verified) => verified,
            Err(why) => return invalid_client(why),
        };
        if let Some(kid) = &app.kid {
            if head["kid"].as_str() != Some(kid.as_str()) {
                return invalid_client(
                    "The client_assertion token has a kid this app does not have.",
                );
            }
        }
        let client = app.client_id.as_str();
        if claims["iss"].as_str() != Some(client) || claims["sub"].as_str() != Some(client) {
            return invalid_client("The client_assertion iss and sub must be the client_id.");
        }
        if field(&form, "client_id").is_some_and(|id| id != client) {
            return invalid_client("client_id does not match the client_assertion.");
        }
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        if claims["aud"].as_str() != Some(format!("http://{host}/oauth2/v1/token").as_str()) {
            return invalid_client("The audience claim for client_assertion must be the endpoint invoked for the request.");
        }
        let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
            return invalid_client("The client_assertion must have numeric iat and exp.");
        };
        if exp <= now_s() {
            return invalid_client("The client_assertion token is expired.");
        }
        if exp > iat + 3600 {
            return invalid_client(
                "The client_assertion token has an expiration too far into the future.",
            );
        }
        let Some(jti) = claims["jti"].as_str().filter(|j| !j.is_empty()) else {
            return invalid_client("The client_assertion token must have a jti.");
        };
        let requested: BTreeSet<String> = field(&form, "scope")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let denied: Vec<&String> = requested.difference(&app.scopes).collect();
        if requested.is_empty() || !denied.is_empty() {
            let list: Vec<&str> = denied.iter().map(|s| s.as_str()).collect();
            let description = format!(
                "The following scopes are not allowed: [{}]",
                list.join(", ")
            );
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &description,
                Map::new(),
            );
        }
        let mut org = self.state.lock();
        if !org.jtis.insert(jti.to_owned()) {
            return invalid_client("The client_assertion token has already been used (jti).");
        }
        let lifetime = self.config.token_lifetime_s;
        let token = self.tokens.issue(Duration::from_secs(lifetime));
        let scope: Vec<&str> = requested.iter().map(String::as_str).collect();
        let extra = json!({"scope": scope.join(" ")});
        org.scopes.insert(token.clone(), requested);
        oauth::token_answer(
            &token,
            lifetime,
            extra.as_object().cloned().unwrap_or_default(),
        )
    }

    /// `DELETE /api/v1/users/{userId}/sessions`.
    pub(super) fn revoke(&self, parts: &Parts, body: &[u8]) -> Response {
        let segments = oauth::segments_after(parts.uri.path(), "/api/v1").unwrap_or_default();
        let user_id = match segments.as_slice() {
            [users, id, sessions]
                if users == "users" && sessions == "sessions" && !id.is_empty() =>
            {
                id.clone()
            }
            _ => return self.not_found(),
        };
        if parts.method != Method::DELETE {
            return self.okta_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "E0000022",
                "The endpoint does not support the provided HTTP method",
            );
        }
        let invalid = || {
            self.okta_error(
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided",
            )
        };
        let may_manage = if let Some(token) = credentials(&parts.headers, "ssws") {
            if !self.config.api_tokens.iter().any(|t| t == token) {
                return invalid();
            }
            !self.state.lock().forbidden
        } else {
            match self.tokens.check(&parts.headers) {
                Ok(token) => self
                    .state
                    .lock()
                    .scopes
                    .get(&token)
                    .is_some_and(|s| s.contains(MANAGE_USERS)),
                Err(_) => return invalid(),
            }
        };
        if !may_manage {
            return self.okta_error(
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action",
            );
        }
        let throttled = {
            let mut org = self.state.lock();
            let (count, reset_in_s) = org.throttle;
            org.throttle.0 = count.saturating_sub(1);
            (count > 0).then_some(reset_in_s)
        };
        if let Some(reset_in_s) = throttled {
            let body = json!({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit due to too many requests.",
                              "errorLink": "E0000047", "errorId": "oaeRate", "errorCauses": []});
            return self.stamped(
                oauth::json_response(StatusCode::TOO_MANY_REQUESTS, &body),
                reset_in_s,
                0,
            );
        }
        let query =
            parse_form(parts.uri.query().unwrap_or_default().as_bytes()).unwrap_or_default();
        let flag = |key: &str| {
            field(&query, key).map(|v| match v {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            })
        };
        let known = query
            .iter()
            .all(|(k, _)| k == "oauthTokens" || k == "forgetDevices");
        let (Some(Some(oauth_tokens)), forget) = (flag("oauthTokens"), flag("forgetDevices"))
        else {
            return self.okta_error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: oauthTokens",
            );
        };
        if !known || forget == Some(None) {
            return self.okta_error(
                StatusCode::BAD_REQUEST,
                "E0000001",
                "Api validation failed: query parameters",
            );
        }
        if !body.is_empty() {
            return self.okta_error(
                StatusCode::BAD_REQUEST,
                "E0000003",
                "The request body was not well-formed.",
            );
        }
        let mut org = self.state.lock();
        let Some(sessions) = org.users.get_mut(&user_id) else {
            drop(org);
            let summary = format!("Not found: Resource not found: {user_id} (User)");
            return self.okta_error(StatusCode::NOT_FOUND, "E0000007", &summary);
        };
        let had = std::mem::take(sessions);
        org.revocations.push(Revocation {
            user_id,
            oauth_tokens,
            forget_devices: forget.flatten(),
            sessions: had,
        });
        drop(org);
        self.stamped(StatusCode::NO_CONTENT.into_response(), 60, 598)
    }
}
