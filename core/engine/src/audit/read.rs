//! Reading this replica's audit file back (`GET /v1/audit`): the newest requests first,
//! each with its intent line and outcome lines joined on `request_id`.
//!
//! The file is read backwards from its end in bounded chunks (`backwards.rs`), at most
//! [`MAX_SCAN_BYTES`] per query, and the scan stops as soon as `limit` entries are known
//! whole. A request's lines are found going back from its newest one:
//!
//! - its **intent** line is always its first: once it is read, the entry is whole;
//! - a request without one (a dry-run, a refusal, a replay) is whole once the scan has
//!   read a line older than the request's start — its newest line's `time` less the
//!   largest `duration_ms` of its lines — by more than [`SETTLE`] (lines of concurrent
//!   requests are written in the order they were made, give or take that).
//!
//! A caller sees an entry only when it may run the entry's action on **every** backend the
//! entry's lines name (`backend`, `backends`): a fan-out touching one backend outside its
//! `allow` rules is hidden whole, as is an entry naming no backend at all (a fan-out
//! refused before its backends were selected). Nothing is shown in part.

use super::backwards::lines_backwards;
pub use super::backwards::Scan;
use super::{INTENT, OUTCOME};
use crate::plugin::Action;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The most bytes one query reads from the file.
pub const MAX_SCAN_BYTES: u64 = 16 * 1024 * 1024;
/// How far past a request's start the scan goes before an entry without an intent line is
/// taken as whole.
pub const SETTLE: Duration = Duration::seconds(2);

/// What to look for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only the entries of this `request_id`.
    pub request_id: Option<String>,
    /// Only entries naming this backend.
    pub backend: Option<String>,
    /// Only entries whose newest line is at or after this time.
    pub since: Option<OffsetDateTime>,
    /// At most this many entries.
    pub limit: usize,
}

/// Which backends a caller may see entries of: its `allow` rules.
pub trait Coverage {
    /// Whether the caller may run `action` on the backend called `backend`.
    fn covers(&self, backend: &str, action: Action) -> bool;
}

/// What a query found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Newest first, as JSON (see `docs/api.md`).
    pub entries: Vec<Value>,
    /// How the scan ended.
    pub scan: Scan,
}

/// One request's lines, newest first as read.
#[derive(Debug)]
struct Entry {
    request_id: String,
    lines: Vec<Value>,
    intent: bool,
    /// No line names a backend outside the caller's rules, nor an unknown action.
    covered: bool,
    /// Backend names in the order the lines (oldest first) name them.
    names: Vec<String>,
    newest: Option<OffsetDateTime>,
    longest: Duration,
    whole: bool,
}

impl Entry {
    fn new(request_id: String, time: Option<OffsetDateTime>) -> Self {
        Entry {
            request_id,
            lines: Vec::new(),
            intent: false,
            covered: true,
            names: Vec::new(),
            newest: time,
            longest: Duration::ZERO,
            whole: false,
        }
    }

    fn add(&mut self, line: Value, coverage: &dyn Coverage) {
        let action = line
            .get("action")
            .and_then(Value::as_str)
            .and_then(Action::parse);
        let mut named: Vec<&str> = Vec::new();
        if let Some(b) = line.get("backend").and_then(Value::as_str) {
            named.push(b);
        }
        if let Some(list) = line.get("backends").and_then(Value::as_array) {
            named.extend(list.iter().filter_map(Value::as_str));
        }
        for name in named {
            if !action.is_some_and(|a| coverage.covers(name, a)) {
                self.covered = false;
            }
            if !self.names.iter().any(|n| n == name) {
                self.names.push(name.to_owned());
            }
        }
        let took = line.get("duration_ms").and_then(Value::as_f64);
        if let Some(ms) = took.filter(|ms| ms.is_finite()) {
            let took = Duration::seconds_f64(ms.clamp(0.0, 86_400_000.0) / 1000.0);
            self.longest = self.longest.max(took);
        }
        if line.get("phase").and_then(Value::as_str) == Some(INTENT) {
            self.intent = true;
            self.whole = true;
        }
        self.lines.push(line);
    }

    /// The time before which no line of this request was written (give or take
    /// [`SETTLE`]).
    fn started(&self) -> Option<OffsetDateTime> {
        self.newest.map(|t| t - self.longest)
    }

