//! `sever-bench-passthrough LISTEN UPSTREAM [tls]`: the plain pingora passthrough
//! contestant.
//!
//! A `ProxyHttp` whose only hook is `upstream_peer`, on pingora's default `ServerConf`
//! (one thread per service, work stealing on, default modules, default allocator): what
//! pingora costs before any work of Sever's. Tier 1 of the load benchmark compares Sever
//! against this.
//!
//! With the third argument `tls` it speaks HTTPS to the upstream (SNI `localhost`, the
//! certificate not verified: the bench's upstream has a throw-away self-signed one). The
//! environment variable `SEVER_BENCH_THREADS` sets the service's worker threads (default
//! pingora's 1), for the benchmark's two-core scaling round.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;
use std::sync::Arc;

/// Forwards every request to one upstream over pingora's pooled connections.
struct Passthrough {
    upstream: SocketAddr,
    tls: bool,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        let sni = if self.tls { "localhost" } else { "" };
        let mut peer = HttpPeer::new(self.upstream, self.tls, sni.to_string());
        if self.tls {
            peer.options.verify_cert = false;
            peer.options.verify_hostname = false;
        }
        Ok(Box::new(peer))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(Ok(upstream))) = (args.next(), args.next().map(|a| a.parse())) else {
        eprintln!("usage: sever-bench-passthrough LISTEN_ADDR UPSTREAM_ADDR [tls]");
        std::process::exit(2);
    };
    let tls = match args.next().as_deref() {
        None => false,
        Some("tls") => true,
        Some(other) => {
            eprintln!("sever-bench-passthrough: unknown third argument {other:?} (only `tls`)");
            std::process::exit(2);
        }
    };
    let defaults = ServerConf::default();
    let threads = match std::env::var("SEVER_BENCH_THREADS") {
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("sever-bench-passthrough: SEVER_BENCH_THREADS={v:?} is not a count");
                std::process::exit(2);
            }
        },
        Err(_) => defaults.threads,
    };
    let conf = ServerConf {
        threads,
        // Not a performance setting: lets SIGTERM end the process at once.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..defaults
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(
        &Arc::clone(&server.configuration),
        Passthrough { upstream, tls },
    );
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
