//! `sever-bench-upstream ADDR`: the fixed-answer upstream of the load benchmark.
//!
//! Answers every HTTP/1.1 request, whatever its method and path, the way Cedalo's
//! Management Center answers a successful disconnect: `200` with the JSON body `{}`. The
//! same server stands behind every contestant (direct, nginx, HAProxy, the pingora
//! passthrough and Sever), so differences between contestants are the proxies' own.
//!
//! Deliberately minimal and single-threaded (it shares a core with the proxy under test):
//! keep-alive, pipelining and `Content-Length` bodies; a chunked request body or a header
//! block over 64 KiB closes the connection (no contestant sends either).

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Cedalo's answer to a successful disconnect.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\n\
content-type: application/json; charset=utf-8\r\n\
content-length: 2\r\n\
\r\n\
{}";
const MAX_HEAD: usize = 64 * 1024;

/// What the head of one request says about the bytes that follow it.
enum Head {
    /// More bytes are needed to see the whole head.
    Partial,
    /// The head is `len` bytes long and a body of `body` bytes follows.
    Complete { len: usize, body: usize },
    /// Something this server does not handle: close the connection.
    Unsupported,
}

fn parse_head(buf: &[u8]) -> Head {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Head::Unsupported
        } else {
            Head::Partial
        };
    };
    let mut body = 0;
    for line in buf[..end].split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
            match parsed {
                Some(n) => body = n,
                None => return Head::Unsupported,
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Head::Unsupported;
        }
    }
    Head::Complete { len: end + 4, body }
}

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(8192);
    let mut out = Vec::with_capacity(ANSWER.len() * 4);
    // Body bytes of the current request still to be skipped.
    let mut skip = 0usize;
    loop {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if skip > 0 {
                let take = skip.min(buf.len());
                buf.drain(..take);
                skip -= take;
                if skip > 0 {
                    break;
                }
                out.extend_from_slice(ANSWER);
            }
            match parse_head(&buf) {
                Head::Partial => break,
                Head::Unsupported => return Ok(()),
                Head::Complete { len, body } => {
                    buf.drain(..len);
                    if body == 0 {
                        out.extend_from_slice(ANSWER);
                    } else {
                        skip = body;
                    }
                }
            }
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| std::io::Error::other("usage: sever-bench-upstream 127.0.0.1:PORT"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = serve(stream).await;
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_give_their_length_and_body_size() {
        let req = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"a\":\"b\"}   ";
        match parse_head(req) {
            Head::Complete { len, body } => assert_eq!((len, body), (req.len() - 12, 12)),
            _ => panic!("not complete"),
        }
        assert!(matches!(parse_head(b"GET / HTTP/1.1\r\n"), Head::Partial));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse_head(chunked), Head::Unsupported));
    }
}
