//! End to end through the real `sever` and `libsever_hivemq.so`, against the strict HiveMQ
//! simulator: both calls `invalidate_session` chooses between, and every row of the
//! contract table.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{Canned, Fault, HivemqSim, HivemqSimConfig};

const ONCALL: &str = "oncall-token-5b0d2e";
const USER: &str = "sever";
const PASSWORD: &str = "hive-pass-91c3aa";
/// base64("sever:hive-pass-91c3aa")
const BASIC: &str = "c2V2ZXI6aGl2ZS1wYXNzLTkxYzNhYQ==";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_hivemq.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  hive-keep:
    plugin: hivemq
    url: "@URL@"
    timeout_ms: 1000
    retries: @RETRIES@
    settings: { username: "sever", password: "${HIVEMQ_PASSWORD}" }
  hive-drop:
    plugin: hivemq
    url: "@URL@"
    timeout_ms: 1000
    retries: 0
    settings: { username: "sever", password: "${HIVEMQ_PASSWORD}", invalidate_session: true, prevent_will_message: true }
"#;

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn sim_with(config: HivemqSimConfig) -> HivemqSim {
    HivemqSim::start(config.with_user(USER, PASSWORD))
}

fn sim(clients: &[&str]) -> HivemqSim {
    let mut config = HivemqSimConfig::default();
    for client in clients {
        config = config.with_client(client);
    }
    sim_with(config)
}

fn start_with(sim: &HivemqSim, retries: u32, password: &str) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", &retries.to_string());
    Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("HIVEMQ_PASSWORD", password)],
    )
}

fn start(sim: &HivemqSim) -> Sever {
    start_with(sim, 0, PASSWORD)
}

fn body(backend: &str, client: &str) -> Value {
    json!({"action": "disconnect", "backend": backend, "target": {"client_id": client}})
}

fn disconnect(sever: &Sever, backend: &str, client: &str) -> Reply {
    http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(backend, client).to_string(),
    )
}

fn assert_no_secret(text: &str) {
    for secret in [PASSWORD, BASIC, ONCALL] {
        assert!(!text.contains(secret), "secret {secret:?} shown: {text}");
    }
}

#[test]
fn disconnect_closes_the_connection_keeps_the_session_and_a_second_cut_is_not_found() {
    let client = "dev/7 #é+$";
    let sim = sim(&[client, "other"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "hive-keep", client);

    assert_eq!(reply.expect_success()["outcome"], "done");
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let encoded = utf8_percent_encode(client, SEGMENT);
    assert_eq!(calls[0].method, "DELETE");
    assert_eq!(
        calls[0].raw_path,
        format!("/api/v1/mqtt/clients/{encoded}/connection")
    );
    assert_eq!(calls[0].query.as_deref(), Some("preventWillMessage=false"));
    assert_eq!(calls[0].header("accept"), Some("application/json"));
    let basic = format!("Basic {BASIC}");
    assert_eq!(calls[0].header("authorization"), Some(basic.as_str()));
    assert!(!sim.is_connected(client) && sim.has_session(client));
    assert_eq!(sim.wills_published(), [client]);
    assert!(sim.is_connected("other"));

    let problem = disconnect(&sever, "hive-keep", client)
        .expect_problem(404, "target_not_found")
        .clone();
    assert_eq!(
        problem["vendor"]["title"], "Resource not found",
        "{problem:#}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("Resource with id '{client}' not found")),
        "{detail}"
    );
}

#[test]
fn invalidate_session_drops_the_session_without_the_will_also_when_offline() {
    let sim = sim_with(
        HivemqSimConfig::default()
            .with_client("c1")
            .with_offline_session("c2"),
    );
    let sever = start(&sim);

    assert_eq!(
        disconnect(&sever, "hive-drop", "c1").expect_success()["outcome"],
        "done"
    );
    let calls = sim.calls();
    assert_eq!(calls[0].raw_path, "/api/v1/mqtt/clients/c1");
    assert_eq!(calls[0].query.as_deref(), Some("preventWillMessage=true"));
    assert!(!sim.has_session("c1"));
    assert!(sim.wills_published().is_empty());

    // An offline client's session: the disconnect finds no connection, the invalidation
    // still drops the session.
    disconnect(&sever, "hive-keep", "c2").expect_problem(404, "target_not_found");
    assert_eq!(
        disconnect(&sever, "hive-drop", "c2").expect_success()["outcome"],
        "done"
    );
    assert!(!sim.has_session("c2"));
    disconnect(&sever, "hive-drop", "c2").expect_problem(404, "target_not_found");
}

#[test]
fn a_wrong_password_and_a_missing_permission_are_upstream_unauthorized() {
    let sim = sim_with(
        HivemqSimConfig::default()
            .with_client("c1")
            .with_unpermitted_user("sever", "read-only-pw"),
    );
    let sever = start_with(&sim, 0, "wrong-password-x");
    let reply = disconnect(&sever, "hive-keep", "c1");
    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 401, "{problem:#}");
    assert!(!reply.text.contains("wrong-password-x"));

    let sever = start_with(&sim, 0, "read-only-pw");
    let problem = disconnect(&sever, "hive-keep", "c1")
        .expect_problem(502, "upstream_unauthorized")
        .clone();
    assert_eq!(problem["vendor"]["status"], 403, "{problem:#}");
    assert!(sim.is_connected("c1"));
}

