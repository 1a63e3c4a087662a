//! The `auth` section: bearer tokens and certificate-identified clients.
//!
//! A token is kept only as its SHA-256 digest. A `token_env` variable's plaintext is
//! hashed here and dropped; neither it nor `token_sha256` ever appears in a message.

use crate::plugin::Action;
use serde_yaml::Value;
use sha2::{Digest, Sha256};

use super::ctx::Ctx;
use super::expand::is_var_name;
use super::file::{AllowFile, ClientFile, TokenFile, AUTH_KEYS};
use super::model::{AllowRule, AuthConfig, BackendPattern, CertSubject, ClientConfig, TokenConfig};
use super::{path, url};

/// The error when callers are not authenticated and nobody said that was meant.
const NO_AUTH: &str = "no auth section: Sever refuses to run without caller authentication \
                       (set server.insecure_no_auth: true for local trials only)";

/// Validates `auth` (`node` is `None` when the key is absent). `server` is the raw
/// `server` section, read for `insecure_no_auth` and `tls.client_ca_path` even when the
/// section has other mistakes.
pub(super) fn auth(
    ctx: &mut Ctx<'_>,
    node: Option<&Value>,
    server: Option<&Value>,
) -> Option<AuthConfig> {
    let insecure = server
        .and_then(|s| s.get("insecure_no_auth"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(node) = node else {
        if !insecure {
            ctx.error("auth", NO_AUTH);
        }
        return None;
    };
    if insecure {
        ctx.error(
            "server.insecure_no_auth",
            "is true but an auth section is present: remove one of them",
        );
    }
    let map = ctx.mapping(node, "auth", AUTH_KEYS)?;
    let token_items = ctx.list(map.get("tokens"), "auth.tokens");
    let client_items = ctx.list(map.get("clients"), "auth.clients");
    if token_items.is_empty() && client_items.is_empty() {
        ctx.error(
            "auth",
            "no tokens and no clients: nobody could call Sever (to run without caller \
             authentication, remove the section and set server.insecure_no_auth: true)",
        );
        return None;
    }

    let mut names: Vec<(String, String)> = Vec::new();
    let mut tokens = Vec::new();
    let mut digests: Vec<([u8; 32], String)> = Vec::new();
    for (i, item) in token_items.iter().enumerate() {
        let at = path::index("auth.tokens", i);
        let Some((file, complete)) = ctx.decode_partial::<TokenFile>(item, &at) else {
            continue;
        };
        let name = caller_name(ctx, &at, &file.name, &mut names);
        let secret = token_digest(ctx, &at, &file, complete);
        if let Some((digest, secret_at)) = &secret {
            match digests.iter().find(|(d, _)| d == digest) {
                Some((_, first)) => {
                    let first = first.clone();
                    ctx.error(secret_at, format!("same token as {first}"));
                }
                None => digests.push((*digest, at.clone())),
            }
        }
        let allow = rules(ctx, &at, &file.allow);
        if let (Some(name), Some((sha256, _)), Some(allow)) = (name, secret, allow) {
            tokens.push(TokenConfig {
                name,
                sha256,
                allow,
            });
        }
    }

    let mut clients = Vec::new();
    let mut subjects: Vec<(CertSubject, String)> = Vec::new();
    for (i, item) in client_items.iter().enumerate() {
        let at = path::index("auth.clients", i);
        let Some(file) = ctx.decode::<ClientFile>(item, &at) else {
            continue;
        };
        let name = caller_name(ctx, &at, &file.name, &mut names);
        let subject_at = path::key(&at, "subject");
        let subject = match CertSubject::parse(&file.subject) {
            None => {
                ctx.error(
                    &subject_at,
                    "must be CN=<common name>, DNS:<SAN DNS name> or URI:<SAN URI>, like \
                     CN=soar-bot (one name, not a whole distinguished name)",
                );
                None
            }
            Some(subject) => match subjects.iter().find(|(s, _)| *s == subject) {
                Some((_, first)) => {
                    let first = first.clone();
                    ctx.error(&subject_at, format!("same subject as {first}"));
                    None
                }
                None => {
                    subjects.push((subject.clone(), at.clone()));
                    Some(subject)
                }
            },
        };
        let allow = rules(ctx, &at, &file.allow);
        if let (Some(name), Some(subject), Some(allow)) = (name, subject, allow) {
            clients.push(ClientConfig {
                name,
                subject,
                allow,
            });
        }
    }
    let client_ca = server
        .and_then(|s| s.get("tls"))
        .and_then(|t| t.get("client_ca_path"))
        .is_some_and(|v| !v.is_null());
    if !client_items.is_empty() && !client_ca {
        ctx.error(
            "auth.clients",
            "client certificates are only asked for when server.tls.client_ca_path is set",
        );
    }
    Some(AuthConfig { tokens, clients })
}

/// A token's or client's name: printable and unique among both.
fn caller_name(
    ctx: &mut Ctx<'_>,
    at: &str,
    name: &str,
    seen: &mut Vec<(String, String)>,
) -> Option<String> {
    let name_at = path::key(at, "name");
    if !url::is_label(name) {
        ctx.error(
            name_at,
            "must be 1 to 256 characters without control characters",
        );
        return None;
    }
    if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
        let first = first.clone();
        ctx.error(name_at, format!("name already used by {first}"));
        return None;
    }
    seen.push((name.to_owned(), at.to_owned()));
    Some(name.to_owned())
}

/// The token's digest and the path of the key that gave it.
fn token_digest(
    ctx: &mut Ctx<'_>,
    at: &str,
    file: &TokenFile,
    complete: bool,
) -> Option<([u8; 32], String)> {
    match (&file.token_sha256, &file.token_env) {
        (Some(hex_digest), None) => {
            let key_at = path::key(at, "token_sha256");
            let mut digest = [0u8; 32];
            if hex::decode_to_slice(hex_digest, &mut digest).is_ok() {
                Some((digest, key_at))
            } else {
                ctx.error(
                    key_at,
                    "must be 64 hexadecimal characters: the SHA-256 of the token \
                     (printf %s \"$TOKEN\" | sha256sum)",
                );
                None
            }
        }
        (None, Some(var)) => {
            let key_at = path::key(at, "token_env");
            if !is_var_name(var) {
                ctx.error(
                    key_at,
                    "must be the name of an environment variable (letters, digits, `_`)",
                );
                return None;
            }
            match (ctx.env)(var) {
                None => {
                    ctx.error(key_at, format!("environment variable {var} is not set"));
                    None
                }
                Some(token) if token.is_empty() => {
                    ctx.error(key_at, format!("environment variable {var} is empty"));
                    None
                }
                // Callers' tokens are read with surrounding whitespace removed (as HTTP
                // header values are), so such a token could never match.
                Some(token) if token.trim() != token || token.chars().any(char::is_control) => {
                    ctx.error(
                        key_at,
                        format!(
                            "environment variable {var} holds a token with leading or trailing \
                             whitespace or control characters (a trailing newline?): no \
                             Authorization header could carry it"
                        ),
                    );
                    None
                }
                Some(token) => Some((Sha256::digest(token.as_bytes()).into(), key_at)),
            }
        }
        (Some(_), Some(_)) => {
            ctx.error(at, "give either token_sha256 or token_env, not both");
            None
        }
        // A key was dropped for a mistake already reported: it may have been the token.
        (None, None) if !complete => None,
        (None, None) => {
            ctx.error(
                at,
                "give token_sha256 (hex SHA-256 of the token) or token_env (the name of an \
                 environment variable holding the token)",
            );
            None
        }
    }
}

/// The `allow` rules of a token or client.
fn rules(ctx: &mut Ctx<'_>, at: &str, allow: &[AllowFile]) -> Option<Vec<AllowRule>> {
    let before = ctx.errors.len();
    let mut rules = Vec::with_capacity(allow.len());
    for (r, rule) in allow.iter().enumerate() {
        let rule_at = path::index(&path::key(at, "allow"), r);
        let backends_at = path::key(&rule_at, "backends");
        if rule.backends.is_empty() {
            ctx.error(
                &backends_at,
                "must name at least one backend or pattern (\"*\": all)",
            );
        }
        let mut backends = Vec::with_capacity(rule.backends.len());
        for (p, pattern) in rule.backends.iter().enumerate() {
            let pattern_at = path::index(&backends_at, p);
            if pattern.is_empty() {
                ctx.error(pattern_at, "must not be empty");
                continue;
            }
            match BackendPattern::new(pattern) {
                Ok(pattern) => backends.push(pattern),
                Err(e) => ctx.error(pattern_at, format!("invalid pattern: {}", e.msg)),
            }
        }
        let actions_at = path::key(&rule_at, "actions");
        if rule.actions.is_empty() {
            ctx.error(&actions_at, "must name at least one action");
        }
        let mut actions = Vec::with_capacity(rule.actions.len());
        for (a, name) in rule.actions.iter().enumerate() {
            match Action::parse(name) {
                Some(action) => actions.push(action),
                None => ctx.error(
                    path::index(&actions_at, a),
                    "unknown action (expected disconnect, terminate or unbind)",
                ),
            }
        }
        rules.push(AllowRule { backends, actions });
    }
    (ctx.errors.len() == before).then_some(rules)
}
