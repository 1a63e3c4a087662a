//! The OAuth option: a signed client assertion for a token, then the bearer call.

use super::*;

fn oauth() -> Okta {
    create(
        json!({"client_id": "0oa-sever", "private_key": key("okta-test-rsa-2048.pem"),
                  "key_id": "kid-1"}),
    )
    .unwrap()
}

fn token_answer(token: &str) -> String {
    json!({"token_type": "Bearer", "expires_in": 3600, "access_token": token,
           "scope": "okta.users.manage"})
    .to_string()
}

fn bearer(request: &VendorRequest) -> Option<&str> {
    let auth = request.headers.iter().find(|(n, _)| n == "authorization");
    auth.and_then(|(_, v)| v.strip_prefix("Bearer "))
}

#[test]
fn the_token_request_carries_an_assertion_signed_as_openssl_signs_it() {
    let (_, step) = oauth().start(&user("00u1"), &env(T0));
    let r = sent(step);
    assert_eq!(
        (r.method.as_str(), r.url.as_str()),
        ("POST", "https://dev-1.okta.example/oauth2/v1/token")
    );
    let jwt = key("okta-test-assertion.jwt");
    assert_eq!(
        r.body,
        format!(
            "grant_type=client_credentials&scope=okta.users.manage&client_assertion_type=\
             urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={}",
            jwt.trim()
        )
    );
    assert!(
        r.redact.iter().any(|s| s == jwt.trim()),
        "the assertion is redacted"
    );
    assert_eq!((r.share.as_deref(), r.idempotent), (Some("token"), true));
    assert!(!r.headers.iter().any(|(n, _)| n == "authorization"));
}

#[test]
fn the_token_leads_to_a_bearer_revocation_and_is_cached() {
    let okta = oauth();
    let (mut flow, _) = okta.start(&user("00u1"), &env(T0));
    let body = token_answer("tok-okta");
    let call = sent(okta.resume(&mut flow, response(200, &[], &body), &env(T0)));
    assert_eq!(
        call.url,
        format!("{URL}/api/v1/users/00u1/sessions?oauthTokens=true")
    );
    assert_eq!(bearer(&call), Some("tok-okta"));
    assert_eq!(call.redact, ["tok-okta"]);
    let next = sent(okta.start(&user("00u2"), &env(T0 + 3_569_999)).1);
    assert_eq!(bearer(&next), Some("tok-okta"));
}

#[test]
fn a_retried_token_request_is_signed_afresh() {
    let okta = oauth();
    let (mut flow, first) = okta.start(&user("00u1"), &env(T0));
    let later = Env {
        unix_ms: T0 + 2_000,
        random: [9; 32],
    };
    let again = sent(okta.resume(&mut flow, Input::Retry { attempt: 1 }, &later));
    assert_ne!(again.body, sent(first).body, "new iat and jti");
}

#[test]
fn a_401_refreshes_once_then_is_upstream_unauthorized() {
    let okta = oauth();
    let (mut flow, _) = okta.start(&user("00u1"), &env(T0));
    sent(okta.resume(
        &mut flow,
        response(200, &[], &token_answer("tok-1")),
        &env(T0),
    ));
    let refused =
        json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided"}).to_string();
    let refresh = sent(okta.resume(&mut flow, response(401, &[], &refused), &env(T0)));
    assert!(refresh.url.ends_with("/oauth2/v1/token"));
    let retry = sent(okta.resume(
        &mut flow,
        response(200, &[], &token_answer("tok-2")),
        &env(T0),
    ));
    assert_eq!(bearer(&retry), Some("tok-2"));
    let problem = failed(okta.resume(&mut flow, response(401, &[], &refused), &env(T0)));
    assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
    assert!(
        problem.detail.contains("after one token refresh"),
        "{}",
        problem.detail
    );
}

#[test]
fn an_api_token_401_is_refused_at_once_without_a_refresh() {
    let refused =
        json!({"errorCode": "E0000011", "errorSummary": "Invalid token provided"}).to_string();
    let problem = failed(answer(401, &[], &refused));
    assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
    assert!(problem.detail.contains("API token"), "{}", problem.detail);
}

#[test]
fn a_refused_assertion_is_upstream_unauthorized_with_the_oauth_error() {
    let okta = oauth();
    let (mut flow, _) = okta.start(&user("00u1"), &env(T0));
    let body = json!({"error": "invalid_client", "error_description": "The client_assertion signature is invalid."}).to_string();
    let problem = failed(okta.resume(&mut flow, response(401, &[], &body), &env(T0)));
    assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
    let vendor = problem.vendor.unwrap();
    assert_eq!(
        (vendor["code"].as_str(), vendor["message"].as_str()),
        (
            Some("invalid_client"),
            Some("The client_assertion signature is invalid.")
        )
    );
}
