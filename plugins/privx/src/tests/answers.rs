//! Every row of the mapping table: terminate answers and token endpoint answers.

use super::*;

#[test]
fn terminate_2xx_is_accepted_with_the_vendors_words() {
    for body in [
        "Connection(s) flagged for termination.",
        "\"Connection(s) flagged for termination.\"",
    ] {
        let Step::Done(success) = answer(200, body) else {
            panic!("{body}")
        };
        assert_eq!(success.outcome, Outcome::Accepted);
        assert_eq!(success.vendor["status"], 200);
        assert_eq!(
            success.vendor["message"],
            "Connection(s) flagged for termination."
        );
    }
    let Step::Done(success) = answer(200, "") else {
        panic!()
    };
    assert_eq!(success.outcome, Outcome::Accepted);
    assert!(!success.vendor.contains_key("message"));
}

#[test]
fn terminate_answers_map_per_the_vendors_table() {
    let error = |code: &str| {
        json!({"error_code": code, "error_message": format!("{code} happened"),
               "property": "connection_id", "details": []})
        .to_string()
    };
    // (status, body, canonical code, retryable)
    let cases = [
        (
            403,
            error("PERMISSION_DENIED"),
            ProblemKind::CredentialsRefused,
            false,
        ),
        (
            404,
            error("GENERAL_ERROR"),
            ProblemKind::TargetNotFound,
            false,
        ),
        (
            400,
            error("VALUE_INCORRECT_FORMAT"),
            ProblemKind::Rejected,
            false,
        ),
        (409, error("VALUE_DUPLICATE"), ProblemKind::Rejected, false),
        (503, error("GENERAL_ERROR"), ProblemKind::VendorError, true),
        (500, error("MAX_LOAD"), ProblemKind::VendorError, true),
        (
            500,
            error("TOO_MANY_CONNECTIONS"),
            ProblemKind::VendorError,
            true,
        ),
        (
            400,
            error("OUT_OF_RESOURCES"),
            ProblemKind::VendorError,
            true,
        ),
        (
            500,
            error("DATABASE_ERROR"),
            ProblemKind::VendorError,
            false,
        ),
        (
            502,
            error("INTRA_SERVICE_COMMUNICATION_ERROR"),
            ProblemKind::VendorError,
            false,
        ),
        (429, error("MAX_LOAD"), ProblemKind::RateLimited, false),
    ];
    for (status, body, code, retryable) in cases {
        let problem = failed(answer(status, &body));
        assert_eq!(
            (problem.kind, problem.retryable),
            (code, retryable),
            "{status} {body}"
        );
        let vendor = problem.vendor.unwrap();
        let sent: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(vendor["status"], status);
        assert_eq!(vendor["code"], sent["error_code"], "{status}");
        assert_eq!(vendor["message"], sent["error_message"], "{status}");
        assert_eq!(vendor["property"], "connection_id");
        let message = sent["error_message"].as_str().unwrap();
        assert!(problem.detail.contains(message), "{}", problem.detail);
    }
}

#[test]
fn a_404_names_the_target_and_an_empty_error_body_still_reads_well() {
    let problem = failed(answer(404, ""));
    assert_eq!(problem.kind, ProblemKind::TargetNotFound);
    assert!(problem.detail.contains(CONNECTION), "{}", problem.detail);
    assert!(
        problem.detail.contains("no error body"),
        "{}",
        problem.detail
    );
    let vendor = problem.vendor.unwrap();
    assert_eq!(vendor["status"], 404);
    assert!(!vendor.contains_key("code") && !vendor.contains_key("message"));
}

#[test]
fn a_vendor_429_passes_retry_after_on() {
    let privx = privx();
    let (mut flow, _) = through_token(&privx, &connection(), "t", T0);
    let headers = [("retry-after", b"12".as_slice())];
    let problem = failed(privx.resume(&mut flow, response(429, &headers, ""), &env(T0)));
    assert_eq!(problem.kind, ProblemKind::RateLimited);
    assert_eq!(problem.retry_after.as_deref(), Some("12"));
}

#[test]
fn unreadable_2xx_bodies_are_upstream_errors() {
    for body in ["<html><body>login</body></html>", "\u{0}\u{1}binary"] {
        let problem = failed(answer(200, body));
        assert_eq!(problem.kind, ProblemKind::Unreadable, "{body:?}");
        assert!(!problem.retryable);
    }
}

#[test]
fn token_endpoint_refusals_are_upstream_unauthorized_with_the_oauth_error() {
    let cases = [
        (400, "invalid_grant", "bad API client secret"),
        (401, "invalid_client", "client authentication failed"),
    ];
    for (status, error, description) in cases {
        let privx = privx();
        let (mut flow, _) = privx.start(&connection(), &env(T0));
        let body = json!({"error": error, "error_description": description}).to_string();
        let problem = failed(privx.resume(&mut flow, response(status, &[], &body), &env(T0)));
        assert_eq!(problem.kind, ProblemKind::CredentialsRefused, "{status}");
        let vendor = problem.vendor.unwrap();
        assert_eq!(vendor["status"], status);
        assert_eq!(vendor["code"], error);
        assert_eq!(vendor["message"], description);
        assert!(problem.detail.contains(error) && problem.detail.contains(description));
        assert!(!problem.detail.contains(API_SECRET) && !problem.detail.contains(OAUTH_SECRET));
        assert_eq!(privx.tokens.cached(T0), None);
    }
}

#[test]
fn other_token_endpoint_answers_map_by_status() {
    // (status, body, code, retryable)
    let cases = [
        (200, "<html>sso</html>", ProblemKind::Unreadable, false),
        (
            200,
            r#"{"token_type":"bearer"}"#,
            ProblemKind::Unreadable,
            false,
        ),
        (503, "", ProblemKind::VendorError, true),
        (
            500,
            r#"{"error":"server_error"}"#,
            ProblemKind::VendorError,
            true,
        ),
        (429, "", ProblemKind::RateLimited, false),
        (404, "404 page not found", ProblemKind::Rejected, false),
    ];
    for (status, body, code, retryable) in cases {
        let privx = privx();
        let (mut flow, _) = privx.start(&connection(), &env(T0));
        let problem = failed(privx.resume(&mut flow, response(status, &[], body), &env(T0)));
        assert_eq!(
            (problem.kind, problem.retryable),
            (code, retryable),
            "{status} {body}"
        );
    }
}
