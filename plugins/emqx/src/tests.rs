//! Pure tests of the adapter: every call it plans, every row of the answer mapping, the
//! paged listing, retries and settings. No sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

const URL: &str = "http://emqx.local:18083";
/// base64("sever-key:s3cret")
const BASIC: &str = "Basic c2V2ZXIta2V5OnMzY3JldA==";
const ENV: Env = Env {
    unix_ms: 1_700_000_000_000,
    random: [7; 32],
};

fn spec(settings: serde_json::Value) -> BackendSpec {
    BackendSpec {
        name: "emqx-1".into(),
        url: URL.into(),
        settings: settings.as_object().unwrap().clone(),
    }
}

fn backend() -> Emqx {
    sever_plugin_sdk::create::<Emqx>(&spec(
        json!({"api_key": "sever-key", "api_secret": "s3cret"}),
    ))
    .unwrap()
}

fn request(action: Action, target: Target) -> Request {
    Request {
        request_id: "r1".into(),
        action,
        target,
        reason: None,
    }
}

fn disconnect(client_id: &str) -> Request {
    let target = Target {
        client_id: Some(client_id.into()),
        ..Target::default()
    };
    request(Action::Disconnect, target)
}

fn terminate(user: &str) -> Request {
    let target = Target {
        user_id: Some(user.into()),
        ..Target::default()
    };
    request(Action::Terminate, target)
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

fn succeeded(step: Step) -> Success {
    match step {
        Step::Done(s) => s,
        other => panic!("expected done, got {other:?}"),
    }
}

fn respond(emqx: &Emqx, flow: &mut Flow, status: u16, body: &str) -> Step {
    let response = VendorResponse {
        status,
        headers: &[("retry-after", b"9")],
        body: body.as_bytes(),
    };
    emqx.resume(flow, Input::Response(response), &ENV)
}

fn header<'a>(r: &'a VendorRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn error(code: &str, message: &str) -> String {
    json!({"code": code, "message": message}).to_string()
}

/// One page of the user's clients: `(clientid, username)` rows.
fn page(rows: &[(&str, &str)], page: u64, hasnext: bool) -> String {
    let data: Vec<_> = rows
        .iter()
        .map(|(id, user)| json!({"clientid": id, "username": user, "connected": true, "node": "emqx@127.0.0.1"}))
        .collect();
    json!({"data": data, "meta": {"count": 1000, "limit": 100, "page": page, "hasnext": hasnext}})
        .to_string()
}

#[test]
fn disconnect_is_a_delete_of_the_encoded_client_with_basic_auth() {
    let emqx = backend();
    let (_, step) = emqx.start(&disconnect("dev/7 #é+$"), &ENV);
    let r = sent(step);
    assert_eq!(r.method, "DELETE");
    assert_eq!(
        r.url,
        format!("{URL}/api/v5/clients/dev%2F7%20%23%C3%A9%2B%24")
    );
    assert_eq!(header(&r, "authorization"), Some(BASIC));
    assert_eq!(r.body, "");
    assert!(r.idempotent);
    assert_eq!(r.redact, ["c2V2ZXIta2V5OnMzY3JldA=="]);
}

#[test]
fn a_204_is_done() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&disconnect("c1"), &ENV);
    let done = succeeded(respond(&emqx, &mut flow, 204, ""));
    assert_eq!(done.outcome, Outcome::Done);
    assert_eq!(done.vendor["status"], 204);
}

#[test]
fn clientid_not_found_is_target_not_found_with_the_vendors_words() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&disconnect("ghost"), &ENV);
    let body = error("CLIENTID_NOT_FOUND", "Client ID not found");
    let p = failed(respond(&emqx, &mut flow, 404, &body));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "emqx has no client 'ghost' (CLIENTID_NOT_FOUND: Client ID not found)"
    );
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["code"], "CLIENTID_NOT_FOUND");
    assert_eq!(vendor["message"], "Client ID not found");
}

#[test]
fn a_404_answering_a_retry_says_the_first_attempt_may_have_cut() {
    let emqx = backend();
    let (mut flow, first) = emqx.start(&disconnect("c1"), &ENV);
    let again = sent(emqx.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV));
    assert_eq!(again, sent(first));
    let body = error("CLIENTID_NOT_FOUND", "Client ID not found");
    let p = failed(respond(&emqx, &mut flow, 404, &body));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(p.detail.contains("may have made the cut"), "{}", p.detail);
}

#[test]
fn a_404_without_clientid_not_found_is_a_wrong_path_not_a_missing_client() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&disconnect("c1"), &ENV);
    let p = failed(respond(&emqx, &mut flow, 404, "<html>Not Found</html>"));
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert!(p.detail.contains("base path"), "{}", p.detail);
    assert_eq!(p.vendor.unwrap()["message"], "<html>Not Found</html>");
}

