//! End to end through the real `sever` and `libsever_mosquitto.so` against a REAL
//! Mosquitto broker with the dynamic-security plugin, started by this test
//! (`sever_tests::servers::mosquitto`): every row of the contract's `mosquitto` table a
//! real broker gives, seen from the victims' side (their sessions closed, other clients
//! untouched), and the failures Sever owns (wrong credentials, a user without the control
//! topic, broker down, a server that never answers).
//!
//! One broker serves every scenario, run one after another in one test so that it is
//! stopped when the test ends. Needs Debian's `mosquitto` and `cargo build --workspace`.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::{json, Value};
use sever_tests::eventually;
use sever_tests::harness::http::Reply;
use sever_tests::harness::Sever;
use sever_tests::servers::mosquitto::{MosquittoServer, ADMIN, ADMIN_PASSWORD};
use sever_tests::servers::{closed_port, Silent};

const ONCALL: &str = "oncall-token-mosq-2b77";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 8000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_mosquitto.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  broker:
    plugin: mosquitto
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { username: "@ADMIN@", password: "${MOSQ_PASSWORD}" }
  broker-reenable:
    plugin: mosquitto
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { username: "@ADMIN@", password: "${MOSQ_PASSWORD}", reenable_after_kick: true }
  broker-fresh:
    plugin: mosquitto
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { username: "@ADMIN@", password: "${MOSQ_PASSWORD}" }
  broker-wrong-password:
    plugin: mosquitto
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { username: "@ADMIN@", password: "not-the-password" }
  broker-no-role:
    plugin: mosquitto
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { username: "norole", password: "norole-pw" }
  broker-down:
    plugin: mosquitto
    url: "mqtt://127.0.0.1:@DOWN@"
    timeout_ms: 1000
    retries: 0
    settings: { username: a, password: b }
  broker-silent:
    plugin: mosquitto
    url: "mqtt://127.0.0.1:@SILENT@"
    timeout_ms: 800
    retries: 0
    settings: { username: a, password: b }
"#;

fn act(sever: &Sever, backend: &str, action: &str, target: Value) -> Reply {
    act_with(sever, backend, action, target, false)
}

fn act_with(sever: &Sever, backend: &str, action: &str, target: Value, dry_run: bool) -> Reply {
    crate::common::act_as(sever, ONCALL, backend, action, target, dry_run)
}

/// An MQTT client driven on its own thread; `closed` is set when the broker ends it.
struct Victim {
    closed: Arc<AtomicBool>,
    _client: rumqttc::Client,
}

impl Victim {
    fn is_closed(&self) -> bool {
        eventually(Duration::from_secs(10), || {
            self.closed.load(Ordering::SeqCst)
        })
    }

    fn is_open(&self) -> bool {
        !self.closed.load(Ordering::SeqCst)
    }
}

/// Connects `client_id` as `user`: the victim once CONNACK accepted it, `None` if refused.
fn connect(server: &MosquittoServer, user: &str, pass: &str, client_id: &str) -> Option<Victim> {
    let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", server.port);
    options.set_credentials(user, pass);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = rumqttc::Client::new(options, 10);
    let closed = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&closed);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = tx.send(true);
                }
                Ok(_) => {}
                Err(_) => {
                    flag.store(true, Ordering::SeqCst);
                    let _ = tx.send(false);
                    break;
                }
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(true) => Some(Victim {
            closed,
            _client: client,
        }),
        _ => None,
    }
}

