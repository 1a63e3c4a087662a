//! Okta: vendor answers to the session revocation (SSWS) and, on a second backend, to the
//! token request of a signed client assertion, through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

/// The throwaway test key (tests/fixtures/keys): the OAuth option signs with it.
const KEY: &str = include_str!("../../tests/fixtures/keys/okta-test-rsa-2048.pem");

fn adapters() -> &'static [Adapter; 2] {
    static ADAPTERS: OnceLock<[Adapter; 2]> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let requests = [json!({ "action": "terminate", "target": { "user_id": "00u1" } })];
        let descriptor = || sever_plugin_sdk::static_descriptor!(sever_okta::Okta);
        [
            Adapter::new(descriptor(), json!({ "api_token": "fuzz-token" }), &requests),
            Adapter::new(
                descriptor(),
                json!({ "client_id": "0oa-fuzz", "private_key": KEY, "key_id": "k1" }),
                &requests,
            ),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    if let Some((first, rest)) = data.split_first() {
        adapters()[usize::from(first & 1)].run(rest);
    }
});