    /// For an entry that just became whole: whether it is shown. The lines of one that is
    /// not are dropped at once, so what a scan holds is bounded by what it shows (and
    /// the few entries still open), not by the bytes it read.
    fn settle(&mut self, filter: &Filter) -> bool {
        let shown = self.shown(filter);
        if !shown {
            self.lines = Vec::new();
            self.covered = false;
        }
        shown
    }

    fn shown(&self, filter: &Filter) -> bool {
        self.covered
            && !self.names.is_empty()
            && filter
                .backend
                .as_ref()
                .is_none_or(|b| self.names.contains(b))
            && match (filter.since, self.newest) {
                (Some(since), Some(newest)) => newest >= since,
                (Some(_), None) => false,
                (None, _) => true,
            }
    }

    fn into_json(mut self) -> Value {
        self.lines.reverse();
        let first = self.lines.first().cloned().unwrap_or(Value::Null);
        let intent = self
            .lines
            .iter()
            .position(|l| l.get("phase").and_then(Value::as_str) == Some(INTENT))
            .map(|i| self.lines.remove(i));
        let state = if self.lines.is_empty() {
            "no_outcome"
        } else {
            "ended"
        };
        json!({
            "request_id": self.request_id,
            "time": first.get("time"),
            "caller": first.get("caller"),
            "action": first.get("action"),
            "backends": self.names,
            "state": state,
            "intent": intent,
            "outcomes": self.lines,
        })
    }
}

fn line_time(line: &Value) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(line.get("time")?.as_str()?, &Rfc3339).ok()
}

/// The newest entries of the audit file at `path` that `coverage` may see and `filter`
/// selects.
pub fn newest(path: &Path, filter: &Filter, coverage: &dyn Coverage) -> io::Result<Found> {
    newest_within(path, filter, coverage, MAX_SCAN_BYTES)
}

/// [`newest`], reading at most `budget` bytes.
fn newest_within(
    path: &Path,
    filter: &Filter,
    coverage: &dyn Coverage,
    budget: u64,
) -> io::Result<Found> {
    let file = File::open(path)?;
    let mut entries: Vec<Entry> = Vec::new();
    // Entries not yet whole, by request id, as indexes into `entries`.
    let mut open: HashMap<String, usize> = HashMap::new();
    // No new entry is begun once this is set (enough were found, or `since` was passed).
    let mut no_new = false;
    // Whole entries the caller may see, so far.
    let mut whole_shown = 0usize;
    let scan = lines_backwards(&file, budget, |raw| {
        let Ok(line) = serde_json::from_slice::<Value>(raw) else {
            return ControlFlow::Continue(());
        };
        let phase = line.get("phase").and_then(Value::as_str);
        let Some(id) = line.get("request_id").and_then(Value::as_str) else {
            return ControlFlow::Continue(());
        };
        if phase != Some(INTENT) && phase != Some(OUTCOME) {
            return ControlFlow::Continue(());
        }
        let time = line_time(&line);
        if let Some(time) = time {
            open.retain(|_, &mut i| {
                let entry = &mut entries[i];
                if entry.started().is_some_and(|s| time < s - SETTLE) {
                    entry.whole = true;
                    whole_shown += usize::from(entry.settle(filter));
                }
                !entry.whole
            });
            if filter.since.is_some_and(|since| time < since - SETTLE) {
                no_new = true;
            }
        }
        if filter.request_id.as_deref().is_none_or(|r| r == id) {
            let index = match open.get(id) {
                Some(&i) => Some(i),
                None if no_new => None,
                None => {
                    entries.push(Entry::new(id.to_owned(), time));
                    open.insert(id.to_owned(), entries.len() - 1);
                    Some(entries.len() - 1)
                }
            };
            if let Some(i) = index {
                let id = id.to_owned();
                let entry = &mut entries[i];
                entry.add(line, coverage);
                if entry.whole {
                    whole_shown += usize::from(entry.settle(filter));
                    open.remove(&id);
                }
            }
        }
        if whole_shown >= filter.limit {
            no_new = true;
        }
        // Done when no new entry may begin and every begun one is whole.
        if no_new && open.is_empty() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    let entries = entries
        .into_iter()
        .filter(|e| e.shown(filter))
        .take(filter.limit)
        .map(Entry::into_json)
        .collect();
    Ok(Found { entries, scan })
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
