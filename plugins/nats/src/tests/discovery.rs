//! The discovery flows: `terminate` by user and `disconnect` by name, every page, then a
//! KICK per match.

use super::*;

#[test]
fn terminate_by_user_discovers_on_every_server_then_kicks_each_match() {
    let a = adapter(json!({"discovery_timeout_ms": 750}));
    let (mut flow, step) = a.start(
        &request(Action::Terminate, json!({"user_id": "dev1"})),
        &env(),
    );
    let r = sent(&step);
    assert_eq!(r.subject, "$SYS.REQ.SERVER.PING.CONNZ");
    assert_eq!(
        r.payload,
        r#"{"auth":true,"user":"dev1","limit":1024,"offset":0}"#
    );
    assert_eq!(r.gather_ms, 750);
    let discovery = replies(&[
        connz(
            "A",
            json!([{"cid": 8, "name": "sensor-17", "authorized_user": "dev1", "account": "APP"}]),
        ),
        connz(
            "B",
            json!([{"cid": 3, "authorized_user": "dev1"}, {"cid": 4, "authorized_user": "dev1"}]),
        ),
    ]);
    let step = resume(&a, &mut flow, &discovery);
    assert_eq!(sent(&step).subject, "$SYS.REQ.SERVER.A.KICK");
    let step = resume(&a, &mut flow, &replies(&[kicked("A")]));
    assert_eq!(
        (sent(&step).subject.as_str(), sent(&step).payload.as_str()),
        ("$SYS.REQ.SERVER.B.KICK", r#"{"cid":3}"#)
    );
    // Gone meanwhile: skipped, not counted.
    let step = resume(&a, &mut flow, &replies(&[no_such_client("B")]));
    assert_eq!(sent(&step).payload, r#"{"cid":4}"#);
    let done = success(resume(&a, &mut flow, &replies(&[kicked("B")])));
    assert_eq!(
        Value::Object(done.vendor),
        json!({"closed": 2, "connections": ["A:8", "B:4"]})
    );
}

#[test]
fn disconnect_matches_connection_names_over_every_page() {
    let a = adapter(json!({}));
    let (mut flow, step) = a.start(
        &request(Action::Disconnect, json!({"client_id": "sensor-17"})),
        &env(),
    );
    assert_eq!(
        sent(&step).payload,
        r#"{"auth":true,"limit":1024,"offset":0}"#
    );
    let mut full: Vec<Value> = (1..=1023)
        .map(|cid| json!({"cid": cid + 100, "name": "other"}))
        .collect();
    full.push(json!({"cid": 8, "name": "sensor-17"}));
    let step = resume(
        &a,
        &mut flow,
        &replies(&[connz("A", Value::Array(full)), connz("B", json!([]))]),
    );
    assert_eq!(
        sent(&step).payload,
        r#"{"auth":true,"limit":1024,"offset":1024}"#
    );
    let page2 = replies(&[
        connz(
            "A",
            json!([{"cid": 9, "name": "sensor-17"}, {"cid": 8, "name": "sensor-17"}]),
        ),
        connz("B", json!([])),
    ]);
    let step = resume(&a, &mut flow, &page2);
    assert_eq!(sent(&step).payload, r#"{"cid":8}"#);
    let step = resume(&a, &mut flow, &replies(&[kicked("A")]));
    assert_eq!(sent(&step).payload, r#"{"cid":9}"#);
    let done = success(resume(&a, &mut flow, &replies(&[kicked("A")])));
    assert_eq!(done.vendor["closed"], 2);
}

#[test]
fn a_discovery_without_a_match_or_with_every_match_gone_is_target_not_found() {
    let a = adapter(json!({}));
    let (mut flow, _) = a.start(
        &request(Action::Disconnect, json!({"client_id": "ghost"})),
        &env(),
    );
    let p = problem(resume(
        &a,
        &mut flow,
        &replies(&[connz("A", json!([{"cid": 1, "name": "x"}]))]),
    ));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "nats has no connection of name 'ghost' on any server that answered"
    );

    let (mut flow, _) = a.start(
        &request(Action::Disconnect, json!({"client_id": "x"})),
        &env(),
    );
    resume(
        &a,
        &mut flow,
        &replies(&[connz("A", json!([{"cid": 1, "name": "x"}]))]),
    );
    let p = problem(resume(&a, &mut flow, &replies(&[no_such_client("A")])));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "every connection of name 'x' ended before its kick"
    );
}

#[test]
fn discovery_refusals_map_by_the_table() {
    let a = adapter(json!({}));
    let start = || {
        a.start(
            &request(Action::Terminate, json!({"user_id": "dev1"})),
            &env(),
        )
    };
    let (mut flow, _) = start();
    let r = NatsReplies {
        no_responders: true,
        ..NatsReplies::default()
    };
    let p = problem(resume(&a, &mut flow, &r));
    assert_eq!(p.kind, ProblemKind::Rejected);
    assert!(p.detail.contains("system account"));
    let (mut flow, _) = start();
    let bad =
        json!({"server": {"id": "A"}, "error": {"code": 400, "description": "invalid character"}});
    assert_eq!(
        problem(resume(&a, &mut flow, &replies(&[bad]))).kind,
        ProblemKind::Rejected
    );
    let (mut flow, _) = start();
    assert_eq!(
        problem(resume(&a, &mut flow, &replies(&[json!({"data": {}})]))).kind,
        ProblemKind::Unreadable
    );
}

#[test]
fn a_kick_that_fails_after_others_reports_the_count_so_far() {
    let a = adapter(json!({}));
    let (mut flow, _) = a.start(
        &request(Action::Terminate, json!({"user_id": "dev1"})),
        &env(),
    );
    let found = connz(
        "A",
        json!([{"cid": 1, "authorized_user": "dev1"}, {"cid": 2, "authorized_user": "dev1"}]),
    );
    resume(&a, &mut flow, &replies(&[found]));
    resume(&a, &mut flow, &replies(&[kicked("A")]));
    let p = problem(resume(&a, &mut flow, &replies(&[])));
    assert_eq!(p.kind, ProblemKind::Timeout);
    assert_eq!(p.vendor.unwrap()["closed"], 1);
}
