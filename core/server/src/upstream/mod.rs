//! The vendor HTTP client: pingora's pooled connector.
//!
//! Why pingora's `Connector` rather than hyper: it is already in the binary, shares the
//! proxy's runtime, TLS stack (rustls) and connection pool design, and keeps one HTTP
//! implementation in the process. It is low level (no redirects, no retries, per-session
//! timeouts), which suits Sever: retries go back through the adapter, redirects are never
//! followed (a vendor that redirects a destructive call is answered as `upstream_error`),
//! and the whole call runs under one deadline here. Idle connections are kept in Sever's
//! own pool ([`pool`]), not pingora's (which drops some under load: see there).

mod pool;
mod wire;

use async_trait::async_trait;
use pingora::connectors::TransportConnector;
use pingora::http::RequestHeader;
use pingora::protocols::http::v1::client::HttpSession;
use pingora::protocols::Stream;
use pingora::upstreams::peer::{HttpPeer, Peer};
use pingora::ErrorType;
use sever_engine::backend::{TransportError, Upstream, UpstreamResponse};
use sever_engine::plugin::VendorRequest;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

use pool::IdlePool;

/// Largest vendor answer read; a larger one is an `upstream_error`.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// How long an idle pooled connection to a vendor is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// Idle connections kept per vendor address: more than the concurrency a backend's
/// `max_concurrency` usually allows, so a steady load reuses every connection.
const POOL_MAX_IDLE: usize = 256;

/// Sends adapters' requests over pooled HTTP/1.1 connections.
///
/// HTTP/1.1 only (as before: pingora's generic connector negotiates HTTP/2 only when a
/// peer's ALPN asks for it, which Sever never sets), so the HTTP/1 connector is used
/// directly: no per-call dispatch over HTTP/2 and custom protocols.
pub(crate) struct PingoraUpstream {
    connector: TransportConnector,
    idle: IdlePool,
}

impl std::fmt::Debug for PingoraUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PingoraUpstream")
    }
}

impl PingoraUpstream {
    /// A client with an empty pool.
    pub(crate) fn new() -> Self {
        PingoraUpstream {
            connector: TransportConnector::new(None),
            idle: IdlePool::new(POOL_IDLE, POOL_MAX_IDLE),
        }
    }
}

impl Default for PingoraUpstream {
    fn default() -> Self {
        Self::new()
    }
}

struct Target {
    tls: bool,
    host: String,
    port: u16,
    path_and_query: String,
}

fn parse_url(url: &str) -> Result<Target, TransportError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| TransportError::Invalid(format!("bad URL: {e}")))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(TransportError::Invalid("URL must be http or https".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| TransportError::Invalid("URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    Ok(Target {
        tls,
        host,
        port,
        path_and_query,
    })
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, TransportError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| TransportError::Connect(format!("cannot resolve {host}: {e}")))?;
    addrs
        .next()
        .ok_or_else(|| TransportError::Connect(format!("{host} has no address")))
}

/// The `Host` header's value: the port only when it is not the scheme's default.
fn host_header(target: &Target) -> String {
    let default_port = if target.tls { 443 } else { 80 };
    if target.port == default_port {
        target.host.clone()
    } else if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    }
}

/// The request as pingora's session writes it (the path [`wire::needs_session_writer`]
/// picks).
fn header(request: &VendorRequest, target: &Target) -> Result<RequestHeader, TransportError> {
    let invalid = |e: pingora::BError| TransportError::Invalid(e.to_string());
    // Header names go out lower-case (HTTP field names are case-insensitive, and adapters
    // write them lower-case anyway): no second, case-preserving header map per request.
    let mut header = RequestHeader::build_no_case(
        request.method.as_str(),
        target.path_and_query.as_bytes(),
        Some(request.headers.len() + 3),
    )
    .map_err(invalid)?;
    header
        .insert_header("host", host_header(target))
        .map_err(invalid)?;
    for (name, value) in wire::adapter_headers(request) {
        header
            .append_header(name.to_owned(), value)
            .map_err(invalid)?;
    }
    header
        .insert_header("content-length", request.body.len().to_string())
        .map_err(invalid)?;
    Ok(header)
}

impl PingoraUpstream {
    /// A pooled connection to `peer`, or a new one.
    ///
    /// The pool lookup is the hot path and its future is small. Connecting (TCP, TLS
    /// handshake) has a far larger future; it is boxed so that every request's future does
    /// not carry it and copy it into `async_trait`'s box (≈ 10,700 instructions of `memcpy`
    /// per request before, by callgrind).
    async fn connection(&self, peer: &HttpPeer, key: u64) -> Result<Stream, TransportError> {
        match self.idle.take(key) {
            Some(stream) => Ok(stream),
            None => Box::pin(self.connector.new_stream(peer))
                .await
                .map_err(|e| TransportError::Connect(format!("{}: {}", peer.address(), brief(&e)))),
        }
    }

