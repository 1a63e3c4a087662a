//! `sever serve`: build the engine from the config and run it on pingora.

use crate::app::ClientCertificates;
use crate::http::{descriptor_budget, HttpApp, Listening};
use crate::logging::{start_logging, LogFormat};
use crate::telemetry::Telemetry;
use crate::upstream::PingoraUpstream;
use nix::sys::signal::Signal;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch, ShutdownWatch};
use pingora::services::background::{background_service, BackgroundService};
use pingora::tls::ResolvesServerCert;
use sever_engine::config::{self, Config, ConfigError, ConfigErrors, ReloadableCert};
use sever_engine::live::Live;
use sever_engine::Sever;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `sever serve`: loads the config, sets up logging (and span export), builds the engine
/// and serves until a shutdown signal. Exit status 1 when it cannot start.
pub(crate) fn command(log_format: LogFormat, path: PathBuf) -> ExitCode {
    let loaded = config::load(&path);
    let telemetry = match start_logging(log_format, loaded.as_ref().ok()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match loaded {
        Ok(c) => c,
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let unsupported = config.unsupported();
    if !unsupported.is_empty() {
        for e in &unsupported {
            tracing::error!("{e}");
        }
        return ExitCode::FAILURE;
    }
    if config.server.insecure_no_auth && config.auth.is_none() {
        tracing::warn!(
            "server.insecure_no_auth is true: ANY caller can disconnect ANY client on every \
             backend. Use this for local trials only."
        );
    }
    let sever = match Sever::build(config, upstream()) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    for w in &sever.warnings {
        tracing::warn!("{w}");
    }
    let sockets = match Sockets::bind(&sever.config.server) {
        Ok(sockets) => sockets,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match run(sever, sockets, telemetry) {
        0 => ExitCode::SUCCESS,
        status => ExitCode::from(u8::try_from(status).unwrap_or(1)),
    }
}

/// Marks the server ready once its listener accepts connections.
struct Readiness {
    live: Arc<Live>,
    listen: SocketAddr,
}

#[async_trait::async_trait]
impl BackgroundService for Readiness {
    async fn start(&self, _shutdown: ShutdownWatch) {
        // Bounded: 30 s of 20 ms probes. Binding failures end the process anyway.
        for _ in 0..1500 {
            if tokio::net::TcpStream::connect(self.listen).await.is_ok() {
                self.live.load().set_ready();
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
    live: Arc<Live>,
    /// Flushed before that early exit.
    telemetry: Option<Telemetry>,
    /// The listener's certificate, read again on SIGHUP (with `server.tls`).
    tls: Option<ServedTls>,
}

/// The TLS section the listener was started with, and the certificate it presents.
struct ServedTls {
    config: Config,
    cert: Arc<ReloadableCert>,
}

#[async_trait::async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut quit), Ok(mut hup), Ok(mut usr1), Ok(mut xfsz)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::quit()),
            signal(SignalKind::hangup()),
            signal(SignalKind::user_defined1()),
            // A write past RLIMIT_FSIZE raises SIGXFSZ, whose default ends the process:
            // caught, the audit write fails with EFBIG instead and is handled as a
            // failed line (`503 audit_unavailable`, /readyz 503).
            signal(SignalKind::from_raw(Signal::SIGXFSZ as i32)),
        ) else {
            tracing::error!("cannot install signal handlers; stopping");
            return ShutdownSignal::FastShutdown;
        };
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: draining in-flight requests");
                    return self.drain();
                }
                _ = int.recv() => {
                    tracing::info!("SIGINT: stopping now");
                    let live = Arc::clone(&self.live);
                    let telemetry = self.telemetry.clone();
                    std::thread::spawn(move || crate::drain::stop_now(&live, telemetry.as_ref()));
                    return ShutdownSignal::FastShutdown;
                }
                _ = quit.recv() => {
                    // pingora's SIGQUIT hands listening sockets to a new process; Sever has
                    // no such upgrade path, so treat it as a graceful stop.
                    tracing::info!("SIGQUIT: draining in-flight requests");
                    return self.drain();
                }
                _ = hup.recv() => {
                    reload(&self.live);
                    if let Some(tls) = &self.tls {
                        reload_certificate(tls);
                    }
                }
                _ = usr1.recv() => reopen_audit(&self.live),
                _ = xfsz.recv() => {}
            }
        }
    }
}

impl Signals {
    /// Starts the watcher that ends the process once drained or when the grace period
    /// runs out, and tells pingora to stop gracefully.
    fn drain(&self) -> ShutdownSignal {
        let live = Arc::clone(&self.live);
        let telemetry = self.telemetry.clone();
        let deadline = Instant::now() + live.load().config.server.shutdown_grace;
        std::thread::spawn(move || {
            crate::drain::exit_when_drained(&live, telemetry.as_ref(), deadline)
        });
        ShutdownSignal::GracefulTerminate
    }
}

/// SIGUSR1: reopen the audit log (log rotation), nothing else.
fn reopen_audit(live: &Live) {
    match live.load().reopen_audit() {
        Ok(()) => tracing::info!("SIGUSR1: audit log reopened"),
        Err(e) => tracing::error!(error = %e, "SIGUSR1: audit log not reopened"),
    }
}

/// SIGHUP with `server.tls`: present the certificate and key now in their files from the
/// next handshake on (a renewed certificate); on error the one in use stays.
fn reload_certificate(tls: &ServedTls) {
    let Some(section) = &tls.config.server.tls else {
        return;
    };
    match section.load(&tls.config.source) {
        Ok(material) => {
            tls.cert.replace(&material);
            tracing::info!("TLS certificate reloaded");
        }
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            tracing::error!("TLS certificate not reloaded: the one in use stays");
        }
    }
}

