//! What the end-to-end test files share: the standard config (one Cedalo backend,
//! `mqtt-eu`, in front of a [`CedaloSim`]), the tokens, and assertions on what the simulator
//! received. Every test starts its own simulator and its own `sever`, so tests run in
//! parallel without sharing ports, files or counters.
#![allow(dead_code)] // each test file uses a different part of this module

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::{Sever, Signal};
use sever_tests::sim::{CedaloSim, RecordedCall, SimConfig};
use std::time::Duration;

/// Bearer token of the `oncall` caller: every action on every backend.
pub(crate) const ONCALL: &str = "oncall-token-4d1c9a";
/// Bearer token of the `narrow` caller: `disconnect` on `mqtt-us` only.
pub(crate) const NARROW: &str = "narrow-token-8e2f31";
/// Cedalo application token configured for `mqtt-eu` (a secret: never to be shown).
pub(crate) const CEDALO_TOKEN: &str = "cedalo-secret-5e1b77";
/// Project and broker ids in `mqtt-eu`'s settings (distinctive, to spot leaked settings).
pub(crate) const PROJECT: &str = "proj-7f3a";
pub(crate) const BROKER: &str = "brk-19c2";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 @SERVER@ }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
    - { name: narrow, token_env: NARROW_TOKEN, allow: [ { backends: ["mqtt-us"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@URL@"
    timeout_ms: 500
    retries: 0
    settings: { project_id: "proj-7f3a", broker_id: "brk-19c2", token: "${CEDALO_TOKEN}" }
"#;

/// The standard config with `mqtt-eu` pointing at `vendor_url`. `retries: 0` keeps the
/// number of vendor calls exact.
pub(crate) fn config(vendor_url: &str) -> String {
    config_with(vendor_url, "")
}

/// The standard config with more `server` keys, e.g. `", max_body_bytes: 1024"`.
pub(crate) fn config_with(vendor_url: &str, server_extra: &str) -> String {
    CONFIG
        .replace("@URL@", vendor_url)
        .replace("@SERVER@", server_extra)
}

/// The environment the standard config needs.
pub(crate) fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ONCALL_TOKEN", ONCALL),
        ("NARROW_TOKEN", NARROW),
        ("CEDALO_TOKEN", CEDALO_TOKEN),
    ]
}

/// A simulator for `mqtt-eu`'s project and broker, accepting [`CEDALO_TOKEN`].
pub(crate) fn sim(clients: &[&str]) -> CedaloSim {
    sim_with(SimConfig::new(PROJECT, BROKER, CEDALO_TOKEN), clients)
}

/// A simulator from `config`, with these clients connected.
pub(crate) fn sim_with(config: SimConfig, clients: &[&str]) -> CedaloSim {
    CedaloSim::start(config.with_clients(clients.iter().copied()))
}

/// `sever` with the standard config in front of `sim`.
pub(crate) fn start(sim: &CedaloSim) -> Sever {
    Sever::start(&config(&sim.url()), &env())
}

/// The canonical disconnect body for one client id.
pub(crate) fn disconnect_body(client_id: &str) -> String {
    json!({
        "action": "disconnect",
        "backend": "mqtt-eu",
        "target": { "client_id": client_id },
        "reason": "credential leak INC-4411",
    })
    .to_string()
}

/// `POST /v1/actions` with a canonical body.
pub(crate) fn act(sever: &Sever, token: Option<&str>, body: &str) -> Reply {
    http::post_json(&sever.url("/v1/actions"), token, body)
}

/// Disconnects `client_id` on `mqtt-eu` as `oncall`.
pub(crate) fn disconnect(sever: &Sever, client_id: &str) -> Reply {
    act(sever, Some(ONCALL), &disconnect_body(client_id))
}

/// Disconnects `client_id` on `mqtt-eu` as `oncall`, with a W3C `traceparent` header.
pub(crate) fn disconnect_traced(sever: &Sever, client_id: &str, traceparent: &str) -> Reply {
    http::send(
        "POST",
        &sever.url("/v1/actions"),
        &[
            ("authorization", &format!("Bearer {ONCALL}")),
            ("content-type", "application/json"),
            ("traceparent", traceparent),
        ],
        Some(disconnect_body(client_id).as_bytes()),
    )
}

/// Path segments as the tests expect the adapter to encode them: RFC 3986 unreserved
/// characters kept, every other byte of the UTF-8 as `%XX` (uppercase).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The raw path Cedalo must receive for disconnecting `client_id` on `mqtt-eu`.
pub(crate) fn vendor_path(client_id: &str) -> String {
    let client = utf8_percent_encode(client_id, SEGMENT);
    format!("/api/projects/{PROJECT}/brokers/{BROKER}/clients/{client}/disconnect")
}

/// Asserts `call` is Cedalo's disconnect of `client_id`, sent with `token`, exactly as
/// documented: method, raw path, decoded segment, bearer token, content type, body.
pub(crate) fn assert_disconnect_call(call: &RecordedCall, client_id: &str, token: &str) {
    assert_eq!(call.method, "PUT", "{call:#?}");
    assert_eq!(call.raw_path, vendor_path(client_id), "{call:#?}");
    assert_eq!(
        call.segments.get(6).map(String::as_str),
        Some(client_id),
        "{call:#?}"
    );
    assert_eq!(call.query, None, "the token goes in the header: {call:#?}");
    let bearer = format!("Bearer {token}");
    assert_eq!(
        call.header("authorization"),
        Some(bearer.as_str()),
        "{call:#?}"
    );
    let content_type = call.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "{call:#?}");
    assert_eq!(
        call.json_body(),
        Some(json!({ "clientId": client_id })),
        "{call:#?}"
    );
}

/// Asserts the simulator received exactly one call, the disconnect of `client_id` with the
/// configured token, and returns it.
pub(crate) fn assert_one_disconnect_call(sim: &CedaloSim, client_id: &str) -> RecordedCall {
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "expected one vendor call: {calls:#?}");
    assert_disconnect_call(&calls[0], client_id, CEDALO_TOKEN);
    calls[0].clone()
}

