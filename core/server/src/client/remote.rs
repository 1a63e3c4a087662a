//! The connection to a running Sever: where it is, the caller's token, and one blocking
//! HTTP exchange per command (ureq: already in the tree, small, synchronous — the client
//! needs no runtime).

use clap::Args;
use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use ureq::http;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// The environment variable holding the bearer token.
pub(crate) const TOKEN_ENV: &str = "SEVER_TOKEN";

/// Where the running Sever is and how to authenticate to it (shared by every client
/// command). The token is never a flag value: a flag would show in `ps`, in shell history
/// and in CI logs.
#[derive(Debug, Clone, Args)]
pub(crate) struct Connection {
    /// Sever's base URL.
    #[arg(long, env = "SEVER_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// Read the bearer token from this file (surrounding whitespace and a final newline
    /// are dropped) [default: the token in $SEVER_TOKEN].
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// PEM CA certificates to trust for an https:// URL [default: the public web PKI roots].
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// PEM client certificate chain, for a Sever that asks for one (mTLS).
    #[arg(long, value_name = "FILE", requires = "key_file")]
    pub(crate) cert_file: Option<PathBuf>,
    /// PEM private key of --cert-file.
    #[arg(long, value_name = "FILE", requires = "cert_file")]
    pub(crate) key_file: Option<PathBuf>,
    /// Give up on Sever's answer after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub(crate) timeout_ms: u64,
    /// Refused, with a word on where the token goes (hidden: only there to say so).
    #[arg(long, hide = true, value_name = "TOKEN")]
    pub(crate) token: Option<String>,
}

/// Why the client could not get an answer from Sever.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// A file named on the command line could not be read.
    #[error("{flag} {}: {source}", path.display())]
    File {
        flag: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// `--token VALUE`: a token on the command line would show in `ps`, shell history
    /// and CI logs.
    #[error(
        "--token is refused: a token on the command line shows in `ps`, shell history and \
         CI logs; put it in $SEVER_TOKEN or in a file named by --token-file"
    )]
    TokenFlag,
    /// The token cannot go into an `Authorization` header.
    #[error("the token from {origin} is empty or has whitespace or control characters inside")]
    BadToken { origin: String },
    /// PEM that holds no usable certificate or key.
    #[error("{flag} {}: {reason}", path.display())]
    Pem {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// `--url` is not an http(s) URL.
    #[error("--url {url}: {reason}")]
    BadUrl { url: String, reason: String },
    /// No answer (refused, reset, TLS failure, timeout).
    #[error("no answer from Sever at {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

impl ClientError {
    /// A mistake in the command line or its files (exit status 2), not in the exchange.
    pub(crate) fn is_usage(&self) -> bool {
        !matches!(self, ClientError::Unreachable { .. })
    }
}

/// One answer from Sever, whatever its status.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// Header names in lower case.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) text: String,
    /// The body, when it is JSON.
    pub(crate) json: Option<Value>,
}

impl Reply {
    /// The first value of a header (name in lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A configured client for one Sever.
#[derive(Debug)]
pub(crate) struct Remote {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Remote {
    /// Reads the token (from `--token-file`, else `$SEVER_TOKEN`; none is fine: a Sever
    /// with `insecure_no_auth` needs none, and any other answers 401) and sets up TLS.
    pub(crate) fn new(c: &Connection) -> Result<Remote, ClientError> {
        if c.token.is_some() {
            return Err(ClientError::TokenFlag);
        }
        let token = match &c.token_file {
            Some(path) => Some(read_token_file(path)?),
            None => std::env::var(TOKEN_ENV)
                .ok()
                .filter(|t| !t.is_empty())
                .map(|t| checked_token(t.trim().to_owned(), TOKEN_ENV))
                .transpose()?,
        };
        let base = c.url.trim_end_matches('/').to_owned();
        check_url(&base)?;
        let tls = tls_config(c)?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_millis(c.timeout_ms)))
            .tls_config(tls)
            .build();
        Ok(Remote {
            base,
            token,
            agent: config.into(),
        })
    }

