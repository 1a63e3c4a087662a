//! No configured secret ever reaches an error message or a `Debug` print.

use super::*;

/// A value that must never be shown.
const SECRET: &str = "SECRET-7f3a";

fn secret_env(name: &str) -> Option<String> {
    match name {
        "TOKEN_VAR" | "SETTING_VAR" => Some(format!("{SECRET}-from-env")),
        _ => None,
    }
}

#[test]
fn no_secret_appears_in_any_error_text() {
    let yaml = format!(
        "
server:
  listen: '{SECRET}'
  metrics_listen: ['{SECRET}']
auth:
  tokens:
    - {{ name: a, token_sha256: '{SECRET}', allow: [] }}
    - {{ name: b, token_env: TOKEN_VAR, allow: [] }}
    - {{ name: c, token_env: TOKEN_VAR, allow: [] }}
    - {{ name: d, token_sha256: {{ x: '{SECRET}' }}, allow: [] }}
idempotency: {{ redis_url: 'http://user:{SECRET}@h' }}
tracing: {{ otlp_endpoint: 'http://user:{SECRET}@h' }}
backends:
  b1:
    plugin: p
    url: 'http://user:{SECRET}@h'
    settings: '{SECRET}'
  b2:
    plugin: p
    url: 'http://h'
    settings: {{ token: '{SECRET}${{', other: '${{SETTING_VAR}}', n: ['{SECRET}'] }}
    timeout_ms: '{SECRET}'
    retries: '{SECRET}'
    tags: ['{SECRET}']
  b3: '{SECRET}'
"
    );
    let errors = parse_str(&yaml, Path::new(FILE), &secret_env).unwrap_err();
    let text = errors.to_string();
    assert_eq!(errors.len(), 14, "{text}");
    assert!(!text.contains(SECRET), "a secret leaked:\n{text}");
    assert!(!format!("{errors:?}").contains(SECRET));
}

#[test]
fn debug_output_of_a_valid_config_redacts_digests_settings_and_redis_url() {
    let yaml = format!(
        "
auth:
  tokens:
    - {{ name: a, token_sha256: {DIGEST}, allow: [] }}
    - {{ name: b, token_env: TOKEN_VAR, allow: [] }}
idempotency: {{ redis_url: 'redis://:{SECRET}@h:6379' }}
backends:
  b:
    plugin: p
    url: 'http://h'
    settings: {{ token: '${{SETTING_VAR}}', plain: '{SECRET}' }}
"
    );
    let config = parse_str(&yaml, Path::new(FILE), &secret_env).unwrap();
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(!debug.contains(DIGEST), "{debug}");
    assert!(!debug.contains("159, 134"), "digest bytes leaked: {debug}");
    assert!(debug.contains("token: \"<redacted>\"") || debug.contains("\"token\": \"<redacted>\""));
    assert!(debug.contains("sha256: \"<redacted>\""));
}

#[test]
fn no_secret_appears_in_yaml_syntax_errors() {
    for yaml in [
        format!("backends:\n  b:\n    settings: {{ token: \"{SECRET}\n"),
        format!("backends:\n  b:\n    settings:\n      token: {SECRET}\n     x: [\n"),
        format!("a: '{SECRET}'\na: '{SECRET}'\n"),
    ] {
        let text = parse_str(&yaml, Path::new(FILE), &secret_env)
            .unwrap_err()
            .to_string();
        assert!(text.contains("invalid YAML"), "{text}");
        assert!(!text.contains(SECRET), "a secret leaked:\n{text}");
    }
}
