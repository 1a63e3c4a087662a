//! The answer sink: a [`Report`] rendered as the HTTP answer (spec §4, §5).

use super::report::{Ended, Part, Report};
use crate::backend::Plan;
use crate::plugin::Action;
use crate::problem::{success_body, Answer};
use serde_json::{json, Value};
use std::time::Duration;

/// The answer for `report`.
pub(crate) fn render(report: Report<'_>) -> Answer {
    match report {
        Report::Unparsed {
            request_id,
            problem,
        } => Answer::problem(&problem, request_id),
        Report::One {
            call,
            part,
            elapsed,
            ..
        } => {
            let backend = part.backend.map_or("", |b| b.name.as_str());
            match part.ended {
                Ended::Succeeded(success) => Answer::json_bytes(
                    200,
                    success_body(
                        call.request_id,
                        call.request.action,
                        backend,
                        &success,
                        millis(elapsed),
                    ),
                ),
                Ended::Planned(plan) => Answer::json(
                    200,
                    &dry_run_body(call.request_id, call.request.action, backend, plan),
                ),
                Ended::Failed(problem) => Answer::problem(&problem, call.request_id),
            }
        }
        Report::FanOut {
            call,
            parts,
            summary,
            elapsed,
            ..
        } => {
            let results: Vec<Value> = parts
                .into_iter()
                .map(|part| fan_out_result(call.request_id, part))
                .collect();
            let body = json!({
                "request_id": call.request_id,
                "action": call.request.action,
                "results": results,
                "summary": summary.to_json(call.request.dry_run),
                "duration_ms": millis(elapsed),
            });
            Answer::json(summary.status(), &body)
        }
        Report::Pending { call, held, .. } => super::approval_hold::pending_answer(call, &held),
        Report::Replay { stored, .. } => {
            let mut headers: Vec<(&'static str, String)> = stored
                .headers
                .into_iter()
                .filter_map(|(name, value)| replayable_header(&name).map(|n| (n, value)))
                .collect();
            headers.push(("x-request-id", stored.request_id));
            headers.push(("idempotent-replayed", "true".to_owned()));
            Answer {
                status: stored.status,
                headers,
                body: stored.body,
            }
        }
    }
}

/// A dry-run's answer (spec §3).
fn dry_run_body(request_id: &str, action: Action, backend: &str, plan: Plan) -> Value {
    json!({
        "request_id": request_id,
        "action": action,
        "backend": backend,
        "outcome": "dry_run",
        "requests": plan.requests,
        "planning_stops": plan.planning_stops,
    })
}

/// One backend's entry in a fan-out's `results` (spec §5).
fn fan_out_result(request_id: &str, part: Part<'_>) -> Value {
    let backend = part.backend.map_or("", |b| b.name.as_str());
    let mut result = match part.ended {
        Ended::Succeeded(success) => json!({
            "backend": backend,
            "outcome": success.outcome.as_str(),
            "vendor": success.vendor,
        }),
        Ended::Planned(plan) => json!({
            "backend": backend,
            "outcome": "dry_run",
            "requests": plan.requests,
            "planning_stops": plan.planning_stops,
        }),
        Ended::Failed(problem) => json!({
            "backend": backend,
            "outcome": "failed",
            "problem": problem.to_json(request_id),
        }),
    };
    result["duration_ms"] = Value::from(millis(part.took));
    result
}

/// The stored headers a replay sends again, as static names (anything else is dropped).
fn replayable_header(name: &str) -> Option<&'static str> {
    [
        "content-type",
        "retry-after",
        "www-authenticate",
        "location",
    ]
    .into_iter()
    .find(|n| n.eq_ignore_ascii_case(name))
}

/// Milliseconds with three decimals.
pub(crate) fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0
}
