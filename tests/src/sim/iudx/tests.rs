//! The iudx simulator's own contract, checked with a plain HTTP client.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::{IudxSim, IudxSimConfig};
use crate::harness::http::{self, Reply};
use crate::sim::Fault;

const PROTECTED: &str = "bob/sensor-1.protected";

/// Headers to replace in a request (an empty value removes the header).
type Overrides<'a> = &'a [(&'a str, &'a str)];

fn sim() -> IudxSim {
    IudxSim::start(
        IudxSimConfig::new()
            .with_owner("alice", "alice-key")
            .with_entity("alice/app-1", "app-key")
            .with_entity_not_autonomous("alice/lamp-1", "lamp-key")
            .with_entity("bob/sensor-1", "bob-key")
            .with_binding(PROTECTED, "alice/app-1", "temp")
            .with_binding("bob/sensor-1.public", "alice/app-1", "temp")
            .with_binding(PROTECTED, "alice/app-1", "humidity")
            .with_acl("alice/app-1", PROTECTED, "temp"),
    )
}

fn post(sim: &IudxSim, path: &str, headers: &[(&str, &str)]) -> Reply {
    http::send("POST", &format!("{}{path}", sim.url()), headers, None)
}

/// The entity `alice/app-1` unbinding `bob/sensor-1` with `overrides` replacing (or, with
/// an empty value, removing) headers.
fn entity_unbind(sim: &IudxSim, overrides: &[(&str, &str)]) -> Reply {
    let mut headers = vec![
        ("id", "alice/app-1"),
        ("apikey", "app-key"),
        ("to", "bob/sensor-1"),
        ("topic", "temp"),
        ("message-type", "protected"),
    ];
    for (name, value) in overrides {
        headers.retain(|(n, _)| n != name);
        if !value.is_empty() {
            headers.push((name, value));
        }
    }
    post(sim, "/entity/unbind", &headers)
}

fn owner_unbind(sim: &IudxSim, from: Option<&str>, apikey: &str) -> Reply {
    let mut headers = vec![
        ("id", "alice"),
        ("apikey", apikey),
        ("to", "bob/sensor-1"),
        ("topic", "temp"),
        ("message-type", "protected"),
    ];
    headers.extend(from.map(|f| ("from", f)));
    post(sim, "/owner/unbind", &headers)
}

fn assert_error(reply: &Reply, status: u16, message: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.text,
        format!("{{\"error\":\"{message}\"}}\n"),
        "{reply:#?}"
    );
}

#[test]
fn an_entity_unbinds_its_own_queue_and_only_that_binding_goes() {
    let sim = sim();
    let reply = entity_unbind(&sim, &[]);
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert!(reply.text.is_empty());
    assert!(!sim.has_binding(PROTECTED, "alice/app-1", "temp"));
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "humidity"));
    assert!(sim.has_binding("bob/sensor-1.public", "alice/app-1", "temp"));
    // The binding is gone; unbinding it again still succeeds.
    assert_eq!(entity_unbind(&sim, &[]).status, 200);
    assert_eq!(sim.bindings().len(), 2);
}

#[test]
fn an_owner_unbinds_the_queue_of_its_device_named_in_from() {
    let sim = sim();
    let reply = owner_unbind(&sim, Some("alice/app-1"), "alice-key");
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert!(!sim.has_binding(PROTECTED, "alice/app-1", "temp"));
    // The route does not decide the mode, the id does (as in corinthian).
    let calls = sim.calls();
    assert_eq!(calls[0].raw_path, "/owner/unbind");
    assert_eq!(calls[0].header("from"), Some("alice/app-1"));
}

#[test]
fn owner_mode_checks_from() {
    let sim = sim();
    assert_error(
        &owner_unbind(&sim, None, "alice-key"),
        400,
        "'from' value missing in header",
    );
    assert_error(
        &owner_unbind(&sim, Some("app-1"), "alice-key"),
        400,
        "'from' is not a valid entity",
    );
    assert_error(
        &owner_unbind(&sim, Some("carol/app-1"), "alice-key"),
        403,
        "you are not the owner of 'from' entity",
    );
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "temp"));
}

#[test]
fn every_required_header_must_be_present() {
    let sim = sim();
    for missing in ["id", "apikey", "to", "topic", "message-type"] {
        assert_error(
            &entity_unbind(&sim, &[(missing, "")]),
            400,
            "inputs missing in headers",
        );
    }
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "temp"));
}

