//! Tests of caller authentication and `allow` rules: every pattern kind and action list
//! against a reference model over a fixed universe of backend names, tokens configured
//! both ways, and a property test of globs and tokens (the certificate path is in
//! `auth_cert_tests.rs`).

#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::{parse_str, AllowRule, BackendPattern};
use proptest::prelude::*;
use std::path::Path;

/// Backend names the exhaustive tests try: near misses of every pattern below.
const NAMES: &[&str] = &[
    "mqtt-eu",
    "mqtt-us",
    "mqtt-",
    "mqtt",
    "xmqtt-eu",
    "mqtt-eu2",
    "rabbit-1",
    "rabbit-2",
    "rabbit-3",
    "rabbit-12",
    "privx",
    "privx-prod",
    "a",
    "z9_x",
];

pub(super) fn rule(backends: &[&str], actions: &[Action]) -> AllowRule {
    AllowRule {
        backends: backends
            .iter()
            .map(|p| BackendPattern::new(p).unwrap())
            .collect(),
        actions: actions.to_vec(),
    }
}

pub(super) fn token(name: &str, secret: &str, allow: Vec<AllowRule>) -> TokenConfig {
    TokenConfig {
        name: name.to_owned(),
        sha256: Sha256::digest(secret.as_bytes()).into(),
        allow,
    }
}

pub(super) fn client(name: &str, subject: &str, allow: Vec<AllowRule>) -> ClientConfig {
    ClientConfig {
        name: name.to_owned(),
        subject: CertSubject::parse(subject).unwrap(),
        allow,
    }
}

pub(super) fn authenticator(tokens: Vec<TokenConfig>, clients: Vec<ClientConfig>) -> Authenticator {
    Authenticator::new(Some(&AuthConfig { tokens, clients }))
}

