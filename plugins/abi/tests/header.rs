//! The C header is generated from the Rust types, checked in, and pinned to the version.

use sever_plugin_abi::raw::{SEVER_ABI_MAJOR, SEVER_ABI_MINOR};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The sha256 of `include/sever_plugin.h` for the version below. Any change to the header
/// changes it: before updating it, decide whether the change is compatible (a new step
/// kind, a field appended to a payload or to the descriptor: bump `SEVER_ABI_MINOR`) or
/// not (anything else: bump `SEVER_ABI_MAJOR` and reset the minor), as
/// docs/plugin-abi.md ("Versions") says.
const PINNED: (u32, u32, &str) = (
    3,
    1,
    "578be60a29a1d049ee215cf39e008455a6731c9d75667d94c8fe021c16002c04",
);

fn header_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include/sever_plugin.h")
}

fn generate() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config = match cbindgen::Config::from_file(Path::new(dir).join("cbindgen.toml")) {
        Ok(config) => config,
        Err(e) => panic!("cbindgen.toml: {e}"),
    };
    let bindings = match cbindgen::generate_with_config(dir, config) {
        Ok(bindings) => bindings,
        Err(e) => panic!("cbindgen: {e}"),
    };
    let mut out = Vec::new();
    bindings.write(&mut out);
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => panic!("cbindgen wrote non-UTF-8: {e}"),
    }
}

#[test]
fn the_checked_in_header_is_what_cbindgen_generates() {
    let fresh = generate();
    let path = header_path();
    if std::env::var_os("SEVER_BLESS").is_some() {
        if let Err(e) = std::fs::write(&path, &fresh) {
            panic!("{}: {e}", path.display());
        }
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "{} differs from a fresh generation from src/raw/: run \
         `SEVER_BLESS=1 cargo test -p sever-plugin-abi --test header` and commit the header",
        path.display()
    );
}

#[test]
fn the_header_is_pinned_to_the_abi_version() {
    let header = std::fs::read(header_path()).unwrap_or_default();
    let hash = hex::encode(Sha256::digest(&header));
    let (major, minor, pinned) = PINNED;
    assert_eq!(
        (major, minor),
        (SEVER_ABI_MAJOR, SEVER_ABI_MINOR),
        "the ABI version changed: pin the header's new hash ({hash}) to it here"
    );
    assert!(
        hash == pinned,
        "include/sever_plugin.h changed (sha256 {hash}, pinned {pinned} for ABI \
         {major}.{minor}). Decide whether the change is compatible (bump SEVER_ABI_MINOR in \
         src/raw/mod.rs) or not (bump SEVER_ABI_MAJOR, minor to 0), regenerate the header, then \
         pin its new hash in tests/header.rs"
    );
}
