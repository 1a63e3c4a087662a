//! Every flow of the adapter and every row of its answer table, driven through the
//! `Adapter` trait with answers copied from runs on Mosquitto 2.0.11: no sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

/// The correlation prefix of `env(7)`: 12 bytes of 7 in hex.
const C7: &str = "sever-070707070707070707070707";
const C9: &str = "sever-090909090909090909090909";

fn env(byte: u8) -> Env {
    Env {
        unix_ms: 1_700_000_000_000,
        random: [byte; 32],
    }
}

fn adapter(extra: Value) -> Mosquitto {
    let mut settings = json!({"username": "admin", "password": "adminpw"});
    settings
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sever_plugin_sdk::create::<Mosquitto>(&BackendSpec {
        name: "broker-1".into(),
        url: "mqtt://127.0.0.1:1883".into(),
        settings: settings.as_object().unwrap().clone(),
    })
    .unwrap()
}

fn request(action: Action, target: Value) -> Request {
    Request {
        request_id: "req-1".into(),
        action,
        target: serde_json::from_value(target).unwrap(),
        reason: None,
    }
}

fn published(step: &Step) -> (Value, &MqttRequest) {
    match step {
        Step::Mqtt(r) => (serde_json::from_str(&r.payload).unwrap(), r),
        other => panic!("expected an MQTT request, got {other:?}"),
    }
}

fn answered(messages: &[Value]) -> MqttResult {
    MqttResult {
        connack_reason: 0,
        puback_reason: 0,
        messages: messages.iter().map(Value::to_string).collect(),
    }
}

fn resume(a: &Mosquitto, flow: &mut Flow, result: &MqttResult, byte: u8) -> Step {
    a.resume(flow, Input::Mqtt(result), &env(byte))
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

fn terminate(a: &Mosquitto, user: &str) -> (Flow, Step) {
    a.start(
        &request(Action::Terminate, json!({"user_id": user})),
        &env(7),
    )
}

/// An answer to commands `(command, error)`, correlated `C7-1`, `C7-2`…
fn responses(items: &[(&str, Option<&str>)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(i, (command, error))| {
            let mut item =
                json!({"command": command, "correlationData": format!("{C7}-{}", i + 1)});
            if let Some(error) = error {
                item["error"] = json!(error);
            }
            item
        })
        .collect();
    json!({ "responses": items })
}

#[test]
fn terminate_disables_the_user_in_one_batch_and_is_done() {
    let a = adapter(json!({}));
    let (mut flow, step) = terminate(&a, "dev1");
    let (payload, r) = published(&step);
    assert_eq!(
        payload,
        json!({"commands": [
            {"command": "disableClient", "username": "dev1", "correlationData": format!("{C7}-1")}
        ]})
    );
    assert_eq!(r.topic, "$CONTROL/dynamic-security/v1");
    assert_eq!(r.response_topic, "$CONTROL/dynamic-security/v1/response");
    assert_eq!(r.qos, 1);
    assert_eq!(r.correlation, [format!("{C7}-1")]);
    assert!(r.exchange.idempotent);
    let done = success(resume(
        &a,
        &mut flow,
        &answered(&[responses(&[("disableClient", None)])]),
        8,
    ));
    assert_eq!(done.outcome, Outcome::Done);
    assert_eq!(done.vendor["users"], json!(["dev1"]));
    assert_eq!(done.vendor["reenabled"], json!(false));
    assert!(done.vendor["message"]
        .as_str()
        .unwrap()
        .starts_with("no connection count available"));
}

#[test]
fn with_reenable_after_kick_the_same_batch_enables_the_user_again() {
    let a = adapter(json!({"reenable_after_kick": true}));
    let (mut flow, step) = terminate(&a, "dev1");
    let (payload, _) = published(&step);
    assert_eq!(
        payload["commands"][1],
        json!({"command": "enableClient", "username": "dev1", "correlationData": format!("{C7}-2")})
    );
    let answer = responses(&[("disableClient", None), ("enableClient", None)]);
    let done = success(resume(&a, &mut flow, &answered(&[answer]), 8));
    assert_eq!(done.vendor["reenabled"], json!(true));
}

#[test]
fn an_enable_that_fails_after_the_disable_is_upstream_error_saying_the_user_stays_disabled() {
    let a = adapter(json!({"reenable_after_kick": true}));
    for answer in [
        responses(&[
            ("disableClient", None),
            ("enableClient", Some("Internal error")),
        ]),
        responses(&[("disableClient", None)]),
    ] {
        let (mut flow, _) = terminate(&a, "dev1");
        let p = problem(resume(&a, &mut flow, &answered(&[answer]), 8));
        assert_eq!(p.kind, ProblemKind::VendorError);
        assert!(p.detail.contains("it stays disabled"), "{}", p.detail);
        assert_eq!(p.vendor.unwrap()["users"], json!(["dev1"]));
    }
}

#[test]
fn a_username_is_json_data_never_a_topic() {
    let a = adapter(json!({}));
    let (_, step) = terminate(&a, "a/+/#\"}]");
    let (payload, r) = published(&step);
    assert_eq!(payload["commands"][0]["username"], "a/+/#\"}]");
    assert_eq!(r.topic, "$CONTROL/dynamic-security/v1");
}

#[test]
fn an_unknown_user_is_target_not_found_with_the_plugins_words() {
    let a = adapter(json!({}));
    let (mut flow, _) = terminate(&a, "ghost");
    let answer = responses(&[("disableClient", Some("Client not found"))]);
    let p = problem(resume(&a, &mut flow, &answered(&[answer]), 8));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "mosquitto has no dynsec client 'ghost': Client not found"
    );
    assert_eq!(
        Value::Object(p.vendor.unwrap()),
        json!({"code": "Client not found", "message": "Client not found", "command": "disableClient"})
    );
}

