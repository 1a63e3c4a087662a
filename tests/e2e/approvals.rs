//! End to end through the real `sever`: four-eyes approvals (`approvals.rules`) — a
//! matching request is checked, held (`202 pending_approval`, `Location`) and sends
//! nothing; the requester and non-approvers are refused (403); an approver runs it once
//! (the simulator gets exactly one call); deny and expiry send nothing; two racing
//! approvals run it once; a fan-out below the threshold runs at once; an
//! `Idempotency-Key` retry gets the same approval; every transition is an audit line.
//! The CLI, shutdown, failed runs and reloads: `approvals_lifecycle.rs`.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::{http, phase_lines, Sever};
use sever_tests::sim::CedaloSim;

/// Bearer tokens of the callers besides `oncall` (the requester in these tests).
pub(crate) const LEAD: &str = "lead-token-71c0e2";
pub(crate) const SECOND: &str = "second-token-3a9d44";
pub(crate) const BYSTANDER: &str = "bystander-token-c81f07";

/// `mqtt-eu` is critical (any action on it waits for `lead`, `second` or `narrow`); a
/// fan-out over three or more backends waits for `lead`. `narrow` is named an approver
/// but may only act on `mqtt-us`; `bystander` may do anything and approve nothing.
const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
    - { name: lead, token_env: LEAD_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
    - { name: second, token_env: SECOND_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
    - { name: narrow, token_env: NARROW_TOKEN, allow: [ { backends: ["mqtt-us"], actions: ["disconnect"] } ] }
    - { name: bystander, token_env: BYSTANDER_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
@STORE@
approvals:
  rules:
    - { tags: [critical], approvers: [lead, second, narrow], ttl_ms: @TTL@ }
    - { min_backends: 3, approvers: [lead] }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@EU@"
    timeout_ms: 1000
    retries: 0
    tags: [critical, eu]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
  mqtt-us:
    plugin: cedalo
    url: "@US@"
    timeout_ms: 1000
    retries: 0
    tags: [us]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
  mqtt-ap:
    plugin: cedalo
    url: "@AP@"
    timeout_ms: 1000
    retries: 0
    tags: [ap]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
  mqtt-sa:
    plugin: cedalo
    url: "@AP@"
    timeout_ms: 1000
    retries: 0
    tags: [sa]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
"#;

/// One simulator per backend (`mqtt-sa` shares `mqtt-ap`'s; it is never called).
pub(crate) struct Fleet {
    pub(crate) eu: CedaloSim,
    pub(crate) us: CedaloSim,
    pub(crate) ap: CedaloSim,
}

impl Fleet {
    pub(crate) fn new() -> Fleet {
        Fleet {
            eu: sim(&["c1", "c2"]),
            us: sim(&["c1"]),
            ap: sim(&["c1"]),
        }
    }

    /// The config; `store` is a line for the `idempotency` section (or empty).
    pub(crate) fn config(&self, ttl_ms: u64, store: &str) -> String {
        CONFIG
            .replace("@EU@", &self.eu.url())
            .replace("@US@", &self.us.url())
            .replace("@AP@", &self.ap.url())
            .replace("@TTL@", &ttl_ms.to_string())
            .replace("@STORE@", store)
    }
}

pub(crate) fn approvals_env() -> Vec<(&'static str, &'static str)> {
    let mut env = env();
    env.extend([
        ("LEAD_TOKEN", LEAD),
        ("SECOND_TOKEN", SECOND),
        ("BYSTANDER_TOKEN", BYSTANDER),
    ]);
    env
}

pub(crate) fn start(fleet: &Fleet, ttl_ms: u64) -> Sever {
    Sever::start(&fleet.config(ttl_ms, ""), &approvals_env())
}

/// Disconnect of `client` on the critical `mqtt-eu`, as `oncall`.
pub(crate) fn critical_body(client: &str) -> String {
    json!({
        "action": "disconnect",
        "backend": "mqtt-eu",
        "target": { "client_id": client },
        "reason": "credential leak INC-4411",
    })
    .to_string()
}

/// Holds a request as `oncall`; asserts the 202 and returns the approval id.
pub(crate) fn hold(sever: &Sever, body: &str) -> String {
    let reply = act(sever, Some(ONCALL), body);
    assert_eq!(reply.status, 202, "{reply:#?}");
    let answer = reply.json();
    assert_eq!(answer["outcome"], "pending_approval", "{answer:#}");
    let id = answer["approval_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    assert_eq!(
        reply.header("location"),
        Some(format!("/v1/approvals/{id}").as_str())
    );
    assert_eq!(answer["request_id"].as_str(), reply.header("x-request-id"));
    id
}

pub(crate) fn approve(sever: &Sever, token: &str, id: &str) -> http::Reply {
    decide(sever, token, id, "approve")
}

pub(crate) fn decide(sever: &Sever, token: &str, id: &str, what: &str) -> http::Reply {
    http::send(
        "POST",
        &sever.url(&format!("/v1/approvals/{id}/{what}")),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
}

pub(crate) fn show(sever: &Sever, token: &str, id: &str) -> http::Reply {
    http::get(&sever.url(&format!("/v1/approvals/{id}")), Some(token))
}

pub(crate) fn listed(sever: &Sever, token: &str) -> Vec<String> {
    let reply = http::get(&sever.url("/v1/approvals"), Some(token));
    assert_eq!(reply.status, 200, "{reply:#?}");
    reply.json()["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["approval_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The audit log's approval lines, as (event, approval id).
pub(crate) fn approval_events(sever: &Sever) -> Vec<(String, String)> {
    phase_lines(sever.audit_all_lines(), "approval")
        .iter()
        .map(|l| {
            (
                l["event"].as_str().unwrap().to_owned(),
                l["approval_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn events(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(e, id)| ((*e).to_owned(), (*id).to_owned()))
        .collect()
}

/// `sever_approvals_total{state}` now.
pub(crate) fn approvals_total(sever: &Sever, state: &str) -> f64 {
    metric_now(sever, "sever_approvals_total", &[("state", state)]).unwrap_or(-1.0)
}

#[test]
fn a_matching_request_is_held_with_202_and_sends_nothing() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);

    let id = hold(&sever, &critical_body("c1"));

    assert_nothing_sent(&fleet.eu);
    assert!(fleet.eu.is_connected("c1"));
    assert_eq!(listed(&sever, LEAD), [id.as_str()]);
    assert_eq!(
        listed(&sever, ONCALL),
        [id.as_str()],
        "the requester sees its own"
    );
    assert!(
        listed(&sever, NARROW).is_empty(),
        "narrow's rules do not cover mqtt-eu"
    );
    show(&sever, NARROW, &id).expect_problem(404, "approval_not_found");

    let shown = show(&sever, LEAD, &id);
    assert_eq!(shown.status, 200, "{shown:#?}");
    let a = shown.json();
    assert_eq!(a["state"], "pending");
    assert_eq!(a["action"], "disconnect");
    assert_eq!(a["backends"], json!(["mqtt-eu"]));
    assert_eq!(a["target"], json!({"client_id": "c1"}));
    assert_eq!(a["reason"], "credential leak INC-4411");
    assert_eq!(a["requester"], "oncall");
    assert_eq!(a["approvers"], json!(["lead", "second", "narrow"]));
    assert!(a["expires_at"].as_str().unwrap() > a["created_at"].as_str().unwrap());
    // The dry-run's plan: the vendor request it would send, the token redacted.
    let planned = &a["planned"][0];
    assert_eq!(planned["backend"], "mqtt-eu", "{a:#}");
    assert_eq!(planned["requests"][0]["method"], "PUT", "{a:#}");
    assert!(
        planned["requests"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with(&vendor_path("c1")),
        "{a:#}"
    );
    assert!(!shown.text.contains(CEDALO_TOKEN), "{}", shown.text);
    assert!(shown.text.contains("redacted"), "{}", shown.text);

    assert_eq!(
        approval_events(&sever),
        events(&[("requested", id.as_str())])
    );
    assert!(
        sever.audit_intents().is_empty(),
        "nothing is sent: no intent"
    );
    assert_eq!(approvals_total(&sever, "requested"), 1.0);
    assert!(eventually(Duration::from_secs(5), || {
        metric_now(&sever, "sever_approvals_pending", &[]) == Some(1.0)
    }));
    // Held requests are counted once they run, not now.
    assert_eq!(
        metric_now(
            &sever,
            "sever_requests_total",
            &[("backend", "mqtt-eu"), ("outcome", "done")]
        ),
        None
    );
    show(&sever, LEAD, &"0".repeat(32)).expect_problem(404, "approval_not_found");
    show(&sever, LEAD, "not-an-id").expect_problem(404, "approval_not_found");
}

#[test]
fn the_requester_and_non_approvers_are_refused_and_an_approver_runs_it_once() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let id = hold(&sever, &critical_body("c1"));

    let own = approve(&sever, ONCALL, &id);
    own.expect_problem(403, "forbidden");
    approve(&sever, BYSTANDER, &id).expect_problem(403, "forbidden");
    // Named an approver, but its own rules do not cover mqtt-eu: it cannot see it.
    approve(&sever, NARROW, &id).expect_problem(404, "approval_not_found");
    decide(&sever, ONCALL, &id, "deny").expect_problem(403, "forbidden");
    assert_nothing_sent(&fleet.eu);

    let run = approve(&sever, LEAD, &id);

    let answer = run.expect_success();
    assert_eq!(answer["outcome"], "done", "{answer:#}");
    assert_eq!(answer["backend"], "mqtt-eu");
    assert_one_disconnect_call(&fleet.eu, "c1");
    assert!(!fleet.eu.is_connected("c1"));
    approve(&sever, SECOND, &id).expect_problem(409, "approval_decided");
    decide(&sever, LEAD, &id, "deny").expect_problem(409, "approval_decided");
    assert_eq!(fleet.eu.calls().len(), 1, "run once");

    let done = show(&sever, ONCALL, &id);
    let a = done.json();
    assert_eq!(a["state"], "executed", "{a:#}");
    assert_eq!(a["decided_by"], "lead");
    assert_eq!(a["result"]["status"], 200);
    assert_eq!(a["result"]["outcome"], "done");
    assert!(listed(&sever, LEAD).is_empty());

    assert_eq!(
        approval_events(&sever),
        events(&[
            ("requested", id.as_str()),
            ("approved", id.as_str()),
            ("executed", id.as_str()),
        ])
    );
    let lines = sever.audit_all_lines();
    let approved = phase_lines(lines.clone(), "approval");
    assert_eq!(approved[1]["approver"], "lead");
    assert_eq!(approved[1]["requester"], "oncall");
    assert_eq!(approved[2]["result"]["outcome"], "done");
    let intents = phase_lines(lines.clone(), "intent");
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["caller"], "oncall", "the run is the requester's");
    assert_eq!(intents[0]["approval_id"], id.as_str());
    assert_eq!(intents[0]["approver"], "lead");
    let outcomes = phase_lines(lines, "outcome");
    assert_eq!(outcomes.len(), 1, "{outcomes:#?}");
    assert_eq!(outcomes[0]["outcome"], "done");
    assert_eq!(outcomes[0]["approval_id"], id.as_str());
    assert_eq!(
        outcomes[0]["request_id"],
        run.header("x-request-id").unwrap()
    );
    for state in ["requested", "approved", "executed"] {
        assert_eq!(approvals_total(&sever, state), 1.0, "{state}");
    }
    assert_eq!(approvals_total(&sever, "denied"), 0.0);
}

#[test]
fn a_denied_request_sends_nothing_and_cannot_be_approved() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let id = hold(&sever, &critical_body("c1"));

    let denied = decide(&sever, SECOND, &id, "deny");

    assert_eq!(denied.status, 200, "{denied:#?}");
    assert_eq!(denied.json()["state"], "denied");
    assert_eq!(denied.json()["decided_by"], "second");
    approve(&sever, LEAD, &id).expect_problem(409, "approval_decided");
    assert_nothing_sent(&fleet.eu);
    assert_eq!(show(&sever, ONCALL, &id).json()["state"], "denied");
    let lines = phase_lines(sever.audit_all_lines(), "approval");
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[1]["event"], "denied");
    assert_eq!(lines[1]["approver"], "second");
    assert!(sever.audit_intents().is_empty());
    assert_eq!(approvals_total(&sever, "denied"), 1.0);
}

#[test]
fn an_expired_request_sends_nothing_and_can_be_neither_approved_nor_denied() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 300);
    let id = hold(&sever, &critical_body("c1"));

    // The sweep expires it without anyone asking.
    assert!(
        eventually(Duration::from_secs(10), || approval_events(&sever).len()
            == 2),
        "never expired: {:?}",
        approval_events(&sever)
    );

    assert_eq!(
        approval_events(&sever),
        events(&[("requested", id.as_str()), ("expired", id.as_str())])
    );
    approve(&sever, LEAD, &id).expect_problem(410, "approval_expired");
    decide(&sever, LEAD, &id, "deny").expect_problem(410, "approval_expired");
    assert_eq!(show(&sever, ONCALL, &id).json()["state"], "expired");
    assert!(listed(&sever, LEAD).is_empty());
    assert_nothing_sent(&fleet.eu);
    assert_eq!(approval_events(&sever).len(), 2, "told once");
    assert_eq!(approvals_total(&sever, "expired"), 1.0);
    let stderr = sever.stderr();
    assert!(
        stderr.contains("approval expired unapproved") && stderr.contains("WARN"),
        "{stderr}"
    );
}

#[test]
fn two_concurrent_approvals_run_it_once() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let id = hold(&sever, &critical_body("c1"));
    let barrier = std::sync::Barrier::new(2);

    let statuses = std::thread::scope(|s| {
        let racers: Vec<_> = [LEAD, SECOND]
            .into_iter()
            .map(|token| {
                let (sever, id, barrier) = (&sever, &id, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    approve(sever, token, id)
                })
            })
            .collect();
        let mut replies: Vec<http::Reply> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        replies.sort_by_key(|r| r.status);
        replies
    });

    assert_eq!(statuses[0].status, 200, "{:#?}", statuses[0]);
    assert_eq!(statuses[0].json()["outcome"], "done");
    statuses[1].expect_problem(409, "approval_decided");
    assert_one_disconnect_call(&fleet.eu, "c1");
    assert_eq!(approvals_total(&sever, "executed"), 1.0);
}

#[test]
fn a_fan_out_below_the_threshold_runs_at_once_and_at_it_waits() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let fan_out = |backends: &[&str]| {
        json!({
            "action": "disconnect",
            "backends": backends,
            "target": { "client_id": "c1" },
            "reason": "INC-4411",
        })
        .to_string()
    };

    let two = act(&sever, Some(ONCALL), &fan_out(&["mqtt-us", "mqtt-ap"]));

    assert_eq!(two.status, 200, "{two:#?}");
    assert_eq!(two.json()["summary"]["done"], 2);
    assert_eq!(fleet.us.calls().len(), 1);
    assert_eq!(fleet.ap.calls().len(), 1);

    let id = hold(&sever, &fan_out(&["mqtt-us", "mqtt-ap", "mqtt-sa"]));
    assert_eq!(
        fleet.us.calls().len() + fleet.ap.calls().len(),
        2,
        "held: nothing more sent"
    );
    let a = show(&sever, LEAD, &id).json().clone();
    assert_eq!(a["backends"], json!(["mqtt-us", "mqtt-ap", "mqtt-sa"]));
    assert_eq!(a["approvers"], json!(["lead"]));
    assert_eq!(a["planned"].as_array().unwrap().len(), 3);
    // Only `lead` approves wide fan-outs.
    approve(&sever, SECOND, &id).expect_problem(403, "forbidden");
}

#[test]
fn an_idempotency_key_retry_gets_the_same_approval_and_a_dry_run_never_waits() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let body = critical_body("c1");
    let keyed = || {
        http::send(
            "POST",
            &sever.url("/v1/actions"),
            &[
                ("authorization", &format!("Bearer {ONCALL}")),
                ("content-type", "application/json"),
                ("idempotency-key", "INC-4411-cut-1"),
            ],
            Some(body.as_bytes()),
        )
    };

    let first = keyed();
    let again = keyed();

    assert_eq!(first.status, 202, "{first:#?}");
    assert_eq!(again.status, 202, "{again:#?}");
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json()["approval_id"], first.json()["approval_id"]);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(listed(&sever, LEAD).len(), 1, "one approval, not two");
    assert_eq!(approvals_total(&sever, "requested"), 1.0);

    let mut dry: Value = serde_json::from_str(&body).unwrap();
    dry["dry_run"] = json!(true);
    let planned = act(&sever, Some(ONCALL), &dry.to_string());
    assert_eq!(planned.status, 200, "{planned:#?}");
    assert_eq!(planned.json()["outcome"], "dry_run");
    assert_nothing_sent(&fleet.eu);
    assert_eq!(listed(&sever, LEAD).len(), 1);
}
