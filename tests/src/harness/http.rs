//! A small blocking HTTP client for tests, on ureq 3.
//!
//! Every answer is a [`Reply`], whatever its status: 4xx and 5xx are what most tests are
//! about, so they are never turned into errors. Only transport failures (refused, reset,
//! timed out) are errors, from the `try_` functions; the others panic on them.
//! Requests have a 10 s overall timeout so a stuck server fails a test instead of hanging it.
//! Each call opens a fresh connection unless a [`Client`] is reused.

use std::time::Duration;

use serde_json::Value;
use ureq::http;

/// Overall limit for one request, connect to last byte.
const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP answer: status, headers (names lowercased), body text and, when the body is
/// JSON, its parsed value.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
    pub json: Option<Value>,
}

impl Reply {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The JSON body; panics (showing the answer) if the body is not JSON.
    pub fn json(&self) -> &Value {
        self.json
            .as_ref()
            .unwrap_or_else(|| panic!("answer is not JSON: {self:#?}"))
    }

    /// The body's `code` field, if any.
    pub fn code(&self) -> Option<&str> {
        self.json.as_ref()?.get("code")?.as_str()
    }

    /// Asserts a canonical success (200, `application/json`, `X-Request-Id` equal to the
    /// body's `request_id`) and returns the body.
    pub fn expect_success(&self) -> &Value {
        assert_eq!(self.status, 200, "expected a success: {self:#?}");
        self.expect_content_type("application/json");
        self.expect_request_id();
        self.json()
    }

    /// Asserts a canonical problem (RFC 9457): this status and `code`,
    /// `application/problem+json`, `status` in the body, `X-Request-Id` equal to the body's
    /// `request_id`; returns the body.
    pub fn expect_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "expected a {status} {code} problem: {self:#?}"
        );
        self.expect_content_type("application/problem+json");
        self.expect_request_id();
        let body = self.json();
        assert_eq!(body["status"], status, "problem's status field: {self:#?}");
        assert!(body["title"].is_string(), "problem has no title: {self:#?}");
        body
    }

    fn expect_content_type(&self, media_type: &str) {
        let content_type = self.header("content-type").unwrap_or_default();
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        assert!(
            essence.eq_ignore_ascii_case(media_type),
            "expected Content-Type {media_type}: {self:#?}"
        );
    }

    fn expect_request_id(&self) {
        let header = self
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id header: {self:#?}"));
        assert!(!header.is_empty(), "empty X-Request-Id: {self:#?}");
        assert_eq!(
            self.json()["request_id"].as_str(),
            Some(header),
            "X-Request-Id differs from the body's request_id: {self:#?}"
        );
    }
}

/// A client whose connections may be kept alive between calls.
#[derive(Debug, Clone)]
pub struct Client {
    agent: ureq::Agent,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    /// A client that never treats a status as an error, follows no redirect, and gives up
    /// on a request after 10 s.
    pub fn new() -> Self {
        Self::with_timeout(TIMEOUT)
    }

    /// Like [`Client::new`], giving up on a request after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(timeout))
            .build();
        Self {
            agent: config.into(),
        }
    }

    /// Like [`Client::new`], for HTTPS: trusts only the CA certificate `ca_pem` and, when
    /// `identity` is given (certificate chain PEM, private key PEM), presents it to a
    /// server that asks for a client certificate. Panics on PEM it cannot read.
    pub fn https(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Self {
        use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
        let ca = Certificate::from_pem(ca_pem).expect("CA certificate PEM");
        let client_cert = identity.map(|(chain, key)| {
            let chain: Vec<Certificate<'static>> = ureq::tls::parse_pem(chain)
                .filter_map(|item| match item.expect("client certificate PEM") {
                    ureq::tls::PemItem::Certificate(cert) => Some(cert),
                    _ => None,
                })
                .collect();
            ClientCert::new_with_certs(&chain, PrivateKey::from_pem(key).expect("key PEM"))
        });
        let tls = TlsConfig::builder()
            .root_certs(RootCerts::new_with_certs(&[ca]))
            .client_cert(client_cert)
            .build();
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(TIMEOUT))
            .tls_config(tls)
            .build();
        Self {
            agent: config.into(),
        }
    }

    /// Sends any method with exactly these headers (no Content-Type unless given) and an
    /// optional body.
    pub fn try_send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Reply, ureq::Error> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let response = match body {
            Some(body) => self.agent.run(builder.body(body)?)?,
            None => self.agent.run(builder.body(())?)?,
        };
        read_reply(response)
    }

    /// [`Client::try_send`], panicking on a transport error.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        self.try_send(method, url, headers, body)
            .unwrap_or_else(|err| panic!("{method} {url} failed: {err}"))
    }

    /// `POST` with `Content-Type: application/json` and, if given, a bearer token.
    pub fn post_json(&self, url: &str, token: Option<&str>, body: &str) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth));
        }
        self.send("POST", url, &headers, Some(body.as_bytes()))
    }

    /// `GET` with, if given, a bearer token.
    pub fn get(&self, url: &str, token: Option<&str>) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        self.send("GET", url, &headers, None)
    }
}

/// `POST` JSON on a fresh connection; see [`Client::post_json`].
pub fn post_json(url: &str, token: Option<&str>, body: &str) -> Reply {
    Client::new().post_json(url, token, body)
}

/// `GET` on a fresh connection; see [`Client::get`].
pub fn get(url: &str, token: Option<&str>) -> Reply {
    Client::new().get(url, token)
}

/// Any request on a fresh connection; see [`Client::send`].
pub fn send(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    Client::new().send(method, url, headers, body)
}

/// Any request on a fresh connection; see [`Client::try_send`].
pub fn try_send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Reply, ureq::Error> {
    Client::new().try_send(method, url, headers, body)
}

fn read_reply(mut response: http::Response<ureq::Body>) -> Result<Reply, ureq::Error> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_ascii_lowercase(), value)
        })
        .collect();
    let bytes = response.body_mut().read_to_vec()?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = serde_json::from_slice(&bytes).ok();
    Ok(Reply {
        status,
        headers,
        text,
        json,
    })
}