#[test]
fn throttling_is_rate_limited_with_the_vendors_retry_after() {
    let sim = sim(&["c1"]);
    sim.set_fault(Canned::new(429, "Too many requests", "Slow down").retry_after("5"));
    let sever = start(&sim);
    let reply = disconnect(&sever, "hive-keep", "c1");
    reply.expect_problem(429, "rate_limited");
    assert_eq!(reply.header("retry-after"), Some("5"), "{reply:#?}");
}

#[test]
fn a_parameter_error_is_rejected_and_endpoint_not_active_is_retried() {
    let sim = sim(&["c1"]);
    let sever = start_with(&sim, 1, PASSWORD);
    let detail = "Query parameter 'preventWillMessage' is invalid";
    sim.set_fault(Canned::new(400, "Parameter invalid", detail));
    let problem = disconnect(&sever, "hive-keep", "c1")
        .expect_problem(502, "upstream_rejected")
        .clone();
    assert!(
        problem["detail"].as_str().unwrap().contains(detail),
        "{problem:#}"
    );
    assert_eq!(sim.calls().len(), 1, "a 400 is not retried");

    sim.set_fault(Fault::None);
    sim.clear_calls();
    let not_yet = Canned::new(
        503,
        "Endpoint not active yet",
        "Not all cluster nodes support it",
    );
    sim.fail_next(1, not_yet);
    assert_eq!(
        disconnect(&sever, "hive-keep", "c1").expect_success()["outcome"],
        "done"
    );
    let calls = sim.calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [Some(503), Some(204)]
    );
}

#[test]
fn a_server_error_and_an_unreadable_answer_are_upstream_error() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    sim.set_fault(Fault::InternalError);
    let problem = disconnect(&sever, "hive-keep", "c1")
        .expect_problem(502, "upstream_error")
        .clone();
    assert_eq!(problem["vendor"]["title"], "Internal error", "{problem:#}");
    sim.set_fault(Fault::Garbage);
    let problem = disconnect(&sever, "hive-keep", "c1")
        .expect_problem(502, "upstream_error")
        .clone();
    assert_eq!(problem["vendor"]["status"], 200, "{problem:#}");
    assert!(sim.is_connected("c1"));
}

#[test]
fn dry_runs_show_each_call_with_the_credentials_redacted_and_send_nothing() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    for (backend, path) in [
        (
            "hive-keep",
            "/api/v1/mqtt/clients/a%2Fb/connection?preventWillMessage=false",
        ),
        (
            "hive-drop",
            "/api/v1/mqtt/clients/a%2Fb?preventWillMessage=true",
        ),
    ] {
        let mut request = body(backend, "a/b");
        request["dry_run"] = json!(true);
        let reply = http::post_json(
            &sever.url("/v1/actions"),
            Some(ONCALL),
            &request.to_string(),
        );
        let answer = reply.expect_success();
        assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
        let planned = &answer["requests"][0];
        assert_eq!(planned["method"], "DELETE");
        assert_eq!(planned["url"], format!("{}{path}", sim.url()), "{answer:#}");
        assert_eq!(
            planned["headers"]["authorization"], "<redacted>",
            "{answer:#}"
        );
        assert_no_secret(&reply.text);
    }
    assert!(sim.calls().is_empty());
    assert_no_secret(&sever.stderr());
    assert_no_secret(&sever.audit_text());
}
