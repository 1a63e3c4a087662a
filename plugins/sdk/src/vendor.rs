//! Helpers for reading vendor answers into canonical outcomes.

mod document;
mod lenient;
mod rate_limit;

pub use document::ProblemDocument;
pub use lenient::lenient_json;
pub use rate_limit::{rate_limited, retry_after};

use serde_json::{Map, Value};
use sever_plugin_abi::{Outcome, Problem, ProblemKind, Success, VendorResponse};

/// The longest vendor string [`clean`] keeps, in characters.
pub const MAX_TEXT: usize = 1024;

/// The longest [`excerpt`], in characters.
const MAX_EXCERPT: usize = 200;

/// The kind a vendor HTTP status means when the vendor's own table says nothing more
/// specific: 401/403 `credentials_refused`, 404 `target_not_found`, 429 `rate_limited`,
/// other 4xx `rejected`, everything else `vendor_error`.
pub fn kind_for_status(status: u16) -> ProblemKind {
    match status {
        401 | 403 => ProblemKind::CredentialsRefused,
        404 => ProblemKind::TargetNotFound,
        429 => ProblemKind::RateLimited,
        400..=499 => ProblemKind::Rejected,
        _ => ProblemKind::VendorError,
    }
}

/// The vendor's request id, from the usual headers.
pub fn request_id(response: &VendorResponse<'_>) -> Option<String> {
    [
        "x-request-id",
        "x-acs-request-id",
        "request-id",
        "x-amzn-requestid",
    ]
    .into_iter()
    .find_map(|h| response.header(h))
    .map(str::to_owned)
}

/// A `vendor` object holding the status and, when present, the vendor's request id.
pub fn vendor_map(response: &VendorResponse<'_>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("status".into(), Value::from(response.status));
    if let Some(id) = request_id(response) {
        map.insert("request_id".into(), Value::from(id));
    }
    map
}

/// A problem for a vendor answer: `kind`, the vendor's `message` (and error `code`, when
/// it has one) in `vendor`, the `detail` naming the backend's words. Passes the vendor's
/// wait on for `rate_limited` ([`retry_after`], without the host's clock: use
/// [`rate_limited`] where an `Env` is at hand) and marks 5xx retryable.
///
/// When the vendor's own table says which failures are worth a retry (a 5xx that is not,
/// a 4xx-coded overload that is), use [`problem_with_retry`] instead of overriding
/// `retryable` afterwards.
pub fn problem(
    kind: ProblemKind,
    response: &VendorResponse<'_>,
    vendor_code: Option<&str>,
    vendor_message: Option<&str>,
    detail: String,
) -> Problem {
    let retryable = response.status >= 500;
    problem_with_retry(
        kind,
        response,
        vendor_code,
        vendor_message,
        detail,
        retryable,
    )
}

/// Like [`problem`], but `retryable` is the adapter's decision rather than "every 5xx".
/// The vendor's `Retry-After` is still passed on with `rate_limited`.
///
/// The host only acts on `retryable` for requests marked idempotent, within the
/// backend's `retries` and the request's deadline, and asks the adapter to plan the call
/// again with [`Input::Retry`](crate::Input::Retry).
///
/// ```
/// use sever_plugin_sdk::{vendor, ProblemKind, VendorResponse};
/// let r = VendorResponse { status: 500, headers: &[], body: b"" };
/// // This vendor's 500 means "refused for good": not worth a retry.
/// let p = vendor::problem_with_retry(
///     ProblemKind::VendorError, &r, None, None, "refused".into(), false);
/// assert!(!p.retryable);
/// ```
pub fn problem_with_retry(
    kind: ProblemKind,
    response: &VendorResponse<'_>,
    vendor_code: Option<&str>,
    vendor_message: Option<&str>,
    detail: String,
    retryable: bool,
) -> Problem {
    let mut vendor = vendor_map(response);
    if let Some(c) = vendor_code {
        vendor.insert("code".into(), Value::from(c));
    }
    if let Some(m) = vendor_message {
        vendor.insert("message".into(), Value::from(m));
    }
    let mut p = Problem::new(kind, detail).with_vendor(vendor);
    if kind == ProblemKind::RateLimited {
        // Without the host's clock: see `rate_limited` for a wait by the `Env`'s.
        p.retry_after = retry_after(response, None);
    }
    p.retryable = retryable;
    p
}

/// `done`, with [`vendor_map`] (status, request id) as what the vendor said: the usual
/// end of a flow whose last answer was a plain success.
///
/// ```
/// use sever_plugin_sdk::{vendor, Outcome, Step, VendorResponse};
/// let r = VendorResponse { status: 204, headers: &[], body: b"" };
/// let step = Step::Done(vendor::done(&r));
/// assert!(matches!(step, Step::Done(s) if s.outcome == Outcome::Done && s.vendor["status"] == 204));
/// ```
pub fn done(response: &VendorResponse<'_>) -> Success {
    Success {
        outcome: Outcome::Done,
        vendor: vendor_map(response),
    }
}

/// [`ProblemKind::Unreadable`] (answered `upstream_error`) for an answer whose body is not
/// what this vendor sends (an HTML login page, a proxy's error, binary): the body's
/// [`excerpt`] goes into `vendor.message` (even when empty), `detail` is the adapter's
/// words. Retryable as [`problem`] decides (5xx).
pub fn unexpected_body(response: &VendorResponse<'_>, detail: String) -> Problem {
    let excerpt = excerpt(response.body);
    problem(
        ProblemKind::Unreadable,
        response,
        None,
        Some(&excerpt),
        detail,
    )
}

