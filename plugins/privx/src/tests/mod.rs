//! Every flow of the adapter, driven through the `Adapter` trait with fixed `Env`s: no
//! sockets, no clock.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};

mod answers;

const T0: u64 = 1_700_000_000_000;
const CONNECTION: &str = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
const USER: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const HOST: &str = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const OAUTH_SECRET: &str = "oauth-s3cret";
const API_SECRET: &str = "api p&ss=w0rd+";

fn env(unix_ms: u64) -> Env {
    Env {
        unix_ms,
        random: [7; 32],
    }
}

fn settings() -> serde_json::Map<String, Value> {
    json!({
        "oauth_client_id": "privx-external",
        "oauth_client_secret": OAUTH_SECRET,
        "api_client_id": "sever-api",
        "api_client_secret": API_SECRET,
    })
    .as_object()
    .unwrap()
    .clone()
}

fn privx() -> Privx {
    sever_plugin_sdk::create::<Privx>(&BackendSpec {
        name: "privx-prod".into(),
        url: "https://privx.local:8443/base".into(),
        settings: settings(),
    })
    .unwrap()
}

fn terminate(field: TargetField, id: &str) -> Request {
    let mut target = Target::default();
    *target.slot(field) = Some(id.into());
    Request {
        request_id: "r1".into(),
        action: Action::Terminate,
        target,
        reason: Some("INC-1".into()),
    }
}

fn connection() -> Request {
    terminate(TargetField::ConnectionId, CONNECTION)
}

fn response<'a>(status: u16, headers: &'a [(&'a str, &'a [u8])], body: &'a str) -> Input<'a> {
    Input::Response(VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    })
}

fn token_answer(token: &str, expires_in: u64) -> String {
    json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in,
           "refresh_token": "refresh-xyz", "scope": "connectionsTerminate"})
    .to_string()
}

fn sent(step: Step) -> VendorRequest {
    match step {
        Step::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn failed(step: Step) -> Problem {
    match step {
        Step::Fail(problem) => problem,
        other => panic!("expected a problem, got {other:?}"),
    }
}

fn is_token_step(request: &VendorRequest) -> bool {
    request.url.ends_with("/auth/api/v1/oauth/token")
}

fn bearer(request: &VendorRequest) -> Option<&str> {
    request
        .headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .and_then(|(_, value)| value.strip_prefix("Bearer "))
}

/// Runs a flow through its token step (answered with `token`) and returns the flow and
/// its terminate call.
fn through_token(privx: &Privx, request: &Request, token: &str, at: u64) -> (Flow, VendorRequest) {
    let (mut flow, step) = privx.start(request, &env(at));
    assert!(is_token_step(&sent(step)));
    let body = token_answer(token, 300);
    let step = privx.resume(&mut flow, response(200, &[], &body), &env(at));
    (flow, sent(step))
}

/// A warm flow's answer to its terminate call.
fn answer(status: u16, body: &str) -> Step {
    let privx = privx();
    let (mut flow, _) = through_token(&privx, &connection(), "tok-1", T0);
    privx.resume(&mut flow, response(status, &[], body), &env(T0))
}

#[test]
fn a_cold_cache_starts_with_one_shared_password_grant_token_request() {
    let (_, step) = privx().start(&connection(), &env(T0));
    let r = sent(step);
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://privx.local:8443/base/auth/api/v1/oauth/token"
    );
    // base64("privx-external:oauth-s3cret")
    let basic = "Basic cHJpdngtZXh0ZXJuYWw6b2F1dGgtczNjcmV0";
    assert_eq!(
        r.headers,
        [
            ("authorization".to_owned(), basic.to_owned()),
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned()
            ),
        ]
    );
    assert_eq!(
        r.body,
        "grant_type=password&username=sever-api&password=api%20p%26ss%3Dw0rd%2B"
    );
    assert_eq!(r.share.as_deref(), Some("token"));
    assert_eq!(r.purpose.as_deref(), Some("token"));
    assert!(r.idempotent, "asking for a token twice is harmless");
    for secret in [
        OAUTH_SECRET,
        API_SECRET,
        "api%20p%26ss%3Dw0rd%2B",
        "cHJpdngtZXh0ZXJuYWw6b2F1dGgtczNjcmV0",
    ] {
        assert!(
            r.redact.iter().any(|s| s == secret),
            "{secret} not redacted"
        );
    }
}

#[test]
fn the_token_answer_leads_to_a_bearer_terminate_without_a_body() {
    let privx = privx();
    let (_, call) = through_token(&privx, &connection(), "tok-abc", T0);
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.url,
        format!("https://privx.local:8443/base/connection-manager/api/v1/terminate/connection/{CONNECTION}")
    );
    assert_eq!(
        call.headers,
        [("authorization".to_owned(), "Bearer tok-abc".to_owned())]
    );
    assert_eq!(call.body, "");
    assert!(call.idempotent);
    assert_eq!(call.share, None);
    assert_eq!(call.redact, ["tok-abc"]);
}

