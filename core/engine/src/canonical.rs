//! The canonical request (spec §3): parsed and validated once, before any plugin is called.

use serde::Deserialize;
use serde_json::Value;
use sever_plugin_sdk::{Action, ActionSpec, Target, TargetField};
use std::collections::BTreeMap;

/// Longest identifier accepted, in bytes.
pub const MAX_IDENTIFIER_BYTES: usize = 256;
/// Longest `reason`, in bytes.
pub const MAX_REASON_BYTES: usize = 512;

/// Which backends a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// `"backend": "name"`.
    One(String),
    /// `"backends": ["a", "b"]` (fan-out).
    Names(Vec<String>),
    /// `"backends": {"tags": [...]}` (fan-out).
    Tags(Vec<String>),
}

/// A validated canonical request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRequest {
    pub action: Action,
    pub selection: Selection,
    pub target: Target,
    pub reason: Option<String>,
    pub dry_run: bool,
}

/// Why a body is not a canonical request. The message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

fn err<T>(message: impl Into<String>) -> Result<T, RequestError> {
    Err(RequestError(message.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    action: Option<Value>,
    backend: Option<Value>,
    backends: Option<Value>,
    target: Option<Value>,
    reason: Option<Value>,
    dry_run: Option<Value>,
}

/// Checks one identifier: non-empty, at most 256 bytes, no control characters, not `.`
/// or `..` (URL normalisers treat those as path steps).
pub fn check_identifier(name: &str, value: &str) -> Result<(), RequestError> {
    if value.is_empty() {
        return err(format!("{name} must not be empty"));
    }
    if value.len() > MAX_IDENTIFIER_BYTES {
        return err(format!(
            "{name} is longer than {MAX_IDENTIFIER_BYTES} bytes"
        ));
    }
    if value.chars().any(char::is_control) {
        return err(format!("{name} contains a control character"));
    }
    if value == "." || value == ".." {
        return err(format!("{name} must not be '.' or '..'"));
    }
    Ok(())
}

fn string_field(name: &str, value: Value) -> Result<String, RequestError> {
    match value {
        Value::String(s) => Ok(s),
        _ => err(format!("{name} must be a string")),
    }
}

fn name_list(name: &str, value: Value) -> Result<Vec<String>, RequestError> {
    let Value::Array(items) = value else {
        return err(format!("{name} must be a list of strings"));
    };
    if items.is_empty() {
        return err(format!("{name} must not be empty"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let field = format!("{name}[{i}]");
            let s = string_field(&field, v)?;
            check_identifier(&field, &s)?;
            Ok(s)
        })
        .collect()
}

/// Parses and validates a request body.
pub fn parse(body: &[u8]) -> Result<CanonicalRequest, RequestError> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            RequestError(format!("invalid request: {e}"))
        } else {
            RequestError(format!("malformed JSON: {e}"))
        }
    })?;

    let action = match wire.action {
        None => return err("action is required"),
        Some(v) => {
            let name = string_field("action", v)?;
            match Action::parse(&name) {
                Some(a) => a,
                None => {
                    let shown: String = name.chars().filter(|c| !c.is_control()).take(40).collect();
                    return err(format!(
                        "unknown action '{shown}' (expected disconnect, terminate or unbind)"
                    ));
                }
            }
        }
    };

    let selection = match (wire.backend, wire.backends) {
        (Some(_), Some(_)) => return err("give either backend or backends, not both"),
        (None, None) => return err("backend is required"),
        (Some(v), None) => {
            let name = string_field("backend", v)?;
            check_identifier("backend", &name)?;
            Selection::One(name)
        }
        (None, Some(Value::Object(mut map))) => {
            let tags = map.remove("tags");
            if let Some(extra) = map.keys().next() {
                return err(format!(
                    "backends.{extra} is not a known field (expected tags)"
                ));
            }
            match tags {
                Some(t) => Selection::Tags(name_list("backends.tags", t)?),
                None => return err("backends.tags is required"),
            }
        }
        (None, Some(v)) => Selection::Names(name_list("backends", v)?),
    };

    let target = match wire.target {
        None => return err("target is required"),
        Some(Value::Object(map)) => {
            let mut target = Target::default();
            for (key, value) in map {
                let Some(field) = TargetField::parse(&key) else {
                    let shown: String = key.chars().filter(|c| !c.is_control()).take(40).collect();
                    return err(format!("target.{shown} is not a known target field"));
                };
                let name = format!("target.{key}");
                let value = string_field(&name, value)?;
                check_identifier(&name, &value)?;
                *target.slot(field) = Some(value);
            }
            target
        }
        Some(_) => return err("target must be an object"),
    };

    let reason = match wire.reason {
        None | Some(Value::Null) => None,
        Some(v) => {
            let reason = string_field("reason", v)?;
            if reason.len() > MAX_REASON_BYTES {
                return err(format!("reason is longer than {MAX_REASON_BYTES} bytes"));
            }
            if reason.chars().any(char::is_control) {
                return err("reason contains a control character");
            }
            Some(reason)
        }
    };

    let dry_run = match wire.dry_run {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => b,
        Some(_) => return err("dry_run must be true or false"),
    };

    Ok(CanonicalRequest {
        action,
        selection,
        target,
        reason,
        dry_run,
    })
}

