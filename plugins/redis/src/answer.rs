//! Reading Redis replies into canonical outcomes (the answer table of the crate doc).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

use crate::{vendor_map, Flow, Waiting};

/// Said after a retry, when the answer is "nothing to kill": the first attempt's answer
/// was lost, and it may have made the cut.
const RETRIED: &str =
    " (the command was retried after a lost answer: the first attempt may have made the cut)";

/// The number a `CLIENT KILL` answered, or the problem for any other reply.
pub(crate) fn count(flow: &Flow, reply: &RedisReply) -> Result<i64, Problem> {
    match reply {
        RedisReply::Integer(n) if *n >= 0 => Ok(*n),
        other => Err(unreadable(flow, other)),
    }
}

/// A reply of a type the command never gives.
pub(crate) fn unreadable(flow: &Flow, reply: &RedisReply) -> Problem {
    let shown = match reply {
        RedisReply::Integer(n) => format!("the integer {n}"),
        RedisReply::Simple(s) => format!("the status '{}'", vendor::clean(s)),
        RedisReply::Bulk(s) => format!("a bulk string '{}'", vendor::excerpt(s.as_bytes())),
        RedisReply::Nil => "nil".to_owned(),
        RedisReply::Error(e) => format!("the error '{}'", vendor::clean(e)),
        RedisReply::Array(items) => format!("an array of {} strings", items.len()),
    };
    let detail = format!(
        "redis answered {} to {} ({}): not what the command returns",
        shown,
        flow.purpose(),
        flow.subject
    );
    Problem::new(ProblemKind::Unreadable, detail).with_vendor(vendor_map(flow, None))
}

/// The problem for an error reply: its first word is the code, the rest the message.
pub(crate) fn error(flow: &Flow, text: &str) -> Problem {
    let text = vendor::clean(text);
    let (code, message) = text.split_once(' ').unwrap_or((text.as_str(), ""));
    let said = vendor::clean(message);
    let vendor = vendor_map(flow, Some((code, &said)));
    let purpose = flow.purpose();
    let subject = &flow.subject;
    let (kind, retryable, detail) = match code {
        "WRONGPASS" | "NOAUTH" | "NOPERM" => (
            ProblemKind::CredentialsRefused,
            false,
            format!("redis refused Sever's credentials or permissions ({purpose}): {code} {said}"),
        ),
        "ERR" if flow.waiting == Waiting::KillUser && said.starts_with("No such user") => {
            return not_found(flow, Some((code, &said)));
        }
        "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" => (
            ProblemKind::Unavailable,
            true,
            format!("redis cannot serve now ({purpose} for {subject}): {code} {said}"),
        ),
        _ => (
            ProblemKind::Rejected,
            false,
            format!("redis refused {purpose} for {subject}: {code} {said}"),
        ),
    };
    let mut problem = Problem::new(kind, detail.trim_end().to_owned()).with_vendor(vendor);
    problem.retryable = retryable;
    problem
}

/// `target_not_found`: nothing matched, or every match was gone before its kill.
pub(crate) fn not_found(flow: &Flow, error: Option<(&str, &str)>) -> Problem {
    let what = match flow.waiting {
        Waiting::KillId => format!("redis has no {}", flow.subject),
        Waiting::KillUser => match error {
            Some((_, said)) => format!("redis has no {}: {said}", flow.subject),
            None => format!("redis has no connection of {}", flow.subject),
        },
        Waiting::List => format!("redis has no connection with {}", flow.subject),
        Waiting::KillListed => format!(
            "every connection with {} ended before its kill",
            flow.subject
        ),
    };
    let retried = if flow.retried { RETRIED } else { "" };
    Problem::new(ProblemKind::TargetNotFound, format!("{what}{retried}"))
        .with_vendor(vendor_map(flow, error))
}

/// The end of a flow once every kill is answered: `done` with the count, or
/// `target_not_found` when nothing was killed.
pub(crate) fn finished(flow: &Flow) -> Step {
    if flow.closed == 0 {
        return Step::Fail(not_found(flow, None));
    }
    let mut vendor = vendor_map(flow, None);
    if !flow.killed.is_empty() {
        let ids = flow.killed.iter().map(|id| Value::from(*id));
        vendor.insert("connections".into(), Value::Array(ids.collect()));
    }
    Step::Done(Success {
        outcome: Outcome::Done,
        vendor,
    })
}
