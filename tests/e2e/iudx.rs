//! End to end through the real `sever` and the iudx adapter plugin, against the strict
//! corinthian simulator: what the caller gets back and exactly what the vendor received,
//! in entity mode and owner mode.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_iudx.so`).
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{Fault, IudxSim, IudxSimConfig, RecordedCall};

const ONCALL: &str = "oncall-token-6c2d90";
const ENTITY_KEY: &str = "iudx-entity-key-71af3c";
const OWNER_KEY: &str = "iudx-owner-key-0d5e28";
/// The exchange most tests unbind from: bob's sensor, protected messages.
const PROTECTED: &str = "bob/sensor-1.protected";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_iudx.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["unbind"] } ] }
audit: { path: "audit.jsonl" }
backends:
  iot-entity:
    plugin: iudx
    url: "@URL@"
    timeout_ms: 1000
    retries: @RETRIES@
    settings: { id: "alice/app-1", apikey: "${IUDX_ENTITY_KEY}" }
  iot-owner:
    plugin: iudx
    url: "@URL@"
    timeout_ms: 1000
    retries: 0
    settings: { id: "alice", apikey: "${IUDX_OWNER_KEY}" }
"#;

fn env_with(entity_key: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("ONCALL_TOKEN", ONCALL),
        ("IUDX_ENTITY_KEY", entity_key),
        ("IUDX_OWNER_KEY", OWNER_KEY),
    ]
}

/// alice (owner) with her autonomous apps, bob's sensor, the bindings of alice's app to
/// bob's sensor, and alice/app-1's read permission on its protected `temp` topic.
fn sim_config() -> IudxSimConfig {
    IudxSimConfig::new()
        .with_owner("alice", OWNER_KEY)
        .with_entity("alice/app-1", ENTITY_KEY)
        .with_entity("alice/app-2", "other-key")
        .with_entity("bob/sensor-1", "bob-key")
        .with_binding(PROTECTED, "alice/app-1", "temp")
        .with_binding(PROTECTED, "alice/app-1", "humidity")
        .with_binding(PROTECTED, "alice/app-2", "temp")
        .with_acl("alice/app-1", PROTECTED, "temp")
        .with_acl("alice/app-2", PROTECTED, "temp")
}

fn start_with(sim: &IudxSim, retries: u32, env: &[(&str, &str)]) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", &retries.to_string());
    Sever::start(&config, env)
}

fn start(sim: &IudxSim) -> Sever {
    start_with(sim, 0, &env_with(ENTITY_KEY))
}

fn unbind_body(backend: &str, target: Value) -> Value {
    json!({ "action": "unbind", "backend": backend, "target": target, "reason": "INC-9" })
}

fn act(sever: &Sever, body: &Value) -> Reply {
    http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body.to_string())
}

/// `unbind` on `backend` of bob's sensor, `topic`, protected messages, plus `extra` target
/// fields.
fn unbind(sever: &Sever, backend: &str, topic: &str, extra: Value) -> Reply {
    let mut target = json!({"source": "bob/sensor-1", "topic": topic, "message_type": "protected"});
    if let (Some(target), Some(extra)) = (target.as_object_mut(), extra.as_object()) {
        target.extend(extra.clone());
    }
    act(sever, &unbind_body(backend, target))
}

/// Asserts `call` is corinthian's unbind with exactly these headers (in any order) and
/// no body.
fn assert_call(call: &RecordedCall, path: &str, expected: &[(&str, &str)]) {
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", path),
        "{call:#?}"
    );
    assert_eq!(call.query, None, "{call:#?}");
    assert_eq!(call.body, "", "{call:#?}");
    for (name, value) in expected {
        assert_eq!(call.header(name), Some(*value), "{name}: {call:#?}");
    }
    let ours = ["id", "apikey", "to", "topic", "message-type", "from"];
    let sent: Vec<&str> = call
        .headers
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| ours.contains(n))
        .collect();
    assert_eq!(sent.len(), expected.len(), "{call:#?}");
}

