//! Sever's own HTTP/1.1 serve loop on pingora's lower-level pieces: its own accept loop
//! per listener ([`Listening`], a pingora service on pingora's runtime threads), taking
//! each accepted connection (TCP, or TLS after the handshake) through its requests in
//! turn.
//!
//! pingora's `ServeHttp` wrapper reads the head itself (a 60 s timeout per read, 1 MiB,
//! a malformed head dropped without an answer) and turns keep-alive back on after its
//! parser turned it off; this loop instead:
//!
//! 1. admits the connection under the listener's connection cap ([`Gate`]), or closes it;
//! 2. reads the head within `server.header_timeout_ms` and `server.max_header_bytes`
//!    (`head.rs`), and refuses what [`sever_engine::framing`] refuses, with a status;
//! 3. hands the head to pingora's `HttpSession` (which parses it again and frames the
//!    body), serves the request (`crate::app`), and writes the answer in one write;
//! 4. keeps the connection only if the request was read to its end and both sides want
//!    keep-alive; pipelined bytes already read carry over to the next head.

mod accept;
mod coalesce;
mod connection;
mod head;
mod limits;
mod reply;

pub(crate) use accept::{bind, Listening};
pub(crate) use limits::descriptor_budget;

use coalesce::Coalesced;
use limits::Gate;
use pingora::listeners::tls::Acceptor;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use prometheus::{IntCounter, IntGauge};
use sever_engine::api::Listener;
use sever_engine::live::Live;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Open connections `metrics_listen` takes: scrapers and probes need few, and a flood on
/// `listen` never takes these.
pub(crate) const METRICS_CONNECTIONS: usize = 64;

/// Serves one listener.
#[derive(Debug)]
pub(crate) struct HttpApp {
    live: Arc<Live>,
    listener: Listener,
    gate: Gate,
    /// The most connections the process's descriptors allow this listener (the
    /// configured `server.max_connections` is read live, within this).
    ceiling: usize,
    open: IntGauge,
    refused: IntCounter,
    /// With `server.tls`: the handshake, done here (not in pingora's accept loop, whose
    /// 60 s limit is fixed) within `server.header_timeout_ms` of the accept, while the
    /// connection holds its slot under the cap.
    tls: Option<Handshakes>,
}

/// pingora's TLS acceptor (which has no `Debug`).
pub(crate) struct Handshakes(Acceptor);

impl std::fmt::Debug for Handshakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handshakes")
    }
}

impl HttpApp {
    /// The `listen` app; `ceiling` is the descriptor budget for its connections.
    pub(crate) fn api(live: Arc<Live>, ceiling: usize, tls: Option<Acceptor>) -> Self {
        let mut app = Self::new(live, Listener::Api, "api", ceiling);
        app.tls = tls.map(Handshakes);
        app
    }

    /// The `metrics_listen` app: `/metrics` and the probes.
    pub(crate) fn metrics(live: Arc<Live>) -> Self {
        Self::new(live, Listener::MetricsOnly, "metrics", METRICS_CONNECTIONS)
    }

    fn new(live: Arc<Live>, listener: Listener, label: &str, ceiling: usize) -> Self {
        let sever = live.load();
        let metrics = sever.metrics();
        let open = metrics.http_connections.with_label_values(&[label]);
        let refused = metrics.http_connections_refused.with_label_values(&[label]);
        HttpApp {
            live,
            listener,
            gate: Gate::default(),
            ceiling,
            open,
            refused,
            tls: None,
        }
    }

    fn limit(&self) -> usize {
        match self.listener {
            Listener::Api => {
                let configured = self.live.load().config.server.max_connections;
                configured.min(self.ceiling)
            }
            Listener::MetricsOnly => self.ceiling,
        }
    }
}

impl HttpApp {
    /// Serves one accepted connection to its end: admitted under the connection cap (or
    /// closed at once), through the TLS handshake with `server.tls`, then request after
    /// request ([`connection::serve`]). Every write waits for the flush that ends an
    /// answer ([`Coalesced`]).
    pub(crate) async fn serve_connection(self: Arc<Self>, tcp: TcpStream, shutdown: ShutdownWatch) {
        let Some(_slot) = self.gate.enter(self.limit(), &self.open) else {
            // Dropped at once: the descriptor is free again before the next accept.
            self.refused.inc();
            return;
        };
        let accepted = Instant::now();
        let l4 = L4Stream::from(tcp);
        let stream: Stream = match &self.tls {
            None => Box::new(l4),
            // Boxed: the handshake's state is large and would otherwise stay in every
            // connection's task after the handshake is over.
            Some(Handshakes(acceptor)) => {
                match Box::pin(self.handshake(acceptor, l4, accepted)).await {
                    Some(tls) => tls,
                    None => return,
                }
            }
        };
        let stream: Stream = Box::new(Coalesced::new(stream));
        connection::serve(&self, stream, &shutdown, accepted).await;
    }

    /// The TLS handshake of a connection accepted at `accepted`, or `None` (counted) when
    /// it fails or outlasts `server.header_timeout_ms`: the connection is then closed.
    async fn handshake(
        &self,
        acceptor: &Acceptor,
        l4: L4Stream,
        accepted: Instant,
    ) -> Option<Stream> {
        let sever = self.live.load();
        let failures = &sever.metrics().tls_handshake_failures;
        let deadline = accepted + sever.config.server.header_timeout;
        match crate::deadline::until(deadline, acceptor.tls_handshake(l4)).await {
            Ok(Ok(tls)) => Some(Box::new(tls)),
            Ok(Err(e)) => {
                // A client's failure, not Sever's: counted, and told at debug only.
                tracing::debug!(error = %e, "TLS handshake failed");
                failures.with_label_values(&["failed"]).inc();
                None
            }
            Err(_) => {
                failures.with_label_values(&["timeout"]).inc();
                None
            }
        }
    }
}
