//! EMQX management API: vendor answers to kicks, list pages and bulk kicks (`disconnect`,
//! `terminate` by username), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_emqx::Emqx),
            json!({ "api_key": "sever", "api_secret": "fuzz-secret" }),
            &[
                json!({ "action": "disconnect", "target": { "client_id": "sensor/17 #é" } }),
                json!({ "action": "terminate", "target": { "user_id": "alice" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
