//! Pure tests of the adapter: the request it plans for a fixed env, retries, every row of
//! the answer mapping, and settings validation. No sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const SECRET: &str = "s3cr3t/Key+=";
const CLIENT: &str = "GID_test@@@dev 1*~é";

/// 2023-11-14T22:13:20Z; nonce `07070707-0707-4707-8707-070707070707`.
const ENV: Env = Env {
    unix_ms: 1_700_000_000_123,
    random: [7; 32],
};

/// The body for [`ENV`], [`CLIENT`] and [`backend`]'s settings; its signature was computed
/// independently (Python's `hmac`, `hashlib.sha1`, `urllib.parse.quote`).
const EXPECTED_BODY: &str = "AccessKeyId=LTAI5tTestKeyId&Action=CloseConnection\
    &ClientId=GID_test%40%40%40dev%201%2A~%C3%A9&Format=JSON&InstanceId=post-cn-0pp12gl1234\
    &RegionId=cn-shanghai&SignatureMethod=HMAC-SHA1\
    &SignatureNonce=07070707-0707-4707-8707-070707070707&SignatureVersion=1.0\
    &Timestamp=2023-11-14T22%3A13%3A20Z&Version=2020-04-20\
    &Signature=pMcoqBMjQcq1nI9d9T%2BDKjtot%2Fk%3D";

fn spec(settings: Value) -> BackendSpec {
    BackendSpec {
        name: "mqtt-cn".into(),
        url: "https://onsmqtt.cn-shanghai.aliyuncs.com".into(),
        settings: settings.as_object().unwrap().clone(),
    }
}

fn backend() -> AlibabaMqtt {
    sever_plugin_sdk::create::<AlibabaMqtt>(&spec(json!({
        "instance_id": "post-cn-0pp12gl1234",
        "access_key_id": "LTAI5tTestKeyId",
        "access_key_secret": SECRET,
        "region_id": "cn-shanghai",
    })))
    .unwrap()
}

fn request(client_id: &str) -> Request {
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

/// The body's parameters, decoded (every value must be percent-encoded UTF-8).
fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                let bytes: Vec<u8> = percent_decode(s);
                String::from_utf8(bytes).unwrap()
            };
            (decode(name), decode(value))
        })
        .collect()
}

fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn close_connection_for_a_fixed_env_is_exactly_the_signed_form_post() {
    let (_, step) = backend().start(&request(CLIENT), &ENV);
    let r = sent(step);
    assert_eq!(r.method, "POST");
    assert_eq!(r.url, "https://onsmqtt.cn-shanghai.aliyuncs.com/");
    assert_eq!(
        r.headers,
        [
            (
                "content-type".to_owned(),
                "application/x-www-form-urlencoded".to_owned()
            ),
            ("accept".to_owned(), "application/json".to_owned()),
        ]
    );
    assert_eq!(r.body, EXPECTED_BODY);
    assert!(r.idempotent);
    assert_eq!(r.purpose.as_deref(), Some("CloseConnection"));
    let params = form(&r.body);
    assert_eq!(params["ClientId"], CLIENT);
    assert_eq!(params["Signature"], "pMcoqBMjQcq1nI9d9T+DKjtot/k=");
    assert!(!params.contains_key("SecurityToken"));
}

#[test]
fn the_signature_and_the_secret_are_listed_for_redaction_and_the_secret_is_never_sent() {
    let r = sent(backend().start(&request("c"), &ENV).1);
    let signature = form(&r.body)["Signature"].clone();
    assert!(r.redact.contains(&signature), "{:?}", r.redact);
    assert!(r.redact.contains(&signature::percent(&signature)));
    assert!(r.redact.contains(&SECRET.to_owned()));
    for place in [&r.url, &r.body] {
        assert!(!place.contains(SECRET) && !place.contains(&signature::percent(SECRET)));
    }
    assert!(r.headers.iter().all(|(_, v)| !v.contains(SECRET)));
}

