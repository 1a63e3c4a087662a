//! Every row of the mapping table: admin call answers and token endpoint answers.

use super::*;

#[test]
fn a_204_is_done_and_so_is_any_2xx_with_an_empty_or_json_body() {
    for (status, body) in [(204, ""), (200, "{}"), (200, " ")] {
        let Step::Done(success) = answer(status, &[], body) else {
            panic!("{status} {body:?}")
        };
        assert_eq!(success.outcome, Outcome::Done);
        assert_eq!(success.vendor["status"], status);
    }
}

#[test]
fn admin_answers_map_per_the_vendors_table() {
    // (status, body, kind, retryable, vendor code, vendor message)
    let cases = [
        (404, r#"{"error":"User not found"}"#, ProblemKind::TargetNotFound, false, None, Some("User not found")),
        (
            404,
            r#"{"error":"User not found","error_description":"For more on this error consult the server log at the debug level."}"#,
            ProblemKind::TargetNotFound,
            false,
            None,
            Some("User not found (For more on this error consult the server log at the debug level.)"),
        ),
        (404, r#"{"error":"Realm not found."}"#, ProblemKind::Rejected, false, None, Some("Realm not found.")),
        (404, r#"{"error":"HTTP 404 Not Found"}"#, ProblemKind::Rejected, false, None, Some("HTTP 404 Not Found")),
        (404, "", ProblemKind::Rejected, false, None, None),
        (403, r#"{"error":"unknown_error"}"#, ProblemKind::CredentialsRefused, false, Some("unknown_error"), None),
        (403, r#"{"error":"HTTP 403 Forbidden"}"#, ProblemKind::CredentialsRefused, false, None, Some("HTTP 403 Forbidden")),
        (400, r#"{"error":"invalid_request"}"#, ProblemKind::Rejected, false, Some("invalid_request"), None),
        (409, r#"{"error":"Conflict"}"#, ProblemKind::Rejected, false, None, Some("Conflict")),
        (
            500,
            r#"{"error":"unknown_error","error_description":"For more on this error consult the server log."}"#,
            ProblemKind::VendorError,
            true,
            Some("unknown_error"),
            Some("For more on this error consult the server log."),
        ),
        (503, "<html>down</html>", ProblemKind::VendorError, true, None, Some("<html>down</html>")),
    ];
    for (status, body, kind, retryable, code, message) in cases {
        let problem = failed(answer(status, &[], body));
        assert_eq!(
            (problem.kind, problem.retryable),
            (kind, retryable),
            "{status} {body}"
        );
        let vendor = problem.vendor.unwrap();
        assert_eq!(vendor["status"], status);
        assert_eq!(
            vendor.get("code").and_then(Value::as_str),
            code,
            "{status} {body}"
        );
        assert_eq!(
            vendor.get("message").and_then(Value::as_str),
            message,
            "{status} {body}"
        );
        if let Some(message) = message {
            assert!(problem.detail.contains(message), "{}", problem.detail);
        }
    }
}

#[test]
fn a_missing_session_is_target_not_found_and_a_retry_says_why_it_may_be_gone() {
    let kc = keycloak();
    let request = terminate(TargetField::ConnectionId, "sess-1");
    let (mut flow, _) = through_token(&kc, &request, "t");
    let gone = r#"{"error":"Sesssion not found"}"#;
    let problem = failed(kc.resume(&mut flow, response(404, &[], gone), &env(T0)));
    assert_eq!(problem.kind, ProblemKind::TargetNotFound);
    assert!(problem.detail.contains("sess-1") && !problem.detail.contains("retry"));
    let kc = keycloak();
    let (mut flow, _) = through_token(&kc, &request, "t");
    sent(kc.resume(&mut flow, Input::Retry { attempt: 1 }, &env(T0)));
    let problem = failed(kc.resume(&mut flow, response(404, &[], gone), &env(T0)));
    assert!(
        problem.detail.contains("this was a retry"),
        "{}",
        problem.detail
    );
    // The logout's own words are not a session's.
    let problem = failed(answer(404, &[], gone));
    assert_eq!(problem.kind, ProblemKind::Rejected);
}

#[test]
fn a_429_is_rate_limited_with_the_vendors_wait() {
    let problem = failed(answer(429, &[("retry-after", b"17")], ""));
    assert_eq!(problem.kind, ProblemKind::RateLimited);
    assert_eq!(problem.retry_after.as_deref(), Some("17"));
}

#[test]
fn a_2xx_body_that_is_not_keycloaks_is_an_upstream_error() {
    for body in ["<html><body>login</body></html>", "\u{0}binary"] {
        let problem = failed(answer(200, &[], body));
        assert_eq!(problem.kind, ProblemKind::Unreadable, "{body:?}");
    }
}

#[test]
fn token_endpoint_answers_map_to_unauthorized_or_rejected() {
    let cases = [
        (
            401,
            r#"{"error":"invalid_client","error_description":"Invalid client or Invalid client credentials"}"#,
            ProblemKind::CredentialsRefused,
        ),
        (
            400,
            r#"{"error":"unauthorized_client","error_description":"Client not enabled to retrieve service account"}"#,
            ProblemKind::CredentialsRefused,
        ),
        (
            404,
            r#"{"error":"Realm does not exist"}"#,
            ProblemKind::Rejected,
        ),
        (500, "", ProblemKind::VendorError),
    ];
    for (status, body, kind) in cases {
        let kc = keycloak();
        let (mut flow, _) = kc.start(&user("u-1"), &env(T0));
        let problem = failed(kc.resume(&mut flow, response(status, &[], body), &env(T0)));
        assert_eq!(problem.kind, kind, "{status} {body}");
        assert!(
            problem.detail.starts_with("keycloak: "),
            "{}",
            problem.detail
        );
        assert!(!problem.detail.contains(SECRET));
        if let Ok(Value::Object(sent)) = serde_json::from_str::<Value>(body) {
            let vendor = problem.vendor.unwrap();
            assert_eq!(vendor["code"], sent["error"]);
        }
    }
}
