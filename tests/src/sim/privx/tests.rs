//! The PrivX simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::contract::{is_uuid, parse_form};
use super::{Endpoint, PrivxSim, PrivxSimConfig, TERMINATE_PREFIX, TOKEN_PATH};
use crate::harness::http::{self, Reply};
use crate::sim::Fault;

const CONN: &str = "11111111-2222-4333-8444-555555555555";
const CONN_2: &str = "11111111-2222-4333-8444-666666666666";
const OTHER_CONN: &str = "99999999-2222-4333-8444-555555555555";
const USER: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const HOST: &str = "bbbbbbbb-0000-4000-8000-000000000001";
const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";
/// base64("privx-external:oauth-secret")
const BASIC: &str = "Basic cHJpdngtZXh0ZXJuYWw6b2F1dGgtc2VjcmV0";
const FORM: &str = "application/x-www-form-urlencoded";
const GRANT: &str = "grant_type=password&username=api-client&password=api%20s3cret%26x";

fn config() -> PrivxSimConfig {
    PrivxSimConfig::new(
        "privx-external",
        "oauth-secret",
        "api-client",
        "api s3cret&x",
    )
    .with_connection(CONN, USER, HOST)
    .with_connection(CONN_2, USER, HOST)
    .with_connection(OTHER_CONN, "cccccccc-0000-4000-8000-000000000001", HOST)
}

fn sim() -> PrivxSim {
    PrivxSim::start(config())
}

fn token_request(sim: &PrivxSim, headers: &[(&str, &str)], body: &str) -> Reply {
    let url = format!("{}{TOKEN_PATH}", sim.url());
    http::send("POST", &url, headers, Some(body.as_bytes()))
}

fn token(sim: &PrivxSim) -> String {
    let reply = token_request(
        sim,
        &[("authorization", BASIC), ("content-type", FORM)],
        GRANT,
    );
    assert_eq!(reply.status, 200, "{reply:#?}");
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

fn terminate(sim: &PrivxSim, kind: &str, id: &str, token: Option<&str>) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    let url = format!("{}{TERMINATE_PREFIX}{kind}/{id}", sim.url());
    http::send("POST", &url, &headers, None)
}

fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    assert_eq!(reply.json()["error"], error, "{reply:#?}");
    assert!(reply.json()["error_description"].is_string(), "{reply:#?}");
}

fn assert_privx_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    let body = reply.json();
    assert_eq!(body["error_code"], code, "{reply:#?}");
    assert!(body["error_message"].is_string(), "{reply:#?}");
    assert!(body["details"].is_array(), "{reply:#?}");
}

#[test]
fn the_password_grant_issues_a_fresh_bearer_token_each_time() {
    let sim = sim();
    let reply = token_request(
        &sim,
        &[("authorization", BASIC), ("content-type", FORM)],
        GRANT,
    );
    assert_eq!(reply.status, 200, "{reply:#?}");
    let body = reply.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body["refresh_token"].is_string() && body["scope"].is_string());
    let first = body["access_token"].as_str().unwrap().to_owned();
    let second = token(&sim);
    assert_ne!(first, second);
    assert_eq!(first.len(), 64);
    assert_eq!(sim.issued_tokens(), [first, second]);
}

#[test]
fn the_token_endpoint_wants_the_oauth_client_in_basic_credentials() {
    let sim = sim();
    for auth in [
        None,
        Some("Basic cHJpdngtZXh0ZXJuYWw6d3Jvbmc="), // privx-external:wrong
        Some("Basic !!!"),
        Some("Bearer cHJpdngtZXh0ZXJuYWw6b2F1dGgtc2VjcmV0"),
    ] {
        let mut headers = vec![("content-type", FORM)];
        headers.extend(auth.map(|a| ("authorization", a)));
        let reply = token_request(&sim, &headers, GRANT);
        assert_oauth_error(&reply, 401, "invalid_client");
    }
    assert!(sim.issued_tokens().is_empty());
}

#[test]
fn the_form_content_type_is_the_only_one_accepted() {
    let sim = sim();
    for content_type in [None, Some("application/json"), Some("text/plain")] {
        let mut headers = vec![("authorization", BASIC)];
        headers.extend(content_type.map(|ct| ("content-type", ct)));
        assert_oauth_error(
            &token_request(&sim, &headers, GRANT),
            400,
            "invalid_request",
        );
    }
    let with_charset = [
        ("authorization", BASIC),
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
    ];
    assert_eq!(token_request(&sim, &with_charset, GRANT).status, 200);
}

