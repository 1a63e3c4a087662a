//! End to end through the real `sever` and `libsever_redis.so` against a REAL redis-server
//! this test starts itself (`sever_tests::redis`): every row of the contract's `redis`
//! table, seen from the victims' side (their sockets closed, other clients untouched), and
//! the failures Sever owns (wrong credentials, server down, a server that never answers).
//!
//! One server serves every scenario, run one after another in one test so that it is
//! stopped when the test ends, passing or failing. Needs Debian's `redis-server` and
//! `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ::redis::{Commands, Connection};
use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::redis::RedisServer;
use sever_tests::servers::{closed_port, Silent};

const ONCALL: &str = "oncall-token-redis-5e21";
const SEVER_PASSWORD: &str = "sever-redis-pw-19c4";
const APP_PASSWORD: &str = "app-pw-77d0";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 8000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_redis.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  cache:
    plugin: redis
    url: "redis://127.0.0.1:@PORT@"
    timeout_ms: 2000
    retries: 0
    settings: { username: sever, password: "${REDIS_PASSWORD}" }
  cache-fresh:
    plugin: redis
    url: "redis://127.0.0.1:@PORT@"
    timeout_ms: 2000
    retries: 0
    settings: { username: sever, password: "${REDIS_PASSWORD}" }
  cache-wrong-password:
    plugin: redis
    url: "redis://127.0.0.1:@PORT@"
    timeout_ms: 2000
    retries: 0
    settings: { username: sever, password: "not-the-password" }
  cache-list-only:
    plugin: redis
    url: "redis://127.0.0.1:@PORT@"
    timeout_ms: 2000
    retries: 0
    settings: { username: lister, password: "${REDIS_PASSWORD}" }
  cache-down:
    plugin: redis
    url: "redis://127.0.0.1:@DOWN@"
    timeout_ms: 1000
    retries: 0
    settings: { password: "x" }
  cache-silent:
    plugin: redis
    url: "redis://127.0.0.1:@SILENT@"
    timeout_ms: 800
    retries: 0
    settings: { password: "x" }
"#;

fn act(sever: &Sever, backend: &str, action: &str, target: Value) -> Reply {
    act_with(sever, backend, action, target, false)
}

fn act_with(sever: &Sever, backend: &str, action: &str, target: Value, dry_run: bool) -> Reply {
    crate::common::act_as(sever, ONCALL, backend, action, target, dry_run)
}

/// A client of `user` named `name` (`CLIENT SETNAME`), and its client id.
fn client(server: &RedisServer, user: &str, name: Option<&str>) -> (Connection, u64) {
    let url = format!("redis://{user}:{APP_PASSWORD}@127.0.0.1:{}/0", server.port);
    let mut connection = ::redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap();
    if let Some(name) = name {
        let _: () = ::redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(name)
            .query(&mut connection)
            .unwrap();
    }
    let id: u64 = ::redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut connection)
        .unwrap();
    (connection, id)
}

/// Whether the connection still answers `PING` (a killed client's socket is closed).
fn alive(connection: &mut Connection) -> bool {
    ::redis::cmd("PING").query::<String>(connection).is_ok()
}

/// The server's client connections (`CLIENT LIST` lines) other than the admin's own.
fn connections(admin: &mut Connection) -> usize {
    let list: String = ::redis::cmd("CLIENT").arg("LIST").query(admin).unwrap();
    list.lines().count().saturating_sub(1)
}

