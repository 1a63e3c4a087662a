//! End to end: what operators rely on — probes, listings, metrics, `sever check` and
//! `sever plugins`, and plugins that misbehave (one that panics, one built for another ABI).
//!
//! Needs `cargo build --workspace` first (the `sever` binary and the plugin libraries,
//! including the test fixtures `libsever_test_panicking.so` and
//! `libsever_test_abi_mismatch.so`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::{json, Value};
use sever_tests::harness::{http, plugin_path, run_cli, write_config, Sever};

#[test]
fn healthz_and_readyz_answer_200_without_a_token() {
    let sim = sim(&[]);
    let sever = start(&sim);

    assert_eq!(http::get(&sever.url("/healthz"), None).status, 200);
    assert_eq!(http::get(&sever.url("/readyz"), None).status, 200);
}

/// The list in a listing answer: the body itself, or its `key` field.
fn listing<'a>(body: &'a Value, key: &str) -> &'a Vec<Value> {
    body.as_array()
        .or_else(|| body[key].as_array())
        .unwrap_or_else(|| panic!("no {key} list in {body:#}"))
}

#[test]
fn listing_backends_needs_a_token_and_shows_no_setting() {
    let sim = sim(&[]);
    let sever = start(&sim);

    http::get(&sever.url("/v1/backends"), None).expect_problem(401, "unauthenticated");
    let reply = http::get(&sever.url("/v1/backends"), Some(NARROW));

    assert_eq!(reply.status, 200, "{reply:#?}");
    let backends = listing(reply.json(), "backends");
    let eu = backends.iter().find(|b| b["name"] == "mqtt-eu").unwrap();
    assert_eq!(eu["plugin"], "cedalo", "{eu:#}");
    assert!(eu["actions"].to_string().contains("disconnect"), "{eu:#}");
    for secret_or_setting in [CEDALO_TOKEN, PROJECT, BROKER] {
        assert!(!reply.text.contains(secret_or_setting), "{}", reply.text);
    }
}

#[test]
fn listing_plugins_shows_cedalo_with_its_action_and_target_field() {
    let sim = sim(&[]);
    let sever = start(&sim);

    http::get(&sever.url("/v1/plugins"), None).expect_problem(401, "unauthenticated");
    let reply = http::get(&sever.url("/v1/plugins"), Some(ONCALL));

    assert_eq!(reply.status, 200, "{reply:#?}");
    let plugins = listing(reply.json(), "plugins");
    let cedalo = plugins.iter().find(|p| p["name"] == "cedalo").unwrap();
    assert!(cedalo["version"].is_string(), "{cedalo:#}");
    let shapes: Vec<(&Value, &Value)> = cedalo["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (&a["action"], &a["target_sets"]))
        .collect();
    assert_eq!(
        shapes,
        [(&json!("disconnect"), &json!([["client_id"]]))],
        "{cedalo:#}"
    );
    assert!(!reply.text.contains(CEDALO_TOKEN), "{}", reply.text);
}

#[test]
fn metrics_count_requests_by_action_backend_and_outcome() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    disconnect(&sever, "sensor-17").expect_success();
    act(&sever, Some("not-a-known-token"), "{}").expect_problem(401, "unauthenticated");

    let reply = http::get(&sever.url("/metrics"), None);

    assert_eq!(reply.status, 200, "{reply:#?}");
    let text = &reply.text;
    let done = [
        ("action", "disconnect"),
        ("backend", "mqtt-eu"),
        ("outcome", "done"),
    ];
    assert_eq!(
        metric(text, "sever_requests_total", &done),
        Some(1.0),
        "{text}"
    );
    let refused = [
        ("action", ""),
        ("backend", ""),
        ("outcome", "unauthenticated"),
    ];
    assert_eq!(
        metric(text, "sever_requests_total", &refused),
        Some(1.0),
        "{text}"
    );
    let upstream = [
        ("backend", "mqtt-eu"),
        ("plugin", "cedalo"),
        ("status_class", "2xx"),
    ];
    assert_eq!(
        metric(text, "sever_upstream_requests_total", &upstream),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(text, "sever_plugin_info", &[("plugin", "cedalo")]),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains(CEDALO_TOKEN) && !text.contains(ONCALL),
        "{text}"
    );
}