#[test]
fn the_grant_must_be_password_with_the_api_clients_credentials() {
    let sim = sim();
    let headers = [("authorization", BASIC), ("content-type", FORM)];
    let cases = [
        (
            "grant_type=client_credentials&username=api-client&password=api%20s3cret%26x",
            "unsupported_grant_type",
        ),
        (
            "grant_type=password&username=api-client&password=wrong",
            "invalid_grant",
        ),
        (
            "grant_type=password&username=other&password=api%20s3cret%26x",
            "invalid_grant",
        ),
        ("grant_type=password&username=api-client", "invalid_request"),
        (
            "grant_type=password&grant_type=password&username=api-client&password=x",
            "invalid_request",
        ),
        (
            "grant_type=password&username=api-client&password=%FF",
            "invalid_request",
        ),
    ];
    for (body, error) in cases {
        assert_oauth_error(&token_request(&sim, &headers, body), 400, error);
    }
    // `+` is a space in a form, like %20.
    let plus = "grant_type=password&username=api-client&password=api+s3cret%26x";
    assert_eq!(token_request(&sim, &headers, plus).status, 200);
}

#[test]
fn terminate_flags_a_known_connection_and_answers_the_documented_text() {
    let sim = sim();
    let token = token(&sim);
    let reply = terminate(&sim, "connection", CONN, Some(&token));
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.text, "Connection(s) flagged for termination.");
    assert_eq!(sim.flagged_connections(), [CONN]);
    // Flagging again is harmless.
    assert_eq!(
        terminate(&sim, "connection", CONN, Some(&token)).status,
        200
    );
}

#[test]
fn terminate_by_user_or_host_flags_all_their_connections() {
    let sim = sim();
    let token = token(&sim);
    assert_eq!(terminate(&sim, "user", USER, Some(&token)).status, 200);
    assert_eq!(sim.flagged_connections(), [CONN, CONN_2]);
    assert!(!sim.is_flagged(OTHER_CONN));
    assert_eq!(terminate(&sim, "host", HOST, Some(&token)).status, 200);
    assert!(sim.is_flagged(OTHER_CONN));
}

#[test]
fn unknown_targets_are_404_naming_the_property() {
    let sim = PrivxSim::start(config().with_user(UNKNOWN.replace('0', "e").as_str()));
    let token = token(&sim);
    for kind in ["connection", "user", "host"] {
        let reply = terminate(&sim, kind, UNKNOWN, Some(&token));
        assert_privx_error(&reply, 404, "GENERAL_ERROR");
        assert_eq!(reply.json()["property"], format!("{kind}_id"));
    }
    // A known user without connections is fine.
    let idle = UNKNOWN.replace('0', "e");
    assert_eq!(terminate(&sim, "user", &idle, Some(&token)).status, 200);
    assert!(sim.flagged_connections().is_empty());
}

#[test]
fn bearer_tokens_must_be_issued_unexpired_and_unrevoked() {
    // Tokens that expire as they are issued: no waiting for one to run out.
    let sim = PrivxSim::start(config().with_token_expiry(0));
    assert_privx_error(
        &terminate(&sim, "connection", CONN, None),
        401,
        "GENERAL_ERROR",
    );
    assert_privx_error(
        &terminate(&sim, "connection", CONN, Some("made-up")),
        401,
        "GENERAL_ERROR",
    );
    let expiring = token(&sim);
    let reply = terminate(&sim, "connection", CONN, Some(&expiring));
    assert_privx_error(&reply, 401, "GENERAL_ERROR");
    assert_eq!(
        reply.json()["error_message"],
        "OAuth2 token expired",
        "{reply:#?}"
    );

    let sim = PrivxSim::start(config());
    let revoked = token(&sim);
    sim.revoke_all_tokens();
    assert_privx_error(
        &terminate(&sim, "connection", CONN, Some(&revoked)),
        401,
        "GENERAL_ERROR",
    );
    let fresh = token(&sim);
    assert_eq!(
        terminate(&sim, "connection", CONN, Some(&fresh)).status,
        200
    );
    assert!(sim.flagged_connections().len() == 1);
}

#[test]
fn an_api_client_without_the_scope_is_403() {
    let sim = sim();
    sim.set_forbidden(true);
    let token = token(&sim);
    assert_privx_error(
        &terminate(&sim, "connection", CONN, Some(&token)),
        403,
        "PERMISSION_DENIED",
    );
    assert!(sim.flagged_connections().is_empty());
}

#[test]
fn ids_must_be_uuids_and_terminate_takes_no_body() {
    let sim = sim();
    let token = token(&sim);
    let reply = terminate(&sim, "connection", "not-a-uuid", Some(&token));
    assert_privx_error(&reply, 400, "VALUE_INCORRECT_FORMAT");
    assert_eq!(reply.json()["property"], "connection_id");
    let auth = format!("Bearer {token}");
    let url = format!("{}{TERMINATE_PREFIX}connection/{CONN}", sim.url());
    let with_body = http::send("POST", &url, &[("authorization", &auth)], Some(b"{}"));
    assert_privx_error(&with_body, 400, "INVALID_REQUEST_DATA");
    assert!(sim.flagged_connections().is_empty());
}

