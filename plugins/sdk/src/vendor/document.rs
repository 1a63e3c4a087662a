//! Vendors that answer errors with RFC 7807 / RFC 9457 problem documents.

use super::{clean, excerpt, problem};
use serde_json::{Map, Value};
use sever_plugin_abi::{Problem, ProblemKind, VendorResponse};

/// The members of an RFC 7807 (RFC 9457) problem document a vendor answered with
/// (`{"type", "title", "detail", "status", "instance"}`), each made safe with
/// [`clean`] and kept only when non-empty; or, for a body that is not a JSON object, an
/// [`excerpt`] of it.
///
/// Read the body, word the canonical `detail` with [`ProblemDocument::message`], then
/// build the problem with [`ProblemDocument::into_problem`] (or put the members into a
/// `vendor` map of your own with [`ProblemDocument::add_to`]):
///
/// ```
/// use sever_plugin_sdk::vendor::ProblemDocument;
/// use sever_plugin_sdk::{ProblemKind, VendorResponse};
///
/// let body = br#"{"type":"about:blank","title":"Not Found","detail":"no client 'c'","status":404}"#;
/// let response = VendorResponse { status: 404, headers: &[], body };
/// let document = ProblemDocument::read(response.body);
/// let said = document.message().unwrap_or_default();
/// let problem = document.into_problem(
///     ProblemKind::TargetNotFound,
///     &response,
///     format!("the vendor has no client 'c': {said}"),
/// );
/// let vendor = problem.vendor.unwrap_or_default();
/// assert_eq!(vendor["message"], "Not Found: no client 'c'");
/// assert_eq!(vendor["title"], "Not Found");
/// assert_eq!(vendor["type"], "about:blank");
/// assert_eq!(vendor["status"], 404);
/// ```
///
/// The body is read as strict JSON; a problem document with raw control characters in a
/// string is kept as an excerpt (see [`lenient_json`](super::lenient_json) for vendors
/// known to send such bodies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProblemDocument {
    /// The `type` member: a URI naming the kind of problem.
    pub kind: Option<String>,
    /// The `title` member: a short summary of the kind of problem.
    pub title: Option<String>,
    /// The `detail` member: what went wrong this time.
    pub detail: Option<String>,
    /// The `instance` member: a URI naming this occurrence.
    pub instance: Option<String>,
    /// The `traceId` extension member ASP.NET Core adds, when present.
    pub trace_id: Option<String>,
    /// A body that is not a JSON object, as a printable excerpt (`None` when empty).
    pub excerpt: Option<String>,
}

impl ProblemDocument {
    /// Reads a vendor's error body. Never fails: a body that is not a problem document
    /// gives only [`ProblemDocument::excerpt`] (or nothing, when it is empty).
    pub fn read(body: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => {
                let text = |name: &str| {
                    object
                        .get(name)
                        .and_then(Value::as_str)
                        .map(clean)
                        .filter(|s| !s.is_empty())
                };
                ProblemDocument {
                    kind: text("type"),
                    title: text("title"),
                    detail: text("detail"),
                    instance: text("instance"),
                    trace_id: text("traceId"),
                    excerpt: None,
                }
            }
            _ => {
                let excerpt = excerpt(body);
                ProblemDocument {
                    excerpt: (!excerpt.is_empty()).then_some(excerpt),
                    ..ProblemDocument::default()
                }
            }
        }
    }

    /// What the vendor said, in one line: `title: detail`, whichever of the two exist, or
    /// the excerpt of a body that is not a problem document; `None` when it said nothing.
    pub fn message(&self) -> Option<String> {
        match (&self.title, &self.detail) {
            (Some(title), Some(detail)) => Some(format!("{title}: {detail}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => self.excerpt.clone(),
        }
    }

    /// Puts the document's members into a canonical problem's `vendor` map as `type`,
    /// `title`, `detail`, `instance` and `trace_id` (the ones present; `message` is not
    /// added here).
    pub fn add_to(self, map: &mut Map<String, Value>) {
        let members = [
            ("type", self.kind),
            ("title", self.title),
            ("detail", self.detail),
            ("instance", self.instance),
            ("trace_id", self.trace_id),
        ];
        for (name, value) in members {
            if let Some(value) = value {
                map.insert(name.to_owned(), Value::from(value));
            }
        }
    }

    /// The canonical problem for this answer, as [`vendor::problem`](super::problem) makes
    /// it (5xx retryable, `Retry-After` passed on with `rate_limited`), with
    /// [`ProblemDocument::message`] as `vendor.message` and the document's members added
    /// by [`ProblemDocument::add_to`].
    pub fn into_problem(
        self,
        code: ProblemKind,
        response: &VendorResponse<'_>,
        detail: String,
    ) -> Problem {
        let message = self.message();
        let mut canonical = problem(code, response, None, message.as_deref(), detail);
        if let Some(map) = canonical.vendor.as_mut() {
            self.add_to(map);
        }
        canonical
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_is_read_and_cleaned() {
        let body = br#"{"type":"t","title":"Bad\r\nRequest","detail":" d\u0000 ","instance":"/i","traceId":"00-1","status":400}"#;
        let document = ProblemDocument::read(body);
        assert_eq!(
            document,
            ProblemDocument {
                kind: Some("t".into()),
                title: Some("Bad  Request".into()),
                detail: Some("d".into()),
                instance: Some("/i".into()),
                trace_id: Some("00-1".into()),
                excerpt: None,
            }
        );
        assert_eq!(document.message().as_deref(), Some("Bad  Request: d"));
    }

    #[test]
    fn the_message_is_title_or_detail_or_the_excerpt() {
        let title = ProblemDocument::read(br#"{"title":"T","detail":""}"#);
        assert_eq!(title.message().as_deref(), Some("T"));
        let detail = ProblemDocument::read(br#"{"detail":"D","title":5}"#);
        assert_eq!(detail.message().as_deref(), Some("D"));
        let neither = ProblemDocument::read(br#"{"status":500}"#);
        assert_eq!(neither.message(), None);
        let html = ProblemDocument::read(b"<html>\n<h1>Bad gateway</h1></html>");
        assert_eq!(
            html.message().as_deref(),
            Some("<html> <h1>Bad gateway</h1></html>")
        );
        assert_eq!(html.kind, None);
        assert_eq!(ProblemDocument::read(b"").message(), None);
        assert_eq!(
            ProblemDocument::read(b"[1]").excerpt.as_deref(),
            Some("[1]")
        );
    }

    #[test]
    fn into_problem_fills_the_vendor_map() {
        let body = br#"{"type":"t","title":"Busy","instance":"/i"}"#;
        let response = VendorResponse {
            status: 503,
            headers: &[],
            body,
        };
        let p = ProblemDocument::read(body).into_problem(
            ProblemKind::VendorError,
            &response,
            "d".into(),
        );
        assert!(p.retryable);
        assert_eq!(p.detail, "d");
        let vendor = p.vendor.unwrap_or_default();
        let mut keys: Vec<&str> = vendor.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["instance", "message", "status", "title", "type"]);
        assert_eq!(vendor["message"], "Busy");
        assert_eq!(vendor["status"], 503);
    }
}