fn one_call(sim: &IudxSim) -> RecordedCall {
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "expected one vendor call: {calls:#?}");
    calls[0].clone()
}

fn assert_nothing_sent(sim: &IudxSim) {
    let calls = sim.calls();
    assert!(calls.is_empty(), "expected no vendor call: {calls:#?}");
}

fn assert_no_secret(text: &str) {
    for secret in [ENTITY_KEY, OWNER_KEY, ONCALL] {
        assert!(!text.contains(secret), "secret {secret:?} leaked: {text}");
    }
}

#[test]
fn an_entity_unbinds_its_own_queue_with_the_documented_call() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);

    let reply = unbind(&sever, "iot-entity", "temp", json!({}));

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"]["status"], 200, "{body:#}");
    let expected = [
        ("id", "alice/app-1"),
        ("apikey", ENTITY_KEY),
        ("to", "bob/sensor-1"),
        ("topic", "temp"),
        ("message-type", "protected"),
    ];
    assert_call(&one_call(&sim), "/entity/unbind", &expected);
    assert!(!sim.has_binding(PROTECTED, "alice/app-1", "temp"));
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "humidity"));
    assert!(sim.has_binding(PROTECTED, "alice/app-2", "temp"));
}

#[test]
fn an_entity_may_name_itself_as_client_id() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);
    let reply = unbind(
        &sever,
        "iot-entity",
        "temp",
        json!({"client_id": "alice/app-1"}),
    );
    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_eq!(one_call(&sim).header("from"), None);
}

#[test]
fn an_owner_unbinds_its_devices_queue_named_by_client_id() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);

    let reply = unbind(
        &sever,
        "iot-owner",
        "temp",
        json!({"client_id": "alice/app-2"}),
    );

    assert_eq!(reply.expect_success()["outcome"], "done");
    let expected = [
        ("id", "alice"),
        ("apikey", OWNER_KEY),
        ("to", "bob/sensor-1"),
        ("topic", "temp"),
        ("message-type", "protected"),
        ("from", "alice/app-2"),
    ];
    assert_call(&one_call(&sim), "/owner/unbind", &expected);
    assert!(!sim.has_binding(PROTECTED, "alice/app-2", "temp"));
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "temp"));
}

#[test]
fn unbinding_a_binding_that_does_not_exist_is_done_as_the_vendor_says() {
    let sim = IudxSim::start(sim_config().with_acl("alice/app-1", PROTECTED, "pressure"));
    let sever = start(&sim);
    let before = sim.bindings();
    let reply = unbind(&sever, "iot-entity", "pressure", json!({}));
    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_eq!(sim.bindings(), before);
}

#[test]
fn a_wrong_apikey_is_upstream_unauthorized_with_the_vendor_message() {
    let sim = IudxSim::start(sim_config());
    let sever = start_with(&sim, 0, &env_with("not-the-key"));

    let reply = unbind(&sever, "iot-entity", "temp", json!({}));

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 403, "{problem:#}");
    assert_eq!(problem["vendor"]["message"], "invalid id or apikey");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("invalid id or apikey"));
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "temp"));
}

