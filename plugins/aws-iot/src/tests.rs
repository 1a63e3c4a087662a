//! Pure tests of the adapter: the signed call for a fixed env, re-signing on retries, the
//! ids refused before sending, every row of the answer mapping, and settings. No sockets.
//!
//! The expected signatures were computed independently of `aws-sigv4`, with Python's
//! `hmac` and `hashlib` and `urllib.parse.quote` (the double-encoded canonical URI written
//! out by hand), after that script reproduced the published `get-vanilla` vector.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

const URL: &str = "https://a1b2c3-ats.iot.eu-west-1.amazonaws.com";
const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FwoGZXIvYXdzEK//token+/=";
/// 2023-11-14T22:13:20.123Z.
const ENV: Env = Env {
    unix_ms: 1_700_000_000_123,
    random: [7; 32],
};
/// Two seconds later.
const LATER: Env = Env {
    unix_ms: 1_700_000_002_000,
    random: [9; 32],
};

fn create(extra: serde_json::Value) -> Result<AwsIot, Vec<SettingError>> {
    let mut settings = json!({"region": "eu-west-1", "access_key_id": KEY_ID,
                              "secret_access_key": SECRET});
    for (k, v) in extra.as_object().unwrap() {
        settings[k] = v.clone();
    }
    sever_plugin_sdk::create::<AwsIot>(&BackendSpec {
        name: "iot-eu".into(),
        url: URL.into(),
        settings: settings.as_object().unwrap().clone(),
    })
}

fn backend() -> AwsIot {
    create(json!({})).unwrap()
}

fn disconnect(client_id: &str) -> Request {
    Request {
        request_id: "r1".into(),
        action: Action::Disconnect,
        target: Target {
            client_id: Some(client_id.into()),
            ..Target::default()
        },
        reason: None,
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

fn header<'a>(r: &'a VendorRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn authorization(date: &str, service: &str, signed: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={KEY_ID}/{date}/eu-west-1/{service}/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    )
}

fn answer(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let iot = backend();
    let (mut flow, _) = iot.start(&disconnect("c1"), &ENV);
    let response = VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    };
    iot.resume(&mut flow, Input::Response(response), &ENV)
}

#[test]
fn delete_connection_for_a_fixed_env_is_exactly_the_signed_call() {
    let r = sent(backend().start(&disconnect("dev/7 #é"), &ENV).1);
    assert_eq!(r.method, "DELETE");
    assert_eq!(
        r.url,
        format!(
            "{URL}/connections/dev%2F7%20%23%C3%A9?cleanSession=false&preventWillMessage=false"
        )
    );
    assert_eq!(r.body, "");
    assert!(r.idempotent);
    let signature = "b4797b02c89915fb182697ec58708f77fdef360a7fd464ae7e207bfb29e4997f";
    let expected = authorization("20231114", "iotdata", "host;x-amz-date", signature);
    assert_eq!(
        r.headers,
        [
            ("x-amz-date".to_owned(), "20231114T221320Z".to_owned()),
            ("authorization".to_owned(), expected),
        ]
    );
    assert_eq!(r.redact, [signature]);
}

#[test]
fn a_retry_is_signed_afresh_with_the_new_envs_time() {
    let iot = create(json!({"session_token": TOKEN, "clean_session": true,
                            "prevent_will_message": true}))
    .unwrap();
    let (mut flow, first) = iot.start(&disconnect("c1"), &ENV);
    let first = sent(first);
    let retry = sent(iot.resume(&mut flow, Input::Retry { attempt: 1 }, &LATER));
    assert_eq!(
        retry.url,
        format!("{URL}/connections/c1?cleanSession=true&preventWillMessage=true")
    );
    assert_eq!(header(&retry, "x-amz-date"), Some("20231114T221322Z"));
    assert_eq!(header(&retry, "x-amz-security-token"), Some(TOKEN));
    let signature = "4336fcd902008c79fec5ed546ea656aea8d30193bc55e045a70b87b5c59a2462";
    let expected = authorization(
        "20231114",
        "iotdata",
        "host;x-amz-date;x-amz-security-token",
        signature,
    );
    assert_eq!(header(&retry, "authorization"), Some(expected.as_str()));
    assert_ne!(
        header(&first, "authorization"),
        header(&retry, "authorization")
    );
    assert_eq!(retry.redact, [signature, TOKEN]);
}