#[test]
fn refused_keys_and_roles_are_credentials_refused() {
    for (status, code, message) in [
        (401, "BAD_API_KEY_OR_SECRET", "Check api_key/api_secret"),
        (
            401,
            "AUTHORIZATION_HEADER_ERROR",
            "Support authorization: basic/bearer",
        ),
        (
            401,
            "API_KEY_NOT_ALLOW",
            "using API key/secret in this path is not permitted",
        ),
        (
            403,
            "UNAUTHORIZED_ROLE",
            "This API is not allowed for the role",
        ),
    ] {
        let emqx = backend();
        let (mut flow, _) = emqx.start(&disconnect("c1"), &ENV);
        let p = failed(respond(&emqx, &mut flow, status, &error(code, message)));
        assert_eq!(p.kind, ProblemKind::CredentialsRefused, "{code}");
        assert!(p.detail.contains(message), "{}", p.detail);
        assert!(!p.detail.contains("s3cret"));
        assert_eq!(p.vendor.unwrap()["code"], code);
    }
}

#[test]
fn bad_requests_are_rejected_throttling_rate_limited_and_5xx_retryable_errors() {
    let cases = [
        (400, "BAD_REQUEST", ProblemKind::Rejected, false),
        (400, "INVALID_PARAMETER", ProblemKind::Rejected, false),
        (429, "TOO_MANY_REQUESTS", ProblemKind::RateLimited, false),
        (500, "UNKNOWN_ERROR", ProblemKind::VendorError, true),
        (500, "NODE_DOWN", ProblemKind::VendorError, true),
    ];
    for (status, code, kind, retryable) in cases {
        let emqx = backend();
        let (mut flow, _) = emqx.start(&disconnect("c1"), &ENV);
        let p = failed(respond(&emqx, &mut flow, status, &error(code, "said")));
        assert_eq!(p.kind, kind, "{code}");
        assert_eq!(p.retryable, retryable, "{code}");
        let expected_retry_after = (status == 429).then(|| "9".to_owned());
        assert_eq!(p.retry_after, expected_retry_after, "{code}");
    }
}

#[test]
fn a_2xx_other_than_204_is_unreadable() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&disconnect("c1"), &ENV);
    let p = failed(respond(&emqx, &mut flow, 200, "<html>login</html>"));
    assert_eq!(p.kind, ProblemKind::Unreadable);
}

#[test]
fn terminate_lists_the_first_page_with_the_encoded_username() {
    let emqx = backend();
    let (_, step) = emqx.start(&terminate("alice b/&="), &ENV);
    let r = sent(step);
    assert_eq!(r.method, "GET");
    assert_eq!(
        r.url,
        format!("{URL}/api/v5/clients?username=alice%20b%2F%26%3D&page=1&limit=100")
    );
    assert_eq!(header(&r, "authorization"), Some(BASIC));
    assert!(r.idempotent);
}

#[test]
fn terminate_reads_every_page_then_kicks_all_listed_clients_once() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("alice"), &ENV);
    let body = page(&[("c1", "alice"), ("c2", "alice")], 1, true);
    let second = sent(respond(&emqx, &mut flow, 200, &body));
    assert_eq!(
        second.url,
        format!("{URL}/api/v5/clients?username=alice&page=2&limit=100")
    );
    // A retry of page 2 asks for page 2 again.
    let again = sent(emqx.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV));
    assert_eq!(again, second);
    // Page 2 repeats c2 (the pages shifted) and carries a row of another user.
    let body = page(&[("c2", "alice"), ("c3", "alice"), ("x", "bob")], 2, false);
    let bulk = sent(respond(&emqx, &mut flow, 200, &body));
    assert_eq!(bulk.method, "POST");
    assert_eq!(bulk.url, format!("{URL}/api/v5/clients/kickout/bulk"));
    assert_eq!(header(&bulk, "content-type"), Some("application/json"));
    assert_eq!(header(&bulk, "authorization"), Some(BASIC));
    assert_eq!(
        serde_json::from_str::<Value>(&bulk.body).unwrap(),
        json!(["c1", "c2", "c3"])
    );
    assert!(bulk.idempotent);
    let again = sent(emqx.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV));
    assert_eq!(again, bulk);
    let done = succeeded(respond(&emqx, &mut flow, 204, ""));
    assert_eq!(done.vendor["status"], 204);
    assert_eq!(done.vendor["closed"], 3);
    assert_eq!(done.vendor["clients"], json!(["c1", "c2", "c3"]));
}

#[test]
fn a_user_with_no_listed_client_is_target_not_found_and_nothing_is_kicked() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("alice"), &ENV);
    let p = failed(respond(
        &emqx,
        &mut flow,
        200,
        &page(&[("x", "bob")], 1, false),
    ));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "emqx lists no client of user 'alice'; nothing was kicked"
    );
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["listed"], 0);
    assert_eq!(vendor["status"], 200);
}