#[test]
fn the_mosquitto_adapter_cuts_real_sessions_on_a_private_broker() {
    let server = MosquittoServer::start();
    server.dynsec(&["createClient", "dev1", "-p", "pw1"]);
    server.dynsec(&["createClient", "dev2", "-p", "pw2"]);
    server.dynsec(&["createClient", "dev3", "-p", "pw3"]);
    server.dynsec(&["createClient", "pinned", "-c", "sensor-99", "-p", "pw4"]);
    server.dynsec(&["createClient", "norole", "-p", "norole-pw"]);
    let silent = Silent::start();
    let config = CONFIG
        .replace("@URL@", &server.url())
        .replace("@ADMIN@", ADMIN)
        .replace("@DOWN@", &closed_port().to_string())
        .replace("@SILENT@", &silent.port.to_string());
    let sever = Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("MOSQ_PASSWORD", ADMIN_PASSWORD)],
    );

    // A dry run shows the topic and the batch, and opens no connection (the broker logs
    // every connection with its client id).
    let planned = act_with(
        &sever,
        "broker-fresh",
        "terminate",
        json!({"user_id": "dev1"}),
        true,
    );
    let body = planned.expect_success();
    let step = &body["requests"][0];
    assert_eq!(step["kind"], "mqtt", "{body:#}");
    assert_eq!(step["topic"], "$CONTROL/dynamic-security/v1", "{body:#}");
    assert!(
        step["payload"].as_str().unwrap().contains("disableClient"),
        "{body:#}"
    );
    assert!(!step["payload"].as_str().unwrap().contains(ADMIN_PASSWORD));
    assert!(
        !server.log().contains("sever-broker-fresh"),
        "a dry run connected"
    );

    // terminate + user_id: both sessions of that username; another user stays; the user
    // stays disabled (a reconnect is refused); a repeat is done again (idempotent).
    let a = connect(&server, "dev1", "pw1", "dev1-a").unwrap();
    let b = connect(&server, "dev1", "pw1", "dev1-b").unwrap();
    let other = connect(&server, "dev2", "pw2", "dev2-a").unwrap();
    let body = act(&sever, "broker", "terminate", json!({"user_id": "dev1"}))
        .expect_success()
        .clone();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert!(
        a.is_closed() && b.is_closed(),
        "both sessions of dev1 closed"
    );
    assert!(other.is_open(), "another user's session stays");
    assert!(
        connect(&server, "dev1", "pw1", "dev1-c").is_none(),
        "dev1 is disabled"
    );
    act(&sever, "broker", "terminate", json!({"user_id": "dev1"})).expect_success();

    // reenable_after_kick: cut, then the user may connect again at once.
    let c = connect(&server, "dev3", "pw3", "dev3-a").unwrap();
    act(
        &sever,
        "broker-reenable",
        "terminate",
        json!({"user_id": "dev3"}),
    )
    .expect_success();
    assert!(c.is_closed());
    assert!(
        connect(&server, "dev3", "pw3", "dev3-b").is_some(),
        "dev3 may reconnect"
    );

    // An unknown username: dynsec's "Client not found".
    let problem = act(&sever, "broker", "terminate", json!({"user_id": "nosuch"}))
        .expect_problem(404, "target_not_found")
        .clone();
    assert_eq!(problem["vendor"]["code"], "Client not found", "{problem:#}");

    // disconnect + client_id pinned by a dynsec record: exactly that session.
    let pinned = connect(&server, "pinned", "pw4", "sensor-99").unwrap();
    let body = act(
        &sever,
        "broker",
        "disconnect",
        json!({"client_id": "sensor-99"}),
    )
    .expect_success()
    .clone();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert!(pinned.is_closed());
    assert!(other.is_open());
    act(
        &sever,
        "broker",
        "disconnect",
        json!({"client_id": "unpinned-1"}),
    )
    .expect_problem(404, "target_not_found");

    // Credentials refused: a wrong password (CONNACK), a client without the admin role
    // (its subscription to the control topic refused).
    act(
        &sever,
        "broker-wrong-password",
        "terminate",
        json!({"user_id": "dev2"}),
    )
    .expect_problem(502, "upstream_unauthorized");
    act(
        &sever,
        "broker-no-role",
        "terminate",
        json!({"user_id": "dev2"}),
    )
    .expect_problem(502, "upstream_unauthorized");
    assert!(other.is_open(), "nothing was cut by the refused requests");

    // Sever's own failures: nothing listening, and a server that never answers.
    act(
        &sever,
        "broker-down",
        "terminate",
        json!({"user_id": "dev2"}),
    )
    .expect_problem(502, "upstream_unavailable");
    act(
        &sever,
        "broker-silent",
        "terminate",
        json!({"user_id": "dev2"}),
    )
    .expect_problem(504, "upstream_timeout");
    assert!(silent.accepted() >= 1);
}
