//! Reading AWS IoT's answer to `DeleteConnection` into a canonical outcome (the mapping
//! table of the crate documentation).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// Error codes meaning AWS refused Sever's credentials or signature: the service's own
/// (`UnauthorizedException`, `ForbiddenException`) and the front door's (names assumed).
const UNAUTHORIZED: [&str; 8] = [
    "UnauthorizedException",
    "ForbiddenException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
    "AccessDeniedException",
    "ExpiredTokenException",
    "IncompleteSignatureException",
    "MissingAuthenticationTokenException",
];

/// The code of AWS IoT's "no such client" answer.
const NOT_FOUND: &str = "ResourceNotFoundException";
/// The code of AWS IoT's throttling answer.
const THROTTLING: &str = "ThrottlingException";

/// The error's code: the `x-amzn-ErrorType` header's text before `:`, else the body's
/// `__type` (after a `#` namespace) or `code`/`Code`.
fn code(response: &VendorResponse<'_>, body: Option<&Value>) -> Option<String> {
    let from_header = response
        .header("x-amzn-errortype")
        .and_then(|v| v.split(':').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(vendor::clean);
    from_header.or_else(|| {
        let member = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
        let raw = member("__type")
            .or_else(|| member("code"))
            .or_else(|| member("Code"))?;
        let code = raw.rsplit('#').next().unwrap_or(raw);
        Some(vendor::clean(code)).filter(|c| !c.is_empty())
    })
}

/// The error's message: the body's `message`/`Message`, else an excerpt of the body.
fn message(response: &VendorResponse<'_>, body: Option<&Value>) -> String {
    let member = |name: &str| body.and_then(|b| b.get(name)).and_then(Value::as_str);
    member("message")
        .or_else(|| member("Message"))
        .map(vendor::clean)
        .unwrap_or_else(|| vendor::excerpt(response.body))
}

/// The canonical outcome of AWS IoT's answer to the `DeleteConnection` of `client_id`.
pub(crate) fn answer(client_id: &str, retried: bool, response: &VendorResponse<'_>) -> Step {
    let status = response.status;
    let body = response.json();
    if status == 200 {
        let readable = response.body.iter().all(u8::is_ascii_whitespace)
            || matches!(body, Some(Value::Object(_)));
        if readable {
            return Step::Done(vendor::done(response));
        }
    }
    if (200..300).contains(&status) {
        let detail = format!(
            "aws iot answered {status} to the DeleteConnection of client '{client_id}' with a \
             body it does not send"
        );
        return Step::Fail(vendor::unexpected_body(response, detail));
    }
    let code = code(response, body.as_ref());
    let message = message(response, body.as_ref());
    let said = match (&code, message.is_empty()) {
        (Some(code), false) => format!("{code}: {message}"),
        (Some(code), true) => code.clone(),
        (None, false) => message.clone(),
        (None, true) => "no error body".to_owned(),
    };
    let is = |name: &str| code.as_deref() == Some(name);
    let (kind, detail) = if is(THROTTLING) || status == 429 {
        (
            ProblemKind::RateLimited,
            format!("aws iot is throttling DeleteConnection: {said}"),
        )
    } else if UNAUTHORIZED.iter().any(|c| is(c)) || matches!(status, 401 | 403) {
        (
            ProblemKind::CredentialsRefused,
            format!(
                "aws iot refused the credentials or signature ({status}; the key needs \
                 iot:DeleteConnection): {said}"
            ),
        )
    } else if status == 404 && (code.is_none() || is(NOT_FOUND)) {
        let mut detail = format!("aws iot has no connected client '{client_id}': {said}");
        if retried {
            detail.push_str(
                "; this answered a retry, so the first attempt, whose answer was lost, may \
                 have made the cut",
            );
        }
        (ProblemKind::TargetNotFound, detail)
    } else if (400..500).contains(&status) {
        (
            ProblemKind::Rejected,
            format!(
                "aws iot answered {status} to the DeleteConnection of client '{client_id}': {said}"
            ),
        )
    } else {
        (
            ProblemKind::VendorError,
            format!(
                "aws iot answered {status} to the DeleteConnection of client '{client_id}': {said}"
            ),
        )
    };
    let message = (!message.is_empty()).then_some(message);
    let retryable = status >= 500;
    Step::Fail(vendor::problem_with_retry(
        kind,
        response,
        code.as_deref(),
        message.as_deref(),
        detail,
        retryable,
    ))
}
