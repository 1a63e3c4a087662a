//! Pure tests of the adapter: both calls the settings choose between, auth, every row of
//! the answer mapping, retries and settings. No sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

const URL: &str = "http://hivemq.local:8888";
const ENV: Env = Env {
    unix_ms: 1_700_000_000_000,
    random: [7; 32],
};

fn create(settings: serde_json::Value) -> Result<Hivemq, Vec<SettingError>> {
    sever_plugin_sdk::create::<Hivemq>(&BackendSpec {
        name: "hivemq-1".into(),
        url: URL.into(),
        settings: settings.as_object().unwrap().clone(),
    })
}

fn disconnect(client_id: &str) -> Request {
    Request {
        request_id: "r1".into(),
        action: Action::Disconnect,
        target: Target {
            client_id: Some(client_id.into()),
            ..Target::default()
        },
        reason: Some("INC-1".into()),
    }
}

fn sent(step: Step) -> VendorRequest {
    match step {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn failed(step: Step) -> Problem {
    match step {
        Step::Fail(p) => p,
        other => panic!("expected a problem, got {other:?}"),
    }
}

fn answer(hivemq: &Hivemq, status: u16, body: &str) -> Step {
    let (mut flow, _) = hivemq.start(&disconnect("c1"), &ENV);
    let response = VendorResponse {
        status,
        headers: &[("retry-after", b"4")],
        body: body.as_bytes(),
    };
    hivemq.resume(&mut flow, Input::Response(response), &ENV)
}

fn header<'a>(r: &'a VendorRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn errors(title: &str, detail: &str) -> String {
    json!({"errors": [{"title": title, "detail": detail}]}).to_string()
}

#[test]
fn by_default_the_connection_is_closed_and_the_session_kept_without_auth() {
    let hivemq = create(json!({})).unwrap();
    let r = sent(hivemq.start(&disconnect("dev/7 #é+$"), &ENV).1);
    assert_eq!(r.method, "DELETE");
    assert_eq!(
        r.url,
        format!("{URL}/api/v1/mqtt/clients/dev%2F7%20%23%C3%A9%2B%24/connection?preventWillMessage=false")
    );
    assert_eq!(header(&r, "accept"), Some("application/json"));
    assert_eq!(header(&r, "authorization"), None);
    assert_eq!(r.body, "");
    assert!(r.idempotent);
    assert!(r.redact.is_empty());
}

#[test]
fn invalidate_session_selects_the_session_delete_and_prevent_will_message_is_sent() {
    let settings = json!({"invalidate_session": true, "prevent_will_message": true,
                          "username": "sever", "password": "pw-1"});
    let hivemq = create(settings).unwrap();
    let r = sent(hivemq.start(&disconnect("c1"), &ENV).1);
    assert_eq!(
        r.url,
        format!("{URL}/api/v1/mqtt/clients/c1?preventWillMessage=true")
    );
    // base64("sever:pw-1")
    assert_eq!(header(&r, "authorization"), Some("Basic c2V2ZXI6cHctMQ=="));
    assert_eq!(r.redact, ["c2V2ZXI6cHctMQ=="]);
}

#[test]
fn booleans_are_read_from_their_text_too() {
    let hivemq = create(json!({"invalidate_session": "true", "prevent_will_message": "false"}));
    let r = sent(hivemq.unwrap().start(&disconnect("c1"), &ENV).1);
    assert_eq!(
        r.url,
        format!("{URL}/api/v1/mqtt/clients/c1?preventWillMessage=false")
    );
}

#[test]
fn a_204_is_done_and_a_retry_is_the_same_call() {
    let hivemq = create(json!({})).unwrap();
    let (mut flow, first) = hivemq.start(&disconnect("c1"), &ENV);
    let again = sent(hivemq.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV));
    assert_eq!(again, sent(first));
    let response = VendorResponse {
        status: 204,
        headers: &[],
        body: b"",
    };
    match hivemq.resume(&mut flow, Input::Response(response), &ENV) {
        Step::Done(done) => assert_eq!(done.vendor["status"], 204),
        other => panic!("{other:?}"),
    }
}

#[test]
fn resource_not_found_is_target_not_found_with_the_first_errors_words() {
    let hivemq = create(json!({})).unwrap();
    let body = errors("Resource not found", "Resource with id 'c1' not found");
    let p = failed(answer(&hivemq, 404, &body));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "hivemq has no connected client 'c1': Resource not found: Resource with id 'c1' not found"
    );
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["title"], "Resource not found");
    assert_eq!(
        vendor["message"],
        "Resource not found: Resource with id 'c1' not found"
    );

    let hivemq = create(json!({"invalidate_session": true})).unwrap();
    let p = failed(answer(&hivemq, 404, &body));
    assert!(
        p.detail.starts_with("hivemq has no session of client 'c1'"),
        "{}",
        p.detail
    );
}