    /// The base URL, as used in messages.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Whether a token will be sent.
    pub(crate) fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `GET path`, with the token when `authorized`.
    pub(crate) fn get(&self, path: &str, authorized: bool) -> Result<Reply, ClientError> {
        self.send("GET", path, authorized, &[], None)
    }

    /// `POST path` with a JSON body and extra headers, with the token.
    pub(crate) fn post_json(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ClientError> {
        let bytes = body.to_string().into_bytes();
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send("POST", path, true, &all, Some(bytes))
    }

    /// `POST path` without a body, with the token.
    pub(crate) fn post_empty(&self, path: &str) -> Result<Reply, ClientError> {
        self.send("POST", path, true, &[], Some(Vec::new()))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        authorized: bool,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<Reply, ClientError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        };
        let mut builder = http::Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let (true, Some(token)) = (authorized, &self.token) {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let bad_url = |e: http::Error| ClientError::BadUrl {
            url: self.base.clone(),
            reason: e.to_string(),
        };
        let response = match body {
            Some(body) => self
                .agent
                .run(builder.body(body).map_err(bad_url)?)
                .map_err(unreachable)?,
            None => self
                .agent
                .run(builder.body(()).map_err(bad_url)?)
                .map_err(unreachable)?,
        };
        read_reply(response).map_err(unreachable)
    }
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

fn read_file(flag: &'static str, path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|source| ClientError::File {
        flag,
        path: path.to_owned(),
        source,
    })
}

fn read_token_file(path: &Path) -> Result<String, ClientError> {
    let bytes = read_file("--token-file", path)?;
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    checked_token(text, &format!("--token-file {}", path.display()))
}

/// A token that fits in a header as it is: visible ASCII, no space inside.
fn checked_token(token: String, origin: &str) -> Result<String, ClientError> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ClientError::BadToken {
            origin: origin.to_owned(),
        });
    }
    Ok(token)
}

fn check_url(url: &str) -> Result<(), ClientError> {
    let bad = |reason: &str| ClientError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("must start with http:// or https://")),
    }
    if uri.host().is_none() {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("must not have a query"));
    }
    Ok(())
}

fn certificates(flag: &'static str, path: &Path) -> Result<Vec<Certificate<'static>>, ClientError> {
    let pem = read_file(flag, path)?;
    let pem_error = |reason: String| ClientError::Pem {
        flag,
        path: path.to_owned(),
        reason,
    };
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item.map_err(|e| pem_error(e.to_string()))? {
            PemItem::Certificate(cert) => certs.push(cert),
            _ => continue,
        }
    }
    if certs.is_empty() {
        return Err(pem_error("no PEM certificate in it".to_owned()));
    }
    Ok(certs)
}

fn tls_config(c: &Connection) -> Result<TlsConfig, ClientError> {
    let mut tls = TlsConfig::builder();
    if let Some(path) = &c.ca_file {
        tls = tls.root_certs(RootCerts::new_with_certs(&certificates("--ca-file", path)?));
    }
    if let (Some(cert), Some(key)) = (&c.cert_file, &c.key_file) {
        let chain = certificates("--cert-file", cert)?;
        let pem = read_file("--key-file", key)?;
        let key = PrivateKey::from_pem(&pem).map_err(|e| ClientError::Pem {
            flag: "--key-file",
            path: key.clone(),
            reason: e.to_string(),
        })?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&chain, key)));
    }
    Ok(tls.build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_token_with_a_space_inside_is_refused_and_a_final_newline_is_not() {
        assert!(checked_token("a b".into(), "x").is_err());
        assert!(checked_token(String::new(), "x").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cr3t\n").unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "s3cr3t");
    }

    #[derive(Debug, clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        connection: Connection,
    }

    #[test]
    fn a_token_given_as_a_flag_is_a_usage_error_that_does_not_repeat_it() {
        use clap::Parser;
        let c = Wrapper::try_parse_from(["x", "--token", "s3cr3t"])
            .unwrap()
            .connection;
        let e = Remote::new(&c).unwrap_err();
        assert!(e.is_usage());
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host_and_no_query() {
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("https://sever.example/base").is_ok());
        assert!(check_url("ftp://h").is_err());
        assert!(check_url("127.0.0.1:8080").is_err());
        assert!(check_url("http://h/?a=1").is_err());
    }
}
