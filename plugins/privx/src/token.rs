//! The OAuth2 side of the adapter: the token request (resource-owner password grant with
//! the API client's credentials), reading the token endpoint's answer, and the per-backend
//! token cache shared by every request on every thread.

use parking_lot::Mutex;
use serde_json::Value;
use sever_plugin_sdk::prelude::*;

use crate::answer;

/// The sharing key of the token step: concurrent flows on one backend that find no valid
/// token cause one token request, whose answer the host hands to all of them.
pub(crate) const SHARE_KEY: &str = "token";

/// A cached token is not used within this long of its expiry (at most; see [`margin_ms`]).
const MAX_MARGIN_MS: u64 = 30_000;

/// The lifetime assumed when the answer carries no usable `expires_in` (PrivX's usual 300 s;
/// a token that dies earlier is replaced on its first 401).
const DEFAULT_LIFETIME_S: u64 = 300;

/// The API client's credentials, pre-encoded once per backend.
#[derive(Debug)]
pub(crate) struct Credentials {
    /// `Basic base64(oauth_client_id:oauth_client_secret)`.
    authorization: String,
    /// `grant_type=password&username=…&password=…`, each value form-encoded.
    form: String,
    /// Every literal that would reveal a secret where the token request is shown.
    secrets: Vec<String>,
}

impl Credentials {
    pub(crate) fn new(
        oauth_client_id: &str,
        oauth_client_secret: &str,
        api_client_id: &str,
        api_client_secret: &str,
    ) -> Self {
        let basic = encode::basic_auth(oauth_client_id, oauth_client_secret);
        let password = encode::component(api_client_secret);
        let form = format!(
            "grant_type=password&username={}&password={password}",
            encode::component(api_client_id)
        );
        let mut secrets = vec![
            basic.clone(),
            oauth_client_secret.to_owned(),
            api_client_secret.to_owned(),
            password,
        ];
        secrets.sort();
        secrets.dedup();
        Credentials {
            authorization: format!("Basic {basic}"),
            form,
            secrets,
        }
    }

    /// `POST {url}/auth/api/v1/oauth/token`: shared, safe to repeat, every secret listed
    /// for redaction.
    pub(crate) fn request(&self, base_url: &str) -> VendorRequest {
        let url = encode::url_with_segments(base_url, &["auth", "api", "v1", "oauth", "token"]);
        let mut request = VendorRequest::new("POST", url)
            .header("authorization", self.authorization.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(self.form.clone())
            .idempotent(true)
            .share(SHARE_KEY)
            .purpose("token");
        request.redact.extend(self.secrets.iter().cloned());
        request
    }
}

/// A token the endpoint issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    /// Seconds, as the endpoint said (or the assumed default).
    pub(crate) expires_in_s: u64,
}

/// How long before expiry a token stops being used: 30 s, or a quarter of its lifetime for
/// short-lived tokens (so a 4 s token is still used for 3 s).
fn margin_ms(lifetime_ms: u64) -> u64 {
    MAX_MARGIN_MS.min(lifetime_ms / 4)
}

#[derive(Debug, Clone)]
struct Cached {
    access_token: String,
    /// `env.unix_ms` from which on the token is no longer handed out.
    stale_at_ms: u64,
}

/// The backend's current token, shared by all flows on all threads.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    slot: Mutex<Option<Cached>>,
}

impl TokenCache {
    /// The cached token, unless it is missing or within the margin of its expiry.
    pub(crate) fn valid(&self, now_ms: u64) -> Option<String> {
        let slot = self.slot.lock();
        slot.as_ref()
            .filter(|cached| now_ms < cached.stale_at_ms)
            .map(|cached| cached.access_token.clone())
    }

    /// Caches a token just received (at `now_ms`).
    pub(crate) fn store(&self, issued: &Issued, now_ms: u64) {
        let lifetime_ms = issued.expires_in_s.saturating_mul(1000);
        let stale_at_ms = now_ms
            .saturating_add(lifetime_ms)
            .saturating_sub(margin_ms(lifetime_ms));
        *self.slot.lock() = Some(Cached {
            access_token: issued.access_token.clone(),
            stale_at_ms,
        });
    }

    /// Drops the cached token if it is still `access_token` (the one the vendor refused);
    /// a newer token some other flow cached meanwhile is kept.
    pub(crate) fn forget(&self, access_token: &str) {
        let mut slot = self.slot.lock();
        if slot
            .as_ref()
            .is_some_and(|cached| cached.access_token == access_token)
        {
            *slot = None;
        }
    }
}

