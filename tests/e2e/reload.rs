//! End to end through the real `sever`: live reload on SIGHUP (a new config swapped in whole;
//! a bad one reported and the old one kept; requests in flight finish; counters go on),
//! and the audit log's guarantees (reopened on SIGHUP for rotation; when it cannot be
//! written, requests are refused with 503 and nothing is sent).
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::*;
use serde_json::json;
use sever_tests::eventually;
use sever_tests::harness::{http, plugin_dir, Sever};
use sever_tests::sim::{CedaloSim, SimConfig};

/// Rewrites the running server's config file with `yaml` (same placeholders as at start).
fn rewrite_config(sever: &Sever, yaml: &str) {
    let text = yaml
        .replace("{{PORT}}", &sever.port().to_string())
        .replace("{{PLUGIN_DIR}}", &plugin_dir().display().to_string());
    std::fs::write(sever.config_path(), text).unwrap();
}

/// The standard config plus a second Cedalo backend `mqtt-us` in front of `us`.
fn config_with_us(eu: &CedaloSim, us: &CedaloSim) -> String {
    format!(
        "{}  mqtt-us:\n    plugin: cedalo\n    url: \"{}\"\n    settings: {{ project_id: \"p-us\", broker_id: \"b-us\", token: \"${{CEDALO_TOKEN}}\" }}\n",
        config(&eu.url()),
        us.url()
    )
}