#[test]
fn identifiers_and_message_types_are_checked_with_the_vendors_own_messages() {
    let sim = sim();
    let cases: [(Overrides, u16, &str); 6] = [
        (&[("to", "sensor")], 400, "'to' is not a valid entity"),
        (&[("to", "bob/s/1")], 400, "'to' is not a valid entity"),
        (
            &[("message-type", "secret")],
            400,
            "message-type is invalid",
        ),
        (
            &[("message-type", "private")],
            403,
            "you are not the owner of 'to'",
        ),
        (&[("topic", "a b")], 400, "invalid topic"),
        (&[("topic", "x;drop")], 400, "invalid topic"),
    ];
    for (overrides, status, message) in cases {
        assert_error(&entity_unbind(&sim, overrides), status, message);
    }
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "temp"));
}

#[test]
fn credentials_autonomy_and_acl_are_enforced() {
    let sim = sim();
    let invalid = "invalid id or apikey";
    assert_error(&entity_unbind(&sim, &[("apikey", "nope")]), 403, invalid);
    assert_error(&entity_unbind(&sim, &[("id", "carol/app-1")]), 403, invalid);
    assert_error(
        &owner_unbind(&sim, Some("alice/app-1"), "nope"),
        403,
        invalid,
    );
    let lamp = [("id", "alice/lamp-1"), ("apikey", "lamp-key")];
    assert_error(&entity_unbind(&sim, &lamp), 403, "unauthorized");
    // No ACL entry for this topic on bob's protected exchange.
    assert_error(
        &entity_unbind(&sim, &[("topic", "humidity")]),
        403,
        "unauthorized",
    );
    // Public exchanges need no ACL entry.
    assert_eq!(
        entity_unbind(&sim, &[("message-type", "public"), ("topic", "x.#")]).status,
        200
    );
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "humidity"));
}

#[test]
fn a_missing_exchange_is_a_500_with_a_raw_newline_inside_the_json_string() {
    let sim = sim();
    let reply = entity_unbind(&sim, &[("to", "carol/cam-1"), ("message-type", "public")]);
    assert_eq!(reply.status, 500, "{reply:#?}");
    assert_eq!(
        reply.text,
        "{\"error\":\"unbind failed e={carol/cam-1.public} q={alice/app-1} t={temp}\n\"}\n"
    );
    assert!(reply.json.is_none(), "must not be valid JSON: {reply:#?}");
}

#[test]
fn other_paths_are_404_and_other_methods_405() {
    let sim = sim();
    for path in [
        "/",
        "/unbind",
        "/entity/unbind/",
        "/entity/bind",
        "/admin/unbind",
    ] {
        let reply = post(&sim, path, &[("id", "alice/app-1")]);
        assert_eq!((reply.status, reply.text.as_str()), (404, ""), "{path}");
    }
    let url = format!("{}/entity/unbind", sim.url());
    for method in ["GET", "PUT", "DELETE"] {
        assert_eq!(http::send(method, &url, &[], None).status, 405, "{method}");
    }
}

#[test]
fn faults_answer_without_touching_the_bindings() {
    let sim = sim();
    sim.set_fault(Fault::InternalError);
    let reply = entity_unbind(&sim, &[]);
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.text,
        "{\"error\":\"unbind failed e={bob/sensor-1.protected} q={alice/app-1} t={temp}\n\"}\n"
    );
    sim.set_fault(Fault::Garbage);
    let reply = entity_unbind(&sim, &[]);
    assert_eq!(reply.status, 200);
    assert!(reply.text.starts_with("<html>"));
    assert!(sim.has_binding(PROTECTED, "alice/app-1", "temp"));
    sim.set_fault(Fault::HangUp);
    let url = format!("{}/entity/unbind", sim.url());
    assert!(http::try_send("POST", &url, &[("id", "a")], None).is_err());
    sim.set_fault(Fault::None);
    sim.fail_next(1, Fault::InternalError);
    assert_eq!(entity_unbind(&sim, &[]).status, 500);
    assert_eq!(entity_unbind(&sim, &[]).status, 200);
    let statuses: Vec<_> = sim.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(500), Some(200), None, Some(500), Some(200)]);
}

#[test]
fn every_call_is_recorded_with_its_headers_and_delay_holds_answers_back() {
    let sim = sim();
    sim.set_delay(Duration::from_millis(200));
    let started = Instant::now();
    assert_eq!(entity_unbind(&sim, &[]).status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let call = &sim.calls()[0];
    assert_eq!(
        (call.method.as_str(), call.raw_path.as_str()),
        ("POST", "/entity/unbind")
    );
    assert_eq!(call.header("to"), Some("bob/sensor-1"));
    assert_eq!(call.header("message-type"), Some("protected"));
    assert_eq!(call.body, "");
}
