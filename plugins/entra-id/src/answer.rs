//! Reading Graph's answer to `revokeSignInSessions` (the mapping table of the crate doc).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// Graph's error object, `{"error": {"code", "message", "innerError": {"request-id"}}}`.
struct GraphError {
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    /// The body was a Graph error at all (a 404 without one is a wrong url).
    graph: bool,
}

impl GraphError {
    fn read(response: &VendorResponse<'_>) -> Self {
        let body = response.json();
        let error = body
            .as_ref()
            .and_then(|b| b.get("error"))
            .filter(|e| e.is_object());
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(vendor::clean)
                .filter(|s| !s.is_empty())
        };
        let code = text(error.and_then(|e| e.get("code")));
        let message = text(error.and_then(|e| e.get("message")));
        let inner = error.and_then(|e| e.get("innerError").or_else(|| e.get("innererror")));
        let request_id = text(inner.and_then(|i| i.get("request-id")));
        let graph = code.is_some();
        let message = match (graph, message) {
            (true, message) => message,
            (false, _) => {
                let excerpt = vendor::excerpt(response.body);
                (!excerpt.is_empty()).then_some(excerpt)
            }
        };
        GraphError {
            code,
            message,
            request_id,
            graph,
        }
    }

    fn shown(&self) -> String {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => "no error body".into(),
        }
    }
}

/// Maps the answer to `POST …/users/{user_id}/revokeSignInSessions`. A 401 reaching this
/// function is the one after the token refresh.
pub(crate) fn revoke(user_id: &str, response: &VendorResponse<'_>, env: &Env) -> Step {
    let status = response.status;
    if (200..300).contains(&status) {
        return accepted(user_id, response);
    }
    let error = GraphError::read(response);
    let shown = error.shown();
    let (code, message) = (error.code.as_deref(), error.message.as_deref());
    let (kind, detail) = match status {
        429 => {
            let detail = format!("microsoft graph is throttling: {shown}");
            let mut problem = vendor::rate_limited(response, env, code, message, detail);
            add_request_id(&mut problem, &error);
            return Step::Fail(problem);
        }
        401 => (
            ProblemKind::CredentialsRefused,
            format!("microsoft graph refused the access token again after one token refresh (401): {shown}"),
        ),
        403 => (
            ProblemKind::CredentialsRefused,
            format!(
                "microsoft graph refused to revoke the sessions of '{user_id}' (403): the app \
                 needs the application permission User.RevokeSessions.All with admin consent, \
                 and a privileged admin may need a stronger directory role: {shown}"
            ),
        ),
        404 if error.graph => (
            ProblemKind::TargetNotFound,
            format!("entra id has no user '{user_id}': {shown}"),
        ),
        404 => (
            ProblemKind::Rejected,
            format!("microsoft graph answered 404 without a Graph error (check the backend's url): {shown}"),
        ),
        status => (
            vendor::kind_for_status(status),
            format!("microsoft graph answered {status} to revoking the sessions of '{user_id}': {shown}"),
        ),
    };
    let mut problem = vendor::problem(kind, response, code, message, detail);
    if status >= 500 {
        // Graph says when to come back from a 503 too: keep it (retryable by the host).
        problem.retry_after = vendor::retry_after(response, Some(env.unix_ms));
    }
    add_request_id(&mut problem, &error);
    Step::Fail(problem)
}

/// The body's `innerError.request-id`, when no header gave one.
fn add_request_id(problem: &mut Problem, error: &GraphError) {
    if let (Some(vendor), Some(id)) = (problem.vendor.as_mut(), &error.request_id) {
        vendor
            .entry("request_id")
            .or_insert_with(|| Value::from(id.as_str()));
    }
}

/// A 2xx: `accepted` (the revocation completes within minutes). An empty body (the
/// documented 204) or JSON (the 200 `{"value": true}` of the known service issue); markup,
/// or `{"value": false}`, is not a revocation.
fn accepted(user_id: &str, response: &VendorResponse<'_>) -> Step {
    let text = response.text();
    let text = text.trim();
    let body = match text {
        "" => None,
        _ => match serde_json::from_str::<Value>(text) {
            Ok(value) => Some(value),
            Err(_) => {
                return Step::Fail(vendor::unexpected_body(
                    response,
                    format!(
                        "microsoft graph answered {} with a body that is not Graph's: {}",
                        response.status,
                        vendor::excerpt(response.body)
                    ),
                ))
            }
        },
    };
    if body.as_ref().and_then(|b| b.get("value")) == Some(&Value::Bool(false)) {
        return Step::Fail(vendor::problem(
            ProblemKind::VendorError,
            response,
            None,
            Some("value: false"),
            format!("microsoft graph answered {} with value false: the sessions of '{user_id}' were not revoked", response.status),
        ));
    }
    Step::Done(Success {
        outcome: Outcome::Accepted,
        vendor: vendor::vendor_map(response),
    })
}
