//! Every flow of the adapter and every row of its answer table, driven through the
//! `Adapter` trait with replies in nats-server 2.15.1's own shapes: no sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

mod discovery;

const SERVER: &str = "NB4QWZJ3XIDL2OIRVJ7DWJB3FPVWH6JXGE4DK5WNQ6L3WVRV4L7CZQTN";

fn env() -> Env {
    Env {
        unix_ms: 1_700_000_000_000,
        random: [7; 32],
    }
}

fn spec(settings: Value) -> BackendSpec {
    BackendSpec {
        name: "nats-1".into(),
        url: "nats://127.0.0.1:4222".into(),
        settings: settings.as_object().unwrap().clone(),
    }
}

fn adapter(extra: Value) -> Nats {
    let mut settings = json!({"user": "sys", "password": "syspw"});
    settings
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sever_plugin_sdk::create::<Nats>(&spec(settings)).unwrap()
}

fn request(action: Action, target: Value) -> Request {
    Request {
        request_id: "req-1".into(),
        action,
        target: serde_json::from_value(target).unwrap(),
        reason: None,
    }
}

fn sent(step: &Step) -> &NatsRequest {
    match step {
        Step::Nats(r) => {
            assert!(r.exchange.idempotent, "{r:?}");
            r
        }
        other => panic!("expected a NATS request, got {other:?}"),
    }
}

fn replies(replies: &[Value]) -> NatsReplies {
    NatsReplies {
        replies: replies.iter().map(Value::to_string).collect(),
        ..NatsReplies::default()
    }
}

