//! What the Alibaba end-to-end tests share: one `alibaba-mqtt` backend (`mqtt-cn`) in front
//! of an [`AlibabaSim`], its credentials, and assertions on what the simulator read. Every
//! test starts its own simulator and its own `sever`, so tests run in parallel.
#![allow(dead_code)] // not every test uses every helper

use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{AlibabaCall, AlibabaSim, AlibabaSimConfig};

/// Bearer token of the `oncall` caller.
pub(crate) const ONCALL: &str = "oncall-token-a1b2c3";
/// `mqtt-cn`'s settings (distinctive values, to spot leaks).
pub(crate) const INSTANCE: &str = "post-cn-e2e0pp12gl";
pub(crate) const KEY_ID: &str = "LTAI5tE2eKeyId";
pub(crate) const SECRET: &str = "Ali+Secret/e2e=7Q";
pub(crate) const REGION: &str = "cn-shanghai";
pub(crate) const STS_TOKEN: &str = "CAIS+sts/Token==e2e";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_alibaba_mqtt.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-cn:
    plugin: alibaba-mqtt
    url: "@URL@"
    timeout_ms: @TIMEOUT@
    retries: @RETRIES@
    settings:
      instance_id: "post-cn-e2e0pp12gl"
      access_key_id: "LTAI5tE2eKeyId"
      access_key_secret: "${ALIBABA_SECRET}"
      region_id: "cn-shanghai"
@STS@"#;

/// How a test's `sever` is set up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setup<'a> {
    pub(crate) retries: u32,
    pub(crate) timeout_ms: u64,
    /// The secret `sever` signs with (the simulator knows [`SECRET`]).
    pub(crate) secret: &'a str,
    /// Sends [`STS_TOKEN`] as `security_token`.
    pub(crate) sts: bool,
    /// `RUST_LOG` for `sever`.
    pub(crate) log: &'a str,
}

impl Default for Setup<'_> {
    /// No retry, 1 s per vendor call, the right secret, no STS token, `info` logs.
    fn default() -> Self {
        Self {
            retries: 0,
            timeout_ms: 1000,
            secret: SECRET,
            sts: false,
            log: "info",
        }
    }
}

/// The config for `mqtt-cn` in front of `vendor_url`.
pub(crate) fn config(vendor_url: &str, setup: &Setup<'_>) -> String {
    let sts = if setup.sts {
        "      security_token: \"${ALIBABA_STS_TOKEN}\"\n"
    } else {
        ""
    };
    CONFIG
        .replace("@URL@", vendor_url)
        .replace("@TIMEOUT@", &setup.timeout_ms.to_string())
        .replace("@RETRIES@", &setup.retries.to_string())
        .replace("@STS@", sts)
}

/// A simulator knowing `mqtt-cn`'s instance, key and region, with these clients connected.
pub(crate) fn sim_config(clients: &[&str]) -> AlibabaSimConfig {
    AlibabaSimConfig::new(INSTANCE, KEY_ID, SECRET)
        .with_region(REGION)
        .with_clients(clients.iter().copied())
}

pub(crate) fn sim(clients: &[&str]) -> AlibabaSim {
    AlibabaSim::start(sim_config(clients))
}

/// `sever` for `sim` set up as `setup` says.
pub(crate) fn start_with(sim: &AlibabaSim, setup: &Setup<'_>) -> Sever {
    let env = [
        ("ONCALL_TOKEN", ONCALL),
        ("ALIBABA_SECRET", setup.secret),
        ("ALIBABA_STS_TOKEN", STS_TOKEN),
        ("RUST_LOG", setup.log),
    ];
    Sever::start(&config(&sim.url(), setup), &env)
}

/// `sever` for `sim` with the default [`Setup`].
pub(crate) fn start(sim: &AlibabaSim) -> Sever {
    start_with(sim, &Setup::default())
}

/// The canonical disconnect body for one client id.
pub(crate) fn disconnect_body(client_id: &str) -> String {
    json!({
        "action": "disconnect",
        "backend": "mqtt-cn",
        "target": { "client_id": client_id },
        "reason": "leaked device credentials INC-7",
    })
    .to_string()
}

/// `POST /v1/actions` as `oncall`.
pub(crate) fn act(sever: &Sever, body: &str) -> Reply {
    http::post_json(&sever.url("/v1/actions"), Some(ONCALL), body)
}

/// Disconnects `client_id` on `mqtt-cn`.
pub(crate) fn disconnect(sever: &Sever, client_id: &str) -> Reply {
    act(sever, &disconnect_body(client_id))
}

/// Asserts `call` is `CloseConnection` of `client_id`, exactly as documented, and that the
/// simulator's own signature check passed.
pub(crate) fn assert_close_connection(call: &AlibabaCall, client_id: &str) {
    assert_eq!(call.method, "POST", "{call:#?}");
    assert_eq!(call.signature_valid, Some(true), "{call:#?}");
    let fixed = [
        ("Action", "CloseConnection"),
        ("Version", "2020-04-20"),
        ("Format", "JSON"),
        ("InstanceId", INSTANCE),
        ("ClientId", client_id),
        ("AccessKeyId", KEY_ID),
        ("RegionId", REGION),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
    ];
    for (name, value) in fixed {
        assert_eq!(call.param(name), Some(value), "{name}: {call:#?}");
    }
    let nonce = call.param("SignatureNonce").unwrap_or_default();
    let shape: Vec<usize> = nonce.split('-').map(str::len).collect();
    assert_eq!(shape, [8, 4, 4, 4, 12], "UUID-shaped nonce: {call:#?}");
    assert!(nonce.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
    assert!(call.param("Signature").is_some_and(|s| s.len() == 28));
}

/// Asserts the simulator read exactly one call, `CloseConnection` of `client_id`, and
/// returns it.
pub(crate) fn assert_one_call(sim: &AlibabaSim, client_id: &str) -> AlibabaCall {
    let calls = sim.requests();
    assert_eq!(calls.len(), 1, "expected one vendor call: {calls:#?}");
    assert_close_connection(&calls[0], client_id);
    calls[0].clone()
}

/// Asserts the simulator received nothing.
pub(crate) fn assert_nothing_sent(sim: &AlibabaSim) {
    let calls = sim.calls();
    assert!(calls.is_empty(), "expected no vendor call: {calls:#?}");
}

/// Asserts the problem carries the vendor's status, code, message and request id, and
/// that the message is in `detail` too; returns the message.
pub(crate) fn assert_vendor(problem: &Value, status: u16, code: &str) -> String {
    let vendor = &problem["vendor"];
    assert_eq!(vendor["status"], status, "{problem:#}");
    assert_eq!(vendor["code"], code, "{problem:#}");
    assert!(vendor["request_id"].is_string(), "{problem:#}");
    let message = vendor["message"].as_str().unwrap_or_default().to_owned();
    assert!(!message.is_empty(), "{problem:#}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&message),
        "detail lacks the vendor message: {problem:#}"
    );
    message
}

/// Every form a secret of this suite could be shown in: raw and percent-encoded.
pub(crate) fn secret_forms() -> Vec<String> {
    let mut forms = Vec::new();
    for secret in [SECRET, STS_TOKEN] {
        forms.push(secret.to_owned());
        forms.push(sever_tests::sim::alibaba::encode(secret));
    }
    forms
}

/// Asserts no secret of this suite appears in `text`.
pub(crate) fn assert_no_secret(what: &str, text: &str) {
    for secret in secret_forms() {
        assert!(!text.contains(&secret), "{what} shows a secret:\n{text}");
    }
}
