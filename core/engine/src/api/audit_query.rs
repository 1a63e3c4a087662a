//! `GET /v1/audit`: the newest entries of **this replica's** audit file, each a request's
//! intent and outcome lines joined on `request_id`, only those the caller's `allow` rules
//! cover (see [`crate::audit::read`] for how the file is read and what is hidden).
//! Fleet-wide history belongs to the log pipeline that collects every replica's file.
//!
//! Query parameters: `request_id`, `backend`, `since` (RFC 3339), `limit` (1 to
//! [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]); an unknown, repeated or invalid one is a 400.

use super::problems;
use crate::audit::read::{self, Filter, Found};
use crate::auth::Caller;
use crate::config::{is_name, NAME_RULE};
use crate::problem::{Answer, ApiProblem};
use crate::Sever;
use percent_encoding::percent_decode_str;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Entries in an answer without `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 500;

impl Sever {
    /// `GET /v1/audit` for `caller`, `query` being the request's query string.
    pub(crate) async fn audit_query(
        &self,
        caller: &Caller,
        query: Option<&str>,
        request_id: &str,
    ) -> Answer {
        let filter = match parse_query(query.unwrap_or_default()) {
            Ok(filter) => filter,
            Err(problem) => return Answer::problem(&problem, request_id),
        };
        let Some(log) = &self.audit else {
            let problem = problems::audit_unreadable(
                "this replica writes no audit log (audit.path is not set)",
            );
            return Answer::problem(&problem, request_id);
        };
        let path = log.path().to_owned();
        let rules = self.auth.rules_of(caller);
        // Reading up to MAX_SCAN_BYTES is file I/O: off the serving threads.
        let read = tokio::task::spawn_blocking(move || read::newest(&path, &filter, &rules)).await;
        match read {
            Ok(Ok(found)) => Answer::json(200, &answer_body(found)),
            Ok(Err(e)) => {
                tracing::error!(error = %e, request_id, "the audit file cannot be read back");
                let problem = problems::audit_unreadable(
                    "this replica's audit file cannot be read (see its log)",
                );
                Answer::problem(&problem, request_id)
            }
            Err(e) => {
                tracing::error!(error = %e, request_id, "reading the audit file failed");
                let problem = problems::audit_unreadable("reading the audit file failed");
                Answer::problem(&problem, request_id)
            }
        }
    }
}

fn answer_body(found: Found) -> serde_json::Value {
    json!({
        "entries": found.entries,
        "scanned_bytes": found.scan.bytes,
        // The byte bound stopped the scan: older entries may exist that were not read.
        "truncated": !found.scan.reached_start && found.scan.bytes >= read::MAX_SCAN_BYTES,
    })
}

/// The filter a query string asks for.
fn parse_query(query: &str) -> Result<Filter, ApiProblem> {
    let mut filter = Filter {
        limit: DEFAULT_LIMIT,
        ..Filter::default()
    };
    let mut seen: Vec<&str> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let bad =
            |why: &str| problems::invalid_audit_query(format!("query parameter {name}: {why}"));
        let value = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| bad("not UTF-8"))?;
        if seen.contains(&name) {
            return Err(bad("given twice"));
        }
        match name {
            "request_id" => {
                if !is_request_id(&value) {
                    return Err(bad("1 to 128 characters of A-Z a-z 0-9 . _ : -"));
                }
                filter.request_id = Some(value.into_owned());
            }
            "backend" => {
                if !is_name(&value) {
                    return Err(bad(NAME_RULE));
                }
                filter.backend = Some(value.into_owned());
            }
            "since" => {
                let since = OffsetDateTime::parse(&value, &Rfc3339)
                    .map_err(|_| bad("an RFC 3339 time, e.g. 2026-12-01T10:00:00Z"))?;
                filter.since = Some(since);
            }
            "limit" => {
                filter.limit = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| bad(&format!("a whole number from 1 to {MAX_LIMIT}")))?;
            }
            _ => {
                let known = "request_id, backend, since, limit";
                return Err(problems::invalid_audit_query(format!(
                    "unknown query parameter {name:?} (known: {known})"
                )));
            }
        }
        seen.push(name);
    }
    Ok(filter)
}

/// What `X-Request-Id` keeps as a request id.
fn is_request_id(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::problem::ProblemCode;

    #[test]
    fn a_query_gives_its_filter() {
        let f = parse_query("").unwrap();
        assert_eq!(f.limit, DEFAULT_LIMIT);
        assert_eq!(f.request_id, None);
        let f = parse_query(
            "request_id=r-1&backend=mqtt-eu&limit=500&since=2026-12-01T10%3A00%3A00%2B01%3A00",
        )
        .unwrap();
        assert_eq!(f.request_id.as_deref(), Some("r-1"));
        assert_eq!(f.backend.as_deref(), Some("mqtt-eu"));
        assert_eq!(f.limit, 500);
        let since = f.since.unwrap();
        assert_eq!(since.to_offset(time::UtcOffset::UTC).hour(), 9);
    }

    #[test]
    fn bad_parameters_are_400() {
        for bad in [
            "limit=0",
            "limit=501",
            "limit=x",
            "limit=-1",
            "since=yesterday",
            "since=2026-12-01",
            "request_id=a%20b",
            "request_id=",
            "backend=Bad!",
            "backend=",
            "limit=1&limit=2",
            "backends=a",
            "request_id=%FF",
        ] {
            let problem = parse_query(bad).unwrap_err();
            assert_eq!(problem.code, ProblemCode::InvalidRequest, "{bad}");
            assert_eq!(problem.code.status(), 400);
        }
    }
}
