//! Every flow of the adapter and every row of its answer table, driven through the
//! `Adapter` trait with replies in redis-server 7.0.15's own words: no sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;

fn env() -> Env {
    Env {
        unix_ms: 1_700_000_000_000,
        random: [7; 32],
    }
}

fn adapter(settings: Value) -> Redis {
    sever_plugin_sdk::create::<Redis>(&BackendSpec {
        name: "cache".into(),
        url: "redis://127.0.0.1:6379".into(),
        settings: settings.as_object().unwrap().clone(),
    })
    .unwrap()
}

fn redis() -> Redis {
    adapter(json!({"username": "sever", "password": "s3cret"}))
}

fn request(action: Action, target: Value) -> Request {
    Request {
        request_id: "req-1".into(),
        action,
        target: serde_json::from_value(target).unwrap(),
        reason: None,
    }
}

fn args(step: &Step) -> Vec<&str> {
    match step {
        Step::Redis(c) => {
            assert!(c.exchange.idempotent, "{c:?}");
            c.args.iter().map(String::as_str).collect()
        }
        other => panic!("expected a Redis command, got {other:?}"),
    }
}

fn reply(a: &Redis, flow: &mut Flow, reply: RedisReply) -> Step {
    a.resume(flow, Input::Redis(&reply), &env())
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

fn kill_by_id(id: &str) -> (Redis, Flow, Step) {
    let a = redis();
    let (flow, step) = a.start(
        &request(Action::Terminate, json!({"connection_id": id})),
        &env(),
    );
    (a, flow, step)
}

#[test]
fn terminate_by_connection_id_kills_that_client_id_and_counts_it() {
    let (a, mut flow, step) = kill_by_id("7");
    assert_eq!(args(&step), ["CLIENT", "KILL", "ID", "7"]);
    let done = success(reply(&a, &mut flow, RedisReply::Integer(1)));
    assert_eq!(done.outcome, Outcome::Done);
    assert_eq!(Value::Object(done.vendor), json!({"closed": 1}));
}

#[test]
fn a_connection_id_is_sent_as_the_number_it_spells() {
    let (_, _, step) = kill_by_id("007");
    assert_eq!(args(&step), ["CLIENT", "KILL", "ID", "7"]);
    let (_, _, step) = kill_by_id("9223372036854775807");
    assert_eq!(args(&step)[3], "9223372036854775807");
}

#[test]
fn a_connection_id_that_is_not_a_client_id_is_invalid_before_anything_is_sent() {
    for id in [
        "abc",
        "0",
        "-1",
        "+7",
        "7 ",
        "1e3",
        "9223372036854775808",
        "7 SKIPME no",
    ] {
        let (_, _, step) = kill_by_id(id);
        let p = problem(step);
        assert_eq!(p.kind, ProblemKind::InvalidTarget, "{id}");
        assert_eq!(
            p.detail,
            "target.connection_id must be a decimal number from 1 to 9223372036854775807"
        );
    }
}

#[test]
fn killing_an_unknown_or_killed_id_is_target_not_found() {
    let (a, mut flow, _) = kill_by_id("7");
    let p = problem(reply(&a, &mut flow, RedisReply::Integer(0)));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(p.detail, "redis has no connection 7");
    assert_eq!(p.vendor.unwrap()["closed"], 0);
}

#[test]
fn a_retry_plans_the_same_command_and_a_later_zero_says_the_cut_may_be_made() {
    let (a, mut flow, first) = kill_by_id("7");
    let again = a.resume(&mut flow, Input::Retry { attempt: 1 }, &env());
    assert_eq!(args(&again), args(&first));
    let p = problem(reply(&a, &mut flow, RedisReply::Integer(0)));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(
        p.detail.contains("the first attempt may have made the cut"),
        "{}",
        p.detail
    );
}

#[test]
fn terminate_by_user_kills_every_connection_of_the_user_but_severs_own() {
    let a = redis();
    let (mut flow, step) = a.start(
        &request(Action::Terminate, json!({"user_id": "app"})),
        &env(),
    );
    assert_eq!(
        args(&step),
        ["CLIENT", "KILL", "USER", "app", "SKIPME", "yes"]
    );
    let done = success(reply(&a, &mut flow, RedisReply::Integer(3)));
    assert_eq!(Value::Object(done.vendor), json!({"closed": 3}));
}

#[test]
fn a_user_name_is_one_argument_whatever_it_holds() {
    let a = redis();
    let (_, step) = a.start(
        &request(Action::Terminate, json!({"user_id": "a b SKIPME no"})),
        &env(),
    );
    assert_eq!(args(&step)[3], "a b SKIPME no");
    assert_eq!(args(&step).len(), 6);
}

#[test]
fn a_user_without_connections_or_unknown_to_acl_is_target_not_found() {
    let a = redis();
    let user = request(Action::Terminate, json!({"user_id": "nosuch"}));
    let (mut flow, _) = a.start(&user, &env());
    let p = problem(reply(&a, &mut flow, RedisReply::Integer(0)));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(p.detail, "redis has no connection of user 'nosuch'");

    let (mut flow, _) = a.start(&user, &env());
    let error = RedisReply::Error("ERR No such user 'nosuch'".into());
    let p = problem(reply(&a, &mut flow, error));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "redis has no user 'nosuch': No such user 'nosuch'"
    );
    let vendor = Value::Object(p.vendor.unwrap());
    assert_eq!(
        vendor,
        json!({"code": "ERR", "message": "No such user 'nosuch'", "closed": 0})
    );
}

