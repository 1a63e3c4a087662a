//! Sever's own accept loop, as a pingora service: pingora still owns the runtime threads,
//! signals and shutdown; the connections are Sever's from the accept on.
//!
//! pingora's listening service spawns one task per connection whose state holds its
//! listener's whole handshake (TLS included, even on a plain listener) for as long as the
//! connection lives: about 8.8 KiB per connection (valgrind massif, 1,000 idle
//! connections). Here each connection's task holds only Sever's serve loop, and the TLS
//! handshake, when there is one, is boxed and gone once it ends (`HttpApp::handshake`).

use super::HttpApp;
use async_trait::async_trait;
use pingora::server::{ListenFds, ShutdownWatch};
use pingora::services::Service;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Connections the kernel queues before Sever accepts them (pingora's own value).
const BACKLOG: i32 = 65_535;
/// After a failed accept (out of descriptors, say), how long before the next try: the
/// error is not retried in a busy loop.
const ACCEPT_PAUSE: Duration = Duration::from_millis(10);

/// A bound, listening socket for [`Listening`], made before the server starts so that a
/// taken address fails the start at once.
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// One listener and the app that serves its connections.
pub(crate) struct Listening {
    name: String,
    listener: Option<std::net::TcpListener>,
    app: Arc<HttpApp>,
}

impl Listening {
    pub(crate) fn new(name: &str, listener: std::net::TcpListener, app: HttpApp) -> Self {
        Listening {
            name: name.to_owned(),
            listener: Some(listener),
            app: Arc::new(app),
        }
    }
}

#[async_trait]
impl Service for Listening {
    async fn start_service(
        &mut self,
        _fds: Option<ListenFds>,
        mut shutdown: ShutdownWatch,
        _listeners_per_fd: usize,
    ) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!(error = %e, service = %self.name, "cannot serve the listener");
                return;
            }
        };
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => {
                        // Answers are written whole (one write per answer): nothing to
                        // gain from Nagle's delay, only latency to lose.
                        let _ = tcp.set_nodelay(true);
                        let app = Arc::clone(&self.app);
                        let shutdown = shutdown.clone();
                        // A random runtime thread of the service, as pingora's own
                        // listener spreads connections.
                        pingora_runtime::current_handle()
                            .spawn(async move { app.serve_connection(tcp, shutdown).await });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, service = %self.name, "accept failed");
                        crate::deadline::pause(ACCEPT_PAUSE).await;
                    }
                },
                changed = shutdown.changed() => {
                    // Stop accepting; the connections already open finish (their loops
                    // see the same shutdown and stop keeping alive).
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}