#[test]
fn problem_json_and_raw_text_bodies_are_read_too() {
    let hivemq = create(json!({})).unwrap();
    let body = json!({"title": "Parameter invalid", "detail": "Query parameter 'x' is invalid"});
    let p = failed(answer(&hivemq, 400, &body.to_string()));
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert_eq!(
        p.vendor.unwrap()["message"],
        "Parameter invalid: Query parameter 'x' is invalid"
    );
    let p = failed(answer(&hivemq, 400, "bad\nthing"));
    assert_eq!(p.vendor.unwrap()["message"], "bad thing");
}

#[test]
fn ese_refusals_with_empty_bodies_are_credentials_refused() {
    let hivemq = create(json!({"username": "u", "password": "wrong-pw"})).unwrap();
    for status in [401, 403] {
        let p = failed(answer(&hivemq, status, ""));
        assert_eq!(p.kind, ProblemKind::CredentialsRefused, "{status}");
        assert!(p.detail.contains("no error body"), "{}", p.detail);
        assert!(p.detail.contains("rest-api-pipeline"), "{}", p.detail);
        assert!(!p.detail.contains("wrong-pw"));
    }
}

#[test]
fn throttling_is_rate_limited_and_5xx_are_retryable_vendor_errors() {
    let hivemq = create(json!({})).unwrap();
    let p = failed(answer(&hivemq, 429, ""));
    assert_eq!(p.kind, ProblemKind::RateLimited);
    assert_eq!(p.retry_after.as_deref(), Some("4"));
    let body = errors(
        "Endpoint not active yet",
        "Not all cluster nodes support it",
    );
    let p = failed(answer(&hivemq, 503, &body));
    assert_eq!(p.kind, ProblemKind::VendorError);
    assert!(p.retryable);
    assert!(p.detail.contains("Endpoint not active yet"), "{}", p.detail);
    let p = failed(answer(&hivemq, 500, ""));
    assert_eq!(p.kind, ProblemKind::VendorError);
    let p = failed(answer(&hivemq, 409, ""));
    assert_eq!(p.kind, ProblemKind::Rejected);
}

#[test]
fn a_2xx_other_than_204_is_unreadable() {
    let hivemq = create(json!({})).unwrap();
    let p = failed(answer(&hivemq, 200, "<html>hi</html>"));
    assert_eq!(p.kind, ProblemKind::Unreadable);
}

#[test]
fn username_and_password_come_together_or_not_at_all() {
    let errors = create(json!({"username": "u"})).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "password");
    let errors = create(json!({"password": "secret-pw"})).unwrap_err();
    assert_eq!(errors[0].key, "username");
    assert!(!errors[0].message.contains("secret-pw"));
    let errors = create(json!({"username": "a:b", "password": "pw"})).unwrap_err();
    assert_eq!(errors[0].key, "username");
    let errors = create(json!({"invalidate_session": "maybe"})).unwrap_err();
    assert_eq!(errors[0].key, "invalidate_session");
}

#[test]
fn the_metadata_declares_disconnect_and_the_secret_password() {
    let info = sever_plugin_sdk::info::<Hivemq>();
    assert_eq!(info.name, "hivemq");
    assert_eq!(info.actions.len(), 1);
    let keys: Vec<_> = info
        .settings
        .iter()
        .map(|s| (s.key.as_str(), s.secret))
        .collect();
    assert_eq!(
        keys,
        [
            ("username", false),
            ("password", true),
            ("prevent_will_message", false),
            ("invalidate_session", false)
        ]
    );
}
