//! The Nexus simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use serde_json::json;

use super::{NexusSim, NexusSimConfig};
use crate::harness::http::{self, Reply};
use crate::sim::{Canned, Fault};

const BEARER: &str = "Bearer bt-1";
const APP: &str = "at-1";
/// base64("svc:pw 1")
const BASIC: &str = "Basic c3ZjOnB3IDE=";
const PATH: &str = "/v1/tenants/t1/connections/azure-ad/clients";

fn sim() -> NexusSim {
    NexusSim::start(
        NexusSimConfig::new("t1")
            .with_bearer("bt-1", APP)
            .with_basic("svc", "pw 1")
            .with_basic_permissions("reader", "pw", &["client.read"])
            .with_client_on("azure-ad", "web-app")
            .with_client_on("azure-ad", "mobile")
            .with_client_on("google", "web-app")
            .with_tenant("t2"),
    )
}

fn send(sim: &NexusSim, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let url = format!("{}{path}", sim.url());
    http::send(method, &url, headers, Some(body.as_bytes()))
}

/// A PATCH with the bearer option and JSON content type.
fn patch(sim: &NexusSim, path: &str, body: &str) -> Reply {
    let headers = [
        ("authorization", BEARER),
        ("applicationtoken", APP),
        ("content-type", "application/json"),
    ];
    send(sim, "PATCH", path, &headers, body)
}

fn disable(client: &str) -> String {
    json!({"enabled": false, "clientId": client}).to_string()
}

fn assert_problem(reply: &Reply, status: u16, detail: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/problem+json"),
        "{reply:#?}"
    );
    let body = reply.json();
    assert_eq!(body["status"], status, "{reply:#?}");
    for member in ["type", "title", "instance"] {
        assert!(body[member].is_string(), "{member}: {reply:#?}");
    }
    assert_eq!(body["detail"], detail, "{reply:#?}");
}

#[test]
fn disabling_a_client_answers_204_and_only_that_flag_changes() {
    let sim = sim();
    let reply = patch(&sim, PATH, &disable("web-app"));
    assert_eq!(reply.status, 204, "{reply:#?}");
    assert!(reply.text.is_empty());
    assert!(!sim.is_enabled("azure-ad", "web-app"));
    assert!(sim.is_enabled("azure-ad", "mobile"));
    assert!(sim.is_enabled("google", "web-app"));
    // Idempotent: disabling again answers 204 again.
    assert_eq!(patch(&sim, PATH, &disable("web-app")).status, 204);
    let enable = json!({"enabled": true, "clientId": "web-app"}).to_string();
    assert_eq!(patch(&sim, PATH, &enable).status, 204);
    assert_eq!(sim.enabled_clients("azure-ad"), ["mobile", "web-app"]);
}