/// Checks the target against the adapter's field sets for the action and returns the
/// target the adapter will see: the fields of the one matching set plus declared optional
/// fields; other fields are dropped.
pub fn fit_target(target: &Target, spec: &ActionSpec) -> Result<Target, RequestError> {
    let in_sets = |f: &TargetField| spec.target_sets.iter().any(|set| set.contains(f));
    let present: Vec<TargetField> = target.present().filter(in_sets).collect();
    let complete: Vec<&Vec<TargetField>> = spec
        .target_sets
        .iter()
        .filter(|set| set.iter().all(|f| target.get(*f).is_some()))
        .collect();
    let chosen = match complete.as_slice() {
        [] => {
            let missing = describe_missing(target, spec);
            return err(format!("target is missing {missing}"));
        }
        [set] => *set,
        _ => return err(alternatives_message(spec)),
    };
    // Every present set-field must belong to the chosen set: never a wider cut than asked.
    if let Some(extra) = present.iter().find(|f| !chosen.contains(f)) {
        return err(format!(
            "target.{extra} cannot be combined with {}: {}",
            join(chosen),
            alternatives_message(spec)
        ));
    }
    let mut fitted = Target::default();
    for field in chosen.iter().chain(spec.optional_fields.iter()) {
        if let Some(v) = target.get(*field) {
            *fitted.slot(*field) = Some(v.to_owned());
        }
    }
    Ok(fitted)
}

fn join(set: &[TargetField]) -> String {
    set.iter()
        .map(|f| format!("target.{f}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn alternatives_message(spec: &ActionSpec) -> String {
    let options: Vec<String> = spec.target_sets.iter().map(|s| join(s)).collect();
    format!(
        "{} takes exactly one of: {}",
        spec.action,
        options.join(", or ")
    )
}

fn describe_missing(target: &Target, spec: &ActionSpec) -> String {
    if let [set] = spec.target_sets.as_slice() {
        let missing: Vec<String> = set
            .iter()
            .filter(|f| target.get(**f).is_none())
            .map(|f| format!("target.{f}"))
            .collect();
        return missing.join(", ");
    }
    // Alternatives: say which fields each would still need.
    let mut by_set: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, set) in spec.target_sets.iter().enumerate() {
        for f in set.iter().filter(|f| target.get(**f).is_none()) {
            by_set.entry(i).or_default().push(format!("target.{f}"));
        }
    }
    let options: Vec<String> = by_set.values().map(|m| m.join(" + ")).collect();
    format!("one of: {}", options.join(", or "))
}

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
