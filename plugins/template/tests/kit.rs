//! Tests of the conformance kit itself (what an adapter author sees when a case is wrong,
//! or names another plugin), run against this template because it is the smallest
//! adapter. Not part of an adapter: do not copy this file into a new one.

use sever_plugin_host::conformance::{self, Suite};
use std::path::Path;

/// What an adapter author sees when a case is wrong: the harness's own behaviour, shown
/// on this plugin because it is the smallest.
#[test]
fn a_wrong_case_is_reported_by_name_with_each_difference() {
    let yaml = r#"
plugin: template
backend: { name: hub, url: "http://h", settings: { api_key: k123 } }
cases:
  - name: right
    request: { action: disconnect, target: { client_id: c } }
    steps:
      - expect: { method: POST, url: "http://h/v1/sessions/c/close" }
        respond: { status: 204 }
    outcome: done
  - name: wrong_request
    request: { action: disconnect, target: { client_id: "a b" } }
    steps:
      - expect:
          method: PUT
          url: "http://h/v1/sessions/a b/close"
          headers: { x-api-key: other, authorization: { present: true } }
        respond: { status: 204 }
    outcome: done
  - name: wrong_outcome
    request: { action: disconnect, target: { client_id: c } }
    steps:
      - expect: { method: POST }
        respond: { status: 404, json: { error: gone } }
    outcome: upstream_error
    vendor: { status: 500 }
  - name: flow_longer_than_declared
    request: { action: disconnect, target: { client_id: c } }
    outcome: done
  - name: target_sever_would_refuse
    request: { action: disconnect, target: { user_id: u } }
    outcome: done
  - name: settings_accepted_unexpectedly
    settings_errors: [api_key]
"#;
    let suite = Suite::parse(Path::new("inline.yaml"), yaml).expect("a valid case file");
    let library = conformance::library_path(
        "sever_template",
        env!("CARGO_PKG_NAME"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .expect("the library, built by cargo test");
    let report = suite.run(&library).expect("the library loads");
    let by_name = |name: &str| {
        report
            .cases
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.differences.clone())
            .unwrap_or_default()
    };

    assert!(by_name("right").is_empty(), "{report}");
    let wrong = by_name("wrong_request");
    assert_eq!(
        wrong[..4],
        [
            r#"step 1 request method: expected "PUT", got "POST""#,
            r#"step 1 request url: expected "http://h/v1/sessions/a b/close", got "http://h/v1/sessions/a%20b/close""#,
            r#"step 1 request header authorization: expected any value, got (absent)"#,
            r#"step 1 request header x-api-key: expected "other", got "k123""#,
        ],
        "{report}"
    );
    assert!(
        wrong[4].starts_with("step 1: the plugin planned {\"send\":"),
        "{report}"
    );
    let outcome = by_name("wrong_outcome");
    assert_eq!(
        outcome[..2],
        [
            "outcome: expected problem upstream_error, got problem target_not_found",
            "vendor /status: expected 500, got 404",
        ],
        "{report}"
    );
    assert!(by_name("flow_longer_than_declared")[0].starts_with(
        "step 1: the plugin planned another vendor request, but the case declares no more steps"
    ));
    assert!(
        by_name("target_sever_would_refuse")[0]
            .starts_with("the case itself is wrong: Sever would refuse this target"),
        "{report}"
    );
    assert_eq!(
        by_name("settings_accepted_unexpectedly"),
        [r#"settings errors: expected keys ["api_key"], but the plugin accepted the settings"#]
    );
    assert!(!report.passed());
    let text = report.to_string();
    assert!(text.contains("6 cases, 5 failed"), "{text}");
    assert!(text.contains("  FAIL  wrong_request\n"), "{text}");
    assert!(text.contains("  ok    right\n"), "{text}");
}

#[test]
fn a_case_file_for_another_plugin_is_refused() {
    let yaml = "plugin: cedalo\nbackend: {name: b, url: 'http://h'}\ncases:\n  - {name: x, settings_errors: []}\n";
    let suite = Suite::parse(Path::new("inline.yaml"), yaml).expect("a valid case file");
    let library = conformance::library_path(
        "sever_template",
        env!("CARGO_PKG_NAME"),
        Path::new(env!("CARGO_MANIFEST_DIR")),
    )
    .expect("the library, built by cargo test");
    let error = suite.run(&library).expect_err("another plugin");
    assert!(
        error
            .to_string()
            .ends_with("is the plugin `template`, but the case file describes `cedalo`"),
        "{error}"
    );
}
