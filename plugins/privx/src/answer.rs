//! Reading a terminate answer into the canonical outcome (the mapping table of the crate
//! documentation).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

use crate::TargetKind;

/// PrivX error codes that say the service is overloaded: worth a retry.
const LOAD_CODES: [&str; 3] = ["MAX_LOAD", "TOO_MANY_CONNECTIONS", "OUT_OF_RESOURCES"];

/// Maps the answer to `POST …/terminate/{kind}/{id}`. A 401 reaching this function is the
/// one after a token refresh (the first is handled by the flow).
pub(crate) fn terminate(kind: TargetKind, id: &str, response: &VendorResponse<'_>) -> Step {
    if (200..300).contains(&response.status) {
        return accepted(response);
    }
    let body = response.json();
    let field = |name: &str| member(body.as_ref(), name);
    let error_code = field("error_code");
    let property = field("property");
    let message = field("error_message").unwrap_or_else(|| vendor::excerpt(response.body));
    let said = match (&error_code, message.is_empty()) {
        (Some(code), false) => format!("{code}: {message}"),
        (Some(code), true) => code.clone(),
        (None, false) => message.clone(),
        (None, true) => "no error body".to_owned(),
    };
    let said = match &property {
        Some(property) => format!("{said} (property '{property}')"),
        None => said,
    };
    let status = response.status;
    let overloaded = status == 503
        || error_code
            .as_deref()
            .is_some_and(|code| LOAD_CODES.contains(&code));
    let noun = kind.noun();
    let (code, retryable, detail) = match status {
        429 => (
            ProblemKind::RateLimited,
            false,
            format!("privx is rate limiting: {said}"),
        ),
        401 => (
            ProblemKind::CredentialsRefused,
            false,
            format!("privx refused the access token again after one token refresh (401): {said}"),
        ),
        403 => (
            ProblemKind::CredentialsRefused,
            false,
            format!(
                "privx: the API client may not terminate connections (it needs the admin, \
                 connectionsTerminate or service scope): {said}"
            ),
        ),
        _ if overloaded => (
            ProblemKind::VendorError,
            true,
            format!("privx is overloaded ({status}): {said}"),
        ),
        404 => (
            ProblemKind::TargetNotFound,
            false,
            format!("privx: no {noun} '{id}': {said}"),
        ),
        400..=499 => (
            ProblemKind::Rejected,
            false,
            format!("privx refused to terminate {noun} '{id}' ({status}): {said}"),
        ),
        _ => (
            ProblemKind::VendorError,
            false,
            format!("privx answered {status} to terminating {noun} '{id}': {said}"),
        ),
    };
    let message = (!message.is_empty()).then_some(message);
    let mut problem = vendor::problem_with_retry(
        code,
        response,
        error_code.as_deref(),
        message.as_deref(),
        detail,
        retryable,
    );
    if let (Some(property), Some(vendor)) = (property, problem.vendor.as_mut()) {
        vendor.insert("property".into(), Value::from(property));
    }
    Step::Fail(problem)
}

/// A 2xx: the connections are flagged and the gateway tears them down by itself. The body
/// ("Connection(s) flagged for termination.", as text or a JSON string, or nothing) is not
/// relied on, but markup or binary means something other than PrivX answered.
fn accepted(response: &VendorResponse<'_>) -> Step {
    let text = match std::str::from_utf8(response.body) {
        Ok(text) => text.trim(),
        Err(_) => return unreadable(response),
    };
    if text.starts_with('<') || text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return unreadable(response);
    }
    let mut vendor = vendor::vendor_map(response);
    let message = match serde_json::from_str::<Value>(text) {
        Ok(Value::String(s)) => s,
        Ok(Value::Object(o)) => ["message", "msg", "status"]
            .iter()
            .find_map(|k| o.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned(),
        _ => text.to_owned(),
    };
    if !message.is_empty() {
        vendor.insert(
            "message".into(),
            Value::from(vendor::excerpt(message.as_bytes())),
        );
    }
    Step::Done(Success {
        outcome: Outcome::Accepted,
        vendor,
    })
}

fn unreadable(response: &VendorResponse<'_>) -> Step {
    Step::Fail(vendor::unexpected_body(
        response,
        format!(
            "privx answered {} with a body that is not PrivX's: {}",
            response.status,
            vendor::excerpt(response.body)
        ),
    ))
}

/// A non-empty string member of a JSON error body (PrivX's own, or OAuth2's).
pub(crate) fn member(body: Option<&Value>, name: &str) -> Option<String> {
    body.and_then(|b| b.get(name))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
