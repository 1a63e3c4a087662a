//! Audit lines as JSON whose raw bytes cannot spoof a viewer: characters that reorder or
//! hide text — bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C), zero-width
//! and other invisible characters (U+200B–U+200D, U+2060–U+2064, U+FEFF, U+00AD, U+180E),
//! line and paragraph separators (U+2028, U+2029) and C1 controls (U+0080–U+009F) — are
//! written as JSON `\uXXXX` escapes, like the C0 controls JSON always escapes.
//!
//! The value a JSON parser reads is unchanged (the audit records exactly what the caller
//! sent); only `less`, `grep` or a terminal showing the file see the escape instead of
//! the character. Escaped, not refused: such a target can exist at a vendor, and a
//! disconnect of it must stay possible and auditable.

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter};
use std::io::{self, Write};

/// Whether `c` is written escaped.
pub fn is_unsafe(c: char) -> bool {
    matches!(
        c,
        '\u{0080}'..='\u{009F}'
            | '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// serde_json's compact output, with [`is_unsafe`] characters escaped.
struct SafeFormatter;

impl Formatter for SafeFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        if fragment.is_ascii() {
            return CompactFormatter.write_string_fragment(writer, fragment);
        }
        let mut from = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[from..i])?;
                // Every such character is in the Basic Multilingual Plane: one escape.
                write!(writer, "\\u{:04x}", u32::from(c))?;
                from = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[from..])
    }
}

/// Serializes `value` as one JSON line's text (no newline) into `out`.
pub fn to_writer<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> serde_json::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, SafeFormatter);
    value.serialize(&mut serializer)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn line(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        to_writer(&mut out, value).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn spoofing_characters_are_escaped_and_read_back_unchanged() {
        let target = "evil\u{202E}gnp.exe\u{200B}x\u{2028}y\u{2029}z\u{FEFF}\u{85}";
        let value = serde_json::json!({"target": {"client_id": target}, "reason": "a\u{2066}b"});
        let text = line(&value);
        for raw in [
            '\u{202E}', '\u{200B}', '\u{2028}', '\u{2029}', '\u{FEFF}', '\u{85}', '\u{2066}',
        ] {
            assert!(!text.contains(raw), "{raw:?} raw in {text}");
        }
        assert!(
            text.contains(r"evil\u202egnp.exe\u200bx\u2028y\u2029z\ufeff\u0085"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn other_text_is_written_as_serde_json_writes_it() {
        let value = serde_json::json!({"a": "plain \"q\" \n tab\t é 中文 😀", "n": [1, 2.5, null]});
        assert_eq!(line(&value), serde_json::to_string(&value).unwrap());
    }
}
