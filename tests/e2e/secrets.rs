//! Nothing secret in any output: one `sever` with every adapter, configured with
//! recognisable secrets (callers' bearer tokens; Cedalo's token, Alibaba's AccessKey secret
//! and STS token, PrivX's OAuth client and API secrets, Nexus's bearer, application token
//! and password, IUDX's apikey, RabbitMQ's password — some as `${ENV}`, some literal in the
//! config), driven through every scenario the suite can reach: successes, vendor errors
//! (500, garbage, hang-up, refused credentials), dry runs, 401 and 403, a plugin panic,
//! `sever check` on good and bad configs, `sever plugins`, debug-level logs. Then stderr,
//! stdout, the audit log, every answer's body and headers and a `/metrics` scrape are
//! searched for each secret in every form it could be shown in: raw, percent-encoded,
//! JSON-escaped, base64 (alone and as HTTP Basic `user:secret`).
//!
//! Needs `cargo build --workspace` first (the binary, every adapter, the panicking fixture).
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::{run_cli, write_config, Sever};
use sever_tests::sim::{
    AlibabaSim, AlibabaSimConfig, CedaloSim, Fault, IudxSim, IudxSimConfig, NexusSim,
    NexusSimConfig, PrivxSim, PrivxSimConfig, SimConfig,
};
use sha2::{Digest, Sha256};

// Callers.
const ONCALL: &str = "sk-oncall-SECRET-9a7f31";
/// Configured by its sha256 only.
const HASHED: &str = "sk-hashed-SECRET-c4e8d2";
/// Sent by a caller, known to nobody: must not be echoed either.
const BOGUS: &str = "sk-bogus-SECRET-55aa10";

// Vendors ("E" from the environment, "L" literal in the config).
const CEDALO_E: &str = "ced-SECRET-env-7e21";
const CEDALO_WRONG_L: &str = "ced-SECRET-wrong/literal+00";
const ALI_SECRET_E: &str = "ali-SECRET/env+7Q=";
const ALI_STS_L: &str = "ali-sts-SECRET+/literal==";
const PX_OAUTH_E: &str = "pxo-SECRET-3b9f1c";
const PX_API_L: &str = "pxa-SECRET&x y\"q";
const NX_BEARER_E: &str = "nxb-SECRET-77e0";
const NX_APP_L: &str = "nxa-SECRET-88f1";
const NX_PASSWORD_E: &str = "nxp-SECRET-99:a2";
const IUDX_KEY_E: &str = "iux-SECRET-12b4";
const RMQ_PASSWORD_L: &str = "rmq-SECRET-34c6";

