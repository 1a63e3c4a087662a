//! The plugin ABI is language-neutral: an adapter written in C against `sever_plugin.h`
//! alone (tests/fixtures/plugins/c-cedalo/adapter.c, compiled here with the system C
//! compiler) is listed by `sever plugins` and cuts a client through the real `sever`
//! against the Cedalo simulator; its broken variants are refused at load, or contained,
//! with a message naming the plugin, and the server keeps serving.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::json;
use sever_tests::c_plugin::{library, Variant};
use sever_tests::harness::{run_cli, write_config, Sever};

/// `mqtt-eu` on the C adapter, `mqtt-rust` on the Rust one, both in front of `vendor_url`;
/// `broken` on another variant when one is given.
fn config(vendor_url: &str, broken: Option<Variant>) -> String {
    let c = library(Variant::Cedalo);
    let mut plugins = format!(
        r#"[ {{ path: "{}" }}, {{ path: "{{{{PLUGIN_DIR}}}}/libsever_cedalo.so" }}"#,
        c.display()
    );
    let mut backends = String::new();
    if let Some(variant) = broken {
        plugins.push_str(&format!(
            r#", {{ path: "{}" }}"#,
            library(variant).display()
        ));
        backends = format!(
            r#"  broken:
    plugin: {}
    url: "{vendor_url}"
    timeout_ms: 500
    retries: 0
    settings: {{ project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${{CEDALO_TOKEN}}" }}
"#,
            variant.name()
        );
    }
    format!(
        r#"server: {{ listen: "127.0.0.1:{{{{PORT}}}}", request_timeout_ms: 3000 }}
plugins: {plugins} ]
auth:
  tokens:
    - {{ name: oncall, token_env: ONCALL_TOKEN, allow: [ {{ backends: ["*"], actions: ["disconnect"] }} ] }}
audit: {{ path: "audit.jsonl" }}
backends:
  mqtt-eu:
    plugin: c-cedalo
    url: "{vendor_url}"
    timeout_ms: 500
    retries: 0
    settings: {{ project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${{CEDALO_TOKEN}}" }}
  mqtt-rust:
    plugin: cedalo
    url: "{vendor_url}"
    timeout_ms: 500
    retries: 0
    settings: {{ project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${{CEDALO_TOKEN}}" }}
{backends}"#
    )
}

fn disconnect_on(
    sever: &Sever,
    backend: &str,
    client_id: &str,
) -> sever_tests::harness::http::Reply {
    let body = json!({
        "action": "disconnect",
        "backend": backend,
        "target": { "client_id": client_id },
        "reason": "credential leak INC-4411",
    });
    act(sever, Some(ONCALL), &body.to_string())
}

#[test]
fn sever_plugins_lists_the_c_adapter_with_its_abi_actions_and_settings() {
    let path = library(Variant::Cedalo);

    let (code, stdout, stderr) = run_cli(&["plugins", path.to_str().unwrap()], &[]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("c-cedalo 0.1.0 (ABI 3.1, http) — "),
        "{stdout}"
    );
    assert!(
        stdout.contains("  action disconnect: target client_id\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  settings: project_id, broker_id, token (secret)\n"),
        "{stdout}"
    );
    let (code, json_out, _) = run_cli(&["plugins", "--json", path.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{json_out}");
    let listed: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    let plugin = &listed["plugins"][0];
    assert_eq!(plugin["name"], "c-cedalo", "{plugin:#}");
    assert_eq!(plugin["abi"], 3, "{plugin:#}");
    assert_eq!(plugin["abi_minor"], 1, "{plugin:#}");
    assert_eq!(plugin["transport"], "http", "{plugin:#}");
    assert_eq!(
        plugin["url_schemes"],
        json!(["http", "https"]),
        "{plugin:#}"
    );
}

#[test]
fn the_c_adapter_cuts_a_client_exactly_as_the_rust_adapter_does() {
    let sim = sim(&["sensor-17", "sensor-18", "a/b c#é"]);
    let sever = Sever::start(&config(&sim.url(), None), &env());

    let reply = disconnect_on(&sever, "mqtt-eu", "sensor-17");

    let body = reply.expect_success();
    assert_eq!(body["backend"], "mqtt-eu", "{body:#}");
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"], json!({ "status": 200 }), "{body:#}");
    assert_one_disconnect_call(&sim, "sensor-17");
    assert!(!sim.is_connected("sensor-17"));
    assert!(sim.is_connected("sensor-18"));

    // An identifier that needs encoding reaches the vendor as the Rust adapter sends it:
    // the same method, raw path, body and credentials.
    let seen = |call: &sever_tests::sim::RecordedCall| {
        let header = |name: &str| {
            call.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        (
            call.method.clone(),
            call.raw_path.clone(),
            call.body.clone(),
            header("authorization"),
            header("content-type"),
            call.status,
        )
    };
    disconnect_on(&sever, "mqtt-eu", "a/b c#é").expect_success();
    let c_call = seen(sim.calls().last().unwrap());
    assert!(!sim.is_connected("a/b c#é"));
    sim.connect_client("a/b c#é");
    disconnect_on(&sever, "mqtt-rust", "a/b c#é").expect_success();
    let rust_call = seen(sim.calls().last().unwrap());
    assert_eq!(c_call, rust_call);
    assert_eq!(c_call.1, vendor_path("a/b c#é"));

    let reply = disconnect_on(&sever, "mqtt-eu", "sensor-17");
    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["status"], 404, "{problem:#}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("answered 404 for client 'sensor-17'"),
        "{detail}"
    );
}

#[test]
fn a_plugin_built_for_abi_3_0_still_loads_and_cuts() {
    // Built against the 3.1 header but declaring 3.0: its descriptor ends before 3.1's
    // instance_connection entry, as a plugin compiled before 3.1 existed would.
    let path = library(Variant::Abi30);
    let (code, stdout, stderr) = run_cli(&["plugins", path.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("c-cedalo-30 0.1.0 (ABI 3.0, http) — "),
        "{stdout}"
    );
    let sim = sim(&["sensor-17"]);
    let yaml = config(&sim.url(), Some(Variant::Abi30));
    let sever = Sever::start(&yaml, &env());

    disconnect_on(&sever, "broken", "sensor-17").expect_success();

    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn a_descriptor_with_a_null_entry_is_refused_naming_the_file_and_the_entry() {
    let path = library(Variant::NullEntry);

    let (code, stdout, stderr) = run_cli(&["plugins", path.to_str().unwrap()], &[]);

    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    let expected = format!(
        "{}: broken plugin: the descriptor's flow_resume entry is null",
        path.display()
    );
    assert!(output.contains(&expected), "{output}");
}

#[test]
fn a_descriptor_shorter_than_abi_3_is_refused_naming_its_size() {
    let path = library(Variant::ShortDescriptor);
    let sim = sim(&[]);
    let yaml = config(&sim.url(), Some(Variant::ShortDescriptor));
    let file = write_config(&yaml);

    let (code, stdout, stderr) = run_cli(
        &["check", "--config", file.path().to_str().unwrap()],
        &env(),
    );

    assert_eq!(code, 1, "{stdout}{stderr}");
    let output = format!("{stdout}{stderr}");
    let expected = format!(
        "plugins[2].path: {}: broken plugin: descriptor size 64 is less than ABI 3.0's 112",
        path.display()
    );
    assert!(output.contains(&expected), "{output}");
}

/// Starts `sever` with a broken variant beside the good adapter, cuts through the broken
/// one (a 500 naming nothing of the plugin's insides) and then through the good one.
fn contained(variant: Variant, expected_log: &str) {
    let sim = sim(&["sensor-17"]);
    let mut sever = Sever::start(&config(&sim.url(), Some(variant)), &env());

    let reply = disconnect_on(&sever, "broken", "sensor-17");
    let problem = reply.expect_problem(500, "internal");

    assert_eq!(problem["backend"], "broken", "{problem:#}");
    assert!(sever.is_running());
    disconnect_on(&sever, "mqtt-eu", "sensor-17").expect_success();
    let metrics = sever_tests::harness::http::get(&sever.url("/metrics"), None).text;
    let errors = metric(
        &metrics,
        "sever_plugin_errors_total",
        &[("plugin", variant.name())],
    );
    assert_eq!(errors, Some(1.0), "{metrics}");
    let log = sever.stderr();
    let line = log
        .lines()
        .find(|l| l.contains("adapter plugin failure"))
        .unwrap_or_else(|| panic!("no plugin failure logged:\n{log}"));
    assert!(
        line.contains(&format!("plugin {} failed", variant.name())),
        "{line}"
    );
    assert!(line.contains(expected_log), "{line}");
}

#[test]
fn an_unknown_status_is_a_500_counted_and_logged_and_the_server_keeps_serving() {
    contained(
        Variant::BadStatus,
        "flow_start returned an unknown status 7",
    );
}

#[test]
fn an_unknown_problem_kind_is_a_500_counted_and_logged_and_the_server_keeps_serving() {
    // The simulator has no such client: the variant fails the flow with problem kind 99.
    let sim = sim(&[]);
    let mut sever = Sever::start(&config(&sim.url(), Some(Variant::BadKind)), &env());

    let reply = disconnect_on(&sever, "broken", "gone");
    let problem = reply.expect_problem(500, "internal");

    assert_eq!(problem["backend"], "broken", "{problem:#}");
    assert!(sever.is_running());
    disconnect_on(&sever, "mqtt-eu", "gone").expect_problem(404, "target_not_found");
    let log = sever.stderr();
    assert!(
        log.lines().any(|l| l.contains("plugin c-bad-kind failed")
            && l.contains("unreadable step: unknown problem kind 99")),
        "{log}"
    );
}
