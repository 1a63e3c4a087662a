//! Pure tests of the Nexus adapter: every request it plans and every answer it maps,
//! without a socket.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Map, Value};

const ENV: Env = Env {
    unix_ms: 1_700_000_000_000,
    random: [7; 32],
};

fn settings(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

fn backend_with(settings_value: Value) -> Result<Nexus, Vec<SettingError>> {
    sever_plugin_sdk::create::<Nexus>(&BackendSpec {
        name: "idp".into(),
        url: "http://nexus.local:9000/base".into(),
        settings: settings(settings_value),
    })
}

fn bearer() -> Nexus {
    backend_with(json!({
        "tenant_id": "t 1",
        "bearer_token": "bt-123",
        "application_token": "at-456",
    }))
    .unwrap()
}

fn basic() -> Nexus {
    backend_with(json!({"tenant_id": "t1", "username": "Aladdin", "password": "open sesame"}))
        .unwrap()
}

fn request(client_id: &str, connection_id: &str) -> Request {
    Request {
        request_id: "r1".into(),
        action: Action::Unbind,
        target: Target {
            client_id: Some(client_id.into()),
            connection_id: Some(connection_id.into()),
            ..Target::default()
        },
        reason: None,
    }
}

fn planned(nexus: &Nexus, client_id: &str, connection_id: &str) -> VendorRequest {
    match nexus.start(&request(client_id, connection_id), &ENV).1 {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn header<'a>(r: &'a VendorRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn respond(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let nexus = bearer();
    let (mut flow, _) = nexus.start(&request("web-app", "azure-ad"), &ENV);
    let response = VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    };
    nexus.resume(&mut flow, Input::Response(response), &ENV)
}

fn fail(status: u16, body: &str) -> Problem {
    match respond(status, &[], body) {
        Step::Fail(p) => p,
        other => panic!("{status}: expected a problem, got {other:?}"),
    }
}

const PROBLEM_404: &str = r#"{"type":"https://httpstatuses.io/404","title":"Not Found","detail":"Client 'web-app' not found","status":404,"instance":"/v1/tenants/t/connections/c/clients"}"#;

#[test]
fn unbind_with_the_bearer_option_is_the_documented_patch() {
    let r = planned(&bearer(), "a/b c#é", "conn/1?x");
    assert_eq!(r.method, "PATCH");
    assert_eq!(
        r.url,
        "http://nexus.local:9000/base/v1/tenants/t%201/connections/conn%2F1%3Fx/clients"
    );
    assert_eq!(header(&r, "authorization"), Some("Bearer bt-123"));
    assert_eq!(header(&r, "ApplicationToken"), Some("at-456"));
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    assert_eq!(r.body, r#"{"enabled":false,"clientId":"a/b c#é"}"#);
    assert!(r.idempotent);
    assert!(r.redact.contains(&"bt-123".to_owned()));
    assert!(r.redact.contains(&"at-456".to_owned()));
    assert_eq!(r.headers.len(), 3, "{:?}", r.headers);
}

#[test]
fn the_application_token_header_name_is_configurable() {
    let nexus = backend_with(json!({
        "tenant_id": "t1",
        "bearer_token": "bt",
        "application_token": "at",
        "application_token_header": "X-Application-Token",
    }))
    .unwrap();
    let r = planned(&nexus, "c", "k");
    assert_eq!(header(&r, "X-Application-Token"), Some("at"));
    assert_eq!(header(&r, "ApplicationToken"), None);
}

#[test]
fn unbind_with_the_basic_option_sends_rfc_7617_credentials() {
    let r = planned(&basic(), "c", "k");
    // RFC 7617's own example.
    assert_eq!(
        header(&r, "authorization"),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    assert_eq!(header(&r, "ApplicationToken"), None);
    assert_eq!(r.redact, ["QWxhZGRpbjpvcGVuIHNlc2FtZQ=="]);
    assert_eq!(
        r.url,
        "http://nexus.local:9000/base/v1/tenants/t1/connections/k/clients"
    );
}

#[test]
fn the_client_id_is_json_escaped_in_the_body() {
    let r = planned(&basic(), "quote\" back\\slash \u{2028}", "k");
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        body,
        json!({"enabled": false, "clientId": "quote\" back\\slash \u{2028}"})
    );
}

#[test]
fn a_retry_plans_the_same_call_again() {
    let nexus = bearer();
    let (mut flow, first) = nexus.start(&request("c", "k"), &ENV);
    let again = nexus.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV);
    assert_eq!(first, again);
}

#[test]
fn vendor_204_is_done() {
    let headers = [("x-request-id", b"req-9".as_slice())];
    let Step::Done(s) = respond(204, &headers, "") else {
        panic!()
    };
    assert_eq!(s.outcome, Outcome::Done);
    assert_eq!(s.vendor["status"], 204);
    assert_eq!(s.vendor["request_id"], "req-9");
}

#[test]
fn another_2xx_is_done_without_a_body_and_an_error_with_one() {
    assert!(matches!(respond(200, &[], ""), Step::Done(_)));
    let p = fail(200, "<html>login</html>");
    assert_eq!(p.kind, ProblemKind::Unreadable);
    assert_eq!(p.vendor.unwrap()["message"], "<html>login</html>");
}

#[test]
fn vendor_400_is_upstream_rejected_with_the_problem_in_vendor() {
    let body = r#"{"type":"https://tools.ietf.org/html/rfc9110#section-15.5.1","title":"Bad Request","detail":"clientId must not be empty","status":400,"instance":"/v1/x","traceId":"00-ab-01"}"#;
    let p = fail(400, body);
    assert_eq!(p.kind, ProblemKind::Rejected);
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["status"], 400);
    assert_eq!(vendor["message"], "Bad Request: clientId must not be empty");
    assert_eq!(
        vendor["type"],
        "https://tools.ietf.org/html/rfc9110#section-15.5.1"
    );
    assert_eq!(vendor["title"], "Bad Request");
    assert_eq!(vendor["detail"], "clientId must not be empty");
    assert_eq!(vendor["instance"], "/v1/x");
    assert_eq!(vendor["trace_id"], "00-ab-01");
    assert!(
        p.detail.contains("clientId must not be empty"),
        "{}",
        p.detail
    );
    assert!(!p.retryable);
}

#[test]
fn vendor_401_without_a_body_is_upstream_unauthorized() {
    let p = fail(401, "");
    assert_eq!(p.kind, ProblemKind::CredentialsRefused);
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["status"], 401);
    assert!(vendor.get("message").is_none(), "{vendor:?}");
    assert!(
        p.detail.contains("bearer and application token"),
        "{}",
        p.detail
    );
}