const PRIVX_CONN: &str = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
const PRIVX_USER: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const PRIVX_HOST: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { dir: "{{PLUGIN_DIR}}" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
    - { name: hashed, token_sha256: "@HASHED@", allow: [ { backends: ["mqtt-eu"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@CEDALO@"
    timeout_ms: 1000
    retries: 0
    settings: { project_id: "p1", broker_id: "b1", token: "${CEDALO_TOKEN}" }
  mqtt-wrong:
    plugin: cedalo
    url: "@CEDALO@"
    timeout_ms: 1000
    retries: 0
    settings: { project_id: "p1", broker_id: "b1", token: "ced-SECRET-wrong/literal+00" }
  mqtt-cn:
    plugin: alibaba-mqtt
    url: "@ALIBABA@"
    timeout_ms: 1000
    retries: 0
    settings:
      instance_id: "post-cn-secrets"
      access_key_id: "LTAIsecrets"
      access_key_secret: "${ALIBABA_SECRET}"
      region_id: "cn-shanghai"
      security_token: "ali-sts-SECRET+/literal=="
  pam:
    plugin: privx
    url: "@PRIVX@"
    timeout_ms: 1000
    retries: 0
    settings:
      oauth_client_id: "privx-external"
      oauth_client_secret: "${PRIVX_OAUTH_SECRET}"
      api_client_id: "sever-api"
      api_client_secret: "pxa-SECRET&x y\"q"
  idp-bearer:
    plugin: nexus
    url: "@NEXUS@"
    timeout_ms: 1000
    retries: 0
    settings: { tenant_id: "acme", bearer_token: "${NEXUS_BEARER}", application_token: "nxa-SECRET-88f1" }
  idp-basic:
    plugin: nexus
    url: "@NEXUS@"
    timeout_ms: 1000
    retries: 0
    settings: { tenant_id: "acme", username: "sever-svc", password: "${NEXUS_PASSWORD}" }
  iot:
    plugin: iudx
    url: "@IUDX@"
    timeout_ms: 1000
    retries: 0
    settings: { id: "alice/app-1", apikey: "${IUDX_KEY}" }
  rabbit:
    plugin: rabbitmq
    url: "@CLOSED@"
    timeout_ms: 1000
    retries: 0
    settings: { user: "sever", password: "rmq-SECRET-34c6" }
  boom:
    plugin: panicking
    url: "http://127.0.0.1:9"
"#;

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ONCALL_TOKEN", ONCALL),
        ("CEDALO_TOKEN", CEDALO_E),
        ("ALIBABA_SECRET", ALI_SECRET_E),
        ("PRIVX_OAUTH_SECRET", PX_OAUTH_E),
        ("NEXUS_BEARER", NX_BEARER_E),
        ("NEXUS_PASSWORD", NX_PASSWORD_E),
        ("IUDX_KEY", IUDX_KEY_E),
        ("RUST_LOG", "debug"),
    ]
}

/// Every secret, raw.
fn secrets() -> Vec<String> {
    [
        ONCALL,
        HASHED,
        BOGUS,
        CEDALO_E,
        CEDALO_WRONG_L,
        ALI_SECRET_E,
        ALI_STS_L,
        PX_OAUTH_E,
        PX_API_L,
        NX_BEARER_E,
        NX_APP_L,
        NX_PASSWORD_E,
        IUDX_KEY_E,
        RMQ_PASSWORD_L,
    ]
    .map(String::from)
    .to_vec()
}

/// Every form a secret could be shown in.
fn forms(secret: &str) -> Vec<String> {
    let json = serde_json::to_string(secret).unwrap();
    let mut forms = vec![
        secret.to_owned(),
        utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        json.trim_matches('"').to_owned(),
        BASE64.encode(secret),
    ];
    // Form-encoding with `+` for spaces.
    forms.push(forms[1].replace("%20", "+"));
    forms.sort();
    forms.dedup();
    forms
}

/// The HTTP Basic credentials built from the secrets (they are secrets too).
fn basic_forms() -> Vec<String> {
    vec![
        BASE64.encode(format!("sever-svc:{NX_PASSWORD_E}")),
        BASE64.encode(format!("privx-external:{PX_OAUTH_E}")),
        BASE64.encode(format!("sever:{RMQ_PASSWORD_L}")),
    ]
}

/// Everything the suite saw, to be searched at the end.
#[derive(Default)]
struct Seen {
    texts: Vec<(String, String)>,
}

impl Seen {
    fn add(&mut self, what: impl Into<String>, text: impl Into<String>) {
        self.texts.push((what.into(), text.into()));
    }

    fn reply(&mut self, what: &str, reply: &Reply) -> Value {
        let headers: Vec<String> = reply
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        self.add(
            format!("answer to {what}"),
            format!("{}\n{}", headers.join("\n"), reply.text),
        );
        reply.json.clone().unwrap_or(Value::Null)
    }

    /// Panics naming every place a secret showed up, in which form.
    fn assert_no_secret(&self, extra: &[String]) {
        let leaks = find_leaks(&self.texts, extra);
        let searched: usize = self.texts.iter().map(|(_, t)| t.len()).sum();
        eprintln!(
            "secret grep: {} outputs, {searched} bytes, {} forms of {} secrets, {} leaks",
            self.texts.len(),
            needles(extra).len(),
            secrets().len() + extra.len(),
            leaks.len()
        );
        assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
    }
}

/// Every secret (with `extra`) in every form, as (secret, form).
fn needles(extra: &[String]) -> Vec<(String, String)> {
    let mut needles: Vec<(String, String)> = Vec::new();
    for secret in secrets().iter().chain(extra) {
        for form in forms(secret) {
            needles.push((secret.clone(), form));
        }
    }
    for basic in basic_forms() {
        needles.push(("Basic credentials".into(), basic));
    }
    needles
}

/// Each place a secret shows up in `texts`, with some context.
fn find_leaks(texts: &[(String, String)], extra: &[String]) -> Vec<String> {
    let needles = needles(extra);
    let mut leaks = Vec::new();
    for (what, text) in texts {
        for (secret, form) in &needles {
            let Some(at) = text.find(form.as_str()) else {
                continue;
            };
            let start = text[..at]
                .char_indices()
                .rev()
                .nth(80)
                .map_or(0, |(i, _)| i);
            let end = (at + form.len() + 80).min(text.len());
            let end = (end..=text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(text.len());
            leaks.push(format!(
                "{what}: {secret:?} as {form:?}: …{}…",
                &text[start..end]
            ));
        }
    }
    leaks
}

#[test]
fn the_secret_grep_finds_secrets_in_each_form() {
    let texts: Vec<(String, String)> = [
        format!("token: \"{CEDALO_WRONG_L}\""),
        format!(
            "url?secret={}",
            utf8_percent_encode(PX_API_L, NON_ALPHANUMERIC)
        ),
        format!("{{\"s\":{}}}", serde_json::to_string(PX_API_L).unwrap()),
        format!(
            "Authorization: Basic {}",
            BASE64.encode(format!("sever-svc:{NX_PASSWORD_E}"))
        ),
        format!("x-token: {}", BASE64.encode(IUDX_KEY_E)),
        "nothing here".to_owned(),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, t)| (format!("text {i}"), t))
    .collect();
    let leaks = find_leaks(&texts, &[]);
    for i in 0..5 {
        let what = format!("text {i}:");
        assert!(
            leaks.iter().any(|l| l.starts_with(&what)),
            "{what} not found: {leaks:#?}"
        );
    }
    assert!(
        !leaks.iter().any(|l| l.starts_with("text 5:")),
        "{leaks:#?}"
    );
}

struct Vendors {
    cedalo: CedaloSim,
    alibaba: AlibabaSim,
    privx: PrivxSim,
    nexus: NexusSim,
    iudx: IudxSim,
}

impl Vendors {
    fn start() -> Self {
        Vendors {
            cedalo: CedaloSim::start(SimConfig::new("p1", "b1", CEDALO_E)),
            alibaba: AlibabaSim::start(
                AlibabaSimConfig::new("post-cn-secrets", "LTAIsecrets", ALI_SECRET_E)
                    .with_region("cn-shanghai")
                    .with_security_token(ALI_STS_L),
            ),
            privx: PrivxSim::start(
                PrivxSimConfig::new("privx-external", PX_OAUTH_E, "sever-api", PX_API_L)
                    .with_connection(PRIVX_CONN, PRIVX_USER, PRIVX_HOST),
            ),
            nexus: NexusSim::start(
                NexusSimConfig::new("acme")
                    .with_bearer(NX_BEARER_E, NX_APP_L)
                    .with_basic("sever-svc", NX_PASSWORD_E)
                    .with_client_on("conn-1", "client-1")
                    .with_client_on("conn-1", "client-2"),
            ),
            iudx: IudxSim::start(
                IudxSimConfig::new()
                    .with_entity("alice/app-1", IUDX_KEY_E)
                    .with_entity("bob/sensor-1", "bob-key"),
            ),
        }
    }

    fn config(&self) -> String {
        let closed = CedaloSim::start(SimConfig::default()).url(); // dropped: port closed
        let hashed = hex::encode(Sha256::digest(HASHED.as_bytes()));
        CONFIG
            .replace("@HASHED@", &hashed)
            .replace("@CEDALO@", &self.cedalo.url())
            .replace("@ALIBABA@", &self.alibaba.url())
            .replace("@PRIVX@", &self.privx.url())
            .replace("@NEXUS@", &self.nexus.url())
            .replace("@IUDX@", &self.iudx.url())
            .replace("@CLOSED@", &closed)
    }

    /// Every fault switch of every simulator at once.
    fn set_fault(&self, fault: &Fault) {
        self.cedalo.set_fault(fault.clone());
        self.alibaba.set_fault(fault.clone());
        self.nexus.set_fault(fault.clone());
        self.iudx.set_fault(fault.clone());
        for endpoint in [
            sever_tests::sim::privx::Endpoint::Token,
            sever_tests::sim::privx::Endpoint::Terminate,
        ] {
            self.privx.set_fault(endpoint, fault.clone());
        }
    }
}

/// One canonical request per backend: (what, backend, action, target).
fn requests() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "cedalo",
            "mqtt-eu",
            "disconnect",
            json!({"client_id": "sensor-1"}),
        ),
        (
            "cedalo, wrong token",
            "mqtt-wrong",
            "disconnect",
            json!({"client_id": "sensor-1"}),
        ),
        (
            "alibaba",
            "mqtt-cn",
            "disconnect",
            json!({"client_id": "GID_a@@@1"}),
        ),
        (
            "privx",
            "pam",
            "terminate",
            json!({"connection_id": PRIVX_CONN}),
        ),
        (
            "nexus bearer",
            "idp-bearer",
            "unbind",
            json!({"client_id": "client-1", "connection_id": "conn-1"}),
        ),
        (
            "nexus basic",
            "idp-basic",
            "unbind",
            json!({"client_id": "client-2", "connection_id": "conn-1"}),
        ),
        (
            "iudx",
            "iot",
            "unbind",
            json!({"source": "bob/sensor-1", "topic": "temp", "message_type": "public"}),
        ),
        (
            "rabbitmq, broker down",
            "rabbit",
            "disconnect",
            json!({"client_id": "sensor-1"}),
        ),
        (
            "panicking plugin",
            "boom",
            "disconnect",
            json!({"client_id": "sensor-1"}),
        ),
    ]
}

