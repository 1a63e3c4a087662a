//! What a dry-run may show of a vendor request: everything but the secrets.

use crate::plugin::{Plugin, Step, VendorRequest};
use serde_json::{Map, Value};
use sever_plugin_abi::SqlValue;

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

/// Replaces secrets in text: each in its raw, percent-encoded and JSON-escaped forms.
struct Scrubber {
    forms: Vec<String>,
}

impl Scrubber {
    fn new<'a>(secrets: impl Iterator<Item = &'a String>) -> Self {
        // Each secret also in the forms adapters place values in: percent-encoded (URL
        // paths, query strings, form bodies) and JSON-escaped.
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets {
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
        Scrubber { forms }
    }

    fn scrub(&self, text: &str) -> String {
        self.forms
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), REDACTED))
    }
}

/// `request` as it may be shown: every one of `secrets`, every string the adapter listed
/// in `redact`, and the values of credential headers are replaced by [`REDACTED`].
pub(super) fn redacted(secrets: &[String], request: &VendorRequest) -> Value {
    let scrubber = Scrubber::new(secrets.iter().chain(request.redact.iter()));
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let lower = name.to_ascii_lowercase();
            let shown = if CREDENTIAL_HEADERS.contains(&lower.as_str()) {
                REDACTED.to_owned()
            } else {
                scrubber.scrub(value)
            };
            (lower, Value::String(shown))
        })
        .collect();
    serde_json::json!({
        "method": request.method,
        "url": scrubber.scrub(&request.url),
        "headers": headers,
        "body": scrubber.scrub(&request.body),
    })
}

/// A planned exchange as it may be shown: an HTTP request as [`redacted`] shows it; the
/// others with their `kind` (`redis`, `sql`, `mqtt`, `nats`) and what would be sent — a
/// command's arguments, an SQL text and its parameters, a topic or subject and its
/// payload — every secret replaced by [`REDACTED`].
pub(super) fn redacted_step(secrets: &[String], step: &Step) -> Value {
    let listed = step.exchange().map_or(&[][..], |o| o.redact);
    let scrubber = Scrubber::new(secrets.iter().chain(listed.iter()));
    let s = |text: &str| Value::String(scrubber.scrub(text));
    match step {
        Step::Send(request) => redacted(secrets, request),
        Step::Redis(c) => serde_json::json!({
            "kind": "redis",
            "args": c.args.iter().map(|a| s(a)).collect::<Vec<_>>(),
        }),
        Step::Sql(q) => serde_json::json!({
            "kind": "sql",
            "sql": s(&q.sql),
            "params": q.params.iter().map(|p| match p {
                SqlValue::Text(t) => serde_json::json!({ "text": s(t) }),
                other => serde_json::to_value(other).unwrap_or(Value::Null),
            }).collect::<Vec<_>>(),
        }),
        Step::Mqtt(m) => serde_json::json!({
            "kind": "mqtt",
            "topic": s(&m.topic),
            "qos": m.qos,
            "payload": s(&m.payload),
            "response_topic": s(&m.response_topic),
        }),
        Step::Nats(n) => serde_json::json!({
            "kind": "nats",
            "subject": s(&n.subject),
            "payload": s(&n.payload),
            "gather_ms": n.gather_ms,
        }),
        Step::Done(_) | Step::Fail(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
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

    #[test]
    fn a_planned_exchange_beyond_http_shows_what_would_be_sent_without_its_secrets() {
        use sever_plugin_abi::{Exchange, RedisCommand, SqlQuery};
        let command = Step::Redis(RedisCommand {
            args: vec!["AUTH".into(), "pw-1".into(), "CLIENT".into()],
            exchange: Exchange::default(),
        });
        assert_eq!(
            redacted_step(&["pw-1".into()], &command),
            serde_json::json!({"kind": "redis", "args": ["AUTH", "<redacted>", "CLIENT"]})
        );
        let query = Step::Sql(SqlQuery {
            sql: "SELECT $1".into(),
            params: vec![SqlValue::Int4(7), SqlValue::Text("tok-9".into())],
            exchange: Exchange {
                redact: vec!["tok-9".into()],
                ..Exchange::default()
            },
        });
        assert_eq!(
            redacted_step(&[], &query),
            serde_json::json!({"kind": "sql", "sql": "SELECT $1",
                               "params": [{"int4": 7}, {"text": "<redacted>"}]})
        );
    }
}
