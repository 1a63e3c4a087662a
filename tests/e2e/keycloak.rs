//! End to end through the real `sever` and the Keycloak adapter plugin, against the strict
//! Keycloak simulator: every row of the contract table, the token flow (cached,
//! single-flighted, replaced before expiry, refreshed on a 401), a dry run, and that no
//! secret leaks.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_keycloak.so`).
#![allow(clippy::unwrap_used)]

use std::sync::Barrier;
use std::time::Duration;

use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::{run_cli, Sever};
use sever_tests::sim::keycloak::Endpoint;
use sever_tests::sim::{Canned, Fault, KeycloakSim, KeycloakSimConfig, RecordedCall};

const ONCALL: &str = "oncall-token-keycloak-2c9e";
/// Has characters form-encoding changes, so its encoded form must be redacted too.
const SECRET: &str = "kc-secret-7f3a&x y";
const SECRET_ENCODED: &str = "kc-secret-7f3a%26x%20y";
const USER: &str = "6f1d2c3b-aaaa-4bbb-8ccc-000000000001";
/// A federated user's id: `:` and `/` must arrive percent-encoded in one segment.
const FEDERATED: &str = "f:ldap-1:jörg/x";
const FEDERATED_PATH: &str = "f%3Aldap-1%3Aj%C3%B6rg%2Fx";
const TOKEN_PATH: &str = "/auth/realms/master/protocol/openid-connect/token";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_keycloak.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  kc-prod:
    plugin: keycloak
    url: "@URL@"
    timeout_ms: 2000
    retries: 0
    settings:
      realm: acme
      client_id: sever
      client_secret: "${KEYCLOAK_SECRET}"
      token_realm: master
      path_prefix: /auth
      @EXTRA@
"#;

fn sim_config() -> KeycloakSimConfig {
    KeycloakSimConfig::new("acme", "sever", SECRET)
        .with_token_realm("master")
        .with_path_prefix("/auth")
        .with_user(USER, "alice")
        .with_user(FEDERATED, "jorg")
        .with_session("sess-1", USER)
        .with_session("sess-2", USER)
}

fn start(sim: &KeycloakSim) -> Sever {
    start_with(sim, "", SECRET)
}

fn start_with(sim: &KeycloakSim, extra: &str, secret: &str) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@EXTRA@", extra);
    Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("KEYCLOAK_SECRET", secret)],
    )
}

fn body(target: Value, dry_run: bool) -> String {
    json!({ "action": "terminate", "backend": "kc-prod", "target": target,
            "reason": "INC-12 stolen laptop", "dry_run": dry_run })
    .to_string()
}

fn act(sever: &Sever, target: Value) -> Reply {
    http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(target, false),
    )
}

fn logout(sever: &Sever, id: &str) -> Reply {
    act(sever, json!({ "user_id": id }))
}

fn assert_token_call(call: &RecordedCall) {
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", TOKEN_PATH)
    );
    assert_eq!(
        call.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form =
        format!("grant_type=client_credentials&client_id=sever&client_secret={SECRET_ENCODED}");
    assert_eq!(call.body, form, "{call:#?}");
}

fn assert_admin_call(call: &RecordedCall, method: &str, tail: &str, token: &str) {
    let path = format!("/auth/admin/realms/acme/{tail}");
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        (method, path.as_str())
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        call.header("authorization"),
        Some(bearer.as_str()),
        "{call:#?}"
    );
    assert_eq!(call.body, "", "{call:#?}");
}

fn assert_done(reply: &Reply) {
    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "done", "{answer:#}");
    assert_eq!(answer["backend"], "kc-prod", "{answer:#}");
    assert_eq!(answer["vendor"]["status"], 204, "{answer:#}");
}

#[test]
fn terminate_by_user_id_takes_a_token_then_logs_every_session_out() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);

    assert_done(&logout(&sever, USER));

    let calls = sim.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_token_call(&calls[0]);
    let token = &sim.issued_tokens()[0];
    assert_admin_call(&calls[1], "POST", &format!("users/{USER}/logout"), token);
    assert!(sim.sessions().is_empty(), "both sessions ended");
    // Idempotent, per the contract: a repeat is 204 again, with the cached token.
    assert_done(&logout(&sever, USER));
    assert_eq!(sim.logouts(), [USER, USER]);
    assert_eq!(sim.token_calls().len(), 1);
}

