//! End to end: canonical requests that `sever` must refuse before any vendor call (§3, §4
//! of the canonical API) — bad bodies, bad content types, bad tokens, scope, unknown names —
//! each checked for its status and code and for the simulator having received nothing.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::json;
use sever_tests::harness::http;
use sever_tests::harness::Sever;

#[test]
fn malformed_json_is_invalid_request() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = act(
        &sever,
        Some(ONCALL),
        r#"{"action": "disconnect", "backend": "#,
    );

    reply.expect_problem(400, "invalid_request");
    assert_nothing_sent(&sim);
}

#[test]
fn an_unknown_action_is_invalid_request_naming_the_field() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let body = json!({ "action": "explode", "backend": "mqtt-eu", "target": { "client_id": "sensor-17" } });

    let reply = act(&sever, Some(ONCALL), &body.to_string());

    let problem = reply.expect_problem(400, "invalid_request");
    assert!(
        problem["detail"].as_str().unwrap().contains("action"),
        "{problem:#}"
    );
    assert_nothing_sent(&sim);
}

#[test]
fn a_missing_client_id_is_invalid_request_naming_the_field() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let body = json!({ "action": "disconnect", "backend": "mqtt-eu", "target": {} });

    let reply = act(&sever, Some(ONCALL), &body.to_string());

    let problem = reply.expect_problem(400, "invalid_request");
    assert!(
        problem["detail"].as_str().unwrap().contains("client_id"),
        "{problem:#}"
    );
    assert_nothing_sent(&sim);
}

#[test]
fn a_body_over_max_body_bytes_is_payload_too_large() {
    let sim = sim(&["sensor-17"]);
    let sever = Sever::start(&config_with(&sim.url(), ", max_body_bytes: 1024"), &env());
    let body = json!({
        "action": "disconnect", "backend": "mqtt-eu",
        "target": { "client_id": "sensor-17" }, "reason": "x".repeat(2000),
    });

    let reply = act(&sever, Some(ONCALL), &body.to_string());

    reply.expect_problem(413, "payload_too_large");
    assert_nothing_sent(&sim);
}

#[test]
fn a_body_that_is_not_declared_json_is_unsupported_media_type() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let url = sever.url("/v1/actions");
    let auth = format!("Bearer {ONCALL}");
    let body = disconnect_body("sensor-17");

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend(content_type.map(|ct| ("content-type", ct)));
        let reply = http::send("POST", &url, &headers, Some(body.as_bytes()));
        reply.expect_problem(415, "unsupported_media_type");
    }
    assert_nothing_sent(&sim);
}

#[test]
fn json_with_a_charset_parameter_is_accepted() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let auth = format!("Bearer {ONCALL}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json; charset=utf-8"),
    ];

    let body = disconnect_body("sensor-17");
    let reply = http::send(
        "POST",
        &sever.url("/v1/actions"),
        &headers,
        Some(body.as_bytes()),
    );

    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn an_unknown_backend_is_unknown_backend() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let body = json!({ "action": "disconnect", "backend": "mqtt-nowhere", "target": { "client_id": "sensor-17" } });

    let reply = act(&sever, Some(ONCALL), &body.to_string());

    reply.expect_problem(404, "unknown_backend");
    assert_nothing_sent(&sim);
}

#[test]
fn an_unknown_path_is_not_found_even_without_a_token() {
    let sim = sim(&[]);
    let sever = start(&sim);

    http::get(&sever.url("/v2/actions"), None).expect_problem(404, "not_found");
    http::get(&sever.url("/v1/nothing-here"), Some(ONCALL)).expect_problem(404, "not_found");
    http::post_json(&sever.url("/"), None, "{}").expect_problem(404, "not_found");
}

