//! End to end: `GET /openapi.json` (spec §6) and schemathesis against the running server —
//! every answer to the requests it generates from the document (examples, edge cases,
//! random fuzzing, a bounded number per operation) must match the document (status code,
//! content type, headers, body schema), and none may be a 5xx.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`), and
//! schemathesis in `<target>/openapi-tools` (installed, pinned, by `scripts/setup`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use sever_tests::eventually;
use sever_tests::harness::{self, http, Sever};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Test cases per operation and phase: enough to reach every documented answer, and the
/// whole run stays well under a minute on two cores.
const MAX_EXAMPLES: &str = "50";
/// A fixed seed: CI runs the same cases every time (run by hand without it for more).
const SEED: &str = "20261123";
/// How long the schemathesis run may take before it is killed and the test fails.
const RUN_LIMIT: Duration = Duration::from_secs(240);

/// Two Cedalo backends named and tagged as in the document's examples, both in front of
/// one simulator that has the examples' clients connected, so that the examples reach real
/// vendor calls: `done`, a dry run, a fan-out by tags answering 200, and a fan-out by names
/// answering 207 (the client is gone for the second backend); then `target_not_found`.
const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@URL@"
    timeout_ms: 500
    retries: 0
    tags: ["mqtt", "eu"]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
  mqtt-us:
    plugin: cedalo
    url: "@URL@"
    timeout_ms: 500
    retries: 0
    tags: ["mqtt", "us"]
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
"#;

fn start_with_sim() -> (sever_tests::sim::CedaloSim, Sever) {
    let sim = sim(&["sensor-17", "sensor-18", "sensor-19"]);
    let sever = Sever::start(&CONFIG.replace("@URL@", &sim.url()), &env());
    (sim, sever)
}

/// The folder `scripts/setup` installs the pinned OpenAPI tools into.
fn openapi_tools() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => harness::workspace_dir().join(dir),
        None => harness::workspace_dir().join("target"),
    };
    target.join("openapi-tools")
}

#[test]
fn the_document_is_served_without_a_token_as_the_checked_in_json() {
    let (_sim, sever) = start_with_sim();
    let url = sever.url("/openapi.json");

    let reply = http::get(&url, None);

    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert!(reply.header("x-request-id").is_some(), "{reply:#?}");
    let checked_in = harness::workspace_dir().join("core/engine/openapi.json");
    let text = std::fs::read_to_string(&checked_in).unwrap();
    assert_eq!(
        reply.text, text,
        "the served document is core/engine/openapi.json"
    );
    assert_eq!(reply.json()["openapi"], "3.1.0");

    let head = http::send("HEAD", &url, &[], None);
    assert_eq!(head.status, 200, "{head:#?}");
    assert!(head.text.is_empty(), "{head:#?}");
    let post = http::send("POST", &url, &[], Some(b"{}"));
    post.expect_problem(405, "method_not_allowed");
    assert_eq!(post.header("allow"), Some("GET"));
}

#[test]
fn schemathesis_finds_no_answer_outside_the_document_and_no_server_error() {
    let tools = openapi_tools();
    let schemathesis = tools.join("bin/schemathesis");
    assert!(
        schemathesis.is_file(),
        "no {}: run scripts/setup (it installs the pinned schemathesis there)",
        schemathesis.display()
    );
    let (sim, mut sever) = start_with_sim();
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("schemathesis.log");
    let authorization = format!("Authorization: Bearer {ONCALL}");
    let mut command = Command::new(&schemathesis);
    command
        .args([
            "run",
            &sever.url("/openapi.json"),
            "--url",
            &sever.base_url(),
        ])
        .args(["--header", &authorization])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        // One worker: CPython 3.11's `ast` module keeps its recursion depth per interpreter,
        // not per thread, so two workers parsing sources at once (Hypothesis describing a
        // filter lambda, as it does for path and query parameters) can fail with "AST
        // constructor recursion depth mismatch": an error of the tool, not of Sever.
        .args(["--generation-database", "none", "--workers", "1"])
        .args(["--request-timeout", "10", "--no-color"])
        // Every warning but `missing_test_data` and `low_valid_rate`, which both count
        // generated identifiers that name nothing: the approvals operations take an id
        // that only a held request creates (so every generated id gets the documented
        // `404 approval_not_found`; tests/e2e/approvals.rs covers the rest), and fuzzed
        // backend names get `404 unknown_backend`.
        .args([
            "--warnings",
            "missing_auth,base_url_mismatch,validation_mismatch,missing_deserializer,\
             unused_openapi_auth,unsupported_regex,method_not_allowed,constants_extraction,\
             unmatched_filter,unresolvable_reference,rate_limited,\
             dictionary_mismatch,timeout_units",
        ])
        // Hypothesis and reports write into the working folder: a temp one.
        .current_dir(work.path())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .stdin(Stdio::null())
        .stdout(File::create(&log).unwrap())
        .stderr(File::create(work.path().join("stderr.log")).unwrap());
    let mut child = command.spawn().unwrap();
    let mut status = None;
    if !eventually(RUN_LIMIT, || {
        status = child.try_wait().unwrap();
        status.is_some()
    }) {
        let _ = child.kill();
        let _ = child.wait();
    }
    let output = std::fs::read_to_string(&log).unwrap_or_default()
        + &std::fs::read_to_string(work.path().join("stderr.log")).unwrap_or_default();

    let status = status.unwrap_or_else(|| panic!("schemathesis ran over {RUN_LIMIT:?}:\n{output}"));
    assert!(status.success(), "schemathesis found problems:\n{output}");
    assert!(output.contains("No issues found"), "{output}");
    assert!(sever.is_running(), "sever survived the run");
    // The document's examples reached the vendor: the run covered real vendor calls, not
    // only refusals.
    assert!(
        !sim.calls().is_empty(),
        "no vendor call was made:\n{output}"
    );
}
