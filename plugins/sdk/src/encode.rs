//! Placing identifiers into vendor requests safely.
//!
//! Identifiers are data, never syntax: every identifier an adapter puts into a URL path,
//! a query string or a header goes through one of these helpers.

use crate::model::{Problem, ProblemCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt::Write;

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one URL path segment: `/`, `%`, `#`, `?`, `+`, spaces and non-ASCII
/// are all encoded, so the value stays one segment whatever it holds.
pub fn path_segment(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// Appends `/seg` for each segment, each percent-encoded, to `base`.
///
/// ```
/// use sever_plugin_sdk::encode::url_with_segments;
/// let url = url_with_segments("http://h:1/base", &["clients", "a/b c"]);
/// assert_eq!(url, "http://h:1/base/clients/a%2Fb%20c");
/// ```
pub fn url_with_segments(base: &str, segments: &[&str]) -> String {
    let mut url =
        String::with_capacity(base.len() + segments.iter().map(|s| s.len() + 4).sum::<usize>());
    url.push_str(base.trim_end_matches('/'));
    for segment in segments {
        url.push('/');
        // Writing into a String cannot fail.
        let _ = write!(url, "{}", utf8_percent_encode(segment, UNRESERVED));
    }
    url
}

/// Percent-encodes a query or form component with the same unreserved set (space as
/// `%20`, never `+`).
pub fn component(value: &str) -> String {
    path_segment(value)
}

/// Checks a value destined for an HTTP header: control characters (CR, LF, NUL, DEL…)
/// are refused with `400 invalid_request` naming `field`.
pub fn header_value<'a>(field: &str, value: &'a str) -> Result<&'a str, Problem> {
    if value.chars().any(char::is_control) {
        return Err(Problem::new(
            ProblemCode::InvalidRequest,
            format!("{field} contains a control character and cannot be sent in a header"),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segment_keeps_unreserved_and_encodes_everything_else() {
        assert_eq!(path_segment("Az09-._~"), "Az09-._~");
        assert_eq!(path_segment("a/b"), "a%2Fb");
        assert_eq!(path_segment("50% #1+x y"), "50%25%20%231%2Bx%20y");
        assert_eq!(path_segment("é"), "%C3%A9");
        assert_eq!(path_segment(".."), "..");
    }

    #[test]
    fn header_value_refuses_crlf() {
        assert!(header_value("topic", "a\r\nX-Evil: 1").is_err());
        assert!(header_value("topic", "a\u{7f}").is_err());
        assert_eq!(header_value("topic", "a b/é").ok(), Some("a b/é"));
    }
}
