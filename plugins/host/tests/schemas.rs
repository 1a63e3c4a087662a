//! The JSON messages that cross the plugin boundary (read once, at load) have JSON Schemas,
//! generated from the ABI's Rust types and checked in beside docs/plugin-abi.md, so that an
//! author in any language can validate what a plugin writes. A test fails when the checked-in
//! copies differ from a fresh generation (`SEVER_BLESS=1` rewrites them).

use schemars::{schema_for, Schema};
use sever_plugin_abi::{BackendSpec, ConnectionSpec, PluginInfo, SettingError};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/plugin-abi")
}

fn check(file: &str, schema: Schema) {
    let fresh = match serde_json::to_string_pretty(&schema) {
        Ok(text) => text + "\n",
        Err(e) => panic!("{file}: {e}"),
    };
    let path = dir().join(file);
    if std::env::var_os("SEVER_BLESS").is_some() {
        let written = std::fs::create_dir_all(dir()).and_then(|()| std::fs::write(&path, &fresh));
        if let Err(e) = written {
            panic!("{}: {e}", path.display());
        }
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "{} differs from the schema of the ABI's types: run \
         `SEVER_BLESS=1 cargo test -p sever-plugin-host --test schemas`, and decide whether the \
         change is compatible (docs/plugin-abi.md, \"Versions\")",
        path.display()
    );
}

#[test]
fn the_metadata_schema_is_the_one_checked_in() {
    check("plugin-info.schema.json", schema_for!(PluginInfo));
}

#[test]
fn the_backend_spec_schema_is_the_one_checked_in() {
    check("backend-spec.schema.json", schema_for!(BackendSpec));
}

#[test]
fn the_settings_errors_schema_is_the_one_checked_in() {
    check("setting-errors.schema.json", schema_for!(Vec<SettingError>));
}

#[test]
fn the_connection_spec_schema_is_the_one_checked_in() {
    check("connection-spec.schema.json", schema_for!(ConnectionSpec));
}
