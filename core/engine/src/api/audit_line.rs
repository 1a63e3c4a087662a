//! The audit sink: a [`Report`] as outcome lines (spec §7, docs/audit.md) — one for a
//! single-backend request, one per backend plus one for the request for a fan-out, one
//! marked `replayed` for a replay, none for a request that never was a canonical request.
//! (The intent line written before the vendor calls is `intent.rs`'s.)

use super::answer::millis;
use super::report::{Ended, Part, Report};
use super::Call;
use crate::audit::{now_rfc3339, AuditRecord, OUTCOME};
use crate::canonical::Selection;
use crate::Sever;
use serde_json::{Map, Value};
use std::time::Duration;

impl Sever {
    /// Writes the outcome lines of `report`; false when one could not be written (logged
    /// and counted: the answer is decided, and the intent line was written before
    /// anything was sent).
    pub(crate) fn audit(&self, report: &Report<'_>) -> bool {
        let Some(log) = &self.audit else {
            return true;
        };
        let complete = std::cell::Cell::new(true);
        let write = |line: &AuditRecord<'_>, request_id: &str| {
            if let Err(e) = log.write(line) {
                complete.set(false);
                self.metrics
                    .audit_write_failures
                    .with_label_values(&[OUTCOME])
                    .inc();
                tracing::error!(error = %e, request_id, "audit outcome line not written");
            }
        };
        match report {
            Report::Unparsed { .. } => {}
            Report::One {
                call,
                part,
                elapsed,
                ..
            } => write(&part_line(call, part, *elapsed), call.request_id),
            Report::FanOut {
                call,
                parts,
                summary,
                elapsed,
                ..
            } => {
                for part in parts {
                    write(&part_line(call, part, *elapsed), call.request_id);
                }
                let names: Vec<&str> = parts
                    .iter()
                    .filter_map(|p| p.backend.map(|b| b.name.as_str()))
                    .collect();
                let tally = summary.to_json(call.request.dry_run);
                let line = AuditRecord {
                    backends: Some(&names),
                    summary: Some(&tally),
                    status: Some(summary.status()),
                    ..line(call, None, None, *elapsed)
                };
                write(&line, call.request_id);
            }
            Report::Pending { call, held, .. } => {
                let line = self.approval_line(super::approval_hold::Event::Requested, held, None);
                write_value(log, &line, call.request_id, &complete, self);
            }
            Report::Replay {
                call,
                stored,
                elapsed,
            } => {
                let backend = match &call.request.selection {
                    Selection::One(name) => Some(name.as_str()),
                    Selection::Names(_) | Selection::Tags(_) => None,
                };
                let record = AuditRecord {
                    request_id: &stored.request_id,
                    replayed: true,
                    status: Some(stored.status),
                    ..line(call, backend, None, *elapsed)
                };
                write(&record, call.request_id);
            }
        }
        complete.get()
    }
}

/// Writes one prepared line (an approval's), counted and logged like the others when it
/// cannot be written.
fn write_value(
    log: &crate::audit::AuditLog,
    line: &Value,
    request_id: &str,
    complete: &std::cell::Cell<bool>,
    sever: &Sever,
) {
    if let Err(e) = log.write(line) {
        complete.set(false);
        sever
            .metrics
            .audit_write_failures
            .with_label_values(&[OUTCOME])
            .inc();
        tracing::error!(error = %e, request_id, "audit approval line not written");
    }
}

/// The line of one result, with its `outcome` (or `code`) and what the vendor said.
fn part_line<'a>(call: &'a Call<'_>, part: &'a Part<'_>, elapsed: Duration) -> AuditRecord<'a> {
    let (vendor, failed) = match &part.ended {
        Ended::Succeeded(success) => (Some(&success.vendor), false),
        Ended::Planned(_) => (None, false),
        Ended::Failed(problem) => (problem.vendor.as_ref(), true),
    };
    let label = part.ended.label().name();
    let mut record = line(call, part.audit_backend, vendor, elapsed);
    if failed {
        record.code = Some(label);
    } else {
        record.outcome = Some(label);
    }
    record
}

/// The fields every audit line of a request carries (spec §7); callers add the rest.
fn line<'a>(
    call: &'a Call<'_>,
    backend: Option<&'a str>,
    vendor: Option<&'a Map<String, Value>>,
    elapsed: Duration,
) -> AuditRecord<'a> {
    AuditRecord {
        time: now_rfc3339(),
        phase: OUTCOME,
        request_id: call.request_id,
        caller: &call.caller.name,
        action: call.request.action,
        backend,
        backends: None,
        target: &call.request.target,
        reason: call.request.reason.as_deref(),
        dry_run: call.request.dry_run,
        outcome: None,
        code: None,
        vendor_status: vendor.and_then(|v| v.get("status")),
        vendor_request_id: vendor.and_then(|v| v.get("request_id")),
        vendor_code: vendor.and_then(|v| v.get("code")),
        vendor_message: vendor.and_then(|v| v.get("message")),
        duration_ms: millis(elapsed),
        status: None,
        summary: None,
        replayed: false,
        insecure: call.caller.is_insecure(),
        approval_id: call.approval.map(|a| a.id),
        approver: call.approval.map(|a| a.approver),
    }
}
