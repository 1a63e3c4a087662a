//! End to end through the real `sever` and `libsever_postgresql.so` against a REAL
//! PostgreSQL cluster this test makes and starts itself (`sever_tests::servers::postgres`):
//! every row of the contract's `postgresql` table a real server gives, seen from the
//! victims' side (their sessions closed, other sessions untouched), and the failures Sever
//! owns (wrong credentials, server down, a server that never answers).
//!
//! One cluster serves every scenario, run one after another in one test so that it is
//! stopped when the test ends. Needs Debian's `postgresql` and `cargo build --workspace`.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::Reply;
use sever_tests::harness::Sever;
use sever_tests::servers::postgres::{PostgresServer, SUPERUSER_PASSWORD};
use sever_tests::servers::{closed_port, Silent};
use tokio::runtime::Runtime;
use tokio_postgres::Client;

const ONCALL: &str = "oncall-token-pg-3a90";
const SEVER_PASSWORD: &str = "sever-pg-pw-8b12";
const APP_PASSWORD: &str = "app-pg-pw-41cc";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 8000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_postgresql.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  db:
    plugin: postgresql
    url: "@URL@"
    timeout_ms: 4000
    retries: 0
    settings: { user: sever, password: "${PG_PASSWORD}", sslmode: disable }
  db-fresh:
    plugin: postgresql
    url: "@URL@"
    timeout_ms: 4000
    retries: 0
    settings: { user: sever, password: "${PG_PASSWORD}", sslmode: disable }
  db-signal-only:
    plugin: postgresql
    url: "@URL@"
    timeout_ms: 4000
    retries: 0
    settings: { user: sever, password: "${PG_PASSWORD}", sslmode: disable, terminate_timeout_ms: 0 }
  db-wrong-password:
    plugin: postgresql
    url: "@URL@"
    timeout_ms: 4000
    retries: 0
    settings: { user: sever, password: "not-the-password", sslmode: disable }
  db-down:
    plugin: postgresql
    url: "postgres://127.0.0.1:@DOWN@"
    timeout_ms: 1000
    retries: 0
    settings: { user: sever, password: "x", sslmode: disable }
  db-silent:
    plugin: postgresql
    url: "postgres://127.0.0.1:@SILENT@"
    timeout_ms: 800
    retries: 0
    settings: { user: sever, password: "x", sslmode: disable }
"#;

fn act(sever: &Sever, backend: &str, action: &str, target: Value) -> Reply {
    act_with(sever, backend, action, target, false)
}

fn act_with(sever: &Sever, backend: &str, action: &str, target: Value, dry_run: bool) -> Reply {
    crate::common::act_as(sever, ONCALL, backend, action, target, dry_run)
}

/// A session of `user` with `application_name`, and its backend pid.
fn session(
    rt: &Runtime,
    server: &PostgresServer,
    user: &str,
    password: &str,
    name: &str,
) -> (Client, i32) {
    server
        .session(rt, user, password, name)
        .unwrap_or_else(|e| panic!("connect {user}/{name}: {e}"))
}

/// Whether the server ended this session (the client saw its socket closed).
fn ended(client: &Client) -> bool {
    eventually(Duration::from_secs(10), || client.is_closed())
}

/// Sessions of `user` on the server, as `pg_stat_activity` lists them.
fn sessions_of(rt: &Runtime, admin: &Client, user: &str) -> i64 {
    rt.block_on(admin.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
        &[&user],
    ))
    .unwrap()
    .get(0)
}

