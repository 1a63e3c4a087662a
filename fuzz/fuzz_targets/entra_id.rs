//! Entra ID: vendor answers to the token request and to Graph's `revokeSignInSessions`,
//! through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_entra_id::EntraId),
            json!({ "tenant_id": "t-1", "client_id": "app", "client_secret": "fuzz-secret" }),
            &[json!({ "action": "terminate", "target": { "user_id": "ann#EXT#@t.example" } })],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