#[test]
fn an_sts_token_is_sent_as_security_token_and_redacted_raw_and_encoded() {
    let token = "CAIS+sts/token==";
    let adapter = sever_plugin_sdk::create::<AlibabaMqtt>(&spec(json!({
        "instance_id": "i", "access_key_id": "STS.abc",
        "access_key_secret": SECRET, "security_token": token,
    })))
    .unwrap();
    let r = sent(adapter.start(&request("c"), &ENV).1);
    let params = form(&r.body);
    assert_eq!(params["SecurityToken"], token);
    assert!(!params.contains_key("RegionId"));
    assert!(r.body.contains("SecurityToken=CAIS%2Bsts%2Ftoken%3D%3D&"));
    assert!(r.redact.contains(&"CAIS%2Bsts%2Ftoken%3D%3D".to_owned()));
    assert!(r.redact.contains(&token.to_owned()));
    // The token is signed like every other parameter.
    let mut unsigned = params.clone();
    let signature = unsigned.remove("Signature").unwrap();
    assert_eq!(signature::signature("POST", &unsigned, SECRET), signature);
}

#[test]
fn a_base_path_in_the_url_is_kept_and_a_trailing_slash_is_not_doubled() {
    let mut s = spec(json!({"instance_id": "i", "access_key_id": "k", "access_key_secret": "s"}));
    s.url = "http://127.0.0.1:9/gw/".into();
    let r = sent(
        sever_plugin_sdk::create::<AlibabaMqtt>(&s)
            .unwrap()
            .start(&request("c"), &ENV)
            .1,
    );
    assert_eq!(r.url, "http://127.0.0.1:9/gw/");
}

#[test]
fn a_retry_is_signed_afresh_with_the_new_envs_nonce_and_timestamp() {
    let adapter = backend();
    let (mut flow, first) = adapter.start(&request(CLIENT), &ENV);
    let first = sent(first);
    let later = Env {
        unix_ms: ENV.unix_ms + 2_000,
        random: [9; 32],
    };
    let again = sent(adapter.resume(&mut flow, Input::Retry { attempt: 1 }, &later));
    assert_ne!(first.body, again.body);
    let (a, b) = (form(&first.body), form(&again.body));
    assert_ne!(a["SignatureNonce"], b["SignatureNonce"]);
    assert_eq!(b["SignatureNonce"], "09090909-0909-4909-8909-090909090909");
    assert_eq!(b["Timestamp"], "2023-11-14T22:13:22Z");
    assert_ne!(a["Signature"], b["Signature"]);
    assert_eq!(a["ClientId"], b["ClientId"]);
    assert!(again.idempotent);
    assert!(again.redact.contains(&b["Signature"]));
    // The same env signs the same bytes: nothing but the env varies.
    let same = sent(adapter.resume(&mut flow, Input::Retry { attempt: 2 }, &ENV));
    assert_eq!(same.body, first.body);
}

fn respond_with(status: u16, headers: &[(&str, &[u8])], body: &str) -> Step {
    let adapter = backend();
    let (mut flow, _) = adapter.start(&request("sensor-17"), &ENV);
    let response = VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    };
    adapter.resume(&mut flow, Input::Response(response), &ENV)
}

fn error_body(code: &str, message: &str) -> String {
    json!({
        "RequestId": "5A9E9E0B-REQ", "HostId": "onsmqtt.cn-shanghai.aliyuncs.com",
        "Code": code, "Message": message,
        "Recommend": "https://api.aliyun.com/troubleshoot?q=x",
    })
    .to_string()
}