    /// Writes `request` on a connection to `peer` and returns the session that reads its
    /// answer. The usual request goes out as one buffer in one write ([`wire`]); the rest
    /// through pingora's session writer, head and body apart.
    async fn send_request(
        &self,
        request: &VendorRequest,
        target: &Target,
        peer: &HttpPeer,
        key: u64,
    ) -> Result<HttpSession, TransportError> {
        let broken = |e: pingora::BError| TransportError::Protocol(brief(&e));
        if wire::needs_session_writer(request) {
            let header = header(request, target)?;
            let mut session =
                HttpSession::new_with_options(self.connection(peer, key).await?, peer);
            session
                .write_request_header(Box::new(header))
                .await
                .map_err(broken)?;
            if !request.body.is_empty() {
                session
                    .write_body(request.body.as_bytes())
                    .await
                    .map_err(broken)?;
            }
            session.finish_body().await.map_err(broken)?;
            return Ok(session);
        }
        let bytes = wire::request_bytes(request, &host_header(target), &target.path_and_query)?;
        let mut stream = self.connection(peer, key).await?;
        let written = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        written
            .await
            .map_err(|e| TransportError::Protocol(format!("while writing the request: {e}")))?;
        Ok(HttpSession::new_with_options(stream, peer))
    }

    async fn exchange(
        &self,
        request: &VendorRequest,
        target: &Target,
        timeout: Duration,
    ) -> Result<UpstreamResponse, TransportError> {
        let addr = resolve(&target.host, target.port).await?;
        let mut peer = HttpPeer::new(addr, target.tls, target.host.clone());
        peer.options.connection_timeout = Some(timeout);
        peer.options.total_connection_timeout = Some(timeout);
        let key = peer.reuse_hash();
        let mut session = self.send_request(request, target, &peer, key).await?;
        let broken = |e: pingora::BError| TransportError::Protocol(brief(&e));
        session.read_response().await.map_err(broken)?;
        let (status, headers) = {
            let head = session
                .resp_header()
                .ok_or_else(|| TransportError::Protocol("no response header".into()))?;
            let headers = head
                .headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect::<Vec<_>>();
            (head.status.as_u16(), headers)
        };
        let mut body = Vec::new();
        while let Some(chunk) = session.read_body_ref().await.map_err(broken)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(TransportError::Protocol(format!(
                    "answer larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            body.extend_from_slice(chunk);
        }
        // Kept only when both sides allow it and the answer was read to its end.
        session.respect_keepalive();
        if let Some(stream) = session.reuse().await {
            self.idle.put(key, stream);
        }
        Ok(UpstreamResponse {
            status,
            headers,
            body,
        })
    }
}

/// pingora's error said once: its kind in words and the innermost cause. Its `Display`
/// is the whole chain (`Upstream ConnectRefused context: Peer: addr: …, scheme: …, sni: …
/// cause: …`), which named the peer and the cause again at each level of a problem's
/// `detail`.
fn brief(e: &pingora::Error) -> String {
    let kind = match e.etype() {
        ErrorType::ConnectRefused => "connection refused",
        ErrorType::ConnectTimedout => "connection timed out",
        ErrorType::ConnectNoRoute => "no route to host",
        ErrorType::TLSHandshakeFailure | ErrorType::HandshakeError => "TLS handshake failed",
        ErrorType::TLSHandshakeTimedout => "TLS handshake timed out",
        ErrorType::InvalidCert => "invalid certificate",
        ErrorType::ConnectionClosed => "connection closed by the vendor",
        ErrorType::ReadTimedout => "read timed out",
        ErrorType::WriteTimedout => "write timed out",
        ErrorType::InvalidHTTPHeader => "invalid HTTP header in the answer",
        other => other.as_str(),
    };
    let root = e.root_cause();
    // Without an inner cause, the root is the error itself: its context only names the peer.
    if root.downcast_ref::<pingora::Error>().is_some() {
        return kind.to_owned();
    }
    let cause = root.to_string();
    if cause.to_ascii_lowercase().starts_with(kind) {
        cause
    } else {
        format!("{kind}: {cause}")
    }
}

#[async_trait]
impl Upstream for PingoraUpstream {
    async fn send(
        &self,
        request: &VendorRequest,
        timeout: Duration,
    ) -> Result<UpstreamResponse, TransportError> {
        let target = parse_url(&request.url)?;
        // On pingora's coarse timer: no system call per vendor call (crate::deadline).
        match crate::deadline::within(timeout, self.exchange(request, &target, timeout)).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_split_into_peer_and_path() {
        let t = parse_url("http://127.0.0.1:8080/a/b%2Fc?x=1").unwrap();
        assert!(!t.tls);
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 8080));
        assert_eq!(t.path_and_query, "/a/b%2Fc?x=1");
        let t = parse_url("https://[::1]/").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("::1", 443, true));
        assert!(parse_url("ftp://h/").is_err());
    }

    #[test]
    fn a_pingora_error_chain_is_said_once() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let e = pingora::Error::because(ErrorType::ConnectRefused, "Peer: addr: 127.0.0.1:9", io);
        assert_eq!(brief(&e), "Connection refused (os error 111)");
        let e = pingora::Error::explain(ErrorType::TLSHandshakeFailure, "Peer: addr: 127.0.0.1:9");
        assert_eq!(brief(&e), "TLS handshake failed");
        let inner = pingora::Error::because(
            ErrorType::InvalidCert,
            "cert",
            std::io::Error::other("UnknownIssuer"),
        );
        let outer = pingora::Error::because(ErrorType::TLSHandshakeFailure, "Peer", inner);
        assert_eq!(brief(&outer), "TLS handshake failed: UnknownIssuer");
    }
}
