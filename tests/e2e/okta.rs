//! End to end through the real `sever` and the Okta adapter plugin, against the strict Okta
//! simulator: both auth options (SSWS, and OAuth with a `private_key_jwt` assertion the
//! simulator verifies with its own RSA code), every row of the contract table, the token
//! flow (expiry, a 401 refresh), dry runs, and that no secret leaks.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_okta.so`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::json;
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::{run_cli, workspace_dir, Sever};
use sever_tests::sim::okta::{Endpoint, Revocation};
use sever_tests::sim::{Fault, OktaSim, OktaSimConfig};

const ONCALL: &str = "oncall-token-okta-4e0d";
const API_TOKEN: &str = "00aBcD-ssws-t0ken-e2e";
const USER: &str = "00u1abcd2EFGH3ij4x7";
const CLIENT: &str = "0oa-sever";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_okta.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  okta-prod:
    plugin: okta
    url: "@URL@"
    timeout_ms: 2000
    retries: 0
    settings:
      @AUTH@
"#;

const SSWS: &str = r#"api_token: "${OKTA_API_TOKEN}"
      forget_devices: false"#;
const OAUTH: &str = r#"client_id: "0oa-sever"
      key_id: kid-1
      private_key: "${OKTA_PRIVATE_KEY}""#;

fn key(name: &str) -> String {
    std::fs::read_to_string(workspace_dir().join("tests/fixtures/keys").join(name)).unwrap()
}

fn sim_config() -> OktaSimConfig {
    let modulus = key("okta-test-rsa-2048.modulus.hex");
    OktaSimConfig::new()
        .with_api_token(API_TOKEN)
        .with_service_app(CLIENT, &modulus, Some("kid-1"))
        .with_user(USER, 3)
}

/// `sever` with the SSWS option (`oauth: false`) or the OAuth option signing with `pem`.
fn start(sim: &OktaSim, oauth: bool, pem: &str) -> Sever {
    let auth = if oauth { OAUTH } else { SSWS };
    let config = CONFIG.replace("@URL@", &sim.url()).replace("@AUTH@", auth);
    let env = [
        ("ONCALL_TOKEN", ONCALL),
        ("OKTA_API_TOKEN", API_TOKEN),
        ("OKTA_PRIVATE_KEY", pem),
    ];
    Sever::start(&config, &env)
}

fn ssws(sim: &OktaSim) -> Sever {
    start(sim, false, "")
}

fn oauth(sim: &OktaSim) -> Sever {
    start(sim, true, &key("okta-test-rsa-2048.pem"))
}

fn body(user_id: &str, dry_run: bool) -> String {
    json!({ "action": "terminate", "backend": "okta-prod", "target": { "user_id": user_id },
            "reason": "INC-77 phished admin", "dry_run": dry_run })
    .to_string()
}

fn revoke(sever: &Sever, user_id: &str) -> Reply {
    http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &body(user_id, false),
    )
}

fn assert_done(reply: &Reply) {
    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "done", "{answer:#}");
    assert_eq!(answer["vendor"]["status"], 204, "{answer:#}");
    assert!(
        answer["vendor"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("XkQ"),
        "{answer:#}"
    );
    assert!(
        answer["vendor"]["note"]
            .as_str()
            .unwrap()
            .contains("web or native apps"),
        "{answer:#}"
    );
}

#[test]
fn an_api_token_revokes_the_sessions_and_oauth_tokens_and_a_repeat_is_done_again() {
    let sim = OktaSim::start(sim_config());
    let sever = ssws(&sim);

    assert_done(&revoke(&sever, USER));
    assert_done(&revoke(&sever, USER));

    let calls = sim.api_calls();
    let path = format!("/api/v1/users/{USER}/sessions");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].raw_path.as_str()),
        ("DELETE", path.as_str())
    );
    assert_eq!(
        calls[0].query.as_deref(),
        Some("oauthTokens=true&forgetDevices=false")
    );
    assert_eq!(
        calls[0].header("authorization"),
        Some(format!("SSWS {API_TOKEN}").as_str())
    );
    assert_eq!(calls[0].header("accept"), Some("application/json"));
    let revocation = |sessions| Revocation {
        user_id: USER.into(),
        oauth_tokens: true,
        forget_devices: Some(false),
        sessions,
    };
    assert_eq!(sim.revocations(), [revocation(3), revocation(0)]);
}

#[test]
fn a_service_app_signs_an_assertion_the_simulator_verifies_then_revokes_with_the_token() {
    let sim = OktaSim::start(sim_config());
    let sever = oauth(&sim);

    assert_done(&revoke(&sever, USER));
    assert_done(&revoke(&sever, USER));

    let tokens = sim.token_calls();
    assert_eq!(tokens.len(), 1, "cached: {tokens:#?}");
    assert_eq!(tokens[0].status, Some(200), "{tokens:#?}");
    assert!(
        tokens[0].body.contains("&client_assertion=ey"),
        "{tokens:#?}"
    );
    let bearer = format!("Bearer {}", sim.issued_tokens()[0]);
    assert!(sim
        .api_calls()
        .iter()
        .all(|c| c.header("authorization") == Some(bearer.as_str())));
}

#[test]
fn an_assertion_signed_with_another_key_is_upstream_unauthorized() {
    let sim = OktaSim::start(sim_config());
    let sever = start(&sim, true, &key("other-rsa-2048.pem"));

    let problem = revoke(&sever, USER);
    let problem = problem.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["code"], "invalid_client", "{problem:#}");
    assert_eq!(
        problem["vendor"]["message"], "The client_assertion signature is invalid.",
        "{problem:#}"
    );
    assert!(sim.api_calls().is_empty());
}

