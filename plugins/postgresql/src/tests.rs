//! Every flow of the adapter and every row of its answer table, driven through the
//! `Adapter` trait with results in PostgreSQL 15's own words: no sockets.
#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::{json, Value};

fn env() -> Env {
    Env {
        unix_ms: 1_700_000_000_000,
        random: [7; 32],
    }
}

fn spec(settings: Value) -> BackendSpec {
    BackendSpec {
        name: "pg".into(),
        url: "postgres://127.0.0.1:5432".into(),
        settings: settings.as_object().unwrap().clone(),
    }
}

fn adapter(extra: Value) -> Postgresql {
    let mut settings = json!({"user": "sever", "password": "s3cret"});
    settings
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    sever_plugin_sdk::create::<Postgresql>(&spec(settings)).unwrap()
}

fn request(action: Action, target: Value) -> Request {
    Request {
        request_id: "req-1".into(),
        action,
        target: serde_json::from_value(target).unwrap(),
        reason: None,
    }
}

fn query(step: &Step) -> &SqlQuery {
    match step {
        Step::Sql(q) => q,
        other => panic!("expected a query, got {other:?}"),
    }
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
        other => panic!("expected done or accepted, got {other:?}"),
    }
}

fn rows(rows: &[(i32, bool)]) -> SqlResult {
    SqlResult {
        rows: rows
            .iter()
            .map(|(pid, ended)| vec![SqlValue::Int4(*pid), SqlValue::Bool(*ended)])
            .collect(),
        ..SqlResult::default()
    }
}

fn error(code: &str, message: &str) -> SqlResult {
    SqlResult {
        error: Some(SqlMessage {
            severity: "ERROR".into(),
            code: code.into(),
            message: message.into(),
            detail: None,
        }),
        ..SqlResult::default()
    }
}

/// Starts `terminate` of backend 4242 on `a` and answers it with `result`.
fn terminate_pid(a: &Postgresql, result: &SqlResult) -> Step {
    let (mut flow, step) = a.start(
        &request(Action::Terminate, json!({"connection_id": "4242"})),
        &env(),
    );
    assert_eq!(query(&step).sql, BY_PID);
    a.resume(&mut flow, Input::Sql(result), &env())
}

#[test]
fn terminate_by_pid_is_one_query_with_the_pid_and_the_timeout_as_parameters() {
    let a = adapter(json!({}));
    let (_, step) = a.start(
        &request(Action::Terminate, json!({"connection_id": "4242"})),
        &env(),
    );
    let q = query(&step);
    assert_eq!(
        q.sql,
        "SELECT s.pid, pg_terminate_backend(s.pid, $2::bigint) FROM pg_stat_activity s \
         WHERE s.pid = $1::integer"
    );
    assert_eq!(q.params, [SqlValue::Int4(4242), SqlValue::Int8(2000)]);
    assert!(q.exchange.idempotent);
}

#[test]
fn terminate_by_role_and_disconnect_by_application_name_pass_the_name_as_text() {
    let a = adapter(json!({"terminate_timeout_ms": 500}));
    let (_, step) = a.start(
        &request(
            Action::Terminate,
            json!({"user_id": "app'; DROP ROLE x; --"}),
        ),
        &env(),
    );
    let q = query(&step);
    assert_eq!(q.sql, BY_ROLE);
    assert!(q
        .sql
        .contains("s.usename = $1 AND s.pid <> pg_backend_pid()"));
    assert_eq!(
        q.params,
        [
            SqlValue::Text("app'; DROP ROLE x; --".into()),
            SqlValue::Int8(500)
        ]
    );
    let (_, step) = a.start(
        &request(Action::Disconnect, json!({"client_id": "sensor-17"})),
        &env(),
    );
    let q = query(&step);
    assert_eq!(q.sql, BY_APPLICATION);
    assert!(q
        .sql
        .contains("s.application_name = $1 AND s.pid <> pg_backend_pid()"));
    assert_eq!(q.params[0], SqlValue::Text("sensor-17".into()));
}

