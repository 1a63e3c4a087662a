//! The Keycloak contract the simulator enforces (see the parent module for the order of
//! the checks).

use std::time::Duration;

use axum::http::{request::Parts, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::Keycloak;
use crate::sim::calls::basic_credentials;
use crate::sim::oauth::{self, field, media_type, oauth_error, parse_form, FORM};

/// `{"error": message}` with `status`.
fn error(status: StatusCode, message: &str) -> Response {
    oauth::json_response(status, &json!({ "error": message }))
}

impl Keycloak {
    fn prefix(&self) -> &str {
        &self.config.path_prefix
    }

    /// `POST {prefix}/realms/{realm}/protocol/openid-connect/token`.
    pub(super) fn token(&self, parts: &Parts, body: &[u8]) -> Response {
        let path = parts.uri.path();
        let realms = format!("{}/realms", self.prefix());
        let realm = oauth::segments_after(path, &realms).and_then(|s| match s.as_slice() {
            [realm, p, o, t]
                if (p.as_str(), o.as_str(), t.as_str())
                    == ("protocol", "openid-connect", "token") =>
            {
                Some(realm.clone())
            }
            _ => None,
        });
        if realm.as_deref() != Some(self.config.token_realm.as_str()) {
            return error(StatusCode::NOT_FOUND, "Realm does not exist");
        }
        let refuse = |status, code: &str, description: &str| {
            oauth_error(status, code, description, Map::new())
        };
        if parts.method != Method::POST {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            );
        }
        if !media_type(&parts.headers).eq_ignore_ascii_case(FORM) {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Content-Type must be application/x-www-form-urlencoded",
            );
        }
        let Some(form) = parse_form(body) else {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "malformed form, or a parameter given twice",
            );
        };
        match field(&form, "grant_type") {
            Some("client_credentials") => {}
            Some(_) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "Unsupported grant_type",
                )
            }
            None => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing form parameter: grant_type",
                )
            }
        }
        let in_form = field(&form, "client_id").zip(field(&form, "client_secret"));
        let basic = basic_credentials(&parts.headers);
        let (id, secret) = match (in_form, &basic) {
            (Some(pair), None) => pair,
            (None, Some((id, secret))) => (id.as_str(), secret.as_str()),
            _ => ("", ""),
        };
        if (id, secret)
            != (
                self.config.client_id.as_str(),
                self.config.client_secret.as_str(),
            )
        {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Invalid client or Invalid client credentials",
            );
        }
        let lifetime = self.config.token_lifetime_s;
        let token = self.tokens.issue(Duration::from_secs(lifetime));
        let extra =
            json!({"refresh_expires_in": 0, "not-before-policy": 0, "scope": "profile email"});
        oauth::token_answer(
            &token,
            lifetime,
            extra.as_object().cloned().unwrap_or_default(),
        )
    }

    /// `{prefix}/admin/realms/{realm}/…`.
    pub(super) fn admin(&self, parts: &Parts, body: &[u8]) -> Response {
        let path = parts.uri.path();
        let admin = format!("{}/admin/realms", self.prefix());
        let Some(segments) = oauth::segments_after(path, &admin) else {
            return error(StatusCode::NOT_FOUND, "HTTP 404 Not Found");
        };
        let Some((realm, rest)) = segments.split_first() else {
            return error(StatusCode::NOT_FOUND, "HTTP 404 Not Found");
        };
        if *realm != self.config.realm {
            return error(StatusCode::NOT_FOUND, "Realm not found.");
        }
        let route = match rest {
            [users, id, logout] if users == "users" && logout == "logout" && !id.is_empty() => {
                Route::Logout(id.clone())
            }
            [users] if users == "users" => Route::Users,
            [sessions, id] if sessions == "sessions" && !id.is_empty() => {
                Route::Session(id.clone())
            }
            _ => return error(StatusCode::NOT_FOUND, "HTTP 404 Not Found"),
        };
        if parts.method != route.method() {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            );
        }
        // Missing, unknown or expired: Keycloak says the same.
        if self.tokens.check(&parts.headers).is_err() {
            return error(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized");
        }
        let mut realm = self.state.lock();
        if !realm.manage_users {
            return error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden");
        }
        if !body.is_empty() {
            return error(StatusCode::BAD_REQUEST, "this call takes no request body");
        }
        match route {
            Route::Logout(id) => {
                if !realm.users.contains_key(&id) {
                    return match realm.query_users {
                        true => error(StatusCode::NOT_FOUND, "User not found"),
                        false => error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden"),
                    };
                }
                realm.sessions.retain(|_, user| *user != id);
                realm.logouts.push(id);
                StatusCode::NO_CONTENT.into_response()
            }
            Route::Session(id) => match realm.sessions.remove(&id) {
                Some(_) => StatusCode::NO_CONTENT.into_response(),
                None => error(StatusCode::NOT_FOUND, "Sesssion not found"),
            },
            Route::Users => {
                if !realm.query_users {
                    return error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden");
                }
                let query = parts.uri.query().unwrap_or_default().as_bytes();
                let params = parse_form(query).unwrap_or_default();
                let mut keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
                keys.sort_unstable();
                let strict = keys == ["briefRepresentation", "exact", "username"]
                    && field(&params, "exact") == Some("true")
                    && field(&params, "briefRepresentation") == Some("true");
                let Some(username) = field(&params, "username").filter(|_| strict) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "expected username, exact=true and briefRepresentation=true",
                    );
                };
                let wanted = username.to_ascii_lowercase();
                let found: Vec<Value> = realm
                    .users
                    .iter()
                    .filter(|(_, name)| **name == wanted)
                    .map(|(id, name)| json!({"id": id, "username": name, "enabled": true}))
                    .collect();
                oauth::json_response(StatusCode::OK, &Value::Array(found))
            }
        }
    }
}

/// The admin calls the simulator serves.
enum Route {
    Logout(String),
    Users,
    Session(String),
}

impl Route {
    fn method(&self) -> Method {
        match self {
            Route::Logout(_) => Method::POST,
            Route::Users => Method::GET,
            Route::Session(_) => Method::DELETE,
        }
    }
}
