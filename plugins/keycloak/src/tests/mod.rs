//! Every flow of the adapter, driven through the `Adapter` trait with fixed `Env`s: no
//! sockets, no clock.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};

mod answers;

const T0: u64 = 1_700_000_000_000;
const SECRET: &str = "kc-s3cret&=+";
const USER: &str = "f:ldap-1:jörg/x y";
const USER_ENCODED: &str = "f%3Aldap-1%3Aj%C3%B6rg%2Fx%20y";
const BASE: &str = "https://kc.local:8443/auth/admin/realms/acme";

fn env(unix_ms: u64) -> Env {
    Env {
        unix_ms,
        random: [7; 32],
    }
}

fn settings(extra: Value) -> serde_json::Map<String, Value> {
    let mut map = json!({"realm": "acme", "client_id": "sever", "client_secret": SECRET,
                         "path_prefix": "/auth"})
    .as_object()
    .unwrap()
    .clone();
    for (key, value) in extra.as_object().unwrap() {
        map.insert(key.clone(), value.clone());
    }
    map
}

fn keycloak_with(extra: Value) -> Keycloak {
    sever_plugin_sdk::create::<Keycloak>(&BackendSpec {
        name: "kc".into(),
        url: "https://kc.local:8443".into(),
        settings: settings(extra),
    })
    .unwrap()
}

fn keycloak() -> Keycloak {
    keycloak_with(json!({}))
}

fn terminate(field: TargetField, id: &str) -> Request {
    let mut target = Target::default();
    *target.slot(field) = Some(id.into());
    Request {
        request_id: "r1".into(),
        action: Action::Terminate,
        target,
        reason: None,
    }
}

fn user(id: &str) -> Request {
    terminate(TargetField::UserId, id)
}

fn response<'a>(status: u16, headers: &'a [(&'a str, &'a [u8])], body: &'a str) -> Input<'a> {
    Input::Response(VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    })
}

fn token_answer(token: &str) -> String {
    json!({"access_token": token, "expires_in": 300, "refresh_expires_in": 0,
           "token_type": "Bearer", "not-before-policy": 0, "scope": "profile email"})
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
    request.url.ends_with("/protocol/openid-connect/token")
}

fn bearer(request: &VendorRequest) -> Option<&str> {
    let auth = request.headers.iter().find(|(n, _)| n == "authorization");
    auth.and_then(|(_, v)| v.strip_prefix("Bearer "))
}

/// A flow through its token step and the admin call it led to.
fn through_token(kc: &Keycloak, request: &Request, token: &str) -> (Flow, VendorRequest) {
    let (mut flow, step) = kc.start(request, &env(T0));
    assert!(is_token_step(&sent(step)));
    let body = token_answer(token);
    let step = kc.resume(&mut flow, response(200, &[], &body), &env(T0));
    (flow, sent(step))
}

/// A warm logout flow's answer to its call.
fn answer(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let kc = keycloak();
    let (mut flow, _) = through_token(&kc, &user("u-1"), "tok-1");
    kc.resume(&mut flow, response(status, headers, body), &env(T0))
}

#[test]
fn a_cold_cache_asks_the_token_realm_for_a_client_credentials_token() {
    let kc = keycloak_with(json!({"token_realm": "master"}));
    let (_, step) = kc.start(&user("u-1"), &env(T0));
    let r = sent(step);
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        "https://kc.local:8443/auth/realms/master/protocol/openid-connect/token"
    );
    assert_eq!(
        r.headers,
        [(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned()
        )]
    );
    assert_eq!(
        r.body,
        "grant_type=client_credentials&client_id=sever&client_secret=kc-s3cret%26%3D%2B"
    );
    assert_eq!((r.share.as_deref(), r.idempotent), (Some("token"), true));
    for secret in [SECRET, "kc-s3cret%26%3D%2B"] {
        assert!(r.redact.iter().any(|s| s == secret), "{secret}");
    }
    let default_realm = keycloak_with(json!({"path_prefix": null}));
    let r = sent(default_realm.start(&user("u-1"), &env(T0)).1);
    assert_eq!(
        r.url,
        "https://kc.local:8443/realms/acme/protocol/openid-connect/token"
    );
}

#[test]
fn user_id_logs_the_user_out_with_the_bearer_token_and_no_body() {
    let (_, call) = through_token(&keycloak(), &user(USER), "tok-abc");
    assert_eq!(call.method, "POST");
    assert_eq!(call.url, format!("{BASE}/users/{USER_ENCODED}/logout"));
    assert_eq!(
        call.headers,
        [("authorization".to_owned(), "Bearer tok-abc".to_owned())]
    );
    assert_eq!(call.body, "");
    assert!(call.idempotent && call.share.is_none());
    assert_eq!(call.redact, ["tok-abc"]);
}

#[test]
fn connection_id_deletes_that_one_user_session() {
    let (_, call) = through_token(
        &keycloak(),
        &terminate(TargetField::ConnectionId, "s/1 #"),
        "t",
    );
    assert_eq!(call.method, "DELETE");
    assert_eq!(call.url, format!("{BASE}/sessions/s%2F1%20%23"));
    assert_eq!(bearer(&call), Some("t"));
}

