//! What the identity-provider simulators (Keycloak, Okta, Entra ID) share: the access
//! tokens a simulator issued and their expiry by its own clock ([`TokenBook`]), a strict
//! form reader, the bearer credential of a call, and OAuth2 error answers. Test code,
//! independent of the SDK's token helper it checks.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use percent_encoding::percent_decode_str;
use serde_json::{json, Map, Value};

pub(crate) use super::calls::{credentials, media_type};

/// The only content type a token endpoint takes.
pub(crate) const FORM: &str = "application/x-www-form-urlencoded";

/// Why a bearer token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// No `Authorization: Bearer …` at all.
    Missing,
    /// Not a token this simulator issued (or one it forgot).
    Unknown,
    /// Issued, but past its expiry by the simulator's clock.
    Expired,
}

/// The tokens a simulator issued: each valid until its expiry by the simulator's own
/// clock, which [`TokenBook::expire_all`] moves past every one of them.
#[derive(Debug, Default)]
pub(crate) struct TokenBook {
    inner: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    /// Token → when it expires.
    valid: HashMap<String, Instant>,
    /// Every token issued, in order.
    issued: Vec<String>,
}

impl TokenBook {
    /// A fresh random token valid for `lifetime`.
    pub(crate) fn issue(&self, lifetime: Duration) -> String {
        let token = random_hex();
        let mut book = self.inner.lock();
        book.valid.insert(token.clone(), Instant::now() + lifetime);
        book.issued.push(token.clone());
        token
    }

    /// Whether `Authorization: Bearer <token>` carries a valid token this book issued.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<String, Refused> {
        let token = credentials(headers, "bearer").ok_or(Refused::Missing)?;
        let book = self.inner.lock();
        match book.valid.get(token) {
            None => Err(Refused::Unknown),
            Some(expires) if Instant::now() >= *expires => Err(Refused::Expired),
            Some(_) => Ok(token.to_owned()),
        }
    }

    /// Every token issued so far, in order.
    pub(crate) fn issued(&self) -> Vec<String> {
        self.inner.lock().issued.clone()
    }

    /// The simulator's clock jumps past the expiry of every token issued so far.
    pub(crate) fn expire_all(&self) {
        let now = Instant::now();
        for expires in self.inner.lock().valid.values_mut() {
            *expires = now;
        }
    }
}

/// `a=b&c=d`, `+` as space, percent-decoded UTF-8; `None` if malformed, if a key repeats,
/// or if a key is empty.
pub(crate) fn parse_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(body).ok()?;
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|s| s.into_owned())
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in text.split('&') {
        let (key, value) = pair.split_once('=')?;
        let key = decode(key)?;
        if key.is_empty() || pairs.iter().any(|(k, _)| *k == key) {
            return None;
        }
        pairs.push((key, decode(value)?));
    }
    Some(pairs)
}

/// A form's value by key.
pub(crate) fn field<'a>(form: &'a [(String, String)], key: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// An OAuth2 error answer (RFC 6749 §5.2): `{"error", "error_description", …extra}`, with
/// `WWW-Authenticate` on a 401 and `Cache-Control: no-store`.
pub(crate) fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
    extra: Map<String, Value>,
) -> Response {
    let mut body = json!({ "error": error, "error_description": description });
    if let Some(object) = body.as_object_mut() {
        object.extend(extra);
    }
    let mut response = json_response(status, &body);
    if status == StatusCode::UNAUTHORIZED {
        let value = HeaderValue::from_static("Basic realm=\"token\"");
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// A token answer: `{"access_token", "token_type": "Bearer", "expires_in", …extra}`.
pub(crate) fn token_answer(token: &str, expires_in_s: u64, extra: Map<String, Value>) -> Response {
    let mut body =
        json!({ "access_token": token, "token_type": "Bearer", "expires_in": expires_in_s });
    if let Some(object) = body.as_object_mut() {
        object.extend(extra);
    }
    json_response(StatusCode::OK, &body)
}

/// `status` with a JSON body and `Cache-Control: no-store` (tokens and their errors).
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// 64 random hex digits (std's per-instance random hash keys; good enough for a simulator).
pub(crate) fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    (0..4)
        .map(|_| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

/// The path's segments after `prefix` (a raw, still-encoded path), each percent-decoded;
/// `None` when the path does not start with `prefix` or a segment is not UTF-8. An empty
/// segment stays (so `/a//b` does not pass for `/a/b`).
pub(crate) fn segments_after(path: &str, prefix: &str) -> Option<Vec<String>> {
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let rest = rest.strip_prefix('/')?;
    rest.split('/').map(super::calls::decode_segment).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn forms_are_read_strictly() {
        let form = parse_form(b"a=1&b=x%20y+z").unwrap();
        assert_eq!(field(&form, "b"), Some("x y z"));
        for bad in [&b"a=1&a=2"[..], b"a", b"=1", b"a=%ff", b"a=1&"] {
            assert_eq!(parse_form(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tokens_expire_by_the_simulators_clock() {
        let book = TokenBook::default();
        let token = book.issue(Duration::from_secs(60));
        let mut headers = HeaderMap::new();
        assert_eq!(book.check(&headers), Err(Refused::Missing));
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        assert_eq!(book.check(&headers).as_deref(), Ok(token.as_str()));
        book.expire_all();
        assert_eq!(book.check(&headers), Err(Refused::Expired));
        headers.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert_eq!(book.check(&headers), Err(Refused::Unknown));
    }

    #[test]
    fn segments_keep_encoded_slashes_inside_their_segment() {
        let got = segments_after("/admin/realms/r/users/a%2Fb/logout", "/admin/realms");
        assert_eq!(got.unwrap(), ["r", "users", "a/b", "logout"]);
        assert_eq!(segments_after("/other", "/admin"), None);
        assert_eq!(segments_after("/adminx", "/admin"), None);
    }
}
