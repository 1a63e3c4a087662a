//! Placing identifiers into vendor requests safely.
//!
//! Identifiers are data, never syntax: every identifier an adapter puts into a URL path,
//! a query string or a header goes through one of these helpers.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sever_plugin_abi::{Problem, ProblemKind};

/// Everything but RFC 3986's unreserved bytes (`A-Z a-z 0-9 - . _ ~`) is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Appends `value` percent-encoded (everything but unreserved bytes as `%XY`, uppercase,
/// over UTF-8) to `out`: the allocation-free form of [`component`] and [`path_segment`],
/// for adapters building a URL, query or form body in one buffer.
///
/// ```
/// let mut query = String::from("ClientId=");
/// sever_plugin_sdk::encode::push_component(&mut query, "GID@@@a b");
/// assert_eq!(query, "ClientId=GID%40%40%40a%20b");
/// ```
pub fn push_component(out: &mut String, value: &str) {
    out.reserve(value.len());
    out.extend(utf8_percent_encode(value, COMPONENT));
}

/// Percent-encodes one URL path segment: `/`, `%`, `#`, `?`, `+`, spaces and non-ASCII
/// are all encoded, so the value stays one segment whatever it holds.
pub fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_component(&mut out, value);
    out
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
        push_component(&mut url, segment);
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
            ProblemKind::InvalidTarget,
            format!("{field} contains a control character and cannot be sent in a header"),
        ));
    }
    Ok(value)
}

/// Checks a value that must reach the vendor byte for byte in an HTTP header (an
/// identifier the vendor matches exactly). Stricter than [`header_value`], whose checks it
/// makes first; then it refuses, with `400 invalid_request` naming `field`:
/// - non-ASCII characters: obsolete `obs-text` in HTTP, which intermediaries may rewrite;
/// - a leading or trailing space: HTTP strips those from header values, so the vendor
///   would see another value (a tab, a control character, is already refused).
///
/// ```
/// use sever_plugin_sdk::encode::strict_header_value;
/// assert_eq!(strict_header_value("target.topic", "a/b.#").ok(), Some("a/b.#"));
/// assert!(strict_header_value("target.topic", " a").is_err());
/// assert!(strict_header_value("target.topic", "é").is_err());
/// ```
pub fn strict_header_value<'a>(field: &str, value: &'a str) -> Result<&'a str, Problem> {
    header_value(field, value)?;
    if !value.is_ascii() {
        return Err(Problem::new(
            ProblemKind::InvalidTarget,
            format!(
                "{field} must be ASCII: it is sent in an HTTP header, where other characters \
                 are not carried reliably"
            ),
        ));
    }
    let blank = [' ', '\t'];
    if value.starts_with(blank) || value.ends_with(blank) {
        return Err(Problem::new(
            ProblemKind::InvalidTarget,
            format!(
                "{field} must not begin or end with a space: HTTP drops those from header values"
            ),
        ));
    }
    Ok(value)
}

/// HTTP Basic credentials (RFC 7617): `base64(user:password)`, standard alphabet with
/// padding. Send them as `Authorization: Basic {credentials}` and list them with
/// [`VendorRequest::redact`](crate::VendorRequest::redact), since they reveal the password.
///
/// A user id with a `:` cannot be carried (the first colon ends it): refuse such a setting
/// in [`Adapter::new`](crate::Adapter::new).
///
/// ```
/// use sever_plugin_sdk::encode::basic_auth;
/// // RFC 7617's own example.
/// assert_eq!(basic_auth("Aladdin", "open sesame"), "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
/// ```
pub fn basic_auth(user: &str, password: &str) -> String {
    BASE64.encode(format!("{user}:{password}"))
}

/// Checks a value that becomes one level of an MQTT topic or one token of a NATS subject
/// (a NATS `server_id` in `$SYS.REQ.SERVER.<id>.KICK`): it must be non-empty and hold no
/// level separator or wildcard of either protocol (`/`, `+`, `#`, `.`, `*`, `>`) and no
/// whitespace, else it would address other topics or subjects than the one meant. Refused
/// with `400 invalid_request` naming `field`.
///
/// ```
/// use sever_plugin_sdk::encode::subject_token;
/// assert_eq!(subject_token("server id", "NB4QWZ").ok(), Some("NB4QWZ"));
/// for wider in ["a.b", "*", ">", "a/b", "+", "#", "a b", ""] {
///     assert!(subject_token("server id", wider).is_err(), "{wider:?}");
/// }
/// ```
pub fn subject_token<'a>(field: &str, value: &'a str) -> Result<&'a str, Problem> {
    const SEPARATORS: [char; 6] = ['/', '+', '#', '.', '*', '>'];
    if value.is_empty() {
        return Err(Problem::new(
            ProblemKind::InvalidTarget,
            format!("{field} is empty and cannot be one level of a topic or subject"),
        ));
    }
    if value.contains(SEPARATORS) || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Problem::new(
            ProblemKind::InvalidTarget,
            format!(
                "{field} must not contain '/', '+', '#', '.', '*', '>' or whitespace: it would \
                 be a topic or subject level separator or wildcard"
            ),
        ));
    }
    Ok(value)
}

