//! Reading "almost JSON": bodies that are JSON but for raw control characters inside
//! strings.

use serde_json::Value;
use std::fmt::Write as _;

/// Parses a vendor body as JSON, tolerating raw control characters (a newline, a tab, a
/// NUL) inside strings, which JSON forbids but some vendors send (a message ending in
/// `\n` written into the body as is).
///
/// Invalid UTF-8 is replaced first. The body is parsed as it is; only when that fails are
/// the control characters inside strings escaped (`\u000a`) and the body parsed again,
/// so whitespace between tokens, escapes already present and valid bodies are untouched.
/// `None` when the body is not JSON even so. The strings may then hold control
/// characters: make them safe with [`clean`](super::clean) before showing them.
///
/// ```
/// use sever_plugin_sdk::vendor::lenient_json;
/// let body = b"{\"error\":\"unbind failed\n\"}";
/// assert!(serde_json::from_slice::<serde_json::Value>(body).is_err());
/// let value = lenient_json(body).unwrap_or_default();
/// assert_eq!(value["error"], "unbind failed\n");
/// assert_eq!(lenient_json(b"<html>"), None);
/// ```
pub fn lenient_json(body: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(body);
    serde_json::from_str::<Value>(&text)
        .ok()
        .or_else(|| serde_json::from_str::<Value>(&escape_raw_controls(&text)).ok())
}

/// Escapes control characters that appear raw inside JSON strings, leaving whitespace
/// between tokens alone.
fn escape_raw_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if u32::from(c) < 0x20 {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_controls_inside_strings_are_tolerated() {
        let body = b"{\"error\":\"a\nb\tc\x00\",\n\t\"n\" : 1}\n";
        assert_eq!(
            lenient_json(body),
            Some(json!({"error": "a\nb\tc\u{0}", "n": 1}))
        );
    }

    #[test]
    fn escapes_and_whitespace_between_tokens_are_kept() {
        let body = b"{\n\t\"error\" : \"a \\\"q\\\"\tb\\\\\"\n}\n";
        assert_eq!(lenient_json(body), Some(json!({"error": "a \"q\"\tb\\"})));
        assert_eq!(lenient_json(b" [1, \"x\"] "), Some(json!([1, "x"])));
    }

    #[test]
    fn what_is_not_json_stays_none() {
        assert_eq!(lenient_json(b""), None);
        assert_eq!(lenient_json(b"Internal\r\nServer Error"), None);
        assert_eq!(lenient_json(b"{\"a\":\"unterminated\n"), None);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(
            lenient_json(b"{\"e\":\"\xff\"}"),
            Some(json!({"e": "\u{fffd}"}))
        );
    }
}
