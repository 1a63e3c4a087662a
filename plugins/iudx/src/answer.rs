//! iudx's answers, mapped to canonical outcomes by message (the table in the crate doc).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

use crate::{Iudx, Unbind};

/// Maps one answer to the unbind call.
pub(crate) fn map(iudx: &Iudx, unbind: &Unbind, response: &VendorResponse<'_>) -> Step {
    let status = response.status;
    if (200..300).contains(&status) {
        let empty = response.body.iter().all(u8::is_ascii_whitespace);
        if empty || response.json().is_some() {
            return Step::Done(vendor::done(response));
        }
        return Step::Fail(vendor::unexpected_body(
            response,
            format!("iudx answered {status} with a body that is not what an unbind answers"),
        ));
    }

    let message = error_message(response.body);
    let code = classify(status, message.as_deref());
    let said = message
        .as_deref()
        .map_or_else(String::new, |m| format!(": {m}"));
    let Unbind {
        exchange,
        queue,
        topic,
        ..
    } = unbind;
    let what = format!("queue '{queue}' from exchange '{exchange}' (topic '{topic}')");
    let mut detail = match code {
        ProblemKind::CredentialsRefused => format!(
            "iudx refused the credentials of '{}' for unbinding {what} with {status}{said}",
            iudx.id
        ),
        ProblemKind::Rejected => {
            format!("iudx rejected unbinding {what} with {status}{said}")
        }
        ProblemKind::RateLimited => format!("iudx is rate limiting Sever ({status}){said}"),
        _ => format!("iudx failed to unbind {what} with {status}{said}"),
    };
    if status == 404 {
        detail.push_str(" (iudx has no such endpoint: check the backend's url)");
    }
    Step::Fail(vendor::problem(
        code,
        response,
        None,
        message.as_deref(),
        detail,
    ))
}

/// The canonical code for an error answer: 4xx by message, since the vendor's documents
/// and implementation disagree on which messages come with 400 and which with 403.
fn classify(status: u16, message: Option<&str>) -> ProblemKind {
    match status {
        429 => ProblemKind::RateLimited,
        401 => ProblemKind::CredentialsRefused,
        400..=499 if message.is_some_and(refuses_credentials) => ProblemKind::CredentialsRefused,
        400..=499 => ProblemKind::Rejected,
        _ => ProblemKind::VendorError,
    }
}

/// The messages with which iudx refuses the caller rather than the request.
fn refuses_credentials(message: &str) -> bool {
    let message = message.trim();
    message.eq_ignore_ascii_case("invalid id or apikey")
        || message.eq_ignore_ascii_case("unauthorized")
        || message
            .get(..24)
            .is_some_and(|start| start.eq_ignore_ascii_case("you are not the owner of"))
}

/// The `error` member of an error body, read leniently (a raw control character inside
/// the string is tolerated), or else the body's text; control characters made safe.
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let raw = match vendor::lenient_json(body) {
        Some(Value::Object(object)) => match object.get("error") {
            Some(Value::String(message)) => message.clone(),
            Some(other) => other.to_string(),
            None => String::from_utf8_lossy(body).into_owned(),
        },
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let message = vendor::clean(&raw);
    (!message.is_empty()).then_some(message)
}