/// Reads the token endpoint's answer: the token, or the canonical problem.
pub(crate) fn read_answer(response: &VendorResponse<'_>) -> Result<Issued, Problem> {
    if response.status == 200 {
        return read_token(response);
    }
    let body = response.json();
    let field = |name: &str| answer::member(body.as_ref(), name);
    // OAuth2's `{error, error_description}`; PrivX's own `{error_code, error_message}` too,
    // should a gateway in front answer in that shape.
    let vendor_code = field("error").or_else(|| field("error_code"));
    let description = field("error_description").or_else(|| field("error_message"));
    let message = description
        .clone()
        .or_else(|| vendor_code.clone())
        .unwrap_or_else(|| vendor::excerpt(response.body));
    let shown = if message.is_empty() {
        "no error body".to_owned()
    } else {
        message.clone()
    };
    let said = match (&vendor_code, &description) {
        (Some(code), Some(text)) => format!("{code} ({text})"),
        _ => shown,
    };
    let (code, detail) = match response.status {
        400 | 401 | 403 => (
            ProblemKind::CredentialsRefused,
            format!(
                "privx: the token endpoint refused the OAuth client or API client credentials \
                 ({}): {said}",
                response.status
            ),
        ),
        404 => (
            ProblemKind::Rejected,
            format!("privx: no token endpoint at this backend url (404): {said}"),
        ),
        status => (
            vendor::kind_for_status(status),
            format!("privx: the token endpoint answered {status}: {said}"),
        ),
    };
    let message = (!message.is_empty()).then_some(message);
    Err(vendor::problem(
        code,
        response,
        vendor_code.as_deref(),
        message.as_deref(),
        detail,
    ))
}

/// A 200 answer: `{"access_token", "token_type": "bearer", "expires_in", …}`. The body is
/// never echoed (it may hold tokens).
fn read_token(response: &VendorResponse<'_>) -> Result<Issued, Problem> {
    let unreadable = |what: &str| {
        Err(vendor::problem(
            ProblemKind::Unreadable,
            response,
            None,
            None,
            format!("privx: the token endpoint answered 200 {what}"),
        ))
    };
    let Some(Value::Object(body)) = response.json() else {
        return unreadable("with a body that is not a JSON object");
    };
    let access_token = match body.get("access_token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => token,
        _ => return unreadable("without an access_token"),
    };
    // It goes into a header: anything but visible ASCII would be unsafe or mangled there.
    if !access_token.bytes().all(|b| b.is_ascii_graphic()) {
        return unreadable("with an access_token that cannot be sent in a header");
    }
    match body.get("token_type").and_then(Value::as_str) {
        None => {}
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(_) => return unreadable("with a token_type other than bearer"),
    }
    let expires_in_s = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .unwrap_or(DEFAULT_LIFETIME_S);
    Ok(Issued {
        access_token: access_token.to_owned(),
        expires_in_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_thirty_seconds_or_a_quarter_of_a_short_lifetime() {
        assert_eq!(margin_ms(300_000), 30_000);
        assert_eq!(margin_ms(4_000), 1_000);
        assert_eq!(margin_ms(0), 0);
    }

    #[test]
    fn forget_keeps_a_token_that_replaced_the_refused_one() {
        let cache = TokenCache::default();
        let issued = |t: &str| Issued {
            access_token: t.into(),
            expires_in_s: 300,
        };
        cache.store(&issued("old"), 0);
        cache.store(&issued("new"), 0);
        cache.forget("old");
        assert_eq!(cache.valid(1).as_deref(), Some("new"));
        cache.forget("new");
        assert_eq!(cache.valid(1), None);
    }

    #[test]
    fn expires_in_may_be_a_string_and_defaults_when_missing() {
        let answer = |body: &str| {
            read_answer(&VendorResponse {
                status: 200,
                headers: &[],
                body: body.as_bytes(),
            })
        };
        let issued = answer(r#"{"access_token":"t","expires_in":"60"}"#);
        assert_eq!(issued.map(|i| i.expires_in_s), Ok(60));
        let issued = answer(r#"{"access_token":"t","token_type":"Bearer"}"#);
        assert_eq!(issued.map(|i| i.expires_in_s), Ok(DEFAULT_LIFETIME_S));
        assert!(answer(r#"{"access_token":"t","token_type":"mac"}"#).is_err());
        assert!(answer(r#"{"access_token":"a b"}"#).is_err());
    }
}
