//! End to end through the real `sever`: fan-out (spec §5) over several Cedalo simulators —
//! by names and by tags, with a slow and a failing backend, a backend whose adapter lacks
//! the action, authorization of every selected backend before anything is sent, dry-run —
//! and the per-backend circuit breaker (`503 circuit_open`, `/v1/backends`,
//! `sever_circuit_state`).
//!
//! Needs `cargo build --workspace` first (the `sever` binary and the plugin libraries).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{json, Value};
use sever_tests::harness::{http, Sever};
use sever_tests::sim::{CedaloSim, Fault, SimConfig};

/// Three Cedalo backends (each its own simulator and project) and a Nexus backend that
/// cannot `disconnect` (its URL is never called).
const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 1500 }
plugins:
  - { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" }
  - { path: "{{PLUGIN_DIR}}/libsever_nexus.so" }
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
    - { name: narrow, token_env: NARROW_TOKEN, allow: [ { backends: ["mqtt-us"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@EU@"
    timeout_ms: 1000
    retries: 0
    tags: ["mqtt", "eu"]
    settings: { project_id: "p-eu", broker_id: "b1", token: "${CEDALO_TOKEN}" }
  mqtt-us:
    plugin: cedalo
    url: "@US@"
    timeout_ms: 1000
    retries: 0
    tags: ["mqtt", "us"]
    settings: { project_id: "p-us", broker_id: "b1", token: "${CEDALO_TOKEN}" }
  mqtt-ap:
    plugin: cedalo
    url: "@AP@"
    timeout_ms: 1000
    retries: 0
    breaker: { failures: @FAILURES@, open_ms: 60000 }
    tags: ["mqtt", "ap"]
    settings: { project_id: "p-ap", broker_id: "b1", token: "${CEDALO_TOKEN}" }
  identity:
    plugin: nexus
    url: "http://127.0.0.1:9"
    tags: ["mqtt", "idp"]
    settings: { tenant_id: "t1", bearer_token: "nexus-secret-91c3", application_token: "nexus-app-77d1" }
"#;

struct Fleet {
    eu: CedaloSim,
    us: CedaloSim,
    ap: CedaloSim,
    sever: Sever,
}

fn cedalo(project: &str, clients: &[&str]) -> CedaloSim {
    sim_with(SimConfig::new(project, "b1", CEDALO_TOKEN), clients)
}

fn fleet_with_breaker(failures: u32) -> Fleet {
    let eu = cedalo("p-eu", &["c1"]);
    let us = cedalo("p-us", &["c1"]);
    let ap = cedalo("p-ap", &["c1"]);
    let config = CONFIG
        .replace("@EU@", &eu.url())
        .replace("@US@", &us.url())
        .replace("@AP@", &ap.url())
        .replace("@FAILURES@", &failures.to_string());
    let sever = Sever::start(&config, &env());
    Fleet { eu, us, ap, sever }
}

fn fleet() -> Fleet {
    fleet_with_breaker(100)
}

fn fan_out(fleet: &Fleet, token: &str, backends: Value) -> http::Reply {
    let body = json!({
        "action": "disconnect",
        "backends": backends,
        "target": { "client_id": "c1" },
        "reason": "INC-7 fan-out",
    });
    act(&fleet.sever, Some(token), &body.to_string())
}

fn result_for<'a>(body: &'a Value, backend: &str) -> &'a Value {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["backend"] == backend)
        .unwrap_or_else(|| panic!("no result for {backend}: {body:#}"))
}

#[test]
fn fan_out_by_names_answers_200_when_every_backend_is_done() {
    let fleet = fleet();

    let reply = fan_out(&fleet, ONCALL, json!(["mqtt-eu", "mqtt-us"]));

    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let request_id = reply.header("x-request-id").unwrap().to_owned();
    assert_eq!(body["request_id"], request_id.as_str());
    assert_eq!(body["action"], "disconnect");
    assert_eq!(
        body["summary"],
        json!({"done": 2, "accepted": 0, "failed": 0})
    );
    let names: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["backend"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mqtt-eu", "mqtt-us"], "request order");
    for name in ["mqtt-eu", "mqtt-us"] {
        let r = result_for(body, name);
        assert_eq!(r["outcome"], "done", "{r:#}");
        assert_eq!(r["vendor"]["status"], 200, "{r:#}");
    }
    assert!(!fleet.eu.is_connected("c1"));
    assert!(!fleet.us.is_connected("c1"));
    assert_eq!(fleet.eu.calls().len(), 1);
    assert_eq!(fleet.us.calls().len(), 1);
    assert!(fleet.ap.calls().is_empty(), "not selected");

    // One audit line per backend plus one for the request, all with its request id.
    let lines = fleet.sever.audit_lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.iter().all(|l| l["request_id"] == request_id.as_str()));
    for name in ["mqtt-eu", "mqtt-us"] {
        let line = lines.iter().find(|l| l["backend"] == name).unwrap();
        assert_eq!(line["outcome"], "done", "{line:#}");
        assert_eq!(line["vendor_status"], 200, "{line:#}");
        assert_eq!(line["caller"], "oncall");
    }
    let request_line = lines.iter().find(|l| l.get("backends").is_some()).unwrap();
    assert_eq!(request_line["backends"], json!(["mqtt-eu", "mqtt-us"]));
    assert_eq!(request_line["summary"]["done"], 2, "{request_line:#}");
    assert_eq!(request_line["status"], 200, "{request_line:#}");

    let metrics = http::get(&fleet.sever.url("/metrics"), None).text;
    for name in ["mqtt-eu", "mqtt-us"] {
        let labels = [
            ("action", "disconnect"),
            ("backend", name),
            ("outcome", "done"),
        ];
        assert_eq!(
            metric(&metrics, "sever_requests_total", &labels),
            Some(1.0),
            "{name}"
        );
    }
}

#[test]
fn fan_out_by_tags_reports_slow_failing_and_unsupported_backends_without_waiting_past_the_deadline()
{
    let fleet = fleet();
    fleet.us.set_delay(Duration::from_secs(5)); // beyond timeout_ms (1000)
    fleet.ap.set_fault(Fault::InternalError);

    let started = Instant::now();
    let reply = fan_out(&fleet, ONCALL, json!({"tags": ["mqtt"]}));
    let took = started.elapsed();

    assert_eq!(reply.status, 207, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        body["summary"],
        json!({"done": 1, "accepted": 0, "failed": 3}),
        "{body:#}"
    );
    assert_eq!(result_for(body, "mqtt-eu")["outcome"], "done");
    let slow = result_for(body, "mqtt-us");
    assert_eq!(slow["outcome"], "failed");
    assert_eq!(slow["problem"]["code"], "upstream_timeout", "{slow:#}");
    assert_eq!(slow["problem"]["status"], 504, "{slow:#}");
    let failing = result_for(body, "mqtt-ap");
    assert_eq!(failing["problem"]["code"], "upstream_error", "{failing:#}");
    assert_eq!(failing["problem"]["vendor"]["status"], 500, "{failing:#}");
    let unsupported = result_for(body, "identity");
    assert_eq!(
        unsupported["problem"]["code"], "unsupported_action",
        "{unsupported:#}"
    );
    assert_eq!(unsupported["problem"]["status"], 422);
    // The slow vendor would answer after 5 s; the request deadline is 1.5 s. A generous
    // bound: this checks that nothing waits for the slow vendor, not speed.
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert!(!fleet.eu.is_connected("c1"), "the fast backend was cut");

    let lines = fleet.sever.audit_lines();
    assert_eq!(lines.len(), 5, "four backends and the request: {lines:#?}");
    let codes: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l.get("backends").is_none())
        .map(|l| {
            let end = l.get("outcome").or(l.get("code")).unwrap();
            (
                l["backend"].as_str().unwrap().to_owned(),
                end.as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("mqtt-eu", "done"),
        ("mqtt-us", "upstream_timeout"),
        ("mqtt-ap", "upstream_error"),
        ("identity", "unsupported_action"),
    ] {
        assert!(
            codes.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {codes:?}"
        );
    }
    let request_line = lines.iter().find(|l| l.get("backends").is_some()).unwrap();
    assert_eq!(request_line["status"], 207);
    assert_eq!(
        request_line["backends"],
        json!(["mqtt-eu", "mqtt-us", "mqtt-ap", "identity"])
    );
}

#[test]
fn one_forbidden_backend_refuses_the_whole_fan_out_and_sends_nothing() {
    let fleet = fleet();

    let reply = fan_out(&fleet, NARROW, json!(["mqtt-us", "mqtt-eu"]));

    let problem = reply.expect_problem(403, "forbidden");
    assert_eq!(
        problem["detail"], "token 'narrow' may not disconnect on backend 'mqtt-eu'",
        "{problem:#}"
    );
    assert!(fleet.eu.calls().is_empty() && fleet.us.calls().is_empty());
    let lines = fleet.sever.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["code"], "forbidden");

    // By tags too: `mqtt` selects backends `narrow` may not use.
    let reply = fan_out(&fleet, NARROW, json!({"tags": ["mqtt"]}));
    reply.expect_problem(403, "forbidden");
    assert!(fleet.us.calls().is_empty());
}

#[test]
fn a_forbidden_unknown_name_is_403_not_404_so_tokens_learn_nothing() {
    let fleet = fleet();
    let reply = fan_out(&fleet, NARROW, json!(["mqtt-us", "no-such"]));
    reply.expect_problem(403, "forbidden");
    // oncall may use any name: an unknown one is 404 and nothing is sent.
    let reply = fan_out(&fleet, ONCALL, json!(["mqtt-eu", "no-such"]));
    let problem = reply.expect_problem(404, "unknown_backend");
    assert_eq!(problem["detail"], "no backend is named 'no-such'");
    assert!(fleet.eu.calls().is_empty());
}

#[test]
fn fan_out_selection_errors_are_400_and_send_nothing() {
    let fleet = fleet();
    for backends in [
        json!({"tags": ["mqtt", "nowhere"]}),
        json!(["mqtt-eu", "mqtt-eu"]),
        json!([]),
        json!({"tags": []}),
        json!({"labels": ["mqtt"]}),
    ] {
        let reply = fan_out(&fleet, ONCALL, backends.clone());
        reply.expect_problem(400, "invalid_request");
    }
    assert!(fleet.eu.calls().is_empty());
}

#[test]
fn fan_out_dry_run_shows_every_backends_request_redacted_and_sends_nothing() {
    let fleet = fleet();
    let body = json!({
        "action": "disconnect",
        "backends": ["mqtt-eu", "mqtt-us"],
        "target": { "client_id": "c1" },
        "dry_run": true,
    });

    let reply = act(&fleet.sever, Some(ONCALL), &body.to_string());

    assert_eq!(reply.status, 200, "{}", reply.text);
    let answer = reply.json();
    assert_eq!(answer["summary"]["dry_run"], 2, "{answer:#}");
    for name in ["mqtt-eu", "mqtt-us"] {
        let r = result_for(answer, name);
        assert_eq!(r["outcome"], "dry_run", "{r:#}");
        let request = &r["requests"][0];
        assert_eq!(request["method"], "PUT", "{r:#}");
        assert_eq!(request["headers"]["authorization"], "<redacted>", "{r:#}");
    }
    assert!(!reply.text.contains(CEDALO_TOKEN));
    assert!(fleet.eu.calls().is_empty() && fleet.us.calls().is_empty());
    assert!(fleet.eu.is_connected("c1"));
}

// ---------------------------------------------------------------------------------------
// Circuit breaker
// ---------------------------------------------------------------------------------------

fn disconnect_on(fleet: &Fleet, backend: &str) -> http::Reply {
    let body = json!({"action": "disconnect", "backend": backend, "target": {"client_id": "c1"}});
    act(&fleet.sever, Some(ONCALL), &body.to_string())
}

fn breaker_state(fleet: &Fleet, backend: &str) -> String {
    let reply = http::get(&fleet.sever.url("/v1/backends"), Some(ONCALL));
    let list = reply.json()["backends"].as_array().unwrap().clone();
    let entry = list.iter().find(|b| b["name"] == backend).unwrap();
    entry["breaker"].as_str().unwrap().to_owned()
}

fn circuit_metric(fleet: &Fleet, backend: &str) -> Option<f64> {
    let text = http::get(&fleet.sever.url("/metrics"), None).text;
    metric(&text, "sever_circuit_state", &[("backend", backend)])
}

#[test]
fn the_breaker_opens_after_consecutive_failures_and_refuses_without_sending() {
    let fleet = fleet_with_breaker(2);
    fleet.ap.set_fault(Fault::InternalError);
    assert_eq!(breaker_state(&fleet, "mqtt-ap"), "closed");
    assert_eq!(circuit_metric(&fleet, "mqtt-ap"), Some(0.0));

    disconnect_on(&fleet, "mqtt-ap").expect_problem(502, "upstream_error");
    disconnect_on(&fleet, "mqtt-ap").expect_problem(502, "upstream_error");
    assert_eq!(fleet.ap.calls().len(), 2);

    // Open: refused at once, nothing sent, Retry-After given.
    let reply = disconnect_on(&fleet, "mqtt-ap");
    let problem = reply.expect_problem(503, "circuit_open");
    assert_eq!(problem["backend"], "mqtt-ap");
    assert!(reply.header("retry-after").is_some(), "{reply:?}");
    assert_eq!(fleet.ap.calls().len(), 2, "nothing sent while open");
    assert_eq!(breaker_state(&fleet, "mqtt-ap"), "open");
    assert_eq!(circuit_metric(&fleet, "mqtt-ap"), Some(2.0));
    // Other backends are not affected.
    assert_eq!(disconnect_on(&fleet, "mqtt-eu").status, 200);
    assert_eq!(breaker_state(&fleet, "mqtt-eu"), "closed");

    let lines = fleet.sever.audit_lines();
    let ends: Vec<(&Value, &Value)> = lines
        .iter()
        .map(|l| (&l["backend"], l.get("outcome").unwrap_or(&l["code"])))
        .collect();
    assert_eq!(
        ends,
        [
            (&json!("mqtt-ap"), &json!("upstream_error")),
            (&json!("mqtt-ap"), &json!("upstream_error")),
            (&json!("mqtt-ap"), &json!("circuit_open")),
            (&json!("mqtt-eu"), &json!("done")),
        ],
        "one line per request"
    );
    // How it leaves `open` (half-open, one probe, closed or open again) is the engine's,
    // tested on a clock the test moves: core/engine/tests/engine/backend.rs.
}

#[test]
fn vendor_answers_that_are_not_failures_keep_the_breaker_closed() {
    let fleet = fleet_with_breaker(1);
    // The client is not connected: the vendor answers 404, which says the vendor is fine.
    fleet.ap.clear_calls();
    let body =
        json!({"action": "disconnect", "backend": "mqtt-ap", "target": {"client_id": "gone"}});
    for _ in 0..3 {
        act(&fleet.sever, Some(ONCALL), &body.to_string()).expect_problem(404, "target_not_found");
    }
    assert_eq!(breaker_state(&fleet, "mqtt-ap"), "closed");
    assert_eq!(fleet.ap.calls().len(), 3);
}