#[test]
fn username_lookup_finds_the_id_then_logs_it_out() {
    let kc = keycloak_with(json!({"user_lookup": "username"}));
    let (mut flow, lookup) = through_token(&kc, &user("Alice+1@x"), "tok-1");
    assert_eq!(lookup.method, "GET");
    assert_eq!(
        lookup.url,
        format!("{BASE}/users?username=Alice%2B1%40x&exact=true&briefRepresentation=true")
    );
    assert_eq!(bearer(&lookup), Some("tok-1"));
    let list = r#"[{"id":"9a1c-uuid","username":"alice+1@x","enabled":true}]"#;
    let logout = sent(kc.resume(&mut flow, response(200, &[], list), &env(T0)));
    assert_eq!(logout.url, format!("{BASE}/users/9a1c-uuid/logout"));
    assert_eq!(
        bearer(&logout),
        Some("tok-1"),
        "the cached token, no second token request"
    );
    let done = kc.resume(&mut flow, response(204, &[], ""), &env(T0));
    assert!(
        matches!(done, Step::Done(s) if s.outcome == Outcome::Done && s.vendor["status"] == 204)
    );
}

#[test]
fn a_username_lookup_that_finds_nobody_or_several_users_cuts_nothing() {
    let cases = [
        ("[]", ProblemKind::TargetNotFound),
        (
            r#"[{"id":"a","username":"bob"}]"#,
            ProblemKind::TargetNotFound,
        ),
        (r#"[{"id":"a"},{"id":"b"}]"#, ProblemKind::Rejected),
        (r#"{"id":"a"}"#, ProblemKind::Unreadable),
        ("<html>", ProblemKind::Unreadable),
    ];
    for (body, kind) in cases {
        let kc = keycloak_with(json!({"user_lookup": "username"}));
        let (mut flow, _) = through_token(&kc, &user("alice"), "t");
        let problem = failed(kc.resume(&mut flow, response(200, &[], body), &env(T0)));
        assert_eq!(problem.kind, kind, "{body}");
        assert!(
            problem.detail.contains("alice") || kind == ProblemKind::Unreadable,
            "{}",
            problem.detail
        );
    }
}

#[test]
fn a_401_takes_one_new_token_and_retries_once_then_is_upstream_unauthorized() {
    let kc = keycloak();
    let (mut flow, _) = through_token(&kc, &user("u-1"), "tok-old");
    let refused = r#"{"error":"HTTP 401 Unauthorized"}"#;
    let refresh = sent(kc.resume(&mut flow, response(401, &[], refused), &env(T0 + 1)));
    assert!(is_token_step(&refresh));
    let retry = sent(kc.resume(
        &mut flow,
        response(200, &[], &token_answer("tok-new")),
        &env(T0 + 2),
    ));
    assert_eq!(
        (bearer(&retry), retry.url.ends_with("/users/u-1/logout")),
        (Some("tok-new"), true)
    );
    let problem = failed(kc.resume(&mut flow, response(401, &[], refused), &env(T0 + 3)));
    assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
    assert!(
        problem.detail.contains("after one token refresh"),
        "{}",
        problem.detail
    );
    assert_eq!(problem.vendor.unwrap()["message"], "HTTP 401 Unauthorized");
}

#[test]
fn a_warm_cache_goes_straight_to_the_call_and_expiry_takes_a_new_token() {
    let kc = keycloak();
    through_token(&kc, &user("u-1"), "tok-1");
    let call = sent(kc.start(&user("u-2"), &env(T0 + 269_999)).1);
    assert_eq!(bearer(&call), Some("tok-1"));
    assert!(is_token_step(&sent(
        kc.start(&user("u-2"), &env(T0 + 270_000)).1
    )));
}

#[test]
fn a_retry_plans_the_call_again_with_the_cached_token() {
    let kc = keycloak();
    let (mut flow, first) = through_token(&kc, &user("u-1"), "tok-1");
    let again = sent(kc.resume(&mut flow, Input::Retry { attempt: 1 }, &env(T0 + 5)));
    assert_eq!(again, first);
}

#[test]
fn the_plugin_declares_terminate_by_user_or_session_and_one_secret() {
    let info = sever_plugin_sdk::info::<Keycloak>();
    let spec = info.action(Action::Terminate).unwrap();
    assert_eq!(
        spec.target_sets,
        [vec![TargetField::UserId], vec![TargetField::ConnectionId]]
    );
    assert_eq!(info.actions.len(), 1);
    assert_eq!(info.secret_keys().collect::<Vec<_>>(), ["client_secret"]);
    let keys: Vec<&str> = info.settings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "realm",
            "client_id",
            "client_secret",
            "token_realm",
            "user_lookup",
            "path_prefix"
        ]
    );
}

#[test]
fn settings_errors_name_every_key_and_never_echo_a_secret() {
    let errors = sever_plugin_sdk::create::<Keycloak>(&BackendSpec {
        name: "x".into(),
        url: "http://h".into(),
        settings: json!({"client_secret": "hunter2\n", "user_lookup": "email",
                         "path_prefix": "auth/../x", "realms": "acme"})
        .as_object()
        .unwrap()
        .clone(),
    })
    .unwrap_err();
    let mut keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client_id",
            "client_secret",
            "path_prefix",
            "realm",
            "realms",
            "user_lookup"
        ]
    );
    assert!(errors.iter().all(|e| !e.message.contains("hunter2")));
    for bad in ["/", "/a b", "/a/../b", "x"] {
        assert!(check_path_prefix(bad).is_err(), "{bad}");
    }
    assert!(check_path_prefix("/auth").is_ok() && check_path_prefix("/kc/auth/").is_ok());
}