/// Asserts the simulator received nothing.
pub(crate) fn assert_nothing_sent(sim: &CedaloSim) {
    let calls = sim.calls();
    assert!(calls.is_empty(), "expected no vendor call: {calls:#?}");
}

/// Asserts the problem's `vendor` object carries the vendor's status and code.
pub(crate) fn assert_vendor(problem: &Value, status: u16, code: &str) {
    assert_eq!(problem["vendor"]["status"], status, "{problem:#}");
    assert_eq!(problem["vendor"]["code"], code, "{problem:#}");
}

/// The value of the sample of metric `name` that has all of `labels`, if there is one.
pub(crate) fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        let (label_block, value) = match rest.strip_prefix('{') {
            Some(rest) => rest.rsplit_once('}')?,
            // A metric without labels: `name value`.
            None if labels.is_empty() && rest.starts_with(' ') => ("", rest),
            None => return None,
        };
        let all = labels
            .iter()
            .all(|(k, v)| label_block.contains(&format!("{k}=\"{v}\"")));
        if !all {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The standard config with more `server` keys (a `request_timeout_ms` among them replaces
/// the standard 3000) and `mqtt-eu`'s `timeout_ms` and `retries` set (the standard config
/// has 500 ms and 0).
pub(crate) fn config_tuned(
    vendor_url: &str,
    server_extra: &str,
    timeout_ms: u64,
    retries: u32,
) -> String {
    const STANDARD: &str = "    timeout_ms: 500\n    retries: 0\n";
    let mut config = config_with(vendor_url, server_extra);
    assert!(config.contains(STANDARD), "the standard config changed");
    if server_extra.contains("request_timeout_ms") {
        config = config.replacen(", request_timeout_ms: 3000", "", 1);
    }
    config.replace(
        STANDARD,
        &format!("    timeout_ms: {timeout_ms}\n    retries: {retries}\n"),
    )
}

/// `sever` with [`config_tuned`] in front of `sim`.
pub(crate) fn start_tuned(
    sim: &CedaloSim,
    server_extra: &str,
    timeout_ms: u64,
    retries: u32,
) -> Sever {
    Sever::start(
        &config_tuned(&sim.url(), server_extra, timeout_ms, retries),
        &env(),
    )
}

/// Waits (at most `limit`) until the simulator has received at least `count` calls;
/// whether it did.
pub(crate) fn wait_for_calls(sim: &CedaloSim, count: usize, limit: Duration) -> bool {
    eventually(limit, || sim.calls().len() >= count)
}

/// The value of metric `name` with `labels` on `sever`'s `/metrics` now.
pub(crate) fn metric_now(sever: &Sever, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metric(&http::get(&sever.url("/metrics"), None).text, name, labels)
}

/// How long a reload may take to be counted.
const RELOAD_LIMIT: Duration = Duration::from_secs(15);

/// How a reload went, as `sever_config_reloads_total` labels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reload {
    Success,
    Failure,
}

/// Sends SIGHUP and waits until `sever` counts the reload with `result`; then asserts that
/// `sever_config_last_reload_successful` agrees.
pub(crate) fn reload(sever: &Sever, result: Reload) {
    let label = match result {
        Reload::Success => "success",
        Reload::Failure => "failure",
    };
    let count =
        || metric_now(sever, "sever_config_reloads_total", &[("result", label)]).unwrap_or(0.0);
    let before = count();
    sever.signal(Signal::SIGHUP);
    assert!(
        eventually(RELOAD_LIMIT, || count() > before),
        "no {label} reload counted after SIGHUP; stderr:\n{}",
        sever.stderr()
    );
    let expected = if result == Reload::Success { 1.0 } else { 0.0 };
    assert_eq!(
        metric_now(sever, "sever_config_last_reload_successful", &[]),
        Some(expected)
    );
}

/// `sever_in_flight_requests` now.
pub(crate) fn in_flight(sever: &Sever) -> f64 {
    metric_now(sever, "sever_in_flight_requests", &[]).unwrap_or(0.0)
}

/// `POST /v1/actions`: `action` on `backend` for `target`, as the caller of `token`, with a
/// reason (and `dry_run` as given).
pub(crate) fn act_as(
    sever: &Sever,
    token: &str,
    backend: &str,
    action: &str,
    target: Value,
    dry_run: bool,
) -> Reply {
    let body = json!({
        "action": action, "backend": backend, "target": target,
        "reason": "credential leak INC-5120", "dry_run": dry_run,
    });
    http::post_json(&sever.url("/v1/actions"), Some(token), &body.to_string())
}
