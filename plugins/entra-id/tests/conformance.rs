//! The cases of `conformance.yaml`, run against the built library through the real
//! plugin ABI. One call runs them all; a failure names the case and each difference. Copy
//! this file as it is: it names nothing of this adapter.

#[test]
fn conformance_cases_pass_against_the_built_library() {
    sever_plugin_host::conformance::run(env!("CARGO_MANIFEST_DIR"), env!("CARGO_PKG_NAME"));
}
