//! Vendor simulators: strict, stateful stand-ins for the vendor APIs Sever's adapters call.
//!
//! A simulator enforces its vendor's documented contract the way the real service would
//! (paths, methods, credentials, content type, body shape, state), so an adapter that sends
//! a slightly wrong call fails a test instead of passing against a lenient mock.
//!
//! Each simulator is an axum app served on its own tokio runtime in a background thread, so
//! plain synchronous `#[test]`s can start one, point a real `sever` process at its `url()`,
//! and afterwards ask what it received ([`RecordedCall`]) and what state it is in. Fault
//! switches ([`Fault`], delays) turn it into a broken vendor at runtime. Dropping a
//! simulator stops it and closes its port (in-flight connections are cut).
//!
//! This module holds what every simulator shares: the call record, the fault switches and
//! the serving thread. Each vendor's contract lives in its own submodule.

pub mod alibaba;
pub mod cedalo;
pub mod iudx;
pub mod nexus;
pub mod privx;

pub use alibaba::{AlibabaCall, AlibabaFault, AlibabaSim, AlibabaSimConfig};
pub use cedalo::{CedaloSim, SimConfig};
pub use iudx::{IudxSim, IudxSimConfig};
pub use nexus::{NexusCanned, NexusSim, NexusSimConfig};
pub use privx::{PrivxSim, PrivxSimConfig};

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::response::Response;
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use parking_lot::Mutex;
use percent_encoding::percent_decode_str;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

/// One HTTP request as the simulator received it, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// The request method, e.g. `PUT`.
    pub method: String,
    /// The path exactly as it arrived on the wire, still percent-encoded, without the query.
    pub raw_path: String,
    /// The query string as it arrived (without `?`), if there was one.
    pub query: Option<String>,
    /// The raw path split on `/` (before decoding, so `%2F` stays inside its segment), each
    /// segment then percent-decoded (lossily, should it not be UTF-8). The leading empty
    /// segment is dropped: `/api/x%2Fy` gives `["api", "x/y"]`.
    pub segments: Vec<String>,
    /// Every header in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossily decoded should it not be UTF-8).
    pub body: String,
    /// The status the simulator answered; `None` when it sent no answer (it hung up, or the
    /// caller went away while the answer was being delayed).
    pub status: Option<u16>,
}

impl RecordedCall {
    /// Records a request from its head and its (already read) body.
    pub(crate) fn new(parts: &Parts, body: &Bytes) -> Self {
        let raw_path = parts.uri.path().to_owned();
        let segments = raw_path
            .split('/')
            .skip(1)
            .map(|segment| percent_decode_str(segment).decode_utf8_lossy().into_owned())
            .collect();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_ascii_lowercase(), value)
            })
            .collect();
        Self {
            method: parts.method.as_str().to_owned(),
            raw_path,
            query: parts.uri.query().map(str::to_owned),
            segments,
            headers,
            body: String::from_utf8_lossy(body).into_owned(),
            status: None,
        }
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A way for the simulated vendor to misbehave, settable while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    /// Follow the vendor's contract.
    #[default]
    None,
    /// Answer every request with the vendor's 500 error.
    InternalError,
    /// Answer every request `200 OK` with a body that is not JSON.
    Garbage,
    /// Read the request, then close the connection without answering.
    HangUp,
}

/// The calls a simulator received, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    calls: Mutex<Vec<RecordedCall>>,
    echo: bool,
}

impl CallLog {
    /// A log that also prints one line per answered call to stdout when `echo` is set.
    pub(crate) fn new(echo: bool) -> Self {
        Self {
            calls: Mutex::default(),
            echo,
        }
    }

    /// Appends a call (not yet answered) and returns its index.
    pub(crate) fn record(&self, call: RecordedCall) -> usize {
        let mut calls = self.calls.lock();
        calls.push(call);
        calls.len() - 1
    }

    /// Notes the status answered to call `index` (`None`: hung up without answering).
    pub(crate) fn answered(&self, index: usize, status: Option<u16>) {
        let mut calls = self.calls.lock();
        let Some(call) = calls.get_mut(index) else {
            return; // the log was cleared meanwhile
        };
        call.status = status;
        if self.echo {
            let answer = status.map_or_else(|| "hung up".to_owned(), |s| s.to_string());
            let path = match &call.query {
                Some(query) => format!("{}?{query}", call.raw_path),
                None => call.raw_path.clone(),
            };
            println!("{} {path} -> {answer}", call.method);
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<RecordedCall> {
        self.calls.lock().clone()
    }

    pub(crate) fn clear(&self) {
        self.calls.lock().clear();
    }
}

/// Lets a handler drop its connection without answering. The serving loop puts one into
/// every request's extensions; it is per connection, so kept-alive connections work too.
#[derive(Debug, Clone)]
pub(crate) struct HangUp(Arc<Notify>);

impl HangUp {
    /// Closes this request's connection; the returned future never completes (the
    /// connection, and this handler with it, are dropped first).
    pub(crate) async fn now(&self) -> Response {
        self.0.notify_one();
        std::future::pending().await
    }
}

/// An axum app served on a current-thread tokio runtime in a background thread.
#[derive(Debug)]
pub(crate) struct SimServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl SimServer {
    /// Binds `listen` (port 0: any free port) and serves `app` until dropped.
    pub(crate) fn start(listen: SocketAddr, name: &str, app: Router) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{name}-sim"))
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(err) => {
                            eprintln!("simulator: cannot serve on {addr}: {err}");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept_loop(listener, app) => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime here cancels every connection task: sockets close.
            })?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, app: Router) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve_connection(stream, app.clone()));
            }
            // Out of descriptors or a connection reset before accept: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Serves one connection over HTTP/1.1 until the peer closes it or a handler hangs up.
async fn serve_connection(stream: TcpStream, app: Router) {
    let hang_up = HangUp(Arc::new(Notify::new()));
    let service = TowerToHyperService::new(app.layer(Extension(hang_up.clone())));
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = hang_up.0.notified() => {} // dropping `connection` closes the socket unanswered
    }
}
