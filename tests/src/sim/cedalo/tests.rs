//! The simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;

use super::{CedaloSim, SimConfig};
use crate::harness::http::{self, Client, Reply};
use crate::sim::Fault;

const TOKEN: &str = "sim-token";

fn sim_with(clients: &[&str]) -> CedaloSim {
    CedaloSim::start(SimConfig::default().with_clients(clients.iter().copied()))
}

fn path(client_segment: &str) -> String {
    format!("/api/projects/p1/brokers/b1/clients/{client_segment}/disconnect")
}

/// A PUT with the right token and content type.
fn put(sim: &CedaloSim, path: &str, body: &str) -> Reply {
    put_as(sim, path, Some(TOKEN), body)
}

fn put_as(sim: &CedaloSim, path: &str, token: Option<&str>, body: &str) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    http::send(
        "PUT",
        &format!("{}{path}", sim.url()),
        &headers,
        Some(body.as_bytes()),
    )
}

fn assert_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json"),
        "{reply:#?}"
    );
    let body = reply.json();
    assert_eq!(body["code"], code, "{reply:#?}");
    assert_eq!(body["status"], status, "{reply:#?}");
    assert!(body["message"].is_string(), "{reply:#?}");
}

#[test]
fn disconnect_of_a_connected_client_answers_an_empty_object_and_removes_it() {
    let sim = sim_with(&["sensor-17", "sensor-18"]);
    let reply = put(&sim, &path("sensor-17"), r#"{"clientId":"sensor-17"}"#);
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.json(), &json!({}));
    assert!(!sim.is_connected("sensor-17"));
    assert_eq!(sim.connected_clients(), ["sensor-18"]);
}

#[test]
fn disconnect_of_a_client_that_is_not_connected_is_client_not_found() {
    let sim = sim_with(&[]);
    let reply = put(&sim, &path("ghost"), r#"{"clientId":"ghost"}"#);
    assert_error(&reply, 404, "NOT_FOUND");
    assert_eq!(reply.json()["message"], "Client not found");
}

#[test]
fn unknown_project_and_unknown_broker_are_not_found_with_their_own_messages() {
    let sim = CedaloSim::start(
        SimConfig::default()
            .with_clients(["c"])
            .with_broker("p2", "b2"),
    );
    let body = r#"{"clientId":"c"}"#;
    let reply = put(
        &sim,
        "/api/projects/p9/brokers/b1/clients/c/disconnect",
        body,
    );
    assert_error(&reply, 404, "NOT_FOUND");
    assert_eq!(reply.json()["message"], "Project not found");
    let reply = put(
        &sim,
        "/api/projects/p1/brokers/b2/clients/c/disconnect",
        body,
    );
    assert_error(&reply, 404, "NOT_FOUND");
    assert_eq!(reply.json()["message"], "Broker not found");
    assert!(sim.is_connected("c"));
}

#[test]
fn other_methods_on_the_disconnect_path_are_405() {
    let sim = sim_with(&["c"]);
    for method in ["GET", "POST", "DELETE", "PATCH"] {
        let auth = format!("Bearer {TOKEN}");
        let headers = [("authorization", auth.as_str())];
        let reply = http::send(
            method,
            &format!("{}{}", sim.url(), path("c")),
            &headers,
            None,
        );
        assert_error(&reply, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(reply.header("allow"), Some("PUT"));
    }
    assert!(sim.is_connected("c"));
}

#[test]
fn any_other_path_is_404() {
    let sim = sim_with(&["c"]);
    let body = r#"{"clientId":"c"}"#;
    for other in [
        "/",
        "/api/projects/p1/brokers/b1/clients/c",
        "/api/projects/p1/brokers/b1/clients/c/disconnect/",
        "/api/projects/p1/brokers/b1/clients//disconnect",
        "/api/projects/p1/brokers/b1/clients/a/b/disconnect",
        "/API/projects/p1/brokers/b1/clients/c/disconnect",
    ] {
        assert_error(&put(&sim, other, body), 404, "NOT_FOUND");
    }
    assert!(sim.is_connected("c"));
}

#[test]
fn a_missing_or_wrong_token_is_401_and_a_forbidden_one_403() {
    let sim = CedaloSim::start(
        SimConfig::default()
            .with_clients(["c"])
            .with_forbidden_token("read-only"),
    );
    let body = r#"{"clientId":"c"}"#;
    assert_error(&put_as(&sim, &path("c"), None, body), 401, "UNAUTHORIZED");
    assert_error(
        &put_as(&sim, &path("c"), Some("nope"), body),
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &put_as(&sim, &path("c"), Some("read-only"), body),
        403,
        "FORBIDDEN",
    );
    let basic = [
        ("authorization", "Basic c2ltLXRva2Vu"),
        ("content-type", "application/json"),
    ];
    let url = format!("{}{}", sim.url(), path("c"));
    let reply = http::send("PUT", &url, &basic, Some(body.as_bytes()));
    assert_error(&reply, 401, "UNAUTHORIZED");
    assert!(sim.is_connected("c"));
}

#[test]
fn content_type_and_body_must_be_exactly_the_documented_object() {
    let sim = sim_with(&["c"]);
    let url = format!("{}{}", sim.url(), path("c"));
    let auth = format!("Bearer {TOKEN}");
    let body = br#"{"clientId":"c"}"#.as_slice();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend(content_type.map(|ct| ("content-type", ct)));
        assert_error(
            &http::send("PUT", &url, &headers, Some(body)),
            400,
            "BAD_REQUEST",
        );
    }
    for bad in [
        "",
        "not json",
        "[]",
        r#""c""#,
        "{}",
        r#"{"clientId":17}"#,
        r#"{"clientId":null}"#,
        r#"{"clientId":"other"}"#,
        r#"{"clientId":"c","extra":1}"#,
        r#"{"client_id":"c"}"#,
    ] {
        assert_error(&put(&sim, &path("c"), bad), 400, "BAD_REQUEST");
    }
    assert!(sim.is_connected("c"));
    let with_charset = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json; charset=utf-8"),
    ];
    assert_eq!(
        http::send("PUT", &url, &with_charset, Some(body)).status,
        200
    );
}

