//! HiveMQ REST API: vendor answers to a disconnect (with and without Basic auth), through
//! the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_hivemq::Hivemq),
            json!({ "username": "sever", "password": "fuzz-pass", "invalidate_session": true }),
            &[json!({ "action": "disconnect", "target": { "client_id": "sensor/17 #é" } })],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