#[test]
fn user_and_host_ids_use_their_own_paths() {
    for (field, id, segment) in [
        (TargetField::UserId, USER, "user"),
        (TargetField::HostId, HOST, "host"),
    ] {
        let (_, call) = through_token(&privx(), &terminate(field, id), "t", T0);
        let tail = format!("/connection-manager/api/v1/terminate/{segment}/{id}");
        assert!(call.url.ends_with(&tail), "{}", call.url);
    }
}

#[test]
fn a_warm_cache_goes_straight_to_terminate() {
    let privx = privx();
    through_token(&privx, &connection(), "tok-warm", T0);
    let (_, step) = privx.start(&terminate(TargetField::UserId, USER), &env(T0 + 1_000));
    assert_eq!(bearer(&sent(step)), Some("tok-warm"));
}

#[test]
fn flows_sharing_one_token_answer_all_use_it_and_cache_it_once() {
    let privx = privx();
    let (mut a, first) = privx.start(&connection(), &env(T0));
    let (mut b, second) = privx.start(&terminate(TargetField::UserId, USER), &env(T0));
    assert_eq!(sent(first), sent(second), "the same shared token step");
    let body = token_answer("tok-shared", 300);
    for flow in [&mut a, &mut b] {
        let step = privx.resume(flow, response(200, &[], &body), &env(T0 + 5));
        assert_eq!(bearer(&sent(step)), Some("tok-shared"));
    }
    assert_eq!(privx.tokens.cached(T0 + 10).as_deref(), Some("tok-shared"));
}

#[test]
fn a_token_is_replaced_thirty_seconds_before_it_expires_by_the_hosts_clock() {
    let privx = privx();
    through_token(&privx, &connection(), "tok-1", T0); // expires_in 300 s
    let (_, step) = privx.start(&connection(), &env(T0 + 269_999));
    assert_eq!(bearer(&sent(step)), Some("tok-1"));
    let (_, step) = privx.start(&connection(), &env(T0 + 270_000));
    assert!(is_token_step(&sent(step)));
}

#[test]
fn a_short_lived_token_is_used_for_three_quarters_of_its_life() {
    let privx = privx();
    let (mut flow, _) = privx.start(&connection(), &env(T0));
    let body = token_answer("tok-short", 4);
    sent(privx.resume(&mut flow, response(200, &[], &body), &env(T0)));
    assert!(privx.tokens.cached(T0 + 2_999).is_some());
    assert!(privx.tokens.cached(T0 + 3_000).is_none());
}

#[test]
fn a_401_fetches_one_new_token_and_retries_once_then_is_upstream_unauthorized() {
    let privx = privx();
    let (mut flow, _) = through_token(&privx, &connection(), "tok-old", T0);
    let refused = r#"{"error_code":"GENERAL_ERROR","error_message":"token expired"}"#;

    let refresh = sent(privx.resume(&mut flow, response(401, &[], refused), &env(T0 + 1)));
    assert!(is_token_step(&refresh), "{refresh:?}");
    assert_eq!(refresh.share.as_deref(), Some("token"));
    assert_eq!(
        privx.tokens.cached(T0 + 1),
        None,
        "the refused token is dropped"
    );

    let body = token_answer("tok-new", 300);
    let retry = sent(privx.resume(&mut flow, response(200, &[], &body), &env(T0 + 2)));
    assert_eq!(bearer(&retry), Some("tok-new"));

    let problem = failed(privx.resume(&mut flow, response(401, &[], refused), &env(T0 + 3)));
    assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
    assert!(!problem.retryable);
    let vendor = problem.vendor.unwrap();
    assert_eq!(vendor["status"], 401);
    assert_eq!(vendor["message"], "token expired");
    assert!(
        problem.detail.contains("token expired"),
        "{}",
        problem.detail
    );
    assert_eq!(
        privx.tokens.cached(T0 + 4),
        None,
        "nor is the second one kept"
    );
}

#[test]
fn a_401_then_success_is_accepted() {
    let privx = privx();
    let (mut flow, _) = through_token(&privx, &connection(), "tok-old", T0);
    sent(privx.resume(&mut flow, response(401, &[], ""), &env(T0)));
    let body = token_answer("tok-new", 300);
    sent(privx.resume(&mut flow, response(200, &[], &body), &env(T0)));
    let step = privx.resume(&mut flow, response(200, &[], "ok"), &env(T0));
    assert!(matches!(step, Step::Done(s) if s.outcome == Outcome::Accepted));
}

