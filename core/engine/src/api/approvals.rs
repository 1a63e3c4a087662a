//! The approvals endpoints (four eyes, `crate::approvals`):
//!
//! - `GET /v1/approvals`: the pending approvals the caller may see — its own, and those
//!   whose every backend its allow rules cover for the action;
//! - `GET /v1/approvals/{id}`: one of them, in whatever state (404 `approval_not_found`
//!   when it is not one the caller may see);
//! - `POST /v1/approvals/{id}/approve`: by an approver the matching rule names, who is not
//!   the requester and whose own allow rules cover every backend and the action (else 403
//!   `forbidden`); exactly once (409 `approval_decided` for the others, 410
//!   `approval_expired` past the expiry). Runs the stored request as the requester's —
//!   checked again now (scope, backends, limits) — and answers with its canonical result;
//!   whatever that result, the approval is used up and the result recorded;
//! - `POST /v1/approvals/{id}/deny`: the same checks; nothing is sent.

use super::act::InFlight;
use super::approval_hold::{ApprovalRun, Event};
use super::{problems, Call, Route};
use crate::approvals::{self, Approval, Decided, State};
use crate::auth::Caller;
use crate::problem::{Answer, ApiProblem};
use crate::trace::TraceContext;
use crate::Sever;
use serde_json::{json, Value};

impl Sever {
    /// Answers an approvals route for an authenticated caller; `path` is the request's.
    pub(crate) async fn approvals_endpoint(
        &self,
        route: Route,
        path: &str,
        caller: &Caller,
        request_id: &str,
    ) -> Answer {
        let problem = |p: ApiProblem| Answer::problem(&p, request_id);
        if route == Route::Approvals {
            let _ = self.expire_approvals().await;
            return match self.approvals.pending().await {
                Ok(list) => {
                    let visible: Vec<Value> = list
                        .iter()
                        .filter(|a| self.may_see(caller, a))
                        .map(approval_json)
                        .collect();
                    Answer::json(200, &json!({ "approvals": visible }))
                }
                Err(e) => {
                    tracing::error!(error = %e, request_id, "approvals store");
                    problem(problems::approval_store_unavailable())
                }
            };
        }
        let id = super::routing::approval_id(path).unwrap_or_default();
        if !approvals::is_id(id) {
            return problem(problems::approval_not_found());
        }
        if route == Route::Approval {
            let _ = self.expire_approvals().await;
        }
        let approval = match self.approvals.get(id).await {
            Ok(Some(a)) if self.may_see(caller, &a) => a,
            Ok(_) => return problem(problems::approval_not_found()),
            Err(e) => {
                tracing::error!(error = %e, request_id, "approvals store");
                return problem(problems::approval_store_unavailable());
            }
        };
        match route {
            Route::ApprovalApprove => {
                self.decide(caller, approval, State::Approved, request_id)
                    .await
            }
            Route::ApprovalDeny => {
                self.decide(caller, approval, State::Denied, request_id)
                    .await
            }
            _ => Answer::json(200, &approval_json(&approval)),
        }
    }

    /// Whether `caller` may see `approval`: it asked, or its rules cover every backend.
    fn may_see(&self, caller: &Caller, approval: &Approval) -> bool {
        let held = &approval.held;
        held.requester == caller.name
            || held
                .backends
                .iter()
                .all(|b| self.auth.allows(caller, b, held.action))
    }

    /// 403 unless `caller` may decide `approval`.
    fn check_approver(&self, caller: &Caller, approval: &Approval) -> Result<(), ApiProblem> {
        let held = &approval.held;
        if held.requester == caller.name {
            return Err(problems::approval_forbidden(format!(
                "'{}' asked for this request: another caller must approve or deny it",
                caller.name
            )));
        }
        if !held.approvers.contains(&caller.name) {
            return Err(problems::approval_forbidden(format!(
                "'{}' is not an approver of approvals.rules[{}]",
                caller.name, held.rule
            )));
        }
        match held
            .backends
            .iter()
            .find(|b| !self.auth.allows(caller, b, held.action))
        {
            Some(b) => Err(problems::forbidden(caller, held.action, b)),
            None => Ok(()),
        }
    }

