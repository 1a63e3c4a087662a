//! The Keycloak simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use super::{KeycloakSim, KeycloakSimConfig};
use crate::harness::http::{self, Reply};

const FORM: &str = "application/x-www-form-urlencoded";
const GRANT: &str = "grant_type=client_credentials&client_id=sever&client_secret=s%26c";

fn sim() -> KeycloakSim {
    KeycloakSim::start(
        KeycloakSimConfig::new("acme", "sever", "s&c")
            .with_user("u-1", "Alice")
            .with_session("s-1", "u-1")
            .with_session("s-2", "u-1"),
    )
}

fn token(sim: &KeycloakSim, body: &str) -> Reply {
    let url = format!("{}/realms/acme/protocol/openid-connect/token", sim.url());
    http::send(
        "POST",
        &url,
        &[("content-type", FORM)],
        Some(body.as_bytes()),
    )
}

fn admin(sim: &KeycloakSim, method: &str, tail: &str, token: &str) -> Reply {
    let url = format!("{}/admin/realms/acme/{tail}", sim.url());
    let auth = format!("Bearer {token}");
    http::send(method, &url, &[("authorization", &auth)], None)
}

fn issued(sim: &KeycloakSim) -> String {
    let reply = token(sim, GRANT);
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.json()["token_type"], "Bearer");
    assert_eq!(reply.json()["expires_in"], 300);
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn the_token_endpoint_checks_realm_grant_and_client_credentials() {
    let sim = sim();
    issued(&sim);
    let wrong = token(
        &sim,
        "grant_type=client_credentials&client_id=sever&client_secret=x",
    );
    assert_eq!(
        (wrong.status, wrong.json()["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let grant = token(
        &sim,
        "grant_type=password&client_id=sever&client_secret=s%26c",
    );
    assert_eq!(grant.json()["error"], "unsupported_grant_type");
    let twice = token(&sim, &format!("{GRANT}&client_id=sever"));
    assert_eq!(
        (twice.status, twice.json()["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let url = format!("{}/realms/other/protocol/openid-connect/token", sim.url());
    let realm = http::send(
        "POST",
        &url,
        &[("content-type", FORM)],
        Some(GRANT.as_bytes()),
    );
    assert_eq!(
        (realm.status, realm.json()["error"].as_str()),
        (404, Some("Realm does not exist"))
    );
    assert_eq!(sim.issued_tokens().len(), 1);
}

#[test]
fn logout_ends_every_session_and_a_repeat_is_204_again() {
    let sim = sim();
    let t = issued(&sim);
    assert_eq!(admin(&sim, "POST", "users/u-1/logout", &t).status, 204);
    assert!(sim.sessions().is_empty());
    assert_eq!(admin(&sim, "POST", "users/u-1/logout", &t).status, 204);
    assert_eq!(sim.logouts(), ["u-1", "u-1"]);
    let unknown = admin(&sim, "POST", "users/nobody/logout", &t);
    assert_eq!(
        (unknown.status, unknown.json()["error"].as_str()),
        (404, Some("User not found"))
    );
    sim.set_query_users(false);
    assert_eq!(
        admin(&sim, "POST", "users/nobody/logout", &t).status,
        403,
        "ids are not phished"
    );
}

#[test]
fn a_session_is_deleted_once_and_a_repeat_is_404() {
    let sim = sim();
    let t = issued(&sim);
    assert_eq!(admin(&sim, "DELETE", "sessions/s-1", &t).status, 204);
    let again = admin(&sim, "DELETE", "sessions/s-1", &t);
    assert_eq!(
        (again.status, again.json()["error"].as_str()),
        (404, Some("Sesssion not found"))
    );
    assert_eq!(sim.sessions().len(), 1);
}

#[test]
fn admin_calls_want_a_valid_token_the_realm_the_method_and_the_role() {
    let sim = sim();
    let t = issued(&sim);
    assert_eq!(
        admin(&sim, "POST", "users/u-1/logout", "forged").status,
        401
    );
    assert_eq!(admin(&sim, "GET", "users/u-1/logout", &t).status, 405);
    let url = format!("{}/admin/realms/nope/users/u-1/logout", sim.url());
    let realm = http::send(
        "POST",
        &url,
        &[("authorization", &format!("Bearer {t}"))],
        None,
    );
    assert_eq!(realm.json()["error"], "Realm not found.");
    sim.set_manage_users(false);
    assert_eq!(admin(&sim, "POST", "users/u-1/logout", &t).status, 403);
    sim.set_manage_users(true);
    sim.expire_tokens();
    assert_eq!(admin(&sim, "POST", "users/u-1/logout", &t).status, 401);
    assert_eq!(sim.logouts(), Vec::<String>::new());
}

#[test]
fn the_user_search_is_exact_and_wants_its_three_parameters() {
    let sim = sim();
    let t = issued(&sim);
    let found = admin(
        &sim,
        "GET",
        "users?username=ALICE&exact=true&briefRepresentation=true",
        &t,
    );
    assert_eq!(found.json()[0]["id"], "u-1");
    let none = admin(
        &sim,
        "GET",
        "users?username=bob&exact=true&briefRepresentation=true",
        &t,
    );
    assert_eq!(none.json().as_array().map(Vec::len), Some(0));
    assert_eq!(admin(&sim, "GET", "users?username=alice", &t).status, 400);
}
