//! Every flow of the adapter, driven through the `Adapter` trait with fixed `Env`s: no
//! sockets, no clock.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};

mod answers;
mod oauth;

const T0: u64 = 1_700_000_000_000;
const URL: &str = "https://dev-1.okta.example";
const API_TOKEN: &str = "00aBcD-ssws-t0ken";
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/");

fn env(unix_ms: u64) -> Env {
    Env {
        unix_ms,
        random: [7; 32],
    }
}

fn key(name: &str) -> String {
    std::fs::read_to_string(format!("{KEYS}{name}")).unwrap()
}

fn create(settings: Value) -> Result<Okta, Vec<SettingError>> {
    sever_plugin_sdk::create::<Okta>(&BackendSpec {
        name: "okta".into(),
        url: URL.into(),
        settings: settings.as_object().unwrap().clone(),
    })
}

fn okta() -> Okta {
    create(json!({"api_token": API_TOKEN})).unwrap()
}

fn user(id: &str) -> Request {
    let mut target = Target::default();
    *target.slot(TargetField::UserId) = Some(id.into());
    Request {
        request_id: "r1".into(),
        action: Action::Terminate,
        target,
        reason: None,
    }
}

fn response<'a>(status: u16, headers: &'a [(&'a str, &'a [u8])], body: &'a str) -> Input<'a> {
    Input::Response(VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    })
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

/// An API-token flow's answer to its call.
fn answer(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let okta = okta();
    let (mut flow, _) = okta.start(&user("00u1"), &env(T0));
    okta.resume(&mut flow, response(status, headers, body), &env(T0))
}

#[test]
fn an_api_token_revokes_the_users_sessions_and_oauth_tokens_with_ssws() {
    let (_, step) = okta().start(&user("00u1 ab/c"), &env(T0));
    let r = sent(step);
    assert_eq!(r.method, "DELETE");
    assert_eq!(
        r.url,
        format!("{URL}/api/v1/users/00u1%20ab%2Fc/sessions?oauthTokens=true")
    );
    assert_eq!(
        r.headers,
        [
            ("accept".to_owned(), "application/json".to_owned()),
            ("authorization".to_owned(), format!("SSWS {API_TOKEN}")),
        ]
    );
    assert_eq!(r.body, "");
    assert!(r.idempotent && r.share.is_none());
}

#[test]
fn the_query_follows_revoke_oauth_tokens_and_forget_devices() {
    let cases = [
        (json!({"revoke_oauth_tokens": false}), "?oauthTokens=false"),
        (
            json!({"forget_devices": true}),
            "?oauthTokens=true&forgetDevices=true",
        ),
        (
            json!({"revoke_oauth_tokens": "true", "forget_devices": "false"}),
            "?oauthTokens=true&forgetDevices=false",
        ),
    ];
    for (extra, query) in cases {
        let mut settings = extra.as_object().unwrap().clone();
        settings.insert("api_token".into(), API_TOKEN.into());
        let okta = create(Value::Object(settings)).unwrap();
        let r = sent(okta.start(&user("00u1"), &env(T0)).1);
        assert!(r.url.ends_with(&format!("/sessions{query}")), "{}", r.url);
    }
}

#[test]
fn a_retry_with_an_api_token_plans_the_same_call() {
    let okta = okta();
    let (mut flow, first) = okta.start(&user("00u1"), &env(T0));
    let again = sent(okta.resume(&mut flow, Input::Retry { attempt: 1 }, &env(T0 + 1)));
    assert_eq!(again, sent(first));
}

#[test]
fn the_plugin_declares_terminate_by_user_id_and_its_secrets() {
    let info = sever_plugin_sdk::info::<Okta>();
    assert_eq!(
        info.action(Action::Terminate).unwrap().target_sets,
        [vec![TargetField::UserId]]
    );
    assert_eq!(
        info.secret_keys().collect::<Vec<_>>(),
        ["api_token", "private_key"]
    );
    let keys: Vec<&str> = info.settings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "api_token",
            "client_id",
            "private_key",
            "key_id",
            "scopes",
            "revoke_oauth_tokens",
            "forget_devices"
        ]
    );
}

#[test]
fn exactly_one_auth_option_is_required_and_no_secret_is_echoed() {
    let pem = key("okta-test-rsa-2048.pem");
    let cases = [
        (json!({}), vec![""]),
        (
            json!({"api_token": API_TOKEN, "client_id": "0oa1"}),
            vec![""],
        ),
        (json!({"client_id": "0oa1"}), vec!["private_key"]),
        (json!({"api_token": API_TOKEN, "scopes": "x"}), vec![""]),
        (
            json!({"client_id": "0oa1", "private_key": "not a key\nat all"}),
            vec!["private_key"],
        ),
        (
            json!({"client_id": "0oa1", "private_key": key("weak-rsa-1024.pem")}),
            vec!["private_key"],
        ),
        (
            json!({"api_token": "has space", "forget_devices": "maybe"}),
            vec!["api_token", "forget_devices"],
        ),
        (
            json!({"client_id": "0oa1", "private_key": pem, "revoke_oauth_token": true}),
            vec!["revoke_oauth_token"],
        ),
    ];
    for (settings, expected) in cases {
        let errors = create(settings.clone()).unwrap_err();
        let mut keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(keys, expected, "{settings}");
        for error in &errors {
            assert!(
                !error.message.contains("not a key") && !error.message.contains("MII"),
                "{error}"
            );
            assert!(!error.message.contains(API_TOKEN) && !error.message.contains("has space"));
        }
    }
}
