//! The hold (four-eyes approvals, `crate::approvals`): a request that passed every check
//! and that an `approvals` rule matches is stored with its dry-run plan and answered
//! `202 Accepted` (`outcome: pending_approval`, a `Location` naming the approval) instead
//! of being sent; and what every transition of an approval writes and counts: its audit
//! line (`phase: approval`), `sever_approvals_total{state}`, `sever_approvals_pending`,
//! and, for an expiry, a warning.
//!
//! Expiry is found two ways: on access (an approve or deny past the expiry marks it
//! expired and answers 410) and by [`Sever::expire_approvals`], which the server runs
//! every second and before it lists or shows approvals. Either way the store lets exactly
//! one caller, on one replica, make the change, so each expiry is told once.

use super::checks::Admitted;
use super::report::Report;
use super::{problems, Call};
use crate::approvals::{self, Approval, Held};
use crate::audit::{now_rfc3339, APPROVAL};
use crate::canonical::Selection;
use crate::config::ApprovalRule;
use crate::problem::Answer;
use crate::Sever;
use serde_json::{json, Value};

/// The run of an approved request: which approval, approved by whom.
#[derive(Debug)]
pub(crate) struct ApprovalRun<'a> {
    pub id: &'a str,
    pub approver: &'a str,
}

/// A transition, as the audit line's `event` and the metric's `state` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    Requested,
    Approved,
    Denied,
    Expired,
    Executed,
}

impl Event {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Event::Requested => "requested",
            Event::Approved => "approved",
            Event::Denied => "denied",
            Event::Expired => "expired",
            Event::Executed => "executed",
        }
    }
}

impl Sever {
    /// The rule whose approval `call` needs, if any: never for a dry-run, nor for the run
    /// of an approved request.
    pub(crate) fn approval_rule(
        &self,
        call: &Call<'_>,
        admitted: &Admitted<'_>,
    ) -> Option<&ApprovalRule> {
        if call.request.dry_run || call.approval.is_some() {
            return None;
        }
        let selected: Vec<(&str, &[String])> = match admitted {
            Admitted::One(b, _) => vec![(b.name.as_str(), b.tags.as_slice())],
            Admitted::Many(parts) => parts
                .iter()
                .map(|(b, _)| (b.name.as_str(), b.tags.as_slice()))
                .collect(),
        };
        self.config
            .approvals
            .rule_for(call.request.action, selected.iter().copied())
    }