/// Makes a string the vendor sent safe to show (a message, a problem document's member):
/// control characters become spaces, the ends are trimmed, at most [`MAX_TEXT`]
/// characters are kept.
///
/// ```
/// use sever_plugin_sdk::vendor::clean;
/// assert_eq!(clean(" Bad\r\nRequest\u{0} "), "Bad  Request");
/// ```
pub fn clean(text: &str) -> String {
    printable(text, MAX_TEXT)
}

/// A short, printable excerpt of a body that is not what the adapter expected: invalid
/// UTF-8 replaced, control characters made spaces, at most 200 characters, trimmed.
pub fn excerpt(body: &[u8]) -> String {
    printable(&String::from_utf8_lossy(body), MAX_EXCERPT)
}

/// Control characters become spaces, at most `max` characters, ends trimmed.
fn printable(text: &str, max: usize) -> String {
    let safe: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    safe.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_spec_defaults() {
        assert_eq!(kind_for_status(401), ProblemKind::CredentialsRefused);
        assert_eq!(kind_for_status(403), ProblemKind::CredentialsRefused);
        assert_eq!(kind_for_status(404), ProblemKind::TargetNotFound);
        assert_eq!(kind_for_status(405), ProblemKind::Rejected);
        assert_eq!(kind_for_status(429), ProblemKind::RateLimited);
        assert_eq!(kind_for_status(503), ProblemKind::VendorError);
        assert_eq!(kind_for_status(302), ProblemKind::VendorError);
    }

    /// Every test answer carries a `Retry-After` and a request id.
    fn response(status: u16, body: &'static [u8]) -> VendorResponse<'static> {
        const HEADERS: [(&str, &[u8]); 2] = [("retry-after", b"7"), ("x-request-id", b"r-1")];
        VendorResponse {
            status,
            headers: &HEADERS,
            body,
        }
    }

    #[test]
    fn retry_after_is_passed_on_only_when_rate_limited() {
        let r = response(429, b"");
        let p = problem(ProblemKind::RateLimited, &r, None, None, "slow down".into());
        assert_eq!(p.retry_after.as_deref(), Some("7"));
        let p = problem_with_retry(
            ProblemKind::RateLimited,
            &r,
            None,
            None,
            String::new(),
            false,
        );
        assert_eq!(p.retry_after.as_deref(), Some("7"));
        let p = problem_with_retry(ProblemKind::Rejected, &r, None, None, String::new(), false);
        assert_eq!(p.retry_after, None);
    }

    #[test]
    fn excerpt_strips_control_characters_and_bounds_length() {
        assert_eq!(excerpt(b"a\nb\x00c"), "a b c");
        assert_eq!(excerpt(&[b'x'; 500]).len(), 200);
    }

    #[test]
    fn clean_keeps_up_to_max_text_characters() {
        assert_eq!(clean("\ta\u{7f}b\n"), "a b");
        let long = "é".repeat(MAX_TEXT + 10);
        assert_eq!(clean(&long).chars().count(), MAX_TEXT);
        assert_eq!(clean("\r\n"), "");
    }

    #[test]
    fn problem_marks_5xx_retryable_and_problem_with_retry_obeys_the_adapter() {
        for (status, retryable) in [(500, true), (503, true), (499, false), (200, false)] {
            let r = response(status, b"");
            let p = problem(ProblemKind::VendorError, &r, None, None, String::new());
            assert_eq!(p.retryable, retryable, "{status}");
        }
        let (code, detail) = (ProblemKind::VendorError, String::from("d"));
        let r = response(503, b"");
        let p = problem_with_retry(code, &r, Some("C"), Some("m"), detail.clone(), false);
        assert!(!p.retryable);
        assert_eq!(p.detail, "d");
        let vendor = p.vendor.unwrap_or_default();
        assert_eq!(vendor["code"], "C");
        assert_eq!(vendor["message"], "m");
        assert_eq!(vendor["request_id"], "r-1");
        let p = problem_with_retry(code, &response(403, b""), None, None, detail, true);
        assert!(p.retryable);
    }

    #[test]
    fn done_carries_the_status_and_request_id() {
        let s = done(&response(200, b"{}"));
        assert_eq!(s.outcome, Outcome::Done);
        assert_eq!(s.vendor["status"], 200);
        assert_eq!(s.vendor["request_id"], "r-1");
    }

    #[test]
    fn unexpected_body_is_unreadable_with_an_excerpt() {
        let p = unexpected_body(&response(200, b"<html>\nlogin</html>"), "odd".into());
        assert_eq!(p.kind, ProblemKind::Unreadable);
        assert_eq!(p.kind.canonical_code(), "upstream_error");
        assert!(!p.retryable);
        assert_eq!(p.detail, "odd");
        assert_eq!(
            p.vendor.unwrap_or_default()["message"],
            "<html> login</html>"
        );
        let p = unexpected_body(&response(502, b""), "odd".into());
        assert!(p.retryable);
        assert_eq!(p.vendor.unwrap_or_default()["message"], "");
    }
}
