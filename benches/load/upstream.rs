//! `sever-bench-upstream ADDR [--tls CERT KEY]`: the fixed-answer upstream of the load
//! benchmark.
//!
//! Answers every HTTP/1.1 request, whatever its method and path, the way Cedalo's
//! Management Center answers a successful disconnect: `200` with the JSON body `{}`. The
//! same server stands behind every contestant (direct, nginx, HAProxy, the pingora
//! passthrough and Sever), so differences between contestants are the proxies' own.
//!
//! Deliberately minimal and single-threaded (it shares a core with the proxy under test):
//! keep-alive, pipelining and `Content-Length` bodies; a chunked request body or a header
//! block over 64 KiB closes the connection (no contestant sends either).
//!
//! It counts the connections it accepts and answers `GET /__bench/accepts` with
//! `{"accepts":N}`: the benchmark asks before and after a sample, on the upstream port
//! itself, to see how many upstream connections a proxy opened (its connection reuse).
//! With `--tls CERT KEY` (PEM files) it serves HTTPS (rustls); every accepted connection is
//! then one TLS handshake (full or resumed), so the same count gives the handshakes.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// Connections accepted since start, whatever became of them.
static ACCEPTS: AtomicU64 = AtomicU64::new(0);
/// The request line that asks for [`ACCEPTS`] instead of the fixed answer.
const ACCEPTS_REQUEST: &[u8] = b"GET /__bench/accepts ";

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
    /// The head is `len` bytes long and a body of `body` bytes follows; `accepts` when it
    /// is `GET /__bench/accepts` without a body.
    Complete {
        len: usize,
        body: usize,
        accepts: bool,
    },
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
    Head::Complete {
        len: end + 4,
        body,
        // Only without a body: a body would be skipped and then answered with `{}`.
        accepts: body == 0 && buf.starts_with(ACCEPTS_REQUEST),
    }
}

/// The answer to `GET /__bench/accepts`.
fn accepts_answer(accepts: u64) -> Vec<u8> {
    let body = format!("{{\"accepts\":{accepts}}}");
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> std::io::Result<()> {
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
                Head::Complete { len, body, accepts } => {
                    buf.drain(..len);
                    if accepts {
                        out.extend_from_slice(&accepts_answer(ACCEPTS.load(Ordering::Relaxed)));
                    } else if body == 0 {
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

/// A rustls acceptor for the PEM certificate chain and private key at `cert` and `key`.
fn tls_acceptor(cert: &str, key: &str) -> std::io::Result<TlsAcceptor> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let mut certs = Vec::new();
    for c in rustls_pemfile::certs(&mut std::io::BufReader::new(std::fs::File::open(cert)?)) {
        certs.push(c?);
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(key)?))?
        .ok_or_else(|| invalid(format!("no private key in {key}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Accepts connections on `listener` forever, counting them, over TLS when `tls` is set.
async fn run(listener: TcpListener, tls: Option<TlsAcceptor>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        ACCEPTS.fetch_add(1, Ordering::Relaxed);
        let tls = tls.clone();
        tokio::spawn(async move {
            stream.set_nodelay(true)?;
            match tls {
                Some(acceptor) => serve(acceptor.accept(stream).await?).await,
                None => serve(stream).await,
            }
        });
    }
}

fn main() -> std::io::Result<()> {
    let usage =
        || std::io::Error::other("usage: sever-bench-upstream 127.0.0.1:PORT [--tls CERT KEY]");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = args
        .first()
        .and_then(|a| a.parse().ok())
        .ok_or_else(usage)?;
    let tls = match &args[1..] {
        [] => None,
        [flag, cert, key] if flag == "--tls" => Some(tls_acceptor(cert, key)?),
        _ => return Err(usage()),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move { run(TcpListener::bind(addr).await?, tls).await })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn heads_give_their_length_and_body_size() {
        let req = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"a\":\"b\"}   ";
        match parse_head(req) {
            Head::Complete { len, body, accepts } => {
                assert_eq!((len, body, accepts), (req.len() - 12, 12, false))
            }
            _ => panic!("not complete"),
        }
        assert!(matches!(parse_head(b"GET / HTTP/1.1\r\n"), Head::Partial));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(parse_head(chunked), Head::Unsupported));
    }

    /// Over a real socket: the count answer says how many connections were accepted by
    /// then, and ordinary requests on the same connection still get the fixed answer.
    #[test]
    fn the_accepts_path_answers_the_accepted_connection_count() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(run(listener, None));
            let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
            // One exchange on the first connection proves it was accepted before asking.
            first.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let mut answer = vec![0; ANSWER.len()];
            first.read_exact(&mut answer).await.unwrap();
            assert_eq!(answer, ANSWER);
            second
                .write_all(
                    b"GET /__bench/accepts HTTP/1.1\r\nhost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                )
                .await
                .unwrap();
            let expected = [
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{\"accepts\":2}".as_slice(),
                ANSWER,
            ]
            .concat();
            let mut answer = vec![0; expected.len()];
            second.read_exact(&mut answer).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&answer), String::from_utf8_lossy(&expected));
        });
    }
}