/// The output lines of the form `FILE:path.to.key: message` for this file.
fn problem_lines(output: &str, file: &str) -> Vec<String> {
    let prefix = format!("{file}:");
    output
        .lines()
        .filter(|line| {
            line.strip_prefix(&prefix)
                .is_some_and(|rest| !rest.starts_with(char::is_whitespace) && rest.contains(": "))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn check_reports_each_problem_as_file_key_message_and_exits_1() {
    let yaml = config("http://127.0.0.1:9")
        .replace("listen:", "listn:")
        .replace("${CEDALO_TOKEN}", "${SEVER_E2E_SURELY_UNSET_VAR}")
        + "  other:\n    plugin: nosuch\n    url: \"http://127.0.0.1:9\"\n";
    let config = write_config(&yaml);
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());

    let output = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{output}");
    let lines = problem_lines(&output, file);
    assert_eq!(lines.len(), 3, "one line per problem expected:\n{output}");
    let line_for = |key: &str| {
        let prefix = format!("{file}:{key}: ");
        lines
            .iter()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no line for {key}:\n{output}"))
    };
    line_for("server.listn");
    assert!(line_for("backends.mqtt-eu.settings.token").contains("SEVER_E2E_SURELY_UNSET_VAR"));
    assert!(line_for("backends.other.plugin").contains("nosuch"));
    assert!(
        !output.contains(ONCALL) && !output.contains(NARROW),
        "{output}"
    );
}

#[test]
fn check_refuses_a_url_whose_scheme_the_plugins_transport_does_not_take() {
    // Any well-formed scheme passes the config's own rules; the plugin says which it takes.
    let yaml = config("redis://127.0.0.1:9");
    let config = write_config(&yaml);
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());

    let output = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{output}");
    let lines = problem_lines(&output, file);
    assert_eq!(
        lines,
        [format!(
            "{file}:backends.mqtt-eu.url: the cedalo plugin (http transport) takes http or \
             https URLs"
        )],
        "{output}"
    );
}

#[test]
fn check_accepts_a_good_config_and_exits_0() {
    let config = write_config(&crate::common::config("http://127.0.0.1:9"));
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());

    assert_eq!(code, 0, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(!output.contains(CEDALO_TOKEN), "{output}");
}

#[test]
fn tls_files_that_cannot_be_read_are_reported_by_check_and_stop_serve() {
    let yaml = crate::common::config_with(
        "http://127.0.0.1:9",
        r#", tls: { cert_path: "c.pem", key_path: "k.pem" }"#,
    );
    let config = write_config(&yaml);
    let file = config.path().to_str().unwrap();
    let dir = config.dir().display();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());
    assert_eq!(code, 1, "{stdout}{stderr}");
    for (key, name) in [("cert_path", "c.pem"), ("key_path", "k.pem")] {
        assert!(
            stdout.contains(&format!(
                "{file}:server.tls.{key}: cannot read {dir}/{name}: No such file or directory"
            )),
            "{stdout}{stderr}"
        );
    }

    let (code, stdout, stderr) = run_cli(&["serve", "--config", file], &env());
    assert_eq!(
        code, 1,
        "serve must not start without its TLS files: {stdout}{stderr}"
    );
    assert!(stderr.contains("server.tls.cert_path"), "{stderr}");
}

#[test]
fn every_shipped_config_passes_check() {
    let dir = sever_tests::harness::workspace_dir().join("config");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        // Shipped configs point at target/debug, where the tests find the plugins too (or not:
        // CARGO_TARGET_DIR, SEVER_BIN_DIR), so the folder is replaced by the harness's.
        let yaml = std::fs::read_to_string(&path)
            .unwrap()
            .replace("../target/debug", "{{PLUGIN_DIR}}");
        let config = write_config(&yaml);
        let file = config.path().to_str().unwrap();
        // Every `${VAR}` and `token_env: VAR` the file uses gets a placeholder value.
        let mut vars: Vec<String> = yaml
            .split("${")
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
            .collect();
        vars.extend(yaml.lines().filter_map(|line| {
            let value = line.split_once("token_env:")?.1;
            let name = value.split('#').next()?.trim().trim_matches('"');
            Some(name.to_owned())
        }));
        let env: Vec<(&str, &str)> = vars.iter().map(|v| (v.as_str(), "placeholder")).collect();
        let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env);
        assert_eq!(code, 0, "{}: {stdout}{stderr}", path.display());
        checked += 1;
    }
    assert!(checked > 0, "no config in {}", dir.display());
}

#[test]
fn plugins_command_lists_cedalo_with_its_action_target_and_settings() {
    let library = plugin_path("libsever_cedalo.so");

    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    for word in [
        "cedalo",
        "disconnect",
        "client_id",
        "project_id",
        "broker_id",
        "token",
    ] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}

const PANICKING: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_test_panicking.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  boom: { plugin: panicking, url: "http://127.0.0.1:9" }
"#;

#[test]
fn a_panicking_plugin_is_internal_and_the_server_keeps_serving() {
    let mut sever = Sever::start(PANICKING, &env());
    let body =
        json!({ "action": "disconnect", "backend": "boom", "target": { "client_id": "any" } });

    let reply = act(&sever, Some(ONCALL), &body.to_string());

    reply.expect_problem(500, "internal");
    assert!(sever.is_running());
    assert_eq!(http::get(&sever.url("/healthz"), None).status, 200);
    let metrics = http::get(&sever.url("/metrics"), None).text;
    let panics = metric(
        &metrics,
        "sever_plugin_panics_total",
        &[("plugin", "panicking")],
    );
    assert_eq!(panics, Some(1.0), "{metrics}");
    // Still answers actions, not only probes.
    act(&sever, Some(ONCALL), &body.to_string()).expect_problem(500, "internal");
}

const ABI_MISMATCH: &str = r#"server: { listen: "127.0.0.1:{{PORT}}" }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_test_abi_mismatch.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
backends: {}
"#;

#[test]
fn check_refuses_an_abi_mismatched_plugin_naming_the_file_and_the_abi() {
    let config = write_config(ABI_MISMATCH);
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());

    let output = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{output}");
    let line = problem_lines(&output, file)
        .into_iter()
        .find(|l| l.starts_with(&format!("{file}:plugins[0].path: ")))
        .unwrap_or_else(|| panic!("no plugins[0].path line:\n{output}"));
    assert!(line.contains("libsever_test_abi_mismatch.so"), "{line}");
    assert!(line.contains("ABI"), "{line}");
}

#[test]
fn serve_refuses_to_start_with_an_abi_mismatched_plugin() {
    let config = write_config(ABI_MISMATCH);
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["serve", "--config", file], &env());

    assert_ne!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("libsever_test_abi_mismatch.so"), "{stderr}");
}

#[test]
fn plugins_command_refuses_an_abi_mismatched_library() {
    let library = plugin_path("libsever_test_abi_mismatch.so");

    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);

    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(
        output.contains("libsever_test_abi_mismatch.so") && output.contains("ABI"),
        "{output}"
    );
}
