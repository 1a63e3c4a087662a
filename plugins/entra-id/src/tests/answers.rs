//! Every row of the mapping table.

use super::*;

fn graph_error(code: &str, message: &str) -> String {
    json!({"error": {"code": code, "message": message,
                     "innerError": {"date": "2023-11-14T22:13:20", "request-id": "in-body-id"}}})
    .to_string()
}

#[test]
fn any_2xx_is_accepted_the_documented_204_and_the_200_of_the_known_issue() {
    let value = r#"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Edm.Boolean","value":true}"#;
    for (status, body) in [(200, value), (204, ""), (202, "{}")] {
        let headers = [("request-id", b"req-1".as_slice())];
        let Step::Done(success) = answer(status, &headers, body) else {
            panic!("{status}")
        };
        assert_eq!(success.outcome, Outcome::Accepted);
        assert_eq!(
            (
                success.vendor["status"].as_u64(),
                success.vendor["request_id"].as_str()
            ),
            (Some(u64::from(status)), Some("req-1"))
        );
    }
}

#[test]
fn graph_errors_map_per_the_vendors_table() {
    // (status, code, kind, retryable)
    let cases = [
        (
            404,
            "Request_ResourceNotFound",
            ProblemKind::TargetNotFound,
            false,
        ),
        (
            403,
            "Authorization_RequestDenied",
            ProblemKind::CredentialsRefused,
            false,
        ),
        (400, "Request_BadRequest", ProblemKind::Rejected, false),
        (409, "Conflict", ProblemKind::Rejected, false),
        (500, "generalException", ProblemKind::VendorError, true),
        (503, "serviceNotAvailable", ProblemKind::VendorError, true),
    ];
    for (status, code, kind, retryable) in cases {
        let message = format!("{code} happened");
        let problem = failed(answer(status, &[], &graph_error(code, &message)));
        assert_eq!(
            (problem.kind, problem.retryable),
            (kind, retryable),
            "{status}"
        );
        assert!(problem.detail.contains(&message), "{}", problem.detail);
        let vendor = problem.vendor.unwrap();
        assert_eq!(
            (vendor["code"].as_str(), vendor["message"].as_str()),
            (Some(code), Some(message.as_str()))
        );
        assert_eq!(
            vendor["request_id"], "in-body-id",
            "from innerError without a header"
        );
    }
}

#[test]
fn a_404_without_a_graph_error_is_a_wrong_url_not_a_missing_user() {
    let problem = failed(answer(404, &[], "<html>Not Found</html>"));
    assert_eq!(problem.kind, ProblemKind::Rejected);
    assert!(problem.detail.contains("url"), "{}", problem.detail);
}

#[test]
fn throttling_and_unavailability_pass_the_vendors_retry_after_on() {
    let headers = [("retry-after", b"25".as_slice()), ("request-id", b"hdr-id")];
    let problem = failed(answer(
        429,
        &headers,
        &graph_error("TooManyRequests", "slow down"),
    ));
    assert_eq!(
        (problem.kind, problem.retry_after.as_deref()),
        (ProblemKind::RateLimited, Some("25"))
    );
    assert_eq!(
        problem.vendor.unwrap()["request_id"],
        "hdr-id",
        "the header wins"
    );
    let problem = failed(answer(
        503,
        &headers,
        &graph_error("serviceNotAvailable", "busy"),
    ));
    assert_eq!(
        (
            problem.kind,
            problem.retryable,
            problem.retry_after.as_deref()
        ),
        (ProblemKind::VendorError, true, Some("25"))
    );
}

#[test]
fn a_2xx_that_is_markup_or_value_false_is_an_upstream_error() {
    assert_eq!(
        failed(answer(200, &[], "<html>proxy</html>")).kind,
        ProblemKind::Unreadable
    );
    assert_eq!(
        failed(answer(200, &[], r#"{"value":false}"#)).kind,
        ProblemKind::VendorError
    );
}

#[test]
fn token_endpoint_errors_are_upstream_unauthorized_with_the_aadsts_text() {
    let body = json!({"error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
        "error_codes": [7000215], "timestamp": "2023-11-14 22:13:20Z",
        "trace_id": "tr-9", "correlation_id": "co-9"})
    .to_string();
    for status in [400, 401] {
        let entra = entra();
        let (mut flow, _) = entra.start(&user("u-1"), &env(T0));
        let problem = failed(entra.resume(&mut flow, response(status, &[], &body), &env(T0)));
        assert_eq!(problem.kind, ProblemKind::CredentialsRefused);
        assert!(
            problem.detail.contains("AADSTS7000215"),
            "{}",
            problem.detail
        );
        let vendor = problem.vendor.unwrap();
        assert_eq!(
            (vendor["code"].as_str(), vendor["trace_id"].as_str()),
            (Some("invalid_client"), Some("tr-9"))
        );
    }
}
