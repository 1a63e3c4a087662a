//! PrivX: vendor answers to the OAuth2 token request and to `terminate` (by connection,
//! user or host), through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        let id = "3f2c1b0a-9d8e-4f7a-8b6c-5d4e3f2a1b0c";
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_privx::Privx),
            json!({
                "oauth_client_id": "privx-external", "oauth_client_secret": "fuzz-oauth",
                "api_client_id": "sever-api", "api_client_secret": "fuzz-api",
            }),
            &[
                json!({ "action": "terminate", "target": { "connection_id": id } }),
                json!({ "action": "terminate", "target": { "user_id": id } }),
                json!({ "action": "terminate", "target": { "host_id": id } }),
            ],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
