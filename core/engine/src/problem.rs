//! Canonical answers: the success body and RFC 9457 problem details (spec §4).

use crate::plugin::{Action, Problem, Success};
pub use crate::problem_code::ProblemCode;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// A problem on its way to the caller: the code plus what only the host knows.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiProblem {
    pub code: ProblemCode,
    pub detail: String,
    pub backend: Option<String>,
    pub vendor: Option<Map<String, Value>>,
    /// `Retry-After` to send with a 429.
    pub retry_after: Option<String>,
}

impl ApiProblem {
    /// A problem with a code and detail.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        ApiProblem {
            code,
            detail: detail.into(),
            backend: None,
            vendor: None,
            retry_after: None,
        }
    }

    /// Names the backend the problem concerns.
    pub fn on_backend(mut self, backend: &str) -> Self {
        self.backend = Some(backend.to_owned());
        self
    }

    /// A problem an adapter reported for `backend`: its kind answered with the code the
    /// ABI documents for it.
    pub fn from_plugin(problem: Problem, backend: &str) -> Self {
        ApiProblem {
            code: ProblemCode::from(problem.kind),
            detail: problem.detail,
            backend: Some(backend.to_owned()),
            vendor: problem.vendor,
            retry_after: problem.retry_after,
        }
    }

    /// The vendor's HTTP status, when the vendor answered.
    pub fn vendor_status(&self) -> Option<u64> {
        self.vendor.as_ref()?.get("status")?.as_u64()
    }

    /// The problem document.
    pub fn to_json(&self, request_id: &str) -> Value {
        let mut doc = json!({
            "type": self.code.type_uri(),
            "title": self.code.title(),
            "status": self.code.status(),
            "code": self.code.as_str(),
            "detail": self.detail,
            "request_id": request_id,
        });
        if let Some(map) = doc.as_object_mut() {
            if let Some(b) = &self.backend {
                map.insert("backend".into(), Value::from(b.as_str()));
            }
            if let Some(v) = &self.vendor {
                map.insert("vendor".into(), Value::Object(v.clone()));
            }
        }
        doc
    }
}

/// The body of a canonical success (spec §4), written straight from a typed struct: the
/// same bytes a `json!` value would give (members in the same, sorted, order) with one
/// allocation instead of twenty — this is on every request's path.
pub fn success_body(
    request_id: &str,
    action: Action,
    backend: &str,
    success: &Success,
    duration_ms: f64,
) -> Vec<u8> {
    #[derive(Serialize)]
    struct Body<'a> {
        action: Action,
        backend: &'a str,
        duration_ms: f64,
        outcome: &'static str,
        request_id: &'a str,
        vendor: &'a Map<String, Value>,
    }
    let body = Body {
        action,
        backend,
        duration_ms,
        outcome: success.outcome.as_str(),
        request_id,
        vendor: &success.vendor,
    };
    let mut out = Vec::with_capacity(256);
    // A struct of strings, a number and a map with string keys cannot fail to serialize.
    if serde_json::to_writer(&mut out, &body).is_err() {
        out.clear();
    }
    out
}

/// A complete HTTP answer, independent of the server framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: &Value) -> Self {
        Answer {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        }
    }

    /// `status` with a JSON body already written.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Answer {
            status,
            headers: vec![("content-type", "application/json".to_owned())],
            body,
        }
    }

    /// A problem answer (`application/problem+json`), with `WWW-Authenticate` for 401 and
    /// `Retry-After` where known.
    pub fn problem(problem: &ApiProblem, request_id: &str) -> Self {
        let mut headers = vec![("content-type", "application/problem+json".to_owned())];
        if problem.code == ProblemCode::Unauthenticated {
            headers.push(("www-authenticate", "Bearer realm=\"sever\"".to_owned()));
        }
        if let Some(r) = &problem.retry_after {
            headers.push(("retry-after", r.clone()));
        }
        Answer {
            status: problem.code.status(),
            headers,
            body: problem.to_json(request_id).to_string().into_bytes(),
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Answer {
            status,
            headers: vec![("content-type", content_type.to_owned())],
            body: body.into(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn problem_document_has_every_rfc9457_member_and_the_code() {
        let p = ApiProblem::new(ProblemCode::TargetNotFound, "gone").on_backend("mqtt-eu");
        let doc = p.to_json("r1");
        assert_eq!(doc["type"], "/problems/target-not-found");
        assert_eq!(doc["title"], "The backend has no such target");
        assert_eq!(doc["status"], 404);
        assert_eq!(doc["code"], "target_not_found");
        assert_eq!(doc["detail"], "gone");
        assert_eq!(doc["request_id"], "r1");
        assert_eq!(doc["backend"], "mqtt-eu");
    }

    #[test]
    fn the_typed_success_body_is_what_a_json_value_would_give() {
        let mut vendor = Map::new();
        vendor.insert("status".into(), Value::from(200));
        vendor.insert("request_id".into(), Value::from("82B9\"E503"));
        let success = Success {
            outcome: crate::plugin::Outcome::Accepted,
            vendor,
        };
        let typed = success_body("r-1", Action::Terminate, "privx", &success, 3.125);
        let value = json!({
            "request_id": "r-1",
            "action": Action::Terminate,
            "backend": "privx",
            "outcome": "accepted",
            "vendor": success.vendor,
            "duration_ms": 3.125,
        });
        assert_eq!(String::from_utf8(typed).unwrap(), value.to_string());
    }

    #[test]
    fn unauthenticated_answers_carry_www_authenticate() {
        let a = Answer::problem(&ApiProblem::new(ProblemCode::Unauthenticated, "x"), "r");
        assert_eq!(a.status, 401);
        assert!(a
            .headers
            .iter()
            .any(|(n, v)| *n == "www-authenticate" && v.starts_with("Bearer")));
    }
}
