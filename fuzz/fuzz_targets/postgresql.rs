//! PostgreSQL: results, errors and notices of the `pg_terminate_backend` query
//! (`terminate` by pid or role, `disconnect` by application name), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_postgresql::Postgresql),
            json!({ "user": "sever", "password": "fuzz-pass", "terminate_timeout_ms": 2000 }),
            &[
                json!({ "action": "terminate", "target": { "connection_id": "4242" } }),
                json!({ "action": "terminate", "target": { "connection_id": "-1" } }),
                json!({ "action": "terminate", "target": { "user_id": "app" } }),
                json!({ "action": "disconnect", "target": { "client_id": "sensor-17" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
