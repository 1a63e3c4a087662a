//! Every row of the mapping table (API-token flows; the OAuth ones are in `oauth.rs`).

use super::*;

fn okta_error(code: &str, summary: &str) -> String {
    json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
           "errorId": "oaeAbC123", "errorCauses": []})
    .to_string()
}

#[test]
fn a_204_is_done_with_oktas_warning_and_request_id() {
    let headers = [("x-okta-request-id", b"req-okta-1".as_slice())];
    let Step::Done(success) = answer(204, &headers, "") else {
        panic!()
    };
    assert_eq!(success.outcome, Outcome::Done);
    assert_eq!(success.vendor["status"], 204);
    assert_eq!(success.vendor["request_id"], "req-okta-1");
    assert!(success.vendor["note"]
        .as_str()
        .unwrap()
        .contains("web or native apps"));
}

#[test]
fn okta_errors_map_per_the_vendors_table() {
    // (status, code, summary, kind, retryable)
    let cases = [
        (
            404,
            "E0000007",
            "Not found: Resource not found: 00u1 (User)",
            ProblemKind::TargetNotFound,
            false,
        ),
        (
            401,
            "E0000011",
            "Invalid token provided",
            ProblemKind::CredentialsRefused,
            false,
        ),
        (
            403,
            "E0000006",
            "You do not have permission to perform the requested action",
            ProblemKind::CredentialsRefused,
            false,
        ),
        (
            400,
            "E0000001",
            "Api validation failed: userId",
            ProblemKind::Rejected,
            false,
        ),
        (
            405,
            "E0000022",
            "The endpoint does not support the provided HTTP method",
            ProblemKind::Rejected,
            false,
        ),
        (
            500,
            "E0000009",
            "Internal Server Error",
            ProblemKind::VendorError,
            true,
        ),
    ];
    for (status, code, summary, kind, retryable) in cases {
        let headers = [("x-okta-request-id", b"req-9".as_slice())];
        let problem = failed(answer(status, &headers, &okta_error(code, summary)));
        assert_eq!(
            (problem.kind, problem.retryable),
            (kind, retryable),
            "{status}"
        );
        assert!(
            problem.detail.contains(summary) && problem.detail.contains(code),
            "{}",
            problem.detail
        );
        let vendor = problem.vendor.unwrap();
        assert_eq!(
            (vendor["code"].as_str(), vendor["message"].as_str()),
            (Some(code), Some(summary))
        );
        assert_eq!(
            (vendor["request_id"].as_str(), vendor["error_id"].as_str()),
            (Some("req-9"), Some("oaeAbC123"))
        );
    }
}

#[test]
fn error_causes_are_part_of_the_message() {
    let body = json!({"errorCode": "E0000001", "errorSummary": "Api validation failed: login",
        "errorCauses": [{"errorSummary": "login: must be an email"}, {"errorSummary": "x: y"}]})
    .to_string();
    let problem = failed(answer(400, &[], &body));
    let vendor = problem.vendor.unwrap();
    assert_eq!(
        vendor["message"],
        "Api validation failed: login (login: must be an email; x: y)"
    );
}

#[test]
fn a_429_waits_until_the_reset_by_the_answers_date_or_the_hosts_clock() {
    let body = okta_error(
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    );
    let date = ("date", b"Tue, 14 Nov 2023 22:13:20 GMT".as_slice()); // T0
    let reset = ("x-rate-limit-reset", b"1700000045".as_slice());
    let problem = failed(answer(
        429,
        &[reset, date, ("x-rate-limit-remaining", b"0")],
        &body,
    ));
    assert_eq!(
        (problem.kind, problem.retry_after.as_deref()),
        (ProblemKind::RateLimited, Some("45"))
    );
    assert_eq!(problem.vendor.unwrap()["code"], "E0000047");
    // Without a Date: the host's clock (the flow's env is T0).
    let problem = failed(answer(429, &[reset], &body));
    assert_eq!(problem.retry_after.as_deref(), Some("45"));
    let problem = failed(answer(429, &[("retry-after", b"3")], &body));
    assert_eq!(problem.retry_after.as_deref(), Some("3"));
}

#[test]
fn a_404_without_an_okta_error_and_a_markup_2xx_are_not_okta_answers() {
    let problem = failed(answer(404, &[], "<html>Not Found</html>"));
    assert_eq!(problem.kind, ProblemKind::Rejected);
    assert!(problem.detail.contains("url"), "{}", problem.detail);
    assert_eq!(
        failed(answer(200, &[], "<html>sign in</html>")).kind,
        ProblemKind::Unreadable
    );
}
