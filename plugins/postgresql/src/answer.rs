//! Reading the query's result into a canonical outcome (the answer table of the crate doc).

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use crate::Flow;

/// Said after a retry, when the query found nothing: the first attempt's answer was lost,
/// and it may have made the cut.
const RETRIED: &str =
    " (the query was retried after a lost answer: the first attempt may have made the cut)";

/// The outcome of the query's result.
pub(crate) fn read(flow: &Flow, result: &SqlResult) -> Step {
    if let Some(error) = &result.error {
        return Step::Fail(failed(flow, error));
    }
    let rows = match rows(result) {
        Ok(rows) => rows,
        Err(problem) => return Step::Fail(problem),
    };
    let mut vendor = Map::new();
    if let Some(notice) = result.notices.first() {
        vendor.insert("code".into(), Value::from(vendor::clean(&notice.code)));
        vendor.insert(
            "message".into(),
            Value::from(vendor::clean(&notice.message)),
        );
    }
    if rows.is_empty() {
        let retried = if flow.retried { RETRIED } else { "" };
        let detail = format!("postgresql has no session of {}{retried}", flow.subject);
        vendor.insert("closed".into(), Value::from(0));
        return Step::Fail(Problem::new(ProblemKind::TargetNotFound, detail).with_vendor(vendor));
    }
    let ended = rows.iter().filter(|(_, ended)| *ended).count();
    let missed = rows.len() - ended;
    // With timeout 0 `true` only means the signal was sent.
    let (yes, no) = if flow.timeout_ms > 0 {
        ("closed", "not_closed")
    } else {
        ("signalled", "not_signalled")
    };
    vendor.insert(yes.into(), Value::from(ended));
    if missed > 0 {
        vendor.insert(no.into(), Value::from(missed));
    }
    let pids = rows.iter().map(|(pid, _)| Value::from(*pid));
    vendor.insert("pids".into(), Value::Array(pids.collect()));
    let outcome = if flow.timeout_ms > 0 && missed == 0 {
        Outcome::Done
    } else {
        Outcome::Accepted
    };
    Step::Done(Success { outcome, vendor })
}

/// The rows as `(pid, terminated)`, or `unreadable` for any other shape.
fn rows(result: &SqlResult) -> Result<Vec<(i64, bool)>, Problem> {
    result
        .rows
        .iter()
        .map(|row| match row.as_slice() {
            [pid, ended] => match (pid_of(pid), flag_of(ended)) {
                (Some(pid), Some(ended)) => Ok((pid, ended)),
                _ => Err(unreadable(row)),
            },
            _ => Err(unreadable(row)),
        })
        .collect()
}

fn pid_of(value: &SqlValue) -> Option<i64> {
    match value {
        SqlValue::Int4(n) => Some(i64::from(*n)),
        SqlValue::Int8(n) => Some(*n),
        SqlValue::Text(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            t.parse().ok()
        }
        _ => None,
    }
}

fn flag_of(value: &SqlValue) -> Option<bool> {
    match value {
        SqlValue::Bool(b) => Some(*b),
        SqlValue::Text(t) if t == "t" || t == "true" => Some(true),
        SqlValue::Text(t) if t == "f" || t == "false" => Some(false),
        _ => None,
    }
}

fn unreadable(row: &[SqlValue]) -> Problem {
    let shown = serde_json::to_string(row).unwrap_or_default();
    Problem::new(
        ProblemKind::Unreadable,
        format!(
            "postgresql answered a row that is not (pid, terminated): {}",
            vendor::excerpt(shown.as_bytes())
        ),
    )
}

/// The problem for an error the server sent: by SQLSTATE (texts differ between versions).
fn failed(flow: &Flow, error: &SqlMessage) -> Problem {
    let code = vendor::clean(&error.code);
    let message = vendor::clean(&error.message);
    let mut said = format!("{code} {message}");
    if let Some(detail) = error.detail.as_deref().map(vendor::clean) {
        if !detail.is_empty() {
            said = format!("{said} ({detail})");
        }
    }
    let subject = &flow.subject;
    let class = code.get(..2).unwrap_or_default();
    let (kind, detail) = match (code.as_str(), class) {
        ("42501" | "28P01" | "28000", _) => (
            ProblemKind::CredentialsRefused,
            format!("postgresql refused Sever's role or its rights: {said}"),
        ),
        (_, "22" | "42") => (
            ProblemKind::Rejected,
            format!("postgresql refused the query for {subject} (a Sever bug): {said}"),
        ),
        _ => (
            ProblemKind::VendorError,
            format!("postgresql failed the query for {subject}: {said}"),
        ),
    };
    let mut vendor = Map::new();
    vendor.insert("code".into(), Value::from(code.as_str()));
    vendor.insert("message".into(), Value::from(message));
    let mut problem = Problem::new(kind, detail).with_vendor(vendor);
    // Connection exceptions, too many connections, a server shutting down or starting:
    // another attempt, on a fresh connection, may succeed.
    problem.retryable = kind == ProblemKind::VendorError && matches!(class, "08" | "53" | "57");
    problem
}
