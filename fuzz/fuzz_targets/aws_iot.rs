//! AWS IoT Core `DeleteConnection`: vendor answers (restJson1 errors, `x-amzn-ErrorType`)
//! and re-signed retries, through the plugin ABI.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(
            sever_plugin_sdk::static_descriptor!(sever_aws_iot::AwsIot),
            json!({ "region": "eu-west-1", "access_key_id": "AKIAFUZZ",
                    "secret_access_key": "fuzz-secret", "session_token": "fuzz-token" }),
            &[json!({ "action": "disconnect", "target": { "client_id": "sensor/17 #é" } })],
        )
    })
}

fuzz_target!(|data: &[u8]| adapter().run(data));
