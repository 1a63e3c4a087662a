//! Every flow of the token helper, with fixed `Env`s: no sockets, no clock.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::{Problem, ProblemKind};
use serde_json::json;

const T0: u64 = 1_700_000_000_000;
const ENDPOINT: &str = "https://idp.example/realms/r/token";

fn env(unix_ms: u64) -> Env {
    Env {
        unix_ms,
        random: [7; 32],
    }
}

fn client() -> TokenClient {
    TokenClient::new(
        "tinyidp",
        ENDPOINT.into(),
        Grant::ClientCredentials,
        ClientAuth::post("sever", "s3cret&x y"),
    )
}

fn call() -> VendorRequest {
    VendorRequest::new("POST", "https://idp.example/users/u1/logout".into()).idempotent(true)
}

fn respond<'a>(status: u16, headers: &'a [(&'a str, &'a [u8])], body: &'a str) -> Input<'a> {
    Input::Response(VendorResponse {
        status,
        headers,
        body: body.as_bytes(),
    })
}

fn token_body(token: &str, expires_in: u64) -> String {
    json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in}).to_string()
}

fn sent(step: Step) -> VendorRequest {
    match step {
        Step::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn step(resumed: Resumed<'_>) -> Step {
    match resumed {
        Resumed::Step(step) => step,
        Resumed::Answer(r) => panic!("expected the helper's step, got the answer {}", r.status),
    }
}

fn failed(resumed: Resumed<'_>) -> Problem {
    match step(resumed) {
        Step::Fail(problem) => problem,
        other => panic!("expected a problem, got {other:?}"),
    }
}

fn bearer(request: &VendorRequest) -> Option<&str> {
    let auth = request.headers.iter().find(|(n, _)| n == "authorization");
    auth.and_then(|(_, v)| v.strip_prefix("Bearer "))
}

/// A session through its token step (answered with `token`), and the call it led to.
fn warm(tokens: &TokenClient, token: &str, at: u64) -> (Session, VendorRequest) {
    let mut session = Session::default();
    let token_step = sent(tokens.send(&mut session, &env(at), call));
    assert_eq!(token_step.url, ENDPOINT);
    let body = token_body(token, 300);
    let next = tokens.resume(&mut session, respond(200, &[], &body), &env(at), call);
    (session, sent(step(next)))
}

#[test]
fn client_credentials_post_the_id_and_secret_in_the_form_and_list_every_secret_form() {
    let r = client()
        .scope("https://graph.example/.default")
        .token_request(&env(T0))
        .unwrap();
    assert_eq!((r.method.as_str(), r.url.as_str()), ("POST", ENDPOINT));
    let form = "application/x-www-form-urlencoded".to_owned();
    assert_eq!(r.headers, [("content-type".to_owned(), form)]);
    assert_eq!(
        r.body,
        "grant_type=client_credentials&client_id=sever&client_secret=s3cret%26x%20y\
         &scope=https%3A%2F%2Fgraph.example%2F.default"
    );
    assert_eq!(
        (r.share.as_deref(), r.purpose.as_deref()),
        (Some("token"), Some("token"))
    );
    assert!(r.idempotent, "asking for a token twice is harmless");
    for secret in ["s3cret&x y", "s3cret%26x%20y"] {
        assert!(
            r.redact.iter().any(|s| s == secret),
            "{secret} not redacted"
        );
    }
}

#[test]
fn the_password_grant_with_basic_client_credentials_keeps_the_secret_out_of_the_form() {
    let tokens = TokenClient::new(
        "privx",
        ENDPOINT.into(),
        Grant::password("api", "p w"),
        ClientAuth::basic("privx-external", "oauth"),
    );
    let r = tokens.token_request(&env(T0)).unwrap();
    // base64("privx-external:oauth")
    let basic = "cHJpdngtZXh0ZXJuYWw6b2F1dGg=";
    assert_eq!(
        r.headers[0],
        ("authorization".into(), format!("Basic {basic}"))
    );
    assert_eq!(r.body, "grant_type=password&username=api&password=p%20w");
    for secret in ["p w", "p%20w", "oauth", basic] {
        assert!(
            r.redact.iter().any(|s| s == secret),
            "{secret} not redacted"
        );
    }
    assert!(!format!("{tokens:?}").contains("oauth") && !format!("{tokens:?}").contains("p w"));
}

#[test]
fn a_cold_cache_asks_for_a_token_then_sends_the_call_with_it_and_caches_it() {
    let tokens = client();
    let (mut session, call) = warm(&tokens, "tok-1", T0);
    assert_eq!(call.url, "https://idp.example/users/u1/logout");
    assert_eq!(
        call.headers,
        [("authorization".to_owned(), "Bearer tok-1".to_owned())]
    );
    assert_eq!(call.redact, ["tok-1"]);
    assert!(call.idempotent && call.share.is_none());
    assert_eq!(tokens.cached(T0 + 1).as_deref(), Some("tok-1"));
    // The call's answer is the adapter's.
    let answer = tokens.resume(&mut session, respond(204, &[], ""), &env(T0), call_fn());
    assert!(matches!(answer, Resumed::Answer(r) if r.status == 204));
}

fn call_fn() -> impl FnOnce() -> VendorRequest {
    call
}

#[test]
fn a_warm_cache_sends_the_call_straight_away_until_the_margin_before_expiry() {
    let tokens = client();
    warm(&tokens, "tok-1", T0);
    let mut session = Session::default();
    let next = sent(tokens.send(&mut session, &env(T0 + 269_999), call));
    assert_eq!(bearer(&next), Some("tok-1"));
    let next = sent(tokens.send(&mut session, &env(T0 + 270_000), call));
    assert_eq!(
        next.url, ENDPOINT,
        "30 s before expiry a new token is taken"
    );
}

#[test]
fn flows_sharing_one_token_answer_each_use_it() {
    let tokens = client();
    let (mut a, mut b) = (Session::default(), Session::default());
    let first = sent(tokens.send(&mut a, &env(T0), call));
    let second = sent(tokens.send(&mut b, &env(T0), call));
    assert_eq!(first, second, "the same shared token step");
    let body = token_body("tok-shared", 300);
    for session in [&mut a, &mut b] {
        let next = sent(step(tokens.resume(
            session,
            respond(200, &[], &body),
            &env(T0),
            call,
        )));
        assert_eq!(bearer(&next), Some("tok-shared"));
    }
}

#[test]
fn a_401_takes_one_new_token_and_retries_once_then_hands_the_401_over() {
    let tokens = client();
    let (mut session, _) = warm(&tokens, "tok-old", T0);
    let refused = r#"{"error":"invalid_token"}"#;
    let refresh = sent(step(tokens.resume(
        &mut session,
        respond(401, &[], refused),
        &env(T0),
        call,
    )));
    assert_eq!(
        (refresh.url.as_str(), refresh.share.as_deref()),
        (ENDPOINT, Some("token"))
    );
    assert_eq!(tokens.cached(T0), None, "the refused token is dropped");
    assert!(session.refreshed());
    let body = token_body("tok-new", 300);
    let retry = sent(step(tokens.resume(
        &mut session,
        respond(200, &[], &body),
        &env(T0),
        call,
    )));
    assert_eq!(bearer(&retry), Some("tok-new"));
    let again = tokens.resume(&mut session, respond(401, &[], refused), &env(T0), call);
    assert!(matches!(again, Resumed::Answer(r) if r.status == 401 && r.body == refused.as_bytes()));
    assert_eq!(tokens.cached(T0), None, "nor is the second one kept");
}

#[test]
fn a_401_uses_the_token_another_request_cached_meanwhile() {
    let tokens = client();
    let (mut slow, _) = warm(&tokens, "tok-old", T0);
    tokens.forget("tok-old");
    warm(&tokens, "tok-fresh", T0 + 1);
    let next = sent(step(tokens.resume(
        &mut slow,
        respond(401, &[], ""),
        &env(T0 + 2),
        call,
    )));
    assert_eq!(bearer(&next), Some("tok-fresh"), "no second token request");
    assert_eq!(tokens.cached(T0 + 2).as_deref(), Some("tok-fresh"));
}

#[test]
fn a_retry_plans_the_last_exchange_again_from_the_cache() {
    let tokens = client();
    let (mut session, first) = warm(&tokens, "tok-1", T0);
    let again = sent(step(tokens.resume(
        &mut session,
        Input::Retry { attempt: 1 },
        &env(T0 + 5),
        call,
    )));
    assert_eq!(again, first);
    // A retried token request with nothing cached is the token request again.
    let cold = client();
    let mut session = Session::default();
    let first = sent(cold.send(&mut session, &env(T0), call));
    let again = sent(step(cold.resume(
        &mut session,
        Input::Retry { attempt: 1 },
        &env(T0),
        call,
    )));
    assert_eq!(again, first);
}

#[test]
fn token_endpoint_refusals_are_credentials_refused_with_the_oauth_error() {
    for status in [400, 401, 403] {
        let tokens = client();
        let mut session = Session::default();
        sent(tokens.send(&mut session, &env(T0), call));
        let body =
            json!({"error": "invalid_client", "error_description": "Invalid client\ncredentials",
                          "trace_id": "tr-1", "correlation_id": "co-1"})
            .to_string();
        let p = failed(tokens.resume(&mut session, respond(status, &[], &body), &env(T0), call));
        assert_eq!(p.kind, ProblemKind::CredentialsRefused, "{status}");
        let vendor = p.vendor.unwrap();
        assert_eq!(vendor["code"], "invalid_client");
        assert_eq!(vendor["message"], "Invalid client credentials");
        assert_eq!(
            (
                vendor["trace_id"].as_str(),
                vendor["correlation_id"].as_str()
            ),
            (Some("tr-1"), Some("co-1"))
        );
        assert!(
            p.detail
                .starts_with("tinyidp: the token endpoint refused the client credentials"),
            "{}",
            p.detail
        );
        assert!(
            p.detail
                .contains("invalid_client (Invalid client credentials)"),
            "{}",
            p.detail
        );
        assert!(!p.detail.contains("s3cret"));
        assert_eq!(tokens.cached(T0), None);
    }
}

#[test]
fn other_token_endpoint_answers_map_by_status() {
    let date = ("date", b"Tue, 14 Nov 2023 22:13:20 GMT".as_slice());
    // (status, headers, body, kind, retryable, retry_after)
    type Case<'a> = (
        u16,
        &'a [(&'a str, &'a [u8])],
        &'a str,
        ProblemKind,
        bool,
        Option<&'a str>,
    );
    let cases: [Case<'_>; 8] = [
        (
            404,
            &[],
            r#"{"error":"Realm does not exist"}"#,
            ProblemKind::Rejected,
            false,
            None,
        ),
        (
            429,
            &[("retry-after", b"9")],
            "",
            ProblemKind::RateLimited,
            false,
            Some("9"),
        ),
        (
            429,
            &[("x-rate-limit-reset", b"1700000060"), date],
            "",
            ProblemKind::RateLimited,
            false,
            Some("60"),
        ),
        (503, &[], "", ProblemKind::VendorError, true, None),
        (
            200,
            &[],
            "<html>sso</html>",
            ProblemKind::Unreadable,
            false,
            None,
        ),
        (
            200,
            &[],
            r#"{"token_type":"Bearer"}"#,
            ProblemKind::Unreadable,
            false,
            None,
        ),
        (
            200,
            &[],
            r#"{"access_token":"a b"}"#,
            ProblemKind::Unreadable,
            false,
            None,
        ),
        (
            200,
            &[],
            r#"{"access_token":"t","token_type":"DPoP"}"#,
            ProblemKind::Unreadable,
            false,
            None,
        ),
    ];
    for (status, headers, body, kind, retryable, retry_after) in cases {
        let tokens = client();
        let mut session = Session::default();
        sent(tokens.send(&mut session, &env(T0), call));
        let p = failed(tokens.resume(&mut session, respond(status, headers, body), &env(T0), call));
        assert_eq!((p.kind, p.retryable), (kind, retryable), "{status} {body}");
        assert_eq!(p.retry_after.as_deref(), retry_after, "{status} {body}");
        assert!(p.detail.starts_with("tinyidp: "), "{}", p.detail);
    }
}

#[test]
fn expires_in_may_be_a_string_and_defaults_when_missing() {
    let tokens = client().default_lifetime_s(60);
    let mut session = Session::default();
    sent(tokens.send(&mut session, &env(T0), call));
    let body = r#"{"access_token":"t","token_type":"bearer"}"#;
    sent(step(tokens.resume(
        &mut session,
        respond(200, &[], body),
        &env(T0),
        call,
    )));
    assert!(tokens.cached(T0 + 44_999).is_some() && tokens.cached(T0 + 45_000).is_none());
    let body = r#"{"access_token":"t2","expires_in":"8"}"#;
    let tokens = client();
    let mut session = Session::default();
    sent(tokens.send(&mut session, &env(T0), call));
    sent(step(tokens.resume(
        &mut session,
        respond(200, &[], body),
        &env(T0),
        call,
    )));
    assert!(tokens.cached(T0 + 5_999).is_some() && tokens.cached(T0 + 6_000).is_none());
}

#[cfg(feature = "client-assertion")]
mod assertion {
    use super::*;

    const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/");
    const AUDIENCE: &str = "https://dev-1.okta.example/oauth2/v1/token";

    fn key(name: &str) -> String {
        std::fs::read_to_string(format!("{KEYS}{name}")).unwrap()
    }

    #[test]
    fn the_assertion_matches_one_signed_independently_with_openssl() {
        let signer =
            ClientAssertion::rs256("0oa-sever", &key("okta-test-rsa-2048.pem"), Some("kid-1"))
                .unwrap();
        let expected = key("okta-test-assertion.jwt");
        assert_eq!(signer.sign(AUDIENCE, &env(T0)).unwrap(), expected.trim());
        let pkcs1 = ClientAssertion::rs256(
            "0oa-sever",
            &key("okta-test-rsa-2048.pkcs1.pem"),
            Some("kid-1"),
        )
        .unwrap();
        assert_eq!(
            pkcs1.sign(AUDIENCE, &env(T0)).unwrap(),
            expected.trim(),
            "PKCS#1 too"
        );
    }

    #[test]
    fn keys_that_cannot_sign_are_refused_without_echoing_them() {
        let weak = key("weak-rsa-1024.pem");
        for pem in [
            "not a key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
            weak.as_str(),
        ] {
            let err = ClientAssertion::rs256("c", pem, None).unwrap_err();
            assert!(err.starts_with("must be an RSA private key"), "{err}");
            assert!(!err.contains("AAAA") && !err.contains("MII"), "{err}");
        }
    }

    #[test]
    fn each_token_request_carries_a_fresh_signed_assertion_listed_for_redaction() {
        let signer =
            ClientAssertion::rs256("0oa-sever", &key("okta-test-rsa-2048.pem"), None).unwrap();
        assert!(!format!("{signer:?}").contains("MII"));
        let tokens = TokenClient::new(
            "okta",
            AUDIENCE.into(),
            Grant::ClientCredentials,
            ClientAuth::assertion(signer),
        )
        .scope("okta.users.manage");
        let first = tokens.token_request(&env(T0)).unwrap();
        let (head, jwt) = first.body.split_once("&client_assertion=").unwrap();
        assert_eq!(
            head,
            "grant_type=client_credentials&scope=okta.users.manage&client_assertion_type=\
             urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
        );
        assert_eq!(jwt.split('.').count(), 3);
        assert!(
            first.redact.iter().any(|s| s == jwt),
            "the assertion is a credential"
        );
        let later = Env {
            unix_ms: T0 + 1_000,
            random: [9; 32],
        };
        let second = tokens.token_request(&later).unwrap();
        assert_ne!(
            second.body, first.body,
            "a retry is signed afresh (new jti, new iat)"
        );
    }
}
