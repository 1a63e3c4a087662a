//! Each kind of mistake, with its exact error line.

use super::*;

/// `AUTH` plus one backend `b` with extra lines (indented under it).
fn with_backend(extra: &str) -> String {
    format!("{AUTH}\nbackends:\n  b:\n    plugin: p\n    url: http://h\n{extra}")
}

#[test]
fn an_unknown_key_is_named_with_its_path() {
    assert_error(
        &format!("{AUTH}\nserver:\n  listn: '127.0.0.1:1'\n"),
        "server.listn: unknown key (expected one of listen, metrics_listen, max_body_bytes, \
         request_timeout_ms, shutdown_grace_ms, insecure_no_auth, max_in_flight, \
         header_timeout_ms, max_header_bytes, read_buffer_bytes, max_connections, console, tls)",
    );
}

#[test]
fn an_unknown_top_level_section_is_an_error() {
    assert_error(
        &format!("{AUTH}\nbackend: {{}}\n"),
        "backend: unknown key (expected one of server, plugins, auth, audit, idempotency, \
         approvals, tracing, backends)",
    );
}

#[test]
fn an_unknown_key_inside_a_list_item_names_the_item() {
    assert_error(
        &format!("{AUTH}\nplugins:\n  - path: a.so\n  - dirr: lib\n"),
        "plugins[1].dirr: unknown key (expected one of path, dir)",
    );
}

#[test]
fn a_plugin_item_with_both_path_and_dir_is_an_error() {
    assert_error(
        &format!("{AUTH}\nplugins:\n  - {{ path: a.so, dir: lib }}\n"),
        "plugins[0]: give either path or dir, not both",
    );
}

#[test]
fn a_plugin_item_with_neither_path_nor_dir_is_an_error() {
    assert_error(
        &format!("{AUTH}\nplugins:\n  - {{}}\n"),
        "plugins[0]: give path (one plugin library) or dir (a folder of plugin libraries)",
    );
}

#[test]
fn a_missing_environment_variable_is_an_error_at_its_key() {
    let yaml = with_backend("    settings:\n      token: '${CEDALO_TOKEN}'\n");
    let errors = parse_str(&yaml, Path::new(FILE), &|_| None).unwrap_err();
    assert_eq!(
        errors.to_string(),
        format!("{FILE}:backends.b.settings.token: environment variable CEDALO_TOKEN is not set")
    );
}

#[test]
fn a_missing_variable_in_a_checked_value_is_reported_once() {
    assert_error(
        &with_backend("    timeout_ms: 5\n    tags: ['${NO_SUCH_TAG}']\n"),
        "backends.b.tags[0]: environment variable NO_SUCH_TAG is not set",
    );
}

#[test]
fn double_dollar_brace_is_a_literal_and_not_a_variable() {
    let config = valid(&with_backend("    settings:\n      t: 'a$${B}c'\n"));
    assert_eq!(config.backends[0].settings["t"], "a${B}c");
}

#[test]
fn a_malformed_variable_reference_is_an_error() {
    assert_error(
        &with_backend("    settings:\n      t: 'x${'\n"),
        "backends.b.settings.t: `${` must be followed by a variable name (letters, digits, \
         `_`) and `}`; write `$${` for a literal `${`",
    );
}

#[test]
fn a_token_digest_that_is_not_64_hex_characters_is_an_error() {
    assert_error(
        "auth:\n  tokens:\n    - { name: t, token_sha256: abc, allow: [] }\n",
        "auth.tokens[0].token_sha256: must be 64 hexadecimal characters: the SHA-256 of the \
         token (printf %s \"$TOKEN\" | sha256sum)",
    );
}

#[test]
fn a_token_env_variable_that_is_not_set_is_an_error() {
    assert_error(
        "auth:\n  tokens:\n    - { name: t, token_env: ONCALL_TOKN, allow: [] }\n",
        "auth.tokens[0].token_env: environment variable ONCALL_TOKN is not set",
    );
}

#[test]
fn a_token_env_variable_that_is_empty_is_an_error() {
    assert_error(
        "auth:\n  tokens:\n    - { name: t, token_env: EMPTY, allow: [] }\n",
        "auth.tokens[0].token_env: environment variable EMPTY is empty",
    );
}

