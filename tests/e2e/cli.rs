//! End to end: the command-line client (`sever act`, `sever backends`, `sever plugins
//! --remote`, `sever health`) against the real server and Cedalo simulators — what it
//! prints, its exit status, and what the vendor received.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::Value;
use sever_tests::harness::{free_port, run_cli, Sever};
use sever_tests::sim::{CedaloSim, SimConfig};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

/// Two Cedalo backends tagged `mqtt`, each with its own simulator and project.
const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
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
    retries: 0
    tags: ["mqtt", "eu"]
    settings: { project_id: "p-eu", broker_id: "b1", token: "${CEDALO_TOKEN}" }
  mqtt-us:
    plugin: cedalo
    url: "@US@"
    retries: 0
    tags: ["mqtt", "us"]
    settings: { project_id: "p-us", broker_id: "b1", token: "${CEDALO_TOKEN}" }
"#;

struct Fleet {
    eu: CedaloSim,
    us: CedaloSim,
    sever: Sever,
}

fn fleet(eu_clients: &[&str], us_clients: &[&str]) -> Fleet {
    let eu = sim_with(SimConfig::new("p-eu", "b1", CEDALO_TOKEN), eu_clients);
    let us = sim_with(SimConfig::new("p-us", "b1", CEDALO_TOKEN), us_clients);
    let yaml = CONFIG.replace("@EU@", &eu.url()).replace("@US@", &us.url());
    let sever = Sever::start(&yaml, &env());
    Fleet { eu, us, sever }
}

/// `sever ARGS… --url <sever>` with `SEVER_TOKEN` set to `token` (if any).
fn client(sever: &Sever, token: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let url = sever.base_url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--url", &url, "--timeout-ms", "5000"]);
    let env: Vec<(&str, &str)> = token.map(|t| vec![("SEVER_TOKEN", t)]).unwrap_or_default();
    run_cli(&all, &env)
}

fn disconnect_args<'a>(client_id: &'a str, selection: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["act", "disconnect"];
    args.extend_from_slice(selection);
    args.extend([
        "--client-id",
        client_id,
        "--reason",
        "credential leak INC-4411",
    ]);
    args
}

/// The table row of `backend` in the output (its first cell is the backend's name).
fn row<'a>(stdout: &'a str, backend: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(backend))
        .unwrap_or_else(|| panic!("no row for {backend}:\n{stdout}"))
        .split_whitespace()
        .collect()
}

#[test]
fn act_disconnects_a_connected_client_prints_done_and_exits_0() {
    let f = fleet(&["sensor-17"], &[]);

    let (code, stdout, stderr) = client(
        &f.sever,
        Some(ONCALL),
        &disconnect_args("sensor-17", &["--backend", "mqtt-eu"]),
    );

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        row(&stdout, "mqtt-eu")[..3],
        ["mqtt-eu", "done", "status=200"]
    );
    let calls = f.eu.calls();
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert_eq!(calls[0].method, "PUT");
    assert!(!f.eu.is_connected("sensor-17"));
    assert!(f.us.calls().is_empty());
    let audit = f.sever.audit_lines();
    assert_eq!(audit[0]["reason"], "credential leak INC-4411", "{audit:#?}");
    assert!(stdout.contains(&format!(
        "request {}",
        audit[0]["request_id"].as_str().unwrap()
    )));
}

#[test]
fn act_with_json_prints_the_servers_answer_for_scripts() {
    let f = fleet(&["sensor-17"], &[]);
    let mut args = disconnect_args("sensor-17", &["--backend", "mqtt-eu"]);
    args.push("--json");

    let (code, stdout, stderr) = client(&f.sever, Some(ONCALL), &args);

    assert_eq!(code, 0, "{stdout}{stderr}");
    let body: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["backend"], "mqtt-eu", "{body:#}");
}

#[test]
fn a_client_the_vendor_does_not_know_exits_1_with_target_not_found() {
    let f = fleet(&[], &[]);

    let (code, stdout, stderr) = client(
        &f.sever,
        Some(ONCALL),
        &disconnect_args("ghost", &["--backend", "mqtt-eu"]),
    );

    assert_eq!(code, 1, "{stdout}{stderr}");
    let cells = row(&stdout, "mqtt-eu");
    assert_eq!(cells[1], "target_not_found", "{stdout}");
    assert!(stdout.contains("status=404"), "{stdout}");
    assert_eq!(f.eu.calls().len(), 1);
}

