//! Reading EMQX's answers to kicks into canonical outcomes (the mapping table of the crate
//! documentation); the list pages are read in `list.rs`.

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use crate::text_member;

/// The code EMQX answers a kick of an unknown client with (`?CLIENTID_NOT_FOUND_OBJ`).
pub(crate) const CLIENTID_NOT_FOUND: &str = "CLIENTID_NOT_FOUND";

/// What EMQX said in an error body `{"code", "message"}`: the code when there is one, and
/// the message (else an excerpt of whatever the body is; empty for none).
pub(crate) fn said(response: &VendorResponse<'_>) -> (Option<String>, String) {
    let body = response.json();
    let code = text_member(body.as_ref(), "code");
    let message =
        text_member(body.as_ref(), "message").unwrap_or_else(|| vendor::excerpt(response.body));
    (code, message)
}

/// `CODE: message`, whichever exist, for details.
fn words(code: Option<&str>, message: &str) -> String {
    match (code, message.is_empty()) {
        (Some(code), false) => format!("{code}: {message}"),
        (Some(code), true) => code.to_owned(),
        (None, false) => message.to_owned(),
        (None, true) => "no error body".to_owned(),
    }
}

/// The answer to `DELETE /api/v5/clients/{client_id}`.
pub(crate) fn kick(client_id: &str, retried: bool, response: &VendorResponse<'_>) -> Step {
    match response.status {
        204 => Step::Done(vendor::done(response)),
        200..=299 => Step::Fail(vendor::unexpected_body(
            response,
            format!(
                "emqx answered {} to the kick of client '{client_id}', where a kick answers 204",
                response.status
            ),
        )),
        404 => {
            let (code, message) = said(response);
            if code.as_deref() != Some(CLIENTID_NOT_FOUND) {
                return Step::Fail(failure(
                    response,
                    &format!("the kick of client '{client_id}'"),
                ));
            }
            let mut detail = format!(
                "emqx has no client '{client_id}' ({})",
                words(code.as_deref(), &message)
            );
            if retried {
                detail.push_str(
                    "; this answered a retry, so the first attempt, whose answer was lost, \
                     may have made the cut",
                );
            }
            Step::Fail(vendor::problem(
                ProblemKind::TargetNotFound,
                response,
                code.as_deref(),
                Some(&message),
                detail,
            ))
        }
        _ => Step::Fail(failure(
            response,
            &format!("the kick of client '{client_id}'"),
        )),
    }
}

/// The listing found no client of `user`: nothing is kicked.
pub(crate) fn nobody_listed(user: &str, response: &VendorResponse<'_>) -> Problem {
    let mut vendor = vendor::vendor_map(response);
    vendor.insert("listed".into(), Value::from(0));
    let detail = format!("emqx lists no client of user '{user}'; nothing was kicked");
    Problem::new(ProblemKind::TargetNotFound, detail).with_vendor(vendor)
}

/// The answer to the bulk kick of `clients`, the clients listed for `user`.
pub(crate) fn bulk(user: &str, clients: &[String], response: &VendorResponse<'_>) -> Step {
    let count = Value::from(clients.len());
    match response.status {
        204 => {
            let mut vendor: Map<String, Value> = vendor::vendor_map(response);
            vendor.insert("closed".into(), count);
            let ids = clients.iter().map(|c| Value::from(c.as_str()));
            vendor.insert("clients".into(), Value::Array(ids.collect()));
            Step::Done(Success {
                outcome: Outcome::Done,
                vendor,
            })
        }
        200..=299 => Step::Fail(vendor::unexpected_body(
            response,
            format!(
                "emqx answered {} to the bulk kick of user '{user}''s clients, where it \
                 answers 204",
                response.status
            ),
        )),
        _ => {
            let doing = format!("the bulk kick of user '{user}''s {} clients", clients.len());
            let mut problem = failure(response, &doing);
            if let Some(vendor) = problem.vendor.as_mut() {
                vendor.insert("listed".into(), count);
            }
            Step::Fail(problem)
        }
    }
}

/// The problem for an answer that is not the call's success, by status: 401/403 refused
/// credentials, 429 throttling, other 4xx (a 404 here included: a wrong base path, not a
/// missing client) refused, anything else a vendor failure (5xx retryable).
pub(crate) fn failure(response: &VendorResponse<'_>, doing: &str) -> Problem {
    let (code, message) = said(response);
    let status = response.status;
    let said = words(code.as_deref(), &message);
    let (kind, detail) = match status {
        401 | 403 => (
            ProblemKind::CredentialsRefused,
            format!("emqx refused the API key ({status}, {doing}): {said}"),
        ),
        429 => (
            ProblemKind::RateLimited,
            format!("emqx is rate limiting ({doing}): {said}"),
        ),
        404 => (
            ProblemKind::Rejected,
            format!(
                "emqx answered 404 to {doing} without {CLIENTID_NOT_FOUND} (is the url's \
                 base path right?): {said}"
            ),
        ),
        400..=499 => (
            ProblemKind::Rejected,
            format!("emqx answered {status} to {doing}: {said}"),
        ),
        _ => (
            ProblemKind::VendorError,
            format!("emqx answered {status} to {doing}: {said}"),
        ),
    };
    let message = (!message.is_empty()).then_some(message);
    vendor::problem(kind, response, code.as_deref(), message.as_deref(), detail)
}
