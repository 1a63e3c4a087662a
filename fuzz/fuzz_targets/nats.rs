//! NATS system account: discovery replies (`$SYS.REQ.SERVER.PING.CONNZ`, paged) and `KICK`
//! replies, no responders and `-ERR`s (`terminate`, `disconnect`), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_nats::Nats),
            json!({ "user": "sys", "password": "fuzz-pass", "server_id": "NB4QWZ" }),
            &[
                json!({ "action": "terminate", "target": { "connection_id": "NB4QWZ:8" } }),
                json!({ "action": "terminate", "target": { "connection_id": "8" } }),
                json!({ "action": "terminate", "target": { "connection_id": "A.*:8" } }),
                json!({ "action": "terminate", "target": { "user_id": "dev1" } }),
                json!({ "action": "disconnect", "target": { "client_id": "sensor-17" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