#[test]
fn the_redis_adapter_kills_real_client_connections_on_a_private_server() {
    let server = RedisServer::start();
    let mut admin = server.connection();
    for rule in [
        vec![
            "sever",
            "on",
            &format!(">{SEVER_PASSWORD}"),
            "-@all",
            "+client|kill",
            "+client|list",
        ],
        vec![
            "lister",
            "on",
            &format!(">{SEVER_PASSWORD}"),
            "-@all",
            "+client|list",
        ],
        vec!["app", "on", &format!(">{APP_PASSWORD}"), "~*", "+@all"],
        vec!["other", "on", &format!(">{APP_PASSWORD}"), "~*", "+@all"],
    ] {
        let _: () = ::redis::cmd("ACL")
            .arg("SETUSER")
            .arg(rule)
            .query(&mut admin)
            .unwrap();
    }
    let silent = Silent::start();
    let port = server.port.to_string();
    let config = CONFIG
        .replace("@PORT@", &port)
        .replace("@DOWN@", &closed_port().to_string())
        .replace("@SILENT@", &silent.port.to_string());
    let sever = Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("REDIS_PASSWORD", SEVER_PASSWORD)],
    );

    // A dry run shows the command, sends nothing and opens no connection.
    let (_victim, id) = client(&server, "app", Some("dry-1"));
    let before = connections(&mut admin);
    let planned = act_with(
        &sever,
        "cache-fresh",
        "terminate",
        json!({"connection_id": id.to_string()}),
        true,
    );
    let body = planned.expect_success();
    assert_eq!(body["outcome"], "dry_run", "{body:#}");
    assert_eq!(
        body["requests"],
        json!([{"kind": "redis", "args": ["CLIENT", "KILL", "ID", id.to_string()]}]),
        "{body:#}"
    );
    assert_eq!(
        connections(&mut admin),
        before,
        "a dry run opened a connection"
    );

    // terminate + connection_id: that connection only; a repeat finds nothing.
    let (mut victim, id) = client(&server, "app", Some("sensor-1"));
    let (mut bystander, _) = client(&server, "app", Some("sensor-2"));
    let body = act(
        &sever,
        "cache",
        "terminate",
        json!({"connection_id": id.to_string()}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"]["closed"], 1, "{body:#}");
    assert!(!alive(&mut victim), "the killed client's socket is closed");
    assert!(alive(&mut bystander), "another client stays connected");
    act(
        &sever,
        "cache",
        "terminate",
        json!({"connection_id": id.to_string()}),
    )
    .expect_problem(404, "target_not_found");
    act(
        &sever,
        "cache",
        "terminate",
        json!({"connection_id": "abc"}),
    )
    .expect_problem(400, "invalid_request");

    // terminate + user_id: every connection of that user, never another user's.
    let (mut a1, _) = client(&server, "app", None);
    let (mut o1, _) = client(&server, "other", None);
    let body = act(&sever, "cache", "terminate", json!({"user_id": "app"}))
        .expect_success()
        .clone();
    assert!(body["vendor"]["closed"].as_i64() >= Some(2), "{body:#}");
    assert!(!alive(&mut a1) && !alive(&mut bystander));
    assert!(alive(&mut o1), "another user's client stays connected");
    act(&sever, "cache", "terminate", json!({"user_id": "app"}))
        .expect_problem(404, "target_not_found");
    let problem = act(&sever, "cache", "terminate", json!({"user_id": "nosuch"}))
        .expect_problem(404, "target_not_found")
        .clone();
    assert_eq!(problem["vendor"]["code"], "ERR", "{problem:#}");

    // disconnect + client_id: every connection of that name.
    let (mut n1, _) = client(&server, "other", Some("sensor-17"));
    let (mut n2, _) = client(&server, "other", Some("sensor-17"));
    let body = act(
        &sever,
        "cache",
        "disconnect",
        json!({"client_id": "sensor-17"}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["vendor"]["closed"], 2, "{body:#}");
    assert!(!alive(&mut n1) && !alive(&mut n2));
    assert!(alive(&mut o1));
    act(
        &sever,
        "cache",
        "disconnect",
        json!({"client_id": "sensor-17"}),
    )
    .expect_problem(404, "target_not_found");

    // Credentials refused: a wrong password (AUTH), a user without CLIENT KILL (NOPERM).
    let problem = act(
        &sever,
        "cache-wrong-password",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(502, "upstream_unauthorized")
    .clone();
    assert_eq!(problem["vendor"]["code"], "WRONGPASS", "{problem:#}");
    // Asked again at once: the server's refusal again (a refusal is no reason to back off).
    act(
        &sever,
        "cache-wrong-password",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(502, "upstream_unauthorized");
    let (_target, id) = client(&server, "other", None);
    let problem = act(
        &sever,
        "cache-list-only",
        "terminate",
        json!({"connection_id": id.to_string()}),
    )
    .expect_problem(502, "upstream_unauthorized")
    .clone();
    assert_eq!(problem["vendor"]["code"], "NOPERM", "{problem:#}");
    assert!(
        eventually(Duration::from_secs(5), || sever
            .audit_text()
            .contains("WRONGPASS")),
        "the audit line carries the server's error: {}",
        sever.audit_text()
    );

    // Sever's own failures: nothing listening, and a server that never answers.
    act(
        &sever,
        "cache-down",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(502, "upstream_unavailable");
    act(
        &sever,
        "cache-silent",
        "terminate",
        json!({"connection_id": "7"}),
    )
    .expect_problem(504, "upstream_timeout");
    assert!(silent.accepted() >= 1, "the silent server was reached");

    // The metrics count the exchanges under the redis transport.
    let metrics = http::get(&sever.url("/metrics"), None).text;
    assert!(
        metrics.contains(r#"backend="cache",plugin="redis",status_class="ok",transport="redis""#),
        "{metrics}"
    );
    let _: Option<String> = o1.get("nothing").unwrap();
}
