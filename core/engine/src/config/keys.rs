//! Every key of the file format, read off the deserializer itself, so that the reference
//! (`docs/configuration.md`) can be held to the code by a test without a second list
//! that someone must remember to update.
//!
//! How: each section's file struct refuses unknown keys, and its error lists the keys it
//! has. Deserializing a mapping that holds only a probe key therefore yields the list;
//! putting the probe one level down (under a key, or in a list item under it) tells
//! whether that key holds a mapping of its own, and so on down.

use super::de::{DeError, Node};
use super::file::{
    ApprovalRuleFile, AuditFile, BackendFile, ClientFile, IdempotencyFile, PluginFile, ServerFile,
    TokenFile, TracingFile,
};
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use serde_yaml::{Mapping, Value};

/// A key no schema has (a control character cannot be typed into YAML by accident).
const PROBE: &str = "\u{1}probe";

/// One step down from a mapping: into a key's value, or into a list's first item.
#[derive(Debug, Clone)]
enum Step {
    Key(&'static str),
    Item,
}

/// Every key of the config file as a path: `server.tls.cert_path`,
/// `auth.tokens[].allow[].actions`, `backends.<name>.breaker.failures`. Mappings are
/// listed before their keys; order is the file format's.
pub fn schema_keys() -> Vec<String> {
    let mut keys = Vec::new();
    for (section, walk) in sections() {
        keys.push(section.to_owned());
        walk(&mut keys);
    }
    keys
}

type Walk = fn(&mut Vec<String>);

/// Each top-level section, with how its content is read (a section is decoded on its
/// own, so each has its own root type).
fn sections() -> [(&'static str, Walk); 8] {
    [
        ("server", |k| {
            walk::<ServerFile>("server", &mut Vec::new(), k)
        }),
        ("plugins", |k| {
            walk::<Vec<PluginFile>>("plugins[]", &mut vec![Step::Item], k)
        }),
        ("auth", |k| {
            for (key, walk) in auth() {
                k.push(format!("auth.{key}"));
                walk(k);
            }
        }),
        ("audit", |k| walk::<AuditFile>("audit", &mut Vec::new(), k)),
        ("idempotency", |k| {
            walk::<IdempotencyFile>("idempotency", &mut Vec::new(), k)
        }),
        ("approvals", |k| {
            k.push("approvals.rules".to_owned());
            walk::<ApprovalRuleFile>("approvals.rules[]", &mut Vec::new(), k)
        }),
        ("tracing", |k| {
            walk::<TracingFile>("tracing", &mut Vec::new(), k)
        }),
        ("backends", |k| {
            walk::<BackendFile>("backends.<name>", &mut Vec::new(), k)
        }),
    ]
}

/// The keys of `auth`, whose lists are decoded item by item.
fn auth() -> [(&'static str, Walk); 2] {
    [
        ("tokens", |k| {
            walk::<TokenFile>("auth.tokens[]", &mut Vec::new(), k)
        }),
        ("clients", |k| {
            walk::<ClientFile>("auth.clients[]", &mut Vec::new(), k)
        }),
    ]
}

/// Adds the keys of the mapping at `path` in a `T` (named `name`), and theirs.
fn walk<T: DeserializeOwned>(name: &str, path: &mut Vec<Step>, out: &mut Vec<String>) {
    let Some(keys) = keys_at::<T>(path) else {
        return;
    };
    for &key in keys {
        let here = format!("{name}.{key}");
        out.push(here.clone());
        path.push(Step::Key(key));
        if keys_at::<T>(path).is_some() {
            walk::<T>(&here, path, out);
        } else {
            path.push(Step::Item);
            if keys_at::<T>(path).is_some() {
                walk::<T>(&format!("{here}[]"), path, out);
            }
            path.pop();
        }
        path.pop();
    }
}

/// The keys a `T` accepts in a mapping at `path`; `None` when what is there is no
/// mapping with a fixed set of keys.
fn keys_at<T: DeserializeOwned>(path: &[Step]) -> Option<&'static [&'static str]> {
    let mut doc = Value::Mapping(Mapping::from_iter([(PROBE.into(), Value::Null)]));
    for step in path.iter().rev() {
        doc = match step {
            Step::Key(key) => Value::Mapping(Mapping::from_iter([((*key).into(), doc)])),
            Step::Item => Value::Sequence(vec![doc]),
        };
    }
    let error = serde_path_to_error::deserialize::<_, T>(Node(&doc)).err()?;
    let at_probe = {
        let found: Vec<&Segment> = error.path().iter().collect();
        found.len() == path.len() + 1
            && found.iter().zip(path).all(|(seg, step)| match (seg, step) {
                (Segment::Map { key }, Step::Key(k)) => key == k,
                (Segment::Seq { index: 0 }, Step::Item) => true,
                _ => false,
            })
    };
    match error.into_inner() {
        DeError::UnknownKey { expected } if at_probe => Some(expected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::file::{AUTH_KEYS, SECTIONS};
    use super::*;

    #[test]
    fn every_section_and_auth_key_is_walked() {
        let walked: Vec<&str> = sections().iter().map(|(s, _)| *s).collect();
        assert_eq!(walked, SECTIONS);
        let walked: Vec<&str> = auth().iter().map(|(k, _)| *k).collect();
        assert_eq!(walked, AUTH_KEYS);
    }

    #[test]
    fn nested_mappings_and_lists_of_mappings_are_found() {
        let keys = schema_keys();
        for key in [
            "server.listen",
            "server.tls",
            "server.tls.client_ca_path",
            "plugins[].dir",
            "auth.tokens[].token_env",
            "auth.tokens[].allow[].actions",
            "auth.clients[].subject",
            "idempotency.redis_url",
            "approvals.rules[].approvers",
            "tracing.otlp_endpoint",
            "backends.<name>.settings",
            "backends.<name>.breaker.open_ms",
        ] {
            assert!(
                keys.iter().any(|k| k == key),
                "{key} missing from {keys:#?}"
            );
        }
        // Leaves are not walked into: `tags` is a list of strings, `settings` free-form.
        assert!(!keys.iter().any(|k| k.starts_with("backends.<name>.tags.")));
        assert!(!keys
            .iter()
            .any(|k| k.starts_with("backends.<name>.settings.")));
    }
}