#[test]
fn the_signing_name_is_configurable() {
    let iot = create(json!({"signing_name": "iotdevicegateway"})).unwrap();
    let r = sent(iot.start(&disconnect("c1"), &ENV).1);
    let signature = "e76d392b235e1d189f733cab084f1c6db5a26256af64fed621839f2d245f21f3";
    let expected = authorization("20231114", "iotdevicegateway", "host;x-amz-date", signature);
    assert_eq!(header(&r, "authorization"), Some(expected.as_str()));
}

#[test]
fn ids_aws_refuses_are_refused_before_anything_is_sent() {
    let iot = backend();
    let p = failed(iot.start(&disconnect("$aws/things"), &ENV).1);
    assert_eq!(p.kind, ProblemKind::InvalidTarget);
    assert!(p.detail.contains("'$'"), "{}", p.detail);
    let p = failed(iot.start(&disconnect(&"é".repeat(129)), &ENV).1);
    assert_eq!(p.kind, ProblemKind::InvalidTarget);
    assert!(p.detail.contains("128"), "{}", p.detail);
    // 128 characters (256 bytes) are fine.
    sent(iot.start(&disconnect(&"é".repeat(128)), &ENV).1);
    sent(iot.start(&disconnect("a$b"), &ENV).1);
}

#[test]
fn a_200_with_an_empty_body_or_an_object_is_done_with_the_request_id() {
    let headers: &[(&str, &[u8])] = &[("x-amzn-requestid", b"req-1")];
    for body in ["", "{}"] {
        match answer(200, headers, body) {
            Step::Done(done) => {
                assert_eq!(done.vendor["status"], 200);
                assert_eq!(done.vendor["request_id"], "req-1");
            }
            other => panic!("{other:?}"),
        }
    }
    let p = failed(answer(200, headers, "<html>portal</html>"));
    assert_eq!(p.kind, ProblemKind::Unreadable);
    let p = failed(answer(202, headers, ""));
    assert_eq!(p.kind, ProblemKind::Unreadable);
}

#[test]
fn resource_not_found_is_target_not_found_with_the_vendors_words() {
    let headers: &[(&str, &[u8])] = &[
        (
            "x-amzn-errortype",
            b"ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.iot.data/",
        ),
        ("x-amzn-requestid", b"req-2"),
    ];
    let body = r#"{"message": "No connection found for client c1"}"#;
    let p = failed(answer(404, headers, body));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "aws iot has no connected client 'c1': ResourceNotFoundException: No connection found for client c1"
    );
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["code"], "ResourceNotFoundException");
    assert_eq!(vendor["message"], "No connection found for client c1");
    assert_eq!(vendor["request_id"], "req-2");
}

#[test]
fn a_404_answering_a_retry_says_the_first_attempt_may_have_cut() {
    let iot = backend();
    let (mut flow, _) = iot.start(&disconnect("c1"), &ENV);
    sent(iot.resume(&mut flow, Input::Retry { attempt: 1 }, &LATER));
    let response = VendorResponse {
        status: 404,
        headers: &[],
        body: br#"{"__type": "com.amazonaws.iot#ResourceNotFoundException", "message": "gone"}"#,
    };
    let p = failed(iot.resume(&mut flow, Input::Response(response), &LATER));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(p.detail.contains("may have made the cut"), "{}", p.detail);
    assert_eq!(p.vendor.unwrap()["code"], "ResourceNotFoundException");
}

