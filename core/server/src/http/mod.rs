//! Sever's own HTTP/1.1 serve loop on pingora's lower-level pieces: a [`ServerApp`] per
//! listener, taking each accepted connection (TCP, or TLS after the handshake) through
//! its requests in turn.
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

mod connection;
mod head;
mod limits;
mod reply;

pub(crate) use limits::descriptor_budget;

use async_trait::async_trait;
use limits::Gate;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use prometheus::{IntCounter, IntGauge};
use sever_engine::api::Listener;
use sever_engine::live::Live;
use std::sync::Arc;

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
}

impl HttpApp {
    /// The `listen` app; `ceiling` is the descriptor budget for its connections.
    pub(crate) fn api(live: Arc<Live>, ceiling: usize) -> Self {
        Self::new(live, Listener::Api, "api", ceiling)
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

#[async_trait]
impl ServerApp for HttpApp {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Some(_slot) = self.gate.enter(self.limit(), &self.open) else {
            // Dropped at once: the descriptor is free again before the next accept.
            self.refused.inc();
            return None;
        };
        connection::serve(self, stream, shutdown).await;
        None
    }
}
