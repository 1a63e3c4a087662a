//! The metrics sink: a [`Report`] counted in `sever_requests_total` and timed in
//! `sever_request_duration_seconds` (spec §8), and logged as the request's log line.
//! Labels come from config only: a name the caller sent is never a label.

use super::answer::millis;
use super::report::{Part, Report};
use super::Call;
use crate::Sever;
use std::time::Duration;

impl Sever {
    /// Counts and logs `report`.
    pub(crate) fn observe(&self, report: &Report<'_>) {
        match report {
            Report::Unparsed { problem, .. } => {
                let label = crate::metrics::OutcomeLabel::problem(problem.code);
                self.unlabeled.record(None, label, None);
            }
            Report::One {
                call,
                part,
                elapsed,
                ..
            } => self.observe_part(call, part, *elapsed),
            Report::FanOut {
                call,
                parts,
                summary,
                elapsed,
                ..
            } => {
                for part in parts {
                    self.observe_part(call, part, *elapsed);
                }
                let names: Vec<&str> = parts
                    .iter()
                    .filter_map(|p| p.backend.map(|b| b.name.as_str()))
                    .collect();
                tracing::info!(
                    request_id = call.request_id,
                    trace_id = %call.trace.trace_id(),
                    caller = %call.caller.name,
                    action = call.request.action.as_str(),
                    backends = ?names,
                    status = summary.status(),
                    done = summary.done,
                    accepted = summary.accepted,
                    failed = summary.failed,
                    "fan-out request"
                );
            }
            // Counted in `sever_approvals_total{state="requested"}` by the hold.
            Report::Pending {
                call,
                held,
                elapsed,
            } => tracing::info!(
                request_id = call.request_id,
                caller = %call.caller.name,
                action = call.request.action.as_str(),
                backends = ?held.backends,
                approval_id = %held.id,
                status = 202,
                duration_ms = millis(*elapsed),
                "held for approval"
            ),
            // Counted in `sever_idempotency_replays_total` by the store.
            Report::Replay { call, stored, .. } => tracing::info!(
                request_id = %stored.request_id,
                caller = %call.caller.name,
                status = stored.status,
                "idempotent replay"
            ),
        }
    }

    /// One result: counted under its backend's label (or none) and its outcome, timed
    /// (every request counted with an action is timed, refusals included), and logged.
    fn observe_part(&self, call: &Call<'_>, part: &Part<'_>, elapsed: Duration) {
        let (backend, handles) = match part.backend {
            Some(b) => (b.name.as_str(), b.request_metrics()),
            None => ("", &self.unlabeled),
        };
        let outcome = part.ended.label();
        handles.record(
            Some(call.request.action),
            outcome,
            Some(elapsed.as_secs_f64()),
        );
        tracing::info!(
            request_id = call.request_id,
            trace_id = %call.trace.trace_id(),
            caller = %call.caller.name,
            action = call.request.action.as_str(),
            backend,
            outcome = outcome.name(),
            status = part.ended.status(),
            duration_ms = millis(elapsed),
            "canonical request"
        );
    }
}