#[test]
fn refusals_map_by_message_not_by_status() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);
    let cases = [
        // (backend, topic, extra target, canonical code, vendor status, vendor message)
        (
            "iot-owner",
            "temp",
            json!({"client_id": "carol/app-1"}),
            "upstream_unauthorized",
            403,
            "you are not the owner of 'from' entity",
        ),
        (
            "iot-entity",
            "humidity",
            json!({}),
            "upstream_unauthorized",
            403,
            "unauthorized",
        ),
        (
            "iot-owner",
            "temp",
            json!({"client_id": "app-2"}),
            "upstream_rejected",
            400,
            "'from' is not a valid entity",
        ),
        (
            "iot-entity",
            "a;b",
            json!({}),
            "upstream_rejected",
            400,
            "invalid topic",
        ),
        (
            "iot-entity",
            "a b",
            json!({}),
            "upstream_rejected",
            400,
            "invalid topic",
        ),
    ];
    for (backend, topic, extra, code, status, message) in cases {
        let reply = unbind(&sever, backend, topic, extra);
        let problem = reply.expect_problem(502, code);
        assert_eq!(problem["vendor"]["status"], status, "{problem:#}");
        assert_eq!(problem["vendor"]["message"], message, "{problem:#}");
        assert!(
            problem["detail"].as_str().unwrap().contains(message),
            "{problem:#}"
        );
    }
    let target = json!({"source": "sensor-1", "topic": "temp", "message_type": "public"});
    let reply = act(&sever, &unbind_body("iot-entity", target));
    let problem = reply.expect_problem(502, "upstream_rejected");
    assert_eq!(problem["vendor"]["message"], "'to' is not a valid entity");
    assert_eq!(sim.calls().len(), 6);
    assert_eq!(sim.bindings().len(), 3);
}

#[test]
fn a_500_whose_body_is_not_json_is_a_clean_upstream_error_keeping_the_vendor_text() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);
    // carol's camera has no exchanges: the broker refuses, corinthian answers 500 with a
    // raw newline inside its JSON string.
    let target = json!({"source": "carol/cam-1", "topic": "frames", "message_type": "public"});

    let reply = act(&sever, &unbind_body("iot-entity", target));

    let problem = reply.expect_problem(502, "upstream_error");
    assert_eq!(problem["vendor"]["status"], 500, "{problem:#}");
    let message = "unbind failed e={carol/cam-1.public} q={alice/app-1} t={frames}";
    assert_eq!(problem["vendor"]["message"], message, "{problem:#}");
    assert!(
        problem["detail"].as_str().unwrap().contains(message),
        "{problem:#}"
    );
    assert!(
        !reply.text.contains('\n'),
        "the answer is clean JSON: {:?}",
        reply.text
    );
    let calls = sim.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, Some(500));
}

#[test]
fn the_internal_error_fault_is_upstream_error_and_retried_when_retries_allow() {
    let sim = IudxSim::start(sim_config());
    sim.set_fault(Fault::InternalError);
    let sever = start(&sim);
    let reply = unbind(&sever, "iot-entity", "temp", json!({}));
    let problem = reply.expect_problem(502, "upstream_error");
    let message = "unbind failed e={bob/sensor-1.protected} q={alice/app-1} t={temp}";
    assert_eq!(problem["vendor"]["message"], message, "{problem:#}");

    let sim = IudxSim::start(sim_config());
    sim.fail_next(1, Fault::InternalError);
    let sever = start_with(&sim, 1, &env_with(ENTITY_KEY));
    let reply = unbind(&sever, "iot-entity", "temp", json!({}));
    assert_eq!(reply.expect_success()["outcome"], "done");
    let calls = sim.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    // The same call again; only the trace context's span id differs per attempt.
    let without_trace = |h: &[(String, String)]| -> Vec<(String, String)> {
        h.iter()
            .filter(|(n, _)| n != "traceparent")
            .cloned()
            .collect()
    };
    assert_eq!(
        without_trace(&calls[0].headers),
        without_trace(&calls[1].headers)
    );
}

#[test]
fn identifiers_with_reserved_characters_arrive_byte_exact() {
    let topics = ["a/b/*", "room-1.temp.#", "x-y.*.z", "A.B.C-9", "#"];
    let mut config = sim_config();
    for topic in topics {
        config = config
            .with_binding(PROTECTED, "alice/app-1", topic)
            .with_acl("alice/app-1", PROTECTED, topic);
    }
    let sim = IudxSim::start(config);
    let sever = start(&sim);

    for topic in topics {
        sim.clear_calls();
        let reply = unbind(&sever, "iot-entity", topic, json!({}));
        assert_eq!(
            reply.expect_success()["outcome"],
            "done",
            "{topic:?}: {reply:#?}"
        );
        assert_eq!(one_call(&sim).header("topic"), Some(topic));
        assert!(
            !sim.has_binding(PROTECTED, "alice/app-1", topic),
            "{topic:?}"
        );
    }
}

