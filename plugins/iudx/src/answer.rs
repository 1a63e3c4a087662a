//! iudx's answers, mapped to canonical outcomes by message (the table in the crate doc).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;
use std::fmt::Write as _;

use crate::{Iudx, Unbind};

/// Longest vendor message carried into a problem, in characters.
const MAX_TEXT: usize = 1024;

/// Maps one answer to the unbind call.
pub(crate) fn map(iudx: &Iudx, unbind: &Unbind, response: &VendorResponse<'_>) -> Step {
    let status = response.status;
    if (200..300).contains(&status) {
        let empty = response.body.iter().all(u8::is_ascii_whitespace);
        if empty || response.json().is_some() {
            return Step::Done(Success {
                outcome: Outcome::Done,
                vendor: vendor::vendor_map(response),
            });
        }
        return Step::Fail(vendor::problem(
            ProblemCode::UpstreamError,
            response,
            None,
            Some(&vendor::excerpt(response.body)),
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
        ProblemCode::UpstreamUnauthorized => format!(
            "iudx refused the credentials of '{}' for unbinding {what} with {status}{said}",
            iudx.id
        ),
        ProblemCode::UpstreamRejected => {
            format!("iudx rejected unbinding {what} with {status}{said}")
        }
        ProblemCode::RateLimited => format!("iudx is rate limiting Sever ({status}){said}"),
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
fn classify(status: u16, message: Option<&str>) -> ProblemCode {
    match status {
        429 => ProblemCode::RateLimited,
        401 => ProblemCode::UpstreamUnauthorized,
        400..=499 if message.is_some_and(refuses_credentials) => ProblemCode::UpstreamUnauthorized,
        400..=499 => ProblemCode::UpstreamRejected,
        _ => ProblemCode::UpstreamError,
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
    let text = String::from_utf8_lossy(body);
    let parsed = serde_json::from_str::<Value>(&text)
        .ok()
        .or_else(|| serde_json::from_str::<Value>(&escape_raw_controls(&text)).ok());
    let raw = match &parsed {
        Some(Value::Object(object)) => match object.get("error") {
            Some(Value::String(message)) => message.clone(),
            Some(other) => other.to_string(),
            None => text.into_owned(),
        },
        _ => text.into_owned(),
    };
    let message = clean(&raw);
    (!message.is_empty()).then_some(message)
}

/// Escapes control characters that appear raw inside JSON strings (invalid JSON, as in
/// corinthian's 500 bodies), leaving whitespace between tokens alone.
fn escape_raw_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if u32::from(c) < 0x20 {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

/// Control characters become spaces, ends trimmed, at most [`MAX_TEXT`] characters.
fn clean(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT)
        .collect();
    safe.trim().to_owned()
}
