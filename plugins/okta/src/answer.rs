//! Reading Okta's answer to the session revocation (the mapping table of the crate doc).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// Okta's error body, `{errorCode, errorSummary, errorLink, errorId, errorCauses}`.
struct OktaError {
    code: Option<String>,
    /// `errorSummary` and each cause's, or an excerpt of a body that is not Okta's.
    message: Option<String>,
    error_id: Option<String>,
}

impl OktaError {
    fn read(response: &VendorResponse<'_>) -> Self {
        let body = response.json();
        let text = |value: Option<&Value>| {
            value
                .and_then(Value::as_str)
                .map(vendor::clean)
                .filter(|s| !s.is_empty())
        };
        let code = text(body.as_ref().and_then(|b| b.get("errorCode")));
        let summary = text(body.as_ref().and_then(|b| b.get("errorSummary")));
        let causes: Vec<String> = body
            .as_ref()
            .and_then(|b| b.get("errorCauses"))
            .and_then(Value::as_array)
            .map(|causes| {
                causes
                    .iter()
                    .filter_map(|c| text(c.get("errorSummary")))
                    .collect()
            })
            .unwrap_or_default();
        let message = match (summary, causes.is_empty()) {
            (Some(summary), true) => Some(summary),
            (Some(summary), false) => Some(format!("{summary} ({})", causes.join("; "))),
            (None, false) => Some(causes.join("; ")),
            (None, true) if code.is_none() => {
                let excerpt = vendor::excerpt(response.body);
                (!excerpt.is_empty()).then_some(excerpt)
            }
            (None, true) => None,
        };
        OktaError {
            code,
            message,
            error_id: text(body.as_ref().and_then(|b| b.get("errorId"))),
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

/// Okta's request id and error id into `vendor`.
fn add_ids(
    vendor: &mut serde_json::Map<String, Value>,
    response: &VendorResponse<'_>,
    error_id: Option<&str>,
) {
    if let Some(id) = response.header("x-okta-request-id").map(vendor::clean) {
        vendor.insert("request_id".into(), Value::from(id));
    }
    if let Some(id) = error_id {
        vendor.insert("error_id".into(), Value::from(id));
    }
}

/// Maps the answer to `DELETE …/users/{user_id}/sessions`. With OAuth, a 401 reaching
/// this function is the one after the token refresh.
pub(crate) fn revoke(
    user_id: &str,
    response: &VendorResponse<'_>,
    env: &Env,
    oauth: bool,
    note: &str,
) -> Step {
    let status = response.status;
    if (200..300).contains(&status) {
        return done(response, note);
    }
    let error = OktaError::read(response);
    let shown = error.shown();
    let (code, message) = (error.code.as_deref(), error.message.as_deref());
    let (kind, detail) = match status {
        429 => {
            let detail = format!("okta is rate limiting (rate or concurrency limit): {shown}");
            let mut problem = vendor::rate_limited(response, env, code, message, detail);
            if let Some(vendor) = problem.vendor.as_mut() {
                add_ids(vendor, response, error.error_id.as_deref());
            }
            return Step::Fail(problem);
        }
        401 if oauth => (
            ProblemKind::CredentialsRefused,
            format!("okta refused the access token again after one token refresh (401): {shown}"),
        ),
        401 => (
            ProblemKind::CredentialsRefused,
            format!("okta refused the API token (401): {shown}"),
        ),
        403 => (
            ProblemKind::CredentialsRefused,
            format!(
                "okta refused to revoke the sessions of '{user_id}' (403: the API token's admin, \
                 or the service app's okta.users.manage grant, is missing): {shown}"
            ),
        ),
        404 if error.code.is_some() => (
            ProblemKind::TargetNotFound,
            format!("okta has no user '{user_id}' (the id, 00u…, not the login): {shown}"),
        ),
        404 => (
            ProblemKind::Rejected,
            format!("okta answered 404 without an Okta error (check the backend's url): {shown}"),
        ),
        status => (
            vendor::kind_for_status(status),
            format!("okta answered {status} to revoking the sessions of '{user_id}': {shown}"),
        ),
    };
    let mut problem = vendor::problem(kind, response, code, message, detail);
    if let Some(vendor) = problem.vendor.as_mut() {
        add_ids(vendor, response, error.error_id.as_deref());
    }
    Step::Fail(problem)
}

/// A 2xx: `done`, with Okta's warning about app sessions. Markup is not Okta's answer.
fn done(response: &VendorResponse<'_>, note: &str) -> Step {
    let text = response.text();
    let text = text.trim();
    if !text.is_empty() && serde_json::from_str::<Value>(text).is_err() {
        return Step::Fail(vendor::unexpected_body(
            response,
            format!(
                "okta answered {} with a body that is not Okta's: {}",
                response.status,
                vendor::excerpt(response.body)
            ),
        ));
    }
    let mut success = vendor::done(response);
    add_ids(&mut success.vendor, response, None);
    success.vendor.insert("note".into(), Value::from(note));
    Step::Done(success)
}
