//! What a dry-run may show of a vendor request: everything but the secrets.

use crate::plugin::{Plugin, VendorRequest};
use serde_json::{Map, Value};

/// What adapters percent-encode (everything but RFC 3986's unreserved bytes), so that a
/// secret placed in a URL or form body is found in that form too.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Headers whose values are credentials whatever they hold.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "apikey",
];

/// The values of a backend's settings its plugin marks secret.
pub(super) fn secret_values(plugin: &Plugin, settings: &Map<String, Value>) -> Vec<String> {
    plugin
        .info()
        .secret_keys()
        .filter_map(|k| settings.get(k))
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// `request` as it may be shown: every one of `secrets`, every string the adapter listed
/// in `redact`, and the values of credential headers are replaced by [`REDACTED`].
pub(super) fn redacted(secrets: &[String], request: &VendorRequest) -> Value {
    // Each secret also in the forms adapters place values in: percent-encoded (URL
    // paths, query strings, form bodies) and JSON-escaped.
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets.iter().chain(request.redact.iter()) {
        if secret.is_empty() {
            continue;
        }
        let json = Value::from(secret.as_str()).to_string();
        for form in [
            secret.clone(),
            percent_encoding::utf8_percent_encode(secret, URL_COMPONENT).to_string(),
            json.trim_matches('"').to_owned(),
        ] {
            if !forms.contains(&form) {
                forms.push(form);
            }
        }
    }
    // Longest first, so that a secret containing another is replaced whole.
    forms.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let scrub = |text: &str| {
        forms
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), REDACTED))
    };
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let shown = if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
                REDACTED.to_owned()
            } else {
                scrub(value)
            };
            (lower, Value::String(shown))
        })
        .collect();
    serde_json::json!({
        "method": request.method,
        "url": scrub(&request.url),
        "headers": headers,
        "body": scrub(&request.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_and_every_credential_header_is_redacted() {
        let secret = "KEY s3cret/+\"x".to_owned();
        let request = VendorRequest::new(
            "POST",
            format!(
                "http://vendor.test/kick?key={}",
                percent_encoding::utf8_percent_encode(&secret, URL_COMPONENT)
            ),
        )
        .header("authorization", "Bearer anything")
        .header("X-Echo", secret.clone())
        .body(format!("{{\"key\":{}}}", Value::from(secret.as_str())))
        .redact("tok-abc")
        .header("x-token", "tok-abc");
        let shown = redacted(std::slice::from_ref(&secret), &request);
        assert_eq!(
            shown,
            serde_json::json!({
                "method": "POST",
                "url": "http://vendor.test/kick?key=<redacted>",
                "headers": {
                    "authorization": "<redacted>",
                    "x-echo": "<redacted>",
                    "x-token": "<redacted>",
                },
                "body": "{\"key\":\"<redacted>\"}",
            })
        );
    }

    #[test]
    fn a_secret_containing_another_is_replaced_whole() {
        let request = VendorRequest::new("GET", "http://vendor.test/abcdef".into());
        let shown = redacted(&["abc".into(), "abcdef".into()], &request);
        assert_eq!(shown["url"], "http://vendor.test/<redacted>");
    }
}