/// Reads a decimal identifier the vendor's protocol takes as a number (a Redis client id,
/// a PostgreSQL backend pid, a NATS connection id): ASCII digits only (no sign, no spaces,
/// no exponent), from 1 to `max`. Anything else is refused with `400 invalid_request`
/// naming `field`, before anything is sent. Leading zeros are read as the number they
/// spell (`007` is 7): send the returned number, never the text.
///
/// ```
/// use sever_plugin_sdk::encode::decimal_id;
/// assert_eq!(decimal_id("connection_id", "007", 100).ok(), Some(7));
/// for bad in ["", "0", "+7", "-7", " 7", "7a", "1e3", "101"] {
///     assert!(decimal_id("connection_id", bad, 100).is_err(), "{bad:?}");
/// }
/// ```
pub fn decimal_id(field: &str, value: &str, max: u64) -> Result<u64, Problem> {
    let refused = || {
        Problem::new(
            ProblemKind::InvalidTarget,
            format!("{field} must be a decimal number from 1 to {max}"),
        )
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(refused());
    }
    match value.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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
    fn push_component_encodes_every_byte_outside_the_unreserved_set() {
        // Every byte value: unreserved bytes stay, the rest become `%XY`, as the
        // `percent-encoding` crate with the same set does.
        for byte in 0u8..=0x7f {
            let c = char::from(byte).to_string();
            let expected = if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                c.clone()
            } else {
                format!("%{byte:02X}")
            };
            assert_eq!(component(&c), expected, "byte {byte:#x}");
        }
        assert_eq!(component("日本😀"), "%E6%97%A5%E6%9C%AC%F0%9F%98%80");
        let mut out = String::from("x=");
        push_component(&mut out, "");
        push_component(&mut out, "a&b");
        assert_eq!(out, "x=a%26b");
    }

    #[test]
    fn header_value_refuses_crlf() {
        assert!(header_value("topic", "a\r\nX-Evil: 1").is_err());
        assert!(header_value("topic", "a\u{7f}").is_err());
        assert_eq!(header_value("topic", "a b/é").ok(), Some("a b/é"));
    }

    #[test]
    fn strict_header_value_refuses_non_ascii_and_surrounding_blanks() {
        fn message(r: Result<&str, Problem>) -> Result<&str, (ProblemKind, String)> {
            r.map_err(|p| (p.kind, p.detail))
        }
        assert_eq!(message(strict_header_value("f", "a b")), Ok("a b"));
        for value in [" a", "a ", "  "] {
            let (code, detail) = message(strict_header_value("f", value)).unwrap_err();
            assert_eq!(code, ProblemKind::InvalidTarget);
            assert!(detail.starts_with("f must not begin or end"), "{detail}");
        }
        let (_, detail) = message(strict_header_value("f", "caf\u{e9}")).unwrap_err();
        assert!(detail.starts_with("f must be ASCII"), "{detail}");
        // Control characters are refused first, with header_value's words.
        let (_, detail) = message(strict_header_value("f", " \r\n")).unwrap_err();
        assert!(detail.contains("control character"), "{detail}");
    }

    #[test]
    fn basic_auth_is_base64_of_user_colon_password() {
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(basic_auth("", ""), "Og==");
        assert_eq!(basic_auth("u", "p\u{e9}:x"), "dTpww6k6eA==");
    }
    #[test]
    fn subject_token_refuses_separators_wildcards_and_whitespace() {
        for bad in [
            "a.b", "a*", ">", "a/b", "a+", "#", "a b", "a\tb", "a\u{a0}b", "",
        ] {
            let problem = subject_token("server_id", bad).unwrap_err();
            assert_eq!(problem.kind, ProblemKind::InvalidTarget, "{bad:?}");
            assert!(
                problem.detail.starts_with("server_id "),
                "{}",
                problem.detail
            );
        }
        assert_eq!(subject_token("f", "NB4Q-é_$").ok(), Some("NB4Q-é_$"));
    }

    #[test]
    fn decimal_id_takes_only_digits_within_the_range() {
        assert_eq!(decimal_id("f", "1", 1).ok(), Some(1));
        assert_eq!(
            decimal_id("f", "18446744073709551615", u64::MAX).ok(),
            Some(u64::MAX)
        );
        for bad in ["18446744073709551616", "٣", "0x1", "1.0", "1 "] {
            let problem = decimal_id("f", bad, u64::MAX).unwrap_err();
            assert_eq!(problem.kind, ProblemKind::InvalidTarget, "{bad:?}");
        }
        let problem =
            decimal_id("target.connection_id", "2147483648", i32::MAX as u64).unwrap_err();
        assert_eq!(
            problem.detail,
            "target.connection_id must be a decimal number from 1 to 2147483647"
        );
    }
}