#[test]
fn a_fan_out_by_tags_where_one_backend_fails_exits_3() {
    let f = fleet(&["fleet-1"], &[]);

    let (code, stdout, stderr) = client(
        &f.sever,
        Some(ONCALL),
        &disconnect_args("fleet-1", &["--tags", "mqtt"]),
    );

    assert_eq!(code, 3, "{stdout}{stderr}");
    assert_eq!(row(&stdout, "mqtt-eu")[1], "done", "{stdout}");
    assert_eq!(row(&stdout, "mqtt-us")[1], "target_not_found", "{stdout}");
    assert!(stdout.contains("1 done, 0 accepted, 1 failed"), "{stdout}");
    assert_eq!((f.eu.calls().len(), f.us.calls().len()), (1, 1));
}

#[test]
fn a_fan_out_by_names_where_every_backend_fails_exits_1() {
    let f = fleet(&[], &[]);

    let (code, stdout, stderr) = client(
        &f.sever,
        Some(ONCALL),
        &disconnect_args("fleet-1", &["--backends", "mqtt-eu,mqtt-us"]),
    );

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("0 done, 0 accepted, 2 failed"), "{stdout}");
    assert_eq!((f.eu.calls().len(), f.us.calls().len()), (1, 1));
}

#[test]
fn dry_run_shows_the_planned_vendor_request_redacted_and_sends_nothing() {
    let f = fleet(&["sensor-17"], &[]);
    let mut args = disconnect_args("sensor-17", &["--backend", "mqtt-eu"]);
    args.push("--dry-run");

    let (code, stdout, stderr) = client(&f.sever, Some(ONCALL), &args);

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(row(&stdout, "mqtt-eu")[1], "dry_run", "{stdout}");
    let url = format!(
        "  PUT {}/api/projects/p-eu/brokers/b1/clients/sensor-17/disconnect",
        f.eu.url()
    );
    assert!(stdout.lines().any(|l| l == url), "{url} missing:\n{stdout}");
    assert!(stdout.contains("  authorization: <redacted>"), "{stdout}");
    assert!(
        stdout.contains(r#"  body: {"clientId":"sensor-17"}"#),
        "{stdout}"
    );
    assert!(!stdout.contains(CEDALO_TOKEN), "{stdout}");
    assert!(f.eu.calls().is_empty());
    assert!(f.eu.is_connected("sensor-17"));
}

#[test]
fn a_backend_outside_the_tokens_rules_exits_1_forbidden_and_nothing_is_sent() {
    let f = fleet(&["sensor-17"], &[]);

    let (code, stdout, stderr) = client(
        &f.sever,
        Some(NARROW),
        &disconnect_args("sensor-17", &["--backend", "mqtt-eu"]),
    );

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.starts_with("error: 403 forbidden: "), "{stdout}");
    assert!(f.eu.calls().is_empty());
}

#[test]
fn without_a_token_the_answer_is_401_with_a_hint_where_the_token_goes() {
    let f = fleet(&["sensor-17"], &[]);

    let (code, stdout, stderr) = client(
        &f.sever,
        None,
        &disconnect_args("sensor-17", &["--backend", "mqtt-eu"]),
    );

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("401 unauthenticated"), "{stdout}");
    assert!(
        stderr.contains("$SEVER_TOKEN") && stderr.contains("--token-file"),
        "{stderr}"
    );
    assert!(f.eu.calls().is_empty());
}

#[test]
fn the_token_is_read_from_a_file_and_never_taken_as_a_flag() {
    let f = fleet(&["sensor-17"], &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{ONCALL}\n")).unwrap();
    let file = file.to_str().unwrap();

    let mut as_flag = disconnect_args("sensor-17", &["--backend", "mqtt-eu"]);
    as_flag.extend(["--token", ONCALL]);
    let (code, stdout, stderr) = client(&f.sever, None, &as_flag);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("$SEVER_TOKEN") && !stderr.contains(ONCALL),
        "{stderr}"
    );
    assert!(f.eu.calls().is_empty());

    let mut from_file = disconnect_args("sensor-17", &["--backend", "mqtt-eu"]);
    from_file.extend(["--token-file", file]);
    let (code, stdout, stderr) = client(&f.sever, None, &from_file);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(f.eu.calls().len(), 1);
}

#[test]
fn an_idempotency_key_replay_says_so_and_sends_nothing_again() {
    let f = fleet(&["sensor-17"], &[]);
    let mut args = disconnect_args("sensor-17", &["--backend", "mqtt-eu"]);
    args.extend(["--idempotency-key", "INC-4411-sensor-17"]);

    let (first, out1, err1) = client(&f.sever, Some(ONCALL), &args);
    let (again, out2, err2) = client(&f.sever, Some(ONCALL), &args);

    assert_eq!((first, again), (0, 0), "{out1}{err1}{out2}{err2}");
    assert!(!out1.contains("replayed"), "{out1}");
    assert!(out2.contains("replayed: the first answer"), "{out2}");
    assert_eq!(f.eu.calls().len(), 1);
}

