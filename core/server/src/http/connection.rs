//! One connection, request after request, until either side closes it or a request
//! leaves its framing in doubt.

use super::head::{self, Read, Wait};
use super::{reply, HttpApp};
use bytes::BytesMut;
use pingora::protocols::http::v1::server::HttpSession;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use sever_engine::framing::Refusal;
use sever_engine::metrics::HEADER_TIMEOUT;
use sever_engine::problem::{ApiProblem, ProblemCode};
use std::time::Duration;
use tokio::time::Instant;

/// How long a kept-alive connection may wait for its next request's first byte.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);

/// Serves every request of one connection.
/// `accepted` is when the connection was accepted: its first head (and, with TLS, the
/// handshake before it) must arrive within `server.header_timeout_ms` of then.
pub(super) async fn serve(
    app: &HttpApp,
    mut stream: Stream,
    shutdown: &ShutdownWatch,
    accepted: Instant,
) {
    let mut pending = BytesMut::new();
    let mut accepted = Some(accepted);
    loop {
        // The Sever in force when the request arrived serves all of it, even if a reload
        // swaps in another meanwhile.
        let sever = app.live.load();
        let server = &sever.config.server;
        let wait = Wait {
            accepted: accepted.take(),
            idle: KEEPALIVE_IDLE,
            header_timeout: server.header_timeout,
            max_header_bytes: server.max_header_bytes,
            read_buffer: server.read_buffer_bytes,
        };
        let (head, buf) = match head::read(&mut stream, pending, wait).await {
            Read::Head(head, buf) => (head, buf),
            Read::Gone | Read::Broken => return,
            Read::TimedOut => {
                sever
                    .metrics()
                    .http_refusals
                    .with_label_values(&[HEADER_TIMEOUT])
                    .inc();
                let problem = ApiProblem::new(
                    ProblemCode::RequestTimeout,
                    "the request head did not arrive within server.header_timeout_ms",
                );
                return Box::pin(reply::refuse(stream, &problem, false)).await;
            }
            // Refusals are boxed too, so their buffers are not part of the idle state.
            Read::Refused(refusal) => return Box::pin(refuse(&sever, stream, refusal)).await,
        };
        // The request's own state (pingora's session, the engine's future) is boxed: it
        // exists only while a request is in flight, so an idle keep-alive connection holds
        // this loop's small state and its read buffer, not the largest request's.
        match Box::pin(request(app, &sever, stream, head, buf, shutdown)).await {
            Some((next, prefix)) => {
                stream = next;
                pending = prefix;
            }
            None => return,
        }
    }
}

/// Serves one request whose head is at the start of `buf`, and returns the connection
/// and the bytes read past the request when the connection stays open.
async fn request(
    app: &HttpApp,
    sever: &sever_engine::Sever,
    stream: Stream,
    head: sever_engine::framing::Head,
    buf: BytesMut,
    shutdown: &ShutdownWatch,
) -> Option<(Stream, BytesMut)> {
    let mut session = HttpSession::new(stream);
    // The head is already in `buf`: pingora parses it without reading.
    session.set_pipelined_prefix(buf);
    // Bytes read past this request are handed back for the next one, not dropped.
    session.set_pipelining_enabled(true);
    match session.read_request().await {
        Ok(Some(_)) => {}
        // pingora's own checks refused what Sever's let through (an absolute-form
        // target naming another host, say).
        _ => {
            refuse(sever, session.into_inner(), Refusal::Malformed).await;
            return None;
        }
    }
    if *shutdown.borrow() {
        session.set_server_keepalive(None);
    }
    crate::app::serve(sever, &mut session, head, app.listener).await;
    if !session.will_keepalive() {
        // Unread body bytes may still be on their way: read them off before closing,
        // so the answer is not lost to a reset.
        let linger = !session.is_body_done();
        reply::close(session.into_inner(), linger).await;
        return None;
    }
    match session.reuse().await {
        Ok(Some(reusable)) => {
            let (next, prefix) = reusable.into_parts();
            Some((next, prefix.unwrap_or_default()))
        }
        _ => None,
    }
}

/// Answers a refused head and closes the connection.
async fn refuse(sever: &sever_engine::Sever, stream: Stream, refusal: Refusal) {
    sever
        .metrics()
        .http_refusals
        .with_label_values(&[refusal.label()])
        .inc();
    let code = match refusal.status() {
        431 => ProblemCode::HeadersTooLarge,
        505 => ProblemCode::HttpVersionNotSupported,
        501 => ProblemCode::NotImplemented,
        415 => ProblemCode::UnsupportedMediaType,
        _ => ProblemCode::InvalidRequest,
    };
    let problem = ApiProblem::new(code, refusal.detail());
    // The client may still be sending (a head over the cap, a body): read it off
    // before closing, so the answer is not lost to a reset.
    reply::refuse(stream, &problem, true).await;
}
