//! End to end through the real `sever` and the PrivX adapter plugin, against the strict
//! PrivX simulator: the token flow (cached, single-flighted, refreshed on a 401), the
//! terminate calls, the canonical answers, and that no secret leaks anywhere. (A token's
//! expiry by the host's clock is tested in the engine, on a clock the test moves:
//! `core/engine/tests/engine/backend.rs`, and in the adapter's own tests.)
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_privx.so`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::{run_cli, Sever};
use sever_tests::sim::privx::{Endpoint, TOKEN_PATH};
use sever_tests::sim::{PrivxSim, PrivxSimConfig, RecordedCall};

const ONCALL: &str = "oncall-token-privx-51a7";
const OAUTH_ID: &str = "privx-external";
const OAUTH_SECRET: &str = "oauth-secret-3b9f1c";
const API_ID: &str = "sever-api-7d2e";
/// Has characters that form-encoding changes, so its encoded form must be redacted too.
const API_SECRET: &str = "api-secret-8c4d2a&x y";
const API_SECRET_ENCODED: &str = "api-secret-8c4d2a%26x%20y";
pub(crate) const CONN: &str = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
pub(crate) const CONN_2: &str = "3f2c1b0a-9d8e-4f7a-8b6c-000000000002";
const USER: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const HOST: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const UNKNOWN: &str = "00000000-1111-4222-8333-444444444444";
const FLAGGED: &str = "Connection(s) flagged for termination.";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_privx.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  privx-prod:
    plugin: privx
    url: "@URL@"
    timeout_ms: 2000
    retries: @RETRIES@
    settings:
      oauth_client_id: "privx-external"
      oauth_client_secret: "${PRIVX_OAUTH_SECRET}"
      api_client_id: "sever-api-7d2e"
      api_client_secret: "${PRIVX_API_SECRET}"
"#;

pub(crate) fn sim_config() -> PrivxSimConfig {
    PrivxSimConfig::new(OAUTH_ID, OAUTH_SECRET, API_ID, API_SECRET)
        .with_connection(CONN, USER, HOST)
        .with_connection(CONN_2, USER, HOST)
}

/// `sever` in front of `sim` with `retries: 0` (vendor calls stay exact).
pub(crate) fn start(sim: &PrivxSim) -> Sever {
    start_with(sim, 0, API_SECRET)
}

fn start_with(sim: &PrivxSim, retries: u32, api_secret: &str) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@RETRIES@", &retries.to_string());
    let env = [
        ("ONCALL_TOKEN", ONCALL),
        ("PRIVX_OAUTH_SECRET", OAUTH_SECRET),
        ("PRIVX_API_SECRET", api_secret),
    ];
    Sever::start(&config, &env)
}

fn request(target: Value, dry_run: bool) -> String {
    json!({ "action": "terminate", "backend": "privx-prod", "target": target,
            "reason": "INC-7 compromised admin session", "dry_run": dry_run })
    .to_string()
}

fn act(sever: &Sever, target: Value) -> Reply {
    http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &request(target, false),
    )
}

pub(crate) fn terminate_connection(sever: &Sever, id: &str) -> Reply {
    act(sever, json!({ "connection_id": id }))
}

fn basic() -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{OAUTH_ID}:{OAUTH_SECRET}"))
    )
}

/// Asserts `call` is the documented password grant, exactly.
fn assert_token_call(call: &RecordedCall) {
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", TOKEN_PATH)
    );
    assert_eq!(
        call.header("authorization"),
        Some(basic().as_str()),
        "{call:#?}"
    );
    assert_eq!(
        call.header("content-type"),
        Some("application/x-www-form-urlencoded"),
        "{call:#?}"
    );
    let form = format!("grant_type=password&username={API_ID}&password={API_SECRET_ENCODED}");
    assert_eq!(call.body, form, "{call:#?}");
}

/// Asserts `call` terminates `kind`/`id` with `token` and no body.
fn assert_terminate_call(call: &RecordedCall, kind: &str, id: &str, token: &str) {
    let path = format!("/connection-manager/api/v1/terminate/{kind}/{id}");
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", path.as_str())
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        call.header("authorization"),
        Some(bearer.as_str()),
        "{call:#?}"
    );
    assert_eq!(call.body, "", "{call:#?}");
    assert_eq!(call.query, None, "{call:#?}");
}

pub(crate) fn assert_accepted(reply: &Reply) {
    let body = reply.expect_success();
    assert_eq!(body["outcome"], "accepted", "{body:#}");
    assert_eq!(body["action"], "terminate", "{body:#}");
    assert_eq!(body["backend"], "privx-prod", "{body:#}");
    assert_eq!(body["vendor"]["status"], 200, "{body:#}");
    assert_eq!(body["vendor"]["message"], FLAGGED, "{body:#}");
}

/// `sever_in_flight_requests` now.
fn in_flight(sever: &Sever) -> Option<f64> {
    let text = http::get(&sever.url("/metrics"), None).text;
    text.lines()
        .find_map(|l| l.strip_prefix("sever_in_flight_requests "))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn terminate_by_connection_id_fetches_a_token_then_is_accepted() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);

    let reply = terminate_connection(&sever, CONN);

    assert_accepted(&reply);
    let calls = sim.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_token_call(&calls[0]);
    let token = &sim.issued_tokens()[0];
    assert_terminate_call(&calls[1], "connection", CONN, token);
    assert_eq!(sim.flagged_connections(), [CONN]);
}

#[test]
fn terminate_by_user_id_is_accepted_and_the_token_is_reused() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);

    assert_accepted(&act(&sever, json!({ "user_id": USER })));
    assert_accepted(&act(&sever, json!({ "host_id": HOST })));

    let calls = sim.calls();
    assert_eq!(calls.len(), 3, "one token request for both: {calls:#?}");
    assert_token_call(&calls[0]);
    let token = &sim.issued_tokens()[0];
    assert_terminate_call(&calls[1], "user", USER, token);
    assert_terminate_call(&calls[2], "host", HOST, token);
    assert_eq!(sim.flagged_connections(), [CONN_2, CONN]);
}

#[test]
fn fifty_concurrent_requests_on_a_cold_cache_cause_one_token_request() {
    let ids: Vec<String> = (0..50u32)
        .map(|i| format!("{i:08x}-0000-4000-8000-{i:012x}"))
        .collect();
    let config = ids
        .iter()
        .fold(sim_config(), |c, id| c.with_connection(id, USER, HOST));
    let sim = PrivxSim::start(config);
    let sever = start(&sim);
    // The token answer is held until every request is inside Sever: each finds the token
    // request under way.
    let gate = sim.hold_answers();

    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let sever = &sever;
                scope.spawn(move || terminate_connection(sever, id))
            })
            .collect();
        let all_in = eventually(Duration::from_secs(20), || {
            gate.held() == 1 && in_flight(&sever) == Some(ids.len() as f64)
        });
        assert!(
            all_in,
            "held {}, in flight {:?}",
            gate.held(),
            in_flight(&sever)
        );
        gate.release();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for reply in &replies {
        assert_accepted(reply);
    }
    let tokens = sim.token_calls();
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
    let issued = sim.issued_tokens();
    let terminates = sim.terminate_calls();
    assert_eq!(terminates.len(), 50);
    let bearer = format!("Bearer {}", issued[0]);
    assert!(terminates
        .iter()
        .all(|c| c.header("authorization") == Some(bearer.as_str())));
    assert_eq!(sim.flagged_connections().len(), 50);
}

#[test]
fn a_revoked_token_causes_exactly_one_refresh_and_one_retry() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);
    assert_accepted(&terminate_connection(&sever, CONN));
    sim.revoke_all_tokens();
    sim.clear_calls();

    assert_accepted(&terminate_connection(&sever, CONN_2));

    let calls = sim.calls();
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let issued = sim.issued_tokens();
    assert_terminate_call(&calls[0], "connection", CONN_2, &issued[0]);
    assert_eq!(calls[0].status, Some(401));
    assert_token_call(&calls[1]);
    assert_terminate_call(&calls[2], "connection", CONN_2, &issued[1]);
    assert_eq!(calls[2].status, Some(200));
}

#[test]
fn a_token_refused_again_after_the_refresh_is_upstream_unauthorized() {
    // Tokens that expire at once: every terminate call is refused.
    let sim = PrivxSim::start(sim_config().with_token_expiry(0));
    let sever = start(&sim);

    let reply = terminate_connection(&sever, CONN);

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 401, "{problem:#}");
    assert_eq!(problem["vendor"]["code"], "GENERAL_ERROR", "{problem:#}");
    let statuses: Vec<_> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(200), Some(401), Some(200), Some(401)]);
    assert!(sim.flagged_connections().is_empty());
}

#[test]
fn a_wrong_api_client_secret_is_upstream_unauthorized_with_the_vendors_error() {
    let sim = PrivxSim::start(sim_config());
    let sever = start_with(&sim, 0, "not-the-secret");

    let reply = terminate_connection(&sever, CONN);

    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["backend"], "privx-prod", "{problem:#}");
    assert_eq!(problem["vendor"]["status"], 400, "{problem:#}");
    assert_eq!(problem["vendor"]["code"], "invalid_grant", "{problem:#}");
    let message = "invalid API client credentials";
    assert_eq!(problem["vendor"]["message"], message, "{problem:#}");
    assert!(
        problem["detail"].as_str().unwrap().contains(message),
        "{problem:#}"
    );
    let calls = sim.calls();
    assert_eq!(calls.len(), 1, "no terminate without a token: {calls:#?}");
    assert!(!reply.text.contains("not-the-secret"), "{}", reply.text);
}

#[test]
fn an_api_client_without_the_terminate_scope_is_upstream_unauthorized() {
    let sim = PrivxSim::start(sim_config());
    sim.set_forbidden(true);
    let sever = start(&sim);

    let problem = terminate_connection(&sever, CONN);

    let problem = problem.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 403, "{problem:#}");
    assert_eq!(
        problem["vendor"]["code"], "PERMISSION_DENIED",
        "{problem:#}"
    );
    assert_eq!(sim.terminate_calls().len(), 1, "a 403 is not refreshed");
}

#[test]
fn an_unknown_connection_is_target_not_found_with_the_vendors_message() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);

    let reply = terminate_connection(&sever, UNKNOWN);

    let problem = reply.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["status"], 404, "{problem:#}");
    assert_eq!(problem["vendor"]["code"], "GENERAL_ERROR", "{problem:#}");
    assert_eq!(
        problem["vendor"]["message"], "Connection not found",
        "{problem:#}"
    );
    assert_eq!(
        problem["vendor"]["property"], "connection_id",
        "{problem:#}"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(UNKNOWN) && detail.contains("Connection not found"),
        "{detail}"
    );
}

#[test]
fn an_overloaded_privx_is_retried_through_the_adapter() {
    let sim = PrivxSim::start(sim_config());
    sim.overload_next(Endpoint::Terminate, 1);
    let sever = start_with(&sim, 1, API_SECRET);

    assert_accepted(&terminate_connection(&sever, CONN));

    let statuses: Vec<_> = sim.terminate_calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(503), Some(200)]);
    assert_eq!(
        sim.token_calls().len(),
        1,
        "the retry reuses the cached token"
    );
}

#[test]
fn an_id_that_is_not_a_uuid_is_refused_and_nothing_is_sent() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);

    for (field, id) in [
        ("connection_id", "42"),
        ("connection_id", "../../auth/api/v1/oauth/token"),
        ("user_id", "alice"),
        ("host_id", "3f2c1b0a9d8e4f7a8b6c5d4e3f2a1b0c"),
    ] {
        let reply = act(&sever, json!({ field: id }));
        let problem = reply.expect_problem(400, "invalid_request");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{field}: {problem:#}");
    }
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
}

#[test]
fn connection_id_and_user_id_together_are_refused_and_nothing_is_sent() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);

    let reply = act(&sever, json!({ "connection_id": CONN, "user_id": USER }));

    reply.expect_problem(400, "invalid_request");
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
    assert!(sim.flagged_connections().is_empty());
}

#[test]
fn dry_run_shows_the_token_request_redacted_and_why_planning_stops() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);
    let body = request(json!({ "connection_id": CONN }), true);

    let reply = http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body);

    let answer = reply.expect_success();
    assert_eq!(answer["outcome"], "dry_run", "{answer:#}");
    let requests = answer["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{answer:#}");
    let planned = &requests[0];
    assert_eq!(planned["method"], "POST");
    assert_eq!(planned["url"], format!("{}{TOKEN_PATH}", sim.url()));
    assert_eq!(
        planned["headers"]["authorization"], "<redacted>",
        "{answer:#}"
    );
    assert_eq!(
        planned["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    let form = format!("grant_type=password&username={API_ID}&password=<redacted>");
    assert_eq!(planned["body"], form, "{answer:#}");
    let stops = answer["planning_stops"].as_str().unwrap_or_default();
    assert!(stops.contains("token"), "{answer:#}");
    for secret in secrets() {
        assert!(!reply.text.contains(&secret), "{secret} in {}", reply.text);
    }
    assert!(sim.calls().is_empty(), "{:#?}", sim.calls());
}

#[test]
fn no_secret_or_token_reaches_the_log_the_audit_or_an_answer() {
    let sim = PrivxSim::start(sim_config());
    let sever = start(&sim);
    let mut answers = vec![terminate_connection(&sever, CONN)];
    sim.revoke_all_tokens();
    answers.push(terminate_connection(&sever, CONN_2));
    answers.push(terminate_connection(&sever, UNKNOWN));
    let dry = request(json!({ "user_id": USER }), true);
    answers.push(http::post_json(
        &sever.url("/v1/actions"),
        Some(ONCALL),
        &dry,
    ));
    sim.set_forbidden(true);
    answers.push(terminate_connection(&sever, CONN));
    assert_eq!(sim.issued_tokens().len(), 2);

    let mut secrets = secrets();
    secrets.extend(sim.issued_tokens());
    let audit = sever.audit_text();
    assert_eq!(
        sever.audit_lines().len(),
        5,
        "one outcome line each: {audit}"
    );
    assert_eq!(
        sever.audit_intents().len(),
        4,
        "the dry-run sends nothing: {audit}"
    );
    let stderr = sever.stderr();
    for secret in &secrets {
        assert!(
            !stderr.contains(secret.as_str()),
            "{secret} in stderr:\n{stderr}"
        );
        assert!(
            !audit.contains(secret.as_str()),
            "{secret} in the audit log:\n{audit}"
        );
        for answer in &answers {
            assert!(
                !answer.text.contains(secret.as_str()),
                "{secret} in {answer:#?}"
            );
        }
    }
}

#[test]
fn plugins_command_lists_privx_with_its_targets_and_settings() {
    let library = sever_tests::harness::plugin_path("libsever_privx.so");

    let (code, stdout, stderr) = run_cli(&["plugins", library.to_str().unwrap()], &[]);

    assert_eq!(code, 0, "{stdout}{stderr}");
    for word in [
        "privx",
        "terminate",
        "connection_id",
        "user_id",
        "host_id",
        "oauth_client_id",
        "oauth_client_secret",
        "api_client_id",
        "api_client_secret",
    ] {
        assert!(stdout.contains(word), "{word} missing:\n{stdout}");
    }
}

/// Every secret and credential form that must never be shown.
fn secrets() -> Vec<String> {
    vec![
        ONCALL.to_owned(),
        OAUTH_SECRET.to_owned(),
        API_SECRET.to_owned(),
        API_SECRET_ENCODED.to_owned(),
        basic().trim_start_matches("Basic ").to_owned(),
    ]
}