#[test]
fn a_token_needs_exactly_one_source() {
    let both = format!("token_sha256: {DIGEST}, token_env: ONCALL_TOKEN");
    assert_error(
        &format!("auth:\n  tokens:\n    - {{ name: t, {both}, allow: [] }}\n"),
        "auth.tokens[0]: give either token_sha256 or token_env, not both",
    );
    assert_error(
        "auth:\n  tokens:\n    - { name: t, allow: [] }\n",
        "auth.tokens[0]: give token_sha256 (hex SHA-256 of the token) or token_env (the name \
         of an environment variable holding the token)",
    );
}

#[test]
fn an_unknown_action_is_an_error() {
    assert_error(
        &format!(
            "auth:\n  tokens:\n    - name: t\n      token_sha256: {DIGEST}\n      allow:\n        \
             - {{ backends: ['*'], actions: [disconnect, kick] }}\n"
        ),
        "auth.tokens[0].allow[0].actions[1]: unknown action (expected disconnect, terminate \
         or unbind)",
    );
}

#[test]
fn an_unknown_audit_fsync_is_an_error() {
    assert_error(
        "server: { insecure_no_auth: true }\naudit: { path: a.jsonl, fsync: always }\n",
        "audit.fsync: unknown value (expected one of never, per_line)",
    );
}

#[test]
fn an_invalid_glob_is_an_error() {
    assert_error(
        &format!(
            "auth:\n  tokens:\n    - name: t\n      token_sha256: {DIGEST}\n      allow:\n        \
             - {{ backends: ['mqtt-[', '*'], actions: [unbind] }}\n"
        ),
        "auth.tokens[0].allow[0].backends[0]: invalid pattern: invalid range pattern",
    );
}

#[test]
fn an_allow_rule_with_empty_lists_is_an_error() {
    let errors = errors(&format!(
        "auth:\n  tokens:\n    - name: t\n      token_sha256: {DIGEST}\n      allow:\n        \
         - {{ backends: [], actions: [] }}\n"
    ));
    assert_eq!(
        errors,
        vec![
            format!(
                "{FILE}:auth.tokens[0].allow[0].backends: must name at least one backend or \
                 pattern (\"*\": all)"
            ),
            format!("{FILE}:auth.tokens[0].allow[0].actions: must name at least one action"),
        ]
    );
}

#[test]
fn duplicate_caller_names_are_errors() {
    assert_error(
        &format!(
            "auth:\n  tokens:\n    - {{ name: t, token_sha256: {DIGEST}, allow: [] }}\n    \
             - {{ name: t, token_env: CEDALO_TOKEN, allow: [] }}\n"
        ),
        "auth.tokens[1].name: name already used by auth.tokens[0]",
    );
}

#[test]
fn the_same_token_twice_is_an_error() {
    // ONCALL_TOKEN holds "test", whose digest is DIGEST.
    assert_error(
        &format!(
            "auth:\n  tokens:\n    - {{ name: a, token_sha256: {DIGEST}, allow: [] }}\n    \
             - {{ name: b, token_env: ONCALL_TOKEN, allow: [] }}\n"
        ),
        "auth.tokens[1].token_env: same token as auth.tokens[0]",
    );
}

#[test]
fn an_invalid_backend_name_is_an_error_at_the_backend() {
    assert_error(
        &format!("{AUTH}\nbackends:\n  MQTT_EU: {{ plugin: p, url: 'http://h' }}\n"),
        "backends.MQTT_EU: invalid backend name: use 1 to 63 characters from a-z, 0-9, `_` \
         and `-`, starting with a letter or digit",
    );
}

#[test]
fn a_url_without_a_scheme_is_an_error() {
    // Which schemes are right is the plugin's to say (its transport), checked once loaded.
    assert_error(
        &format!("{AUTH}\nbackends:\n  b: {{ plugin: p, url: 'h:80' }}\n"),
        "backends.b.url: must start with a scheme, like https:// (the plugin's transport \
         says which)",
    );
}

#[test]
fn a_url_with_a_query_is_an_error() {
    assert_error(
        &format!("{AUTH}\nbackends:\n  b: {{ plugin: p, url: 'http://h/x?a=1' }}\n"),
        "backends.b.url: must not have a query (`?…`): put parameters in settings",
    );
}

#[test]
fn a_zero_timeout_is_an_error() {
    assert_error(
        &with_backend("    timeout_ms: 0\n"),
        "backends.b.timeout_ms: must be at least 1",
    );
}

