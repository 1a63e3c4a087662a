//! End to end through the real `sever`: `GET /v1/audit` reads this replica's audit file
//! back — a request's intent and outcome lines joined, newest first, the `request_id`,
//! `backend`, `since` and `limit` filters, 400 for bad ones — and a caller never sees an
//! entry naming a backend outside its `allow` rules (a fan-out touching one is hidden whole).
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::{json, Value};
use sever_tests::harness::{http, Sever};
use sever_tests::sim::{CedaloSim, SimConfig};

/// Two Cedalo backends, each its own simulator; `narrow` may disconnect on `mqtt-us` only.
pub(crate) const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" } ]
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
"#;

struct Pair {
    eu: CedaloSim,
    us: CedaloSim,
    sever: Sever,
}

/// `c1` is connected on both simulators, `c2` on `mqtt-eu` only.
fn pair() -> Pair {
    let eu = sim_with(SimConfig::new("p-eu", "b1", CEDALO_TOKEN), &["c1", "c2"]);
    let us = sim_with(SimConfig::new("p-us", "b1", CEDALO_TOKEN), &["c1"]);
    let config = CONFIG.replace("@EU@", &eu.url()).replace("@US@", &us.url());
    let sever = Sever::start(&config, &env());
    Pair { eu, us, sever }
}

/// `POST /v1/actions` as `token` with this `X-Request-Id`.
fn act_as(sever: &Sever, token: &str, request_id: &str, body: &Value) -> http::Reply {
    http::send(
        "POST",
        &sever.url("/v1/actions"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
            ("x-request-id", request_id),
        ],
        Some(body.to_string().as_bytes()),
    )
}

fn audit(sever: &Sever, token: &str, query: &str) -> http::Reply {
    http::get(&sever.url(&format!("/v1/audit{query}")), Some(token))
}

fn ids(reply: &http::Reply) -> Vec<String> {
    let body = reply.expect_success_json();
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_owned())
        .collect()
}

trait SuccessJson {
    fn expect_success_json(&self) -> &Value;
}

impl SuccessJson for http::Reply {
    fn expect_success_json(&self) -> &Value {
        assert_eq!(self.status, 200, "{self:#?}");
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("cache-control"), Some("no-store"));
        self.json()
    }
}

fn disconnect_on(backend: &str, client: &str, dry_run: bool) -> Value {
    json!({ "action": "disconnect", "backend": backend, "target": { "client_id": client },
            "reason": "INC-7 audit", "dry_run": dry_run })
}

#[test]
fn entries_join_intent_and_outcome_lines_newest_first_and_filters_select() {
    let Pair { eu, us, sever } = pair();
    act_as(
        &sever,
        ONCALL,
        "req-done",
        &disconnect_on("mqtt-eu", "c1", false),
    )
    .expect_success();
    act_as(
        &sever,
        ONCALL,
        "req-dry",
        &disconnect_on("mqtt-us", "c1", true),
    )
    .expect_success();
    act_as(
        &sever,
        ONCALL,
        "req-gone",
        &disconnect_on("mqtt-us", "c9", false),
    )
    .expect_problem(404, "target_not_found");
    assert_eq!(eu.calls().len(), 1);
    assert_eq!(us.calls().len(), 1, "the dry-run sent nothing");

    let reply = audit(&sever, ONCALL, "");
    assert_eq!(ids(&reply), ["req-gone", "req-dry", "req-done"]);
    let body = reply.json();
    assert_eq!(body["truncated"], false);
    assert!(body["scanned_bytes"].as_u64().unwrap() > 0);
    let entries = body["entries"].as_array().unwrap();
    let done = &entries[2];
    assert_eq!(done["state"], "ended");
    assert_eq!(done["caller"], "oncall");
    assert_eq!(done["action"], "disconnect");
    assert_eq!(done["backends"], json!(["mqtt-eu"]));
    assert_eq!(done["intent"]["phase"], "intent");
    assert_eq!(done["intent"]["target"], json!({ "client_id": "c1" }));
    assert_eq!(done["intent"]["reason"], "INC-7 audit");
    let outcomes = done["outcomes"].as_array().unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0]["phase"], "outcome");
    assert_eq!(outcomes[0]["outcome"], "done");
    assert_eq!(outcomes[0]["request_id"], "req-done");
    // The dry-run sent nothing: no intent line.
    assert!(entries[1]["intent"].is_null(), "{:#}", entries[1]);
    assert_eq!(entries[1]["outcomes"][0]["outcome"], "dry_run");
    assert_eq!(entries[0]["intent"]["backend"], "mqtt-us");
    assert_eq!(entries[0]["outcomes"][0]["code"], "target_not_found");
    // What the file holds, joined: every line of the file is in one entry.
    let lines = sever.audit_all_lines();
    let shown: usize = entries
        .iter()
        .map(|e| usize::from(!e["intent"].is_null()) + e["outcomes"].as_array().unwrap().len())
        .sum();
    assert_eq!(shown, lines.len(), "{lines:#?}");

    assert_eq!(
        ids(&audit(&sever, ONCALL, "?backend=mqtt-eu")),
        ["req-done"]
    );
    assert_eq!(
        ids(&audit(&sever, ONCALL, "?request_id=req-dry")),
        ["req-dry"]
    );
    assert_eq!(
        ids(&audit(&sever, ONCALL, "?limit=2")),
        ["req-gone", "req-dry"]
    );
    assert_eq!(
        ids(&audit(&sever, ONCALL, "?since=2999-01-01T00:00:00Z")),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&audit(
            &sever,
            ONCALL,
            "?since=2000-01-01T00%3A00%3A00%2B01%3A00&limit=500"
        ))
        .len(),
        3
    );
    for bad in [
        "?limit=0",
        "?limit=501",
        "?limit=ten",
        "?since=yesterday",
        "?backends=x",
        "?request_id=a%20b",
        "?limit=1&limit=2",
    ] {
        let reply = audit(&sever, ONCALL, bad);
        let problem = reply.expect_problem(400, "invalid_request");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("query parameter"),
            "{bad}: {problem:#}"
        );
    }
    http::get(&sever.url("/v1/audit"), None).expect_problem(401, "unauthenticated");
    let head = http::send(
        "HEAD",
        &sever.url("/v1/audit"),
        &[("authorization", &format!("Bearer {ONCALL}"))],
        None,
    );
    assert_eq!(head.status, 200);
    assert!(head.text.is_empty());
    let post = http::send("POST", &sever.url("/v1/audit"), &[], Some(b"{}"));
    post.expect_problem(405, "method_not_allowed");
}

