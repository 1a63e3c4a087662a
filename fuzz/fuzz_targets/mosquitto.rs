//! Mosquitto dynamic security: reason codes and answers on the response topic to
//! `disableClient` / `enableClient` batches and to `listClients` (`terminate`,
//! `disconnect`), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_mosquitto::Mosquitto),
            json!({ "username": "admin", "password": "fuzz-pass", "reenable_after_kick": true }),
            &[
                json!({ "action": "terminate", "target": { "user_id": "dev1" } }),
                json!({ "action": "disconnect", "target": { "client_id": "sensor-99" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
