//! Nexus: vendor answers to `unbind` (disable a client on a connection), through the
//! plugin ABI, with bearer and with Basic credentials.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapters() -> &'static [Adapter; 2] {
    static ADAPTERS: OnceLock<[Adapter; 2]> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let requests = [json!({ "action": "unbind",
            "target": { "client_id": "client \"1\"", "connection_id": "conn/1" } })];
        let descriptor = || sever_plugin_sdk::static_descriptor!(sever_nexus::Nexus);
        [
            Adapter::new(
                descriptor(),
                json!({ "tenant_id": "acme", "bearer_token": "fuzz-bearer",
                        "application_token": "fuzz-app" }),
                &requests,
            ),
            Adapter::new(
                descriptor(),
                json!({ "tenant_id": "acme", "username": "svc", "password": "fuzz-pass" }),
                &requests,
            ),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    adapters()[usize::from(first & 1)].run(rest);
});
