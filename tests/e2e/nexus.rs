//! End to end through the real `sever` and the Nexus adapter plugin, against the strict
//! Nexus simulator: what the caller gets back and exactly what the vendor received, for
//! both auth options.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_nexus.so`).
#![allow(clippy::unwrap_used)]

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::sim::{Canned, Fault, NexusSim, NexusSimConfig, RecordedCall};

const ONCALL: &str = "oncall-token-0b9e71";
const BEARER: &str = "nx-bearer-9f1c2e";
const APP_TOKEN: &str = "nx-app-4b7d10";
const USERNAME: &str = "sever-svc";
const PASSWORD: &str = "nx-pass-83e2aa";
/// base64("sever-svc:nx-pass-83e2aa")
const BASIC: &str = "c2V2ZXItc3ZjOm54LXBhc3MtODNlMmFh";
/// A tenant id that needs percent-encoding.
const TENANT: &str = "acme/eu 1";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 3000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_nexus.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["unbind"] } ] }
audit: { path: "audit.jsonl" }
backends:
  idp-bearer:
    plugin: nexus
    url: "@URL@"
    timeout_ms: 1000
    retries: @RETRIES@
    settings: { tenant_id: "acme/eu 1", bearer_token: "${NEXUS_BEARER}", application_token: "${NEXUS_APP}" }
  idp-basic:
    plugin: nexus
    url: "@URL@"
    timeout_ms: 1000
    retries: 0
    settings: { tenant_id: "acme/eu 1", username: "sever-svc", password: "${NEXUS_PASSWORD}" }
"#;

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ONCALL_TOKEN", ONCALL),
        ("NEXUS_BEARER", BEARER),
        ("NEXUS_APP", APP_TOKEN),
        ("NEXUS_PASSWORD", PASSWORD),
    ]
}

/// A simulator for [`TENANT`] accepting both configured logins, with these
/// `(connection, client)` pairs enabled.
fn sim(enabled: &[(&str, &str)]) -> NexusSim {
    let mut config = NexusSimConfig::new(TENANT)
        .with_bearer(BEARER, APP_TOKEN)
        .with_basic(USERNAME, PASSWORD);
    for (connection, client) in enabled {
        config = config.with_client_on(connection, client);
    }
    NexusSim::start(config)
}

fn start_with(sim: &NexusSim, retries: u32, env: &[(&str, &str)]) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", &retries.to_string());
    Sever::start(&config, env)
}

fn start(sim: &NexusSim) -> Sever {
    start_with(sim, 0, &env())
}

fn unbind_body(backend: &str, client: &str, connection: &str) -> Value {
    json!({
        "action": "unbind",
        "backend": backend,
        "target": { "client_id": client, "connection_id": connection },
        "reason": "stolen laptop INC-7",
    })
}

fn act(sever: &Sever, body: &Value) -> Reply {
    http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body.to_string())
}

fn unbind(sever: &Sever, backend: &str, client: &str, connection: &str) -> Reply {
    act(sever, &unbind_body(backend, client, connection))
}

const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn vendor_path(connection: &str) -> String {
    let tenant = utf8_percent_encode(TENANT, SEGMENT);
    let connection = utf8_percent_encode(connection, SEGMENT);
    format!("/v1/tenants/{tenant}/connections/{connection}/clients")
}

/// Asserts `call` is the documented PATCH for `client` on `connection`; returns nothing
/// about auth, which the callers check per option.
fn assert_unbind_call(call: &RecordedCall, client: &str, connection: &str) {
    assert_eq!(call.method, "PATCH", "{call:#?}");
    assert_eq!(call.raw_path, vendor_path(connection), "{call:#?}");
    assert_eq!(call.segments[2], TENANT, "{call:#?}");
    assert_eq!(call.segments[4], connection, "{call:#?}");
    assert_eq!(call.query, None, "{call:#?}");
    assert_eq!(call.header("content-type"), Some("application/json"));
    assert_eq!(
        call.json_body(),
        Some(json!({ "enabled": false, "clientId": client })),
        "{call:#?}"
    );
}

fn assert_bearer_auth(call: &RecordedCall) {
    let bearer = format!("Bearer {BEARER}");
    assert_eq!(call.header("authorization"), Some(bearer.as_str()));
    assert_eq!(call.header("applicationtoken"), Some(APP_TOKEN));
}

fn one_call(sim: &NexusSim) -> RecordedCall {
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "expected one vendor call: {calls:#?}");
    calls[0].clone()
}

/// Asserts no secret of the config appears in `text`.
fn assert_no_secret(text: &str) {
    for secret in [BEARER, APP_TOKEN, PASSWORD, BASIC, ONCALL] {
        assert!(!text.contains(secret), "secret {secret:?} leaked: {text}");
    }
}

