//! No adapter library links a loader: the SDK an adapter depends on has no `dlopen` in its
//! dependency tree, also when the adapters are built as part of the whole workspace (where
//! Sever's own engine, which does load plugins, is built in the same `cargo build`).
#![allow(clippy::unwrap_used)]

use sever_tests::harness::plugin_dir;
use std::process::Command;

#[test]
fn no_built_adapter_library_imports_dlopen_or_carries_libloading() {
    let libraries: Vec<_> = std::fs::read_dir(plugin_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libsever_") && n.ends_with(".so"))
        })
        .collect();
    // The six adapters, the template and the Rust fixtures at least.
    assert!(libraries.len() >= 9, "{libraries:#?}");
    for library in &libraries {
        let output = Command::new("nm")
            .args(["-D", "--with-symbol-versions"])
            .arg(library)
            .output()
            .unwrap_or_else(|e| panic!("cannot run nm (binutils): {e}"));
        assert!(output.status.success(), "nm {}", library.display());
        let symbols = String::from_utf8_lossy(&output.stdout);
        let loader: Vec<&str> = symbols
            .lines()
            .filter(|l| l.contains("dlopen") || l.contains("dlsym") || l.contains("libloading"))
            .collect();
        assert!(
            loader.is_empty(),
            "{} links a loader: {loader:?}",
            library.display()
        );
    }
}
