//! Config paths as shown in error lines: `backends.mqtt-eu.timeout_ms`, `plugins[1].path`.

use serde_yaml::Value;

/// `base.key` (or `key` at the top).
pub(super) fn key(base: &str, key: &str) -> String {
    let key = shown(key);
    if base.is_empty() {
        key
    } else {
        format!("{base}.{key}")
    }
}

/// `base[index]`.
pub(super) fn index(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}

/// A mapping key's text: strings as they are, other scalars as YAML writes them.
pub(super) fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_owned(),
        Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_) => "?".to_owned(),
    }
}

/// A key as a path segment: quoted and escaped when it could be misread (empty, or with
/// spaces, control characters or path punctuation in it).
fn shown(key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '.' | '[' | ']' | ':' | '"'));
    if plain {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// `base` followed by the path serde_path_to_error tracked inside it.
pub(super) fn join_tracked(base: &str, tracked: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = base.to_owned();
    for segment in tracked.iter() {
        out = match segment {
            Segment::Seq { index: i } => index(&out, *i),
            Segment::Map { key: k } | Segment::Enum { variant: k } => key(&out, k),
            Segment::Unknown => key(&out, "?"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_keys_with_dots_and_items_with_brackets() {
        assert_eq!(key("", "server"), "server");
        assert_eq!(key("backends", "mqtt-eu"), "backends.mqtt-eu");
        assert_eq!(index("plugins", 1), "plugins[1]");
        assert_eq!(key(&index("plugins", 1), "path"), "plugins[1].path");
    }

    #[test]
    fn odd_keys_are_quoted() {
        assert_eq!(key("backends", "a b"), "backends.\"a b\"");
        assert_eq!(key("backends", "a.b"), "backends.\"a.b\"");
        assert_eq!(key("backends", "x\ny"), "backends.\"x\\ny\"");
        assert_eq!(key("backends", ""), "backends.\"\"");
    }
}
