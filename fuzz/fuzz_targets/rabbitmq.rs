//! RabbitMQ management API: vendor answers to listing and deleting connections and
//! bindings (`disconnect`, `terminate`, `unbind`), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_rabbitmq::Rabbitmq),
            json!({ "user": "sever", "password": "fuzz-pass", "vhost": "/" }),
            &[
                json!({ "action": "disconnect", "target": { "client_id": "sensor-17" } }),
                json!({ "action": "terminate", "target": { "connection_id": "127.0.0.1:5 -> 127.0.0.1:5672" } }),
                json!({ "action": "terminate", "target": { "user_id": "alice" } }),
                json!({ "action": "unbind",
                        "target": { "source": "amq.topic", "client_id": "q1", "topic": "a.b" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
