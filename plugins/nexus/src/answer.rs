//! Nexus's answers, mapped to canonical outcomes (the table in the crate doc).

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use crate::{Flow, Nexus};

/// Longest vendor string carried into a problem, in characters.
const MAX_TEXT: usize = 1024;

/// Maps one answer to the unbind call.
pub(crate) fn map(nexus: &Nexus, flow: &Flow, response: &VendorResponse<'_>) -> Step {
    let status = response.status;
    if (200..300).contains(&status) {
        if status == 204 || response.body.iter().all(u8::is_ascii_whitespace) {
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
            format!("nexus answered {status} with a body, not 204 No Content"),
        ));
    }

    let problem = VendorProblem::read(response.body);
    let message = problem.message();
    let code = match status {
        400 => ProblemCode::UpstreamRejected,
        401 | 403 => ProblemCode::UpstreamUnauthorized,
        404 => ProblemCode::TargetNotFound,
        429 => ProblemCode::RateLimited,
        other => vendor::code_for_status(other),
    };
    let said = message
        .as_deref()
        .map_or_else(String::new, |m| format!(": {m}"));
    let (client, connection, tenant) = (&flow.client_id, &flow.connection_id, &nexus.tenant_id);
    let detail = match code {
        ProblemCode::TargetNotFound => format!(
            "nexus: client '{client}' on identity connection '{connection}' \
             (tenant '{tenant}') not found{said}"
        ),
        ProblemCode::UpstreamUnauthorized => format!(
            "nexus refused Sever's credentials ({} option) with {status}; the call needs \
             the client.write or client.write.all permission{said}",
            nexus.auth.option()
        ),
        ProblemCode::UpstreamRejected => format!(
            "nexus rejected disabling client '{client}' on identity connection \
             '{connection}' (tenant '{tenant}') with {status}{said}"
        ),
        ProblemCode::RateLimited => format!("nexus is rate limiting Sever ({status}){said}"),
        _ => format!("nexus answered {status}{said}"),
    };
    let mut canonical = vendor::problem(code, response, None, message.as_deref(), detail);
    if let Some(map) = canonical.vendor.as_mut() {
        problem.add_to(map);
    }
    Step::Fail(canonical)
}

/// The members of an RFC 7807 problem body, each cleaned; or an excerpt of a body that
/// is not one.
#[derive(Debug, Default)]
struct VendorProblem {
    kind: Option<String>,
    title: Option<String>,
    detail: Option<String>,
    instance: Option<String>,
    /// ASP.NET-style `traceId`, when present.
    trace_id: Option<String>,
    /// A body that is not a problem document, as a printable excerpt.
    other: Option<String>,
}

impl VendorProblem {
    fn read(body: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => {
                let text = |name: &str| {
                    object
                        .get(name)
                        .and_then(Value::as_str)
                        .map(clean)
                        .filter(|s| !s.is_empty())
                };
                VendorProblem {
                    kind: text("type"),
                    title: text("title"),
                    detail: text("detail"),
                    instance: text("instance"),
                    trace_id: text("traceId"),
                    other: None,
                }
            }
            _ => {
                let excerpt = vendor::excerpt(body);
                VendorProblem {
                    other: (!excerpt.is_empty()).then_some(excerpt),
                    ..VendorProblem::default()
                }
            }
        }
    }

    /// `title: detail`, whichever of the two exist, or the excerpt.
    fn message(&self) -> Option<String> {
        match (&self.title, &self.detail) {
            (Some(title), Some(detail)) => Some(format!("{title}: {detail}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => self.other.clone(),
        }
    }

    /// Copies the problem's members into the canonical problem's `vendor` object.
    fn add_to(self, map: &mut Map<String, Value>) {
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
}

/// A vendor string made safe to show: control characters become spaces, ends trimmed,
/// at most [`MAX_TEXT`] characters.
fn clean(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT)
        .collect();
    safe.trim().to_owned()
}