pub(super) fn header(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

/// Asserts that the one token `secret` authenticates and is allowed exactly what `model`
/// says, for every name in [`NAMES`] and every action.
fn assert_rules(allow: Vec<AllowRule>, model: impl Fn(&str, Action) -> bool) {
    let auth = authenticator(vec![token("t", "secret", allow)], Vec::new());
    let caller = auth.authenticate(Some(&header("secret"))).unwrap();
    for name in NAMES {
        for action in Action::ALL {
            assert_eq!(
                auth.allows(&caller, name, action),
                model(name, action),
                "{action:?} on {name}"
            );
        }
    }
}

#[test]
fn bearer_parsing_is_strict_about_the_scheme() {
    assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
    assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
    assert_eq!(bearer(b"BEARER abc"), Some(&b"abc"[..]));
    assert_eq!(bearer(b"Basic abc"), None);
    assert_eq!(bearer(b"Bearer"), None);
    assert_eq!(bearer(b"Bearer "), None);
    assert_eq!(bearer(b"Bearerabc"), None);
    assert_eq!(bearer(b"Bearer\tabc"), None);
    assert_eq!(bearer(b"Bearer \xff"), None);
}

#[test]
fn an_exact_name_allows_that_backend_only() {
    assert_rules(vec![rule(&["mqtt-eu"], &Action::ALL)], |name, _| {
        name == "mqtt-eu"
    });
}

#[test]
fn a_prefix_glob_allows_every_name_with_that_prefix_and_no_other() {
    assert_rules(vec![rule(&["mqtt-*"], &[Action::Disconnect])], |name, a| {
        a == Action::Disconnect && name.starts_with("mqtt-")
    });
}

#[test]
fn a_star_allows_every_backend_for_the_listed_actions_only() {
    assert_rules(
        vec![rule(&["*"], &[Action::Terminate, Action::Unbind])],
        |_, a| a != Action::Disconnect,
    );
}

#[test]
fn character_classes_and_single_character_wildcards_match_one_character() {
    assert_rules(
        vec![rule(&["rabbit-[12]", "?"], &Action::ALL)],
        |name, _| matches!(name, "rabbit-1" | "rabbit-2" | "a"),
    );
}

#[test]
fn globs_are_case_sensitive() {
    let auth = authenticator(
        vec![token("t", "s", vec![rule(&["mqtt-*"], &Action::ALL)])],
        Vec::new(),
    );
    let caller = auth.authenticate(Some(&header("s"))).unwrap();
    assert!(auth.allows(&caller, "mqtt-eu", Action::Disconnect));
    assert!(!auth.allows(&caller, "MQTT-EU", Action::Disconnect));
}

#[test]
fn several_rules_allow_their_union_and_never_mix_backends_and_actions_across_rules() {
    assert_rules(
        vec![
            rule(&["mqtt-*"], &[Action::Disconnect]),
            rule(&["privx"], &[Action::Terminate]),
            rule(
                &["rabbit-1", "rabbit-2"],
                &[Action::Unbind, Action::Disconnect],
            ),
        ],
        |name, a| match a {
            Action::Disconnect => {
                name.starts_with("mqtt-") || name == "rabbit-1" || name == "rabbit-2"
            }
            Action::Terminate => name == "privx",
            Action::Unbind => name == "rabbit-1" || name == "rabbit-2",
        },
    );
}

#[test]
fn a_token_with_no_rules_authenticates_but_may_do_nothing() {
    assert_rules(Vec::new(), |_, _| false);
}

#[test]
fn running_without_auth_lets_anyone_do_anything() {
    let auth = Authenticator::new(None);
    for header in [None, Some(&b"Bearer whatever"[..]), Some(&b"garbage"[..])] {
        let caller = auth.authenticate(header).unwrap();
        assert!(caller.is_insecure());
        assert_eq!(caller.name, "anonymous");
        assert!(auth.allows(&caller, "anything", Action::Unbind));
    }
}

#[test]
fn a_caller_is_never_insecure_with_auth_configured() {
    let auth = authenticator(vec![token("t", "s", Vec::new())], Vec::new());
    let caller = auth.authenticate(Some(&header("s"))).unwrap();
    assert!(!caller.is_insecure());
    assert_eq!(auth.authenticate(None), Err(AuthError::Missing));
}

#[test]
fn every_token_is_compared_and_the_matching_one_is_found_wherever_it_is() {
    let tokens: Vec<TokenConfig> = (0..8)
        .map(|i| {
            token(
                &format!("t{i}"),
                &format!("secret-{i}"),
                vec![rule(&[&format!("b{i}")], &[Action::Disconnect])],
            )
        })
        .collect();
    let auth = authenticator(tokens, Vec::new());
    for i in 0..8 {
        let caller = auth
            .authenticate(Some(&header(&format!("secret-{i}"))))
            .unwrap();
        assert_eq!(caller.name, format!("t{i}"));
        assert!(auth.allows(&caller, &format!("b{i}"), Action::Disconnect));
        assert!(!auth.allows(&caller, &format!("b{}", (i + 1) % 8), Action::Disconnect));
    }
}

#[test]
fn near_misses_of_a_token_are_unknown() {
    let auth = authenticator(vec![token("t", "secret-token", Vec::new())], Vec::new());
    for wrong in [
        "secret-toke",
        "secret-tokenx",
        "Secret-token",
        "secret_token",
        "x",
    ] {
        assert_eq!(
            auth.authenticate(Some(&header(wrong))),
            Err(AuthError::Unknown),
            "{wrong}"
        );
    }
    // The digest is what is configured, not what is sent.
    let digest = hex::encode(Sha256::digest(b"secret-token"));
    assert_eq!(
        auth.authenticate(Some(&header(&digest))),
        Err(AuthError::Unknown)
    );
    assert_eq!(
        auth.authenticate(Some(b"Basic c2VjcmV0LXRva2Vu")),
        Err(AuthError::Malformed)
    );
}

/// Tokens configured by digest (lower- and uppercase hex) and by environment variable.
const CONFIG: &str = "
server: { listen: '127.0.0.1:1' }
auth:
  tokens:
    - name: by-digest
      token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      allow: [{ backends: ['mqtt-*'], actions: [disconnect] }]
    - name: by-upper-digest
      token_sha256: B94D27B9934D3E08A52E52D7DA7DABFAC484EFE37A5380EE9088F7ACE2EFCDE9
      allow: []
    - name: by-env
      token_env: SEVER_TEST_TOKEN
      allow:
        - { backends: [privx], actions: [terminate] }
        - { backends: ['*'], actions: [unbind] }
";

fn configured() -> Authenticator {
    let env = |name: &str| (name == "SEVER_TEST_TOKEN").then(|| "from-the-env".to_owned());
    let config = parse_str(CONFIG, Path::new("/etc/sever/sever.yaml"), &env).unwrap();
    Authenticator::new(config.auth.as_ref())
}

#[test]
fn a_token_configured_by_its_digest_authenticates_with_its_plaintext() {
    let auth = configured();
    // 9f86…: sha256("test"); B94D…: sha256("hello world").
    let caller = auth.authenticate(Some(b"Bearer test")).unwrap();
    assert_eq!(caller.name, "by-digest");
    assert!(auth.allows(&caller, "mqtt-eu", Action::Disconnect));
    assert!(!auth.allows(&caller, "mqtt-eu", Action::Terminate));
    assert!(!auth.allows(&caller, "privx", Action::Disconnect));

    let caller = auth.authenticate(Some(b"Bearer hello world")).unwrap();
    assert_eq!(caller.name, "by-upper-digest");
    for action in Action::ALL {
        assert!(!auth.allows(&caller, "mqtt-eu", action));
    }
}

#[test]
fn a_token_configured_by_environment_variable_authenticates_with_its_value() {
    let auth = configured();
    let caller = auth.authenticate(Some(b"Bearer from-the-env")).unwrap();
    assert_eq!(caller.name, "by-env");
    assert!(auth.allows(&caller, "privx", Action::Terminate));
    assert!(!auth.allows(&caller, "privx-2", Action::Terminate));
    assert!(auth.allows(&caller, "anything", Action::Unbind));
    assert!(!auth.allows(&caller, "privx", Action::Disconnect));
    assert_eq!(
        auth.authenticate(Some(b"Bearer SEVER_TEST_TOKEN")),
        Err(AuthError::Unknown)
    );
}

// ---- properties ----

proptest! {
    /// `prefix*` allows exactly the names starting with the prefix, and only the listed
    /// action.
    #[test]
    fn a_prefix_glob_is_a_prefix_test(prefix in "[a-z0-9_-]{0,6}", name in "[a-z0-9_-]{1,10}") {
        let pattern = format!("{prefix}*");
        let auth = authenticator(
            vec![token("t", "s", vec![rule(&[&pattern], &[Action::Unbind])])],
            Vec::new(),
        );
        let caller = auth.authenticate(Some(&header("s"))).unwrap();
        prop_assert_eq!(auth.allows(&caller, &name, Action::Unbind), name.starts_with(&prefix));
        prop_assert!(!auth.allows(&caller, &name, Action::Disconnect));
    }

    /// A token authenticates exactly when it is one of the configured ones, as that one.
    #[test]
    fn only_a_configured_token_authenticates(
        secrets in proptest::collection::btree_set("[A-Za-z0-9._~+/-]{1,24}", 1..5),
        sent in "[A-Za-z0-9._~+/-]{1,24}",
    ) {
        let secrets: Vec<String> = secrets.into_iter().collect();
        let tokens = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| token(&format!("t{i}"), s, Vec::new()))
            .collect();
        let auth = authenticator(tokens, Vec::new());
        let result = auth.authenticate(Some(&header(&sent)));
        match secrets.iter().position(|s| *s == sent) {
            Some(i) => prop_assert_eq!(result.unwrap().name, format!("t{i}")),
            None => prop_assert_eq!(result, Err(AuthError::Unknown)),
        }
    }
}
