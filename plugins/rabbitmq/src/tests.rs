//! Every flow of the adapter, driven through the `Adapter` trait with canned answers in
//! the broker's own shapes (seen on RabbitMQ 3.10.8): no sockets, no clock.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

const URL: &str = "http://rabbit.local:15672";
const AMQP_A: &str = "127.0.0.1:52341 -> 127.0.0.1:5672";
const AMQP_B: &str = "127.0.0.1:52342 -> 127.0.0.1:5672";
const MQTT: &str = "127.0.0.1:40001 -> 127.0.0.1:1883";

fn env() -> Env {
    Env {
        unix_ms: 1_700_000_000_000,
        random: [7; 32],
    }
}

fn adapter(vhost: Option<&str>) -> Rabbitmq {
    let mut settings = json!({"user": "sever", "password": "pa:ss"});
    if let Some(vhost) = vhost {
        settings["vhost"] = json!(vhost);
    }
    sever_plugin_sdk::create::<Rabbitmq>(&BackendSpec {
        name: "rmq".into(),
        url: URL.into(),
        settings: settings.as_object().unwrap().clone(),
    })
    .unwrap()
}

fn request(action: Action, target: Value, reason: Option<&str>) -> Request {
    Request {
        request_id: "req-1".into(),
        action,
        target: serde_json::from_value(target).unwrap(),
        reason: reason.map(str::to_owned),
    }
}