/// SIGHUP: re-read the config and swap it in whole, or report why not and keep the one in
/// force. The audit log is reopened either way (log rotation).
fn reload(live: &Live) {
    tracing::info!("SIGHUP: reloading the config");
    match live.reload() {
        Ok(done) => {
            for w in &done.warnings {
                tracing::warn!("{w}");
            }
            tracing::info!(
                backends = done.backends,
                plugins = done.plugins,
                "config reloaded"
            );
        }
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            tracing::error!("config not reloaded: the config loaded before stays in force");
        }
    }
}

/// The listening sockets, bound before the server starts: a taken address fails the
/// start at once, before any service runs.
pub(crate) struct Sockets {
    api: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
}

impl Sockets {
    fn bind(server: &config::ServerConfig) -> Result<Self, String> {
        let bind = |addr: SocketAddr| {
            crate::http::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))
        };
        Ok(Sockets {
            api: bind(server.listen)?,
            metrics: server.metrics_listen.map(bind).transpose()?,
        })
    }
}

/// The canonical API listener's TLS settings (`server.tls`), or `None` for plain HTTP.
/// `metrics_listen` always stays plain HTTP.
///
/// rustls through pingora, HTTP/1.1 only. With `client_ca_path` the handshake requires a
/// client certificate chaining to that CA; [`ClientCertificates`] then hands its names to
/// the app, which identifies callers without a bearer token by it.
fn api_tls(config: &Config) -> Result<Option<(TlsSettings, ServedTls)>, ConfigErrors> {
    let Some(tls) = &config.server.tls else {
        return Ok(None);
    };
    let material = tls.load(&config.source)?;
    let mut settings = TlsSettings::with_callbacks(Box::new(ClientCertificates))
        .map_err(|e| ConfigError::new(&config.source, "server.tls", e.to_string()))?;
    let cert = ReloadableCert::new(&material);
    settings.set_cert_resolver(Arc::clone(&cert) as Arc<dyn ResolvesServerCert>);
    if let Some(verifier) = material.client_verifier {
        settings.set_client_cert_verifier(verifier);
    }
    let served = ServedTls {
        config: config.clone(),
        cert,
    };
    Ok(Some((settings, served)))
}

/// Runs until SIGTERM (graceful: the listeners close and in-flight requests get up to
/// `shutdown_grace_ms` to finish) or SIGINT (at once). Queued spans are exported before
/// it returns (or before the early exit after draining).
pub(crate) fn run(sever: Sever, sockets: Sockets, telemetry: Option<Telemetry>) -> i32 {
    let server_config = &sever.config.server;
    let listen = server_config.listen;
    // The files were checked at load; one changed since then stops the start here.
    let tls = match api_tls(&sever.config) {
        Ok(tls) => tls,
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            std::process::exit(1);
        }
    };
    let grace_secs = server_config
        .shutdown_grace
        .as_millis()
        .div_ceil(1000)
        .try_into()
        .unwrap_or(u64::MAX);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let conf = ServerConf {
        threads,
        // One current-thread runtime per thread instead of one work-stealing runtime: a
        // request never migrates between threads, so no cross-thread wake-ups or shared
        // run-queue locking (measured gain in benches/RESULTS.md).
        work_stealing: false,
        // pingora's default lingers 300 s on SIGTERM; Sever's budget is shutdown_grace_ms.
        grace_period_seconds: Some(grace_secs),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let backends = sever.backends().len();
    let plugins = sever.plugins().len();
    let ceiling = descriptor_budget(server_config.max_connections);
    let live = Arc::new(Live::new(sever));
    // The handshake is Sever's (in the app, under the head deadline and the connection
    // cap), so the listener itself is plain TCP either way, and so are its reads: each
    // head is read into a buffer of the serve loop's own, sized by
    // `server.read_buffer_bytes`.
    let (acceptor, served_tls) = match tls {
        Some((settings, served)) => (Some(settings.build()), Some(served)),
        None => (None, None),
    };
    server.add_service(Listening::new(
        "sever canonical API",
        sockets.api,
        HttpApp::api(Arc::clone(&live), ceiling, acceptor),
    ));
    if let Some(socket) = sockets.metrics {
        server.add_service(Listening::new(
            "sever metrics",
            socket,
            HttpApp::metrics(Arc::clone(&live)),
        ));
    }
    server.add_service(background_service(
        "sever approvals sweep",
        crate::approvals_sweep::ApprovalsSweep {
            live: Arc::clone(&live),
        },
    ));
    server.add_service(background_service(
        "sever readiness",
        Readiness {
            live: Arc::clone(&live),
            listen,
        },
    ));
    tracing::info!(%listen, backends, plugins, "starting");
    server.run(RunArgs {
        shutdown_signal: Box::new(Signals {
            live: Arc::clone(&live),
            telemetry: telemetry.clone(),
            tls: served_tls,
        }),
    });
    // pingora's own grace period ended before the drain watcher's (or a fast stop):
    // whatever is still pending is cut short here.
    let status = crate::drain::cut_short(&live);
    crate::approvals_sweep::log_dropped(&live);
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    tracing::info!("stopped");
    status
}

/// The vendor client used by `serve`.
pub(crate) fn upstream() -> Arc<PingoraUpstream> {
    Arc::new(PingoraUpstream::new())
}
