//! Shared fixtures for Sever's benchmarks (see `benches/translate.rs`).
//!
//! Run with `cargo bench -p sever-benches`; criterion prints the median per iteration.

/// A canonical Cedalo disconnect request, as a caller sends it.
pub const CANONICAL_DISCONNECT: &[u8] = br#"{"action":"disconnect","backend":"mqtt-eu","target":{"client_id":"sensor-17"},"reason":"credential leak INC-4411"}"#;

/// The Cedalo backend's settings.
pub fn cedalo_spec() -> sever_plugin_sdk::BackendSpec {
    let settings = serde_json::json!({"project_id": "p1", "broker_id": "b1", "token": "app-token"});
    sever_plugin_sdk::BackendSpec {
        name: "mqtt-eu".into(),
        url: "http://127.0.0.1:18001".into(),
        settings: settings.as_object().cloned().unwrap_or_default(),
    }
}
