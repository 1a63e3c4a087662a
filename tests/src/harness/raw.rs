//! A raw TCP client for the HTTP framing and slow-client tests: bytes written exactly as
//! given (several segments, a byte at a time, half a head), answers read one by one, and
//! whether the server closed the connection. Every read has its own timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one read may wait unless told otherwise.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One answer as read off the wire.
#[derive(Debug, Clone)]
pub struct RawReply {
    pub status: u16,
    /// Names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawReply {
    /// A header's value (the first, if repeated).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What a read found instead of an answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The server closed (EOF or reset).
    Closed,
    /// Nothing within the timeout.
    Silent,
}

/// A raw connection to `127.0.0.1:port`.
#[derive(Debug)]
pub struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    /// Connects (within [`READ_TIMEOUT`]); panics if it cannot.
    pub fn connect(port: u16) -> RawClient {
        Self::try_connect(port).unwrap_or_else(|e| panic!("connect to port {port}: {e}"))
    }

    /// Connects (within [`READ_TIMEOUT`]).
    pub fn try_connect(port: u16) -> std::io::Result<RawClient> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(RawClient {
            stream,
            buffer: Vec::new(),
        })
    }

    /// Writes `bytes` as they are (one write: one segment on loopback, with nodelay).
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sets how long each later read waits.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        let _ = self.stream.set_read_timeout(Some(timeout));
    }

    /// Reads one answer (the head, then `Content-Length` bytes; none for `head_only`),
    /// leaving later bytes buffered; `Err` when the server closed or said nothing first.
    pub fn reply(&mut self, head_only: bool) -> Result<RawReply, Ended> {
        let head_end = loop {
            if let Some(at) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break at;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buffer[..head_end]).into_owned();
        self.buffer.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length = if head_only || status < 200 {
            0
        } else {
            headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        while self.buffer.len() < length {
            self.fill()?;
        }
        let body = self.buffer.drain(..length).collect();
        Ok(RawReply {
            status,
            headers,
            body,
        })
    }

    /// Reads one answer; panics (with what was read) if there is none.
    pub fn expect_reply(&mut self) -> RawReply {
        match self.reply(false) {
            Ok(reply) => reply,
            Err(e) => panic!(
                "no answer ({e:?}); read so far: {:?}",
                String::from_utf8_lossy(&self.buffer)
            ),
        }
    }

    /// Waits up to `limit` for the server to close the connection, sending nothing more;
    /// returns how long it took, or panics.
    pub fn expect_closed(&mut self, limit: Duration) -> Duration {
        let started = Instant::now();
        assert!(
            self.buffer.is_empty(),
            "bytes after the answer: {:?}",
            String::from_utf8_lossy(&self.buffer)
        );
        self.set_read_timeout(limit);
        let mut chunk = [0u8; 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => started.elapsed(),
            Ok(n) => panic!(
                "more bytes instead of a close: {:?}",
                String::from_utf8_lossy(&chunk[..n])
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => started.elapsed(),
            Err(e) => panic!("the server kept the connection open ({e}) for {limit:?}"),
        }
    }

    fn fill(&mut self) -> Result<(), Ended> {
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(Ended::Closed),
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Ended::Silent)
            }
            Err(_) => Err(Ended::Closed),
        }
    }
}
