//! End to end: trace context and logs. A caller's W3C `traceparent` is continued on the
//! vendor call (same trace id, a new parent id); without one Sever starts a trace. The
//! JSON log lines name the request and never carry a secret; at `info` they carry no span
//! context (each request's line names the request and its trace itself), at `debug` they do.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::Value;
use sever_tests::harness::Sever;

const CALLER_TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn vendor_traceparent(sim: &sever_tests::sim::CedaloSim) -> String {
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    calls[0]
        .header("traceparent")
        .expect("the vendor call carries a traceparent")
        .to_owned()
}

fn is_traceparent(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 4
        && parts[0] == "00"
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3].len() == 2
        && value
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn a_callers_traceparent_is_continued_on_the_vendor_call_with_a_new_parent() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = disconnect_traced(&sever, "sensor-17", CALLER_TRACE);

    reply.expect_success();
    let sent = vendor_traceparent(&sim);
    assert!(is_traceparent(&sent), "{sent}");
    assert_eq!(
        &sent[..36],
        &CALLER_TRACE[..36],
        "same version and trace id"
    );
    assert_ne!(&sent[36..52], &CALLER_TRACE[36..52], "a new parent id");
    assert_eq!(&sent[52..], "-01", "the caller's flags");
}

#[test]
fn without_a_valid_traceparent_a_new_trace_is_started() {
    let sim = sim(&["a", "b"]);
    let sever = start(&sim);

    disconnect(&sever, "a").expect_success();
    let first = vendor_traceparent(&sim);
    sim.clear_calls();
    let reply = disconnect_traced(&sever, "b", "00-zz-not-a-trace");
    reply.expect_success();
    let second = vendor_traceparent(&sim);

    assert!(
        is_traceparent(&first) && is_traceparent(&second),
        "{first} {second}"
    );
    assert_ne!(
        &first[3..35],
        &second[3..35],
        "each request is its own trace"
    );
}

#[test]
fn json_log_lines_name_the_request_and_carry_no_secret() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);

    let reply = disconnect(&sever, "sensor-17");
    let request_id = reply.expect_success()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The server logs JSON lines to stderr when it is not a terminal.
    let stderr = sever.stderr();
    let line = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "canonical request")
        .unwrap_or_else(|| panic!("no request log line in:\n{stderr}"));
    assert_eq!(line["request_id"], request_id.as_str(), "{line}");
    assert_eq!(line["caller"], "oncall", "{line}");
    assert_eq!(line["outcome"], "done", "{line}");
    assert_eq!(line["status"], 200, "{line}");
    for secret in [ONCALL, NARROW, CEDALO_TOKEN] {
        assert!(
            !stderr.contains(secret),
            "a secret reached the log:\n{stderr}"
        );
    }
}

/// Starts Sever with `RUST_LOG` set, sends one disconnect continuing [`CALLER_TRACE`], and
/// returns the request id and the JSON lines Sever logged.
fn logged_with(rust_log: &'static str) -> (String, Vec<Value>) {
    let sim = sim(&["sensor-17"]);
    let mut env = env();
    env.push(("RUST_LOG", rust_log));
    let sever = Sever::start(&config(&sim.url()), &env);
    let reply = disconnect_traced(&sever, "sensor-17", CALLER_TRACE);
    let request_id = reply.expect_success()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines = sever
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    (request_id, lines)
}

#[test]
fn at_info_the_request_line_names_its_trace_and_carries_no_span_context() {
    let (request_id, lines) = logged_with("info");
    let line = lines
        .iter()
        .find(|l| l["message"] == "canonical request")
        .unwrap_or_else(|| panic!("no request log line in {lines:#?}"));
    assert_eq!(line["request_id"], request_id.as_str(), "{line}");
    assert_eq!(line["trace_id"], &CALLER_TRACE[3..35], "{line}");
    assert_eq!(line["backend"], "mqtt-eu", "{line}");
    assert_eq!(line["action"], "disconnect", "{line}");
    for l in &lines {
        assert!(
            l.get("span").is_none() && l.get("spans").is_none(),
            "span context in an info log line: {l}"
        );
    }
}

#[test]
fn at_debug_log_lines_carry_the_request_and_vendor_call_spans() {
    let (request_id, lines) = logged_with("info,sever_engine=debug");
    let line = lines
        .iter()
        .find(|l| l["message"] == "vendor answered")
        .unwrap_or_else(|| panic!("no vendor call line in {lines:#?}"));
    assert_eq!(line["span"]["name"], "vendor_call", "{line}");
    assert_eq!(line["span"]["backend"], "mqtt-eu", "{line}");
    assert_eq!(line["span"]["method"], "PUT", "{line}");
    let request = line["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["name"] == "canonical_request"))
        .unwrap_or_else(|| panic!("no canonical_request span in {line}"));
    assert_eq!(request["request_id"], request_id.as_str(), "{line}");
    assert_eq!(request["trace_id"], &CALLER_TRACE[3..35], "{line}");
}
