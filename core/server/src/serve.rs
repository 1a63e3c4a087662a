//! `sever serve`: build the engine from the config and run it on pingora.

use crate::app::ApiApp;
use crate::upstream::PingoraUpstream;
use pingora::apps::http_app::HttpServer;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::services::listening::Service;
use sever_engine::Sever;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Marks the server ready once its listener accepts connections.
struct Readiness {
    sever: Arc<Sever>,
    listen: SocketAddr,
}

#[async_trait::async_trait]
impl BackgroundService for Readiness {
    async fn start(&self, _shutdown: ShutdownWatch) {
        // Bounded: 30 s of 20 ms probes. Binding failures end the process anyway.
        for _ in 0..1500 {
            if tokio::net::TcpStream::connect(self.listen).await.is_ok() {
                self.sever.set_ready();
                tracing::info!(listen = %self.listen, "ready");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::error!(listen = %self.listen, "the listener never accepted a connection");
    }
}

/// Unix signals for pingora, plus an early exit once a graceful shutdown has drained.
///
/// On SIGTERM pingora stops its listeners, then sleeps `grace_period_seconds` while
/// in-flight requests finish, then drops its runtimes (cancelling whatever still runs).
/// That sleep is fixed; so that an idle server does not linger for the whole grace
/// period, a watcher thread ends the process as soon as no canonical request is in flight.
struct Signals {
    sever: Arc<Sever>,
}

#[async_trait::async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::error!("cannot install signal handlers; stopping");
            return ShutdownSignal::FastShutdown;
        };
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: draining in-flight requests");
                    let sever = Arc::clone(&self.sever);
                    std::thread::spawn(move || exit_when_drained(&sever));
                    return ShutdownSignal::GracefulTerminate;
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: stopping now");
                    return ShutdownSignal::FastShutdown;
                }
                _ = quit.recv() => {
                    // pingora's SIGQUIT hands listening sockets to a new process; Sever has
                    // no such upgrade path, so treat it as a graceful stop.
                    tracing::info!("SIGQUIT: draining in-flight requests");
                    return ShutdownSignal::GracefulTerminate;
                }
                _ = hup.recv() => {
                    // SIGHUP's default action would end the process (log rotation sends it).
                    // Live reload is not in this release: keep serving the loaded config.
                    tracing::warn!("SIGHUP: live reload is not available in this release; \
                                    still serving the config loaded at start");
                }
            }
        }
    }
}

/// Ends the process once no canonical request has been in flight for a short while
/// (the listeners are already closed). Bounded by the grace period, after which pingora
/// ends the process itself.
fn exit_when_drained(sever: &Sever) {
    const POLL: Duration = Duration::from_millis(10);
    // Let pingora close the listeners and hand accepted requests to the app first.
    std::thread::sleep(Duration::from_millis(100));
    let mut idle_polls = 0;
    let polls = sever.config.server.shutdown_grace.as_millis() / POLL.as_millis();
    for _ in 0..polls {
        if sever.in_flight() == 0 {
            idle_polls += 1;
            if idle_polls >= 5 {
                tracing::info!("drained; exiting");
                std::process::exit(0);
            }
        } else {
            idle_polls = 0;
        }
        std::thread::sleep(POLL);
    }
}

/// Fails fast when an address is already taken: pingora would otherwise retry binding in
/// the background while the readiness probe reached the other process's listener.
pub(crate) fn check_free(addresses: &[SocketAddr]) -> Result<(), String> {
    for addr in addresses {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            return Err(format!("cannot listen on {addr}: {e}"));
        }
    }
    Ok(())
}

/// Runs until SIGTERM (graceful: the listeners close and in-flight requests get up to
/// `shutdown_grace_ms` to finish) or SIGINT (at once).
pub(crate) fn run(sever: Sever) {
    let server_config = &sever.config.server;
    let listen = server_config.listen;
    let metrics_listen = server_config.metrics_listen;
    let grace_secs = server_config
        .shutdown_grace
        .as_millis()
        .div_ceil(1000)
        .try_into()
        .unwrap_or(u64::MAX);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let conf = ServerConf {
        threads,
        // pingora's default lingers 300 s on SIGTERM; Sever's budget is shutdown_grace_ms.
        grace_period_seconds: Some(grace_secs),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let sever = Arc::new(sever);
    let mut api = Service::new(
        "sever canonical API".to_owned(),
        HttpServer::new_app(ApiApp::new(Arc::clone(&sever))),
    );
    api.add_tcp(&listen.to_string());
    server.add_service(api);
    if let Some(addr) = metrics_listen {
        let mut metrics = Service::new(
            "sever metrics".to_owned(),
            HttpServer::new_app(ApiApp::metrics_only(Arc::clone(&sever))),
        );
        metrics.add_tcp(&addr.to_string());
        server.add_service(metrics);
    }
    server.add_service(background_service(
        "sever readiness",
        Readiness {
            sever: Arc::clone(&sever),
            listen,
        },
    ));
    tracing::info!(%listen, backends = sever.backends().len(), plugins = sever.plugins().len(), "starting");
    server.run(RunArgs {
        shutdown_signal: Box::new(Signals { sever }),
    });
    tracing::info!("stopped");
}

/// The vendor client used by `serve`.
pub(crate) fn upstream() -> Arc<PingoraUpstream> {
    Arc::new(PingoraUpstream::new())
}