fn disconnect(name: &str) -> (Redis, Flow, Step) {
    let a = redis();
    let (flow, step) = a.start(
        &request(Action::Disconnect, json!({"client_id": name})),
        &env(),
    );
    (a, flow, step)
}

const LIST: &str = "id=7 addr=127.0.0.1:54128 laddr=127.0.0.1:6379 fd=8 name=sensor-17 age=3 idle=0 flags=N db=0 cmd=client|setname user=app redir=-1 resp=2\n\
id=8 addr=127.0.0.1:54129 laddr=127.0.0.1:6379 fd=9 name=other age=3 idle=0 flags=N db=0 cmd=ping user=app redir=-1 resp=2\n\
id=12 addr=127.0.0.1:54140 laddr=127.0.0.1:6379 fd=10 name=sensor-17 age=1 idle=1 flags=N db=0 cmd=ping user=dev redir=-1 resp=2\n";

#[test]
fn disconnect_lists_then_kills_each_connection_of_that_name_and_sums_the_kills() {
    let (a, mut flow, step) = disconnect("sensor-17");
    assert_eq!(args(&step), ["CLIENT", "LIST"]);
    let step = reply(&a, &mut flow, RedisReply::Bulk(LIST.into()));
    assert_eq!(args(&step), ["CLIENT", "KILL", "ID", "7"]);
    let step = reply(&a, &mut flow, RedisReply::Integer(1));
    assert_eq!(args(&step), ["CLIENT", "KILL", "ID", "12"]);
    let done = success(reply(&a, &mut flow, RedisReply::Integer(1)));
    assert_eq!(
        Value::Object(done.vendor),
        json!({"closed": 2, "connections": [7, 12]})
    );
}

#[test]
fn a_listed_connection_gone_before_its_kill_is_skipped() {
    let (a, mut flow, _) = disconnect("sensor-17");
    reply(&a, &mut flow, RedisReply::Bulk(LIST.into()));
    reply(&a, &mut flow, RedisReply::Integer(0));
    let done = success(reply(&a, &mut flow, RedisReply::Integer(1)));
    assert_eq!(
        Value::Object(done.vendor),
        json!({"closed": 1, "connections": [12]})
    );
}

#[test]
fn disconnect_without_a_connection_of_that_name_is_target_not_found() {
    let (a, mut flow, _) = disconnect("ghost");
    let p = problem(reply(&a, &mut flow, RedisReply::Bulk(LIST.into())));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "redis has no connection with connection name 'ghost'"
    );

    let (a, mut flow, _) = disconnect("sensor-17");
    reply(&a, &mut flow, RedisReply::Bulk(LIST.into()));
    reply(&a, &mut flow, RedisReply::Integer(0));
    let p = problem(reply(&a, &mut flow, RedisReply::Integer(0)));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(
        p.detail,
        "every connection with connection name 'sensor-17' ended before its kill"
    );
}

#[test]
fn a_name_no_redis_connection_can_have_is_invalid_before_anything_is_sent() {
    for name in ["a b", "caf\u{e9}", "x\u{a0}"] {
        let (_, _, step) = disconnect(name);
        assert_eq!(problem(step).kind, ProblemKind::InvalidTarget, "{name}");
    }
}

#[test]
fn a_kill_that_fails_after_others_reports_the_count_so_far() {
    let (a, mut flow, _) = disconnect("sensor-17");
    reply(&a, &mut flow, RedisReply::Bulk(LIST.into()));
    reply(&a, &mut flow, RedisReply::Integer(1));
    let error = RedisReply::Error(
        "NOPERM this user has no permissions to run the 'client|kill' command".into(),
    );
    let p = problem(reply(&a, &mut flow, error));
    assert_eq!(p.kind, ProblemKind::CredentialsRefused);
    assert_eq!(p.vendor.unwrap()["closed"], 1);
}

