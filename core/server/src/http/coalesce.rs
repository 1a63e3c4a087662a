//! A served connection's writes gathered until a flush: an answer's head and body leave
//! in one `sendto` (or, over TLS, one write of its records).
//!
//! pingora's HTTP/1 session writes an answer's head and its body separately and flushes
//! at the end; on an unbuffered socket that is two system calls and two segments. A
//! `BufWriter` of pingora's own would do the same job, but it is allocated with the
//! connection and held for as long as it stays open; this buffer exists only between a
//! write and its flush, so an idle keep-alive connection holds none.

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// Writes larger than this go to the connection directly (after what is pending).
const GATHER_LIMIT: usize = 16 * 1024;

/// A connection whose writes wait in memory until it is flushed.
#[derive(Debug)]
pub(crate) struct Coalesced {
    inner: Stream,
    pending: Vec<u8>,
    /// How much of `pending` has been written.
    written: usize,
}

impl Coalesced {
    pub(crate) fn new(inner: Stream) -> Self {
        Coalesced {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }

    /// Writes out what is pending; its buffer is let go once all of it is written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Coalesced {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Coalesced {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.pending.len() + buf.len() > GATHER_LIMIT {
            ready!(this.poll_drain(cx))?;
            if buf.len() > GATHER_LIMIT {
                return Pin::new(&mut this.inner).poll_write(cx, buf);
            }
        }
        this.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for Coalesced {
    async fn shutdown(&mut self) {
        // What is pending is written first, as a flush would.
        let _ = AsyncWriteExt::flush(self).await;
        Shutdown::shutdown(&mut *self.inner).await;
    }
}

impl UniqueID for Coalesced {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for Coalesced {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Coalesced {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for Coalesced {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for Coalesced {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for Coalesced {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use pingora::protocols::l4::stream::Stream as L4Stream;
    use tokio::io::AsyncReadExt;

    /// A connected pair: the wrapped server side and the peer's plain socket.
    async fn pair() -> (Coalesced, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (served, _) = listener.accept().await.unwrap();
        (Coalesced::new(Box::new(L4Stream::from(served))), peer)
    }

    #[tokio::test]
    async fn writes_wait_for_the_flush_and_leave_together() {
        let (mut served, mut peer) = pair().await;
        served.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        served.write_all(b"{}").await.unwrap();
        // Both wait in memory until the flush.
        assert_eq!(served.pending, b"HTTP/1.1 200 OK\r\n\r\n{}");
        served.flush().await.unwrap();
        let mut got = vec![0u8; 21];
        peer.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"HTTP/1.1 200 OK\r\n\r\n{}");
        assert_eq!(
            served.pending.capacity(),
            0,
            "the buffer outlived its flush"
        );
    }

    #[tokio::test]
    async fn a_large_write_goes_out_whole_and_in_order() {
        let (mut served, mut peer) = pair().await;
        let big = vec![b'x'; GATHER_LIMIT * 3];
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.unwrap();
            got
        });
        served.write_all(b"head").await.unwrap();
        served.write_all(&big).await.unwrap();
        served.write_all(b"tail").await.unwrap();
        AsyncWriteExt::shutdown(&mut served).await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), 4 + big.len() + 4);
        assert!(got.starts_with(b"head") && got.ends_with(b"tail"));
        assert!(got[4..4 + big.len()].iter().all(|&b| b == b'x'));
    }
}
