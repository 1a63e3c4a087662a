//! End to end through the real `sever` and `libsever_rabbitmq.so` against a REAL RabbitMQ
//! node this test starts itself (private node name, ports and data; see
//! `sever_tests::broker`), with real AMQP (lapin) and MQTT (rumqttc) clients. Each scenario
//! asserts through the management API that exactly the targeted connections or bindings
//! are gone.
//!
//! One node serves every scenario, run one after another in one test so that the node is
//! stopped (its guard dropped) when the test ends, passing or failing. Needs Debian's
//! `rabbitmq-server` (installed by `scripts/setup`) and `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{json, Value};
use sever_tests::broker::{Broker, ADMIN, ADMIN_PASSWORD};
use sever_tests::eventually;
use sever_tests::harness::http::{self, Reply};
use sever_tests::harness::Sever;

const ONCALL: &str = "oncall-token-rmq-71c0";
/// A second broker user whose connections `terminate` by `user_id` ends.
const APP: &str = "app-user";
const APP_PASSWORD: &str = "app-pass-93e1";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 8000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_rabbitmq.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect", "terminate", "unbind"] } ] }
audit: { path: "audit.jsonl" }
backends:
  rabbit:
    plugin: rabbitmq
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { user: "@ADMIN@", password: "${RABBIT_PASSWORD}" }
  rabbit-wrong-password:
    plugin: rabbitmq
    url: "@URL@"
    timeout_ms: 3000
    retries: 0
    settings: { user: "@ADMIN@", password: "not-the-password" }
"#;

fn act(sever: &Sever, backend: &str, action: &str, target: Value) -> Reply {
    let body = json!({
        "action": action, "backend": backend, "target": target,
        "reason": "credential leak INC-4411",
    });
    http::post_json(&sever.url("/v1/actions"), Some(ONCALL), &body.to_string())
}

/// An AMQP connection with a client-provided name.
fn amqp(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    user: &str,
    pass: &str,
    name: &str,
) -> Connection {
    let uri = format!("amqp://{user}:{pass}@127.0.0.1:{}/%2f", broker.amqp_port);
    let properties = ConnectionProperties::default().with_connection_name(name.into());
    rt.block_on(Connection::connect(&uri, properties))
        .unwrap_or_else(|e| panic!("AMQP connect {name}: {e}"))
}

/// An MQTT connection with a client id, driven on its own thread until the broker closes
/// it (no reconnection: a closed client stays closed). Returns once CONNACK arrived.
fn mqtt(broker: &Broker, user: &str, pass: &str, client_id: &str) -> rumqttc::Client {
    let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", broker.mqtt_port);
    options.set_credentials(user, pass);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = rumqttc::Client::new(options, 10);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = tx.send(true);
                }
                Ok(_) => {}
                Err(_) => {
                    let _ = tx.send(false);
                    break;
                }
            }
        }
    });
    let connected = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(connected, Ok(true), "MQTT connect {client_id}");
    client
}

fn closed(connection: &Connection) -> bool {
    eventually(Duration::from_secs(10), || !connection.status().connected())
}