#[test]
fn other_methods_are_405_and_other_paths_404() {
    let sim = sim();
    let token = token(&sim);
    let auth = format!("Bearer {token}");
    let url = format!("{}{TERMINATE_PREFIX}connection/{CONN}", sim.url());
    let reply = http::send("GET", &url, &[("authorization", &auth)], None);
    assert_privx_error(&reply, 405, "BAD_REQUEST");
    assert_eq!(reply.header("allow"), Some("POST"));
    let reply = http::send("GET", &format!("{}{TOKEN_PATH}", sim.url()), &[], None);
    assert_oauth_error(&reply, 405, "invalid_request");
    for other in [
        "/".to_owned(),
        format!("{TERMINATE_PREFIX}session/{CONN}"),
        format!("{TERMINATE_PREFIX}connection/{CONN}/x"),
        format!("{TERMINATE_PREFIX}connection/"),
        "/auth/api/v1/oauth/token/".to_owned(),
    ] {
        let reply = http::send(
            "POST",
            &format!("{}{other}", sim.url()),
            &[("authorization", &auth)],
            None,
        );
        assert_privx_error(&reply, 404, "GENERAL_ERROR");
    }
    assert!(sim.flagged_connections().is_empty());
}

#[test]
fn calls_are_recorded_per_endpoint() {
    let sim = sim();
    let token = token(&sim);
    terminate(&sim, "connection", CONN, Some(&token));
    terminate(&sim, "user", UNKNOWN, Some(&token));
    assert_eq!(sim.calls().len(), 3);
    let tokens = sim.token_calls();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].body, GRANT);
    assert_eq!(tokens[0].header("authorization"), Some(BASIC));
    let terminates = sim.terminate_calls();
    let statuses: Vec<_> = terminates.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(200), Some(404)]);
    assert_eq!(terminates[1].segments[4..], ["user", UNKNOWN]);
    sim.clear_calls();
    assert!(sim.calls().is_empty());
}

#[test]
fn faults_are_set_per_endpoint() {
    let sim = sim();
    let token = token(&sim);
    sim.overload_next(Endpoint::Terminate, 1);
    assert_privx_error(
        &terminate(&sim, "connection", CONN, Some(&token)),
        503,
        "MAX_LOAD",
    );
    assert!(sim.flagged_connections().is_empty());
    assert_eq!(
        terminate(&sim, "connection", CONN, Some(&token)).status,
        200
    );

    sim.set_fault(Endpoint::Token, Fault::InternalError);
    let headers = [("authorization", BASIC), ("content-type", FORM)];
    assert_privx_error(&token_request(&sim, &headers, GRANT), 500, "GENERAL_ERROR");
    assert_eq!(
        terminate(&sim, "connection", CONN, Some(&token)).status,
        200
    );
    sim.set_fault(Endpoint::Token, Fault::Garbage);
    let reply = token_request(&sim, &headers, GRANT);
    assert_eq!(reply.status, 200);
    assert!(reply.json.is_none(), "{reply:#?}");
    sim.set_fault(Endpoint::Token, Fault::None);

    sim.set_overloaded(Endpoint::Terminate, true);
    sim.fail_next(Endpoint::Terminate, 1, Fault::HangUp);
    let url = format!("{}{TERMINATE_PREFIX}connection/{CONN}", sim.url());
    let auth = format!("Bearer {token}");
    assert!(http::try_send("POST", &url, &[("authorization", &auth)], None).is_err());
    assert_eq!(sim.calls().last().unwrap().status, None);
    assert_privx_error(
        &terminate(&sim, "connection", CONN, Some(&token)),
        503,
        "MAX_LOAD",
    );
    sim.set_overloaded(Endpoint::Terminate, false);
    assert_eq!(
        terminate(&sim, "connection", CONN, Some(&token)).status,
        200
    );
}

#[test]
fn a_slow_token_endpoint_holds_only_token_answers_back() {
    let sim = sim();
    let token = token(&sim);
    sim.set_delay(Endpoint::Token, Duration::from_millis(300));
    let started = Instant::now();
    self::token(&sim);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        terminate(&sim, "connection", CONN, Some(&token)).status,
        200
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn forms_and_uuids_are_parsed_strictly() {
    assert_eq!(
        parse_form(b"a=1&b=x+y%2B").unwrap(),
        [
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "x y+".to_owned())
        ]
    );
    assert!(parse_form(b"a=1&a=2").is_none());
    assert!(parse_form(b"novalue").is_none());
    assert!(is_uuid(CONN) && is_uuid(&CONN.to_uppercase()));
    assert!(!is_uuid("11111111-2222-4333-8444-55555555555") && !is_uuid("x"));
}