#[test]
fn errors_only_a_sever_bug_causes_are_upstream_rejected() {
    for error in [
        "Invalid/missing username",
        "Username not valid UTF-8",
        "Unknown command",
        "Invalid correlationData data type.",
        "Payload not valid JSON",
    ] {
        let a = adapter(json!({}));
        let (mut flow, _) = terminate(&a, "dev1");
        let answer = responses(&[("disableClient", Some(error))]);
        let p = problem(resume(&a, &mut flow, &answered(&[answer]), 8));
        assert_eq!(p.kind, ProblemKind::Rejected, "{error}");
        assert!(p.detail.contains("a Sever bug"));
        assert_eq!(p.vendor.unwrap()["code"], error);
    }
}

#[test]
fn another_error_text_is_upstream_error() {
    let a = adapter(json!({}));
    let (mut flow, _) = terminate(&a, "dev1");
    let answer = responses(&[("disableClient", Some("Internal error"))]);
    let p = problem(resume(&a, &mut flow, &answered(&[answer]), 8));
    assert_eq!(p.kind, ProblemKind::VendorError);
}

#[test]
fn refused_credentials_and_acl_are_upstream_unauthorized() {
    let a = adapter(json!({}));
    for (connack, puback, code) in [(0x86, 0, "0x86"), (0x87, 0, "0x87"), (0, 0x87, "0x87")] {
        let (mut flow, _) = terminate(&a, "dev1");
        let result = MqttResult {
            connack_reason: connack,
            puback_reason: puback,
            messages: vec![],
        };
        let p = problem(resume(&a, &mut flow, &result, 8));
        assert_eq!(
            p.kind,
            ProblemKind::CredentialsRefused,
            "{connack} {puback}"
        );
        assert_eq!(p.vendor.unwrap()["code"], code);
    }
}

#[test]
fn other_reason_codes_map_by_their_meaning() {
    let a = adapter(json!({}));
    for (connack, puback, kind) in [
        (0x88, 0, ProblemKind::Unavailable),
        (0x89, 0, ProblemKind::Unavailable),
        (0x9F, 0, ProblemKind::RateLimited),
        (0, 0x97, ProblemKind::RateLimited),
        (0x85, 0, ProblemKind::Rejected),
        (0, 0x90, ProblemKind::Rejected),
        (0x80, 0, ProblemKind::VendorError),
        (0, 0x83, ProblemKind::VendorError),
    ] {
        let (mut flow, _) = terminate(&a, "dev1");
        let result = MqttResult {
            connack_reason: connack,
            puback_reason: puback,
            messages: vec![],
        };
        assert_eq!(
            problem(resume(&a, &mut flow, &result, 8)).kind,
            kind,
            "{connack:#x} {puback:#x}"
        );
    }
    // Below 0x80 a PUBACK reason is a success (0x10: no matching subscribers).
    let (mut flow, _) = terminate(&a, "dev1");
    let mut result = answered(&[responses(&[("disableClient", None)])]);
    result.puback_reason = 0x10;
    success(resume(&a, &mut flow, &result, 8));
}

