//! Reading one request head off a connection, within its deadline and size cap, before
//! pingora parses it.
//!
//! pingora's own head reader restarts a 60 s timeout on every read and lets a head grow
//! to 1 MiB; this one gives the whole head `server.header_timeout_ms` from its first byte
//! and at most `server.max_header_bytes`, and tells the caller what to answer. What the
//! bytes are is decided by [`sever_engine::framing::scan_head`].

use bytes::BytesMut;
use pingora::protocols::Stream;
use sever_engine::framing::{scan_head, Head, HeadScan, Refusal};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

/// How long to wait for one head.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wait {
    /// A fresh connection's accept time: its first head is due `header_timeout` after it,
    /// first byte or not.
    pub(super) accepted: Option<Instant>,
    /// Until the first byte of a later request on a kept-alive connection.
    pub(super) idle: Duration,
    /// From the first byte to the blank line.
    pub(super) header_timeout: Duration,
    pub(super) max_header_bytes: usize,
    /// The first read's buffer (`server.read_buffer_bytes`); it grows (doubling) up to
    /// the head cap only for larger heads.
    pub(super) read_buffer: usize,
}

/// What came of waiting for a head.
#[derive(Debug)]
pub(super) enum Read {
    /// A head to serve; `buf` starts with it (its body and later requests may follow).
    Head(Head, BytesMut),
    /// The client closed, went idle past the limit, or the read failed, without sending
    /// a byte of a head: nothing to answer.
    Gone,
    /// Part of a head, then silence past the deadline: 408.
    TimedOut,
    /// A head Sever refuses (`buf` holds what was read, for the lingering close).
    Refused(Refusal),
    /// The client closed or the read failed in the middle of a head.
    Broken,
}

/// Reads until `buf` (bytes already read: a pipelined request) holds a whole head.
pub(super) async fn read(stream: &mut Stream, mut buf: BytesMut, wait: Wait) -> Read {
    let mut deadline = match wait.accepted {
        Some(at) => Some(at + wait.header_timeout),
        None => (!buf.is_empty()).then(|| Instant::now() + wait.header_timeout),
    };
    loop {
        if !buf.is_empty() {
            match scan_head(&buf, wait.max_header_bytes) {
                HeadScan::Complete(head) => return Read::Head(head, buf),
                HeadScan::Refused(refusal) => return Read::Refused(refusal),
                HeadScan::Incomplete => {}
            }
        }
        if buf.capacity() == buf.len() {
            let grow = buf.capacity().max(wait.read_buffer);
            buf.reserve(grow.min(wait.max_header_bytes.saturating_sub(buf.len()).max(1)));
        }
        let limit = deadline.unwrap_or_else(|| Instant::now() + wait.idle);
        match crate::deadline::until(limit, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) if buf.is_empty() => return Read::Gone,
            Ok(Ok(0)) | Ok(Err(_)) => return Read::Broken,
            Ok(Ok(_)) => {
                if deadline.is_none() {
                    deadline = Some(Instant::now() + wait.header_timeout);
                }
            }
            Err(_) if buf.is_empty() => return Read::Gone,
            Err(_) => return Read::TimedOut,
        }
    }
}
