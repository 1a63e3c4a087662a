//! End to end through the real `sever` and `libsever_emqx.so`, against the strict EMQX
//! simulator: every row of the contract table, seen from the caller and from the vendor.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{Canned, EmqxSim, EmqxSimConfig, Fault, RecordedCall};

const ONCALL: &str = "oncall-token-e3a9c1";
const KEY: &str = "sever-key";
const SECRET: &str = "emqx-secret-7d41f0";
/// base64("sever-key:emqx-secret-7d41f0")
const BASIC: &str = "c2V2ZXIta2V5OmVtcXgtc2VjcmV0LTdkNDFmMA==";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_emqx.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  emqx-1:
    plugin: emqx
    url: "@URL@"
    timeout_ms: 1000
    retries: @RETRIES@
    settings: { api_key: "sever-key", api_secret: "${EMQX_SECRET}" }
"#;

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn sim(clients: &[(&str, &str)]) -> EmqxSim {
    let mut config = EmqxSimConfig::new(KEY, SECRET).with_viewer_key("viewer", SECRET);
    for (id, user) in clients {
        config = config.with_client(id, user);
    }
    EmqxSim::start(config)
}

fn start_with(sim: &EmqxSim, retries: u32, secret: &str) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", &retries.to_string());
    Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("EMQX_SECRET", secret)],
    )
}

fn start(sim: &EmqxSim) -> Sever {
    start_with(sim, 0, SECRET)
}

fn body(action: &str, field: &str, id: &str) -> Value {
    json!({"action": action, "backend": "emqx-1", "target": {field: id}, "reason": "INC-12"})
}

fn act(sever: &Sever, body: &Value) -> Reply {
    http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body.to_string())
}

fn disconnect(sever: &Sever, client: &str) -> Reply {
    act(sever, &body("disconnect", "client_id", client))
}

fn terminate(sever: &Sever, user: &str) -> Reply {
    act(sever, &body("terminate", "user_id", user))
}

fn assert_basic(call: &RecordedCall) {
    let expected = format!("Basic {BASIC}");
    assert_eq!(
        call.header("authorization"),
        Some(expected.as_str()),
        "{call:#?}"
    );
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, BASIC, ONCALL] {
        assert!(!text.contains(secret), "secret {secret:?} shown: {text}");
    }
}

#[test]
fn disconnect_kicks_the_client_and_a_second_cut_is_target_not_found() {
    let client = "dev/7 #é+$";
    let sim = sim(&[(client, "alice"), ("other", "alice")]);
    let sever = start(&sim);

    let reply = disconnect(&sever, client);

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "done", "{answer:#}");
    assert_eq!(answer["vendor"]["status"], 204, "{answer:#}");
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(call.method, "DELETE");
    let encoded = utf8_percent_encode(client, SEGMENT);
    assert_eq!(call.raw_path, format!("/api/v5/clients/{encoded}"));
    assert_eq!(call.segments[3], client);
    assert_basic(call);
    assert!(!sim.is_connected(client));
    assert!(sim.is_connected("other"));

    let again = disconnect(&sever, client);
    let problem = again.expect_problem(404, "target_not_found");
    assert_eq!(
        problem["vendor"]["code"], "CLIENTID_NOT_FOUND",
        "{problem:#}"
    );
    assert_eq!(
        problem["vendor"]["message"], "Client ID not found",
        "{problem:#}"
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("Client ID not found"));
}

#[test]
fn terminate_lists_every_page_then_kicks_the_users_clients_in_one_bulk_call() {
    let ids: Vec<String> = (0..150).map(|n| format!("alice-{n:03}")).collect();
    let mut clients: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "alice b")).collect();
    clients.extend([("bob-1", "bob"), ("bob-2", "bob")]);
    let sim = sim(&clients);
    let sever = start(&sim);

    let reply = terminate(&sever, "alice b");

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "done", "{answer:#}");
    assert_eq!(answer["vendor"]["closed"], 150, "{answer:#}");
    assert_eq!(answer["vendor"]["status"], 204, "{answer:#}");
    let calls = sim.calls();
    let shape: Vec<(&str, Option<&str>)> = calls
        .iter()
        .map(|c| (c.raw_path.as_str(), c.query.as_deref()))
        .collect();
    assert_eq!(
        shape,
        [
            (
                "/api/v5/clients",
                Some("username=alice%20b&page=1&limit=100")
            ),
            (
                "/api/v5/clients",
                Some("username=alice%20b&page=2&limit=100")
            ),
            ("/api/v5/clients/kickout/bulk", None),
        ]
    );
    calls.iter().for_each(assert_basic);
    let bulk = calls[2].json_body().unwrap();
    assert_eq!(bulk.as_array().unwrap().len(), 150);
    assert_eq!(sim.connected_clients(), ["bob-1", "bob-2"]);

    // Nobody left: the list says so, and no bulk kick is sent.
    sim.clear_calls();
    let again = terminate(&sever, "alice b");
    let problem = again.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["listed"], 0, "{problem:#}");
    assert_eq!(sim.calls().len(), 1);
}