#[test]
fn the_rabbitmq_adapter_cuts_real_connections_and_bindings_on_a_private_broker() {
    let began = Instant::now();
    let mut broker = Broker::start();
    eprintln!("rabbitmq: private node ready in {:?}", broker.startup);
    let version = broker.call("GET", "/api/overview", None).json()["rabbitmq_version"].clone();
    eprintln!("rabbitmq: version {version}");
    let created = broker.call(
        "PUT",
        &format!("/api/users/{APP}"),
        Some(json!({"password": APP_PASSWORD, "tags": ""})),
    );
    assert!(created.status < 300, "{}", created.text);
    let everything = json!({"configure": ".*", "write": ".*", "read": ".*"});
    let allowed = broker.call(
        "PUT",
        &format!("/api/permissions/%2F/{APP}"),
        Some(everything),
    );
    assert!(allowed.status < 300, "{}", allowed.text);

    let config = CONFIG
        .replace("@URL@", &broker.management_url())
        .replace("@ADMIN@", ADMIN);
    let sever = Sever::start(
        &config,
        &[
            ("ONCALL_TOKEN", ONCALL),
            ("RABBIT_PASSWORD", ADMIN_PASSWORD),
        ],
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    disconnect_closes_exactly_the_named_amqp_and_mqtt_connections(&rt, &broker, &sever);
    terminate_by_user_and_by_connection_id_close_only_those(&rt, &broker, &sever);
    unbind_stops_the_queue_from_receiving_that_routing_key(&rt, &broker, &sever);
    a_wrong_management_password_is_upstream_unauthorized(&sever);

    broker.stop();
    let reply = act(
        &sever,
        "rabbit",
        "disconnect",
        json!({"client_id": "orders-1"}),
    );
    reply.expect_problem(502, "upstream_unavailable");
    eprintln!("rabbitmq: whole scenario {:?}", began.elapsed());
}

fn disconnect_closes_exactly_the_named_amqp_and_mqtt_connections(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    sever: &Sever,
) {
    let orders_1 = amqp(rt, broker, ADMIN, ADMIN_PASSWORD, "orders-1");
    let orders_2 = amqp(rt, broker, ADMIN, ADMIN_PASSWORD, "orders-2");
    let _mqtt_1 = mqtt(broker, ADMIN, ADMIN_PASSWORD, "orders-1");
    let _mqtt_2 = mqtt(broker, ADMIN, ADMIN_PASSWORD, "sensor-2");
    let all = ["orders-1", "orders-1", "orders-2", "sensor-2"];
    assert_eq!(broker.wait_for_clients(&all), all);

    let reply = act(
        sever,
        "rabbit",
        "disconnect",
        json!({"client_id": "orders-1"}),
    );

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"]["closed"], 2, "{body:#}");
    assert_eq!(body["vendor"]["status"], 204, "{body:#}");
    assert_eq!(
        broker.wait_for_clients(&["orders-2", "sensor-2"]),
        ["orders-2", "sensor-2"]
    );
    assert!(
        closed(&orders_1),
        "the AMQP client saw its connection closed"
    );
    assert!(orders_2.status().connected());

    let again = act(
        sever,
        "rabbit",
        "disconnect",
        json!({"client_id": "orders-1"}),
    );
    let problem = again.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["closed"], 0, "{problem:#}");

    let _ = rt.block_on(orders_2.close(200, "done"));
}

fn terminate_by_user_and_by_connection_id_close_only_those(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    sever: &Sever,
) {
    let _a1 = amqp(rt, broker, APP, APP_PASSWORD, "app-a1");
    let _a2 = amqp(rt, broker, APP, APP_PASSWORD, "app-a2");
    let _a3 = mqtt(broker, APP, APP_PASSWORD, "app-m3");
    let admin = amqp(rt, broker, ADMIN, ADMIN_PASSWORD, "admin-keep");
    let expected = ["admin-keep", "app-a1", "app-a2", "app-m3", "sensor-2"];
    assert_eq!(broker.wait_for_clients(&expected), expected);

    let reply = act(sever, "rabbit", "terminate", json!({"user_id": APP}));

    let body = reply.expect_success();
    assert_eq!(body["vendor"]["closed"], 3, "{body:#}");
    assert_eq!(
        broker.wait_for_clients(&["admin-keep", "sensor-2"]),
        ["admin-keep", "sensor-2"]
    );
    let again = act(sever, "rabbit", "terminate", json!({"user_id": APP}));
    again.expect_problem(404, "target_not_found");

    let name = broker
        .connections()
        .into_iter()
        .find(|(_, _, client)| client == "admin-keep")
        .map(|(name, _, _)| name)
        .unwrap();
    let reply = act(sever, "rabbit", "terminate", json!({"connection_id": name}));
    assert_eq!(reply.expect_success()["vendor"]["closed"], 1);
    assert_eq!(broker.wait_for_clients(&["sensor-2"]), ["sensor-2"]);
    assert!(closed(&admin));
    let gone = act(sever, "rabbit", "terminate", json!({"connection_id": name}));
    let problem = gone.expect_problem(404, "target_not_found");
    assert_eq!(problem["vendor"]["status"], 404, "{problem:#}");
}

/// Publishes with a publisher confirm (the broker has routed it when this returns) and
/// says whether the queue then holds a message (taken off it).
fn delivered(rt: &tokio::runtime::Runtime, channel: &Channel, key: &str, queue: &str) -> bool {
    rt.block_on(async {
        let confirm = channel
            .basic_publish(
                "amq.topic",
                key,
                BasicPublishOptions::default(),
                b"m",
                BasicProperties::default(),
            )
            .await
            .unwrap();
        confirm.await.unwrap();
        let got = channel
            .basic_get(queue, BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        got.is_some()
    })
}

fn unbind_stops_the_queue_from_receiving_that_routing_key(
    rt: &tokio::runtime::Runtime,
    broker: &Broker,
    sever: &Sever,
) {
    let queue = "orders q/1";
    let path = "/api/queues/%2F/orders%20q%2F1";
    assert!(broker.call("PUT", path, Some(json!({}))).status < 300);
    let bindings = "/api/bindings/%2F/e/amq.topic/q/orders%20q%2F1";
    for key in ["orders.*.created", "audit.#"] {
        let bound = broker.call("POST", bindings, Some(json!({"routing_key": key})));
        assert!(bound.status < 300, "{}", bound.text);
    }
    let connection = amqp(rt, broker, ADMIN, ADMIN_PASSWORD, "publisher");
    let channel = rt.block_on(connection.create_channel()).unwrap();
    rt.block_on(channel.confirm_select(ConfirmSelectOptions::default()))
        .unwrap();
    assert!(delivered(rt, &channel, "orders.eu.created", queue));

    let target = json!({"source": "amq.topic", "client_id": queue, "topic": "orders.*.created"});
    let reply = act(sever, "rabbit", "unbind", target.clone());

    let body = reply.expect_success();
    assert_eq!(body["vendor"]["unbound"], 1, "{body:#}");
    assert!(!delivered(rt, &channel, "orders.eu.created", queue));
    assert!(
        delivered(rt, &channel, "audit.x", queue),
        "the other binding stays"
    );
    let left = broker.call("GET", bindings, None);
    let keys: Vec<&str> = left
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["routing_key"].as_str())
        .collect();
    assert_eq!(keys, ["audit.#"]);
    let again = act(sever, "rabbit", "unbind", target);
    again.expect_problem(404, "target_not_found");
    let _ = rt.block_on(connection.close(200, "done"));
}

fn a_wrong_management_password_is_upstream_unauthorized(sever: &Sever) {
    let reply = act(
        sever,
        "rabbit-wrong-password",
        "disconnect",
        json!({"client_id": "sensor-2"}),
    );
    let problem = reply.expect_problem(502, "upstream_unauthorized");
    assert_eq!(problem["vendor"]["status"], 401, "{problem:#}");
    assert_eq!(problem["vendor"]["message"], "Login failed", "{problem:#}");
    assert!(!reply.text.contains("not-the-password"), "{}", reply.text);
}
