//! Redis: replies to `CLIENT KILL ID`, `CLIENT KILL USER` and `CLIENT LIST` then a kill per
//! match (`terminate`, `disconnect`), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_redis::Redis),
            json!({ "username": "sever", "password": "fuzz-pass" }),
            &[
                json!({ "action": "terminate", "target": { "connection_id": "7" } }),
                json!({ "action": "terminate", "target": { "connection_id": "x7" } }),
                json!({ "action": "terminate", "target": { "user_id": "app" } }),
                json!({ "action": "disconnect", "target": { "client_id": "sensor-17" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