fn resume(a: &Nats, flow: &mut Flow, r: &NatsReplies) -> Step {
    a.resume(flow, Input::Nats(r), &env())
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

fn kicked(server: &str) -> Value {
    json!({"server": {"name": server, "host": "127.0.0.1", "id": server, "ver": "2.15.1"}})
}

fn no_such_client(server: &str) -> Value {
    json!({"server": {"id": server}, "error": {"code": 500, "description": "no such client or leafnode id"}})
}

fn connz(server: &str, connections: Value) -> Value {
    json!({"server": {"name": server, "id": server, "ver": "2.15.1"},
           "data": {"server_id": server, "num_connections": 2, "total": 4, "offset": 0,
                    "limit": 1024, "connections": connections}})
}

fn kick_connection(a: &Nats, id: &str) -> (Flow, Step) {
    a.start(
        &request(Action::Terminate, json!({"connection_id": id})),
        &env(),
    )
}

#[test]
fn terminate_by_connection_id_kicks_that_cid_on_that_server() {
    let a = adapter(json!({}));
    let (mut flow, step) = kick_connection(&a, &format!("{SERVER}:8"));
    let r = sent(&step);
    assert_eq!(r.subject, format!("$SYS.REQ.SERVER.{SERVER}.KICK"));
    assert_eq!(r.payload, r#"{"cid":8}"#);
    assert_eq!(r.gather_ms, 0);
    let done = success(resume(&a, &mut flow, &replies(&[kicked(SERVER)])));
    assert_eq!(
        Value::Object(done.vendor),
        json!({"closed": 1, "connections": [format!("{SERVER}:8")]})
    );
}

#[test]
fn a_bare_cid_uses_the_configured_server_id() {
    let a = adapter(json!({"server_id": "NC7X"}));
    let (_, step) = kick_connection(&a, "12");
    assert_eq!(sent(&step).subject, "$SYS.REQ.SERVER.NC7X.KICK");
    let (_, step) = kick_connection(&adapter(json!({})), "12");
    let p = problem(step);
    assert_eq!(p.kind, ProblemKind::InvalidTarget);
    assert!(p.detail.contains("<server_id>:<cid>"), "{}", p.detail);
}

#[test]
fn a_server_id_that_is_not_one_subject_token_is_refused_before_anything_is_sent() {
    let a = adapter(json!({}));
    for id in ["*:8", ">:8", "A.B:8", "A B:8", "A/B:8", "A+:8", "#:8", ":8"] {
        let p = problem(kick_connection(&a, id).1);
        assert_eq!(p.kind, ProblemKind::InvalidTarget, "{id}");
        assert!(
            p.detail
                .starts_with("the server id of target.connection_id"),
            "{}",
            p.detail
        );
    }
    let errors = sever_plugin_sdk::create::<Nats>(&spec(
        json!({"user": "sys", "password": "syspw", "server_id": "ALL.>"}),
    ))
    .unwrap_err();
    assert_eq!(errors[0].key, "server_id");
}

#[test]
fn a_cid_that_is_not_a_number_is_refused_before_anything_is_sent() {
    let a = adapter(json!({}));
    for id in ["A:x", "A:0", "A:-1", "A:8 ", "A:", "A:8:9"] {
        let p = problem(kick_connection(&a, id).1);
        assert_eq!(p.kind, ProblemKind::InvalidTarget, "{id}");
        assert!(
            p.detail.starts_with("the cid of target.connection_id"),
            "{}",
            p.detail
        );
    }
}

#[test]
fn a_gone_cid_is_target_not_found_and_after_a_retry_says_the_cut_may_be_made() {
    let a = adapter(json!({}));
    let (mut flow, _) = kick_connection(&a, "A:8");
    let p = problem(resume(&a, &mut flow, &replies(&[no_such_client("A")])));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "nats has no connection A:8: no such client or leafnode id"
    );
    assert_eq!(
        Value::Object(p.vendor.unwrap()),
        json!({"code": 500, "message": "no such client or leafnode id"})
    );

    let (mut flow, first) = kick_connection(&a, "A:8");
    let again = a.resume(&mut flow, Input::Retry { attempt: 1 }, &env());
    assert_eq!(sent(&again), sent(&first));
    let p = problem(resume(&a, &mut flow, &replies(&[no_such_client("A")])));
    assert!(p.detail.contains("the first attempt may have made the cut"));
}

#[test]
fn no_responders_on_kick_is_upstream_rejected_naming_the_three_causes() {
    let a = adapter(json!({}));
    let (mut flow, _) = kick_connection(&a, "A:8");
    let r = NatsReplies {
        no_responders: true,
        ..NatsReplies::default()
    };
    let p = problem(resume(&a, &mut flow, &r));
    assert_eq!(p.kind, ProblemKind::Rejected);
    for cause in [
        "older than NATS 2.10.0",
        "no server has the id 'A'",
        "not in the system account",
    ] {
        assert!(p.detail.contains(cause), "{}", p.detail);
    }
}

#[test]
fn no_reply_is_upstream_timeout() {
    let a = adapter(json!({}));
    let (mut flow, _) = kick_connection(&a, "A:8");
    let p = problem(resume(&a, &mut flow, &replies(&[])));
    assert_eq!(p.kind, ProblemKind::Timeout);
    let (mut flow, _) = a.start(
        &request(Action::Terminate, json!({"user_id": "dev1"})),
        &env(),
    );
    let p = problem(resume(&a, &mut flow, &replies(&[])));
    assert_eq!(p.kind, ProblemKind::Timeout);
    assert!(p.detail.contains("500 ms"), "{}", p.detail);
}

#[test]
fn server_errors_and_refused_connections_map_by_the_table() {
    let a = adapter(json!({}));
    for (reply, kind) in [
        (
            json!({"server": {"id": "A"}, "error": {"code": 400, "description": "invalid character 'x' looking for beginning of value"}}),
            ProblemKind::Rejected,
        ),
        (
            json!({"server": {"id": "A"}, "error": {"code": 500, "description": "something else"}}),
            ProblemKind::VendorError,
        ),
    ] {
        let (mut flow, _) = kick_connection(&a, "A:8");
        let p = problem(resume(
            &a,
            &mut flow,
            &replies(std::slice::from_ref(&reply)),
        ));
        assert_eq!(p.kind, kind, "{reply}");
    }
    for (error, kind) in [
        ("'Authorization Violation'", ProblemKind::CredentialsRefused),
        (
            "'Permissions Violation for Publish to \"$SYS.REQ.SERVER.A.KICK\"'",
            ProblemKind::CredentialsRefused,
        ),
        (
            "'User Authentication Expired'",
            ProblemKind::CredentialsRefused,
        ),
        ("'maximum connections exceeded'", ProblemKind::Unavailable),
        ("'Stale Connection'", ProblemKind::VendorError),
    ] {
        let (mut flow, _) = kick_connection(&a, "A:8");
        let r = NatsReplies {
            error: Some(error.into()),
            ..NatsReplies::default()
        };
        let p = problem(resume(&a, &mut flow, &r));
        assert_eq!(p.kind, kind, "{error}");
    }
    let (mut flow, _) = kick_connection(&a, "A:8");
    let r = NatsReplies {
        error: Some("'Authorization Violation'".into()),
        ..NatsReplies::default()
    };
    let vendor = problem(resume(&a, &mut flow, &r)).vendor.unwrap();
    assert_eq!(vendor["code"], "Authorization Violation");
}

#[test]
fn a_reply_that_is_not_json_is_unreadable() {
    let a = adapter(json!({}));
    let (mut flow, _) = kick_connection(&a, "A:8");
    let r = NatsReplies {
        replies: vec!["+OK".into()],
        ..NatsReplies::default()
    };
    assert_eq!(
        problem(resume(&a, &mut flow, &r)).kind,
        ProblemKind::Unreadable
    );
}

#[test]
fn settings_take_exactly_one_auth_option_and_never_echo_a_secret() {
    let creds = "-----BEGIN NATS USER JWT-----\neyJhbGciOi.x.y\n------END NATS USER JWT------\n\n\
                 -----BEGIN USER NKEY SEED-----\nSUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n\
                 ------END USER NKEY SEED------\n";
    let a = sever_plugin_sdk::create::<Nats>(&spec(json!({"creds": creds}))).unwrap();
    let c = a.connection().unwrap();
    assert_eq!(c.creds.as_deref(), Some(creds));
    assert_eq!(c.client_id.as_deref(), Some("sever-nats-1"));
    assert!(!format!("{a:?}").contains("SUAIB"));
    let a = sever_plugin_sdk::create::<Nats>(&spec(json!({"token": "t0k3n"}))).unwrap();
    assert_eq!(a.connection().unwrap().token.as_deref(), Some("t0k3n"));

    for (settings, key) in [
        (json!({}), ""),
        (
            json!({"user": "sys", "password": "syspw", "token": "t0k3n"}),
            "",
        ),
        (json!({"user": "sys"}), "password"),
        (json!({"creds": "not creds at all"}), "creds"),
        (
            json!({"token": "t0k3n", "discovery_timeout_ms": "soon"}),
            "discovery_timeout_ms",
        ),
    ] {
        let errors = sever_plugin_sdk::create::<Nats>(&spec(settings.clone())).unwrap_err();
        assert!(
            errors.iter().any(|e| e.key == key),
            "{settings}: {errors:?}"
        );
        for e in &errors {
            assert!(
                !e.message.contains("t0k3n") && !e.message.contains("syspw"),
                "{e:?}"
            );
        }
    }
}

#[test]
fn the_metadata_declares_the_nats_transport() {
    let info = sever_plugin_sdk::info::<Nats>();
    assert_eq!(info.name, "nats");
    assert_eq!(info.transport, Transport::Nats);
    assert_eq!(info.schemes(), ["nats", "tls"]);
    let secrets: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secrets, ["password", "token", "creds"]);
}