#[test]
fn a_caller_never_sees_an_entry_for_a_backend_outside_its_allow_rules() {
    let Pair {
        eu: _eu,
        us: _us,
        sever,
    } = pair();
    act_as(
        &sever,
        ONCALL,
        "eu-only",
        &disconnect_on("mqtt-eu", "c2", false),
    )
    .expect_success();
    act_as(
        &sever,
        ONCALL,
        "us-only",
        &disconnect_on("mqtt-us", "c1", true),
    )
    .expect_success();
    let fan_out = json!({ "action": "disconnect", "backends": ["mqtt-eu", "mqtt-us"],
                          "target": { "client_id": "c1" }, "reason": "INC-8" });
    let reply = act_as(&sever, ONCALL, "both", &fan_out);
    assert_eq!(reply.status, 200, "{reply:#?}");
    act_as(
        &sever,
        NARROW,
        "narrow-tries-eu",
        &disconnect_on("mqtt-eu", "c1", false),
    )
    .expect_problem(403, "forbidden");
    act_as(
        &sever,
        NARROW,
        "narrow-us",
        &disconnect_on("mqtt-us", "c1", true),
    )
    .expect_success();

    // `oncall` covers every backend: it sees everything.
    assert_eq!(
        ids(&audit(&sever, ONCALL, "")),
        ["narrow-us", "narrow-tries-eu", "both", "us-only", "eu-only"]
    );
    let reply = audit(&sever, ONCALL, "?request_id=both");
    let both = &reply.json()["entries"][0];
    assert_eq!(both["backends"], json!(["mqtt-eu", "mqtt-us"]));
    assert_eq!(both["intent"]["backends"], json!(["mqtt-eu", "mqtt-us"]));
    assert_eq!(both["outcomes"].as_array().unwrap().len(), 3, "{both:#}");

    // `narrow` covers mqtt-us only: no entry naming mqtt-eu, not even the fan-out or its
    // own refused attempt, whatever the filter.
    let reply = audit(&sever, NARROW, "");
    assert_eq!(ids(&reply), ["narrow-us", "us-only"]);
    for query in [
        "",
        "?backend=mqtt-eu",
        "?request_id=both",
        "?request_id=eu-only",
        "?limit=500",
    ] {
        let reply = audit(&sever, NARROW, query);
        for entry in reply.expect_success_json()["entries"].as_array().unwrap() {
            assert_eq!(entry["backends"], json!(["mqtt-us"]), "{query}: {entry:#}");
            assert!(!entry.to_string().contains("mqtt-eu"), "{query}: {entry:#}");
        }
    }
    assert!(ids(&audit(&sever, NARROW, "?backend=mqtt-eu")).is_empty());
}

#[test]
fn without_an_audit_log_the_answer_is_503() {
    let sim = sim(&["c1"]);
    let config = config(&sim.url()).replace("audit: { path: \"audit.jsonl\" }\n", "");
    assert!(!config.contains("audit:"));
    let sever = Sever::start(&config, &env());
    let reply = audit(&sever, ONCALL, "");
    reply.expect_problem(503, "audit_unavailable");
}