#[test]
fn identifiers_that_cannot_be_sent_are_refused_and_nothing_is_sent() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);
    let cases = [
        (
            "iot-entity",
            json!({"topic": "temp\r\nX-Evil: 1"}),
            "target.topic",
        ),
        (
            "iot-entity",
            json!({"source": "bob/sensor-1\n"}),
            "target.source",
        ),
        (
            "iot-owner",
            json!({"client_id": "alice/app-2\r"}),
            "target.client_id",
        ),
        (
            "iot-entity",
            json!({"message_type": "secret"}),
            "target.message_type",
        ),
        (
            "iot-entity",
            json!({"message_type": "Protected"}),
            "target.message_type",
        ),
        (
            "iot-entity",
            json!({"client_id": "alice/app-2"}),
            "target.client_id",
        ),
        ("iot-owner", json!({}), "target.client_id"),
        (
            "iot-entity",
            json!({"topic": "température"}),
            "target.topic",
        ),
        ("iot-entity", json!({"topic": " temp"}), "target.topic"),
    ];
    for (backend, overrides, field) in cases {
        let mut target =
            json!({"source": "bob/sensor-1", "topic": "temp", "message_type": "protected"});
        if let (Some(target), Some(overrides)) = (target.as_object_mut(), overrides.as_object()) {
            target.extend(overrides.clone());
        }
        let reply = act(&sever, &unbind_body(backend, target));
        let problem = reply.expect_problem(400, "invalid_request");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{field}: {problem:#}");
    }
    assert_nothing_sent(&sim);
    assert_eq!(sim.bindings().len(), 3);
}

#[test]
fn dry_run_shows_the_call_with_the_apikey_redacted_and_sends_nothing() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);
    let target = json!({"source": "bob/sensor-1", "topic": "temp", "message_type": "protected", "client_id": "alice/app-2"});
    let mut body = unbind_body("iot-owner", target);
    body["dry_run"] = json!(true);

    let reply = act(&sever, &body);

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
    let planned = &answer["requests"][0];
    assert_eq!(planned["method"], "POST");
    assert_eq!(planned["url"], format!("{}/owner/unbind", sim.url()));
    assert_eq!(
        planned["headers"],
        json!({"id": "alice", "apikey": "<redacted>", "to": "bob/sensor-1", "topic": "temp",
               "message-type": "protected", "from": "alice/app-2"}),
        "{answer:#}"
    );
    assert_eq!(planned["body"], "");
    assert_no_secret(&reply.text);
    assert_nothing_sent(&sim);
}

#[test]
fn no_secret_reaches_the_logs_or_the_audit_log() {
    let sim = IudxSim::start(sim_config());
    let sever = start(&sim);
    let mut texts = vec![
        unbind(&sever, "iot-entity", "temp", json!({})).text,
        unbind(
            &sever,
            "iot-owner",
            "temp",
            json!({"client_id": "carol/x-1"}),
        )
        .text,
        unbind(&sever, "iot-owner", "temp", json!({})).text,
    ];
    sim.set_fault(Fault::InternalError);
    texts.push(
        unbind(
            &sever,
            "iot-owner",
            "temp",
            json!({"client_id": "alice/app-2"}),
        )
        .text,
    );
    texts.push(http::get(&sever.url("/v1/backends"), Some(ONCALL)).text);

    let audit = sever.audit_lines();
    assert_eq!(audit.len(), 4, "{audit:#?}");
    assert_eq!(audit[0]["outcome"], "done");
    assert_eq!(audit[1]["code"], "upstream_unauthorized");
    assert_eq!(audit[2]["code"], "invalid_request");
    assert_eq!(audit[3]["code"], "upstream_error");
    assert_eq!(audit[3]["target"]["client_id"], "alice/app-2");
    for text in texts.iter().chain([&sever.audit_text(), &sever.stderr()]) {
        assert_no_secret(text);
    }
}
