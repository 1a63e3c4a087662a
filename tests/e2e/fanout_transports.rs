//! End to end through the real `sever`: a tag fan-out mixing an HTTP backend (a Cedalo
//! simulator) with a real redis-server and a real PostgreSQL cluster, with the same
//! 200 / 207 semantics as any fan-out: 200 when every backend made the cut, 207 when one
//! of them found nothing, each result in the backend's own terms.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::*;
use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::Sever;
use sever_tests::redis::RedisServer;
use sever_tests::servers::postgres::{PostgresServer, SUPERUSER_PASSWORD};
use sever_tests::sim::SimConfig;

const REDIS_PASSWORD: &str = "fanout-redis-pw-2c8e";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 6000 }
plugins:
  - { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" }
  - { path: "{{PLUGIN_DIR}}/libsever_redis.so" }
  - { path: "{{PLUGIN_DIR}}/libsever_postgresql.so" }
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@SIM@"
    timeout_ms: 2000
    tags: ["eu"]
    settings: { project_id: "p-eu", broker_id: "b1", token: "${CEDALO_TOKEN}" }
  cache-eu:
    plugin: redis
    url: "redis://127.0.0.1:@REDIS@"
    timeout_ms: 2000
    tags: ["eu"]
    settings: { password: "${REDIS_PASSWORD}" }   # requirepass
  db-eu:
    plugin: postgresql
    url: "@PG@"
    timeout_ms: 4000
    tags: ["eu"]
    settings: { user: postgres, password: "${PG_PASSWORD}", sslmode: disable }
"#;

fn disconnect_eu(sever: &Sever, client_id: &str) -> sever_tests::harness::http::Reply {
    let body = json!({
        "action": "disconnect", "backends": {"tags": ["eu"]},
        "target": {"client_id": client_id}, "reason": "INC-9 across transports",
    });
    act(sever, Some(ONCALL), &body.to_string())
}

fn outcome_of<'a>(body: &'a Value, backend: &str) -> &'a Value {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["backend"] == backend)
        .unwrap_or_else(|| panic!("no result for {backend}: {body:#}"))
}

#[test]
fn a_tag_fan_out_over_http_redis_and_postgresql_answers_200_then_207() {
    let sim = sim_with(
        SimConfig::new("p-eu", "b1", CEDALO_TOKEN),
        &["sensor-17", "sensor-18"],
    );
    let redis = RedisServer::start_with_password(REDIS_PASSWORD);
    let pg = PostgresServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = CONFIG
        .replace("@SIM@", &sim.url())
        .replace("@REDIS@", &redis.port.to_string())
        .replace("@PG@", &pg.url());
    let mut vars = env();
    vars.push(("PG_PASSWORD", SUPERUSER_PASSWORD));
    vars.push(("REDIS_PASSWORD", REDIS_PASSWORD));
    let sever = Sever::start(&config, &vars);
    // A redis client and a postgres session, both named sensor-17.
    let mut named = redis.connection();
    let _: () = ::redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("sensor-17")
        .query(&mut named)
        .unwrap();
    let session = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(
            &pg.conninfo("postgres", SUPERUSER_PASSWORD, "sensor-17"),
            tokio_postgres::NoTls,
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        client
    });

    let reply = disconnect_eu(&sever, "sensor-17");
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        body["summary"],
        json!({"done": 3, "accepted": 0, "failed": 0}),
        "{body:#}"
    );
    assert_eq!(outcome_of(body, "mqtt-eu")["vendor"]["status"], 200);
    assert_eq!(outcome_of(body, "cache-eu")["vendor"]["closed"], 1);
    assert_eq!(outcome_of(body, "db-eu")["vendor"]["closed"], 1);
    assert!(!sim.is_connected("sensor-17"));
    assert!(
        ::redis::cmd("PING").query::<String>(&mut named).is_err(),
        "redis client killed"
    );
    assert!(
        eventually(Duration::from_secs(10), || session.is_closed()),
        "pg session ended"
    );

    // sensor-18: only the HTTP broker has it, so the other two answer 404: 207.
    let reply = disconnect_eu(&sever, "sensor-18");
    assert_eq!(reply.status, 207, "{}", reply.text);
    let body = reply.json();
    assert_eq!(
        body["summary"],
        json!({"done": 1, "accepted": 0, "failed": 2}),
        "{body:#}"
    );
    assert_eq!(outcome_of(body, "mqtt-eu")["outcome"], "done");
    for backend in ["cache-eu", "db-eu"] {
        assert_eq!(
            outcome_of(body, backend)["problem"]["code"],
            "target_not_found",
            "{body:#}"
        );
    }
}
