//! Helpers for reading vendor answers into canonical outcomes.

use crate::model::{Problem, ProblemCode, VendorResponse};
use serde_json::{Map, Value};

/// The code a vendor HTTP status maps to when the vendor's own table says nothing more
/// specific: 401/403 `upstream_unauthorized`, 404 `target_not_found`, 429 `rate_limited`,
/// other 4xx `upstream_rejected`, everything else `upstream_error`.
pub fn code_for_status(status: u16) -> ProblemCode {
    match status {
        401 | 403 => ProblemCode::UpstreamUnauthorized,
        404 => ProblemCode::TargetNotFound,
        429 => ProblemCode::RateLimited,
        400..=499 => ProblemCode::UpstreamRejected,
        _ => ProblemCode::UpstreamError,
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

/// A problem for a vendor answer: `code`, the vendor's `message` (and error `code`, when
/// it has one) in `vendor`, the `detail` naming the backend's words. Passes `Retry-After`
/// on for 429 and marks 5xx retryable.
pub fn problem(
    code: ProblemCode,
    response: &VendorResponse<'_>,
    vendor_code: Option<&str>,
    vendor_message: Option<&str>,
    detail: String,
) -> Problem {
    let mut vendor = vendor_map(response);
    if let Some(c) = vendor_code {
        vendor.insert("code".into(), Value::from(c));
    }
    if let Some(m) = vendor_message {
        vendor.insert("message".into(), Value::from(m));
    }
    let mut p = Problem::new(code, detail).with_vendor(vendor);
    if code == ProblemCode::RateLimited {
        p.retry_after = response.header("retry-after").map(str::to_owned);
    }
    if response.status >= 500 {
        p.retryable = true;
    }
    p
}

/// A short, printable excerpt of a body that is not what the adapter expected.
pub fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX)
        .collect();
    clean.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_spec_defaults() {
        assert_eq!(code_for_status(401), ProblemCode::UpstreamUnauthorized);
        assert_eq!(code_for_status(403), ProblemCode::UpstreamUnauthorized);
        assert_eq!(code_for_status(404), ProblemCode::TargetNotFound);
        assert_eq!(code_for_status(405), ProblemCode::UpstreamRejected);
        assert_eq!(code_for_status(429), ProblemCode::RateLimited);
        assert_eq!(code_for_status(503), ProblemCode::UpstreamError);
        assert_eq!(code_for_status(302), ProblemCode::UpstreamError);
    }

    #[test]
    fn rate_limited_problem_carries_retry_after() {
        let headers = [("retry-after", b"7".as_slice())];
        let r = VendorResponse {
            status: 429,
            headers: &headers,
            body: b"",
        };
        let p = problem(ProblemCode::RateLimited, &r, None, None, "slow down".into());
        assert_eq!(p.retry_after.as_deref(), Some("7"));
    }

    #[test]
    fn excerpt_strips_control_characters_and_bounds_length() {
        assert_eq!(excerpt(b"a\nb\x00c"), "a b c");
        assert_eq!(excerpt(&[b'x'; 500]).len(), 200);
    }
}