    /// Approves (and runs) or denies `approval` as `caller`.
    async fn decide(
        &self,
        caller: &Caller,
        approval: Approval,
        to: State,
        request_id: &str,
    ) -> Answer {
        let problem = |p: ApiProblem| Answer::problem(&p, request_id);
        if let Err(p) = self.check_approver(caller, &approval) {
            return problem(p);
        }
        let id = approval.held.id.as_str();
        let decided = match self.approvals.decide(id, to, &caller.name).await {
            Ok(Decided::Now(decided)) => decided,
            Ok(Decided::NotFound) => return problem(problems::approval_not_found()),
            Ok(Decided::Already(State::Expired)) => return problem(problems::approval_expired()),
            Ok(Decided::Already(state)) => {
                return problem(problems::approval_decided(state.as_str()))
            }
            Ok(Decided::ExpiredNow(expired)) => {
                self.report_expired(&expired);
                self.refresh_pending_gauge().await;
                return problem(problems::approval_expired());
            }
            Err(e) => {
                tracing::error!(error = %e, request_id, "approvals store");
                return problem(problems::approval_store_unavailable());
            }
        };
        let event = if to == State::Approved {
            Event::Approved
        } else {
            Event::Denied
        };
        tracing::info!(
            approval_id = %id,
            requester = %decided.held.requester,
            approver = %caller.name,
            request_id,
            "approval {}",
            event.as_str()
        );
        let complete =
            self.write_approval_line(&self.approval_line(event, &decided.held, Some(&decided)));
        self.count_transition(event);
        self.refresh_pending_gauge().await;
        let answer = if to == State::Approved {
            self.run_approved(decided, caller, request_id).await
        } else {
            Answer::json(200, &approval_json(&decided))
        };
        mark_incomplete(answer, complete)
    }

    /// Runs an approved request as its requester's, records its result (approved →
    /// executed) and answers with the run's canonical answer.
    async fn run_approved(
        &self,
        mut approval: Approval,
        approver: &Caller,
        request_id: &str,
    ) -> Answer {
        let held = &approval.held;
        let answer = match self.auth.caller_named(&held.requester) {
            None => Answer::problem(
                &problems::approval_forbidden(format!(
                    "the requester '{}' is no longer a configured caller: nothing was sent",
                    held.requester
                )),
                request_id,
            ),
            Some(requester) => {
                let body = held.request.to_string();
                match crate::canonical::parse(body.as_bytes()) {
                    Ok(request) => {
                        let _in_flight = InFlight::enter(&self.metrics.in_flight);
                        let trace =
                            TraceContext::continue_or_start(None, self.ambient.rng.as_ref());
                        let run = ApprovalRun {
                            id: &held.id,
                            approver: &approver.name,
                        };
                        let call = Call {
                            caller: &requester,
                            request: &request,
                            request_id,
                            started: self.ambient.clock.now(),
                            trace: &trace,
                            approval: Some(&run),
                        };
                        let report = self.run(&call).await;
                        self.finish(report)
                    }
                    Err(e) => Answer::problem(&problems::invalid_request(e), request_id),
                }
            }
        };
        let result = result_of(&answer, request_id);
        if let Err(e) = self.approvals.finish(&held.id, &result).await {
            tracing::warn!(error = %e, approval_id = %held.id, "approvals store: result not recorded");
        }
        approval.state = State::Executed;
        approval.result = Some(result);
        let line = self.approval_line(Event::Executed, &approval.held, Some(&approval));
        let complete = self.write_approval_line(&line);
        self.count_transition(Event::Executed);
        mark_incomplete(answer, complete)
    }
}

/// What an execution's answer said, as recorded: its status and `outcome`, `code` or a
/// fan-out's `summary`, and the run's `request_id`.
fn result_of(answer: &Answer, request_id: &str) -> Value {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let mut result = json!({ "status": answer.status, "request_id": request_id });
    for key in ["outcome", "code", "summary"] {
        if let Some(v) = body.get(key) {
            result[key] = v.clone();
        }
    }
    result
}

fn mark_incomplete(mut answer: Answer, complete: bool) -> Answer {
    if !complete
        && !answer
            .headers
            .iter()
            .any(|(n, _)| *n == super::AUDIT_HEADER)
    {
        answer
            .headers
            .push((super::AUDIT_HEADER, super::AUDIT_INCOMPLETE.to_owned()));
    }
    answer
}

/// The JSON of one approval (`GET /v1/approvals/{id}`, and each item of the list).
pub(crate) fn approval_json(approval: &Approval) -> Value {
    let held = &approval.held;
    json!({
        "approval_id": held.id,
        "state": approval.state.as_str(),
        "action": held.action,
        "backends": held.backends,
        "target": held.target,
        "reason": held.reason,
        "requester": held.requester,
        "request_id": held.request_id,
        "approvers": held.approvers,
        "rule": held.rule,
        "created_at": approvals::rfc3339(held.created_ms),
        "expires_at": approvals::rfc3339(held.expires_ms),
        "decided_by": approval.decided_by,
        "decided_at": approval.decided_ms.map(approvals::rfc3339),
        "result": approval.result,
        "planned": held.plan,
    })
}
