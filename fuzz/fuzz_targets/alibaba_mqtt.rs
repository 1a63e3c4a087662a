//! Alibaba Cloud ApsaraMQ for MQTT: vendor answers to `CloseConnection`, through the plugin
//! ABI, with and without an STS token.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapters() -> &'static [Adapter; 2] {
    static ADAPTERS: OnceLock<[Adapter; 2]> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let settings = json!({
            "instance_id": "post-cn-fuzz", "access_key_id": "LTAIfuzz",
            "access_key_secret": "fuzz-secret", "region_id": "cn-shanghai",
        });
        let mut sts = settings.clone();
        sts["security_token"] = json!("fuzz-sts");
        let requests =
            [json!({ "action": "disconnect", "target": { "client_id": "GID_x@@@dev 1" } })];
        let descriptor = || sever_plugin_sdk::static_descriptor!(sever_alibaba_mqtt::AlibabaMqtt);
        [
            Adapter::new(descriptor(), settings, &requests),
            Adapter::new(descriptor(), sts, &requests),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    adapters()[usize::from(first & 1)].run(rest);
});
