//! Pure tests of the iudx adapter: every request it plans, every refusal, every answer
//! it maps, without a socket.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};

const ENV: Env = Env {
    unix_ms: 1_700_000_000_000,
    random: [7; 32],
};

fn backend(id: &str) -> Iudx {
    try_backend(json!({"id": id, "apikey": "key-123"})).unwrap()
}

fn try_backend(settings: Value) -> Result<Iudx, Vec<SettingError>> {
    sever_plugin_sdk::create::<Iudx>(&BackendSpec {
        name: "iot".into(),
        url: "https://iudx.local:8443/base".into(),
        settings: settings.as_object().unwrap().clone(),
    })
}

fn target(source: &str, topic: &str, message_type: &str, client_id: Option<&str>) -> Target {
    Target {
        source: Some(source.into()),
        topic: Some(topic.into()),
        message_type: Some(message_type.into()),
        client_id: client_id.map(str::to_owned),
        ..Target::default()
    }
}

fn start(iudx: &Iudx, target: Target) -> Step {
    let request = Request {
        request_id: "r1".into(),
        action: Action::Unbind,
        target,
        reason: None,
    };
    iudx.start(&request, &ENV).1
}

fn sent(step: Step) -> VendorRequest {
    match step {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn refused(step: Step) -> Problem {
    match step {
        Step::Fail(p) => {
            assert_eq!(p.kind, ProblemKind::InvalidTarget, "{p:?}");
            p
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn pairs(r: &VendorRequest) -> Vec<(&str, &str)> {
    r.headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

#[test]
fn entity_mode_posts_to_entity_unbind_with_the_documented_headers() {
    let iudx = backend("alice/app1");
    let r = sent(start(
        &iudx,
        target("bob/sensor-1", "temp.#", "protected", None),
    ));
    assert_eq!(r.method, "POST");
    assert_eq!(r.url, "https://iudx.local:8443/base/entity/unbind");
    assert_eq!(
        pairs(&r),
        [
            ("id", "alice/app1"),
            ("apikey", "key-123"),
            ("to", "bob/sensor-1"),
            ("topic", "temp.#"),
            ("message-type", "protected"),
        ]
    );
    assert!(r.body.is_empty());
    assert!(r.idempotent);
    assert_eq!(r.redact, ["key-123"]);
}

#[test]
fn entity_mode_accepts_a_client_id_equal_to_its_own_id() {
    let iudx = backend("alice/app1");
    let r = sent(start(
        &iudx,
        target("bob/s", "t", "public", Some("alice/app1")),
    ));
    assert_eq!(r.url, "https://iudx.local:8443/base/entity/unbind");
    assert!(r.headers.iter().all(|(n, _)| n != "from"));
}

#[test]
fn owner_mode_posts_to_owner_unbind_with_from() {
    let iudx = backend("alice");
    let r = sent(start(
        &iudx,
        target("bob/sensor-1", "a/b/*", "diagnostics", Some("alice/app1")),
    ));
    assert_eq!(r.url, "https://iudx.local:8443/base/owner/unbind");
    assert_eq!(
        pairs(&r),
        [
            ("id", "alice"),
            ("apikey", "key-123"),
            ("to", "bob/sensor-1"),
            ("topic", "a/b/*"),
            ("message-type", "diagnostics"),
            ("from", "alice/app1"),
        ]
    );
}

#[test]
fn every_message_type_is_accepted_and_others_refused() {
    let iudx = backend("alice/app1");
    for message_type in MESSAGE_TYPES {
        sent(start(&iudx, target("bob/s", "t", message_type, None)));
    }
    for bad in ["Public", "priority", "public ", "all"] {
        let p = refused(start(&iudx, target("bob/s", "t", bad, None)));
        assert!(p.detail.contains("target.message_type"), "{}", p.detail);
    }
}

#[test]
fn owner_mode_without_client_id_is_refused() {
    let p = refused(start(
        &backend("alice"),
        target("bob/s", "t", "public", None),
    ));
    assert!(
        p.detail.contains("target.client_id is required"),
        "{}",
        p.detail
    );
}

#[test]
fn entity_mode_with_another_client_id_is_refused() {
    let p = refused(start(
        &backend("alice/app1"),
        target("bob/s", "t", "public", Some("alice/app2")),
    ));
    assert!(p.detail.contains("target.client_id"), "{}", p.detail);
}

#[test]
fn header_values_http_cannot_carry_are_refused_naming_the_field() {
    let iudx = backend("alice");
    let cases = [
        (
            target("bob/s\r\nX-Evil: 1", "t", "public", Some("a/b")),
            "target.source",
        ),
        (
            target("bob/s", "t\n", "public", Some("a/b")),
            "target.topic",
        ),
        (
            target("bob/s", "t", "public", Some("a/b\u{0}")),
            "target.client_id",
        ),
        (
            target("bob/s", "t\u{7f}", "public", Some("a/b")),
            "target.topic",
        ),
        (
            target("bob/s", "température", "public", Some("a/b")),
            "target.topic",
        ),
        (
            target(" bob/s", "t", "public", Some("a/b")),
            "target.source",
        ),
        (
            target("bob/s", "t\t", "public", Some("a/b")),
            "target.topic",
        ),
    ];
    for (target, field) in cases {
        let p = refused(start(&iudx, target));
        assert!(p.detail.contains(field), "{field}: {}", p.detail);
    }
}

#[test]
fn inner_spaces_and_reserved_url_characters_pass_unchanged() {
    let r = sent(start(
        &backend("alice"),
        target("bob/s", "a b?c=%2F&#", "public", Some("alice/x")),
    ));
    assert!(pairs(&r).contains(&("topic", "a b?c=%2F&#")));
}

#[test]
fn a_retry_plans_the_same_call_again() {
    let iudx = backend("alice/app1");
    let request = Request {
        request_id: "r".into(),
        action: Action::Unbind,
        target: target("bob/s", "t", "public", None),
        reason: None,
    };
    let (mut flow, first) = iudx.start(&request, &ENV);
    assert_eq!(
        iudx.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV),
        first
    );
}

fn respond(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let iudx = backend("alice/app1");
    let request = Request {
        request_id: "r".into(),
        action: Action::Unbind,
        target: target("bob/sensor-1", "temp", "protected", None),
        reason: None,
    };
    let (mut flow, _) = iudx.start(&request, &ENV);
    let response = VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    };
    iudx.resume(&mut flow, Input::Response(response), &ENV)
}

fn fail(status: u16, body: &str) -> Problem {
    match respond(status, &[], body) {
        Step::Fail(p) => p,
        other => panic!("{status}: expected a problem, got {other:?}"),
    }
}

fn error_body(message: &str) -> String {
    format!("{}\n", json!({ "error": message }))
}

#[test]
fn vendor_200_with_an_empty_body_is_done() {
    let Step::Done(s) = respond(200, &[], "") else {
        panic!()
    };
    assert_eq!(s.outcome, Outcome::Done);
    assert_eq!(s.vendor["status"], 200);
    assert!(matches!(respond(200, &[], "{}\n"), Step::Done(_)));
}

#[test]
fn vendor_200_with_html_is_upstream_error() {
    let p = fail(200, "<html><body>login</body></html>");
    assert_eq!(p.kind, ProblemKind::Unreadable);
}

#[test]
fn credential_messages_are_upstream_unauthorized_whatever_the_status() {
    for message in [
        "invalid id or apikey",
        "unauthorized",
        "you are not the owner of 'from' entity",
        "you are not the owner of 'to'",
    ] {
        for status in [400, 403] {
            let p = fail(status, &error_body(message));
            assert_eq!(
                p.kind,
                ProblemKind::CredentialsRefused,
                "{status} {message}"
            );
            let vendor = p.vendor.unwrap();
            assert_eq!(vendor["message"], message);
            assert_eq!(vendor["status"], status);
            assert!(p.detail.contains(message), "{}", p.detail);
        }
    }
    assert_eq!(fail(401, "").kind, ProblemKind::CredentialsRefused);
}

#[test]
fn other_request_errors_are_upstream_rejected_whatever_the_status() {
    for message in [
        "inputs missing in headers",
        "message-type is invalid",
        "'to' is not a valid entity",
        "invalid topic",
        "'from' value missing in header",
        "'from' is not a valid entity",
    ] {
        for status in [400, 403] {
            let p = fail(status, &error_body(message));
            assert_eq!(p.kind, ProblemKind::Rejected, "{status} {message}");
            assert_eq!(p.vendor.unwrap()["message"], message);
            assert!(p.detail.contains(message), "{}", p.detail);
        }
    }
}

#[test]
fn a_404_is_a_wrong_url_not_a_missing_target() {
    let p = fail(404, "<html>404</html>");
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert!(p.detail.contains("check the backend's url"), "{}", p.detail);
}

#[test]
fn vendor_429_is_rate_limited_with_retry_after() {
    let headers = [("retry-after", b"5".as_slice())];
    let Step::Fail(p) = respond(429, &headers, "") else {
        panic!()
    };
    assert_eq!(p.kind, ProblemKind::RateLimited);
    assert_eq!(p.retry_after.as_deref(), Some("5"));
}

#[test]
fn a_500_with_a_raw_newline_in_the_string_is_a_clean_upstream_error() {
    let body =
        "{\"error\":\"unbind failed e={bob/sensor-1.protected} q={alice/app1} t={temp}\n\"}\n";
    assert!(
        serde_json::from_str::<Value>(body).is_err(),
        "must be invalid JSON"
    );
    let p = fail(500, body);
    assert_eq!(p.kind, ProblemKind::VendorError);
    assert!(p.retryable);
    let vendor = p.vendor.clone().unwrap();
    assert_eq!(
        vendor["message"],
        "unbind failed e={bob/sensor-1.protected} q={alice/app1} t={temp}"
    );
    assert!(!p.detail.chars().any(char::is_control), "{:?}", p.detail);
    assert!(p.detail.contains("unbind failed"), "{}", p.detail);
    // The whole problem serialises to valid JSON without raw control characters.
    let text = serde_json::to_string(&p).unwrap();
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

#[test]
fn unreadable_error_bodies_keep_a_safe_excerpt() {
    let p = fail(500, "Internal\r\nServer\u{0}Error");
    assert_eq!(p.vendor.unwrap()["message"], "Internal  Server Error");
    let p = fail(502, "");
    assert_eq!(p.kind, ProblemKind::VendorError);
    assert!(p.vendor.unwrap().get("message").is_none());
    let p = fail(500, r#"{"error":"DB error while setup"}"#);
    assert_eq!(p.vendor.unwrap()["message"], "DB error while setup");
}

#[test]
fn lenient_reading_keeps_escapes_and_ignores_whitespace_between_tokens() {
    let message = answer::error_message(b"{\n\t\"error\" : \"a \\\"q\\\"\tb\"\n}\n");
    assert_eq!(message.as_deref(), Some("a \"q\" b"));
}

#[test]
fn info_declares_unbind_with_client_id_as_an_optional_field() {
    let info = sever_plugin_sdk::info::<Iudx>();
    let spec = info.action(Action::Unbind).unwrap();
    assert_eq!(
        spec.target_sets,
        [vec![
            TargetField::Source,
            TargetField::Topic,
            TargetField::MessageType
        ]]
    );
    assert_eq!(spec.optional_fields, [TargetField::ClientId]);
    assert_eq!(info.secret_keys().collect::<Vec<_>>(), ["apikey"]);
}

#[test]
fn settings_errors_name_the_keys_and_never_echo_the_apikey() {
    let errors = try_backend(json!({"apikey": "has space", "key": "k-secret"})).unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["key", "id", "apikey"]);
    assert!(errors
        .iter()
        .all(|e| !e.message.contains("has space") && !e.message.contains("k-secret")));
    let errors = try_backend(json!({"id": "alice/é", "apikey": ""})).unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["apikey", "id"]);
}

#[test]
fn debug_output_never_shows_the_apikey() {
    let shown = format!("{:?}", backend("alice"));
    assert!(!shown.contains("key-123"), "{shown}");
}
