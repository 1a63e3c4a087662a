//! Reading what the servers said: a refused connection, no responders, no reply, a KICK's
//! reply and the servers' errors.

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use crate::connz::{self, ApiError};

/// Which request the replies answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Asked<'a> {
    /// `$SYS.REQ.SERVER.PING.CONNZ`, gathered for `gather_ms`.
    Discovery { gather_ms: u64 },
    /// `$SYS.REQ.SERVER.<server>.KICK`.
    Kick { server: &'a str },
}

/// The problem the replies mean before any is read: the server's `-ERR`, no responders,
/// or no reply at all. `None` when there are replies to read.
pub(crate) fn refusal(replies: &NatsReplies, asked: Asked<'_>) -> Option<Problem> {
    if let Some(error) = &replies.error {
        return Some(server_error(error));
    }
    if replies.no_responders {
        let detail = match asked {
            Asked::Discovery { .. } => format!(
                "no server answered {} (no responders): the user is not in the system \
                 account, or the server has no system account",
                connz::PING_CONNZ
            ),
            Asked::Kick { server } => format!(
                "no responders on $SYS.REQ.SERVER.{server}.KICK: the server is older than \
                 NATS 2.10.0 (which added KICK), no server has the id '{server}', or the \
                 user is not in the system account"
            ),
        };
        let mut vendor = Map::new();
        vendor.insert("message".into(), Value::from("no responders"));
        return Some(Problem::new(ProblemKind::Rejected, detail).with_vendor(vendor));
    }
    if replies.replies.is_empty() {
        let detail = match asked {
            Asked::Discovery { gather_ms } => {
                format!("no server answered the discovery within {gather_ms} ms")
            }
            Asked::Kick { server } => format!(
                "server '{server}' did not answer the KICK (a request it cannot read is only \
                 logged, never answered)"
            ),
        };
        return Some(Problem::new(ProblemKind::Timeout, detail));
    }
    None
}

/// The problem for the server's `-ERR` text (also the connection's refused `CONNECT`).
fn server_error(error: &str) -> Problem {
    let text = vendor::clean(error);
    let text = text.trim_matches('\'').trim().to_owned();
    let lower = text.to_ascii_lowercase();
    let (kind, detail) = if [
        "authorization violation",
        "authentication expired",
        "authentication revoked",
        "permissions violation",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        (
            ProblemKind::CredentialsRefused,
            format!("nats refused Sever's credentials or permissions: {text}"),
        )
    } else if lower.contains("maximum connections exceeded")
        || lower.contains("maximum account active connections exceeded")
    {
        (
            ProblemKind::Unavailable,
            format!("nats cannot take Sever's connection now: {text}"),
        )
    } else {
        (
            ProblemKind::VendorError,
            format!("nats answered -ERR {text}"),
        )
    };
    let mut vendor = Map::new();
    vendor.insert("code".into(), Value::from(text.as_str()));
    vendor.insert("message".into(), Value::from(text.as_str()));
    let mut problem = Problem::new(kind, detail).with_vendor(vendor);
    problem.retryable = kind == ProblemKind::Unavailable;
    problem
}

/// The problem for an error a server answered a request with: 400 (options it could not
/// read) is a Sever bug, anything else the server's failure.
pub(crate) fn api_problem(error: &ApiError, what: &str) -> Problem {
    let kind = if error.code == 400 {
        ProblemKind::Rejected
    } else {
        ProblemKind::VendorError
    };
    let detail = format!(
        "nats answered {what} with error {}: {}",
        error.code, error.description
    );
    Problem::new(kind, detail).with_vendor(api_vendor(error))
}

pub(crate) fn api_vendor(error: &ApiError) -> Map<String, Value> {
    let mut vendor = Map::new();
    vendor.insert("code".into(), Value::from(error.code));
    vendor.insert("message".into(), Value::from(error.description.as_str()));
    vendor
}

/// What a server answered a KICK with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kick {
    /// No `error`: the connection is closed.
    Closed,
    /// Error 500 "no such client or leafnode id": it is gone (or never was).
    NoSuchClient(ApiError),
    /// Another answer.
    Failed(Problem),
}

/// Reads the first reply to a KICK.
pub(crate) fn kick(replies: &NatsReplies, server: &str) -> Kick {
    if let Some(problem) = refusal(replies, Asked::Kick { server }) {
        return Kick::Failed(problem);
    }
    let reply = replies
        .replies
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let Ok(doc) = serde_json::from_str::<Value>(reply) else {
        let excerpt = vendor::excerpt(reply.as_bytes());
        let mut vendor = Map::new();
        vendor.insert("message".into(), Value::from(excerpt.as_str()));
        return Kick::Failed(
            Problem::new(
                ProblemKind::Unreadable,
                format!("server '{server}' answered the KICK with something not JSON: {excerpt}"),
            )
            .with_vendor(vendor),
        );
    };
    match connz::api_error(&doc) {
        None => Kick::Closed,
        Some(error) if error.code == 500 && error.description.contains("no such client") => {
            Kick::NoSuchClient(error)
        }
        Some(error) => Kick::Failed(api_problem(&error, "the KICK")),
    }
}
