//! End to end through the real `sever` and `libsever_aws_iot.so`, against the strict AWS IoT
//! simulator, which verifies every Signature V4 with its own code (not the adapter's
//! crate): every row of the contract table, re-signing on retries, and a dry run that
//! shows neither the signature nor a secret.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{AwsIotSim, AwsIotSimConfig, Canned, Fault};

const ONCALL: &str = "oncall-token-77c0de";
const KEY_ID: &str = "AKIAE2ETESTKEY000001";
const SECRET: &str = "e2e/Secret+Key=wJalrXUtnFEMI0000";
const TOKEN: &str = "FwoGZXIvYXdzE2e//sts+token=";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_aws_iot.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  iot-eu:
    plugin: aws-iot
    url: "@URL@"
    timeout_ms: 1000
    retries: @RETRIES@
    settings: { region: eu-west-1, access_key_id: "AKIAE2ETESTKEY000001", secret_access_key: "${AWS_SECRET}" }
  iot-sts:
    plugin: aws-iot
    url: "@URL@"
    timeout_ms: 1000
    retries: 0
    settings: { region: eu-west-1, access_key_id: "AKIAE2ETESTKEY000001", secret_access_key: "${AWS_SECRET}", session_token: "${AWS_TOKEN}", clean_session: true }
"#;

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn sim_config(clients: &[&str]) -> AwsIotSimConfig {
    AwsIotSimConfig::new("eu-west-1", KEY_ID, SECRET).with_clients(clients.iter().copied())
}

fn sim(clients: &[&str]) -> AwsIotSim {
    AwsIotSim::start(sim_config(clients))
}

fn start_with(sim: &AwsIotSim, retries: u32, secret: &str) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", &retries.to_string());
    let env = [
        ("ONCALL_TOKEN", ONCALL),
        ("AWS_SECRET", secret),
        ("AWS_TOKEN", TOKEN),
    ];
    Sever::start(&config, &env)
}

fn start(sim: &AwsIotSim) -> Sever {
    start_with(sim, 0, SECRET)
}

fn body(backend: &str, client: &str) -> Value {
    json!({"action": "disconnect", "backend": backend, "target": {"client_id": client}})
}

fn disconnect_on(sever: &Sever, backend: &str, client: &str) -> Reply {
    http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(backend, client).to_string(),
    )
}

fn disconnect(sever: &Sever, client: &str) -> Reply {
    disconnect_on(sever, "iot-eu", client)
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, TOKEN, ONCALL] {
        assert!(!text.contains(secret), "secret {secret:?} shown: {text}");
    }
}

#[test]
fn disconnect_is_signed_verified_and_a_second_cut_is_target_not_found() {
    let sim = sim(&["sensor-17", "sensor-18"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "done", "{answer:#}");
    assert_eq!(answer["vendor"]["status"], 200, "{answer:#}");
    assert!(answer["vendor"]["request_id"].is_string(), "{answer:#}");
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].method, "DELETE");
    assert_eq!(calls[0].raw_path, "/connections/sensor-17");
    assert_eq!(
        calls[0].query.as_deref(),
        Some("cleanSession=false&preventWillMessage=false")
    );
    let authorization = calls[0].header("authorization").unwrap();
    assert!(
        authorization.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/")),
        "{authorization}"
    );
    assert!(
        authorization.contains("/eu-west-1/iotdata/aws4_request"),
        "{authorization}"
    );
    assert_eq!(calls[0].header("x-amz-security-token"), None);
    assert_eq!(sim.signature_verdicts(), [Some(true)]);
    assert_eq!(sim.connected_clients(), ["sensor-18"]);

    let problem = disconnect(&sever, "sensor-17")
        .expect_problem(404, "target_not_found")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "ResourceNotFoundException",
        "{problem:#}"
    );
    let message = problem["vendor"]["message"].as_str().unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains(message),
        "{problem:#}"
    );
    assert!(problem["vendor"]["request_id"].is_string(), "{problem:#}");
}

#[test]
fn client_ids_that_need_encoding_arrive_byte_exact_and_their_double_encoded_signature_verifies() {
    let ids = [
        "dev/7 #é",
        "a+b=c&d?e",
        "100%",
        "日本-~._",
        "quote\"back\\slash",
    ];
    let sim = sim(&ids);
    let sever = start(&sim);
    for id in ids {
        sim.clear_calls();
        assert_eq!(
            disconnect(&sever, id).expect_success()["outcome"],
            "done",
            "{id}"
        );
        let calls = sim.calls();
        let encoded = utf8_percent_encode(id, SEGMENT);
        assert_eq!(calls[0].raw_path, format!("/connections/{encoded}"), "{id}");
        assert_eq!(calls[0].segments[1], id);
        assert_eq!(sim.signature_verdicts(), [Some(true)], "{id}");
    }
    assert!(sim.connected_clients().is_empty());
}

#[test]
fn temporary_credentials_send_and_sign_the_session_token() {
    let sim = AwsIotSim::start(sim_config(&["c1"]).with_session_token(TOKEN));
    let sever = start(&sim);
    assert_eq!(
        disconnect_on(&sever, "iot-sts", "c1").expect_success()["outcome"],
        "done"
    );
    let calls = sim.calls();
    assert_eq!(calls[0].header("x-amz-security-token"), Some(TOKEN));
    assert_eq!(
        calls[0].query.as_deref(),
        Some("cleanSession=true&preventWillMessage=false")
    );
    assert!(calls[0]
        .header("authorization")
        .unwrap()
        .contains("x-amz-security-token"));
    assert_eq!(sim.signature_verdicts(), [Some(true)]);
    // Without the token the simulator does not know the caller.
    sim.connect("c1");
    let problem = disconnect(&sever, "c1")
        .expect_problem(502, "upstream_unauthorized")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "UnrecognizedClientException",
        "{problem:#}"
    );
}

