//! The pingora application serving the canonical API.

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::listeners::TlsAccept;
use pingora::protocols::http::ServerSession;
use pingora::protocols::tls::TlsRef;
use sever_engine::api::{Body, Incoming, Listener};
use sever_engine::auth::PeerCertificate;
use sever_engine::live::Live;
use std::any::Any;
use std::sync::Arc;

/// Serves the canonical API (or, on `metrics_listen`, only `/metrics`).
#[derive(Debug)]
pub(crate) struct ApiApp {
    live: Arc<Live>,
    metrics_only: bool,
}

impl ApiApp {
    /// The main listener's app.
    pub(crate) fn new(live: Arc<Live>) -> Self {
        ApiApp {
            live,
            metrics_only: false,
        }
    }

    /// The `metrics_listen` app: `/metrics` only.
    pub(crate) fn metrics_only(live: Arc<Live>) -> Self {
        ApiApp {
            live,
            metrics_only: true,
        }
    }
}

/// A caller-supplied `X-Request-Id` is kept when it is 1–128 characters of
/// `[A-Za-z0-9._:-]`; otherwise a fresh UUID is used.
fn request_id(session: &ServerSession) -> String {
    let given = session.get_header_bytes("x-request-id");
    let valid = !given.is_empty()
        && given.len() <= 128
        && given
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if valid {
        String::from_utf8_lossy(given).into_owned()
    } else {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Records the names of the client certificate at the end of each TLS handshake, for
/// [`peer_certificate`] to read on every request of that connection.
///
/// pingora's rustls listener keeps the peer's certificates only during the handshake; what
/// this callback returns is stored in the connection's `SslDigest` extension, which the
/// HTTP session exposes. The certificate was already verified by then (rustls' WebPKI
/// client verifier against `server.tls.client_ca_path`; the handshake fails otherwise), so
/// only its names are read here.
#[derive(Debug)]
pub(crate) struct ClientCertificates;

#[async_trait]
impl TlsAccept for ClientCertificates {
    async fn handshake_complete_callback(
        &self,
        tls: &TlsRef,
    ) -> Option<Arc<dyn Any + Send + Sync>> {
        let der = tls.peer_certificate_der()?;
        match PeerCertificate::from_der(der) {
            Ok(peer) => Some(Arc::new(peer)),
            Err(e) => {
                // The caller can still authenticate with a bearer token.
                tracing::warn!(error = %e, "cannot read the names of a verified client certificate");
                None
            }
        }
    }
}

/// The verified client certificate of the request's connection, if it presented one.
fn peer_certificate(session: &ServerSession) -> Option<&PeerCertificate> {
    session
        .digest()?
        .ssl_digest
        .as_deref()?
        .extension
        .get::<PeerCertificate>()
}

/// A pingora session as the engine's API reads it.
struct Session<'a>(&'a mut ServerSession);

impl Incoming for Session<'_> {
    fn method(&self) -> &str {
        self.0.req_header().method.as_str()
    }

    fn path(&self) -> &str {
        self.0.req_header().uri.path()
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get_header(name).map(|v| v.as_bytes())
    }

    fn peer_certificate(&self) -> Option<&PeerCertificate> {
        peer_certificate(self.0)
    }

    async fn read_body(&mut self, limit: usize) -> Body {
        let session = &mut *self.0;
        // A declared length over the limit is refused before reading a byte.
        let declared = std::str::from_utf8(session.get_header_bytes("content-length"))
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Body::TooLarge;
        }
        let mut body = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
        loop {
            match session.read_request_body().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        // The rest of the body is never read; `response` closes the
                        // connection.
                        return Body::TooLarge;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Body::Complete(body),
                Err(e) => return Body::Broken(e.to_string()),
            }
        }
    }
}

#[async_trait]
impl ServeHttp for ApiApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let request_id = request_id(session);
        let is_head = session.req_header().method == http::Method::HEAD;
        // The Sever in force when the request arrived serves all of it, even if a reload
        // swaps in another meanwhile.
        let sever = self.live.load();
        let listener = if self.metrics_only {
            Listener::MetricsOnly
        } else {
            Listener::Api
        };
        let answer = sever
            .serve(&mut Session(session), &request_id, listener)
            .await;
        // A body left unread (a refusal before reading it) would have to be drained before
        // the connection could carry another request: close it instead.
        if !session.is_body_done() && !session.is_body_empty() {
            session.set_keepalive(None);
        }
        // An idempotent replay carries the first answer's request id instead.
        let own_id = !answer.headers.iter().any(|(n, _)| *n == "x-request-id");
        let mut builder = Response::builder().status(answer.status);
        if own_id {
            builder = builder.header("x-request-id", &request_id);
        }
        builder = builder
            .header("content-length", answer.body.len())
            .header("cache-control", "no-store");
        for (name, value) in &answer.headers {
            builder = builder.header(*name, value);
        }
        let body = if is_head { Vec::new() } else { answer.body };
        builder.body(body).unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the answer");
            let mut r = Response::new(Vec::new());
            *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}
