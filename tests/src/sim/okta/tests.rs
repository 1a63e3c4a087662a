//! The Okta simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use super::{OktaSim, OktaSimConfig};
use crate::harness::http::{self, Reply};

const SSWS: &str = "SSWS 00tok";

fn sim() -> OktaSim {
    OktaSim::start(
        OktaSimConfig::new()
            .with_api_token("00tok")
            .with_user("00u1", 2),
    )
}

fn revoke(sim: &OktaSim, tail: &str, auth: &str) -> Reply {
    let url = format!("{}/api/v1/users/{tail}", sim.url());
    http::send(
        "DELETE",
        &url,
        &[("authorization", auth), ("accept", "application/json")],
        None,
    )
}

#[test]
fn a_revocation_is_204_every_time_with_oktas_headers() {
    let sim = sim();
    let reply = revoke(
        &sim,
        "00u1/sessions?oauthTokens=true&forgetDevices=false",
        SSWS,
    );
    assert_eq!(reply.status, 204, "{reply:#?}");
    for name in ["x-okta-request-id", "date", "x-rate-limit-reset"] {
        assert!(reply.header(name).is_some(), "{name}");
    }
    assert_eq!(
        revoke(&sim, "00u1/sessions?oauthTokens=false", SSWS).status,
        204
    );
    let made = sim.revocations();
    assert_eq!(
        (made[0].sessions, made[0].forget_devices, made[1].sessions),
        (2, Some(false), 0)
    );
    assert!(!made[1].oauth_tokens);
}

#[test]
fn errors_are_oktas_own() {
    let sim = sim();
    let cases = [
        ("nobody/sessions?oauthTokens=true", SSWS, 404, "E0000007"),
        (
            "00u1/sessions?oauthTokens=true",
            "SSWS wrong",
            401,
            "E0000011",
        ),
        (
            "00u1/sessions?oauthTokens=true",
            "Bearer forged",
            401,
            "E0000011",
        ),
        ("00u1/sessions?oauthTokens=yes", SSWS, 400, "E0000001"),
        ("00u1/sessions", SSWS, 400, "E0000001"),
        ("00u1/sessions?oauthTokens=true&x=1", SSWS, 400, "E0000001"),
    ];
    for (tail, auth, status, code) in cases {
        let reply = revoke(&sim, tail, auth);
        assert_eq!(
            (reply.status, reply.json()["errorCode"].as_str()),
            (status, Some(code)),
            "{tail}"
        );
        assert!(reply.json()["errorSummary"].is_string() && reply.json()["errorId"].is_string());
    }
    sim.set_forbidden(true);
    assert_eq!(
        revoke(&sim, "00u1/sessions?oauthTokens=true", SSWS).json()["errorCode"],
        "E0000006"
    );
    assert!(sim.revocations().is_empty());
}

#[test]
fn a_throttled_call_says_when_the_limit_resets_and_no_retry_after() {
    let sim = sim();
    sim.throttle_next(1, 30);
    let reply = revoke(&sim, "00u1/sessions?oauthTokens=true", SSWS);
    assert_eq!(
        (reply.status, reply.json()["errorCode"].as_str()),
        (429, Some("E0000047"))
    );
    assert!(reply.header("retry-after").is_none());
    let date = httpdate::parse_http_date(reply.header("date").unwrap()).unwrap();
    let date = date
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset: u64 = reply.header("x-rate-limit-reset").unwrap().parse().unwrap();
    assert_eq!(reset - date, 30);
    assert_eq!(
        revoke(&sim, "00u1/sessions?oauthTokens=true", SSWS).status,
        204
    );
}
