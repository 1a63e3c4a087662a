//! Valid configurations and what they become.

use super::*;
use crate::config::{
    default_path, AllowRule, BreakerConfig, CertSubject, ConfigError, IdempotencyConfig,
    PluginSource, PluginSourceKind,
};
use crate::plugin::Action;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

const FULL: &str = r#"
server:
  listen: "0.0.0.0:8443"
  metrics_listen: "127.0.0.1:9464"
  max_body_bytes: 1024
  request_timeout_ms: 3000
  shutdown_grace_ms: 2000
  insecure_no_auth: false
  max_in_flight: 10
  header_timeout_ms: 2500
  max_header_bytes: 8192
  read_buffer_bytes: 2048
  max_connections: 500
  tls:
    cert_path: "tls/server.pem"
    key_path: "@DIR@/server.key"
    client_ca_path: "tls/ca.pem"

plugins:
  - path: ../target/release/libsever_cedalo.so
  - dir: /usr/lib/sever

auth:
  tokens:
    - name: oncall
      token_sha256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
      allow:
        - backends: ["*"]
          actions: ["disconnect", "terminate", "unbind"]
    - name: bot
      token_env: CEDALO_TOKEN
      allow: [{ backends: ["mqtt-*", "rabbit-1"], actions: [terminate] }]
  clients:
    - name: soar-bot
      subject: "CN=soar-bot"
      allow: [{ backends: ["*"], actions: ["terminate"] }]

audit:
  path: "audit.jsonl"
  fsync: per_line

idempotency:
  max_entries: 500
  redis_url: "redis://127.0.0.1:6379/0"

tracing:
  otlp_endpoint: "http://127.0.0.1:4317/"

backends:
  mqtt-eu:
    plugin: cedalo
    url: "http://127.0.0.1:18001/api/"
    timeout_ms: 1500
    retries: 3
    max_concurrency: 8
    breaker: { failures: 2, open_ms: 500 }
    tags: ["mqtt", "eu"]
    settings:
      project_id: "p1"
      port: 1883
      nested: { list: [1, true, null] }
      token: "${CEDALO_TOKEN}"
      literal: "$${NOT_A_VAR}"
  rabbit-1:
    plugin: rabbitmq
    url: "https://rabbit.example.org"
"#;