#[test]
fn no_answer_is_upstream_timeout_and_a_foreign_or_broken_answer_upstream_error() {
    let a = adapter(json!({}));
    let (mut flow, _) = terminate(&a, "dev1");
    let p = problem(resume(&a, &mut flow, &answered(&[]), 8));
    assert_eq!(p.kind, ProblemKind::Timeout);

    let other_admin =
        json!({"responses": [{"command": "disableClient", "correlationData": "c-3"}]});
    for messages in [
        vec![other_admin],
        vec![json!("not a document")],
        vec![json!({"responses": 3})],
    ] {
        let (mut flow, _) = terminate(&a, "dev1");
        let p = problem(resume(&a, &mut flow, &answered(&messages), 8));
        assert_eq!(p.kind, ProblemKind::Unreadable, "{messages:?}");
    }
    let (mut flow, _) = terminate(&a, "dev1");
    let result = MqttResult {
        messages: vec!["{oops".into()],
        ..MqttResult::default()
    };
    assert_eq!(
        problem(resume(&a, &mut flow, &result, 8)).kind,
        ProblemKind::Unreadable
    );
}

#[test]
fn the_answer_is_read_among_other_admins_answers_on_the_topic() {
    let a = adapter(json!({}));
    let (mut flow, _) = terminate(&a, "dev1");
    let other = json!({"responses": [{"command": "disableClient", "error": "Client not found", "correlationData": "c-2"}]});
    let ours = responses(&[("disableClient", None)]);
    success(resume(&a, &mut flow, &answered(&[other, ours]), 8));
}

#[test]
fn a_retry_plans_the_batch_again_with_fresh_correlation_strings() {
    let a = adapter(json!({}));
    let (mut flow, first) = terminate(&a, "dev1");
    let again = a.resume(&mut flow, Input::Retry { attempt: 1 }, &env(9));
    let (before, _) = published(&first);
    let (after, r) = published(&again);
    assert_eq!(after["commands"][0]["correlationData"], format!("{C9}-1"));
    assert_eq!(
        after["commands"][0]["username"],
        before["commands"][0]["username"]
    );
    assert_eq!(r.correlation, [format!("{C9}-1")]);
}

/// The `listClients` answer of the contract, with a disabled pinning record added.
fn list_answer() -> Value {
    json!({"responses": [{"command": "listClients", "data": {"totalCount": 4, "clients": [
        {"username": "admin", "textname": "Dynsec admin user", "roles": [{"rolename": "admin"}], "groups": []},
        {"username": "pinned", "clientid": "sensor-99", "roles": [], "groups": []},
        {"username": "blocked", "clientid": "sensor-50", "disabled": true, "roles": [], "groups": []},
        {"username": "free", "roles": [], "groups": []}
    ]}, "correlationData": format!("{C7}-1")}]})
}

fn disconnect(a: &Mosquitto, client: &str) -> (Flow, Step) {
    a.start(
        &request(Action::Disconnect, json!({"client_id": client})),
        &env(7),
    )
}

#[test]
fn disconnect_lists_then_disables_and_reenables_the_record_pinning_the_client_id() {
    let a = adapter(json!({}));
    let (mut flow, step) = disconnect(&a, "sensor-99");
    let (payload, _) = published(&step);
    assert_eq!(
        payload,
        json!({"commands": [{"command": "listClients", "verbose": true, "count": -1, "offset": 0,
                             "correlationData": format!("{C7}-1")}]})
    );
    let step = resume(&a, &mut flow, &answered(&[list_answer()]), 9);
    let (payload, r) = published(&step);
    assert_eq!(
        payload,
        json!({"commands": [
            {"command": "disableClient", "username": "pinned", "correlationData": format!("{C9}-1")},
            {"command": "enableClient", "username": "pinned", "correlationData": format!("{C9}-2")}
        ]})
    );
    assert_eq!(r.correlation, [format!("{C9}-1")]);
    let answer = json!({"responses": [
        {"command": "disableClient", "correlationData": format!("{C9}-1")},
        {"command": "enableClient", "correlationData": format!("{C9}-2")}
    ]});
    let done = success(resume(&a, &mut flow, &answered(&[answer]), 10));
    assert_eq!(done.vendor["users"], json!(["pinned"]));
    assert_eq!(done.vendor["reenabled"], json!(true));
}

