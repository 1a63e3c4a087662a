//! What a simulator received: every call as it arrived ([`RecordedCall`], kept in a
//! [`CallLog`]), and the readings of a request's head that several contracts share.

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use parking_lot::Mutex;
use percent_encoding::percent_decode_str;

/// One HTTP request as the simulator received it, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The request method, e.g. `PUT`.
    pub method: String,
    /// The path exactly as it arrived on the wire, still percent-encoded, without the query.
    pub raw_path: String,
    /// The query string as it arrived (without `?`), if there was one.
    pub query: Option<String>,
    /// The raw path split on `/` (before decoding, so `%2F` stays inside its segment), each
    /// segment then percent-decoded (lossily, should it not be UTF-8). The leading empty
    /// segment is dropped: `/api/x%2Fy` gives `["api", "x/y"]`.
    pub segments: Vec<String>,
    /// Every header in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossily decoded should it not be UTF-8).
    pub body: String,
    /// The status the simulator answered; `None` when it sent no complete answer (it hung
    /// up, stalled, cut its answer short, or the caller went away while the answer was
    /// being delayed).
    pub status: Option<u16>,
}

impl RecordedCall {
    /// Records a request from its head and its (already read) body.
    pub(crate) fn new(parts: &Parts, body: &Bytes) -> Self {
        let raw_path = parts.uri.path().to_owned();
        let segments = raw_path
            .split('/')
            .skip(1)
            .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
            .collect();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_ascii_lowercase(), value)
            })
            .collect();
        Self {
            method: parts.method.as_str().to_owned(),
            raw_path,
            query: parts.uri.query().map(str::to_owned),
            segments,
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            status: None,
        }
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// The calls a simulator received, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    calls: Mutex<Vec<RecordedCall>>,
    echo: bool,
}

impl CallLog {
    /// A log that also prints one line per answered call to stdout when `echo` is set.
    pub(crate) fn new(echo: bool) -> Self {
        Self {
            calls: Mutex::default(),
            echo,
        }
    }

    /// Appends a call (not yet answered) and returns its index.
    pub(crate) fn record(&self, call: RecordedCall) -> usize {
        let mut calls = self.calls.lock();
        calls.push(call);
        calls.len() - 1
    }

    /// Notes the status answered to call `index` (`None`: hung up without answering).
    pub(crate) fn answered(&self, index: usize, status: Option<u16>) {
        let mut calls = self.calls.lock();
        let Some(call) = calls.get_mut(index) else {
            return; // the log was cleared meanwhile
        };
        call.status = status;
        if self.echo {
            let answer = status.map_or_else(|| "hung up".to_owned(), |s| s.to_string());
            let path = match &call.query {
                Some(query) => format!("{}?{query}", call.raw_path),
                None => call.raw_path.clone(),
            };
            println!("{} {path} -> {answer}", call.method);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedCall> {
        self.calls.lock().clone()
    }

    pub(crate) fn clear(&self) {
        self.calls.lock().clear();
    }
}

/// A path segment percent-decoded, if it decodes to UTF-8.
pub(crate) fn decode_segment(segment: &str) -> Option<String> {
    percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The `Content-Type` as sent (empty if absent or not text).
pub(crate) fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The media type of the `Content-Type`: without parameters, trimmed, in the case it was
/// sent in.
pub(crate) fn media_type(headers: &HeaderMap) -> &str {
    let content_type = content_type(headers);
    content_type.split(';').next().unwrap_or_default().trim()
}

/// The credentials of `Authorization: <scheme> <credentials>` when the scheme is `scheme`
/// (in any case).
pub(crate) fn credentials<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (sent, credentials) = value.split_once(' ')?;
    sent.eq_ignore_ascii_case(scheme).then_some(credentials)
}

/// `(user, password)` from `Authorization: Basic base64(<user>:<password>)`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = credentials(headers, "basic")?;
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}