#[test]
fn a_federated_id_arrives_percent_encoded_in_one_segment() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);

    assert_done(&logout(&sever, FEDERATED));

    let token = &sim.issued_tokens()[0];
    assert_admin_call(
        &sim.calls()[1],
        "POST",
        &format!("users/{FEDERATED_PATH}/logout"),
        token,
    );
    assert_eq!(sim.logouts(), [FEDERATED]);
}

#[test]
fn terminate_by_connection_id_deletes_that_session_and_a_repeat_is_target_not_found() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);

    assert_done(&act(&sever, json!({ "connection_id": "sess-1" })));
    assert_eq!(sim.sessions().keys().collect::<Vec<_>>(), ["sess-2"]);

    let problem = act(&sever, json!({ "connection_id": "sess-1" }));
    let problem = problem.expect_problem(404, "target_not_found");
    assert_eq!(
        problem["vendor"]["message"], "Sesssion not found",
        "{problem:#}"
    );
    let token = &sim.issued_tokens()[0];
    assert_admin_call(&sim.calls()[2], "DELETE", "sessions/sess-1", token);
}

#[test]
fn a_username_is_looked_up_then_logged_out_and_an_unknown_one_is_target_not_found() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start_with(&sim, "user_lookup: username", SECRET);

    assert_done(&logout(&sever, "Alice"));
    let calls = sim.admin_calls();
    assert_eq!(
        calls[0].query.as_deref(),
        Some("username=Alice&exact=true&briefRepresentation=true")
    );
    assert_eq!(
        calls[1].raw_path,
        format!("/auth/admin/realms/acme/users/{USER}/logout")
    );

    logout(&sever, "mallory").expect_problem(404, "target_not_found");
    assert_eq!(sim.logouts(), [USER], "nothing else was logged out");
}

#[test]
fn an_unknown_user_is_target_not_found_and_without_query_users_a_403() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);

    let reply = logout(&sever, "00000000-0000-4000-8000-000000000000");
    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(
        problem["vendor"]["message"], "User not found",
        "{problem:#}"
    );

    sim.set_query_users(false);
    let problem = logout(&sever, "00000000-0000-4000-8000-000000000000");
    let problem = problem.expect_problem(502, "upstream_unauthorized");
    assert!(
        problem["detail"].as_str().unwrap().contains("query-users"),
        "{problem:#}"
    );
}

#[test]
fn a_wrong_client_secret_is_upstream_unauthorized_and_nothing_is_cut() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start_with(&sim, "", "not-the-secret");

    let reply = logout(&sever, USER);

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 401, "{problem:#}");
    assert_eq!(problem["vendor"]["code"], "invalid_client", "{problem:#}");
    assert_eq!(sim.calls().len(), 1, "no admin call without a token");
    assert_eq!(sim.sessions().len(), 2);
}

#[test]
fn a_wrong_realm_is_upstream_rejected_not_target_not_found() {
    let sim = KeycloakSim::start(sim_config().with_token_realm("acme"));
    let sever = start(&sim); // asks the token of realm master, which this Keycloak lacks

    let problem = logout(&sever, USER);
    let problem = problem.expect_problem(502, "upstream_rejected");
    assert_eq!(
        problem["vendor"]["code"], "Realm does not exist",
        "{problem:#}"
    );
}

#[test]
fn a_missing_manage_users_role_is_upstream_unauthorized() {
    let sim = KeycloakSim::start(sim_config());
    sim.set_manage_users(false);
    let sever = start(&sim);

    let problem = logout(&sever, USER);
    let problem = problem.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 403, "{problem:#}");
    assert_eq!(sim.admin_calls().len(), 1, "a 403 is not refreshed");
}

#[test]
fn a_throttled_keycloak_is_rate_limited_with_its_retry_after() {
    let sim = KeycloakSim::start(sim_config());
    sim.fail_next(
        Endpoint::Admin,
        1,
        Canned::new(429, "", "Too Many Requests").retry_after("7"),
    );
    let sever = start(&sim);

    let reply = logout(&sever, USER);

    reply.expect_problem(429, "rate_limited");
    assert_eq!(reply.header("retry-after"), Some("7"), "{reply:#?}");
}

#[test]
fn an_answer_that_is_not_keycloaks_is_upstream_error() {
    let sim = KeycloakSim::start(sim_config());
    sim.set_fault(Endpoint::Admin, Fault::Garbage);
    let sever = start(&sim);

    let problem = logout(&sever, USER);
    let problem = problem.expect_problem(502, "upstream_error");
    assert!(
        problem["vendor"]["message"]
            .as_str()
            .unwrap()
            .contains("<html>"),
        "{problem:#}"
    );
}

