//! The Entra ID simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use super::{EntraSim, EntraSimConfig};
use crate::harness::http::{self, Reply};

const TENANT: &str = "t-1";
const GUEST: &str = "ann_x.com#EXT#@t.onmicrosoft.com";

fn sim() -> EntraSim {
    EntraSim::start(EntraSimConfig::new(TENANT, "app", "s+c").with_user("oid-1", GUEST))
}

fn token(sim: &EntraSim, form: &str) -> Reply {
    let url = format!("{}/{TENANT}/oauth2/v2.0/token", sim.url());
    let form = form.replace(
        "@SCOPE@",
        &format!("http%3A%2F%2F{}%2F.default", sim.addr()),
    );
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    http::send("POST", &url, &headers, Some(form.as_bytes()))
}

const GRANT: &str = "grant_type=client_credentials&client_id=app&client_secret=s%2Bc&scope=@SCOPE@";

fn revoke(sim: &EntraSim, id: &str, token: &str) -> Reply {
    let url = format!("{}/v1.0/users/{id}/revokeSignInSessions", sim.url());
    http::send(
        "POST",
        &url,
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
}

#[test]
fn the_token_endpoint_checks_tenant_client_secret_and_scope_in_aadsts_errors() {
    let sim = sim();
    let ok = token(&sim, GRANT);
    assert_eq!(
        (ok.status, ok.json()["expires_in"].as_u64()),
        (200, Some(3599))
    );
    let secret = token(&sim, &GRANT.replace("s%2Bc", "wrong"));
    assert_eq!(
        (secret.status, secret.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(secret.json()["error_description"]
        .as_str()
        .unwrap()
        .starts_with("AADSTS7000215"));
    assert!(secret.json()["trace_id"].is_string() && secret.json()["correlation_id"].is_string());
    let scope = token(
        &sim,
        &GRANT.replace("@SCOPE@", "https%3A%2F%2Fgraph.microsoft.com%2F.default"),
    );
    assert_eq!(scope.json()["error"], "invalid_scope");
    let client = token(&sim, &GRANT.replace("client_id=app", "client_id=other"));
    assert_eq!(client.json()["error"], "unauthorized_client");
    assert_eq!(sim.issued_tokens().len(), 1);
}

#[test]
fn revocation_is_200_value_true_every_time_for_a_known_user() {
    let sim = sim();
    let t = token(&sim, GRANT).json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_upn = revoke(&sim, "ann_x.com%23EXT%23%40t.onmicrosoft.com", &t);
    assert_eq!(
        (by_upn.status, by_upn.json()["value"].as_bool()),
        (200, Some(true))
    );
    assert!(by_upn.header("request-id").is_some());
    assert_eq!(revoke(&sim, "oid-1", &t).status, 200);
    assert_eq!(sim.revoked(), ["oid-1", "oid-1"]);
    let unknown = revoke(&sim, "nobody", &t);
    assert_eq!(
        (unknown.status, unknown.json()["error"]["code"].as_str()),
        (404, Some("Request_ResourceNotFound"))
    );
    assert_eq!(
        unknown.json()["error"]["innerError"]["request-id"].as_str(),
        unknown.header("request-id")
    );
}

#[test]
fn graph_wants_an_unexpired_token_it_issued_and_the_permission() {
    let sim = sim();
    let t = token(&sim, GRANT).json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        revoke(&sim, "oid-1", "forged").json()["error"]["code"],
        "InvalidAuthenticationToken"
    );
    sim.set_permission(false);
    assert_eq!(
        revoke(&sim, "oid-1", &t).json()["error"]["code"],
        "Authorization_RequestDenied"
    );
    sim.set_permission(true);
    sim.expire_tokens();
    assert_eq!(revoke(&sim, "oid-1", &t).status, 401);
    assert!(sim.revoked().is_empty());
}
