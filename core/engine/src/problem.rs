//! Canonical answers: the success body and RFC 9457 problem details (spec §4).

use serde_json::{json, Map, Value};
use sever_plugin_sdk::{Problem, ProblemCode};

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

    /// A problem an adapter reported for `backend`.
    pub fn from_plugin(problem: Problem, backend: &str) -> Self {
        ApiProblem {
            code: problem.code,
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
    fn unauthenticated_answers_carry_www_authenticate() {
        let a = Answer::problem(&ApiProblem::new(ProblemCode::Unauthenticated, "x"), "r");
        assert_eq!(a.status, 401);
        assert!(a
            .headers
            .iter()
            .any(|(n, v)| *n == "www-authenticate" && v.starts_with("Bearer")));
    }
}
