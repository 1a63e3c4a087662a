//! Every flow of the adapter, driven through the `Adapter` trait with fixed `Env`s: no
//! sockets, no clock.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};

mod answers;

const T0: u64 = 1_700_000_000_000;
const SECRET: &str = "Wq8~entra.secret+/=";
const SECRET_ENCODED: &str = "Wq8~entra.secret%2B%2F%3D";
const GUEST: &str = "ann_example.com#EXT#@contoso.onmicrosoft.com";
const GUEST_ENCODED: &str = "ann_example.com%23EXT%23%40contoso.onmicrosoft.com";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn env(unix_ms: u64) -> Env {
    Env {
        unix_ms,
        random: [7; 32],
    }
}

fn entra_with(extra: Value) -> EntraId {
    let mut settings = json!({"tenant_id": TENANT, "client_id": "app-1", "client_secret": SECRET})
        .as_object()
        .unwrap()
        .clone();
    settings.extend(extra.as_object().unwrap().clone());
    sever_plugin_sdk::create::<EntraId>(&BackendSpec {
        name: "entra".into(),
        url: "https://graph.microsoft.com".into(),
        settings,
    })
    .unwrap()
}

fn entra() -> EntraId {
    entra_with(json!({}))
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

fn token_answer(token: &str) -> String {
    json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token})
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

fn bearer(request: &VendorRequest) -> Option<&str> {
    let auth = request.headers.iter().find(|(n, _)| n == "authorization");
    auth.and_then(|(_, v)| v.strip_prefix("Bearer "))
}

fn through_token(entra: &EntraId, id: &str, token: &str) -> (Flow, VendorRequest) {
    let (mut flow, step) = entra.start(&user(id), &env(T0));
    assert!(sent(step).url.ends_with("/oauth2/v2.0/token"));
    let body = token_answer(token);
    let step = entra.resume(&mut flow, response(200, &[], &body), &env(T0));
    (flow, sent(step))
}

fn answer(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let entra = entra();
    let (mut flow, _) = through_token(&entra, "u-1", "tok-1");
    entra.resume(&mut flow, response(status, headers, body), &env(T0))
}

#[test]
fn a_cold_cache_asks_the_tenants_token_endpoint_for_a_graph_default_scope_token() {
    let (_, step) = entra().start(&user("u-1"), &env(T0));
    let r = sent(step);
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.url,
        format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token")
    );
    assert_eq!(
        r.body,
        format!(
            "grant_type=client_credentials&client_id=app-1&client_secret={SECRET_ENCODED}\
             &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
        )
    );
    assert_eq!((r.share.as_deref(), r.idempotent), (Some("token"), true));
    assert!(r.redact.iter().any(|s| s == SECRET) && r.redact.iter().any(|s| s == SECRET_ENCODED));
    let national = entra_with(json!({"login_url": "https://login.microsoftonline.us/"}));
    let r = sent(national.start(&user("u-1"), &env(T0)).1);
    assert_eq!(
        r.url,
        format!("https://login.microsoftonline.us/{TENANT}/oauth2/v2.0/token")
    );
}

#[test]
fn the_revocation_posts_no_body_with_the_bearer_token_and_encodes_a_guests_upn() {
    let (_, call) = through_token(&entra(), GUEST, "tok-abc");
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.url,
        format!("https://graph.microsoft.com/v1.0/users/{GUEST_ENCODED}/revokeSignInSessions")
    );
    assert_eq!(bearer(&call), Some("tok-abc"));
    assert_eq!(call.body, "");
    assert!(call.idempotent && call.share.is_none());
    assert_eq!(call.redact, ["tok-abc"]);
}

#[test]
fn a_upn_starting_with_a_dollar_is_refused_before_any_call() {
    let (_, step) = entra().start(&user("$admin@contoso.com"), &env(T0));
    let problem = failed(step);
    assert_eq!(problem.kind, ProblemKind::InvalidTarget);
    assert!(problem.detail.contains("object id"), "{}", problem.detail);
}

#[test]
fn a_401_takes_one_new_token_and_retries_once_then_is_upstream_unauthorized() {
    let entra = entra();
    let (mut flow, _) = through_token(&entra, "u-1", "tok-old");
    let refused = r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}"#;
    let refresh = sent(entra.resume(&mut flow, response(401, &[], refused), &env(T0)));
    assert!(refresh.url.ends_with("/oauth2/v2.0/token"));
    let retry = sent(entra.resume(
        &mut flow,
        response(200, &[], &token_answer("tok-new")),
        &env(T0),
    ));
    assert_eq!(bearer(&retry), Some("tok-new"));
    let problem = failed(entra.resume(&mut flow, response(401, &[], refused), &env(T0)));
    assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
    let vendor = problem.vendor.unwrap();
    assert_eq!(vendor["code"], "InvalidAuthenticationToken");
}

#[test]
fn a_token_is_used_until_thirty_seconds_before_it_expires() {
    let entra = entra();
    through_token(&entra, "u-1", "tok-1");
    let call = sent(entra.start(&user("u-2"), &env(T0 + 3_568_999)).1);
    assert_eq!(bearer(&call), Some("tok-1"));
    let fresh = sent(entra.start(&user("u-2"), &env(T0 + 3_569_000)).1);
    assert!(fresh.url.ends_with("/oauth2/v2.0/token"));
}

#[test]
fn the_plugin_declares_terminate_by_user_id_and_one_secret() {
    let info = sever_plugin_sdk::info::<EntraId>();
    assert_eq!(
        info.action(Action::Terminate).unwrap().target_sets,
        [vec![TargetField::UserId]]
    );
    assert_eq!(info.secret_keys().collect::<Vec<_>>(), ["client_secret"]);
    let keys: Vec<&str> = info.settings.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        ["tenant_id", "client_id", "client_secret", "login_url"]
    );
}

#[test]
fn settings_errors_name_every_key_and_never_echo_a_secret() {
    let errors = sever_plugin_sdk::create::<EntraId>(&BackendSpec {
        name: "x".into(),
        url: "http://h".into(),
        settings:
            json!({"tenant_id": "a b", "client_secret": "hunter2\u{7}", "login_url": "ftp://x"})
                .as_object()
                .unwrap()
                .clone(),
    })
    .unwrap_err();
    let mut keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["client_id", "client_secret", "login_url", "tenant_id"]
    );
    assert!(errors.iter().all(|e| !e.message.contains("hunter2")));
}