#[test]
fn a_401_keeps_and_uses_a_token_another_request_cached_meanwhile() {
    let privx = privx();
    let (mut slow, _) = through_token(&privx, &connection(), "tok-old", T0);
    // Another request refreshed already and cached a new token.
    privx.tokens.forget("tok-old");
    through_token(&privx, &connection(), "tok-fresh", T0 + 1);

    let step = privx.resume(&mut slow, response(401, &[], ""), &env(T0 + 2));
    assert_eq!(
        bearer(&sent(step)),
        Some("tok-fresh"),
        "no second token request"
    );
    assert_eq!(privx.tokens.cached(T0 + 2).as_deref(), Some("tok-fresh"));
}

#[test]
fn ids_that_are_not_uuids_are_refused_before_any_call() {
    let privx = privx();
    let bad = [
        "1234",
        "not-a-uuid",
        "../../auth/api/v1/oauth/token",
        "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0",   // 35
        "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0cc", // 37
        "{3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c}",
        "3f2c1b0a9d8e4f7a8b6c5d4e3f2a1b0c",
        "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0g",
        "3f2c1b0a_9d8e-4f7a-8b6c-5d4e3f2a1b0c",
        "３f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0",
    ];
    for field in [
        TargetField::ConnectionId,
        TargetField::UserId,
        TargetField::HostId,
    ] {
        for id in bad {
            let (_, step) = privx.start(&terminate(field, id), &env(T0));
            let problem = failed(step);
            assert_eq!(problem.kind, ProblemKind::InvalidTarget, "{id}");
            assert!(
                problem.detail.contains(field.as_str()),
                "{}",
                problem.detail
            );
            assert_eq!(problem.vendor, None);
        }
    }
    let upper = CONNECTION.to_ascii_uppercase();
    let (_, step) = privx.start(&terminate(TargetField::ConnectionId, &upper), &env(T0));
    assert!(is_token_step(&sent(step)), "either case is a UUID");
}

#[test]
fn a_retry_plans_again_from_the_cache() {
    let privx = privx();
    let (mut flow, first) = through_token(&privx, &connection(), "tok-1", T0);
    let problem = failed(privx.resume(&mut flow, response(503, &[], ""), &env(T0)));
    assert!(problem.retryable);
    let again = sent(privx.resume(&mut flow, Input::Retry { attempt: 1 }, &env(T0 + 50)));
    assert_eq!(
        again, first,
        "the same terminate with the same cached token"
    );

    // A retried token request finds the token another flow has cached meanwhile.
    let cold = self::privx();
    let (mut waiting, _) = cold.start(&connection(), &env(T0));
    let (mut other, _) = cold.start(&connection(), &env(T0));
    let body = token_answer("tok-other", 300);
    sent(cold.resume(&mut other, response(200, &[], &body), &env(T0)));
    let step = cold.resume(&mut waiting, Input::Retry { attempt: 1 }, &env(T0 + 1));
    assert_eq!(bearer(&sent(step)), Some("tok-other"));

    // With nothing cached, the token request is planned again.
    let empty = self::privx();
    let (mut flow, first) = empty.start(&connection(), &env(T0));
    let again = empty.resume(&mut flow, Input::Retry { attempt: 1 }, &env(T0 + 1));
    assert_eq!(again, first);
}

#[test]
fn the_plugin_declares_terminate_by_one_of_three_ids_and_two_secrets() {
    let info = sever_plugin_sdk::info::<Privx>();
    let spec = info.action(Action::Terminate).unwrap();
    assert_eq!(
        spec.target_sets,
        [
            vec![TargetField::ConnectionId],
            vec![TargetField::UserId],
            vec![TargetField::HostId]
        ]
    );
    assert_eq!(info.actions.len(), 1);
    let secrets: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secrets, ["oauth_client_secret", "api_client_secret"]);
    let keys: Vec<&str> = info.settings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "oauth_client_id",
            "oauth_client_secret",
            "api_client_id",
            "api_client_secret"
        ]
    );
}

#[test]
fn settings_errors_name_every_key_and_never_echo_a_secret() {
    let errors = sever_plugin_sdk::create::<Privx>(&BackendSpec {
        name: "x".into(),
        url: "http://h".into(),
        settings: json!({
            "oauth_client_id": "privx:external",
            "oauth_client_secret": "",
            "api_client_secret": "s3cret\nline",
            "api_secret": "hunter2",
        })
        .as_object()
        .unwrap()
        .clone(),
    })
    .unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "api_secret",
            "oauth_client_secret",
            "api_client_id",
            "api_client_secret",
            "oauth_client_id"
        ]
    );
    for error in &errors {
        for secret in ["hunter2", "s3cret", "privx:external"] {
            assert!(!error.message.contains(secret), "{error}");
        }
    }
}
