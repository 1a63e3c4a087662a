//! End to end through the real `sever` and `libsever_nats.so` against a REAL NATS server
//! (2.15, from the venv `scripts/setup` fills; see `sever_tests::servers::nats`): every
//! row of the contract's `nats` table a real server gives, seen from the victims' side
//! (their connections dropped, other clients untouched), and the failures Sever owns.
//!
//! One server serves every scenario, run one after another in one test so that it is
//! stopped when the test ends. Needs `scripts/setup` and `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;
use sever_tests::servers::nats::{NatsServer, APP_PASSWORD, SYS_PASSWORD, SYS_USER};
use sever_tests::servers::{closed_port, Silent};
use tokio::runtime::Runtime;

const ONCALL: &str = "oncall-token-nats-6d02";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 8000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_nats.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  nats:
    plugin: nats
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { user: "@SYS@", password: "${NATS_PASSWORD}" }
  nats-fresh:
    plugin: nats
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { user: "@SYS@", password: "${NATS_PASSWORD}" }
  nats-wrong-password:
    plugin: nats
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { user: "@SYS@", password: "not-the-password" }
  nats-app-account:
    plugin: nats
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { user: dev2, password: "${APP_PASSWORD}" }
  nats-down:
    plugin: nats
    url: "nats://127.0.0.1:@DOWN@"
    timeout_ms: 1000
    retries: 0
    settings: { user: a, password: b }
  nats-silent:
    plugin: nats
    url: "nats://127.0.0.1:@SILENT@"
    timeout_ms: 800
    retries: 0
    settings: { user: a, password: b }
"#;

fn act(sever: &Sever, backend: &str, action: &str, target: Value) -> Reply {
    act_with(sever, backend, action, target, false)
}

fn act_with(sever: &Sever, backend: &str, action: &str, target: Value, dry_run: bool) -> Reply {
    crate::common::act_as(sever, ONCALL, backend, action, target, dry_run)
}

/// A client of `user` named `name`; `dropped` is set when the server drops it.
struct Victim {
    dropped: Arc<AtomicBool>,
    client: async_nats::Client,
}

impl Victim {
    fn was_dropped(&self) -> bool {
        eventually(Duration::from_secs(10), || {
            self.dropped.load(Ordering::SeqCst)
        })
    }

    fn never_dropped(&self) -> bool {
        !self.dropped.load(Ordering::SeqCst)
    }

    /// `<server_id>:<cid>`, its connection id.
    fn connection_id(&self) -> String {
        let info = self.client.server_info();
        format!("{}:{}", info.server_id, info.client_id)
    }
}

fn victim(rt: &Runtime, server: &NatsServer, user: &str, name: &str) -> Victim {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let client = rt
        .block_on(
            async_nats::ConnectOptions::with_user_and_password(user.into(), APP_PASSWORD.into())
                .name(name)
                .event_callback(move |event| {
                    let flag = Arc::clone(&flag);
                    async move {
                        if matches!(event, async_nats::Event::Disconnected) {
                            flag.store(true, Ordering::SeqCst);
                        }
                    }
                })
                .connect(server.url()),
        )
        .unwrap_or_else(|e| panic!("connect {user}/{name}: {e}"));
    Victim { dropped, client }
}

/// The server's client connections (its monitoring endpoint's `num_connections`).
fn connections(server: &NatsServer) -> u64 {
    http::get(&server.connz_url(), None).json()["num_connections"]
        .as_u64()
        .unwrap()
}

#[test]
fn the_nats_adapter_kicks_real_connections_on_a_private_server() {
    let server = NatsServer::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let silent = Silent::start();
    let config = CONFIG
        .replace("@URL@", &server.url())
        .replace("@SYS@", SYS_USER)
        .replace("@DOWN@", &closed_port().to_string())
        .replace("@SILENT@", &silent.port.to_string());
    let sever = Sever::start(
        &config,
        &[
            ("ONCALL_TOKEN", ONCALL),
            ("NATS_PASSWORD", SYS_PASSWORD),
            ("APP_PASSWORD", APP_PASSWORD),
        ],
    );

    // A dry run shows the subject and payload, and opens no connection.
    let v = victim(&rt, &server, "dev1", "sensor-1");
    let before = connections(&server);
    let planned = act_with(
        &sever,
        "nats-fresh",
        "terminate",
        json!({"connection_id": v.connection_id()}),
        true,
    );
    let body = planned.expect_success();
    let step = &body["requests"][0];
    assert_eq!(step["kind"], "nats", "{body:#}");
    assert!(
        step["subject"].as_str().unwrap().ends_with(".KICK"),
        "{body:#}"
    );
    assert_eq!(
        connections(&server),
        before,
        "a dry run opened a connection"
    );

    // terminate + connection_id: that connection only; a repeat finds no such client.
    let bystander = victim(&rt, &server, "dev2", "sensor-2");
    let id = v.connection_id();
    let body = act(&sever, "nats", "terminate", json!({"connection_id": id}))
        .expect_success()
        .clone();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert!(
        v.was_dropped(),
        "the kicked client saw its connection dropped"
    );
    assert!(bystander.never_dropped(), "another client stays connected");
    act(&sever, "nats", "terminate", json!({"connection_id": id}))
        .expect_problem(404, "target_not_found");

    // terminate + user_id: discovery, then a KICK per connection of that user.
    let u1 = victim(&rt, &server, "dev1", "sensor-3");
    let u2 = victim(&rt, &server, "dev1", "sensor-4");
    let body = act(&sever, "nats", "terminate", json!({"user_id": "dev1"}))
        .expect_success()
        .clone();
    assert!(body["vendor"]["closed"].as_u64() >= Some(2), "{body:#}");
    assert!(u1.was_dropped() && u2.was_dropped());
    assert!(bystander.never_dropped());
    act(&sever, "nats", "terminate", json!({"user_id": "nosuch"}))
        .expect_problem(404, "target_not_found");

    // disconnect + client_id: every connection of that name.
    let n1 = victim(&rt, &server, "dev2", "sensor-17");
    let body = act(
        &sever,
        "nats",
        "disconnect",
        json!({"client_id": "sensor-17"}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert!(n1.was_dropped());
    assert!(bystander.never_dropped());

    // No responders: a server id no server has, and a user outside the system account.
    act(
        &sever,
        "nats",
        "terminate",
        json!({"connection_id": "NOSUCHSERVER:5"}),
    )
    .expect_problem(502, "upstream_rejected");
    act(
        &sever,
        "nats-app-account",
        "terminate",
        json!({"user_id": "dev1"}),
    )
    .expect_problem(502, "upstream_rejected");

    // Credentials refused, then Sever's own failures.
    act(
        &sever,
        "nats-wrong-password",
        "terminate",
        json!({"user_id": "dev1"}),
    )
    .expect_problem(502, "upstream_unauthorized");
    act(&sever, "nats-down", "terminate", json!({"user_id": "dev1"}))
        .expect_problem(502, "upstream_unavailable");
    act(
        &sever,
        "nats-silent",
        "terminate",
        json!({"user_id": "dev1"}),
    )
    .expect_problem(504, "upstream_timeout");
    assert!(silent.accepted() >= 1);
    assert!(bystander.never_dropped());
}
