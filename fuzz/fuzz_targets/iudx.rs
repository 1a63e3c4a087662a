//! IUDX corinthian: vendor answers to `unbind`, through the plugin ABI, in entity and in
//! owner mode.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::json;
use sever_fuzz::Adapter;

fn adapters() -> &'static [Adapter; 2] {
    static ADAPTERS: OnceLock<[Adapter; 2]> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let target =
            json!({ "source": "bob/sensor-1", "topic": "temp.#", "message_type": "protected" });
        let mut owned = target.clone();
        owned["client_id"] = json!("alice/app-1");
        let descriptor = || sever_plugin_sdk::static_descriptor!(sever_iudx::Iudx);
        [
            Adapter::new(
                descriptor(),
                json!({ "id": "alice/app-1", "apikey": "fuzz-entity-key" }),
                &[json!({ "action": "unbind", "target": target })],
            ),
            Adapter::new(
                descriptor(),
                json!({ "id": "alice", "apikey": "fuzz-owner-key" }),
                &[json!({ "action": "unbind", "target": owned })],
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