#[test]
fn a_pid_that_is_not_an_int4_is_invalid_before_anything_is_sent() {
    let a = adapter(json!({}));
    for id in ["abc", "0", "-1", "2147483648", "42 OR true", "4.2"] {
        let (_, step) = a.start(
            &request(Action::Terminate, json!({"connection_id": id})),
            &env(),
        );
        let p = problem(step);
        assert_eq!(p.kind, ProblemKind::InvalidTarget, "{id}");
        assert_eq!(
            p.detail,
            "target.connection_id must be a decimal number from 1 to 2147483647"
        );
    }
}

#[test]
fn every_row_true_with_a_timeout_is_done_with_the_count() {
    let done = success(terminate_pid(&adapter(json!({})), &rows(&[(4242, true)])));
    assert_eq!(done.outcome, Outcome::Done);
    assert_eq!(
        Value::Object(done.vendor),
        json!({"closed": 1, "pids": [4242]})
    );
}

#[test]
fn every_row_true_without_a_timeout_is_accepted_since_only_the_signal_was_sent() {
    let a = adapter(json!({"terminate_timeout_ms": 0}));
    let (mut flow, step) = a.start(
        &request(Action::Terminate, json!({"user_id": "app"})),
        &env(),
    );
    assert_eq!(query(&step).params[1], SqlValue::Int8(0));
    let result = rows(&[(10, true), (11, true)]);
    let accepted = success(a.resume(&mut flow, Input::Sql(&result), &env()));
    assert_eq!(accepted.outcome, Outcome::Accepted);
    assert_eq!(
        Value::Object(accepted.vendor),
        json!({"signalled": 2, "pids": [10, 11]})
    );
}

#[test]
fn a_row_false_with_the_timeout_warning_is_accepted_with_counts_and_the_warning() {
    let mut result = rows(&[(10, true), (11, false)]);
    result.notices = vec![SqlMessage {
        severity: "WARNING".into(),
        code: "01000".into(),
        message: "backend with PID 11 did not terminate within 2000 milliseconds".into(),
        detail: None,
    }];
    let accepted = success(terminate_pid(&adapter(json!({})), &result));
    assert_eq!(accepted.outcome, Outcome::Accepted);
    assert_eq!(
        Value::Object(accepted.vendor),
        json!({
            "code": "01000",
            "message": "backend with PID 11 did not terminate within 2000 milliseconds",
            "closed": 1, "not_closed": 1, "pids": [10, 11]
        })
    );
}

#[test]
fn zero_rows_is_target_not_found_and_after_a_retry_says_the_cut_may_be_made() {
    let a = adapter(json!({}));
    let p = problem(terminate_pid(&a, &rows(&[])));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert_eq!(p.detail, "postgresql has no session of backend 4242");

    let (mut flow, first) = a.start(
        &request(Action::Disconnect, json!({"client_id": "sensor-17"})),
        &env(),
    );
    let again = a.resume(&mut flow, Input::Retry { attempt: 1 }, &env());
    assert_eq!(query(&again), query(&first));
    let p = problem(a.resume(&mut flow, Input::Sql(&rows(&[])), &env()));
    assert_eq!(p.kind, ProblemKind::TargetNotFound);
    assert!(p
        .detail
        .starts_with("postgresql has no session of application_name 'sensor-17'"));
    assert!(p.detail.contains("the first attempt may have made the cut"));
}

#[test]
fn refused_rights_and_authentication_are_upstream_unauthorized_with_the_sqlstate() {
    let a = adapter(json!({}));
    for (code, message) in [
        ("42501", "must be a superuser to terminate superuser process"),
        (
            "42501",
            "must be a member of the role whose process is being terminated or member of pg_signal_backend",
        ),
        ("28P01", "password authentication failed for user \"sever\""),
        ("28000", "no pg_hba.conf entry for host \"127.0.0.1\""),
    ] {
        let p = problem(terminate_pid(&a, &error(code, message)));
        assert_eq!(p.kind, ProblemKind::CredentialsRefused, "{code}");
        assert!(!p.retryable);
        assert_eq!(
            Value::Object(p.vendor.unwrap()),
            json!({"code": code, "message": message})
        );
        assert!(p.detail.ends_with(message), "{}", p.detail);
    }
}

