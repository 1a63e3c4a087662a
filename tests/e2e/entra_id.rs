//! End to end through the real `sever` and the Entra ID adapter plugin, against the strict
//! token endpoint and Graph simulator: every row of the contract table (`accepted`,
//! not-found, refused credentials, throttling, an unreadable answer), the token flow
//! (expiry, a 401 refresh), a dry run, and that no secret leaks.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_entra_id.so`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::{run_cli, Sever};
use sever_tests::sim::entra::Endpoint;
use sever_tests::sim::{Canned, EntraSim, EntraSimConfig, Fault, RecordedCall};

const ONCALL: &str = "oncall-token-entra-81be";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT: &str = "4a1aa1d5-c567-49d0-ad0b-cd957a47f842";
const SECRET: &str = "Wq8~entra.secret+/=";
const SECRET_ENCODED: &str = "Wq8~entra.secret%2B%2F%3D";
const OBJECT_ID: &str = "8e2b9c1d-0000-4000-8000-00000000a1b2";
const GUEST: &str = "ann_example.com#EXT#@contoso.onmicrosoft.com";
const GUEST_PATH: &str = "ann_example.com%23EXT%23%40contoso.onmicrosoft.com";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_entra_id.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  entra-prod:
    plugin: entra-id
    url: "@URL@"
    timeout_ms: 2000
    retries: 0
    settings:
      tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47"
      client_id: "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"
      client_secret: "${ENTRA_SECRET}"
      login_url: "@URL@"
"#;

fn sim_config() -> EntraSimConfig {
    EntraSimConfig::new(TENANT, CLIENT, SECRET)
        .with_user(OBJECT_ID, "alice@contoso.com")
        .with_user("9f3c0000-0000-4000-8000-00000000c3d4", GUEST)
}

fn start(sim: &EntraSim) -> Sever {
    start_with(sim, SECRET)
}

fn start_with(sim: &EntraSim, secret: &str) -> Sever {
    let config = CONFIG.replace("@URL@", &sim.url());
    Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("ENTRA_SECRET", secret)],
    )
}

fn body(user_id: &str, dry_run: bool) -> String {
    json!({ "action": "terminate", "backend": "entra-prod", "target": { "user_id": user_id },
            "reason": "INC-31 token theft", "dry_run": dry_run })
    .to_string()
}

fn revoke(sever: &Sever, user_id: &str) -> Reply {
    http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(user_id, false),
    )
}

fn assert_token_call(sim: &EntraSim, call: &RecordedCall) {
    let path = format!("/{TENANT}/oauth2/v2.0/token");
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", path.as_str())
    );
    let scope = format!("http%3A%2F%2F{}%2F.default", sim.addr()).replace(':', "%3A");
    let form = format!("grant_type=client_credentials&client_id={CLIENT}&client_secret={SECRET_ENCODED}&scope={scope}");
    assert_eq!(call.body, form, "{call:#?}");
}

fn assert_revoke_call(call: &RecordedCall, path_id: &str, token: &str) {
    let path = format!("/v1.0/users/{path_id}/revokeSignInSessions");
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", path.as_str())
    );
    assert_eq!(
        call.header("authorization"),
        Some(format!("Bearer {token}").as_str())
    );
    assert_eq!(call.header("content-length"), Some("0"), "{call:#?}");
    assert_eq!(call.body, "");
}

fn assert_accepted(reply: &Reply) -> Value {
    let answer = reply.expect_success().clone();
    assert_eq!(answer["outcome"], "accepted", "{answer:#}");
    assert_eq!(answer["vendor"]["status"], 200, "{answer:#}");
    assert!(answer["vendor"]["request_id"].is_string(), "{answer:#}");
    answer
}

#[test]
fn a_revocation_takes_a_graph_token_then_is_accepted_and_a_repeat_is_accepted_again() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);

    assert_accepted(&revoke(&sever, OBJECT_ID));
    assert_accepted(&revoke(&sever, OBJECT_ID));

    let calls = sim.calls();
    assert_eq!(calls.len(), 3, "one token for both: {calls:#?}");
    assert_token_call(&sim, &calls[0]);
    let token = &sim.issued_tokens()[0];
    assert_revoke_call(&calls[1], OBJECT_ID, token);
    assert_revoke_call(&calls[2], OBJECT_ID, token);
    assert_eq!(sim.revoked(), [OBJECT_ID, OBJECT_ID]);
}

#[test]
fn a_guests_upn_arrives_with_its_hash_percent_encoded() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);

    assert_accepted(&revoke(&sever, GUEST));

    assert_revoke_call(&sim.graph_calls()[0], GUEST_PATH, &sim.issued_tokens()[0]);
}

#[test]
fn an_unknown_user_is_target_not_found_with_graphs_code_and_request_id() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);

    let reply = revoke(&sever, "nobody@contoso.com");

    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(
        problem["vendor"]["code"], "Request_ResourceNotFound",
        "{problem:#}"
    );
    assert!(problem["vendor"]["request_id"].is_string(), "{problem:#}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{problem:#}"
    );
}

