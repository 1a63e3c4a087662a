//! `sever-bench-floor LISTEN UPSTREAM`: the floor of the load benchmark: the least a
//! tokio proxy does for one canonical request, to tell what the runtime and the kernel
//! cost from what Sever (and pingora) add.
//!
//! One current-thread tokio runtime, one task per client connection, each with its own
//! kept-alive upstream connection. Per request: read the head (httparse) and its
//! `Content-Length` body; write one fixed vendor request (the cedalo adapter's, as Sever
//! sends it) in one write; read the upstream answer's head and body; write one fixed
//! canonical answer in one write. No auth, no translation, no metrics, no timers: what
//! is left is reads, writes and wake-ups, the same system calls Sever makes.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const VENDOR_REQUEST: &[u8] = b"PUT /api/projects/p1/brokers/b1/clients/c1/disconnect HTTP/1.1\r\n\
host: 127.0.0.1\r\nauthorization: Bearer vendor-token\r\ncontent-type: application/json\r\n\
content-length: 0\r\n\r\n";
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
content-length: 17\r\ncache-control: no-store\r\n\r\n{\"status\":\"done\"}";
const MAX_HEAD: usize = 64 * 1024;

/// Reads one message (head and `Content-Length` body) from `stream` into `buf`, which may
/// already hold some of it; returns the message's length, or `None` at the end of input.
async fn read_message(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        // Requests and answers alike: only the head's length and framing matter here.
        let parsed = if buf.starts_with(b"HTTP/") {
            let mut answer = httparse::Response::new(&mut fields);
            match answer.parse(buf) {
                Ok(httparse::Status::Complete(n)) => Ok(Some((n, content_length(answer.headers)))),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(e) => Err(e),
            }
        } else {
            let mut request = httparse::Request::new(&mut fields);
            match request.parse(buf) {
                Ok(httparse::Status::Complete(n)) => Ok(Some((n, content_length(request.headers)))),
                Ok(httparse::Status::Partial) => Ok(None),
                Err(e) => Err(e),
            }
        };
        match parsed {
            Ok(Some((head, body))) => {
                while buf.len() < head + body {
                    if read_more(stream, buf).await? == 0 {
                        return Ok(None);
                    }
                }
                return Ok(Some(head + body));
            }
            Ok(None) if buf.len() < MAX_HEAD => {
                if read_more(stream, buf).await? == 0 {
                    return Ok(None);
                }
            }
            _ => return Err(std::io::Error::other("bad or oversized message")),
        }
    }
}

fn content_length(fields: &[httparse::Header<'_>]) -> usize {
    fields
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case("content-length"))
        .and_then(|f| std::str::from_utf8(f.value).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

async fn serve(mut client: TcpStream, upstream: SocketAddr) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    let mut vendor = TcpStream::connect(upstream).await?;
    vendor.set_nodelay(true)?;
    let (mut from_client, mut from_vendor) = (Vec::new(), Vec::new());
    while let Some(n) = read_message(&mut client, &mut from_client).await? {
        from_client.drain(..n);
        vendor.write_all(VENDOR_REQUEST).await?;
        let Some(m) = read_message(&mut vendor, &mut from_vendor).await? else {
            return Ok(());
        };
        from_vendor.drain(..m);
        client.write_all(ANSWER).await?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(Ok(listen)), Some(Ok(upstream))) = (
        args.next().map(|a| a.parse::<SocketAddr>()),
        args.next().map(|a| a.parse::<SocketAddr>()),
    ) else {
        return Err(std::io::Error::other(
            "usage: sever-bench-floor LISTEN UPSTREAM",
        ));
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        loop {
            let (client, _) = listener.accept().await?;
            tokio::spawn(async move {
                let _ = serve(client, upstream).await;
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixed_messages_declare_their_own_length() {
        for message in [VENDOR_REQUEST, ANSWER] {
            let text = std::str::from_utf8(message).unwrap_or_default();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
            let mut fields = [httparse::EMPTY_HEADER; 8];
            let declared = if head.starts_with("HTTP/") {
                let mut r = httparse::Response::new(&mut fields);
                assert!(r.parse(message).is_ok_and(|s| s.is_complete()), "{head}");
                content_length(r.headers)
            } else {
                let mut r = httparse::Request::new(&mut fields);
                assert!(r.parse(message).is_ok_and(|s| s.is_complete()), "{head}");
                content_length(r.headers)
            };
            assert_eq!(declared, body.len(), "{head}");
        }
    }
}