#[test]
fn unknown_tenant_connection_and_client_are_404_problems_with_their_own_detail() {
    let sim = sim();
    let body = disable("web-app");
    let reply = patch(&sim, "/v1/tenants/t9/connections/azure-ad/clients", &body);
    assert_problem(&reply, 404, "Tenant 't9' not found.");
    let reply = patch(&sim, "/v1/tenants/t2/connections/azure-ad/clients", &body);
    assert_problem(&reply, 404, "Connection 'azure-ad' not found.");
    let reply = patch(&sim, PATH, &disable("ghost"));
    assert_problem(&reply, 404, "Client 'ghost' not found.");
    assert_eq!(reply.json()["instance"], PATH);
    assert!(sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn other_paths_are_404_and_other_methods_405_without_a_body() {
    let sim = sim();
    for other in [
        "/",
        "/v1/tenants/t1/connections/azure-ad",
        "/v1/tenants/t1/connections/azure-ad/clients/",
        "/v1/tenants//connections/azure-ad/clients",
        "/v1/tenants/t1/connections/a/b/clients",
    ] {
        let reply = patch(&sim, other, &disable("web-app"));
        assert_eq!((reply.status, reply.text.as_str()), (404, ""), "{other}");
    }
    for method in ["GET", "POST", "PUT", "DELETE"] {
        let reply = send(&sim, method, PATH, &[("authorization", BEARER)], "");
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("PATCH"));
    }
    assert!(sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn credentials_must_be_a_configured_pair_else_401_without_a_body() {
    let sim = sim();
    let body = disable("web-app");
    let json_ct = ("content-type", "application/json");
    let cases: [&[(&str, &str)]; 7] = [
        &[json_ct],
        &[json_ct, ("authorization", BEARER)],
        &[
            json_ct,
            ("authorization", BEARER),
            ("applicationtoken", "wrong"),
        ],
        &[
            json_ct,
            ("authorization", "Bearer wrong"),
            ("applicationtoken", APP),
        ],
        &[
            json_ct,
            ("authorization", BEARER),
            ("x-application-token", APP),
        ],
        &[json_ct, ("authorization", "Basic c3ZjOndyb25n")], // svc:wrong
        &[
            json_ct,
            ("authorization", "Token bt-1"),
            ("applicationtoken", APP),
        ],
    ];
    for headers in cases {
        let reply = send(&sim, "PATCH", PATH, headers, &body);
        assert_eq!(reply.status, 401, "{headers:?}: {reply:#?}");
        assert!(reply.text.is_empty());
        assert!(reply.header("www-authenticate").is_some());
    }
    assert!(sim.is_enabled("azure-ad", "web-app"));
    let basic = [json_ct, ("authorization", BASIC)];
    assert_eq!(send(&sim, "PATCH", PATH, &basic, &body).status, 204);
}

#[test]
fn a_login_without_client_write_is_a_403_problem() {
    let sim = sim();
    let headers = [
        ("content-type", "application/json"),
        ("authorization", "Basic cmVhZGVyOnB3"), // reader:pw
    ];
    let reply = send(&sim, "PATCH", PATH, &headers, &disable("web-app"));
    assert_problem(
        &reply,
        403,
        "Requires the client.write or client.write.all permission.",
    );
    assert!(sim.is_enabled("azure-ad", "web-app"));
}

#[test]
fn the_application_token_header_name_is_configurable() {
    let sim = NexusSim::start(
        NexusSimConfig::new("t1")
            .with_bearer("bt-1", APP)
            .with_application_token_header("X-App-Token")
            .with_client_on("azure-ad", "web-app"),
    );
    let headers = [
        ("authorization", BEARER),
        ("x-app-token", APP),
        ("content-type", "application/json"),
    ];
    let reply = send(&sim, "PATCH", PATH, &headers, &disable("web-app"));
    assert_eq!(reply.status, 204);
    assert_eq!(patch(&sim, PATH, &disable("web-app")).status, 401);
}

#[test]
fn content_type_and_body_schema_are_enforced() {
    let sim = sim();
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let headers = [
            ("authorization", BEARER),
            ("applicationtoken", APP),
            ("content-type", content_type),
        ];
        let reply = send(&sim, "PATCH", PATH, &headers, &disable("web-app"));
        assert_eq!(reply.status, 415, "{reply:#?}");
    }
    for bad in [
        "",
        "not json",
        "[]",
        "{}",
        r#"{"enabled":false}"#,
        r#"{"clientId":"web-app"}"#,
        r#"{"enabled":"false","clientId":"web-app"}"#,
        r#"{"enabled":false,"clientId":null}"#,
        r#"{"enabled":false,"clientId":17}"#,
        r#"{"enabled":false,"clientId":"web-app","extra":1}"#,
        r#"{"enabled":false,"client_id":"web-app"}"#,
    ] {
        let reply = patch(&sim, PATH, bad);
        assert_eq!(reply.status, 400, "{bad}: {reply:#?}");
        assert_eq!(reply.json()["title"], "Bad Request");
    }
    assert!(sim.is_enabled("azure-ad", "web-app"));
    let reply = send(
        &sim,
        "PATCH",
        PATH,
        &[
            ("authorization", BEARER),
            ("applicationtoken", APP),
            ("content-type", "application/json; charset=utf-8"),
        ],
        &disable("web-app"),
    );
    assert_eq!(reply.status, 204);
}

#[test]
fn encoded_segments_are_decoded_and_a_slash_stays_inside_its_segment() {
    let sim = NexusSim::start(
        NexusSimConfig::new("t/1")
            .with_bearer("bt-1", APP)
            .with_client_on("ad #1", "a/b"),
    );
    let reply = patch(
        &sim,
        "/v1/tenants/t%2F1/connections/ad%20%231/clients",
        &disable("a/b"),
    );
    assert_eq!(reply.status, 204, "{reply:#?}");
    assert!(!sim.is_enabled("ad #1", "a/b"));
    let call = &sim.calls()[0];
    assert_eq!(
        call.segments,
        ["v1", "tenants", "t/1", "connections", "ad #1", "clients"]
    );
    let reply = patch(
        &sim,
        "/v1/tenants/%FF/connections/x/clients",
        &disable("a/b"),
    );
    assert_eq!(reply.status, 400);
}

#[test]
fn faults_and_canned_answers_leave_the_state_alone() {
    let sim = sim();
    let body = disable("web-app");
    sim.set_fault(Fault::InternalError);
    let reply = patch(&sim, PATH, &body);
    assert_problem(&reply, 500, "Simulated internal server error");
    sim.set_fault(Fault::Garbage);
    let reply = patch(&sim, PATH, &body);
    assert_eq!(reply.status, 200);
    assert!(reply.json.is_none());
    sim.set_fault(Fault::None);
    sim.set_fault(Canned::new(429, "Too Many Requests", "Slow down.").retry_after("7"));
    let reply = patch(&sim, PATH, &body);
    assert_problem(&reply, 429, "Slow down.");
    assert_eq!(reply.header("retry-after"), Some("7"));
    sim.set_fault(Fault::None);
    assert!(sim.is_enabled("azure-ad", "web-app"));
    sim.fail_next(1, Fault::InternalError);
    assert_eq!(patch(&sim, PATH, &body).status, 500);
    assert_eq!(patch(&sim, PATH, &body).status, 204);
    let statuses: Vec<_> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [Some(500), Some(200), Some(429), Some(500), Some(204)]
    );
}

#[test]
fn hang_up_sends_no_answer_and_delay_holds_answers_back() {
    let sim = sim();
    sim.set_fault(Fault::HangUp);
    let url = format!("{}{PATH}", sim.url());
    let headers = [("authorization", BEARER), ("applicationtoken", APP)];
    assert!(http::try_send("PATCH", &url, &headers, Some(b"{}")).is_err());
    assert_eq!(sim.calls()[0].status, None);
    sim.set_fault(Fault::None);
    sim.set_delay(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(patch(&sim, PATH, &disable("web-app")).status, 204);
    assert!(started.elapsed() >= Duration::from_millis(200));
}