#[test]
fn a_wrong_method_on_actions_is_method_not_allowed() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let auth = format!("Bearer {ONCALL}");
    let headers = [("authorization", auth.as_str())];

    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let reply = http::send(method, &sever.url("/v1/actions"), &headers, None);
        reply.expect_problem(405, "method_not_allowed");
    }
    assert_nothing_sent(&sim);
}

#[test]
fn a_missing_token_is_unauthenticated_with_a_bearer_challenge() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = act(&sever, None, &disconnect_body("sensor-17"));

    reply.expect_problem(401, "unauthenticated");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{reply:#?}");
    assert_nothing_sent(&sim);
}

#[test]
fn an_unknown_token_is_unauthenticated() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    for token in ["not-a-known-token", CEDALO_TOKEN] {
        let reply = act(&sever, Some(token), &disconnect_body("sensor-17"));
        reply.expect_problem(401, "unauthenticated");
        assert!(reply.header("www-authenticate").is_some(), "{reply:#?}");
    }
    assert_nothing_sent(&sim);
}

#[test]
fn a_token_without_the_backend_in_scope_is_forbidden_and_nothing_is_sent() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = act(&sever, Some(NARROW), &disconnect_body("sensor-17"));

    reply.expect_problem(403, "forbidden");
    assert_nothing_sent(&sim);
    assert!(sim.is_connected("sensor-17"));
}

#[test]
fn a_token_without_the_action_in_scope_is_forbidden() {
    let sim = sim(&[]);
    let sever = start(&sim);
    let body =
        json!({ "action": "terminate", "backend": "mqtt-us", "target": { "user_id": "u1" } });

    act(&sever, Some(NARROW), &body.to_string()).expect_problem(403, "forbidden");
}

#[test]
fn scope_is_checked_before_the_backend_exists_so_a_token_learns_nothing() {
    let sim = sim(&[]);
    let sever = start(&sim);
    let unknown = json!({ "action": "disconnect", "backend": "mqtt-nowhere", "target": { "client_id": "c" } });
    let allowed =
        json!({ "action": "disconnect", "backend": "mqtt-us", "target": { "client_id": "c" } });

    act(&sever, Some(NARROW), &unknown.to_string()).expect_problem(403, "forbidden");
    // In scope but not configured: now the caller may learn that it does not exist.
    act(&sever, Some(NARROW), &allowed.to_string()).expect_problem(404, "unknown_backend");
    assert_nothing_sent(&sim);
}

#[test]
fn checks_run_in_the_documented_order() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let url = sever.url("/v1/actions");
    let oncall = format!("Bearer {ONCALL}");
    let text = [("content-type", "text/plain")];
    let text_oncall = [
        ("content-type", "text/plain"),
        ("authorization", oncall.as_str()),
    ];
    let garbage = Some(b"{not json".as_slice());

    // method before token
    http::send("GET", &url, &[], None).expect_problem(405, "method_not_allowed");
    // token before content type
    http::send("POST", &url, &text, garbage).expect_problem(401, "unauthenticated");
    // content type before JSON
    http::send("POST", &url, &text_oncall, garbage).expect_problem(415, "unsupported_media_type");
    // JSON and fields before scope
    let no_target = json!({ "action": "disconnect", "backend": "mqtt-eu" }).to_string();
    act(&sever, Some(NARROW), &no_target).expect_problem(400, "invalid_request");
    assert_nothing_sent(&sim);
}

#[test]
fn refusals_are_audited_without_the_bearer_token() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = act(&sever, Some(NARROW), &disconnect_body("sensor-17"));

    let problem = reply.expect_problem(403, "forbidden");
    let lines = sever.audit_lines();
    let line = lines
        .iter()
        .find(|l| l["request_id"] == problem["request_id"])
        .unwrap_or_else(|| panic!("no audit line for the refusal: {lines:#?}"));
    assert_eq!(line["caller"], "narrow", "{line:#}");
    assert_eq!(line["code"], "forbidden", "{line:#}");
    assert!(!sever.audit_text().contains(NARROW));
}