#[test]
fn data_and_syntax_errors_are_upstream_rejected_as_a_sever_bug() {
    let a = adapter(json!({}));
    for code in ["22003", "22P02", "42601", "42883"] {
        let p = problem(terminate_pid(
            &a,
            &error(code, "\"timeout\" must not be negative"),
        ));
        assert_eq!(p.kind, ProblemKind::Rejected, "{code}");
        assert!(p.detail.contains("a Sever bug"));
    }
}

#[test]
fn other_errors_are_upstream_error_and_transient_ones_retryable() {
    let a = adapter(json!({}));
    for (code, retryable) in [
        ("53300", true),
        ("57P03", true),
        ("08006", true),
        ("3D000", false),
        ("XX000", false),
        ("", false),
    ] {
        let p = problem(terminate_pid(
            &a,
            &error(code, "sorry, too many clients already"),
        ));
        assert_eq!(p.kind, ProblemKind::VendorError, "{code}");
        assert_eq!(p.retryable, retryable, "{code}");
    }
}

#[test]
fn an_error_detail_is_in_the_problem_detail() {
    let mut result = error("53300", "remaining connection slots are reserved");
    if let Some(e) = result.error.as_mut() {
        e.detail = Some("for roles with the SUPERUSER attribute".into());
    }
    let p = problem(terminate_pid(&adapter(json!({})), &result));
    assert!(p
        .detail
        .ends_with("(for roles with the SUPERUSER attribute)"));
}

#[test]
fn rows_of_another_shape_are_unreadable() {
    let a = adapter(json!({}));
    for row in [
        vec![SqlValue::Int4(1)],
        vec![SqlValue::Text("x".into()), SqlValue::Bool(true)],
        vec![SqlValue::Int4(1), SqlValue::Null],
        vec![SqlValue::Int4(1), SqlValue::Int4(1)],
        vec![SqlValue::Int4(1), SqlValue::Bool(true), SqlValue::Null],
    ] {
        let result = SqlResult {
            rows: vec![row.clone()],
            ..SqlResult::default()
        };
        let p = problem(terminate_pid(&a, &result));
        assert_eq!(p.kind, ProblemKind::Unreadable, "{row:?}");
    }
    // The server's text forms are read too.
    let result = SqlResult {
        rows: vec![vec![SqlValue::Text("7".into()), SqlValue::Text("t".into())]],
        ..SqlResult::default()
    };
    assert_eq!(
        success(terminate_pid(&a, &result)).vendor["pids"],
        json!([7])
    );
}

#[test]
fn the_connection_carries_role_database_tls_and_severs_application_name() {
    let a = adapter(json!({"dbname": "ops", "sslmode": "verify-full"}));
    let c = a.connection().unwrap();
    assert_eq!(c.username.as_deref(), Some("sever"));
    assert_eq!(c.password.as_deref(), Some("s3cret"));
    assert_eq!(c.database.as_deref(), Some("ops"));
    assert_eq!(c.tls.as_deref(), Some("verify_full"));
    assert_eq!(c.client_id.as_deref(), Some("sever"));
    let c = adapter(json!({})).connection().unwrap();
    assert_eq!(c.database.as_deref(), Some("postgres"));
    assert_eq!(c.tls.as_deref(), Some("prefer"));
    assert!(!format!("{a:?}").contains("s3cret"));
}

#[test]
fn settings_are_checked_without_echoing_the_password() {
    let errors = sever_plugin_sdk::create::<Postgresql>(&spec(json!({
        "user": "sever", "password": "hunter22", "sslmode": "verify-ca",
        "terminate_timeout_ms": -1
    })))
    .unwrap_err();
    let mut keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["sslmode", "terminate_timeout_ms"]);
    assert!(errors.iter().all(|e| !e.message.contains("hunter22")));
    let errors = sever_plugin_sdk::create::<Postgresql>(&spec(json!({"user": "u"}))).unwrap_err();
    assert_eq!(errors[0].key, "password");
}

#[test]
fn the_metadata_declares_the_postgres_transport() {
    let info = sever_plugin_sdk::info::<Postgresql>();
    assert_eq!(info.name, "postgresql");
    assert_eq!(info.transport, Transport::Postgres);
    assert_eq!(info.schemes(), ["postgres", "postgresql"]);
    let secrets: Vec<&str> = info.secret_keys().collect();
    assert_eq!(secrets, ["password"]);
}