#[test]
fn usage_mistakes_exit_2_and_send_nothing() {
    let f = fleet(&["sensor-17"], &[]);
    for args in [
        vec![
            "act",
            "disconnect",
            "--backend",
            "mqtt-eu",
            "--client-id",
            "sensor-17",
        ],
        vec![
            "act",
            "disconnect",
            "--backend",
            "mqtt-eu",
            "--tags",
            "mqtt",
            "--client-id",
            "x",
            "--reason",
            "r",
        ],
        vec![
            "act",
            "kick",
            "--backend",
            "mqtt-eu",
            "--client-id",
            "x",
            "--reason",
            "r",
        ],
        vec!["act", "disconnect", "--client-id", "x", "--reason", "r"],
    ] {
        let (code, stdout, stderr) = client(&f.sever, Some(ONCALL), &args);
        assert_eq!(code, 2, "{args:?}: {stdout}{stderr}");
    }
    let (code, _, stderr) = run_cli(
        &["backends", "--url", "ftp://127.0.0.1:1"],
        &[("SEVER_TOKEN", ONCALL)],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(f.eu.calls().is_empty());
}

#[test]
fn no_answer_from_sever_exits_1_and_says_where_it_asked() {
    let url = format!("http://127.0.0.1:{}", free_port());

    let (code, stdout, stderr) = run_cli(
        &[
            "act",
            "disconnect",
            "--backend",
            "b",
            "--client-id",
            "c",
            "--reason",
            "r",
            "--url",
            &url,
        ],
        &[("SEVER_TOKEN", ONCALL)],
    );

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("no answer from Sever at {url}")),
        "{stderr}"
    );
}

/// Answers one HTTP request with `202 Accepted` and a JSON body; returns its base URL.
fn accepting_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Up to the end of the headers and the (small) body the client sends at once.
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        let body = r#"{"request_id":"r-202","status":"waiting_for_approval"}"#;
        let answer = format!(
            "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(answer.as_bytes());
    });
    url
}

#[test]
fn a_202_answer_exits_4_and_shows_what_sever_said() {
    let url = accepting_server();

    let (code, stdout, stderr) = run_cli(
        &[
            "act",
            "terminate",
            "--backend",
            "privx-prod",
            "--user-id",
            "u",
            "--reason",
            "r",
            "--url",
            &url,
        ],
        &[("SEVER_TOKEN", ONCALL)],
    );

    assert_eq!(code, 4, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("waiting: Sever answered 202"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  status: waiting_for_approval"),
        "{stdout}"
    );
}

#[test]
fn backends_lists_each_backend_with_plugin_tags_actions_and_breaker() {
    let f = fleet(&[], &[]);

    let (code, stdout, stderr) = client(&f.sever, Some(NARROW), &["backends"]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    let header: Vec<&str> = stdout.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "PLUGIN", "TAGS", "ACTIONS", "BREAKER"]);
    assert_eq!(
        row(&stdout, "mqtt-us"),
        ["mqtt-us", "cedalo", "mqtt,us", "disconnect", "closed"]
    );
    assert!(
        !stdout.contains(CEDALO_TOKEN) && !stdout.contains("p-eu"),
        "{stdout}"
    );

    let (code, stdout, _) = client(&f.sever, Some(NARROW), &["backends", "--json"]);
    assert_eq!(code, 0);
    let body: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(body["backends"].as_array().unwrap().len(), 2, "{body:#}");
}

#[test]
fn plugins_remote_lists_each_action_with_its_target_fields() {
    let f = fleet(&[], &[]);

    let (code, stdout, stderr) = client(&f.sever, Some(ONCALL), &["plugins", "--remote"]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    let cells = row(&stdout, "cedalo");
    assert_eq!(
        cells[cells.len() - 2..],
        ["disconnect", "client_id"],
        "{stdout}"
    );

    let (code, stdout, stderr) = client(&f.sever, None, &["plugins", "--remote"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("401 unauthenticated"), "{stderr}");
}

#[test]
fn health_exits_0_while_sever_serves_and_1_when_nothing_answers() {
    let f = fleet(&[], &[]);

    let (code, stdout, stderr) = client(&f.sever, None, &["health"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("{}/healthz: 200 OK", f.sever.base_url())
    );
    let (code, stdout, stderr) = client(&f.sever, None, &["health", "--ready"]);
    assert_eq!(code, 0, "{stdout}{stderr}");

    let nobody = format!("http://127.0.0.1:{}", free_port());
    let (code, _, stderr) = run_cli(&["health", "--url", &nobody, "--timeout-ms", "2000"], &[]);
    assert_eq!(code, 1, "{stderr}");
}