fn backend_names(sever: &Sever) -> Vec<String> {
    let reply = http::get(&sever.url("/v1/backends"), Some(ONCALL));
    reply.json()["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn sighup_swaps_in_a_new_config_and_counters_go_on() {
    let eu = sim(&["c1", "c2"]);
    let us = sim_with(SimConfig::new("p-us", "b-us", CEDALO_TOKEN), &["c9"]);
    let sever = start(&eu);
    assert_eq!(disconnect(&sever, "c1").status, 200);
    assert_eq!(backend_names(&sever), ["mqtt-eu"]);

    // The new config adds `mqtt-us` and drops the `narrow` token.
    let new = config_with_us(&eu, &us).replace(
        "    - { name: narrow, token_env: NARROW_TOKEN, allow: [ { backends: [\"mqtt-us\"], actions: [\"disconnect\"] } ] }\n",
        "",
    );
    assert!(!new.contains("narrow"), "the standard config changed");
    rewrite_config(&sever, &new);
    reload(&sever, Reload::Success);

    assert_eq!(backend_names(&sever), ["mqtt-eu", "mqtt-us"]);
    let body = json!({"action": "disconnect", "backend": "mqtt-us", "target": {"client_id": "c9"}});
    let reply = act(&sever, Some(ONCALL), &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(!us.is_connected("c9"));
    act(&sever, Some(NARROW), &body.to_string()).expect_problem(401, "unauthenticated");

    // Counters kept counting across the reload (one registry).
    assert_eq!(disconnect(&sever, "c2").status, 200);
    let text = http::get(&sever.url("/metrics"), None).text;
    let labels = [
        ("action", "disconnect"),
        ("backend", "mqtt-eu"),
        ("outcome", "done"),
    ];
    assert_eq!(metric(&text, "sever_requests_total", &labels), Some(2.0));
    assert_eq!(
        metric(&text, "sever_circuit_state", &[("backend", "mqtt-us")]),
        Some(0.0)
    );

    // Removing the backend again removes its breaker gauge from the scrape.
    rewrite_config(&sever, &config(&eu.url()));
    reload(&sever, Reload::Success);
    assert_eq!(backend_names(&sever), ["mqtt-eu"]);
    assert_eq!(
        metric_now(
            &sever,
            "sever_config_reloads_total",
            &[("result", "success")]
        ),
        Some(2.0)
    );
    let text = http::get(&sever.url("/metrics"), None).text;
    assert_eq!(
        metric(&text, "sever_circuit_state", &[("backend", "mqtt-us")]),
        None
    );
}

#[test]
fn a_bad_config_on_sighup_is_reported_and_the_old_one_stays_in_force() {
    let eu = sim(&["c1", "c2"]);
    let mut sever = start(&eu);

    rewrite_config(
        &sever,
        "server: { listen: [not, an, address] }\nbogus_key: 1\n",
    );
    reload(&sever, Reload::Failure);
    let stderr = sever.stderr();
    assert!(stderr.contains("server.listen"), "{stderr}");
    assert!(stderr.contains("bogus_key"), "{stderr}");
    assert!(sever.is_running());
    assert_eq!(disconnect(&sever, "c1").status, 200, "old config serves");

    // A config whose plugin settings are invalid is refused the same way.
    rewrite_config(
        &sever,
        &config(&eu.url()).replace("broker_id: \"brk-19c2\", ", ""),
    );
    reload(&sever, Reload::Failure);
    assert!(sever.stderr().contains("backends.mqtt-eu.settings"));
    assert!(
        !sever.stderr().contains(CEDALO_TOKEN),
        "no secret in the errors"
    );
    assert_eq!(disconnect(&sever, "c2").status, 200, "old config serves");
    assert_eq!(
        metric_now(
            &sever,
            "sever_config_reloads_total",
            &[("result", "failure")]
        ),
        Some(2.0)
    );
    assert_eq!(
        metric_now(
            &sever,
            "sever_config_reloads_total",
            &[("result", "success")]
        ),
        Some(0.0)
    );
}

#[test]
fn a_request_in_flight_during_a_reload_finishes_on_the_config_it_started_with() {
    let eu = sim(&["c1"]);
    let sever = start_tuned(&eu, ", request_timeout_ms: 5000", 4000, 0);
    let gate = eu.hold_answers();

    std::thread::scope(|s| {
        let slow = s.spawn(|| disconnect(&sever, "c1"));
        assert!(
            eventually(Duration::from_secs(10), || gate.held() == 1),
            "the vendor call never started"
        );
        // Reload to a config without mqtt-eu at all.
        let other = sim_with(SimConfig::new("p-us", "b-us", CEDALO_TOKEN), &[]);
        let new = config_with_us(&eu, &other).replace("  mqtt-eu:", "  mqtt-old:");
        rewrite_config(&sever, &new);
        reload(&sever, Reload::Success);
        gate.release();
        let reply = slow.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json()["backend"], "mqtt-eu");
    });
    // New requests see the new config.
    disconnect(&sever, "c1").expect_problem(404, "unknown_backend");
}

#[test]
fn sighup_reopens_the_audit_log_for_rotation() {
    let eu = sim(&["c1", "c2"]);
    let sever = start(&eu);
    assert_eq!(disconnect(&sever, "c1").status, 200);
    let path = sever.dir().join("audit.jsonl");
    let rotated = sever.dir().join("audit.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();

    reload(&sever, Reload::Success);
    assert_eq!(disconnect(&sever, "c2").status, 200);

    // Each file holds exactly its one request's lines (intent and outcome).
    let targets = |file: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(file)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["target"].clone())
            .collect()
    };
    assert_eq!(
        targets(&rotated),
        [json!({"client_id": "c1"}), json!({"client_id": "c1"})]
    );
    assert_eq!(
        targets(&path),
        [json!({"client_id": "c2"}), json!({"client_id": "c2"})]
    );
}

#[test]
fn an_audit_log_that_cannot_be_written_refuses_requests_and_sends_nothing() {
    let eu = sim(&["c1"]);
    let sever = start(&eu);
    let path = sever.dir().join("audit.jsonl");
    // A folder where the audit file was: it can no longer be opened.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    // The reload fails (the audit path cannot be opened) and the log is reopened: unready.
    reload(&sever, Reload::Failure);

    let reply = disconnect(&sever, "c1");
    reply.expect_problem(503, "audit_unavailable");
    assert_nothing_sent(&eu);
    assert!(eu.is_connected("c1"));

    // Once the path can be opened again, requests go through.
    std::fs::remove_dir(&path).unwrap();
    assert_eq!(disconnect(&sever, "c1").status, 200);
    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "done");
}