#[test]
fn an_encoded_slash_stays_inside_the_client_segment() {
    let sim = sim_with(&["a/b"]);
    let reply = put(&sim, &path("a%2Fb"), r#"{"clientId":"a/b"}"#);
    assert_eq!(reply.status, 200, "{reply:#?}");
    let call = &sim.calls()[0];
    assert_eq!(call.raw_path, path("a%2Fb"));
    assert_eq!(call.segments[6], "a/b");
    assert_eq!(call.segments.len(), 8);
}

#[test]
fn segments_are_percent_decoded_as_utf8() {
    let id = "ünï code #1+2%?";
    let sim = sim_with(&[id]);
    let encoded = "%C3%BCn%C3%AF%20code%20%231%2B2%25%3F";
    let body = json!({ "clientId": id }).to_string();
    assert_eq!(put(&sim, &path(encoded), &body).status, 200);
    assert_eq!(sim.calls()[0].segments[6], id);
    assert!(!sim.is_connected(id));

    let reply = put(&sim, &path("%FF"), r#"{"clientId":"x"}"#);
    assert_error(&reply, 400, "BAD_REQUEST");
}

#[test]
fn every_call_is_recorded_in_order_with_what_was_answered() {
    let sim = sim_with(&["c"]);
    put(&sim, &path("c"), r#"{"clientId":"c"}"#);
    put(&sim, &path("c"), r#"{"clientId":"c"}"#);
    http::get(&format!("{}/nope?x=1", sim.url()), None);
    let calls = sim.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].method, "PUT");
    assert_eq!(calls[0].raw_path, path("c"));
    assert_eq!(calls[0].header("Authorization"), Some("Bearer sim-token"));
    assert!(calls[0].headers.iter().any(|(n, _)| n == "content-type"));
    assert!(calls[0]
        .headers
        .iter()
        .all(|(n, _)| *n == n.to_ascii_lowercase()));
    assert_eq!(calls[0].json_body(), Some(json!({"clientId": "c"})));
    assert_eq!(calls[0].status, Some(200));
    assert_eq!(calls[1].status, Some(404));
    assert_eq!(
        (calls[2].method.as_str(), calls[2].raw_path.as_str()),
        ("GET", "/nope")
    );
    assert_eq!(calls[2].query.as_deref(), Some("x=1"));
    assert_eq!(calls[2].status, Some(404));
    sim.clear_calls();
    assert!(sim.calls().is_empty());
}

#[test]
fn internal_error_fault_answers_500_and_leaves_the_client_connected() {
    let sim = sim_with(&["c"]);
    sim.set_fault(Fault::InternalError);
    let reply = put(&sim, &path("c"), r#"{"clientId":"c"}"#);
    assert_error(&reply, 500, "INTERNAL_ERROR");
    assert!(sim.is_connected("c"));
    sim.set_fault(Fault::None);
    assert_eq!(put(&sim, &path("c"), r#"{"clientId":"c"}"#).status, 200);
}

#[test]
fn fail_next_fails_only_that_many_calls_then_the_standing_fault_applies_again() {
    let sim = sim_with(&["c"]);
    let disconnect_c = || put(&sim, &path("c"), r#"{"clientId":"c"}"#);
    sim.fail_next(2, Fault::InternalError);
    assert_error(&disconnect_c(), 500, "INTERNAL_ERROR");
    assert_error(&disconnect_c(), 500, "INTERNAL_ERROR");
    assert!(sim.is_connected("c"));
    assert_eq!(disconnect_c().status, 200);
    assert!(!sim.is_connected("c"));

    sim.set_fault(Fault::Garbage);
    sim.fail_next(1, Fault::InternalError);
    assert_error(&disconnect_c(), 500, "INTERNAL_ERROR");
    let reply = disconnect_c();
    assert_eq!(reply.status, 200);
    assert!(reply.json.is_none(), "{reply:#?}");
    let statuses: Vec<_> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [Some(500), Some(500), Some(200), Some(500), Some(200)]
    );
}

#[test]
fn garbage_fault_answers_200_with_a_body_that_is_not_json() {
    let sim = sim_with(&["c"]);
    sim.set_fault(Fault::Garbage);
    let reply = put(&sim, &path("c"), r#"{"clientId":"c"}"#);
    assert_eq!(reply.status, 200);
    assert!(reply.json.is_none(), "{reply:#?}");
    assert!(sim.is_connected("c"));
}

#[test]
fn delay_holds_every_answer_back() {
    let sim = sim_with(&["c"]);
    sim.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    let reply = put(&sim, &path("c"), r#"{"clientId":"c"}"#);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(reply.status, 200);
}

#[test]
fn hang_up_fault_closes_the_connection_without_an_answer_even_when_kept_alive() {
    let sim = sim_with(&["c"]);
    let client = Client::new();
    let url = format!("{}{}", sim.url(), path("c"));
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = br#"{"clientId":"c"}"#.as_slice();
    // Opens a connection the client keeps alive: the answer is a 404 for another client.
    let first = client.send(
        "PUT",
        &format!("{}{}", sim.url(), path("d")),
        &headers,
        Some(br#"{"clientId":"d"}"#),
    );
    assert_eq!(first.status, 404);
    sim.set_fault(Fault::HangUp);
    assert!(client.try_send("PUT", &url, &headers, Some(body)).is_err());
    assert!(http::try_send("PUT", &url, &headers, Some(body)).is_err());
    let calls = sim.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[1].status, None);
    assert!(sim.is_connected("c"));
    sim.set_fault(Fault::None);
    assert_eq!(client.send("PUT", &url, &headers, Some(body)).status, 200);
}

#[test]
fn dropping_the_simulator_closes_its_port() {
    let sim = sim_with(&[]);
    let url = sim.url();
    assert_eq!(http::get(&format!("{url}/"), None).status, 404);
    drop(sim);
    assert!(http::try_send("GET", &format!("{url}/"), &[], None).is_err());
}
