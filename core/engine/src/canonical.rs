//! The canonical request (spec §3): parsed and validated once, before any plugin is called.

use crate::plugin::{Action, ActionSpec, Target, TargetField};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

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

/// The body's members. `backends` (fan-out, rare) is a `Value`; the others are [`Member`]s,
/// which borrow strings from the body, so a valid request costs only the allocations of
/// the strings it keeps. Every member accepts any JSON value: type errors are found by the
/// checks below, in the spec's order, exactly as with `Value` members.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    #[serde(borrow)]
    action: Option<Member<'a>>,
    #[serde(borrow)]
    backend: Option<Member<'a>>,
    backends: Option<Value>,
    #[serde(borrow)]
    target: Option<Member<'a>>,
    #[serde(borrow)]
    reason: Option<Member<'a>>,
    #[serde(borrow)]
    dry_run: Option<Member<'a>>,
}

/// One JSON value, reduced to what the checks tell apart. Strings without escapes are
/// borrowed from the body.
enum Member<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Null,
    /// An object's members in the order of a `serde_json::Map` (sorted by key; a repeated
    /// key keeps its last value), so errors name the same member as before.
    Object(Vec<(Cow<'a, str>, Member<'a>)>),
    /// A number or an array.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Member<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MemberVisitor(PhantomData))
    }
}

struct MemberVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for MemberVisitor<'a> {
    type Value = Member<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Member<'a>, E> {
        Ok(Member::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Member<'a>, E> {
        Ok(Member::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Member<'a>, E> {
        Ok(Member::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Member<'a>, E> {
        Ok(Member::Bool(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Member<'a>, E> {
        Ok(Member::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Member<'a>, E> {
        Ok(Member::Null)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Member<'a>, E> {
        Ok(Member::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Member<'a>, E> {
        Ok(Member::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Member<'a>, E> {
        Ok(Member::Other)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'a>, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Member::Other)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Member<'a>, A::Error> {
        let mut members: Vec<(Cow<'a, str>, Member<'a>)> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'a>>()? {
            let value = map.next_value::<Member<'a>>()?;
            members.push((key, value));
        }
        // A stable sort keeps repeated keys in body order; the last one wins: `dedup_by`
        // drops the later of two equal neighbours, after taking over its value.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        members.dedup_by(|later, kept| {
            let repeated = later.0 == kept.0;
            if repeated {
                std::mem::swap(later, kept);
            }
            repeated
        });
        Ok(Member::Object(members))
    }
}

/// An object key, borrowed from the body when it holds no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for KeyVisitor<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'a>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor(PhantomData))
    }
}

/// What is wrong with an identifier (see [`check_identifier`]).
#[derive(Debug, Clone, Copy)]
enum IdentifierFault {
    Empty,
    TooLong,
    Control,
    Dots,
}

impl IdentifierFault {
    fn of(value: &str) -> Option<IdentifierFault> {
        if value.is_empty() {
            Some(IdentifierFault::Empty)
        } else if value.len() > MAX_IDENTIFIER_BYTES {
            Some(IdentifierFault::TooLong)
        } else if value.chars().any(char::is_control) {
            Some(IdentifierFault::Control)
        } else if value == "." || value == ".." {
            Some(IdentifierFault::Dots)
        } else {
            None
        }
    }

    fn error(self, name: &str) -> RequestError {
        RequestError(match self {
            IdentifierFault::Empty => format!("{name} must not be empty"),
            IdentifierFault::TooLong => {
                format!("{name} is longer than {MAX_IDENTIFIER_BYTES} bytes")
            }
            IdentifierFault::Control => format!("{name} contains a control character"),
            IdentifierFault::Dots => format!("{name} must not be '.' or '..'"),
        })
    }
}

/// Checks one identifier: non-empty, at most 256 bytes, no control characters, not `.`
/// or `..` (URL normalisers treat those as path steps).
pub fn check_identifier(name: &str, value: &str) -> Result<(), RequestError> {
    match IdentifierFault::of(value) {
        Some(fault) => Err(fault.error(name)),
        None => Ok(()),
    }
}

fn string_field(name: &str, value: Value) -> Result<String, RequestError> {
    match value {
        Value::String(s) => Ok(s),
        _ => err(format!("{name} must be a string")),
    }
}

fn member_string<'a>(name: &str, member: Member<'a>) -> Result<Cow<'a, str>, RequestError> {
    match member {
        Member::Str(s) => Ok(s),
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
    // Validating the UTF-8 once lets serde_json skip it for every string; a body that is
    // not UTF-8 is read as bytes, so its error names the position as before.
    let wire: Result<Wire<'_>, _> = match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    };
    let wire = wire.map_err(|e| {
        if e.is_data() {
            RequestError(format!("invalid request: {e}"))
        } else {
            RequestError(format!("malformed JSON: {e}"))
        }
    })?;

    let action = match wire.action {
        None => return err("action is required"),
        Some(v) => {
            let name = member_string("action", v)?;
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
            let name = member_string("backend", v)?;
            check_identifier("backend", &name)?;
            Selection::One(name.into_owned())
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
        Some(Member::Object(members)) => {
            let mut target = Target::default();
            for (key, value) in members {
                let Some(field) = TargetField::parse(&key) else {
                    let shown: String = key.chars().filter(|c| !c.is_control()).take(40).collect();
                    return err(format!("target.{shown} is not a known target field"));
                };
                // The member's name is only written out for an error.
                let Member::Str(value) = value else {
                    return err(format!("target.{key} must be a string"));
                };
                if let Some(fault) = IdentifierFault::of(&value) {
                    return Err(fault.error(&format!("target.{key}")));
                }
                *target.slot(field) = Some(value.into_owned());
            }
            target
        }
        Some(_) => return err("target must be an object"),
    };

    let reason = match wire.reason {
        None | Some(Member::Null) => None,
        Some(v) => {
            let reason = member_string("reason", v)?;
            if reason.len() > MAX_REASON_BYTES {
                return err(format!("reason is longer than {MAX_REASON_BYTES} bytes"));
            }
            if reason.chars().any(char::is_control) {
                return err("reason contains a control character");
            }
            Some(reason.into_owned())
        }
    };

    let dry_run = match wire.dry_run {
        None | Some(Member::Null) => false,
        Some(Member::Bool(b)) => b,
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
    let mut complete = spec
        .target_sets
        .iter()
        .filter(|set| set.iter().all(|f| target.get(*f).is_some()));
    let chosen = match (complete.next(), complete.next()) {
        (None, _) => {
            let missing = describe_missing(target, spec);
            return err(format!("target is missing {missing}"));
        }
        (Some(set), None) => set,
        (Some(_), Some(_)) => return err(alternatives_message(spec)),
    };
    // Every present set-field must belong to the chosen set: never a wider cut than asked.
    if let Some(extra) = target
        .present()
        .filter(in_sets)
        .find(|f| !chosen.contains(f))
    {
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