#[test]
fn a_full_config_fills_every_section_of_the_model() {
    // The TLS files must exist: they are read at load.
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let tls = super::tls::write_files(base);
    std::fs::rename(&tls.key, base.join("server.key")).unwrap();
    let source = base.join("sever.yaml");
    let yaml = FULL.replace("@DIR@", &base.display().to_string());
    let config = parse_str(&yaml, &source, &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.source, source);

    let server = &config.server;
    assert_eq!(server.listen, "0.0.0.0:8443".parse::<SocketAddr>().unwrap());
    assert_eq!(
        server.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );
    assert_eq!(server.max_body_bytes, 1024);
    assert_eq!(server.request_timeout, Duration::from_millis(3000));
    assert_eq!(server.shutdown_grace, Duration::from_millis(2000));
    assert!(!server.insecure_no_auth);
    assert_eq!(server.max_in_flight, 10);
    assert_eq!(server.header_timeout, Duration::from_millis(2500));
    assert_eq!(server.max_header_bytes, 8192);
    assert_eq!(server.read_buffer_bytes, 2048);
    assert_eq!(server.max_connections, 500);
    let tls = server.tls.as_ref().unwrap();
    assert_eq!(tls.cert_path, base.join("tls/server.pem"));
    assert_eq!(tls.key_path, base.join("server.key"));
    assert_eq!(tls.client_ca_path, Some(base.join("tls/ca.pem")));

    assert_eq!(
        config.plugins,
        vec![
            PluginSource {
                index: 0,
                kind: PluginSourceKind::File(base.join("../target/release/libsever_cedalo.so")),
            },
            PluginSource {
                index: 1,
                kind: PluginSourceKind::Dir("/usr/lib/sever".into()),
            },
        ]
    );
    assert_eq!(config.plugins[1].config_path(), "plugins[1].dir");

    let auth = config.auth.as_ref().unwrap();
    assert_eq!(auth.tokens.len(), 2);
    assert_eq!(auth.tokens[0].name, "oncall");
    assert_eq!(hex::encode(auth.tokens[0].sha256), DIGEST);
    assert_eq!(auth.tokens[0].allow[0].actions, Action::ALL.to_vec());
    assert!(auth.tokens[0].permits("anything", Action::Unbind));
    let bot = &auth.tokens[1];
    // sha256("cedalo-token-value"): the plaintext from the environment is hashed.
    use sha2::Digest;
    let expected: [u8; 32] = sha2::Sha256::digest(b"cedalo-token-value").into();
    assert_eq!(bot.sha256, expected);
    assert!(bot.permits("mqtt-eu", Action::Terminate));
    assert!(bot.permits("rabbit-1", Action::Terminate));
    assert!(!bot.permits("rabbit-2", Action::Terminate));
    assert!(!bot.permits("mqtt-eu", Action::Disconnect));
    assert_eq!(auth.clients.len(), 1);
    assert_eq!(auth.clients[0].name, "soar-bot");
    assert_eq!(
        auth.clients[0].subject,
        CertSubject::CommonName("soar-bot".to_owned())
    );
    assert!(auth.clients[0].permits("x", Action::Terminate));

    assert_eq!(
        config.audit.as_ref().unwrap().path,
        base.join("audit.jsonl")
    );
    assert_eq!(
        config.audit.as_ref().unwrap().fsync,
        crate::audit::Fsync::PerLine
    );
    assert_eq!(config.idempotency.max_entries, 500);
    assert_eq!(
        config.idempotency.redis_url.as_deref(),
        Some("redis://127.0.0.1:6379/0")
    );
    assert_eq!(
        config.tracing.otlp_endpoint.as_deref(),
        Some("http://127.0.0.1:4317")
    );

    assert_eq!(config.backends.len(), 2);
    let eu = &config.backends[0];
    assert_eq!(eu.name, "mqtt-eu");
    assert_eq!(eu.plugin, "cedalo");
    assert_eq!(eu.url, "http://127.0.0.1:18001/api");
    assert_eq!(eu.timeout, Duration::from_millis(1500));
    assert_eq!(eu.retries, 3);
    assert_eq!(eu.max_concurrency, 8);
    assert_eq!(
        eu.breaker,
        BreakerConfig {
            failures: 2,
            open: Duration::from_millis(500)
        }
    );
    assert_eq!(eu.tags, vec!["mqtt", "eu"]);
    assert_eq!(
        serde_json::Value::Object(eu.settings.clone()),
        serde_json::json!({
            "project_id": "p1",
            "port": 1883,
            "nested": { "list": [1, true, null] },
            "token": "cedalo-token-value",
            "literal": "${NOT_A_VAR}",
        })
    );
    assert_eq!(config.backends[1].name, "rabbit-1");
    assert_eq!(
        config.backend("rabbit-1").unwrap().url,
        "https://rabbit.example.org"
    );
    assert!(config.backend("nope").is_none());
    // Every setting here is honoured (tracing.otlp_endpoint too): nothing to warn about.
    let warned: Vec<String> = config.warnings().into_iter().map(|w| w.path).collect();
    assert!(warned.is_empty(), "{warned:?}");
    // TLS and certificate callers are served: nothing is refused.
    assert!(config.unsupported().is_empty());
}

#[test]
fn absent_keys_take_the_documented_defaults() {
    let config = valid(&format!(
        "{AUTH}\nbackends:\n  b:\n    plugin: p\n    url: http://h\n"
    ));
    let server = &config.server;
    assert_eq!(
        server.listen,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(server.metrics_listen, None);
    assert_eq!(server.max_body_bytes, 65_536);
    assert_eq!(server.request_timeout, Duration::from_millis(5_000));
    assert_eq!(server.shutdown_grace, Duration::from_millis(10_000));
    assert!(!server.insecure_no_auth);
    assert_eq!(server.max_in_flight, 4_096);
    assert_eq!(server.header_timeout, Duration::from_millis(10_000));
    assert_eq!(server.max_header_bytes, 16_384);
    assert_eq!(server.read_buffer_bytes, 1024);
    assert_eq!(server.max_connections, 16_384);
    assert_eq!(server.tls, None);
    assert!(config.plugins.is_empty());
    assert_eq!(config.audit, None);
    assert_eq!(
        config.idempotency,
        IdempotencyConfig {
            max_entries: 100_000,
            redis_url: None
        }
    );
    assert_eq!(config.tracing.otlp_endpoint, None);
    let b = &config.backends[0];
    assert_eq!(b.timeout, Duration::from_millis(2_000));
    assert_eq!(b.retries, 1);
    assert_eq!(b.max_concurrency, 256);
    assert_eq!(
        b.breaker,
        BreakerConfig {
            failures: 5,
            open: Duration::from_millis(10_000)
        }
    );
    assert!(b.tags.is_empty());
    assert!(b.settings.is_empty());
}

#[test]
fn insecure_mode_needs_no_auth_section_and_is_warned_about() {
    let config = valid("server: { insecure_no_auth: true }\n");
    assert!(config.server.insecure_no_auth);
    assert_eq!(config.auth, None);
    assert!(config.backends.is_empty());
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            format!(
                "{FILE}:server.insecure_no_auth: caller authentication is OFF: anyone who can \
                 reach server.listen can cut connections (local trials only)"
            ),
            format!(
                "{FILE}:backends: no backends are configured: every action will answer \
                 unknown_backend"
            ),
        ]
    );
}

