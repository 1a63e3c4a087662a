//! Answers written where pingora's session cannot write them (a head refused before
//! pingora parsed it), and the closes that follow any refusal.

use pingora::protocols::Stream;
use sever_engine::problem::{Answer, ApiProblem};
use std::fmt::Write as _;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long writing a refusal may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After a refusal, how long the rest of what the client sends is read and dropped, and
/// how much of it at most: closing a socket with unread input resets the connection, and
/// a reset can destroy the answer before the client reads it.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// Writes `problem` as the whole answer, with `Connection: close`, and closes the
/// connection (lingering when the client may still be sending).
pub(super) async fn refuse(mut stream: Stream, problem: &ApiProblem, linger: bool) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let answer = Answer::problem(problem, &request_id);
    let bytes = serialize(&answer, &request_id);
    let write = async {
        stream.write_all(&bytes).await?;
        stream.flush().await
    };
    if !matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(()))) {
        return;
    }
    close(stream, linger).await;
}

/// Closes a connection after its last answer: the write side first, then (`linger`)
/// whatever the client still sends is read and dropped for a bounded time.
pub(super) async fn close(mut stream: Stream, linger: bool) {
    let _ = tokio::time::timeout(WRITE_TIMEOUT, AsyncWriteExt::shutdown(&mut stream)).await;
    if !linger {
        return;
    }
    let drain = async {
        let mut scratch = [0u8; 4096];
        let mut dropped = 0;
        while dropped < LINGER_BYTES {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => dropped += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// The answer as HTTP/1.1 bytes. Only Sever's own fixed header values are written (the
/// problem's content type, `WWW-Authenticate`, `Retry-After`).
fn serialize(answer: &Answer, request_id: &str) -> Vec<u8> {
    let status = http::StatusCode::from_u16(answer.status)
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut head = String::with_capacity(256);
    let _ = write!(
        head,
        "HTTP/1.1 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    for (name, value) in &answer.headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    let _ = write!(
        head,
        "x-request-id: {request_id}\r\ncontent-length: {}\r\ncache-control: no-store\r\n\
         date: {}\r\nconnection: close\r\n\r\n",
        answer.body.len(),
        httpdate::fmt_http_date(std::time::SystemTime::now()),
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&answer.body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use sever_engine::problem::ProblemCode;

    #[test]
    fn a_refusal_is_a_complete_http_answer_that_closes() {
        let problem = ApiProblem::new(ProblemCode::HeadersTooLarge, "too large");
        let answer = Answer::problem(&problem, "r-1");
        let bytes = serialize(&answer, "r-1");
        let text = String::from_utf8(bytes).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        assert!(body.contains("\"code\":\"headers_too_large\""), "{body}");
    }
}