#[test]
fn unbind_with_bearer_and_application_token_disables_the_client_on_that_connection() {
    let sim = sim(&[
        ("azure-ad", "web-app"),
        ("azure-ad", "mobile"),
        ("google", "web-app"),
    ]);
    let sever = start(&sim);

    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["action"], "unbind", "{body:#}");
    assert_eq!(body["vendor"]["status"], 204, "{body:#}");
    let call = one_call(&sim);
    assert_unbind_call(&call, "web-app", "azure-ad");
    assert_bearer_auth(&call);
    assert!(!sim.is_enabled("azure-ad", "web-app"));
    assert!(sim.is_enabled("azure-ad", "mobile"));
    assert!(sim.is_enabled("google", "web-app"));
    assert_no_secret(&reply.text);
}

#[test]
fn unbind_with_http_basic_sends_the_credentials_and_no_application_token() {
    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);

    let reply = unbind(&sever, "idp-basic", "web-app", "azure-ad");

    assert_eq!(reply.expect_success()["outcome"], "done");
    let call = one_call(&sim);
    assert_unbind_call(&call, "web-app", "azure-ad");
    let basic = format!("Basic {BASIC}");
    assert_eq!(call.header("authorization"), Some(basic.as_str()));
    assert_eq!(call.header("applicationtoken"), None);
    assert!(!sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn unbinding_twice_is_done_twice() {
    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);
    for _ in 0..2 {
        let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");
        assert_eq!(reply.expect_success()["outcome"], "done");
    }
    assert_eq!(sim.calls().len(), 2);
}

#[test]
fn an_unknown_client_is_target_not_found_with_the_vendors_problem() {
    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);

    let reply = unbind(&sever, "idp-bearer", "ghost", "azure-ad");

    let problem = reply.expect_problem(404, "target_not_found");
    let vendor = &problem["vendor"];
    assert_eq!(vendor["status"], 404, "{problem:#}");
    assert_eq!(vendor["title"], "Not Found", "{problem:#}");
    assert_eq!(vendor["detail"], "Client 'ghost' not found.", "{problem:#}");
    assert_eq!(vendor["message"], "Not Found: Client 'ghost' not found.");
    assert_eq!(vendor["instance"], vendor_path("azure-ad"), "{problem:#}");
    assert!(vendor["type"].is_string(), "{problem:#}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("Client 'ghost' not found."), "{detail}");
    assert_unbind_call(&one_call(&sim), "ghost", "azure-ad");
}

#[test]
fn a_wrong_tenant_in_the_config_reads_differently_from_an_unknown_connection() {
    let elsewhere = NexusSim::start(
        NexusSimConfig::new("other-tenant")
            .with_bearer(BEARER, APP_TOKEN)
            .with_client_on("azure-ad", "web-app"),
    );
    let sever = start(&elsewhere);
    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");
    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["detail"], "Tenant 'acme/eu 1' not found.");

    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);
    let reply = unbind(&sever, "idp-bearer", "web-app", "okta");
    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["detail"], "Connection 'okta' not found.");
}

#[test]
fn wrong_credentials_and_a_missing_permission_are_upstream_unauthorized() {
    let sim = NexusSim::start(
        NexusSimConfig::new(TENANT)
            .with_bearer_permissions(BEARER, APP_TOKEN, &["client.read"])
            .with_client_on("azure-ad", "web-app"),
    );
    let sever = start(&sim);

    // The Basic login is not known to this simulator: 401 with no body.
    let reply = unbind(&sever, "idp-basic", "web-app", "azure-ad");
    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 401, "{problem:#}");
    // The bearer login lacks client.write: a 403 problem.
    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");
    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 403, "{problem:#}");
    assert_eq!(
        problem["vendor"]["detail"],
        "Requires the client.write or client.write.all permission."
    );
    assert!(problem["detail"].as_str().unwrap().contains("client.write"));
    assert!(sim.is_enabled("azure-ad", "web-app"));
    assert_no_secret(&reply.text);
}

