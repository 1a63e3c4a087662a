//! End to end through the real `sever` and the Cedalo adapter plugin, against the strict
//! Cedalo simulator: what the caller gets back and exactly what the vendor received.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::json;
use sever_tests::sim::{CedaloSim, Fault, SimConfig};

#[test]
fn disconnect_of_a_connected_client_is_done_and_the_client_is_gone() {
    let sim = sim(&["sensor-17", "sensor-18"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let body = reply.expect_success();
    assert_eq!(body["action"], "disconnect", "{body:#}");
    assert_eq!(body["backend"], "mqtt-eu", "{body:#}");
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"]["status"], 200, "{body:#}");
    assert!(body["duration_ms"].is_number(), "{body:#}");
    assert_one_disconnect_call(&sim, "sensor-17");
    assert!(!sim.is_connected("sensor-17"));
    assert!(sim.is_connected("sensor-18"));
}

#[test]
fn a_disconnect_is_audited_with_caller_target_and_outcome_and_no_secret() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let body = reply.expect_success();
    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let line = &lines[0];
    assert_eq!(line["request_id"], body["request_id"], "{line:#}");
    assert_eq!(line["caller"], "oncall", "{line:#}");
    assert_eq!(line["action"], "disconnect", "{line:#}");
    assert_eq!(line["backend"], "mqtt-eu", "{line:#}");
    assert_eq!(
        line["target"],
        json!({ "client_id": "sensor-17" }),
        "{line:#}"
    );
    assert_eq!(line["reason"], "credential leak INC-4411", "{line:#}");
    assert_eq!(line["outcome"], "done", "{line:#}");
    assert_eq!(line["vendor_status"], 200, "{line:#}");
    assert!(line["time"].is_string(), "{line:#}");
    let text = sever.audit_text();
    assert!(
        !text.contains(ONCALL) && !text.contains(CEDALO_TOKEN),
        "{text}"
    );
}

#[test]
fn dry_run_sends_nothing_and_shows_the_planned_call_with_the_token_redacted() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let mut request: serde_json::Value = serde_json::from_str(&disconnect_body("a/b")).unwrap();
    request["dry_run"] = json!(true);

    let reply = act(&sever, Some(ONCALL), &request.to_string());

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "dry_run", "{body:#}");
    let planned = &body["requests"][0];
    assert_eq!(planned["method"], "PUT", "{body:#}");
    assert_eq!(
        planned["url"],
        format!("{}{}", sim.url(), vendor_path("a/b")),
        "{body:#}"
    );
    let headers = planned["headers"].as_object().unwrap();
    let auth = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"));
    assert_eq!(
        auth.map(|(_, v)| v.as_str()),
        Some(Some("<redacted>")),
        "{body:#}"
    );
    let planned_body: serde_json::Value =
        serde_json::from_str(planned["body"].as_str().unwrap()).unwrap();
    assert_eq!(planned_body, json!({ "clientId": "a/b" }));
    assert!(!reply.text.contains(CEDALO_TOKEN), "{}", reply.text);
    assert_nothing_sent(&sim);
    assert!(sim.is_connected("sensor-17"));
}