#[test]
fn disconnect_of_a_client_id_no_record_pins_is_target_not_found_saying_why() {
    let a = adapter(json!({}));
    for (client, says) in [
        (
            "free",
            "only client ids pinned by a dynsec clientid can be cut on Mosquitto 2.0",
        ),
        ("sensor-50", "is disabled, so no session can be connected"),
    ] {
        let (mut flow, _) = disconnect(&a, client);
        let p = problem(resume(&a, &mut flow, &answered(&[list_answer()]), 9));
        assert_eq!(p.kind, ProblemKind::TargetNotFound, "{client}");
        assert!(p.detail.contains(says), "{}", p.detail);
    }
}

#[test]
fn a_list_answer_without_its_records_is_upstream_error() {
    let a = adapter(json!({}));
    let (mut flow, _) = disconnect(&a, "sensor-99");
    let answer = json!({"responses": [{"command": "listClients", "data": {}, "correlationData": format!("{C7}-1")}]});
    assert_eq!(
        problem(resume(&a, &mut flow, &answered(&[answer]), 9)).kind,
        ProblemKind::Unreadable
    );
    let (mut flow, _) = disconnect(&a, "sensor-99");
    let answer = responses(&[("listClients", Some("Internal error"))]);
    assert_eq!(
        problem(resume(&a, &mut flow, &answered(&[answer]), 9)).kind,
        ProblemKind::VendorError
    );
}

#[test]
fn two_records_pinning_one_id_are_both_cut_and_one_deleted_meanwhile_is_skipped() {
    let a = adapter(json!({}));
    let (mut flow, _) = disconnect(&a, "shared");
    let list = json!({"responses": [{"command": "listClients", "data": {"clients": [
        {"username": "u1", "clientid": "shared"}, {"username": "u2", "clientid": "shared"}
    ]}, "correlationData": format!("{C7}-1")}]});
    let step = resume(&a, &mut flow, &answered(&[list]), 9);
    let (payload, _) = published(&step);
    assert_eq!(payload["commands"].as_array().unwrap().len(), 4);
    let answer = json!({"responses": [
        {"command": "disableClient", "error": "Client not found", "correlationData": format!("{C9}-1")},
        {"command": "enableClient", "error": "Client not found", "correlationData": format!("{C9}-2")},
        {"command": "disableClient", "correlationData": format!("{C9}-3")},
        {"command": "enableClient", "correlationData": format!("{C9}-4")}
    ]});
    let done = success(resume(&a, &mut flow, &answered(&[answer]), 10));
    assert_eq!(done.vendor["users"], json!(["u2"]));
}

#[test]
fn the_connection_is_the_admins_with_a_client_id_per_backend() {
    let a = adapter(json!({"ca_path": "/etc/ssl/broker-ca.pem"}));
    let c = a.connection().unwrap();
    assert_eq!(c.username.as_deref(), Some("admin"));
    assert_eq!(c.password.as_deref(), Some("adminpw"));
    assert_eq!(c.client_id.as_deref(), Some("sever-broker-1"));
    assert_eq!(c.ca_path.as_deref(), Some("/etc/ssl/broker-ca.pem"));
    let c = adapter(json!({"client_id": "sever-eu-2"}))
        .connection()
        .unwrap();
    assert_eq!(c.client_id.as_deref(), Some("sever-eu-2"));
    assert!(!format!("{a:?}").contains("adminpw"));
}

#[test]
fn the_metadata_declares_the_mqtt_transport() {
    let info = sever_plugin_sdk::info::<Mosquitto>();
    assert_eq!(info.name, "mosquitto");
    assert_eq!(info.transport, Transport::Mqtt);
    assert_eq!(info.schemes(), ["mqtt", "mqtts"]);
    let secrets: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secrets, ["password"]);
}

#[test]
fn a_whole_batch_refused_without_correlation_data_is_upstream_rejected() {
    let a = adapter(json!({}));
    for answer in [
        json!({"responses": [{"command": "Unknown command", "error": "Payload not valid JSON"}]}),
        json!({"responses": [{"command": "disableClient", "error": "Invalid correlationData data type."}]}),
    ] {
        let (mut flow, _) = terminate(&a, "dev1");
        let p = problem(resume(
            &a,
            &mut flow,
            &answered(std::slice::from_ref(&answer)),
            8,
        ));
        assert_eq!(p.kind, ProblemKind::Rejected, "{answer}");
        assert!(p.detail.contains("a Sever bug"), "{}", p.detail);
    }
}
