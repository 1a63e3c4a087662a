//! A vendor request as the bytes of one HTTP/1.1 message: head and body in one buffer,
//! sent in one write.
//!
//! pingora's HTTP/1 client writes and flushes the head on its own, then the body: two
//! `sendto` per vendor call, and the vendor reads two segments. Sever writes the whole
//! message itself and hands the connection to pingora's client session only to read the
//! answer. That session then has not seen the request, so this path is taken only where
//! the answer's framing and the connection's reuse do not depend on the request: not for
//! `HEAD` (an answer without a body) nor when the adapter set `Connection`, `Upgrade`,
//! `Transfer-Encoding`, `TE` or `Trailer` itself. Those go through pingora's writer
//! ([`needs_session_writer`]).

use sever_engine::backend::TransportError;
use sever_engine::plugin::VendorRequest;
use std::fmt::Write as _;

/// Headers whose presence changes framing or connection handling: the request is then
/// written through pingora's session, which takes them into account.
const SESSION_HEADERS: [&str; 5] = [
    "connection",
    "upgrade",
    "transfer-encoding",
    "te",
    "trailer",
];

/// Whether `request` must be written by pingora's session rather than as one buffer.
pub(super) fn needs_session_writer(request: &VendorRequest) -> bool {
    request.method.eq_ignore_ascii_case("HEAD")
        || request.headers.iter().any(|(name, _)| {
            SESSION_HEADERS
                .iter()
                .any(|h| name.trim().eq_ignore_ascii_case(h))
        })
}

/// The adapter's headers that go out as it set them: its own `Host` and `Content-Length`
/// are replaced by Sever's, on both write paths.
pub(super) fn adapter_headers(request: &VendorRequest) -> impl Iterator<Item = (&str, &str)> {
    request
        .headers
        .iter()
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
        })
        .map(|(name, value)| (name.as_str(), value.as_str()))
}

/// `tchar` of RFC 9110 §5.6.2: what a method and a header name are made of.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// A field value as RFC 9110 §5.5 allows it: visible characters, spaces, tabs and
/// obs-text; never CR, LF or NUL (which would let a value start another header).
fn is_field_value(s: &str) -> bool {
    s.bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// An origin-form request target: no spaces or control characters.
fn is_target(s: &str) -> bool {
    s.starts_with('/') && s.bytes().all(|b| b > b' ' && b != 0x7f)
}

/// The whole request: request line, `host`, the adapter's headers in order (their own
/// `host` and `content-length` are replaced by Sever's), `content-length`, blank line,
/// body. Names go out lower-case, as before.
pub(super) fn request_bytes(
    request: &VendorRequest,
    host: &str,
    path_and_query: &str,
) -> Result<Vec<u8>, TransportError> {
    let invalid = |what: &str| TransportError::Invalid(what.to_owned());
    if !is_token(&request.method) {
        return Err(invalid("invalid HTTP method"));
    }
    if !is_target(path_and_query) {
        return Err(invalid("invalid request target"));
    }
    let headers: usize = request
        .headers
        .iter()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum();
    let mut head = String::with_capacity(
        request.method.len() + path_and_query.len() + host.len() + headers + 64,
    );
    head.push_str(&request.method);
    head.push(' ');
    head.push_str(path_and_query);
    head.push_str(" HTTP/1.1\r\nhost: ");
    head.push_str(host);
    head.push_str("\r\n");
    for (name, value) in adapter_headers(request) {
        if !is_token(name) {
            return Err(invalid("invalid header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if !is_field_value(value) {
            return Err(invalid("invalid header value"));
        }
        head.extend(name.chars().map(|c| c.to_ascii_lowercase()));
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    let _ = write!(head, "content-length: {}\r\n\r\n", request.body.len());
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body.as_bytes());
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)], body: &str) -> VendorRequest {
        let mut r = VendorRequest::new(method, "http://127.0.0.1:1/x".into());
        r.headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        r.body = body.into();
        r
    }

    #[test]
    fn one_buffer_holds_head_and_body() {
        let r = request(
            "PUT",
            &[
                ("Authorization", "Bearer t"),
                ("Host", "evil"),
                ("content-length", "99"),
                ("X-A", " b "),
            ],
            "{}",
        );
        let bytes = request_bytes(&r, "127.0.0.1:1", "/a/b%2Fc?x=1").unwrap();
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "PUT /a/b%2Fc?x=1 HTTP/1.1\r\nhost: 127.0.0.1:1\r\nauthorization: Bearer t\r\n\
             x-a: b\r\ncontent-length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn what_could_start_another_header_or_request_is_refused() {
        let bad_value = request("GET", &[("x", "a\r\nx-injected: 1")], "");
        assert!(request_bytes(&bad_value, "h", "/").is_err());
        let bad_name = request("GET", &[("x y", "1")], "");
        assert!(request_bytes(&bad_name, "h", "/").is_err());
        let bad_method = request("GET /x HTTP/1.1\r\n", &[], "");
        assert!(request_bytes(&bad_method, "h", "/").is_err());
        assert!(request_bytes(&request("GET", &[], ""), "h", "/a b").is_err());
        assert!(request_bytes(&request("GET", &[], ""), "h", "/a\nb").is_err());
    }

    #[test]
    fn framing_headers_and_head_go_through_the_session() {
        assert!(needs_session_writer(&request("HEAD", &[], "")));
        assert!(needs_session_writer(&request(
            "GET",
            &[("Connection", "close")],
            ""
        )));
        assert!(needs_session_writer(&request(
            "POST",
            &[("transfer-encoding", "chunked")],
            ""
        )));
        assert!(!needs_session_writer(&request(
            "POST",
            &[("authorization", "x")],
            ""
        )));
    }
}