#[test]
fn credential_and_permission_errors_are_upstream_unauthorized_with_the_servers_words() {
    for (text, code, message) in [
        (
            "WRONGPASS invalid username-password pair or user is disabled.",
            "WRONGPASS",
            "invalid username-password pair or user is disabled.",
        ),
        (
            "NOAUTH Authentication required.",
            "NOAUTH",
            "Authentication required.",
        ),
        (
            "NOPERM this user has no permissions to run the 'client|kill' command",
            "NOPERM",
            "this user has no permissions to run the 'client|kill' command",
        ),
    ] {
        let (a, mut flow, _) = kill_by_id("7");
        let p = problem(reply(&a, &mut flow, RedisReply::Error(text.into())));
        assert_eq!(p.kind, ProblemKind::CredentialsRefused, "{text}");
        assert!(!p.retryable);
        let vendor = p.vendor.unwrap();
        assert_eq!(vendor["code"], code);
        assert_eq!(vendor["message"], message);
        assert!(p.detail.ends_with(text), "{}", p.detail);
    }
}

#[test]
fn other_errors_are_upstream_rejected() {
    for text in [
        "ERR client-id should be greater than 0",
        "ERR No such client",
        "WEIRD",
    ] {
        let (a, mut flow, _) = kill_by_id("7");
        let p = problem(reply(&a, &mut flow, RedisReply::Error(text.into())));
        assert_eq!(p.kind, ProblemKind::Rejected, "{text}");
        assert!(p
            .detail
            .starts_with("redis refused kill connection for connection 7: "));
    }
    // "No such user" means not found only for the USER form.
    let (a, mut flow, _) = kill_by_id("7");
    let p = problem(reply(
        &a,
        &mut flow,
        RedisReply::Error("ERR No such user 'x'".into()),
    ));
    assert_eq!(p.kind, ProblemKind::Rejected);
}

#[test]
fn a_server_that_cannot_serve_now_is_unavailable_and_retryable() {
    for text in [
        "LOADING Redis is loading the dataset in memory",
        "BUSY Redis is busy running a script.",
        "MASTERDOWN Link with MASTER is down",
        "TRYAGAIN Multiple keys request during rehashing of slot",
    ] {
        let (a, mut flow, _) = kill_by_id("7");
        let p = problem(reply(&a, &mut flow, RedisReply::Error(text.into())));
        assert_eq!(p.kind, ProblemKind::Unavailable, "{text}");
        assert!(p.retryable);
    }
}

#[test]
fn a_reply_of_another_type_is_unreadable() {
    for other in [
        RedisReply::Simple("OK".into()),
        RedisReply::Bulk("1".into()),
        RedisReply::Nil,
        RedisReply::Array(vec!["1".into()]),
        RedisReply::Integer(-1),
    ] {
        let (a, mut flow, _) = kill_by_id("7");
        let p = problem(reply(&a, &mut flow, other.clone()));
        assert_eq!(p.kind, ProblemKind::Unreadable, "{other:?}");
    }
    let (a, mut flow, _) = disconnect("x");
    let p = problem(reply(&a, &mut flow, RedisReply::Integer(3)));
    assert_eq!(p.kind, ProblemKind::Unreadable);
}

#[test]
fn the_connection_carries_the_credentials_and_debug_hides_the_password() {
    let a = redis();
    let spec = a.connection().unwrap();
    assert_eq!(spec.username.as_deref(), Some("sever"));
    assert_eq!(spec.password.as_deref(), Some("s3cret"));
    assert_eq!(spec.client_id, None, "Sever's connection stays unnamed");
    assert!(!format!("{a:?}").contains("s3cret"));
    let requirepass = adapter(json!({"password": "p"})).connection().unwrap();
    assert_eq!(requirepass.username, None);
}

#[test]
fn settings_need_a_password_and_refuse_unknown_keys() {
    let spec = |settings: Value| BackendSpec {
        name: "cache".into(),
        url: "redis://h".into(),
        settings: settings.as_object().unwrap().clone(),
    };
    let errors = sever_plugin_sdk::create::<Redis>(&spec(json!({"username": "u"}))).unwrap_err();
    assert_eq!(errors[0].key, "password");
    let errors =
        sever_plugin_sdk::create::<Redis>(&spec(json!({"password": "p", "db": 1}))).unwrap_err();
    assert_eq!(errors[0].key, "db");
}

#[test]
fn the_metadata_declares_the_redis_transport() {
    let info = sever_plugin_sdk::info::<Redis>();
    assert_eq!(info.name, "redis");
    assert_eq!(info.transport, Transport::Redis);
    assert_eq!(info.schemes(), ["redis", "rediss"]);
    assert!(info.action(Action::Unbind).is_none());
    let secrets: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secrets, ["password"]);
}
