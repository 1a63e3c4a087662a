//! The HTTP/1.1 request head as Sever sees it, before the server hands the request to the
//! API: where the head ends, whether it may be served at all, and how its body is framed.
//!
//! A pure function of the bytes received so far ([`scan_head`]), so that the server's read
//! loop, the unit tests and the fuzz target (`fuzz/fuzz_targets/http_head.rs`) all drive
//! the same code. The parsing itself is `httparse` (the parser pingora uses); this module
//! only decides what Sever accepts:
//!
//! - the head must end within `max_header_bytes` (else 431) and hold at most
//!   [`MAX_HEADERS`] fields (431);
//! - HTTP/1.0 or HTTP/1.1 only (505 for another `HTTP/x.y`, 400 for anything else);
//! - exactly one way of framing the body: no `Content-Length` together with
//!   `Transfer-Encoding` (400: the request smuggling vector of RFC 9112 §6.1), one
//!   `Content-Length` of digits only (400), `Transfer-Encoding: chunked` and nothing else
//!   (501 for another coding, 400 when `chunked` is not last or HTTP/1.0 uses it);
//! - no `Content-Encoding` other than `identity` (415: Sever reads JSON bodies as sent);
//! - one `Authorization` (400) and, per RFC 9112 §3.2, one `Host` (400).
//!
//! Every refusal closes the connection: once a head is refused, where the next request
//! would start is unknown.

/// The most header fields a head may hold (pingora's own limit too).
pub const MAX_HEADERS: usize = 256;

/// What the bytes received so far hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadScan {
    /// No complete head yet: read more (unless the deadline passed).
    Incomplete,
    /// A head Sever serves, `len` bytes long (the body, if any, and later requests follow).
    Complete(Head),
    /// A head Sever refuses; answer it and close the connection.
    Refused(Refusal),
}

/// A head Sever serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Its length in bytes, blank line included.
    pub len: usize,
    /// `HTTP/1.1` (else `HTTP/1.0`).
    pub http11: bool,
    /// How its body is framed.
    pub body: BodyFraming,
    /// `Expect: 100-continue` on an HTTP/1.1 request: answer `100 Continue` before
    /// reading the body.
    pub expect_continue: bool,
}

/// How a served request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Why a head is refused. Each has its status, a fixed detail (never the parser's own
/// error text) and a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not an HTTP/1.x request head (400).
    Malformed,
    /// Over `max_header_bytes`, or more than [`MAX_HEADERS`] fields (431).
    TooLarge,
    /// `HTTP/x.y` other than 1.0 and 1.1 (505).
    UnsupportedVersion,
    /// `Content-Length` together with `Transfer-Encoding` (400).
    AmbiguousLength,
    /// A `Content-Length` that is not one number (400).
    InvalidLength,
    /// `Transfer-Encoding` that does not end in a single `chunked`, or on HTTP/1.0 (400).
    InvalidTransferEncoding,
    /// A transfer coding besides `chunked` (501).
    UnsupportedTransferCoding,
    /// A `Content-Encoding` (415).
    ContentEncoding,
    /// More than one `Authorization` (400).
    DuplicateAuthorization,
    /// No `Host` on HTTP/1.1, or more than one (400).
    InvalidHost,
}

impl Refusal {
    /// The HTTP status to answer with.
    pub fn status(self) -> u16 {
        match self {
            Refusal::TooLarge => 431,
            Refusal::UnsupportedVersion => 505,
            Refusal::UnsupportedTransferCoding => 501,
            Refusal::ContentEncoding => 415,
            Refusal::Malformed
            | Refusal::AmbiguousLength
            | Refusal::InvalidLength
            | Refusal::InvalidTransferEncoding
            | Refusal::DuplicateAuthorization
            | Refusal::InvalidHost => 400,
        }
    }