#[test]
fn the_postgresql_adapter_terminates_real_sessions_on_a_private_cluster() {
    let server = PostgresServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (admin, _) = session(&rt, &server, "postgres", SUPERUSER_PASSWORD, "setup");
    rt.block_on(admin.batch_execute(&format!(
        "CREATE ROLE sever LOGIN PASSWORD '{SEVER_PASSWORD}'; GRANT pg_signal_backend TO sever; \
         CREATE ROLE app LOGIN PASSWORD '{APP_PASSWORD}'; \
         CREATE ROLE other LOGIN PASSWORD '{APP_PASSWORD}';"
    )))
    .unwrap();
    let silent = Silent::start();
    let config = CONFIG
        .replace("@URL@", &server.url())
        .replace("@DOWN@", &closed_port().to_string())
        .replace("@SILENT@", &silent.port.to_string());
    let sever = Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("PG_PASSWORD", SEVER_PASSWORD)],
    );

    // A dry run shows the SQL and its parameters, and opens no session.
    let planned = act_with(
        &sever,
        "db-fresh",
        "terminate",
        json!({"connection_id": "4242"}),
        true,
    );
    let body = planned.expect_success();
    assert_eq!(body["requests"][0]["kind"], "sql", "{body:#}");
    assert_eq!(
        body["requests"][0]["params"],
        json!([{"int4": 4242}, {"int8": 2000}]),
        "{body:#}"
    );
    assert!(body["requests"][0]["sql"]
        .as_str()
        .unwrap()
        .contains("pg_terminate_backend"));
    assert_eq!(
        sessions_of(&rt, &admin, "sever"),
        0,
        "a dry run opened a session"
    );

    // terminate + connection_id: that session only; a repeat finds none.
    let (victim, pid) = session(&rt, &server, "app", APP_PASSWORD, "sensor-1");
    let (bystander, _) = session(&rt, &server, "app", APP_PASSWORD, "sensor-2");
    let body = act(
        &sever,
        "db",
        "terminate",
        json!({"connection_id": pid.to_string()}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"]["closed"], 1, "{body:#}");
    assert!(ended(&victim), "the victim's session was closed");
    assert!(!bystander.is_closed(), "another session stays");
    act(
        &sever,
        "db",
        "terminate",
        json!({"connection_id": pid.to_string()}),
    )
    .expect_problem(404, "target_not_found");
    act(&sever, "db", "terminate", json!({"connection_id": "12ab"}))
        .expect_problem(400, "invalid_request");

    // terminate + user_id: every session of the role, never another role's (nor Sever's).
    let (a2, _) = session(&rt, &server, "app", APP_PASSWORD, "sensor-3");
    let (o1, _) = session(&rt, &server, "other", APP_PASSWORD, "sensor-4");
    let body = act(&sever, "db", "terminate", json!({"user_id": "app"}))
        .expect_success()
        .clone();
    assert_eq!(body["vendor"]["closed"], 2, "{body:#}");
    assert!(ended(&a2) && ended(&bystander));
    assert!(!o1.is_closed(), "another role's session stays");
    act(&sever, "db", "terminate", json!({"user_id": "app"}))
        .expect_problem(404, "target_not_found");

    // disconnect + client_id (application_name).
    let (n1, _) = session(&rt, &server, "other", APP_PASSWORD, "sensor-17");
    let body = act(
        &sever,
        "db",
        "disconnect",
        json!({"client_id": "sensor-17"}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["vendor"]["closed"], 1, "{body:#}");
    assert!(ended(&n1));
    assert!(!o1.is_closed());
    act(
        &sever,
        "db",
        "disconnect",
        json!({"client_id": "sensor-17"}),
    )
    .expect_problem(404, "target_not_found");

    // terminate_timeout_ms 0: the signal only, so accepted.
    let (s1, pid) = session(&rt, &server, "other", APP_PASSWORD, "sensor-5");
    let body = act(
        &sever,
        "db-signal-only",
        "terminate",
        json!({"connection_id": pid.to_string()}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["outcome"], "accepted", "{body:#}");
    assert!(ended(&s1));

    // 42501: a superuser's session is not Sever's to end.
    let (root, pid) = session(&rt, &server, "postgres", SUPERUSER_PASSWORD, "dba");
    let problem = act(
        &sever,
        "db",
        "terminate",
        json!({"connection_id": pid.to_string()}),
    )
    .expect_problem(502, "upstream_unauthorized")
    .clone();
    assert_eq!(problem["vendor"]["code"], "42501", "{problem:#}");
    assert!(!root.is_closed());

    // A wrong password: the server's 28P01, in the answer and the audit line.
    let problem = act(
        &sever,
        "db-wrong-password",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(502, "upstream_unauthorized")
    .clone();
    assert_eq!(problem["vendor"]["code"], "28P01", "{problem:#}");
    assert!(
        eventually(Duration::from_secs(5), || sever
            .audit_text()
            .contains("28P01")),
        "{}",
        sever.audit_text()
    );

    // Sever's own failures: nothing listening, and a server that never answers.
    act(
        &sever,
        "db-down",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(502, "upstream_unavailable");
    act(
        &sever,
        "db-silent",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(504, "upstream_timeout");
    assert!(silent.accepted() >= 1);
    // One session per backend that reached the server (db, db-signal-only), kept open.
    assert_eq!(sessions_of(&rt, &admin, "sever"), 2);
}