#[test]
fn a_wrong_secret_and_a_viewer_role_are_upstream_unauthorized() {
    let sim = sim(&[("c1", "alice")]);
    let sever = start_with(&sim, 0, "not-the-secret");
    let reply = disconnect(&sever, "c1");
    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 401, "{problem:#}");
    assert_eq!(
        problem["vendor"]["code"], "BAD_API_KEY_OR_SECRET",
        "{problem:#}"
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("Check api_key/api_secret"));
    assert!(!reply.text.contains("not-the-secret"), "{}", reply.text);

    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", "0")
        .replace("api_key: \"sever-key\"", "api_key: \"viewer\"");
    let viewer = Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("EMQX_SECRET", SECRET)],
    );
    let problem = terminate(&viewer, "alice")
        .expect_problem(502, "upstream_unauthorized")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "UNAUTHORIZED_ROLE",
        "{problem:#}"
    );
    assert!(sim.is_connected("c1"));
}

#[test]
fn throttling_is_rate_limited_with_the_vendors_retry_after() {
    let sim = sim(&[("c1", "alice")]);
    sim.set_fault(Canned::new(429, "TOO_MANY_REQUESTS", "Rate limit exceeded").retry_after("7"));
    let sever = start(&sim);
    let reply = disconnect(&sever, "c1");
    reply.expect_problem(429, "rate_limited");
    assert_eq!(reply.header("retry-after"), Some("7"), "{reply:#?}");
    assert!(sim.is_connected("c1"));
}

#[test]
fn a_bad_request_is_upstream_rejected_and_a_node_down_upstream_error() {
    let sim = sim(&[("c1", "alice")]);
    let sever = start(&sim);
    sim.set_fault(Canned::new(400, "INVALID_PARAMETER", "limit is too large"));
    let problem = terminate(&sever, "alice")
        .expect_problem(502, "upstream_rejected")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "INVALID_PARAMETER",
        "{problem:#}"
    );
    sim.set_fault(Canned::new(500, "NODE_DOWN", "emqx@10.0.0.2 is down"));
    let problem = disconnect(&sever, "c1")
        .expect_problem(502, "upstream_error")
        .clone();
    assert_eq!(problem["vendor"]["code"], "NODE_DOWN", "{problem:#}");
    assert!(sim.is_connected("c1"));
}

#[test]
fn a_vendor_500_is_retried_when_retries_allow() {
    let sim = sim(&[("c1", "alice"), ("c2", "alice")]);
    sim.fail_next(1, Fault::InternalError);
    let sever = start_with(&sim, 1, SECRET);
    let answer = terminate(&sever, "alice");
    assert_eq!(answer.expect_success()["vendor"]["closed"], 2);
    let calls = sim.calls();
    assert_eq!(calls.len(), 3, "list (500), list again, bulk: {calls:#?}");
    assert_eq!(calls[0].status, Some(500));
    assert_eq!(calls[0].query, calls[1].query);
    assert!(sim.connected_clients().is_empty());
}

#[test]
fn an_unreadable_answer_is_upstream_error_and_nothing_is_kicked() {
    let sim = sim(&[("c1", "alice")]);
    sim.set_fault(Fault::Garbage);
    let sever = start(&sim);
    for reply in [terminate(&sever, "alice"), disconnect(&sever, "c1")] {
        let problem = reply.expect_problem(502, "upstream_error");
        assert_eq!(problem["vendor"]["status"], 200, "{problem:#}");
    }
    assert_eq!(
        sim.calls().len(),
        2,
        "no bulk kick after an unreadable list"
    );
    assert!(sim.is_connected("c1"));
}

#[test]
fn dry_runs_show_the_calls_with_the_credentials_redacted_and_send_nothing() {
    let sim = sim(&[("c1", "alice")]);
    let sever = start(&sim);
    for (action, field, id, path) in [
        ("disconnect", "client_id", "a/b", "/api/v5/clients/a%2Fb"),
        (
            "terminate",
            "user_id",
            "alice",
            "/api/v5/clients?username=alice&page=1&limit=100",
        ),
    ] {
        let mut request = body(action, field, id);
        request["dry_run"] = json!(true);
        let reply = act(&sever, &request);
        let answer = reply.expect_success();
        assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
        let planned = &answer["requests"][0];
        assert_eq!(planned["url"], format!("{}{path}", sim.url()), "{answer:#}");
        assert_eq!(
            planned["headers"]["authorization"], "<redacted>",
            "{answer:#}"
        );
        assert_no_secret(&reply.text);
    }
    assert!(sim.calls().is_empty());
    assert_no_secret(&sever.audit_text());
    assert_no_secret(&sever.stderr());
}