    /// A fixed, human detail for the problem answer.
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::Malformed => "the request head is not valid HTTP/1.1",
            Refusal::TooLarge => "the request head is larger than server.max_header_bytes",
            Refusal::UnsupportedVersion => "only HTTP/1.0 and HTTP/1.1 are served",
            Refusal::AmbiguousLength => {
                "Content-Length together with Transfer-Encoding: the body length is ambiguous"
            }
            Refusal::InvalidLength => "Content-Length must be one decimal number",
            Refusal::InvalidTransferEncoding => {
                "Transfer-Encoding must be chunked, once, on an HTTP/1.1 request"
            }
            Refusal::UnsupportedTransferCoding => "no transfer coding but chunked is supported",
            Refusal::ContentEncoding => "request bodies must not have a Content-Encoding",
            Refusal::DuplicateAuthorization => "more than one Authorization header",
            Refusal::InvalidHost => "an HTTP/1.1 request needs exactly one Host header",
        }
    }

    /// The `reason` label of `sever_http_refusals_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::TooLarge => "head_too_large",
            Refusal::UnsupportedVersion => "unsupported_version",
            Refusal::AmbiguousLength => "ambiguous_length",
            Refusal::InvalidLength => "invalid_length",
            Refusal::InvalidTransferEncoding => "invalid_transfer_encoding",
            Refusal::UnsupportedTransferCoding => "unsupported_transfer_coding",
            Refusal::ContentEncoding => "content_encoding",
            Refusal::DuplicateAuthorization => "duplicate_authorization",
            Refusal::InvalidHost => "invalid_host",
        }
    }

    /// Every refusal (for metric labels and tests).
    pub const ALL: [Refusal; 10] = [
        Refusal::Malformed,
        Refusal::TooLarge,
        Refusal::UnsupportedVersion,
        Refusal::AmbiguousLength,
        Refusal::InvalidLength,
        Refusal::InvalidTransferEncoding,
        Refusal::UnsupportedTransferCoding,
        Refusal::ContentEncoding,
        Refusal::DuplicateAuthorization,
        Refusal::InvalidHost,
    ];
}

/// Looks at the bytes received so far on a connection for a complete request head of at
/// most `max_header_bytes` bytes.
///
/// Linear in `buf.len()` apart from one parse once the blank line is found, so a head
/// trickled a byte at a time costs no more than one sent whole (the caller may pass the
/// growing buffer again after each read).
pub fn scan_head(buf: &[u8], max_header_bytes: usize) -> HeadScan {
    let window = &buf[..buf.len().min(max_header_bytes)];
    // RFC 9112 §2.2: empty lines before the request line are ignored (httparse skips them).
    let start = window
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(window.len());
    match find_head_end(&window[start..]) {
        Some(_) => parse(window),
        None if buf.len() >= max_header_bytes => HeadScan::Refused(Refusal::TooLarge),
        None => HeadScan::Incomplete,
    }
}

/// Where the blank line ending the head is (`\n\n` or `\n\r\n`, as httparse accepts both).
fn find_head_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(i) = bytes[at..].iter().position(|&b| b == b'\n') {
        let nl = at + i;
        match bytes.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if bytes.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => at = nl + 1,
        }
    }
    None
}

fn parse(window: &[u8]) -> HeadScan {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(window) {
        Ok(httparse::Status::Complete(len)) => {
            let http11 = request.version == Some(1);
            match check(request.headers, http11) {
                Ok((body, expect_continue)) => HeadScan::Complete(Head {
                    len,
                    http11,
                    body,
                    expect_continue,
                }),
                Err(refusal) => HeadScan::Refused(refusal),
            }
        }
        // A blank line was seen, so a partial parse means the head is not HTTP.
        Ok(httparse::Status::Partial) => HeadScan::Refused(Refusal::Malformed),
        Err(httparse::Error::TooManyHeaders) => HeadScan::Refused(Refusal::TooLarge),
        Err(httparse::Error::Version) if names_another_version(window) => {
            HeadScan::Refused(Refusal::UnsupportedVersion)
        }
        Err(_) => HeadScan::Refused(Refusal::Malformed),
    }
}