#[test]
fn a_wrong_client_secret_and_a_missing_permission_are_upstream_unauthorized() {
    let sim = EntraSim::start(sim_config());
    let sever = start_with(&sim, "not-the-secret");
    let problem = revoke(&sever, OBJECT_ID);
    let problem = problem.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["code"], "invalid_client", "{problem:#}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("AADSTS7000215"),
        "{problem:#}"
    );
    assert!(problem["vendor"]["trace_id"].is_string(), "{problem:#}");
    assert!(sim.graph_calls().is_empty());

    let sim = EntraSim::start(sim_config());
    sim.set_permission(false);
    let sever = start(&sim);
    let problem = revoke(&sever, OBJECT_ID);
    let problem = problem.expect_problem(502, "upstream_unauthorized");
    assert_eq!(
        problem["vendor"]["code"], "Authorization_RequestDenied",
        "{problem:#}"
    );
    assert!(sim.revoked().is_empty());
}

#[test]
fn throttling_is_rate_limited_with_graphs_retry_after_and_a_503_keeps_it_too() {
    let sim = EntraSim::start(sim_config());
    sim.fail_next(
        Endpoint::Graph,
        1,
        Canned::new(429, "TooManyRequests", "Too many requests").retry_after("11"),
    );
    let sever = start(&sim);

    let reply = revoke(&sever, OBJECT_ID);
    let problem = reply.expect_problem(429, "rate_limited");
    assert_eq!(problem["vendor"]["code"], "TooManyRequests", "{problem:#}");
    assert_eq!(reply.header("retry-after"), Some("11"));

    sim.set_fault(Endpoint::Graph, Fault::InternalError);
    let reply = revoke(&sever, OBJECT_ID);
    reply.expect_problem(502, "upstream_error");
    assert_eq!(reply.header("retry-after"), Some("3"), "{reply:#?}");
}

#[test]
fn an_answer_that_is_not_graphs_is_upstream_error() {
    let sim = EntraSim::start(sim_config());
    sim.set_fault(Endpoint::Graph, Fault::Garbage);
    let sever = start(&sim);

    revoke(&sever, OBJECT_ID).expect_problem(502, "upstream_error");
}

#[test]
fn a_upn_starting_with_a_dollar_is_refused_and_nothing_is_sent() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);

    revoke(&sever, "$admin@contoso.com").expect_problem(400, "invalid_request");
    assert!(sim.calls().is_empty());
}

#[test]
fn an_expiring_token_is_replaced_before_graph_refuses_it() {
    let sim = EntraSim::start(sim_config().with_token_lifetime(2));
    let sever = start(&sim);

    // Cut again and again until the adapter fetches its second token.
    let renewed = eventually(Duration::from_secs(10), || {
        assert_accepted(&revoke(&sever, OBJECT_ID));
        sim.token_calls().len() >= 2
    });
    assert!(renewed, "no new token within 10 s: {:#?}", sim.calls());
    assert!(sim.graph_calls().iter().all(|c| c.status == Some(200)));
}

#[test]
fn a_token_graph_expired_early_causes_one_refresh_and_one_retry() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);
    assert_accepted(&revoke(&sever, OBJECT_ID));
    sim.expire_tokens();
    sim.clear_calls();

    assert_accepted(&revoke(&sever, OBJECT_ID));

    let statuses: Vec<_> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(401), Some(200), Some(200)]);
    let issued = sim.issued_tokens();
    assert_revoke_call(&sim.calls()[2], OBJECT_ID, &issued[1]);
}

#[test]
fn dry_run_shows_the_token_request_with_the_secret_redacted_and_sends_nothing() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);

    let reply = http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(OBJECT_ID, true),
    );

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
    let planned = &answer["requests"][0];
    assert_eq!(
        planned["url"],
        format!("{}/{TENANT}/oauth2/v2.0/token", sim.url())
    );
    assert!(
        planned["body"]
            .as_str()
            .unwrap()
            .contains("client_secret=<redacted>"),
        "{answer:#}"
    );
    for secret in [SECRET, SECRET_ENCODED, ONCALL] {
        assert!(!reply.text.contains(secret), "{secret} in {}", reply.text);
    }
    assert!(sim.calls().is_empty());
}

#[test]
fn no_secret_or_token_reaches_the_log_the_audit_or_an_answer() {
    let sim = EntraSim::start(sim_config());
    let sever = start(&sim);
    let answers = [revoke(&sever, OBJECT_ID), revoke(&sever, "nobody")];
    let mut secrets = vec![
        SECRET.to_owned(),
        SECRET_ENCODED.to_owned(),
        ONCALL.to_owned(),
    ];
    secrets.extend(sim.issued_tokens());
    let (audit, stderr) = (sever.audit_text(), sever.stderr());
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()) && !audit.contains(secret.as_str()),
            "{secret}"
        );
        assert!(
            answers.iter().all(|a| !a.text.contains(secret.as_str())),
            "{secret}"
        );
    }
}

#[test]
fn plugins_command_lists_entra_id_with_its_target_and_settings() {
    let library = sever_tests::harness::plugin_path("libsever_entra_id.so");
    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for word in [
        "entra-id",
        "terminate",
        "user_id",
        "tenant_id",
        "client_secret (secret)",
        "login_url",
    ] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}
