//! `sever-bench-passthrough LISTEN UPSTREAM`: the plain pingora passthrough contestant.
//!
//! A `ProxyHttp` whose only hook is `upstream_peer`, on pingora's default `ServerConf`
//! (one thread per service, work stealing on, default modules, default allocator): what
//! pingora costs before any work of Sever's. Tier 1 of the load benchmark compares Sever
//! against this.

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;
use std::net::SocketAddr;
use std::sync::Arc;

/// Forwards every request to one upstream over pingora's pooled connections.
struct Passthrough {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Passthrough {
    type CTX = ();

    fn new_ctx(&self) -> Self::CTX {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(Ok(upstream))) = (args.next(), args.next().map(|a| a.parse())) else {
        eprintln!("usage: sever-bench-passthrough LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let conf = ServerConf {
        // Not a performance setting: lets SIGTERM end the process at once.
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy =
        http_proxy_service(&Arc::clone(&server.configuration), Passthrough { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