#[test]
fn numbers_have_upper_bounds() {
    assert_error(
        &with_backend("    retries: 11\n"),
        "backends.b.retries: must be at most 10",
    );
}

#[test]
fn a_listen_address_must_be_ip_and_port() {
    assert_error(
        &format!("{AUTH}\nserver:\n  listen: 'localhost:8080'\n"),
        "server.listen: expected an IP address and port, like 127.0.0.1:8080 or [::1]:8080",
    );
}

#[test]
fn a_missing_auth_section_is_refused_without_the_insecure_flag() {
    assert_error(
        "server:\n  listen: '127.0.0.1:8080'\n",
        "auth: no auth section: Sever refuses to run without caller authentication (set \
         server.insecure_no_auth: true for local trials only)",
    );
}

#[test]
fn an_auth_section_without_callers_is_refused() {
    assert_error(
        "auth:\n  tokens: []\n",
        "auth: no tokens and no clients: nobody could call Sever (to run without caller \
         authentication, remove the section and set server.insecure_no_auth: true)",
    );
}

#[test]
fn the_insecure_flag_together_with_auth_is_refused() {
    assert_error(
        &format!("server: {{ insecure_no_auth: true }}\n{AUTH}"),
        "server.insecure_no_auth: is true but an auth section is present: remove one of them",
    );
}

#[test]
fn certificate_clients_need_a_client_ca() {
    assert_error(
        "auth:\n  clients:\n    - { name: c, subject: CN=c, allow: [] }\n",
        "auth.clients: client certificates are only asked for when \
         server.tls.client_ca_path is set",
    );
}

#[test]
fn a_missing_required_key_is_named_with_its_path() {
    assert_error(
        &format!("{AUTH}\nbackends:\n  b: {{ plugin: p }}\n"),
        "backends.b.url: required key is missing",
    );
}

#[test]
fn the_connection_limits_are_bounded() {
    assert_error(
        &format!("{AUTH}\nserver:\n  max_header_bytes: 100\n"),
        "server.max_header_bytes: must be at least 1024",
    );
    assert_error(
        &format!("{AUTH}\nserver:\n  read_buffer_bytes: 64\n"),
        "server.read_buffer_bytes: must be at least 128",
    );
    assert_error(
        &format!("{AUTH}\nserver:\n  max_connections: 0\n"),
        "server.max_connections: must be at least 1",
    );
    assert_error(
        &format!("{AUTH}\nserver:\n  header_timeout_ms: 0\n"),
        "server.header_timeout_ms: must be at least 1",
    );
}

#[test]
fn a_wrong_type_is_named_with_its_path_and_kind() {
    assert_error(
        &format!("{AUTH}\nserver:\n  max_body_bytes: lots\n"),
        "server.max_body_bytes: expected a whole number (0 or more), found a string",
    );
    assert_error(
        &format!("{AUTH}\nserver:\n  max_in_flight: -1\n"),
        "server.max_in_flight: expected a whole number (0 or more), found the number -1",
    );
    assert_error(
        &format!("{AUTH}\nserver: [1]\n"),
        "server: expected a mapping, found a list",
    );
}

#[test]
fn a_yaml_syntax_error_gives_line_and_column() {
    assert_eq!(
        errors("server:\n  listen: '127.0.0.1:1'\n   bad: [\n"),
        vec![format!(
            "{FILE}: invalid YAML: did not find expected key at line 3 column 4, while parsing \
             a block mapping at line 2 column 3"
        )]
    );
    assert_eq!(
        errors("\tserver: {}\n"),
        vec![format!(
            "{FILE}: invalid YAML: found character that cannot start any token, while scanning \
             for the next token at line 1 column 1"
        )]
    );
}

#[test]
fn a_duplicate_key_is_a_yaml_error() {
    assert_eq!(
        errors("backends:\n  b: {}\n  b: {}\n"),
        vec![format!(
            "{FILE}: invalid YAML: backends: duplicate entry with key \"b\" at line 2 column 3"
        )]
    );
}

#[test]
fn a_file_that_is_not_a_mapping_is_an_error() {
    assert_error(
        "[1, 2]\n",
        " expected a mapping of sections (server, plugins, auth, backends, …), found a list",
    );
}

