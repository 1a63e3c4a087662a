//! The simulated Nexus's checks, in the order the module documentation lists them.

use axum::http::{request::Parts, HeaderMap, Method, StatusCode};
use serde_json::Value;

use super::{Nexus, NexusLogin, Refusal, WRITE, WRITE_ALL};
use crate::sim::calls::{basic_credentials, content_type, credentials, decode_segment, media_type};

impl Nexus {
    /// Applies every check and, when all pass, sets the client's flag on the connection.
    pub(super) fn update(&self, parts: &Parts, body: &[u8]) -> Result<(), Refusal> {
        let raw: Vec<&str> = parts.uri.path().split('/').collect();
        let (tenant, connection) = match raw.as_slice() {
            ["", "v1", "tenants", tenant, "connections", connection, "clients"]
                if !tenant.is_empty() && !connection.is_empty() =>
            {
                (*tenant, *connection)
            }
            _ => return Err(Refusal::NoRoute),
        };
        if parts.method != Method::PATCH {
            return Err(Refusal::Method);
        }
        let login = self.authenticate(&parts.headers)?;
        let allowed = login
            .permissions()
            .iter()
            .any(|p| p == WRITE || p == WRITE_ALL);
        if !allowed {
            return Err(Refusal::Problem(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "Requires the client.write or client.write.all permission.".to_owned(),
            ));
        }
        let (Some(tenant), Some(connection)) = (decode_segment(tenant), decode_segment(connection))
        else {
            return Err(bad_request("Path segments must be percent-encoded UTF-8."));
        };
        let (enabled, client) = read_body(&parts.headers, body)?;

        let mut tenants = self.tenants.lock();
        let Some(state) = tenants.get_mut(&tenant) else {
            return Err(not_found(format!("Tenant '{tenant}' not found.")));
        };
        if !state.connections.contains_key(&connection) {
            return Err(not_found(format!("Connection '{connection}' not found.")));
        }
        if !state.clients.contains(&client) {
            return Err(not_found(format!("Client '{client}' not found.")));
        }
        if let Some(on) = state.connections.get_mut(&connection) {
            if enabled {
                on.insert(client);
            } else {
                on.remove(&client);
            }
        }
        Ok(())
    }

    /// The configured login matching the request's credentials, or 401.
    fn authenticate(&self, headers: &HeaderMap) -> Result<&NexusLogin, Refusal> {
        if credentials(headers, "basic").is_some() {
            let (user, pass) = basic_credentials(headers).ok_or(Refusal::Unauthenticated)?;
            return self
                .logins
                .iter()
                .find(|login| {
                    matches!(login, NexusLogin::Basic { username, password, .. }
                        if *username == user && *password == pass)
                })
                .ok_or(Refusal::Unauthenticated);
        }
        let bearer = credentials(headers, "bearer").ok_or(Refusal::Unauthenticated)?;
        let app = headers
            .get(self.application_token_header.as_str())
            .and_then(|v| v.to_str().ok())
            .ok_or(Refusal::Unauthenticated)?;
        self.logins
            .iter()
            .find(|login| {
                matches!(login, NexusLogin::Bearer { bearer_token, application_token, .. }
                    if bearer_token == bearer && application_token == app)
            })
            .ok_or(Refusal::Unauthenticated)
    }
}

/// Content type and body schema: `{"enabled": <bool>, "clientId": "<string>"}`, nothing else.
fn read_body(headers: &HeaderMap, body: &[u8]) -> Result<(bool, String), Refusal> {
    if !media_type(headers).eq_ignore_ascii_case("application/json") {
        let content_type = content_type(headers);
        return Err(Refusal::Problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported Media Type",
            format!("Content-Type '{content_type}' is not supported; use application/json."),
        ));
    }
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err(bad_request("The request body must be a JSON object."));
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "enabled" | "clientId"))
    {
        return Err(bad_request(&format!("Unknown member '{key}'.")));
    }
    let enabled = match object.get("enabled") {
        Some(Value::Bool(b)) => *b,
        _ => return Err(bad_request("'enabled' must be true or false.")),
    };
    match object.get("clientId") {
        Some(Value::String(id)) if !id.is_empty() => Ok((enabled, id.clone())),
        _ => Err(bad_request("'clientId' must be a non-empty string.")),
    }
}

fn bad_request(detail: &str) -> Refusal {
    Refusal::Problem(StatusCode::BAD_REQUEST, "Bad Request", detail.to_owned())
}

fn not_found(detail: String) -> Refusal {
    Refusal::Problem(StatusCode::NOT_FOUND, "Not Found", detail)
}