fn sent(step: &Step) -> &VendorRequest {
    match step {
        Step::Send(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn reply(a: &Rabbitmq, flow: &mut Flow, status: u16, body: &str) -> Step {
    let response = VendorResponse {
        status,
        headers: &[],
        body: body.as_bytes(),
    };
    a.resume(flow, Input::Response(response), &env())
}

fn header<'a>(r: &'a VendorRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn problem(step: Step) -> Problem {
    match step {
        Step::Fail(p) => p,
        other => panic!("expected a problem, got {other:?}"),
    }
}

fn success(step: Step) -> Success {
    match step {
        Step::Done(s) => s,
        other => panic!("expected done, got {other:?}"),
    }
}

fn connections() -> String {
    json!([
        {"name": AMQP_A, "user": "app", "client_properties": {"connection_name": "orders-1", "product": "lapin"}},
        {"name": AMQP_B, "user": "app", "client_properties": {"connection_name": "orders-2"}},
        {"name": MQTT, "user": "dev", "client_properties": {"client_id": "orders-1"}},
        {"user": "app"},
    ])
    .to_string()
}

#[test]
fn disconnect_lists_the_vhost_then_closes_every_match_with_the_reason() {
    let a = adapter(None);
    let (mut flow, step) = a.start(
        &request(
            Action::Disconnect,
            json!({"client_id": "orders-1"}),
            Some("INC-1"),
        ),
        &env(),
    );
    let list = sent(&step);
    assert_eq!(list.method, "GET");
    assert_eq!(
        list.url,
        format!("{URL}/api/vhosts/%2F/connections?columns=name,user,client_properties")
    );
    let basic = format!("Basic {}", encode::basic_auth("sever", "pa:ss"));
    assert_eq!(header(list, "authorization"), Some(basic.as_str()));
    assert!(list.idempotent && list.redact.contains(&encode::basic_auth("sever", "pa:ss")));

    let step = reply(&a, &mut flow, 200, &connections());
    let close = sent(&step);
    assert_eq!(close.method, "DELETE");
    assert_eq!(
        close.url,
        format!("{URL}/api/connections/127.0.0.1%3A52341%20-%3E%20127.0.0.1%3A5672")
    );
    assert_eq!(header(close, "x-reason"), Some("INC-1"));
    assert_eq!(header(close, "authorization"), Some(basic.as_str()));
    let step = reply(&a, &mut flow, 204, "");
    assert!(sent(&step)
        .url
        .ends_with("127.0.0.1%3A40001%20-%3E%20127.0.0.1%3A1883"));
    let done = success(reply(&a, &mut flow, 204, ""));
    assert_eq!(done.outcome, Outcome::Done);
    assert_eq!(done.vendor["closed"], 2);
    assert_eq!(done.vendor["status"], 204);
    assert_eq!(done.vendor["connections"], json!([AMQP_A, MQTT]));
}

#[test]
fn disconnect_without_a_match_is_target_not_found_and_closes_nothing() {
    let a = adapter(Some("prod/eu"));
    let (mut flow, step) = a.start(
        &request(Action::Disconnect, json!({"client_id": "ghost"}), None),
        &env(),
    );
    assert!(sent(&step)
        .url
        .contains("/api/vhosts/prod%2Feu/connections?"));
    let p = problem(reply(&a, &mut flow, 200, &connections()));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(
        p.detail.contains("'ghost'") && p.detail.contains("prod/eu"),
        "{p:?}"
    );
    assert_eq!(p.vendor.unwrap()["closed"], 0);
}

#[test]
fn a_connection_gone_before_its_close_is_skipped_not_counted() {
    let a = adapter(None);
    let (mut flow, _) = a.start(
        &request(Action::Disconnect, json!({"client_id": "orders-1"}), None),
        &env(),
    );
    let step = reply(&a, &mut flow, 200, &connections());
    assert_eq!(header(sent(&step), "x-reason"), None);
    let not_found = r#"{"error":"Object Not Found","reason":"Not Found"}"#;
    sent(&reply(&a, &mut flow, 404, not_found));
    let done = success(reply(&a, &mut flow, 204, ""));
    assert_eq!(done.vendor["closed"], 1);
    assert_eq!(done.vendor["connections"], json!([MQTT]));

    let (mut flow, _) = a.start(
        &request(Action::Disconnect, json!({"client_id": "orders-2"}), None),
        &env(),
    );
    sent(&reply(&a, &mut flow, 200, &connections()));
    let p = problem(reply(&a, &mut flow, 404, not_found));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
}

#[test]
fn terminate_by_connection_id_deletes_it_directly() {
    let a = adapter(None);
    let (mut flow, step) = a.start(
        &request(
            Action::Terminate,
            json!({"connection_id": AMQP_B}),
            Some("r"),
        ),
        &env(),
    );
    let close = sent(&step);
    assert_eq!(close.method, "DELETE");
    assert!(close
        .url
        .ends_with("/api/connections/127.0.0.1%3A52342%20-%3E%20127.0.0.1%3A5672"));
    assert_eq!(header(close, "x-reason"), Some("r"));
    let done = success(reply(&a, &mut flow, 204, ""));
    assert_eq!(done.vendor["closed"], 1);

    let (mut flow, _) = a.start(
        &request(Action::Terminate, json!({"connection_id": "nope"}), None),
        &env(),
    );
    let p = problem(reply(
        &a,
        &mut flow,
        404,
        r#"{"error":"Object Not Found","reason":"Not Found"}"#,
    ));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    let vendor = p.vendor.unwrap();
    assert_eq!(vendor["code"], "Object Not Found");
    assert_eq!(vendor["message"], "Not Found");
    assert!(p.detail.contains("connection 'nope'") && p.detail.contains("Not Found"));
}

#[test]
fn terminate_by_user_uses_the_per_user_list_narrowed_to_the_vhost() {
    let a = adapter(None);
    let (mut flow, step) = a.start(
        &request(Action::Terminate, json!({"user_id": "app x"}), None),
        &env(),
    );
    assert_eq!(
        sent(&step).url,
        format!("{URL}/api/connections/username/app%20x?columns=name,user,vhost")
    );
    let listed = json!([
        {"name": AMQP_A, "user": "app x", "vhost": "/"},
        {"name": AMQP_B, "user": "app x", "vhost": "other"},
    ]);
    let step = reply(&a, &mut flow, 200, &listed.to_string());
    assert!(sent(&step).url.contains("52341"));
    let done = success(reply(&a, &mut flow, 204, ""));
    assert_eq!(done.vendor["closed"], 1);
}

#[test]
fn terminate_by_user_falls_back_to_the_vhost_list_without_the_per_user_endpoint() {
    let a = adapter(None);
    let (mut flow, _) = a.start(
        &request(Action::Terminate, json!({"user_id": "app"}), None),
        &env(),
    );
    let step = reply(
        &a,
        &mut flow,
        404,
        r#"{"error":"Object Not Found","reason":"Not Found"}"#,
    );
    assert_eq!(
        sent(&step).url,
        format!("{URL}/api/vhosts/%2F/connections?columns=name,user,vhost")
    );
    let step = reply(&a, &mut flow, 200, &connections());
    assert!(sent(&step).url.contains("52341"));
    assert!(sent(&reply(&a, &mut flow, 204, "")).url.contains("52342"));
    let step = reply(&a, &mut flow, 204, "");
    // The unnamed row matches the user but has no name to close.
    assert_eq!(success(step).vendor["closed"], 2);

    let (mut flow, _) = a.start(
        &request(Action::Terminate, json!({"user_id": "nobody"}), None),
        &env(),
    );
    let p = problem(reply(&a, &mut flow, 200, "[]"));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(p.detail.contains("user 'nobody'"), "{p:?}");
}

#[test]
fn unbind_deletes_the_binding_with_the_properties_key_the_broker_listed() {
    let a = adapter(None);
    let (mut flow, step) = a.start(
        &request(
            Action::Unbind,
            json!({"source": "amq.topic", "client_id": "q 1", "topic": "a/b #"}),
            Some("r"),
        ),
        &env(),
    );
    let list = sent(&step);
    assert_eq!(
        list.url,
        format!("{URL}/api/bindings/%2F/e/amq.topic/q/q%201")
    );
    let bindings = json!([
        {"source": "amq.topic", "destination": "q 1", "routing_key": "a.b.*", "properties_key": "a.b.%2A"},
        {"source": "amq.topic", "destination": "q 1", "routing_key": "a/b #", "properties_key": "a%2Fb+%23"},
    ]);
    let step = reply(&a, &mut flow, 200, &bindings.to_string());
    let delete = sent(&step);
    assert_eq!(delete.method, "DELETE");
    assert_eq!(
        delete.url,
        format!("{URL}/api/bindings/%2F/e/amq.topic/q/q%201/a%252Fb%2B%2523")
    );
    assert_eq!(header(delete, "x-reason"), None);
    let done = success(reply(&a, &mut flow, 204, ""));
    assert_eq!(done.vendor["unbound"], 1);
    assert!(done.vendor.get("closed").is_none());
}

#[test]
fn unbind_of_an_absent_routing_key_is_target_not_found() {
    let a = adapter(None);
    let target = json!({"source": "amq.topic", "client_id": "q1", "topic": "x"});
    let (mut flow, _) = a.start(&request(Action::Unbind, target, None), &env());
    let p = problem(reply(
        &a,
        &mut flow,
        200,
        r#"[{"routing_key":"y","properties_key":"y"}]"#,
    ));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(
        p.detail.contains("no such binding") && p.detail.contains("key 'x'"),
        "{p:?}"
    );
}

#[test]
fn answers_map_to_canonical_codes() {
    let a = adapter(None);
    let cases = [
        (
            401,
            r#"{"error":"not_authorized","reason":"Login failed"}"#,
            ProblemKind::CredentialsRefused,
        ),
        (
            403,
            r#"{"error":"not_authorised","reason":"Not administrator user"}"#,
            ProblemKind::CredentialsRefused,
        ),
        (
            404,
            r#"{"error":"Object Not Found","reason":"Not Found"}"#,
            ProblemKind::TargetNotFound,
        ),
        (429, "", ProblemKind::RateLimited),
        (
            400,
            r#"{"error":"bad_request","reason":"x"}"#,
            ProblemKind::Rejected,
        ),
        (500, "<html>boom</html>", ProblemKind::VendorError),
        (503, "", ProblemKind::VendorError),
    ];
    for (status, body, code) in cases {
        let (mut flow, _) = a.start(
            &request(Action::Disconnect, json!({"client_id": "c"}), None),
            &env(),
        );
        let p = problem(reply(&a, &mut flow, status, body));
        assert_eq!(p.kind, code, "{status}: {p:?}");
        assert_eq!(p.retryable, status >= 500, "{status}");
        assert_eq!(p.vendor.as_ref().unwrap()["status"], status);
    }
    let (mut flow, _) = a.start(
        &request(Action::Disconnect, json!({"client_id": "c"}), None),
        &env(),
    );
    let p = problem(reply(
        &a,
        &mut flow,
        401,
        r#"{"error":"not_authorized","reason":"Login failed"}"#,
    ));
    assert!(p.detail.contains("Login failed"), "{p:?}");
    assert_eq!(p.vendor.unwrap()["message"], "Login failed");
}

#[test]
fn a_list_that_is_not_json_objects_is_upstream_error() {
    let a = adapter(None);
    for body in ["<html>login</html>", r#"{"a":1}"#, "[1,2]"] {
        let (mut flow, _) = a.start(
            &request(Action::Disconnect, json!({"client_id": "c"}), None),
            &env(),
        );
        let p = problem(reply(&a, &mut flow, 200, body));
        assert_eq!(p.kind.canonical_code(), "upstream_error", "{body}");
    }
}

#[test]
fn a_failure_after_some_closes_reports_the_count_so_far() {
    let a = adapter(None);
    let (mut flow, _) = a.start(
        &request(Action::Disconnect, json!({"client_id": "orders-1"}), None),
        &env(),
    );
    sent(&reply(&a, &mut flow, 200, &connections()));
    sent(&reply(&a, &mut flow, 204, ""));
    let p = problem(reply(&a, &mut flow, 500, ""));
    assert_eq!(p.kind, ProblemKind::VendorError);
    assert_eq!(p.vendor.unwrap()["closed"], 1);
}

#[test]
fn a_retry_plans_the_step_in_flight_again() {
    let a = adapter(None);
    let (mut flow, first) = a.start(
        &request(Action::Disconnect, json!({"client_id": "orders-1"}), None),
        &env(),
    );
    let again = a.resume(&mut flow, Input::Retry { attempt: 1 }, &env());
    assert_eq!(first, again);
    let close = reply(&a, &mut flow, 200, &connections());
    assert_eq!(
        a.resume(&mut flow, Input::Retry { attempt: 1 }, &env()),
        close
    );
}

#[test]
fn a_reason_with_control_characters_is_refused_before_any_call() {
    let a = adapter(None);
    let (_, step) = a.start(
        &request(
            Action::Terminate,
            json!({"connection_id": "c"}),
            Some("a\r\nb"),
        ),
        &env(),
    );
    assert_eq!(problem(step).kind, ProblemKind::InvalidTarget);
}

#[test]
fn settings_are_checked_and_the_vhost_defaults_to_slash() {
    assert_eq!(adapter(None).vhost, "/");
    let bad = sever_plugin_sdk::create::<Rabbitmq>(&BackendSpec {
        name: "rmq".into(),
        url: URL.into(),
        settings: json!({"user": "a:b", "vhost": "", "extra": 1})
            .as_object()
            .unwrap()
            .clone(),
    })
    .unwrap_err();
    let mut keys: Vec<&str> = bad.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["extra", "password", "user", "vhost"]);
    let info = sever_plugin_sdk::info::<Rabbitmq>();
    assert_eq!(info.secret_keys().collect::<Vec<_>>(), ["password"]);
    assert_eq!(info.actions.len(), 3);
}
