//! The audit log (spec §7, as docs/audit.md tells it): a JSON-lines file with, for each
//! canonical request that passed parsing, an `intent` line written before the first
//! vendor call (none for a dry-run or a refusal: nothing is sent) and `outcome` lines
//! after it, linked by `request_id`. No secrets, no bearer tokens.
//!
//! `file.rs` writes whole lines or nothing; `safe_text.rs` escapes the characters that
//! could spoof a viewer of the raw file. `read.rs` reads the file back for `GET /v1/audit`
//! (newest first, from the end, in bounded chunks: `backwards.rs`).

mod backwards;
mod file;
pub mod read;
pub mod safe_text;

pub use file::{AuditError, AuditLog, Fsync};

use crate::plugin::{Action, Target};
use serde::Serialize;
use serde_json::Value;

/// The `phase` of a request's line written before its first vendor call.
pub const INTENT: &str = "intent";
/// The `phase` of a line telling how a request (or one backend's part) ended.
pub const OUTCOME: &str = "outcome";
/// The `phase` of a line telling a four-eyes approval's transition.
pub const APPROVAL: &str = "approval";

/// The line written before a request's first vendor call: who asks what, of whom, why.
#[derive(Debug, Serialize)]
pub struct IntentRecord<'a> {
    pub time: String,
    pub phase: &'static str,
    pub request_id: &'a str,
    pub caller: &'a str,
    pub action: Action,
    /// A single-backend request's backend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<&'a str>,
    /// A fan-out's backends that will be called.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backends: Option<&'a [&'a str]>,
    pub target: &'a Target,
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// The run of an approved request: its approval and who approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<&'a str>,
}

/// One outcome line (spec §7). Members that only some lines carry are left out when unset.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    pub time: String,
    /// Always [`OUTCOME`].
    pub phase: &'static str,
    pub request_id: &'a str,
    pub caller: &'a str,
    pub action: Action,
    /// The backend of a single request or of one part of a fan-out; null on a fan-out's
    /// own line.
    pub backend: Option<&'a str>,
    /// A fan-out's own line: the backends it selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backends: Option<&'a [&'a str]>,
    pub target: &'a Target,
    pub reason: Option<&'a str>,
    pub dry_run: bool,
    /// `done`, `accepted` or `dry_run` for an answered request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'a str>,
    /// The problem code of a refused or failed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    pub vendor_status: Option<&'a Value>,
    pub vendor_request_id: Option<&'a Value>,
    /// The server's own error code and message (a SQLSTATE, a Redis error word, a dynsec
    /// error text, a NATS error), when the vendor answer carried them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_code: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_message: Option<&'a Value>,
    pub duration_ms: f64,
    /// The HTTP status of a fan-out's or a replay's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A fan-out's tally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<&'a Value>,
    /// An `Idempotency-Key` replay: nothing was sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    /// Sever runs without caller authentication.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// The run of an approved request: its approval and who approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approver: Option<&'a str>,
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
    }
}