#[test]
fn an_expiring_token_is_replaced_before_keycloak_refuses_it() {
    // Tokens live 2 s; the adapter stops using one after 1.5 s (a quarter early).
    let sim = KeycloakSim::start(sim_config().with_token_lifetime(2));
    let sever = start(&sim);

    // Cut again and again until the adapter fetches its second token.
    let renewed = eventually(Duration::from_secs(10), || {
        assert_done(&logout(&sever, USER));
        sim.token_calls().len() >= 2
    });
    assert!(renewed, "no new token within 10 s: {:#?}", sim.calls());

    let admin = sim.admin_calls();
    assert!(
        admin.iter().all(|c| c.status == Some(204)),
        "never refused: {admin:#?}"
    );
    let issued = sim.issued_tokens();
    let last = admin.last().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(format!("Bearer {}", issued[1]).as_str())
    );
}

#[test]
fn a_token_keycloak_expired_early_causes_one_refresh_and_one_retry() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);
    assert_done(&act(&sever, json!({ "connection_id": "sess-1" })));
    sim.expire_tokens();
    sim.clear_calls();

    assert_done(&logout(&sever, USER));

    let calls = sim.calls();
    let statuses: Vec<_> = calls.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(401), Some(200), Some(204)], "{calls:#?}");
    let issued = sim.issued_tokens();
    assert_admin_call(
        &calls[0],
        "POST",
        &format!("users/{USER}/logout"),
        &issued[0],
    );
    assert_token_call(&calls[1]);
    assert_admin_call(
        &calls[2],
        "POST",
        &format!("users/{USER}/logout"),
        &issued[1],
    );
}

#[test]
fn twenty_concurrent_requests_on_a_cold_cache_cause_one_token_request() {
    let sim = KeycloakSim::start(sim_config());
    sim.set_delay(Endpoint::Token, Duration::from_millis(300));
    let sever = start(&sim);

    let barrier = Barrier::new(20);
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..20)
            .map(|_| {
                let (sever, barrier) = (&sever, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    logout(sever, USER)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    replies.iter().for_each(assert_done);
    assert_eq!(sim.token_calls().len(), 1, "{:#?}", sim.token_calls());
    assert_eq!(sim.logouts().len(), 20);
}

#[test]
fn dry_run_shows_the_token_request_with_the_secret_redacted_and_sends_nothing() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);

    let reply = http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(json!({ "user_id": USER }), true),
    );

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
    let planned = &answer["requests"][0];
    assert_eq!(planned["url"], format!("{}{TOKEN_PATH}", sim.url()));
    let form = "grant_type=client_credentials&client_id=sever&client_secret=<redacted>";
    assert_eq!(planned["body"], form, "{answer:#}");
    assert!(
        answer["planning_stops"]
            .as_str()
            .unwrap_or_default()
            .contains("token"),
        "{answer:#}"
    );
    for secret in [SECRET, SECRET_ENCODED, ONCALL] {
        assert!(!reply.text.contains(secret), "{secret} in {}", reply.text);
    }
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
}

#[test]
fn no_secret_or_token_reaches_the_log_the_audit_or_an_answer() {
    let sim = KeycloakSim::start(sim_config());
    let sever = start(&sim);
    let mut answers = vec![logout(&sever, USER)];
    sim.expire_tokens();
    answers.push(act(&sever, json!({ "connection_id": "sess-9" })));
    answers.push(http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(json!({ "user_id": USER }), true),
    ));

    let mut secrets = vec![
        SECRET.to_owned(),
        SECRET_ENCODED.to_owned(),
        ONCALL.to_owned(),
    ];
    secrets.extend(sim.issued_tokens());
    let (audit, stderr) = (sever.audit_text(), sever.stderr());
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()),
            "{secret} in stderr:\n{stderr}"
        );
        assert!(
            !audit.contains(secret.as_str()),
            "{secret} in the audit log:\n{audit}"
        );
        assert!(
            answers.iter().all(|a| !a.text.contains(secret.as_str())),
            "{secret} in an answer"
        );
    }
}

#[test]
fn plugins_command_lists_keycloak_with_its_targets_and_settings() {
    let library = sever_tests::harness::plugin_path("libsever_keycloak.so");
    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for word in [
        "keycloak",
        "terminate",
        "user_id",
        "connection_id",
        "realm",
        "client_secret (secret)",
        "user_lookup",
        "path_prefix",
    ] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}