    /// Stores `call` as a pending approval under `rule`, with its dry-run plan; nothing is
    /// sent. 503 when the store cannot be asked.
    pub(crate) async fn hold<'a>(
        &'a self,
        call: &'a Call<'a>,
        admitted: Admitted<'_>,
        rule: &ApprovalRule,
    ) -> Report<'a> {
        let parts = match admitted {
            Admitted::One(backend, request) => vec![(backend, Ok(request))],
            Admitted::Many(parts) => parts,
        };
        let backends: Vec<String> = parts.iter().map(|(b, _)| b.name.clone()).collect();
        let plan: Vec<Value> = parts
            .iter()
            .map(|(backend, request)| {
                let planned = request.as_ref().map_err(Clone::clone).and_then(|r| {
                    backend
                        .plan(r)
                        .map_err(|e| problems::flow_failed(e, backend))
                });
                match planned {
                    Ok(plan) => json!({
                        "backend": backend.name,
                        "requests": plan.requests,
                        "planning_stops": plan.planning_stops,
                    }),
                    Err(problem) => json!({
                        "backend": backend.name,
                        "problem": problem.to_json(call.request_id),
                    }),
                }
            })
            .collect();
        let target = serde_json::to_value(&call.request.target).unwrap_or(Value::Null);
        // What runs when approved: the same fields, a tag selection as the names it chose.
        let mut request = json!({ "action": call.request.action, "target": target });
        match &call.request.selection {
            Selection::One(name) => request["backend"] = json!(name),
            Selection::Names(_) | Selection::Tags(_) => request["backends"] = json!(backends),
        }
        if let Some(reason) = &call.request.reason {
            request["reason"] = json!(reason);
        }
        let now = approvals::now_ms();
        let ttl = u64::try_from(rule.ttl.as_millis()).unwrap_or(u64::MAX);
        let held = Held {
            id: approvals::new_id(),
            requester: call.caller.name.clone(),
            request_id: call.request_id.to_owned(),
            action: call.request.action,
            backends,
            request,
            target,
            reason: call.request.reason.clone(),
            rule: rule.index,
            approvers: rule.approvers.clone(),
            created_ms: now,
            expires_ms: now.saturating_add(ttl),
            plan: Value::Array(plan),
        };
        if let Err(e) = self.approvals.insert(&held).await {
            tracing::error!(error = %e, request_id = call.request_id, "approvals store: not held");
            return self.refused(call, problems::approval_store_unavailable());
        }
        self.count_transition(Event::Requested);
        self.refresh_pending_gauge().await;
        Report::Pending {
            call,
            held: Box::new(held),
            elapsed: self.elapsed(call),
        }
    }

    /// Counts a transition in `sever_approvals_total{state}`.
    pub(crate) fn count_transition(&self, event: Event) {
        self.metrics
            .approvals
            .with_label_values(&[event.as_str()])
            .inc();
    }

    /// Sets `sever_approvals_pending` from the store (left as it was when the store
    /// cannot be asked).
    pub(crate) async fn refresh_pending_gauge(&self) {
        if let Ok(n) = self.approvals.count_pending().await {
            self.metrics
                .approvals_pending
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// The audit line of a transition. `approval` is the approval as it is after it (its
    /// `decided_by` names the approver); `result` an execution's.
    pub(crate) fn approval_line(
        &self,
        event: Event,
        held: &Held,
        decided: Option<&Approval>,
    ) -> Value {
        let mut line = json!({
            "time": now_rfc3339(),
            "phase": APPROVAL,
            "event": event.as_str(),
            "approval_id": held.id,
            "request_id": held.request_id,
            "requester": held.requester,
            "action": held.action,
            "backends": held.backends,
            "target": held.target,
            "reason": held.reason,
            "rule": held.rule,
            "expires": approvals::rfc3339(held.expires_ms),
        });
        if let Some(approval) = decided {
            if let Some(by) = &approval.decided_by {
                line["approver"] = json!(by);
            }
            if let Some(result) = &approval.result {
                line["result"] = result.clone();
            }
        }
        line
    }

    /// Writes an approval line outside a request's report (approve, deny, expiry, run).
    pub(crate) fn write_approval_line(&self, line: &Value) -> bool {
        let Some(log) = &self.audit else {
            return true;
        };
        match log.write(line) {
            Ok(()) => true,
            Err(e) => {
                self.metrics
                    .audit_write_failures
                    .with_label_values(&[crate::audit::OUTCOME])
                    .inc();
                tracing::error!(error = %e, "audit approval line not written");
                false
            }
        }
    }

    /// Tells that `approval` expired unapproved: a warning, its audit line, the metric.
    pub(crate) fn report_expired(&self, approval: &Approval) {
        let held = &approval.held;
        tracing::warn!(
            approval_id = %held.id,
            requester = %held.requester,
            action = held.action.as_str(),
            backends = ?held.backends,
            request_id = %held.request_id,
            "approval expired unapproved: nothing was sent"
        );
        self.write_approval_line(&self.approval_line(Event::Expired, held, Some(approval)));
        self.count_transition(Event::Expired);
    }

    /// Marks expired every pending approval past its `ttl_ms` (each told once across
    /// replicas) and refreshes `sever_approvals_pending`; returns how many this call
    /// expired. Run every second by the server, and before approvals are listed or shown
    /// (where an error is left to the store call that follows).
    pub async fn expire_approvals(&self) -> Result<usize, crate::approvals::ApprovalStoreError> {
        let expired = self.approvals.expire_due().await?;
        for approval in &expired {
            self.report_expired(approval);
        }
        self.refresh_pending_gauge().await;
        Ok(expired.len())
    }

    /// How many approvals are pending in this process's memory (lost when it stops);
    /// `None` with Redis (they stay there).
    pub fn approvals_in_memory(&self) -> Option<usize> {
        match &self.approvals {
            crate::approvals::ApprovalStore::Memory(m) => Some(m.count_pending()),
            crate::approvals::ApprovalStore::Redis(_) => None,
        }
    }

    /// Whether the expiry sweep has anything to do: approvals are configured, or pending
    /// ones may remain in memory from before a reload.
    pub fn sweeps_approvals(&self) -> bool {
        !self.config.approvals.rules.is_empty() || self.approvals_in_memory().is_some_and(|n| n > 0)
    }
}

/// The `202 Accepted` answer of a held request, with `Location: /v1/approvals/{id}`.
pub(crate) fn pending_answer(call: &Call<'_>, held: &Held) -> Answer {
    let body = json!({
        "request_id": call.request_id,
        "action": call.request.action,
        "outcome": "pending_approval",
        "approval_id": held.id,
        "backends": held.backends,
        "approvers": held.approvers,
        "expires_at": approvals::rfc3339(held.expires_ms),
    });
    Answer::json(202, &body).with_header("location", format!("/v1/approvals/{}", held.id))
}
