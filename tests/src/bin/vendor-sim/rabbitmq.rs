//! `vendor-sim rabbitmq`: a REAL private RabbitMQ node ([`sever_tests::broker`]) with real
//! AMQP and MQTT clients connected, until SIGTERM or SIGINT.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::json;
use sever_tests::broker::Broker;

use crate::signals::{runtime, Signals};

/// The broker user the demo's clients connect as (not an administrator).
const CLIENT_USER: &str = "billing-app";
const CLIENT_PASSWORD: &str = "billing-app-pass-4c1d";

/// Runs `vendor-sim rabbitmq` until SIGTERM or SIGINT; the node is stopped (the guard
/// dropped) on the way out, also when a step panics.
pub(crate) fn rabbitmq(user: &str, password: &str, amqp_name: &str, mqtt_id: &str) {
    let began = Instant::now();
    let rt = runtime();
    // Handlers first: a signal that arrives while the node starts waits for its stop
    // instead of killing this process and leaving the node behind.
    let mut signals = Signals::install(&rt);

    let broker = Broker::start_as("sever-demo");
    let version = broker.call("GET", "/api/overview", None).json()["rabbitmq_version"]
        .as_str()
        .unwrap_or("?")
        .to_owned();
    let admin = utf8_percent_encode(user, NON_ALPHANUMERIC).to_string();
    let everything = json!({"configure": ".*", "write": ".*", "read": ".*"});
    for (name, pass, tags) in [
        (admin.as_str(), password, "administrator"),
        (CLIENT_USER, CLIENT_PASSWORD, ""),
    ] {
        let body = json!({"password": pass, "tags": tags});
        let created = broker.call("PUT", &format!("/api/users/{name}"), Some(body));
        let path = format!("/api/permissions/%2F/{name}");
        let allowed = broker.call("PUT", &path, Some(everything.clone()));
        for reply in [created, allowed] {
            assert!(reply.status < 300, "rabbitmq user {name}: {}", reply.text);
        }
    }

    let stopping = Arc::new(AtomicBool::new(false));
    let uri = format!(
        "amqp://{CLIENT_USER}:{CLIENT_PASSWORD}@127.0.0.1:{}/%2f",
        broker.amqp_port
    );
    let properties = lapin::ConnectionProperties::default().with_connection_name(amqp_name.into());
    let connection = rt
        .block_on(lapin::Connection::connect(&uri, properties))
        .unwrap_or_else(|err| panic!("AMQP connect {amqp_name}: {err}"));
    let (name, quiet) = (amqp_name.to_owned(), Arc::clone(&stopping));
    connection.on_error(move |err| {
        if quiet.load(Ordering::SeqCst) {
            return;
        }
        match err {
            lapin::Error::ProtocolError(amqp) => {
                println!("connection {name} closed by the broker: {amqp}");
            }
            other => println!("connection {name} lost: {other}"),
        }
    });
    let mqtt = mqtt_client(&broker, mqtt_id, Arc::clone(&stopping));
    // Ready means the management API lists both (its statistics lag the connects).
    let mut expected = [amqp_name, mqtt_id];
    expected.sort_unstable();
    let listed = broker.wait_for_clients(&expected);
    assert_eq!(listed, expected, "the management API's connections");

    println!(
        "rabbitmq {version} private node ready in {:.1}s (node up in {:.1}s): management {} \
         user {user}; \
         clients connected as {CLIENT_USER}: AMQP connection {amqp_name}, MQTT client id {mqtt_id}",
        began.elapsed().as_secs_f64(),
        broker.startup.as_secs_f64(),
        broker.management_url(),
    );

    let signal = signals.wait(&rt);
    stopping.store(true, Ordering::SeqCst);
    eprintln!("vendor-sim rabbitmq: {signal}: stopping the private node");
    let _ = mqtt.try_disconnect();
    if connection.status().connected() {
        let closing = connection.close(200, "bye");
        let _ = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), closing).await });
    }
    drop(broker);
    eprintln!("vendor-sim rabbitmq: private node stopped");
}

/// An MQTT client driven on its own thread until the broker closes it (no reconnection);
/// returns once CONNACK arrived. Reports the close on stdout unless `stopping`.
fn mqtt_client(broker: &Broker, client_id: &str, stopping: Arc<AtomicBool>) -> rumqttc::Client {
    let mut options = rumqttc::MqttOptions::new(client_id, "127.0.0.1", broker.mqtt_port);
    options.set_credentials(CLIENT_USER, CLIENT_PASSWORD);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut connection) = rumqttc::Client::new(options, 10);
    let (tx, rx) = mpsc::channel();
    let id = client_id.to_owned();
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                    let _ = tx.send(true);
                }
                Ok(_) => {}
                Err(err) => {
                    if !stopping.load(Ordering::SeqCst) {
                        println!("MQTT client {id} disconnected: {err}");
                    }
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
