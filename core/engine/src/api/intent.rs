//! The write-ahead half of the audit: a request's `intent` line, written (and flushed)
//! before its first vendor call — if it cannot be written, the request is refused with
//! `503 audit_unavailable` and nothing is sent — and remembered until its outcome lines
//! are written.
//!
//! A request whose outcome Sever cannot tell gets an outcome line of its own with
//! `"outcome":"unknown"` and a `cause`: `shutdown` for requests still in flight when the
//! drain ran past `server.shutdown_grace_ms` ([`Sever::cut_short`]), `cancelled` for a
//! request dropped before it ended (its task was cancelled). Each is counted in
//! `sever_requests_total{outcome="unknown"}`.

use super::checks::Admitted;
use super::{problems, Call};
use crate::audit::{now_rfc3339, AuditLog, IntentRecord, INTENT, OUTCOME};
use crate::backend::Backend;
use crate::metrics::{Metrics, OutcomeLabel};
use crate::plugin::Action;
use crate::problem::ApiProblem;
use crate::Sever;
use parking_lot::Mutex;
use prometheus::IntCounter;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Requests whose intent line is written and outcome line not yet: kept across reloads,
/// so that a drain finds the requests of every Sever that served them.
#[derive(Debug)]
pub struct PendingIntents {
    next: AtomicU64,
    entries: Mutex<HashMap<u64, Entry>>,
    /// `sever_audit_write_failures_total{phase="outcome"}`.
    outcome_failures: IntCounter,
}

#[derive(Debug)]
struct Entry {
    log: Arc<AuditLog>,
    /// The intent line as written (without its newline).
    intent: Vec<u8>,
    action: Action,
    /// The backends whose vendor calls were started (counted as `unknown`).
    backends: Vec<Arc<Backend>>,
}

impl PendingIntents {
    pub(crate) fn new(metrics: &Metrics) -> Self {
        PendingIntents {
            next: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            outcome_failures: metrics.audit_write_failures.with_label_values(&[OUTCOME]),
        }
    }

    /// Writes an `unknown` outcome line for every pending request and forgets them;
    /// returns how many there were.
    pub fn cut_all(&self, cause: &str) -> usize {
        let taken: Vec<Entry> = self.entries.lock().drain().map(|(_, e)| e).collect();
        for entry in &taken {
            self.write_unknown(entry, cause);
        }
        taken.len()
    }

    fn write_unknown(&self, entry: &Entry, cause: &str) {
        let mut line: serde_json::Map<String, Value> =
            serde_json::from_slice(&entry.intent).unwrap_or_default();
        line.insert("time".into(), now_rfc3339().into());
        line.insert("phase".into(), OUTCOME.into());
        line.insert("outcome".into(), "unknown".into());
        line.insert("cause".into(), cause.into());
        if let Err(e) = entry.log.write(&line) {
            self.outcome_failures.inc();
            tracing::error!(error = %e, cause, "audit outcome line not written");
        }
        for backend in &entry.backends {
            backend
                .request_metrics()
                .record(Some(entry.action), OutcomeLabel::UNKNOWN, None);
        }
    }
}

/// A request's pending intent: settled when its outcome lines are written; dropped
/// unsettled (the request was cancelled), it writes an `unknown` outcome line.
#[derive(Debug)]
pub(crate) struct Ticket<'a> {
    pending: &'a PendingIntents,
    id: u64,
    settled: bool,
}

impl Ticket<'_> {
    /// The request's outcome lines are about to be written: forget the intent.
    pub(crate) fn settle(mut self) {
        self.settled = true;
        self.pending.entries.lock().remove(&self.id);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let entry = self.pending.entries.lock().remove(&self.id);
        if let Some(entry) = entry {
            self.pending.write_unknown(&entry, "cancelled");
        }
    }
}

impl Sever {
    /// Writes the intent line of an admitted request that will call vendors; `None` when
    /// nothing will be sent (a dry-run) or there is no audit log. 503 `audit_unavailable`
    /// when the line cannot be written.
    pub(crate) fn write_intent<'s>(
        &'s self,
        call: &Call<'_>,
        admitted: &Admitted<'_>,
    ) -> Result<Option<Ticket<'s>>, ApiProblem> {
        let Some(log) = &self.audit else {
            return Ok(None);
        };
        if call.request.dry_run {
            return Ok(None);
        }
        let (one, many): (Option<&str>, Vec<&Backend>) = match admitted {
            Admitted::One(backend, _) => (Some(backend.name.as_str()), vec![*backend]),
            Admitted::Many(parts) => (
                None,
                parts
                    .iter()
                    .filter(|(_, request)| request.is_ok())
                    .map(|(b, _)| *b)
                    .collect(),
            ),
        };
        let names: Vec<&str> = many.iter().map(|b| b.name.as_str()).collect();
        let record = IntentRecord {
            time: now_rfc3339(),
            phase: INTENT,
            request_id: call.request_id,
            caller: &call.caller.name,
            action: call.request.action,
            backend: one,
            backends: one.is_none().then_some(names.as_slice()),
            target: &call.request.target,
            reason: call.request.reason.as_deref(),
            insecure: call.caller.is_insecure(),
            approval_id: call.approval.map(|a| a.id),
            approver: call.approval.map(|a| a.approver),
        };
        let mut intent = Vec::with_capacity(384);
        let written = match crate::audit::safe_text::to_writer(&mut intent, &record) {
            Ok(()) => {
                intent.push(b'\n');
                let written = log.write_line(&intent).map_err(|e| e.to_string());
                intent.pop();
                written
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = written {
            self.metrics
                .audit_write_failures
                .with_label_values(&[INTENT])
                .inc();
            tracing::error!(error = %e, request_id = call.request_id, "audit intent line not written: refused");
            return Err(problems::audit_unavailable());
        }
        let pending = self.pending.as_ref();
        let id = pending.next.fetch_add(1, Ordering::Relaxed);
        let backends = many
            .iter()
            .filter_map(|b| self.backend(&b.name).cloned())
            .collect();
        pending.entries.lock().insert(
            id,
            Entry {
                log: Arc::clone(log),
                intent,
                action: call.request.action,
                backends,
            },
        );
        Ok(Some(Ticket {
            pending,
            id,
            settled: false,
        }))
    }

    /// The drain ran past its grace period: every request still pending gets an
    /// `unknown` outcome line (`cause: shutdown`). Returns how many.
    pub fn cut_short(&self) -> usize {
        self.pending.cut_all("shutdown")
    }

    /// Holds the audit log so that no line is written after this (the process exits).
    pub fn freeze_audit(&self) {
        if let Some(log) = &self.audit {
            log.freeze();
        }
    }
}
