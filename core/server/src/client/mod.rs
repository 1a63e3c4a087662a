//! The command-line client: `sever act`, `sever approvals`, `sever backends`,
//! `sever plugins --remote` and `sever health`, talking to a running Sever over its HTTP API (`docs/cli.md`).
//!
//! Every command prints a table for people or, with `--json`, Sever's own JSON answer
//! for scripts, and ends with an exit status a script can branch on ([`Exit`]).

pub(crate) mod act;
pub(crate) mod approvals;
pub(crate) mod listing;
mod remote;
mod table;

pub(crate) use remote::Connection;
use remote::{ClientError, Remote, Reply};

use crate::out::Out;
use std::process::ExitCode;

/// Exit statuses of the client commands (and of clap's usage errors, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Done, accepted or dry-run: every backend did what was asked.
    Done,
    /// The request failed, or every backend of a fan-out did.
    Failed,
    /// The command line (or a file it names) is wrong.
    Usage,
    /// A fan-out where some backends failed and some did not.
    Partial,
    /// Sever answered 202: the request waits (for an approval).
    Pending,
}

impl Exit {
    /// The process exit status.
    pub(crate) fn code(self) -> u8 {
        match self {
            Exit::Done => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Partial => 3,
            Exit::Pending => 4,
        }
    }

    /// What an answer means for the exit status: 202 waits; 207 is partial unless every
    /// backend failed; other 2xx are done; anything else failed.
    pub(crate) fn of(reply: &Reply) -> Exit {
        match reply.status {
            202 => Exit::Pending,
            207 => {
                let summary = reply.json.as_ref().map(|j| &j["summary"]);
                let count = |k: &str| summary.and_then(|s| s[k].as_u64()).unwrap_or(0);
                let succeeded = count("done") + count("accepted") + count("dry_run");
                if count("failed") > 0 && succeeded == 0 {
                    Exit::Failed
                } else {
                    Exit::Partial
                }
            }
            200..=299 => Exit::Done,
            _ => Exit::Failed,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Reports a client error on stderr; its exit status.
fn fail(error: &ClientError) -> Exit {
    eprintln!("sever: {error}");
    if error.is_usage() {
        Exit::Usage
    } else {
        Exit::Failed
    }
}

/// Prints an answer as JSON (`--json`): Sever's body as it came, one line.
fn print_json(reply: &Reply) {
    let mut out = Out::new();
    out.line(reply.text.trim_end());
    out.flush();
}

/// Says on stderr why a 401 probably happened.
fn hint_unauthenticated(remote: &Remote, reply: &Reply) {
    if reply.status == 401 && !remote.has_token() {
        eprintln!(
            "sever: no token was sent: put it in ${} or pass --token-file FILE",
            remote::TOKEN_ENV
        );
    }
}

/// A problem document as one line: `403 forbidden: <detail>`.
fn problem_line(reply: &Reply) -> String {
    match &reply.json {
        Some(doc) if doc["code"].is_string() => format!(
            "{} {}: {}",
            reply.status,
            doc["code"].as_str().unwrap_or_default(),
            doc["detail"].as_str().unwrap_or_default()
        ),
        _ => format!("{} {}", reply.status, reply.text.trim()),
    }
}