/// Whether the request line is `METHOD SP TARGET SP HTTP/d.d` with a version httparse
/// does not take (`HTTP/2.0`, `HTTP/1.2`).
fn names_another_version(window: &[u8]) -> bool {
    let line = window
        .iter()
        .skip_while(|b| matches!(b, b'\r' | b'\n'))
        .take_while(|&&b| b != b'\n')
        .copied()
        .collect::<Vec<u8>>();
    let line = line.strip_suffix(b"\r").unwrap_or(&line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match parts.as_slice() {
        [method, target, version] if !method.is_empty() && !target.is_empty() => {
            matches!(version, [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
                if major.is_ascii_digit() && minor.is_ascii_digit())
        }
        _ => false,
    }
}

/// The body framing and `Expect: 100-continue`, or why the fields are refused.
fn check(headers: &[httparse::Header<'_>], http11: bool) -> Result<(BodyFraming, bool), Refusal> {
    let mut length: Option<u64> = None;
    let mut lengths = 0;
    let mut codings = Codings::default();
    let mut hosts = 0;
    let mut authorizations = 0;
    let mut expect_continue = false;
    for h in headers {
        let name = h.name.as_bytes();
        let value = trim(h.value);
        if name.eq_ignore_ascii_case(b"content-length") {
            lengths += 1;
            length = Some(parse_length(value).ok_or(Refusal::InvalidLength)?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            codings.add(value);
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            if !value.eq_ignore_ascii_case(b"identity") {
                return Err(Refusal::ContentEncoding);
            }
        } else if name.eq_ignore_ascii_case(b"authorization") {
            authorizations += 1;
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case(b"expect") {
            // Other expectations are ignored (RFC 9110 §10.1.1 allows 417, not requires).
            expect_continue |= http11 && value.eq_ignore_ascii_case(b"100-continue");
        }
    }
    if authorizations > 1 {
        return Err(Refusal::DuplicateAuthorization);
    }
    if hosts > 1 || (http11 && hosts == 0) {
        return Err(Refusal::InvalidHost);
    }
    if lengths > 1 {
        return Err(Refusal::InvalidLength);
    }
    let body = if codings.seen {
        if lengths > 0 {
            return Err(Refusal::AmbiguousLength);
        }
        codings.framing(http11)?
    } else {
        match length {
            None | Some(0) => BodyFraming::Empty,
            Some(n) => BodyFraming::Length(n),
        }
    };
    Ok((body, expect_continue && body != BodyFraming::Empty))
}

/// The `Transfer-Encoding` field lines of a request, combined.
#[derive(Debug, Default)]
struct Codings {
    seen: bool,
    /// How many list members, `chunked` or not.
    count: usize,
    chunked: usize,
    last_is_chunked: bool,
}

impl Codings {
    fn add(&mut self, value: &[u8]) {
        self.seen = true;
        // Empty list members are ignored (RFC 9110 §5.6.1).
        for member in value
            .split(|&b| b == b',')
            .map(trim)
            .filter(|m| !m.is_empty())
        {
            // A coding's parameters (`;q=…`) are part of it: only bare `chunked` counts.
            let chunked = member.eq_ignore_ascii_case(b"chunked");
            self.count += 1;
            self.chunked += usize::from(chunked);
            self.last_is_chunked = chunked;
        }
    }

    fn framing(&self, http11: bool) -> Result<BodyFraming, Refusal> {
        if !http11 || !self.last_is_chunked || self.chunked > 1 {
            return Err(Refusal::InvalidTransferEncoding);
        }
        if self.count > 1 {
            return Err(Refusal::UnsupportedTransferCoding);
        }
        Ok(BodyFraming::Chunked)
    }
}

/// `1*DIGIT`, at most 19 digits (fits in a u64).
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &value[start..end.max(start)]
}

#[cfg(test)]
#[path = "framing_tests.rs"]
mod tests;
