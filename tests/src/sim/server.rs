//! The serving thread every simulator runs on: an axum app on a current-thread tokio
//! runtime, one HTTP/1.1 connection task per peer, and a way for a handler to hang up.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::{Extension, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};

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

/// An answer that breaks off: `200 OK` with headers announcing a 256-byte JSON body, the
/// first bytes of that body, then an error, on which hyper closes the connection without
/// sending the rest.
pub(crate) fn cut_short_answer() -> Response {
    let chunks: [Result<&'static [u8], io::Error>; 2] = [
        Ok(br#"{"message":"this answer is cut sh"#),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "simulated reset mid-answer",
        )),
    ];
    let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("256"));
    response
}

/// An axum app served on a current-thread tokio runtime in a background thread.
#[derive(Debug)]
pub(crate) struct SimServer {
    addr: SocketAddr,
    /// TCP connections accepted so far.
    accepted: Arc<AtomicU64>,
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
        let accepted = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&accepted);
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
                        () = accept_loop(listener, app, counter) => {}
                        _ = stop => {}
                    }
                });
                // Dropping the runtime here cancels every connection task: sockets close.
            })?;
        Ok(Self {
            addr,
            accepted,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// TCP connections accepted so far (kept-alive connections count once).
    pub(crate) fn connections_accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
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

async fn accept_loop(listener: TcpListener, app: Router, accepted: Arc<AtomicU64>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
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
