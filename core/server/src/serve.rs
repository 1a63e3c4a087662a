//! `sever serve`: build the engine from the config and run it on pingora.

use crate::app::ApiApp;
use crate::upstream::PingoraUpstream;
use pingora::apps::http_app::HttpServer;
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
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

/// Runs until SIGTERM (graceful: in-flight requests finish within `shutdown_grace_ms`)
/// or SIGINT (at once). Never returns: pingora exits the process.
pub(crate) fn run(sever: Sever) -> ! {
    let server_config = &sever.config.server;
    let listen = server_config.listen;
    let metrics_listen = server_config.metrics_listen;
    let grace = server_config.shutdown_grace.as_secs().max(1);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let conf = ServerConf {
        threads,
        // pingora's defaults linger 300 s on SIGTERM; Sever's budget is shutdown_grace_ms.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(grace),
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
    server.run_forever()
}

/// The vendor client used by `serve`.
pub(crate) fn upstream() -> Arc<PingoraUpstream> {
    Arc::new(PingoraUpstream::new())
}
