//! Reading the token endpoint's answer: the token, or the canonical problem.

use serde_json::Value;
use sever_plugin_abi::{Env, Problem, ProblemKind, VendorResponse};

use super::cache::Issued;
use crate::vendor;

/// How problems of this token endpoint are worded.
#[derive(Debug, Clone)]
pub(crate) struct Words {
    /// The vendor, first word of every detail (`keycloak: …`).
    pub(crate) vendor: &'static str,
    /// What the endpoint refuses (`the client credentials`).
    pub(crate) credentials: &'static str,
}

impl Words {
    pub(crate) fn new(vendor: &'static str) -> Self {
        Words {
            vendor,
            credentials: "the client credentials",
        }
    }
}

/// Members of OAuth2 error bodies (and of gateways' own) kept in `vendor` when present.
const EXTRA_MEMBERS: [&str; 2] = ["trace_id", "correlation_id"];

/// Reads the token endpoint's answer.
pub(crate) fn read(
    response: &VendorResponse<'_>,
    env: &Env,
    words: &Words,
    default_lifetime_s: u64,
) -> Result<Issued, Problem> {
    if response.status == 200 {
        return read_token(response, words, default_lifetime_s);
    }
    let body = response.json();
    let field = |name: &str| member(body.as_ref(), name);
    // OAuth2's `{error, error_description}`; `{error_code, error_message}` too, should a
    // gateway in front answer in that shape.
    let vendor_code = field("error").or_else(|| field("error_code"));
    let description = field("error_description").or_else(|| field("error_message"));
    let message = description
        .clone()
        .or_else(|| vendor_code.clone())
        .unwrap_or_else(|| vendor::excerpt(response.body));
    let shown = if message.is_empty() {
        "no error body".to_owned()
    } else {
        message.clone()
    };
    let said = match (&vendor_code, &description) {
        (Some(code), Some(text)) => format!("{code} ({text})"),
        _ => shown,
    };
    let (who, status) = (words.vendor, response.status);
    let (kind, detail) = match status {
        400 | 401 | 403 => (
            ProblemKind::CredentialsRefused,
            format!(
                "{who}: the token endpoint refused {} ({status}): {said}",
                words.credentials
            ),
        ),
        404 => (
            ProblemKind::Rejected,
            format!("{who}: no token endpoint at this backend's url (404): {said}"),
        ),
        status => (
            vendor::kind_for_status(status),
            format!("{who}: the token endpoint answered {status}: {said}"),
        ),
    };
    let message = (!message.is_empty()).then_some(message);
    let (code, message) = (vendor_code.as_deref(), message.as_deref());
    let mut problem = match kind {
        ProblemKind::RateLimited => vendor::rate_limited(response, env, code, message, detail),
        _ => vendor::problem(kind, response, code, message, detail),
    };
    if let Some(map) = problem.vendor.as_mut() {
        for name in EXTRA_MEMBERS {
            if let Some(value) = field(name) {
                map.insert(name.into(), Value::from(value));
            }
        }
    }
    Err(problem)
}

/// A 200 answer: `{"access_token", "token_type": "bearer", "expires_in", …}`. The body is
/// never echoed (it holds tokens).
fn read_token(
    response: &VendorResponse<'_>,
    words: &Words,
    default_lifetime_s: u64,
) -> Result<Issued, Problem> {
    let unreadable = |what: &str| {
        Err(vendor::problem(
            ProblemKind::Unreadable,
            response,
            None,
            None,
            format!("{}: the token endpoint answered 200 {what}", words.vendor),
        ))
    };
    let Some(Value::Object(body)) = response.json() else {
        return unreadable("with a body that is not a JSON object");
    };
    let access_token = match body.get("access_token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => token,
        _ => return unreadable("without an access_token"),
    };
    // It goes into a header: anything but visible ASCII would be unsafe or mangled there.
    if !access_token.bytes().all(|b| b.is_ascii_graphic()) {
        return unreadable("with an access_token that cannot be sent in a header");
    }
    match body.get("token_type").and_then(Value::as_str) {
        None => {}
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return unreadable("with a token_type other than bearer"),
    }
    let expires_in_s = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(default_lifetime_s);
    Ok(Issued {
        access_token: access_token.to_owned(),
        expires_in_s,
    })
}

/// A non-empty string member of a JSON error body, made safe to show.
fn member(body: Option<&Value>, name: &str) -> Option<String> {
    body.and_then(|b| b.get(name))
        .and_then(Value::as_str)
        .map(vendor::clean)
        .filter(|s| !s.is_empty())
}