#[test]
fn a_meta_without_hasnext_pages_by_count() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
    let rows = json!([{"clientid": "c1", "username": "u"}]);
    let body = json!({"data": rows, "meta": {"count": 150, "limit": 100, "page": 1}});
    let next = sent(respond(&emqx, &mut flow, 200, &body.to_string()));
    assert!(next.url.ends_with("&page=2&limit=100"), "{}", next.url);
    let body = json!({"data": [], "meta": {"count": 150, "limit": 100, "page": 2}});
    let bulk = sent(respond(&emqx, &mut flow, 200, &body.to_string()));
    assert_eq!(bulk.body, r#"["c1"]"#);
}

#[test]
fn a_list_that_is_not_a_page_is_unreadable() {
    for body in [
        "<html>login</html>",
        r#"{"data": {}, "meta": {}}"#,
        r#"{"data": [{"username": "u"}], "meta": {"hasnext": false}}"#,
        r#"{"data": [], "meta": {"page": 1}}"#,
    ] {
        let emqx = backend();
        let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
        let p = failed(respond(&emqx, &mut flow, 200, body));
        assert_eq!(p.kind, ProblemKind::Unreadable, "{body}");
        assert!(
            p.detail.contains("listing the clients of user 'u'"),
            "{}",
            p.detail
        );
    }
}

#[test]
fn a_vendor_announcing_pages_forever_is_stopped_at_max_pages() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
    let mut step = respond(&emqx, &mut flow, 200, &page(&[("c", "u")], 1, true));
    for n in 2..=MAX_PAGES {
        assert!(matches!(step, Step::Send(_)), "page {n}");
        step = respond(
            &emqx,
            &mut flow,
            200,
            &page(&[("c", "u")], u64::from(n), true),
        );
    }
    let p = failed(step);
    assert_eq!(p.kind, ProblemKind::Unreadable);
    assert!(p.detail.contains("nothing was cut"), "{}", p.detail);
}

#[test]
fn a_refused_list_is_credentials_refused_and_a_list_404_is_rejected() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
    let body = error("BAD_API_KEY_OR_SECRET", "Check api_key/api_secret");
    let p = failed(respond(&emqx, &mut flow, 401, &body));
    assert_eq!(p.kind, ProblemKind::CredentialsRefused);
    assert!(
        p.detail.contains("listing the clients of user 'u'"),
        "{}",
        p.detail
    );

    let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
    let p = failed(respond(&emqx, &mut flow, 404, ""));
    assert_eq!(p.kind, ProblemKind::Rejected);
}

#[test]
fn a_failed_bulk_kick_says_how_many_were_listed() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
    sent(respond(
        &emqx,
        &mut flow,
        200,
        &page(&[("c1", "u"), ("c2", "u")], 1, false),
    ));
    let p = failed(respond(
        &emqx,
        &mut flow,
        500,
        &error("NODE_DOWN", "node is down"),
    ));
    assert_eq!(p.kind, ProblemKind::VendorError);
    assert!(p.retryable);
    assert!(
        p.detail.contains("bulk kick of user 'u''s 2 clients"),
        "{}",
        p.detail
    );
    assert_eq!(p.vendor.unwrap()["listed"], 2);
}

#[test]
fn a_bulk_kick_answering_200_is_unreadable() {
    let emqx = backend();
    let (mut flow, _) = emqx.start(&terminate("u"), &ENV);
    sent(respond(
        &emqx,
        &mut flow,
        200,
        &page(&[("c1", "u")], 1, false),
    ));
    let p = failed(respond(&emqx, &mut flow, 200, "{}"));
    assert_eq!(p.kind, ProblemKind::Unreadable);
}

#[test]
fn settings_need_both_keys_and_a_key_without_colon() {
    let errors = sever_plugin_sdk::create::<Emqx>(&spec(json!({"api_key": "k"}))).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].key, "api_secret");
    let errors =
        sever_plugin_sdk::create::<Emqx>(&spec(json!({"api_key": "a:b", "api_secret": "s3cret"})))
            .unwrap_err();
    assert_eq!(errors[0].key, "api_key");
    assert!(!errors[0].message.contains("s3cret"));
}

#[test]
fn the_metadata_declares_disconnect_by_client_and_terminate_by_user() {
    let info = sever_plugin_sdk::info::<Emqx>();
    assert_eq!(info.name, "emqx");
    let actions: Vec<_> = info.actions.iter().map(|a| a.action).collect();
    assert_eq!(actions, [Action::Disconnect, Action::Terminate]);
    let secret: Vec<_> = info
        .settings
        .iter()
        .filter(|s| s.secret)
        .map(|s| s.key.as_str())
        .collect();
    assert_eq!(secret, ["api_secret"]);
}

#[test]
fn debug_never_shows_the_credentials() {
    let shown = format!("{:?}", backend());
    assert!(!shown.contains("c2V2ZXIta2V5OnMzY3JldA=="), "{shown}");
}
