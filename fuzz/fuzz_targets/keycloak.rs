//! Keycloak: vendor answers to the token request, the username lookup, logout and session
//! delete, through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_keycloak::Keycloak),
            json!({ "realm": "acme", "client_id": "sever", "client_secret": "fuzz-secret",
                    "user_lookup": "username" }),
            &[
                json!({ "action": "terminate", "target": { "user_id": "alice" } }),
                json!({ "action": "terminate", "target": { "connection_id": "sess-1" } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