#[test]
fn an_unknown_user_is_target_not_found_with_oktas_error() {
    let sim = OktaSim::start(sim_config());
    let sever = ssws(&sim);

    let problem = revoke(&sever, "00unobody");
    let problem = problem.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["code"], "E0000007", "{problem:#}");
    assert_eq!(
        problem["vendor"]["message"],
        "Not found: Resource not found: 00unobody (User)"
    );
    assert!(
        problem["vendor"]["error_id"].is_string() && problem["vendor"]["request_id"].is_string()
    );
}

#[test]
fn a_refused_or_powerless_api_token_is_upstream_unauthorized_without_a_retry() {
    let sim = OktaSim::start(sim_config().with_api_token("another"));
    let sever = start(&sim, false, "");
    sim.set_forbidden(true);
    let problem = revoke(&sever, USER);
    assert_eq!(
        problem.expect_problem(502, "upstream_unauthorized")["vendor"]["code"],
        "E0000006"
    );

    let sim = OktaSim::start(OktaSimConfig::new().with_user(USER, 1));
    let sever = ssws(&sim); // the simulator knows no API token at all
    let problem = revoke(&sever, USER);
    assert_eq!(
        problem.expect_problem(502, "upstream_unauthorized")["vendor"]["code"],
        "E0000011"
    );
    assert_eq!(sim.calls().len(), 1, "an API token is not refreshed");
}

#[test]
fn a_rate_limit_is_429_with_a_retry_after_from_the_reset_header() {
    let sim = OktaSim::start(sim_config());
    sim.throttle_next(1, 40);
    let sever = ssws(&sim);

    let reply = revoke(&sever, USER);

    let problem = reply.expect_problem(429, "rate_limited");
    assert_eq!(problem["vendor"]["code"], "E0000047", "{problem:#}");
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (39..=41).contains(&wait),
        "X-Rate-Limit-Reset − Date: {wait}"
    );
    assert!(sim.revocations().is_empty());
}

#[test]
fn an_answer_that_is_not_oktas_is_upstream_error() {
    let sim = OktaSim::start(sim_config());
    sim.set_fault(Endpoint::Api, Fault::Garbage);
    let sever = ssws(&sim);

    revoke(&sever, USER).expect_problem(502, "upstream_error");
}

#[test]
fn an_expiring_token_is_replaced_before_okta_refuses_it() {
    let sim = OktaSim::start(sim_config().with_token_lifetime(2));
    let sever = oauth(&sim);

    // Cut again and again until the adapter fetches its second token.
    let renewed = eventually(Duration::from_secs(10), || {
        assert_done(&revoke(&sever, USER));
        sim.token_calls().len() >= 2
    });
    assert!(renewed, "no new token within 10 s: {:#?}", sim.calls());
    assert!(sim.api_calls().iter().all(|c| c.status == Some(204)));
    assert!(
        sim.token_calls().iter().all(|c| c.status == Some(200)),
        "each assertion fresh (jti)"
    );
}

#[test]
fn a_token_okta_expired_early_causes_one_refresh_with_a_fresh_assertion_and_one_retry() {
    let sim = OktaSim::start(sim_config());
    let sever = oauth(&sim);
    assert_done(&revoke(&sever, USER));
    sim.expire_tokens();
    sim.clear_calls();

    assert_done(&revoke(&sever, USER));

    let statuses: Vec<_> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [Some(401), Some(200), Some(204)],
        "{:#?}",
        sim.calls()
    );
}

#[test]
fn dry_runs_show_the_call_or_the_token_request_with_every_secret_redacted() {
    let sim = OktaSim::start(sim_config());
    let sever = ssws(&sim);
    let reply = http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body(USER, true));
    let planned = &reply.expect_success()["requests"][0];
    assert_eq!(planned["method"], "DELETE");
    assert_eq!(
        planned["headers"]["authorization"], "<redacted>",
        "{planned:#}"
    );
    assert!(!reply.text.contains(API_TOKEN));

    let sever = oauth(&sim);
    let reply = http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body(USER, true));
    let answer = reply.expect_success();
    let planned = &answer["requests"][0];
    assert_eq!(planned["url"], format!("{}/oauth2/v1/token", sim.url()));
    assert!(
        planned["body"]
            .as_str()
            .unwrap()
            .ends_with("&client_assertion=<redacted>"),
        "{answer:#}"
    );
    assert!(
        !reply.text.contains("eyJ"),
        "the signed assertion is a credential: {}",
        reply.text
    );
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
}

#[test]
fn no_secret_or_token_reaches_the_log_the_audit_or_an_answer() {
    let sim = OktaSim::start(sim_config());
    let sever = oauth(&sim);
    let answers = [revoke(&sever, USER), revoke(&sever, "00unobody")];
    let pem = key("okta-test-rsa-2048.pem");
    let key_line = pem.lines().nth(1).unwrap().to_owned();
    let mut secrets = vec![ONCALL.to_owned(), key_line];
    secrets.extend(sim.issued_tokens());
    secrets.extend(
        sim.token_calls()
            .iter()
            .filter_map(|c| c.body.split("client_assertion=").nth(1).map(str::to_owned)),
    );
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
fn plugins_command_lists_okta_with_its_target_and_settings() {
    let library = sever_tests::harness::plugin_path("libsever_okta.so");
    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    for word in [
        "okta",
        "terminate",
        "user_id",
        "api_token (secret)",
        "private_key (secret)",
        "key_id",
        "revoke_oauth_tokens",
        "forget_devices",
    ] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}