#[test]
fn vendor_403_is_upstream_unauthorized_naming_the_permission() {
    let body = r#"{"type":"t","title":"Forbidden","detail":"Missing permission client.write","status":403,"instance":"/i"}"#;
    let p = fail(403, body);
    assert_eq!(p.kind, ProblemKind::CredentialsRefused);
    assert_eq!(
        p.vendor.unwrap()["message"],
        "Forbidden: Missing permission client.write"
    );
    assert!(p.detail.contains("client.write"), "{}", p.detail);
}

#[test]
fn vendor_404_is_target_not_found_with_the_vendor_message() {
    let p = fail(404, PROBLEM_404);
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(
        p.detail.contains("Client 'web-app' not found"),
        "{}",
        p.detail
    );
    assert!(p.detail.contains("azure-ad"), "{}", p.detail);
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["message"], "Not Found: Client 'web-app' not found");
    assert_eq!(vendor["instance"], "/v1/tenants/t/connections/c/clients");
}

#[test]
fn vendor_429_is_rate_limited_with_retry_after() {
    let headers = [("retry-after", b"30".as_slice())];
    let Step::Fail(p) = respond(429, &headers, r#"{"title":"Too Many Requests"}"#) else {
        panic!()
    };
    assert_eq!(p.kind, ProblemKind::RateLimited);
    assert_eq!(p.retry_after.as_deref(), Some("30"));
}

#[test]
fn other_statuses_map_by_class() {
    let cases = [
        (405, ProblemKind::Rejected),
        (409, ProblemKind::Rejected),
        (415, ProblemKind::Rejected),
        (302, ProblemKind::VendorError),
        (500, ProblemKind::VendorError),
        (503, ProblemKind::VendorError),
    ];
    for (status, code) in cases {
        assert_eq!(fail(status, "").kind, code, "status {status}");
    }
    assert!(fail(500, "").retryable);
}

#[test]
fn a_5xx_that_is_not_a_problem_document_keeps_an_excerpt() {
    let p = fail(502, "<html>\n<h1>Bad gateway</h1>\u{0}</html>");
    assert_eq!(p.kind, ProblemKind::VendorError);
    let message = p.vendor.unwrap()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("Bad gateway"), "{message}");
    assert!(!message.chars().any(char::is_control), "{message:?}");
}

