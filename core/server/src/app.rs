//! One request on a pingora HTTP/1.1 session: the engine's view of it ([`Incoming`]),
//! and its answer written back; plus the TLS callback naming client certificates.

use async_trait::async_trait;
use pingora::http::ResponseHeader;
use pingora::listeners::TlsAccept;
use pingora::protocols::http::v1::server::HttpSession;
use pingora::protocols::tls::TlsRef;
use sever_engine::api::{Body, Incoming, Listener};
use sever_engine::auth::PeerCertificate;
use sever_engine::framing::Head;
use sever_engine::problem::Answer;
use sever_engine::Sever;
use std::any::Any;
use std::sync::Arc;
use tokio::time::Instant;

/// A caller-supplied `X-Request-Id` is kept when it is 1–128 characters of
/// `[A-Za-z0-9._:-]`; otherwise a fresh UUID is used.
fn request_id(session: &HttpSession) -> String {
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
fn peer_certificate(session: &HttpSession) -> Option<&PeerCertificate> {
    session
        .digest()
        .ssl_digest
        .as_deref()?
        .extension
        .get::<PeerCertificate>()
}

/// A pingora session as the engine's API reads it.
struct Session<'a> {
    session: &'a mut HttpSession,
    head: Head,
    /// The body must have arrived by then (`server.request_timeout_ms` after the head).
    body_deadline: Instant,
    /// Set when the body could not be read to its end: the connection must close.
    broken: bool,
}

impl Incoming for Session<'_> {
    fn method(&self) -> &str {
        self.session.req_header().method.as_str()
    }

    fn path(&self) -> &str {
        self.session.req_header().uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.session.req_header().uri.query()
    }

    fn header(&self, name: &str) -> Option<&[u8]> {
        self.session.get_header(name).map(|v| v.as_bytes())
    }

    fn peer_certificate(&self) -> Option<&PeerCertificate> {
        peer_certificate(self.session)
    }

    async fn read_body(&mut self, limit: usize) -> Body {
        use sever_engine::framing::BodyFraming;
        // A declared length over the limit is refused before reading a byte.
        let declared = match self.head.body {
            BodyFraming::Empty => return Body::Complete(Vec::new()),
            BodyFraming::Length(n) if n > limit as u64 => return Body::TooLarge,
            BodyFraming::Length(n) => Some(n as usize),
            BodyFraming::Chunked => None,
        };
        let read = read_body(self.session, self.head.expect_continue, declared, limit);
        let body = match crate::deadline::until(self.body_deadline, read).await {
            Ok(body) => body,
            Err(_) => Body::TimedOut,
        };
        self.broken = matches!(body, Body::Broken | Body::TimedOut);
        body
    }
}

/// Reads the whole body, answering `100 Continue` first when the client waits for it.
async fn read_body(
    session: &mut HttpSession,
    expect_continue: bool,
    declared: Option<usize>,
    limit: usize,
) -> Body {
    if expect_continue {
        // pingora marks the connection for closing when it writes any answer before the
        // body is read; a 100 is no such answer, so its keep-alive is put back.
        let keepalive = session.will_keepalive();
        if session.write_continue_response().await.is_err() {
            return Body::Broken;
        }
        if keepalive {
            session.set_server_keepalive(Some(0));
        }
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(1024));
    loop {
        match session.read_body_bytes().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    // The rest of the body is never read; the connection closes.
                    return Body::TooLarge;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Body::Complete(body),
            Err(_) => return Body::Broken,
        }
    }
}

/// Serves one request whose head pingora has parsed, and writes its answer. Afterwards
/// the session keeps its connection alive only if the request was read to its end.
pub(crate) async fn serve(
    sever: &Sever,
    session: &mut HttpSession,
    head: Head,
    listener: Listener,
) {
    let request_id = request_id(session);
    let is_head = session.req_header().method == http::Method::HEAD;
    let body_deadline = Instant::now() + sever.config.server.request_timeout;
    let mut incoming = Session {
        session,
        head,
        body_deadline,
        broken: false,
    };
    let answer = sever.serve(&mut incoming, &request_id, listener).await;
    if incoming.broken {
        session.set_server_keepalive(None);
    }
    // pingora closes the connection when the body was not read to its end (a refusal
    // before reading it, or a body over the limit): its bytes cannot be told from the
    // next request's.
    if write_answer(session, answer, &request_id, is_head)
        .await
        .is_err()
    {
        session.set_server_keepalive(None);
    }
}

async fn write_answer(
    session: &mut HttpSession,
    answer: Answer,
    request_id: &str,
    is_head: bool,
) -> pingora::Result<()> {
    let mut header = ResponseHeader::build_no_case(answer.status, Some(answer.headers.len() + 5))?;
    // An idempotent replay carries the first answer's request id instead.
    if !answer.headers.iter().any(|(n, _)| *n == "x-request-id") {
        header.insert_header("x-request-id", request_id)?;
    }
    header.insert_header("content-length", answer.body.len())?;
    // API answers are never stored; the console's static files say how they may be.
    if !answer.headers.iter().any(|(n, _)| *n == "cache-control") {
        header.insert_header("cache-control", "no-store")?;
    }
    for (name, value) in &answer.headers {
        header.append_header(*name, value.as_str())?;
    }
    // Header and body go out in one write: the connection buffers until the flush.
    session.write_response_header(Box::new(header)).await?;
    if !is_head && !answer.body.is_empty() {
        session.write_body(&answer.body).await?;
    }
    session.finish_body().await?;
    Ok(())
}
