//! Reading the management API's answers into canonical outcomes (the mapping table of the
//! crate documentation).

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use crate::Flow;

/// Stands for "no answer yet" where a flow starts with a delete.
pub(crate) const NOTHING_YET: VendorResponse<'static> = VendorResponse {
    status: 0,
    headers: &[],
    body: b"",
};

/// The rows of a 2xx list answer, or the problem for any other answer.
pub(crate) fn rows(
    flow: &Flow,
    response: &VendorResponse<'_>,
    what: &str,
) -> Result<Vec<Map<String, Value>>, Problem> {
    if !(200..300).contains(&response.status) {
        return Err(failed(flow, response));
    }
    let unreadable = || {
        vendor::unexpected_body(
            response,
            format!(
                "rabbitmq answered {} to {what} with a body that is not a JSON list: {}",
                response.status,
                vendor::excerpt(response.body)
            ),
        )
    };
    match response.json() {
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(row) => Ok(row),
                _ => Err(unreadable()),
            })
            .collect(),
        _ => Err(unreadable()),
    }
}

/// The end of a flow once nothing is left to delete: `done` with the count, or
/// `target_not_found` when nothing was deleted.
pub(crate) fn finished(flow: &Flow, last: &VendorResponse<'_>) -> Step {
    let count_key = if flow.bindings { "unbound" } else { "closed" };
    let mut vendor = vendor::vendor_map(last);
    vendor.insert(count_key.into(), Value::from(flow.deleted.len()));
    if flow.deleted.is_empty() {
        let what = if flow.bindings {
            "no such binding"
        } else {
            "no open connection of"
        };
        let detail = format!("rabbitmq: {what} {}", flow.subject);
        return Step::Fail(Problem::new(ProblemKind::TargetNotFound, detail).with_vendor(vendor));
    }
    if !flow.bindings {
        let names = flow.deleted.iter().map(|n| Value::from(n.as_str()));
        vendor.insert("connections".into(), Value::Array(names.collect()));
    }
    Step::Done(Success {
        outcome: Outcome::Done,
        vendor,
    })
}

/// The problem for a non-2xx answer to the step in flight: the broker's `error` and
/// `reason` in `vendor.code` and `vendor.message` and in `detail`, with what the step was
/// and what the request was about; the count closed so far when it is not zero.
pub(crate) fn failed(flow: &Flow, response: &VendorResponse<'_>) -> Problem {
    let body = response.json();
    let member = |name: &str| {
        body.as_ref()
            .and_then(|b| b.get(name))
            .and_then(Value::as_str)
            .map(vendor::clean)
            .filter(|s| !s.is_empty())
    };
    let error = member("error");
    let message = member("reason").unwrap_or_else(|| vendor::excerpt(response.body));
    let said = match (&error, message.is_empty()) {
        (Some(error), false) => format!("{error}: {message}"),
        (Some(error), true) => error.clone(),
        (None, false) => message.clone(),
        (None, true) => "no error body".to_owned(),
    };
    let status = response.status;
    let step = flow
        .last
        .as_ref()
        .and_then(|r| r.purpose.as_deref())
        .unwrap_or("the call");
    let subject = &flow.subject;
    let code = vendor::kind_for_status(status);
    let detail = match code {
        ProblemKind::TargetNotFound => {
            format!("rabbitmq: not found ({step}) for {subject}: {said}")
        }
        ProblemKind::CredentialsRefused => {
            format!("rabbitmq refused the management credentials ({status}, {step}): {said}")
        }
        ProblemKind::RateLimited => format!("rabbitmq is rate limiting ({step}): {said}"),
        _ => format!("rabbitmq answered {status} to {step} for {subject}: {said}"),
    };
    let message = (!message.is_empty()).then_some(message);
    let mut problem = vendor::problem(code, response, error.as_deref(), message.as_deref(), detail);
    if let (false, Some(vendor)) = (flow.deleted.is_empty(), problem.vendor.as_mut()) {
        let key = if flow.bindings { "unbound" } else { "closed" };
        vendor.insert(key.into(), Value::from(flow.deleted.len()));
    }
    problem
}