#[test]
fn disconnect_of_a_client_that_is_not_connected_is_target_not_found_with_the_vendor_message() {
    let sim = sim(&[]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(problem["backend"], "mqtt-eu", "{problem:#}");
    assert_vendor(problem, 404, "NOT_FOUND");
    assert_eq!(
        problem["vendor"]["message"], "Client not found",
        "{problem:#}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("Client not found"), "{problem:#}");
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn a_wrong_broker_id_in_the_config_reads_differently_from_a_gone_client() {
    let sim = sim_with(SimConfig::new(PROJECT, "brk-other", CEDALO_TOKEN), &[]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(
        problem["vendor"]["message"], "Broker not found",
        "{problem:#}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Broker not found"),
        "{problem:#}"
    );
}

#[test]
fn vendor_refusing_the_credentials_is_upstream_unauthorized() {
    let sim = sim(&["sensor-17"]);
    let mut env = env();
    env.retain(|(name, _)| *name != "CEDALO_TOKEN");
    env.push(("CEDALO_TOKEN", "not-the-right-token"));
    let sever = sever_tests::harness::Sever::start(&config(&sim.url()), &env);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_vendor(problem, 401, "UNAUTHORIZED");
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_disconnect_call(&calls[0], "sensor-17", "not-the-right-token");
    assert!(sim.is_connected("sensor-17"));
}

#[test]
fn vendor_forbidding_the_token_is_upstream_unauthorized() {
    let config =
        SimConfig::new(PROJECT, BROKER, "some-admin-token").with_forbidden_token(CEDALO_TOKEN);
    let sim = sim_with(config, &["sensor-17"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_vendor(problem, 403, "FORBIDDEN");
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn vendor_internal_error_is_upstream_error() {
    let sim = sim(&["sensor-17"]);
    sim.set_fault(Fault::InternalError);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_error");
    assert_vendor(problem, 500, "INTERNAL_ERROR");
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn vendor_too_slow_is_upstream_timeout() {
    let sim = sim(&["sensor-17"]);
    sim.set_delay(Duration::from_secs(3));
    let sever = start(&sim);

    let started = Instant::now();
    let reply = disconnect(&sever, "sensor-17");

    reply.expect_problem(504, "upstream_timeout");
    // timeout_ms is 500; the simulator would answer after 3 s.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn vendor_port_closed_is_upstream_unavailable() {
    let closed_url = CedaloSim::start(SimConfig::default()).url(); // dropped: port closed
    let sever = sever_tests::harness::Sever::start(&config(&closed_url), &env());

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_unavailable");
    assert_eq!(problem["backend"], "mqtt-eu", "{problem:#}");
}

#[test]
fn vendor_answering_garbage_is_upstream_error() {
    let sim = sim(&["sensor-17"]);
    sim.set_fault(Fault::Garbage);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_error");
    assert_eq!(problem["vendor"]["status"], 200, "{problem:#}");
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn vendor_hanging_up_without_an_answer_is_a_bad_gateway() {
    let sim = sim(&["sensor-17"]);
    sim.set_fault(Fault::HangUp);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");

    assert_eq!(reply.status, 502, "{reply:#?}");
    let code = reply.code().unwrap_or_default();
    assert!(
        ["upstream_error", "upstream_unavailable"].contains(&code),
        "{reply:#?}"
    );
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn client_ids_with_reserved_characters_reach_the_vendor_percent_encoded() {
    let ids = [
        "a/b",
        "a..b",
        "..a",
        "100%",
        "with space",
        "x#y",
        "a+b",
        "q?x=1&y",
        "user@home:1",
        "semi;colon,comma",
        "ünïcødé-ß",
        "日本語",
        "~tilde_-.dot",
        "%2F",
    ];
    let sim = sim(&ids);
    let sever = start(&sim);

    for id in ids {
        sim.clear_calls();
        let reply = disconnect(&sever, id);
        assert_eq!(
            reply.expect_success()["outcome"],
            "done",
            "{id:?}: {reply:#?}"
        );
        assert_one_disconnect_call(&sim, id);
        assert!(!sim.is_connected(id), "{id:?} still connected");
    }
}

#[test]
fn a_client_id_that_is_a_dot_segment_is_refused_and_nothing_is_sent() {
    let sim = sim(&[".", ".."]);
    let sever = start(&sim);

    for id in [".", ".."] {
        let reply = disconnect(&sever, id);
        let problem = reply.expect_problem(400, "invalid_request");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("client_id"), "{id:?}: {problem:#}");
    }
    assert_nothing_sent(&sim);
}

#[test]
fn a_client_id_with_a_control_character_is_refused_and_nothing_is_sent() {
    let sim = sim(&[]);
    let sever = start(&sim);

    for id in [
        "a\nb",
        "a\r\nX-Evil: 1",
        "nul\u{0}",
        "bell\u{7}",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        let reply = disconnect(&sever, id);
        let problem = reply.expect_problem(400, "invalid_request");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("client_id"), "{id:?}: {problem:#}");
    }
    assert_nothing_sent(&sim);
}

#[test]
fn a_client_id_over_256_bytes_is_refused_and_nothing_is_sent() {
    let sim = sim(&[]);
    let sever = start(&sim);

    let reply = disconnect(&sever, &"é".repeat(129)); // 258 bytes, 129 characters

    reply.expect_problem(400, "invalid_request");
    assert_nothing_sent(&sim);
}
