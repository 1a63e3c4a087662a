//! Reading HiveMQ's answer to a disconnect into a canonical outcome (the mapping table of the
//! crate documentation).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// What HiveMQ said in an error body: the first of `{"errors": [{"title", "detail"}]}`,
/// else a top-level `title`/`detail` (problem+json), as `(title, "title: detail")`; else an
/// excerpt of the body (empty for none).
pub(crate) fn said(response: &VendorResponse<'_>) -> (Option<String>, String) {
    let body = response.json();
    let text = |object: Option<&Value>, name: &str| {
        object
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
            .map(vendor::clean)
            .filter(|s| !s.is_empty())
    };
    let first = body
        .as_ref()
        .and_then(|b| b.get("errors"))
        .and_then(Value::as_array)
        .and_then(|errors| errors.first());
    let object = first.or(body.as_ref().filter(|b| b.is_object()));
    let (title, detail) = (text(object, "title"), text(object, "detail"));
    let message = match (&title, detail) {
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (Some(one), None) => one.clone(),
        (None, Some(one)) => one,
        (None, None) => vendor::excerpt(response.body),
    };
    (title, message)
}

/// The canonical outcome of HiveMQ's answer to the disconnect of `client_id`.
pub(crate) fn answer(client_id: &str, invalidated: bool, response: &VendorResponse<'_>) -> Step {
    let status = response.status;
    let call = if invalidated {
        "the session invalidation"
    } else {
        "the disconnect"
    };
    if status == 204 {
        return Step::Done(vendor::done(response));
    }
    if (200..300).contains(&status) {
        let detail = format!(
            "hivemq answered {status} to {call} of client '{client_id}', where it answers 204"
        );
        return Step::Fail(vendor::unexpected_body(response, detail));
    }
    let (title, message) = said(response);
    let said = if message.is_empty() {
        "no error body".to_owned()
    } else {
        message.clone()
    };
    let (kind, detail) = match status {
        404 if invalidated => (
            ProblemKind::TargetNotFound,
            format!("hivemq has no session of client '{client_id}': {said}"),
        ),
        404 => (
            ProblemKind::TargetNotFound,
            format!("hivemq has no connected client '{client_id}': {said}"),
        ),
        401 | 403 => (
            ProblemKind::CredentialsRefused,
            format!(
                "hivemq refused the REST API credentials ({status}, {call}; check the \
                 Enterprise Security Extension's rest-api-pipeline and its permissions): {said}"
            ),
        ),
        429 => (
            ProblemKind::RateLimited,
            format!("hivemq is rate limiting ({call}): {said}"),
        ),
        400..=499 => (
            ProblemKind::Rejected,
            format!("hivemq answered {status} to {call} of client '{client_id}': {said}"),
        ),
        _ => (
            ProblemKind::VendorError,
            format!("hivemq answered {status} to {call} of client '{client_id}': {said}"),
        ),
    };
    let message = (!message.is_empty()).then_some(message);
    let mut problem = vendor::problem(kind, response, None, message.as_deref(), detail);
    if let (Some(title), Some(vendor)) = (title, problem.vendor.as_mut()) {
        vendor.insert("title".into(), Value::from(title));
    }
    Step::Fail(problem)
}
