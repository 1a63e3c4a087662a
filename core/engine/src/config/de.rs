//! A serde `Deserializer` over an already parsed (and `${VAR}`-expanded) YAML value,
//! with its own error type.
//!
//! Why not `serde_yaml::Value`'s own deserializer: its messages quote the offending value
//! (`invalid type: string "s3cr3t", expected …`), and a config value may be a secret.
//! Here every message describes a value by its kind only (numbers and booleans, never
//! secret in our schema, are shown), and unknown/missing keys stay structured so that the
//! caller can word them and put the key into the path.

use serde::de::{self, DeserializeSeed, Expected, MapAccess, SeqAccess, Unexpected, Visitor};
use serde_yaml::Value;
use std::fmt;

/// A value to deserialize from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Node<'a>(pub(super) &'a Value);

/// What went wrong while deserializing, without any string value in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DeError {
    /// A key the schema does not have (the path already ends with it).
    UnknownKey { expected: &'static [&'static str] },
    /// A required key is absent (the path is the enclosing mapping's).
    MissingKey(&'static str),
    /// Anything else, already worded.
    Message(String),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::UnknownKey { expected } => f.write_str(&unknown_key_message(expected)),
            DeError::MissingKey(_) => f.write_str("required key is missing"),
            DeError::Message(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for DeError {}

/// `unknown key (expected one of a, b, c)`.
pub(super) fn unknown_key_message(expected: &[&str]) -> String {
    match expected {
        [] => "unknown key (no keys are allowed here)".to_owned(),
        [only] => format!("unknown key (expected {only})"),
        _ => format!("unknown key (expected one of {})", expected.join(", ")),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DeError::Message(message.to_string())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DeError::Message(format!(
            "expected {}, found {}",
            describe_expected(expected),
            describe_unexpected(unexpected)
        ))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        DeError::Message(format!(
            "expected {}, found {}",
            describe_expected(expected),
            describe_unexpected(unexpected)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
        DeError::Message(format!(
            "expected {}, found {len} items",
            describe_expected(expected)
        ))
    }

    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        DeError::Message(format!(
            "unknown value (expected one of {})",
            expected.join(", ")
        ))
    }

    fn unknown_field(_field: &str, expected: &'static [&'static str]) -> Self {
        DeError::UnknownKey { expected }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::MissingKey(field)
    }

    fn duplicate_field(_field: &'static str) -> Self {
        DeError::Message("key given twice".to_owned())
    }
}

/// serde's "expected" texts, in the config's words.
fn describe_expected(expected: &dyn Expected) -> String {
    let text = expected.to_string();
    match text.as_str() {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (0 or more)".to_owned(),
        "a sequence" => "a list".to_owned(),
        "a map" => "a mapping".to_owned(),
        "path string" => "a path".to_owned(),
        _ if text.starts_with("struct ") => "a mapping".to_owned(),
        _ => text,
    }
}

/// A found value by its kind; strings are never shown.
fn describe_unexpected(unexpected: Unexpected<'_>) -> String {
    match unexpected {
        Unexpected::Bool(b) => format!("the boolean {b}"),
        Unexpected::Unsigned(n) => format!("the number {n}"),
        Unexpected::Signed(n) => format!("the number {n}"),
        Unexpected::Float(n) => format!("the number {n}"),
        Unexpected::Char(_) | Unexpected::Str(_) | Unexpected::Bytes(_) => "a string".to_owned(),
        Unexpected::Unit => "null (no value)".to_owned(),
        Unexpected::Option => "an optional value".to_owned(),
        Unexpected::Seq => "a list".to_owned(),
        Unexpected::Map => "a mapping".to_owned(),
        Unexpected::NewtypeStruct
        | Unexpected::Enum
        | Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant => "a structured value".to_owned(),
        Unexpected::Other(other) => other.to_owned(),
    }
}

/// A value's kind in words (`a list`, `a string`), for "expected X, found Y" messages.
pub(super) fn kind(value: &Value) -> String {
    describe_unexpected(unexpected(value))
}

/// How a YAML value looks to serde's `invalid_type`.
fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("a number"),
        },
        Value::String(_) => Unexpected::Str(""),
        Value::Sequence(_) => Unexpected::Seq,
        Value::Mapping(_) => Unexpected::Map,
        Value::Tagged(_) => Unexpected::Other("a tagged value"),
    }
}

/// The error for a YAML tag (`!name value`), which the schema never uses.
fn tagged() -> DeError {
    DeError::Message("YAML tags (`!name`) are not supported here".to_owned())
}

impl<'de> de::Deserializer<'de> for Node<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, Some(f)) => visitor.visit_f64(f),
                _ => Err(DeError::Message("unreadable number".to_owned())),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Sequence(items) => visitor.visit_seq(Items {
                items: items.iter(),
            }),
            Value::Mapping(map) => visitor.visit_map(Entries {
                entries: map.iter(),
                value: None,
            }),
            Value::Tagged(_) => Err(tagged()),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    /// Structs come from mappings only (serde would also take a list of field values).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            Value::Mapping(_) => self.deserialize_any(visitor),
            Value::Tagged(_) => Err(tagged()),
            other => Err(de::Error::invalid_type(unexpected(other), &"a mapping")),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map enum identifier
    }
}

/// A mapping key. Scalars other than strings (`1:`, `true:`) are read as their text, so
/// that they become "unknown key" errors instead of serde's field-index quirks.
#[derive(Debug, Clone, Copy)]
struct Key<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            Value::Null => visitor.visit_borrowed_str("null"),
            _ => Err(DeError::Message(
                "mapping keys must be plain strings".to_owned(),
            )),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Sequence access over a YAML list.
struct Items<'a> {
    items: std::slice::Iter<'a, Value>,
}

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(item) => seed.deserialize(Node(item)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Map access over a YAML mapping, in file order.
struct Entries<'a> {
    entries: serde_yaml::mapping::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Key(key)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(value) => seed.deserialize(Node(value)),
            None => Err(DeError::Message("mapping value missing".to_owned())),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
