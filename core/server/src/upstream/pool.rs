//! Sever's own pool of idle vendor connections.
//!
//! pingora's connector pool loses connections under load: taking a pooled stream waits for
//! the stream's idle-watch task to release its lock, then needs to be the stream's only
//! owner — but the task's guard releases the lock before it drops its reference, so on a
//! multi-threaded runtime the taker often still sees two owners, logs `failed to acquire
//! reusable stream` at ERROR and drops the connection (2–7 % of requests opened a new one
//! against a healthy vendor). Taking a stream also asked the kernel for its peer address
//! (`getpeername`) on every request.
//!
//! This pool has no task per idle connection: a connection is checked when it is taken (a
//! read that must not complete: the vendor has neither closed it nor sent anything
//! unasked), connections idle longer than the idle timeout are closed when taken or when a
//! newer one is put back, and each peer keeps at most `max_idle` connections (the most
//! recently used are taken first, so a burst's extra connections age out). A vendor that
//! closed an idle connection leaves it in the kernel's CLOSE_WAIT until then: at most
//! `max_idle` descriptors per vendor address.

use futures_util::FutureExt;
use pingora::protocols::Stream;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// Idle connections, per peer (pingora's `reuse_hash`: address, TLS, SNI and options).
pub(crate) struct IdlePool {
    peers: Mutex<HashMap<u64, VecDeque<Idle>>>,
    idle_timeout: Duration,
    max_idle: usize,
}

struct Idle {
    stream: Stream,
    since: Instant,
}

impl IdlePool {
    pub(crate) fn new(idle_timeout: Duration, max_idle: usize) -> Self {
        IdlePool {
            peers: Mutex::new(HashMap::new()),
            idle_timeout,
            max_idle,
        }
    }

    /// The most recently used idle connection to `peer` that is still open, if any.
    pub(crate) fn take(&self, peer: u64) -> Option<Stream> {
        loop {
            let idle = {
                let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
                peers.get_mut(&peer)?.pop_back()?
            };
            // Closed (dropped) outside the lock.
            if idle.since.elapsed() >= self.idle_timeout {
                continue;
            }
            let mut stream = idle.stream;
            if still_open(&mut stream) {
                return Some(stream);
            }
        }
    }

    /// Keeps `stream` for the next exchange with `peer`, unless the vendor has closed it.
    pub(crate) fn put(&self, peer: u64, mut stream: Stream) {
        if !still_open(&mut stream) {
            return;
        }
        let mut closed = Vec::new();
        {
            let mut peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
            let idle = peers.entry(peer).or_default();
            while idle
                .front()
                .is_some_and(|i| i.since.elapsed() >= self.idle_timeout)
                || idle.len() >= self.max_idle
            {
                closed.extend(idle.pop_front());
            }
            idle.push_back(Idle {
                stream,
                since: Instant::now(),
            });
        }
        drop(closed);
    }

    /// Idle connections kept, for every peer.
    #[cfg(test)]
    fn len(&self) -> usize {
        let peers = self.peers.lock().unwrap_or_else(|e| e.into_inner());
        peers.values().map(VecDeque::len).sum()
    }
}

/// Whether an idle connection is still usable: a read that completes at once means the
/// vendor closed it (0 bytes), broke it, or sent something nobody asked for — none of
/// which may be read as the next answer.
fn still_open(stream: &mut Stream) -> bool {
    let mut byte = [0u8; 1];
    // `unconstrained`: tokio's cooperative budget must not make a ready read look pending.
    tokio::task::unconstrained(stream.read(&mut byte))
        .now_or_never()
        .is_none()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    /// A connected pair: Sever's side and the vendor's side.
    async fn tcp_pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    fn wrap(stream: TcpStream) -> Stream {
        Box::new(pingora::protocols::l4::stream::Stream::from(stream))
    }

    async fn pair(listener: &TcpListener) -> (Stream, TcpStream) {
        let (client, server) = tcp_pair(listener).await;
        (wrap(client), server)
    }

    #[tokio::test]
    async fn a_connection_put_back_is_taken_again_most_recent_first() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = IdlePool::new(Duration::from_secs(60), 8);
        let (first, _v1) = pair(&listener).await;
        let (second, _v2) = pair(&listener).await;
        let second_id = second.id();
        pool.put(1, first);
        pool.put(1, second);
        assert_eq!(
            pool.take(2).map(|s| s.id()),
            None,
            "another peer's connections"
        );
        assert_eq!(pool.take(1).map(|s| s.id()), Some(second_id));
        assert!(pool.take(1).is_some());
        assert!(pool.take(1).is_none());
    }

    #[tokio::test]
    async fn a_connection_the_vendor_closed_or_wrote_on_is_never_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = IdlePool::new(Duration::from_secs(60), 8);
        let (closed, vendor_closed) = tcp_pair(&listener).await;
        let (chatty, mut vendor_chatty) = tcp_pair(&listener).await;
        let (open, _vendor_open) = pair(&listener).await;
        let open_id = open.id();
        pool.put(1, open);
        drop(vendor_closed);
        vendor_chatty
            .write_all(b"HTTP/1.1 200 OK\r\n\r\n")
            .await
            .unwrap();
        // Wait (without reading) until the FIN and the stray bytes have arrived.
        let arrived = tokio::time::timeout(Duration::from_secs(5), async {
            closed.readable().await.unwrap();
            chatty.readable().await.unwrap();
        });
        assert!(
            arrived.await.is_ok(),
            "the FIN or the stray bytes never arrived"
        );
        // Put back after they arrived: refused at once.
        pool.put(1, wrap(closed));
        assert_eq!(pool.len(), 1);
        // Put back before: found out when taken.
        pool.peers
            .lock()
            .unwrap()
            .get_mut(&1)
            .unwrap()
            .push_back(Idle {
                stream: wrap(chatty),
                since: Instant::now(),
            });
        assert_eq!(pool.take(1).map(|s| s.id()), Some(open_id));
        assert_eq!(pool.len(), 0);
    }

    #[tokio::test]
    async fn connections_idle_past_the_timeout_are_closed_not_taken() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = IdlePool::new(Duration::ZERO, 8);
        let (stream, _vendor) = pair(&listener).await;
        pool.put(1, stream);
        assert!(pool.take(1).is_none());
    }

    #[tokio::test]
    async fn each_peer_keeps_at_most_max_idle_connections_dropping_the_oldest() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let pool = IdlePool::new(Duration::from_secs(60), 2);
        let mut vendors = Vec::new();
        let mut ids = Vec::new();
        for _ in 0..3 {
            let (stream, vendor) = pair(&listener).await;
            ids.push(stream.id());
            vendors.push(vendor);
            pool.put(1, stream);
        }
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.take(1).map(|s| s.id()), Some(ids[2]));
        assert_eq!(pool.take(1).map(|s| s.id()), Some(ids[1]));
        assert!(pool.take(1).is_none());
    }
}