#[test]
fn allow_patterns_that_match_no_backend_are_warned_about() {
    let config = valid(
        "auth:\n  tokens:\n    - name: t\n      token_env: ONCALL_TOKEN\n      allow:\n        \
         - { backends: [b, c-*], actions: [unbind] }\nbackends:\n  b: { plugin: p, url: 'http://h' }\n",
    );
    let warnings: Vec<String> = config.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![format!(
            "{FILE}:auth.tokens[0].allow[0].backends[1]: matches no configured backend"
        )]
    );
}

#[test]
fn relative_paths_resolve_against_the_config_files_folder() {
    let yaml = format!(
        "{AUTH}\nplugins:\n  - path: lib/libsever_a.so\n  - dir: ../plugins\naudit:\n  path: logs/audit.jsonl\n"
    );
    let config = parse_str(&yaml, Path::new("/srv/sever/conf/sever.yaml"), &env).unwrap();
    assert_eq!(
        config.plugins[0].kind,
        PluginSourceKind::File("/srv/sever/conf/lib/libsever_a.so".into())
    );
    assert_eq!(
        config.plugins[1].kind,
        PluginSourceKind::Dir("/srv/sever/conf/../plugins".into())
    );
    assert_eq!(
        config.audit.unwrap().path,
        PathBuf::from("/srv/sever/conf/logs/audit.jsonl")
    );
}

#[test]
fn a_relative_config_path_still_gives_absolute_plugin_paths() {
    let yaml = format!("{AUTH}\nplugins:\n  - path: libsever_a.so\n");
    let config = parse_str(&yaml, Path::new("config/sever.yaml"), &env).unwrap();
    let expected = std::env::current_dir()
        .unwrap()
        .join("config/libsever_a.so");
    assert_eq!(config.plugins[0].kind, PluginSourceKind::File(expected));
    assert_eq!(config.source, PathBuf::from("config/sever.yaml"));
}

#[test]
fn yaml_anchors_and_merge_keys_work_across_backends() {
    let config = valid(&format!(
        "{AUTH}
backends:
  a: &base {{ plugin: p, url: 'http://h', timeout_ms: 700 }}
  b:
    <<: *base
    url: 'http://other'
"
    ));
    assert_eq!(config.backends[1].timeout, Duration::from_millis(700));
    assert_eq!(config.backends[1].url, "http://other");
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sever.yaml");
    std::fs::write(&path, format!("{AUTH}\naudit: {{ path: a.jsonl }}\n")).unwrap();
    let config = crate::config::load_with_env(&path, &env).unwrap();
    assert_eq!(config.audit.unwrap().path, dir.path().join("a.jsonl"));

    let missing = dir.path().join("missing.yaml");
    let errors = crate::config::load(&missing).unwrap_err();
    assert_eq!(errors.len(), 1);
    let line = errors.to_string();
    assert!(
        line.starts_with(&format!(
            "{}: cannot read the config file: ",
            missing.display()
        )),
        "{line}"
    );
}

#[test]
fn allow_rules_match_names_and_globs() {
    let rule = AllowRule {
        backends: vec![crate::config::BackendPattern::new("mqtt-*").unwrap()],
        actions: vec![Action::Disconnect],
    };
    assert!(rule.permits("mqtt-eu", Action::Disconnect));
    assert!(!rule.permits("amqp-eu", Action::Disconnect));
    assert!(!rule.permits("mqtt-eu", Action::Unbind));
    let all = crate::config::BackendPattern::new("*").unwrap();
    assert!(all.matches("anything-at_all"));
    assert_eq!(format!("{all:?}"), "BackendPattern(\"*\")");
}

#[test]
fn config_errors_display_one_line_each_and_accept_more() {
    let mut errors = ConfigErrors::new();
    assert!(errors.is_empty());
    errors.push(ConfigError::new(
        "a.yaml",
        "backends.x.settings.token",
        "missing",
    ));
    errors.push(ConfigError::new("a.yaml", "", "whole file"));
    errors.extend([ConfigError::new("a.yaml", "plugins[1].path", "cannot load")]);
    assert_eq!(errors.len(), 3);
    assert_eq!(
        errors.to_string(),
        "a.yaml:backends.x.settings.token: missing\na.yaml: whole file\n\
         a.yaml:plugins[1].path: cannot load"
    );
    assert_eq!(ConfigErrors::new().into_result(5), Ok(5));
    assert!(errors.into_result(5).is_err());
}

#[test]
fn the_default_config_path_is_sever_config_or_config_sever_yaml() {
    let expected = match std::env::var_os("SEVER_CONFIG") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("config/sever.yaml"),
    };
    assert_eq!(default_path(), expected);
}