#[test]
fn credential_and_signature_failures_are_credentials_refused() {
    for (status, code) in [
        (401, "UnauthorizedException"),
        (403, "ForbiddenException"),
        (403, "InvalidSignatureException"),
        (403, "UnrecognizedClientException"),
        (403, "AccessDeniedException"),
        (400, "ExpiredTokenException"),
        (403, "SomethingNew"),
    ] {
        let headers: &[(&str, &[u8])] = &[("x-amzn-errortype", code.as_bytes())];
        let p = failed(answer(status, headers, r#"{"message": "nope"}"#));
        assert_eq!(p.kind, ProblemKind::CredentialsRefused, "{code}");
        assert!(p.detail.contains("iot:DeleteConnection"), "{}", p.detail);
        assert!(!p.detail.contains(SECRET));
    }
}

#[test]
fn invalid_requests_are_rejected_and_a_404_of_another_code_is_not_a_missing_client() {
    let body = r#"{"Message": "bad client id"}"#;
    let p = failed(answer(
        400,
        &[("x-amzn-errortype", b"InvalidRequestException")],
        body,
    ));
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert_eq!(p.vendor.unwrap()["message"], "bad client id");
    let p = failed(answer(
        404,
        &[("x-amzn-errortype", b"UnknownOperationException")],
        "",
    ));
    assert_eq!(p.kind, ProblemKind::Rejected);
}

#[test]
fn throttling_is_rate_limited_whatever_its_status() {
    let headers: &[(&str, &[u8])] = &[
        ("x-amzn-errortype", b"ThrottlingException"),
        ("retry-after", b"2"),
    ];
    for status in [429, 400] {
        let p = failed(answer(status, headers, r#"{"message": "Rate exceeded"}"#));
        assert_eq!(p.kind, ProblemKind::RateLimited, "{status}");
        assert_eq!(p.retry_after.as_deref(), Some("2"));
        assert!(!p.retryable);
    }
}

#[test]
fn server_failures_are_retryable_vendor_errors() {
    for code in ["InternalFailureException", "ServiceUnavailableException"] {
        let status = if code.starts_with("Internal") {
            500
        } else {
            503
        };
        let headers: &[(&str, &[u8])] = &[("x-amzn-errortype", code.as_bytes())];
        let p = failed(answer(status, headers, "{}"));
        assert_eq!(p.kind, ProblemKind::VendorError, "{code}");
        assert!(p.retryable);
        assert_eq!(p.vendor.unwrap()["code"], code);
    }
    let p = failed(answer(502, &[], "<html>bad gateway</html>"));
    assert_eq!(p.vendor.unwrap()["message"], "<html>bad gateway</html>");
}

#[test]
fn settings_are_checked_and_no_error_echoes_a_secret() {
    let errors = create(json!({"region": "EU West"})).unwrap_err();
    assert_eq!(errors[0].key, "region");
    let errors = create(json!({"signing_name": "IoT Data"})).unwrap_err();
    assert_eq!(errors[0].key, "signing_name");
    let errors = create(json!({"secret_access_key": "has space-secret"})).unwrap_err();
    assert_eq!(errors[0].key, "secret_access_key");
    assert!(!errors[0].message.contains("space-secret"));
    let errors = create(json!({"clean_session": "often"})).unwrap_err();
    assert_eq!(errors[0].key, "clean_session");
}

#[test]
fn the_metadata_marks_both_secrets() {
    let info = sever_plugin_sdk::info::<AwsIot>();
    assert_eq!(info.name, "aws-iot");
    let secret: Vec<_> = info
        .settings
        .iter()
        .filter(|s| s.secret)
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(secret, ["secret_access_key", "session_token"]);
}

#[test]
fn debug_never_shows_a_secret() {
    let iot = create(json!({"session_token": TOKEN})).unwrap();
    let shown = format!("{iot:?}");
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
}