#[test]
fn control_characters_in_the_vendor_problem_are_made_safe() {
    let body = r#"{"title":"Bad\r\nRequest","detail":"line1\nline2\u0000","status":400}"#;
    let p = fail(400, body);
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["title"], "Bad  Request");
    assert_eq!(vendor["detail"], "line1 line2");
    assert!(!p.detail.chars().any(char::is_control), "{:?}", p.detail);
}

#[test]
fn info_declares_unbind_by_client_and_identity_connection() {
    let info = sever_plugin_sdk::info::<Nexus>();
    // `sever plugins` prints the plugin's description, not the action's: both say it.
    assert!(info.description.contains("not a network connection"));
    let spec = info.action(Action::Unbind).unwrap();
    assert_eq!(
        spec.target_sets,
        [vec![TargetField::ClientId, TargetField::ConnectionId]]
    );
    assert!(spec.optional_fields.is_empty());
    assert!(spec.description.contains("identity connection"));
    assert!(spec.description.contains("not a network connection"));
    assert!(spec.description.contains("does not end live sessions"));
    let secrets: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secrets, ["bearer_token", "application_token", "password"]);
}

fn errors(value: Value) -> Vec<SettingError> {
    backend_with(value).unwrap_err()
}

fn keys(errors: &[SettingError]) -> Vec<&str> {
    errors.iter().map(|e| e.key.as_str()).collect()
}

/// No message may carry any of these secret values.
fn assert_no_secret(errors: &[SettingError]) {
    for e in errors {
        for secret in ["bt-secret", "at-secret", "pw-secret", "has space"] {
            assert!(!e.message.contains(secret), "{e:?}");
        }
    }
}

#[test]
fn no_auth_option_is_a_settings_error_naming_both() {
    let e = errors(json!({"tenant_id": "t"}));
    assert_eq!(keys(&e), [""]);
    for key in ["bearer_token", "application_token", "username", "password"] {
        assert!(e[0].message.contains(key), "{e:?}");
    }
}

#[test]
fn both_auth_options_are_a_settings_error_naming_the_keys() {
    let e = errors(json!({
        "tenant_id": "t", "bearer_token": "bt-secret", "application_token": "at-secret",
        "username": "u", "password": "pw-secret",
    }));
    assert_eq!(keys(&e), [""]);
    assert!(
        e[0].message.contains("bearer_token, application_token"),
        "{e:?}"
    );
    assert!(e[0].message.contains("username, password"), "{e:?}");
    assert_no_secret(&e);
}

#[test]
fn half_an_option_names_the_missing_key() {
    let e = errors(json!({"tenant_id": "t", "bearer_token": "bt-secret"}));
    assert_eq!(keys(&e), ["application_token"]);
    let e = errors(json!({"tenant_id": "t", "application_token": "at-secret"}));
    assert_eq!(keys(&e), ["bearer_token"]);
    let e = errors(json!({"tenant_id": "t", "application_token_header": "X-App"}));
    assert_eq!(keys(&e), ["bearer_token", "application_token"]);
    let e = errors(json!({"tenant_id": "t", "password": "pw-secret"}));
    assert_eq!(keys(&e), ["username"]);
    let e = errors(json!({"tenant_id": "t", "username": "u"}));
    assert_eq!(keys(&e), ["password"]);
    assert!(e[0].message.contains("username and password"), "{e:?}");
}

#[test]
fn bad_values_are_named_without_echoing_secrets() {
    let e = errors(json!({
        "bearer_token": "has space", "application_token": "",
        "application_token_header": "Bad Header", "extra": "pw-secret",
    }));
    assert_eq!(
        keys(&e),
        [
            "extra",
            "tenant_id",
            "application_token",
            "bearer_token",
            "application_token_header"
        ]
    );
    assert_no_secret(&e);
    let e = errors(json!({
        "tenant_id": "t", "bearer_token": "b", "application_token": "a",
        "application_token_header": "Authorization",
    }));
    assert_eq!(keys(&e), ["application_token_header"]);
    let e = errors(json!({"tenant_id": "t", "username": "a:b", "password": "pw-secret"}));
    assert_eq!(keys(&e), ["username"]);
    assert_no_secret(&e);
}

#[test]
fn debug_output_never_shows_credentials() {
    let shown = format!("{:?} {:?}", bearer(), basic());
    for secret in ["bt-123", "at-456", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="] {
        assert!(!shown.contains(secret), "{shown}");
    }
}