#[test]
fn a_vendor_400_is_upstream_rejected_with_the_problem_kept() {
    let sim = sim(&[("azure-ad", "web-app")]);
    sim.set_fault(Canned::new(
        400,
        "Bad Request",
        "Client 'web-app' is the connection's last enabled client.",
    ));
    let sever = start(&sim);

    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");

    let problem = reply.expect_problem(502, "upstream_rejected");
    let vendor = &problem["vendor"];
    assert_eq!(vendor["status"], 400, "{problem:#}");
    assert_eq!(
        vendor["message"],
        "Bad Request: Client 'web-app' is the connection's last enabled client."
    );
    assert_eq!(vendor["instance"], vendor_path("azure-ad"), "{problem:#}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("last enabled client"));
}

#[test]
fn a_vendor_429_is_rate_limited_with_its_retry_after() {
    let sim = sim(&[("azure-ad", "web-app")]);
    sim.set_fault(Canned::new(429, "Too Many Requests", "Try again later.").retry_after("17"));
    let sever = start(&sim);

    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");

    reply.expect_problem(429, "rate_limited");
    assert_eq!(reply.header("retry-after"), Some("17"), "{reply:#?}");
}

#[test]
fn a_vendor_500_is_upstream_error_with_the_problem_kept() {
    let sim = sim(&[("azure-ad", "web-app")]);
    sim.set_fault(Fault::InternalError);
    let sever = start(&sim);

    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");

    let problem = reply.expect_problem(502, "upstream_error");
    assert_eq!(problem["vendor"]["status"], 500, "{problem:#}");
    assert_eq!(
        problem["vendor"]["detail"],
        "Simulated internal server error"
    );
    assert_eq!(sim.calls().len(), 1);
    assert!(sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn a_vendor_500_is_retried_as_the_same_call_when_retries_allow() {
    let sim = sim(&[("azure-ad", "web-app")]);
    sim.fail_next(1, Fault::InternalError);
    let sever = start_with(&sim, 1, &env());

    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");

    assert_eq!(reply.expect_success()["outcome"], "done");
    let calls = sim.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for call in &calls {
        assert_unbind_call(call, "web-app", "azure-ad");
        assert_bearer_auth(call);
    }
    assert!(!sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn a_vendor_answering_garbage_is_upstream_error() {
    let sim = sim(&[("azure-ad", "web-app")]);
    sim.set_fault(Fault::Garbage);
    let sever = start(&sim);
    let reply = unbind(&sever, "idp-bearer", "web-app", "azure-ad");
    let problem = reply.expect_problem(502, "upstream_error");
    assert_eq!(problem["vendor"]["status"], 200, "{problem:#}");
}

#[test]
fn identifiers_with_reserved_characters_arrive_byte_exact() {
    let pairs = [
        ("a/b", "conn/1"),
        ("100% sure", "ad #2?x=1&y"),
        ("ünï-cødé", "日本語"),
        ("quote\"back\\slash", "~tilde_-.dot"),
        ("%2F", "a+b@c:d;e,f"),
    ];
    let enabled: Vec<(&str, &str)> = pairs.iter().map(|(cl, co)| (*co, *cl)).collect();
    let sim = sim(&enabled);
    let sever = start(&sim);

    for (client, connection) in pairs {
        sim.clear_calls();
        let reply = unbind(&sever, "idp-bearer", client, connection);
        assert_eq!(reply.expect_success()["outcome"], "done", "{client:?}");
        assert_unbind_call(&one_call(&sim), client, connection);
        assert!(
            !sim.is_enabled(connection, client),
            "{client:?} on {connection:?}"
        );
    }
}

#[test]
fn a_target_without_connection_id_is_refused_and_nothing_is_sent() {
    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);
    let body =
        json!({"action": "unbind", "backend": "idp-bearer", "target": {"client_id": "web-app"}});

    let reply = act(&sever, &body);

    let problem = reply.expect_problem(400, "invalid_request");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("target.connection_id"));
    assert!(sim.calls().is_empty());
}

#[test]
fn dry_run_shows_both_auth_options_redacted_and_sends_nothing() {
    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);

    for backend in ["idp-bearer", "idp-basic"] {
        let mut body = unbind_body(backend, "a/b", "azure ad");
        body["dry_run"] = json!(true);
        let reply = act(&sever, &body);
        let answer = reply.expect_success();
        assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
        let planned = &answer["requests"][0];
        assert_eq!(planned["method"], "PATCH", "{answer:#}");
        assert_eq!(
            planned["url"],
            format!("{}{}", sim.url(), vendor_path("azure ad"))
        );
        assert_eq!(
            planned["headers"]["authorization"], "<redacted>",
            "{answer:#}"
        );
        if backend == "idp-bearer" {
            assert_eq!(planned["headers"]["applicationtoken"], "<redacted>");
        }
        let planned_body: Value = serde_json::from_str(planned["body"].as_str().unwrap()).unwrap();
        assert_eq!(planned_body, json!({"enabled": false, "clientId": "a/b"}));
        assert_no_secret(&reply.text);
    }
    assert!(sim.calls().is_empty());
    assert!(sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn no_secret_reaches_the_logs_the_audit_log_or_the_plugin_listing() {
    let sim = sim(&[("azure-ad", "web-app")]);
    let sever = start(&sim);
    let mut texts = Vec::new();
    for (backend, client) in [("idp-bearer", "web-app"), ("idp-basic", "ghost")] {
        texts.push(unbind(&sever, backend, client, "azure-ad").text);
    }
    sim.set_fault(Fault::InternalError);
    texts.push(unbind(&sever, "idp-basic", "web-app", "azure-ad").text);
    let plugins = http::get(&sever.url("/v1/plugins"), Some(ONCALL));
    let listing = plugins.json().to_string();
    assert!(listing.contains("identity connection"), "{listing}");
    assert!(listing.contains("not a network connection"), "{listing}");
    texts.push(listing);
    texts.push(http::get(&sever.url("/v1/backends"), Some(ONCALL)).text);

    let audit = sever.audit_lines();
    assert_eq!(audit.len(), 3, "{audit:#?}");
    assert_eq!(audit[0]["outcome"], "done");
    assert_eq!(audit[1]["code"], "target_not_found");
    assert_eq!(audit[2]["code"], "upstream_error");
    for text in texts.iter().chain([&sever.audit_text(), &sever.stderr()]) {
        assert_no_secret(text);
    }
}