fn failed(step: Step) -> Problem {
    match step {
        Step::Fail(p) => p,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn success_true_is_done_with_the_vendors_request_id() {
    let body =
        r#"{"RequestId":"82B9E503-F4A1","Code":200,"Message":"operation success.","Success":true}"#;
    let Step::Done(s) = respond_with(200, &[], body) else {
        panic!()
    };
    assert_eq!(s.outcome, Outcome::Done);
    assert_eq!(s.vendor["status"], 200);
    assert_eq!(s.vendor["request_id"], "82B9E503-F4A1");
}

#[test]
fn success_written_as_strings_is_done_too() {
    let body =
        r#"{"RequestId":"R-2","Code":"200","Message":"operation success.","Success":"true"}"#;
    let Step::Done(s) = respond_with(200, &[], body) else {
        panic!()
    };
    assert_eq!(s.vendor["request_id"], "R-2");
    let body =
        r#"{"RequestId":"R-3","Code":"PermissionCheckFailed","Message":"m","Success":"false"}"#;
    let p = failed(respond_with(200, &[], body));
    assert_eq!(p.kind, ProblemKind::CredentialsRefused);
}

#[test]
fn every_row_of_the_mapping_table_maps_as_documented() {
    use ProblemKind::*;
    let rows: [(u16, &str, ProblemKind); 26] = [
        (400, "CheckAccountInfoFailed", CredentialsRefused),
        (403, "MqttOwnerCheckError", CredentialsRefused),
        (403, "SystemOverFlow", RateLimited),
        (400, "MqttInstanceNotFound", Rejected),
        (400, "InvalidParameter.ClientId", Rejected),
        (417, "InternalError", VendorError),
        (400, "InstancePermissionCheckFailed", CredentialsRefused),
        (400, "PermissionCheckFailed", CredentialsRefused),
        (400, "SignatureDoesNotMatch", CredentialsRefused),
        (404, "InvalidAccessKeyId.NotFound", CredentialsRefused),
        (403, "Forbidden.RAM", CredentialsRefused),
        (400, "InvalidAccessKeyId.Inactive", CredentialsRefused),
        (400, "InvalidSecurityToken.Expired", CredentialsRefused),
        (403, "SomethingElse", CredentialsRefused),
        (404, "ApiNotSupport", Rejected),
        (400, "InvalidTimeStamp.Expired", Rejected),
        (400, "SignatureNonceUsed", Rejected),
        (400, "MissingParameter", Rejected),
        (400, "InvalidParameter", Rejected),
        (404, "InstanceNotFound", Rejected),
        (429, "Throttling.User", RateLimited),
        (400, "Throttling.Api", RateLimited),
        (503, "Throttling", RateLimited),
        (429, "SomethingElse", RateLimited),
        (500, "InternalError", VendorError),
        (503, "ServiceUnavailable", VendorError),
    ];
    for (status, code, expected) in rows {
        let message = format!("message for {code}");
        let p = failed(respond_with(status, &[], &error_body(code, &message)));
        assert_eq!(p.kind, expected, "{status} {code}");
        let vendor = p.vendor.as_ref().unwrap();
        assert_eq!(vendor["status"], status, "{status} {code}");
        assert_eq!(vendor["code"], code);
        assert_eq!(vendor["message"], message.as_str());
        assert_eq!(vendor["request_id"], "5A9E9E0B-REQ");
        assert_eq!(
            vendor["recommend"],
            "https://api.aliyun.com/troubleshoot?q=x"
        );
        assert!(p.detail.contains(&message), "{}", p.detail);
        assert!(p.detail.contains(code), "{}", p.detail);
        assert_eq!(p.retryable, expected == VendorError, "{status} {code}");
        assert_ne!(p.kind, TargetNotFound);
    }
}

#[test]
fn success_false_with_status_200_is_mapped_by_its_code() {
    let body = |code: &str| {
        json!({"RequestId": "R", "Code": code, "Message": "m", "Success": false}).to_string()
    };
    let cases = [
        ("PermissionCheckFailed", ProblemKind::CredentialsRefused),
        ("Throttling.User", ProblemKind::RateLimited),
        ("ApiNotSupport", ProblemKind::Rejected),
        ("SomeUnknownCode", ProblemKind::Rejected),
        ("InternalError", ProblemKind::VendorError),
    ];
    for (code, expected) in cases {
        let p = failed(respond_with(200, &[], &body(code)));
        assert_eq!(p.kind, expected, "{code}");
        assert_eq!(p.vendor.as_ref().unwrap()["code"], code);
        assert_eq!(p.vendor.as_ref().unwrap()["status"], 200);
    }
    // An InternalError is worth a retry even inside a 200.
    assert!(failed(respond_with(200, &[], &body("InternalError"))).retryable);
    // An integer code with `Success: false` still fails.
    let p = failed(respond_with(
        200,
        &[],
        r#"{"RequestId":"R","Code":500,"Message":"boom","Success":false}"#,
    ));
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert_eq!(p.vendor.unwrap()["code"], "500");
}

#[test]
fn throttling_passes_the_vendors_retry_after_on_or_defaults_to_one_second() {
    let headers = [("retry-after", b"7".as_slice())];
    let p = failed(respond_with(
        429,
        &headers,
        &error_body("Throttling.User", "slow"),
    ));
    assert_eq!(p.retry_after.as_deref(), Some("7"));
    let p = failed(respond_with(
        429,
        &[],
        &error_body("Throttling.User", "slow"),
    ));
    assert_eq!(p.retry_after.as_deref(), Some("1"));
    let p = failed(respond_with(429, &[], "<html>Too Many Requests</html>"));
    assert_eq!(p.kind, ProblemKind::RateLimited);
    assert_eq!(p.retry_after.as_deref(), Some("1"));
}

#[test]
fn a_repeated_member_keeps_its_last_value_and_escaped_names_are_read() {
    // `Succ\u0065ss` is `Success` written with an escape; the last one says true.
    let body = r#"{"Success":false,"RequestId":"R-1","Succ\u0065ss":true,"HostId":{"a":[1]}}"#;
    let Step::Done(s) = respond_with(200, &[], body) else {
        panic!("expected done")
    };
    assert_eq!(s.vendor["request_id"], "R-1");
    let body = r#"{"Success":true,"Code":"InternalError","Success":false}"#;
    let p = failed(respond_with(200, &[], body));
    assert_eq!(p.kind, ProblemKind::VendorError);
}

#[test]
fn unreadable_answers_are_upstream_errors_with_an_excerpt() {
    let cases: [(u16, &str); 6] = [
        (200, "<html>proxy</html>"),
        (200, ""),
        (200, "[1,2]"),
        (200, r#"{"RequestId":"R","Code":200}"#),
        (502, "\u{0}\u{1}garbage"),
        (404, "<html>Not Found</html>"),
    ];
    for (status, body) in cases {
        let p = failed(respond_with(status, &[], body));
        assert_eq!(p.kind, ProblemKind::VendorError, "{status} {body:?}");
        assert_eq!(p.vendor.as_ref().unwrap()["status"], status);
        assert_eq!(p.retryable, status >= 500, "{status} {body:?}");
    }
    let p = failed(respond_with(200, &[], "<html>proxy</html>"));
    assert_eq!(p.vendor.unwrap()["message"], "<html>proxy</html>");
    assert!(p.detail.contains("<html>proxy</html>"), "{}", p.detail);
}

#[test]
fn an_error_without_a_message_shows_an_excerpt_of_the_body_instead() {
    let p = failed(respond_with(400, &[], r#"{"Code":"InvalidParameter"}"#));
    assert_eq!(p.kind, ProblemKind::Rejected);
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["message"], r#"{"Code":"InvalidParameter"}"#);
    assert!(vendor.get("request_id").is_none());
}

#[test]
fn the_vendors_request_id_header_is_used_when_the_body_has_none() {
    let headers = [("x-acs-request-id", b"HDR-1".as_slice())];
    let p = failed(respond_with(
        500,
        &headers,
        r#"{"Code":"InternalError","Message":"m"}"#,
    ));
    assert_eq!(p.vendor.unwrap()["request_id"], "HDR-1");
}

#[test]
fn info_declares_disconnect_by_client_id_and_the_secret_settings() {
    let info = sever_plugin_sdk::info::<AlibabaMqtt>();
    assert_eq!(info.actions.len(), 1);
    assert_eq!(info.actions[0].action, Action::Disconnect);
    assert_eq!(info.actions[0].target_sets, [vec![TargetField::ClientId]]);
    let secret: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secret, ["access_key_secret", "security_token"]);
    let required: Vec<&str> = info
        .settings
        .iter()
        .filter(|s| s.required)
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(
        required,
        ["instance_id", "access_key_id", "access_key_secret"]
    );
}

#[test]
fn settings_errors_name_every_key_and_never_echo_a_secret() {
    let errors = sever_plugin_sdk::create::<AlibabaMqtt>(&spec(json!({
        "instance_id": "",
        "access_key_secret": "hunter2 with space",
        "security_token": 12345,
        "region_id": "CN Shanghai",
        "acces_key_id": "typo-secret-value",
    })))
    .unwrap_err();
    let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "acces_key_id",
            "instance_id",
            "access_key_id",
            "security_token",
            "access_key_secret",
            "region_id"
        ]
    );
    for e in &errors {
        for secret in ["hunter2", "12345", "typo-secret-value"] {
            assert!(!e.message.contains(secret), "{e}");
        }
    }
    assert!(errors[4].message.contains("whitespace"));
}

#[test]
fn minimal_settings_are_enough() {
    let adapter = sever_plugin_sdk::create::<AlibabaMqtt>(&spec(
        json!({"instance_id": "i", "access_key_id": "k", "access_key_secret": "s"}),
    ))
    .unwrap();
    let params = form(&sent(adapter.start(&request("c"), &ENV).1).body);
    let names: Vec<&str> = params.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "AccessKeyId",
            "Action",
            "ClientId",
            "Format",
            "InstanceId",
            "Signature",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version"
        ]
    );
}