#[test]
fn a_wrong_secret_a_skewed_clock_and_a_denied_key_are_upstream_unauthorized() {
    let sim = AwsIotSim::start(sim_config(&["c1"]).with_denied_key("AKIADENIED0000000001", SECRET));
    let sever = start_with(&sim, 0, "the-wrong-secret-000");
    let reply = disconnect(&sever, "c1");
    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(
        problem["vendor"]["code"], "InvalidSignatureException",
        "{problem:#}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{problem:#}"
    );
    assert_eq!(sim.signature_verdicts(), [Some(false)]);
    assert!(!reply.text.contains("the-wrong-secret-000"));

    let sever = start(&sim);
    sim.set_clock_offset(3600);
    let problem = disconnect(&sever, "c1")
        .expect_problem(502, "upstream_unauthorized")
        .clone();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Signature expired"),
        "{problem:#}"
    );
    sim.set_clock_offset(0);

    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", "0")
        .replace("AKIAE2ETESTKEY000001", "AKIADENIED0000000001");
    let env = [
        ("ONCALL_TOKEN", ONCALL),
        ("AWS_SECRET", SECRET),
        ("AWS_TOKEN", TOKEN),
    ];
    let denied = Sever::start(&config, &env);
    let problem = disconnect(&denied, "c1")
        .expect_problem(502, "upstream_unauthorized")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "ForbiddenException",
        "{problem:#}"
    );
    assert!(sim.is_connected("c1"));
}

#[test]
fn throttling_is_rate_limited_with_the_vendors_retry_after() {
    let sim = sim(&["c1"]);
    sim.set_fault(Canned::new(429, "ThrottlingException", "Rate exceeded").retry_after("2"));
    let sever = start(&sim);
    let reply = disconnect(&sever, "c1");
    let problem = reply.expect_problem(429, "rate_limited");
    assert_eq!(
        problem["vendor"]["code"], "ThrottlingException",
        "{problem:#}"
    );
    assert_eq!(reply.header("retry-after"), Some("2"), "{reply:#?}");
}

#[test]
fn an_invalid_request_is_rejected_and_a_dollar_id_is_refused_before_sending() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    sim.set_fault(Canned::new(
        400,
        "InvalidRequestException",
        "Invalid client id",
    ));
    let problem = disconnect(&sever, "c1")
        .expect_problem(502, "upstream_rejected")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "InvalidRequestException",
        "{problem:#}"
    );
    sim.set_fault(Fault::None);
    sim.clear_calls();
    let problem = disconnect(&sever, "$aws/things/x")
        .expect_problem(400, "invalid_request")
        .clone();
    assert!(
        problem["detail"].as_str().unwrap().contains("'$'"),
        "{problem:#}"
    );
    assert!(sim.calls().is_empty());
}

#[test]
fn an_internal_failure_is_retried_signed_afresh_and_verified_again() {
    let sim = sim(&["c1"]);
    sim.fail_next(1, Fault::InternalError);
    let sever = start_with(&sim, 1, SECRET);
    assert_eq!(disconnect(&sever, "c1").expect_success()["outcome"], "done");
    let calls = sim.calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [Some(500), Some(200)]
    );
    assert_eq!(sim.signature_verdicts(), [Some(true), Some(true)]);
    assert!(!sim.is_connected("c1"));

    // Without retries the 500 is upstream_error with the vendor's words.
    let sim = self::sim(&["c1"]);
    sim.set_fault(Fault::InternalError);
    let sever = start(&sim);
    let problem = disconnect(&sever, "c1")
        .expect_problem(502, "upstream_error")
        .clone();
    assert_eq!(
        problem["vendor"]["code"], "InternalFailureException",
        "{problem:#}"
    );
}

#[test]
fn an_unreadable_answer_is_upstream_error() {
    let sim = sim(&["c1"]);
    sim.set_fault(Fault::Garbage);
    let sever = start(&sim);
    let problem = disconnect(&sever, "c1")
        .expect_problem(502, "upstream_error")
        .clone();
    assert_eq!(problem["vendor"]["status"], 200, "{problem:#}");
}

#[test]
fn a_dry_run_shows_the_call_with_the_signature_and_secrets_redacted_and_sends_nothing() {
    let sim = AwsIotSim::start(sim_config(&["c1"]).with_session_token(TOKEN));
    let sever = start(&sim);
    for backend in ["iot-eu", "iot-sts"] {
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
        let flags = if backend == "iot-sts" {
            "true"
        } else {
            "false"
        };
        let url = format!(
            "{}/connections/a%2Fb?cleanSession={flags}&preventWillMessage=false",
            sim.url()
        );
        assert_eq!(planned["url"], url, "{answer:#}");
        assert_eq!(
            planned["headers"]["authorization"], "<redacted>",
            "{answer:#}"
        );
        assert!(planned["headers"]["x-amz-date"].is_string(), "{answer:#}");
        if backend == "iot-sts" {
            assert_eq!(
                planned["headers"]["x-amz-security-token"], "<redacted>",
                "{answer:#}"
            );
        }
        assert!(!reply.text.contains("Signature="), "{}", reply.text);
        assert_no_secret(&reply.text);
    }
    assert!(sim.calls().is_empty());
    assert_no_secret(&sever.stderr());
    assert_no_secret(&sever.audit_text());
}