#[test]
fn the_other_keys_of_an_item_are_checked_despite_a_mistake_in_one() {
    let errors = errors(&format!(
        "{AUTH}\nserver: {{ 1: 2, max_body_bytes: 1.5, listen: 5, max_in_flight: 0 }}\n"
    ));
    let expected = [
        "server.1: unknown key (expected one of listen, metrics_listen, max_body_bytes, \
         request_timeout_ms, shutdown_grace_ms, insecure_no_auth, max_in_flight, \
         header_timeout_ms, max_header_bytes, read_buffer_bytes, max_connections, console, tls)",
        "server.max_body_bytes: expected a whole number (0 or more), found the number 1.5",
        "server.listen: expected a string, found the number 5",
        "server.max_in_flight: must be at least 1",
    ];
    let expected: Vec<String> = expected.iter().map(|l| format!("{FILE}:{l}")).collect();
    assert_eq!(errors, expected);
}

#[test]
fn every_mistake_in_a_file_is_reported() {
    let yaml = "
server:
  listen: nowhere
  max_in_flight: 0
  tls: { cert_path: a.pem }
plugins:
  - { path: a.so, dir: b }
  - { dirr: c }
auth:
  tokens:
    - { name: t, token_sha256: xyz, allow: [{ backends: ['*'], actions: [kick] }] }
    - { name: t, token_env: NOPE, allow: [] }
idempotency: { max_entries: 0, redis_url: 'http://x' }
tracing: { otlp_endpoint: 'grpc://x' }
backends:
  Bad: { plugin: p, url: 'http://h' }
  b1: { plugin: p, url: 'h:80', timeout_ms: 0, tags: [EU] }
  b2: { url: 'http://h', colour: red }
  b3: { plugin: p, url: 'http://h', settings: { t: '${NOPE}' } }
";
    let errors = errors(yaml);
    let expected = [
        "server.tls.key_path: required key is missing",
        "server.listen: expected an IP address and port, like 127.0.0.1:8080 or [::1]:8080",
        "server.max_in_flight: must be at least 1",
        "plugins[0]: give either path or dir, not both",
        "plugins[1].dirr: unknown key (expected one of path, dir)",
        "auth.tokens[0].token_sha256: must be 64 hexadecimal characters: the SHA-256 of the \
         token (printf %s \"$TOKEN\" | sha256sum)",
        "auth.tokens[0].allow[0].actions[0]: unknown action (expected disconnect, terminate \
         or unbind)",
        "auth.tokens[1].name: name already used by auth.tokens[0]",
        "auth.tokens[1].token_env: environment variable NOPE is not set",
        "idempotency.max_entries: must be at least 1",
        "idempotency.redis_url: expected a Redis URL: redis://, redis+unix:// or unix:// \
         (rediss://, Redis over TLS, is not supported)",
        "tracing.otlp_endpoint: scheme must be http or https",
        "backends.b3.settings.t: environment variable NOPE is not set",
        "backends.Bad: invalid backend name: use 1 to 63 characters from a-z, 0-9, `_` and \
         `-`, starting with a letter or digit",
        "backends.b1.url: must start with a scheme, like https:// (the plugin's transport \
         says which)",
        "backends.b1.timeout_ms: must be at least 1",
        "backends.b1.tags[0]: invalid tag: use 1 to 63 characters from a-z, 0-9, `_` and \
         `-`, starting with a letter or digit",
        "backends.b2.colour: unknown key (expected one of plugin, url, timeout_ms, retries, \
         max_concurrency, breaker, tags, settings)",
        "backends.b2.plugin: required key is missing",
    ];
    let expected: Vec<String> = expected.iter().map(|l| format!("{FILE}:{l}")).collect();
    assert_eq!(errors, expected);
    assert_eq!(errors.len(), 19);
}

#[test]
fn a_token_env_value_that_no_header_could_carry_is_refused() {
    let yaml = "auth:\n  tokens:\n    - { name: t, token_env: T, allow: [] }\n";
    for value in ["abc\n", " abc", "abc ", "a\tb"] {
        let env = |name: &str| (name == "T").then(|| value.to_owned());
        let errors = parse_str(yaml, Path::new(FILE), &env).unwrap_err();
        assert_eq!(
            errors.to_string(),
            format!(
                "{FILE}:auth.tokens[0].token_env: environment variable T holds a token with \
                 leading or trailing whitespace or control characters (a trailing newline?): \
                 no Authorization header could carry it"
            ),
            "{value:?}"
        );
    }
    let env = |name: &str| (name == "T").then(|| "a b".to_owned());
    assert!(parse_str(yaml, Path::new(FILE), &env).is_ok());
}