/// The status each of [`requests`] answers while the vendors behave.
const EXPECTED: [u16; 9] = [200, 502, 200, 200, 200, 200, 200, 502, 500];

fn act(
    sever: &Sever,
    token: &str,
    backend: &str,
    action: &str,
    target: &Value,
    dry_run: bool,
) -> Reply {
    let body = json!({"action": action, "backend": backend, "target": target,
                      "reason": "secret grep", "dry_run": dry_run});
    http::post_json(&sever.url("/v1/actions"), Some(token), &body.to_string())
}

#[test]
fn no_secret_shows_in_any_answer_log_audit_line_metric_or_cli_output() {
    let vendors = Vendors::start();
    vendors.cedalo.connect_client("sensor-1");
    vendors.alibaba.connect_client("GID_a@@@1");
    let config = vendors.config();
    let sever = Sever::start(&config, &env());
    let mut seen = Seen::default();
    let mut statuses = Vec::new();

    // Dry runs first (nothing sent), then the real calls, then every fault.
    for (what, backend, action, target) in requests() {
        let reply = act(&sever, ONCALL, backend, action, &target, true);
        seen.reply(&format!("dry run of {what}"), &reply);
        let expected = if backend == "boom" { 500 } else { 200 };
        assert_eq!(reply.status, expected, "dry run of {what}: {reply:#?}");
        statuses.push((
            format!("dry run {what}"),
            reply.status,
            reply.code().map(str::to_owned),
        ));
    }
    for ((what, backend, action, target), expected) in requests().into_iter().zip(EXPECTED) {
        let reply = act(&sever, ONCALL, backend, action, &target, false);
        seen.reply(what, &reply);
        assert_eq!(reply.status, expected, "{what}: {reply:#?}");
        statuses.push((
            what.to_owned(),
            reply.status,
            reply.code().map(str::to_owned),
        ));
    }
    for fault in [Fault::InternalError, Fault::Garbage, Fault::HangUp] {
        vendors.set_fault(&fault);
        for (what, backend, action, target) in requests() {
            let what = format!("{what} under {fault:?}");
            let reply = act(&sever, ONCALL, backend, action, &target, false);
            seen.reply(&what, &reply);
            statuses.push((what, reply.status, reply.code().map(str::to_owned)));
        }
    }
    vendors.set_fault(&Fault::None);
    // PrivX refusing the token: a 401 on terminate makes the adapter refresh the token.
    vendors.privx.revoke_all_tokens();
    let reply = act(
        &sever,
        ONCALL,
        "pam",
        "terminate",
        &json!({"user_id": PRIVX_USER}),
        false,
    );
    seen.reply("privx after its tokens were revoked", &reply);

    // Callers: unknown token, malformed header, scope, the hashed token.
    let url = sever.url("/v1/actions");
    let target = json!({"client_id": "sensor-1"});
    let reply = act(&sever, BOGUS, "mqtt-eu", "disconnect", &target, false);
    assert_eq!(reply.status, 401, "{reply:#?}");
    seen.reply("unknown bearer token", &reply);
    let body = json!({"action": "disconnect", "backend": "mqtt-eu", "target": target}).to_string();
    for auth in [
        format!("Basic {BOGUS}"),
        format!("Bearer  {BOGUS} x"),
        BOGUS.to_owned(),
    ] {
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ];
        let reply = http::send("POST", &url, &headers, Some(body.as_bytes()));
        assert_eq!(reply.status, 401, "{reply:#?}");
        seen.reply("malformed Authorization", &reply);
    }
    let reply = act(
        &sever,
        HASHED,
        "pam",
        "terminate",
        &json!({"connection_id": PRIVX_CONN}),
        false,
    );
    assert_eq!(reply.status, 403, "{reply:#?}");
    seen.reply("token outside its scope", &reply);
    vendors.cedalo.connect_client("sensor-2");
    let reply = act(
        &sever,
        HASHED,
        "mqtt-eu",
        "disconnect",
        &json!({"client_id": "sensor-2"}),
        false,
    );
    assert_eq!(reply.status, 200, "{reply:#?}");
    seen.reply("hashed token", &reply);
    // A secret sent as data is the caller's own business, but a bad body must not echo a
    // token either.
    let headers = [
        ("authorization", &*format!("Bearer {ONCALL}")),
        ("content-type", "application/json"),
    ];
    let reply = http::send("POST", &url, &headers, Some(b"{\"action\": 1"));
    seen.reply("malformed JSON", &reply);

    // Listings and the scrape.
    for path in ["/v1/backends", "/v1/plugins"] {
        let reply = http::get(&sever.url(path), Some(ONCALL));
        assert_eq!(reply.status, 200, "{reply:#?}");
        seen.reply(path, &reply);
    }
    let metrics = http::get(&sever.url("/metrics"), None);
    assert_eq!(metrics.status, 200);
    seen.reply("/metrics", &metrics);

    // The CLI: check and plugins on this config, check on broken ones.
    let env = env();
    let (code, out, err) = run_cli(
        &["check", "--config", sever.config_path().to_str().unwrap()],
        &env,
    );
    seen.add("sever check (valid) stdout", out);
    seen.add("sever check (valid) stderr", err);
    assert_eq!(code, 0, "sever check of the suite's config");
    let (_, out, err) = run_cli(
        &["plugins", "--config", sever.config_path().to_str().unwrap()],
        &env,
    );
    seen.add("sever plugins stdout", out);
    seen.add("sever plugins stderr", err);
    let (_, out, err) = run_cli(
        &[
            "plugins",
            "--json",
            "--config",
            sever.config_path().to_str().unwrap(),
        ],
        &env,
    );
    seen.add("sever plugins --json stdout", out);
    seen.add("sever plugins --json stderr", err);
    for (what, broken) in broken_configs(&config) {
        let file = write_config(&broken);
        let (code, out, err) = run_cli(&["check", "--config", file.path().to_str().unwrap()], &env);
        assert_eq!(code, 1, "sever check should refuse {what}:\n{out}\n{err}");
        seen.add(format!("sever check ({what}) stdout"), out);
        seen.add(format!("sever check ({what}) stderr"), err);
    }

    // Drain: SIGTERM, then everything the process wrote.
    sever.terminate();
    let mut sever = sever;
    sever.wait_exit(std::time::Duration::from_secs(10));
    let stderr = sever.stderr();
    assert!(
        stderr.contains("DEBUG") || stderr.contains("\"level\":\"DEBUG\""),
        "debug logs on"
    );
    seen.add("sever stderr (RUST_LOG=debug)", stderr);
    seen.add("sever stdout", sever.stdout());
    let audit = sever.audit_text();
    assert!(audit.lines().count() >= requests().len() * 5, "{audit}");
    seen.add("audit log", audit);

    for (what, status, code) in &statuses {
        eprintln!("{what}: {status} {}", code.as_deref().unwrap_or("-"));
    }
    let issued = vendors.privx.issued_tokens();
    assert!(
        !issued.is_empty(),
        "privx issued no token: the flow never ran"
    );
    seen.assert_no_secret(&issued);
}

/// Broken variants of the suite's config, each keeping its secrets: what `sever check`
/// must refuse without showing them.
fn broken_configs(config: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "an unknown settings key",
            config.replace(
                "broker_id: \"b1\", token: \"ced-SECRET-wrong",
                "broker_id: \"b1\", tokn: \"ced-SECRET-wrong",
            ),
        ),
        (
            "a secret where a number goes",
            config.replace(
                "timeout_ms: 1000\n    retries: 0\n    settings: { user: \"sever\"",
                "timeout_ms: \"rmq-SECRET-34c6\"\n    retries: 0\n    settings: { user: \"sever\"",
            ),
        ),
        (
            "a secret as a URL",
            config.replacen(
                "plugin: rabbitmq\n    url: \"",
                "plugin: rabbitmq\n    url: \"ftp://user:rmq-SECRET-34c6@host/",
                1,
            ),
        ),
        (
            "a missing variable next to secrets",
            config.replace("${IUDX_KEY}", "${IUDX_KEY_MISSING}"),
        ),
        (
            "privx with a secret in a wrongly typed setting",
            config.replace(
                "api_client_id: \"sever-api\"",
                "api_client_id: [\"pxa-SECRET&x y\\\"q\"]",
            ),
        ),
    ]
}
