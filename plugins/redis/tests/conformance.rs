//! The cases of `conformance.yaml`, run against the built library through the real
//! plugin ABI.

#[test]
fn conformance_cases_pass_against_the_built_library() {
    sever_plugin_host::conformance::run(env!("CARGO_MANIFEST_DIR"), env!("CARGO_PKG_NAME"));
}
