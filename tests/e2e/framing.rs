//! End to end with raw sockets: request framing that cannot be smuggled through Sever.
//! A request whose framing is in doubt is answered and its connection closed, and no
//! byte after it is ever run as a request (the simulator proves nothing reached the
//! vendor); heads Sever cannot honour get a status, never a silent close; pipelined
//! requests are all answered in order.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use sever_tests::harness::raw::{RawClient, RawReply};
use sever_tests::harness::Sever;
use sever_tests::sim::CedaloSim;
use std::time::Duration;

/// How long the server may take to close a connection after its last answer (it reads
/// and drops what the client still sends for up to 2 s first).
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// A complete `POST /v1/actions` disconnecting `client_id`, as `oncall`.
fn disconnect_request(client_id: &str) -> String {
    let body = disconnect_body(client_id);
    format!(
        "POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A complete `POST /v1/actions` head as `oncall` with these extra header lines (each
/// ending in CRLF).
fn actions_head(extra: &str) -> String {
    format!(
        "POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\n{extra}\r\n"
    )
}

/// Asserts the vendor never received the disconnect of `client_id`.
fn assert_never_run(sim: &CedaloSim, client_id: &str) {
    let path = vendor_path(client_id);
    let calls = sim.calls();
    assert!(
        calls.iter().all(|c| c.raw_path != path),
        "the smuggled request reached the vendor: {calls:#?}"
    );
}

/// Asserts `reply` is the problem `code` with `status`, says `Connection: close`, and
/// shows nothing of the parser's own error text.
fn assert_refusal(reply: &RawReply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{reply:#?}");
    let problem = reply.json();
    assert_eq!(problem["code"], code, "{problem:#}");
    assert_eq!(reply.header("connection"), Some("close"), "{reply:#?}");
    let detail = problem["detail"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for internal in ["pingora", "buf:", "invalidhttpheader", "error"] {
        assert!(!detail.contains(internal), "internal text in {detail:?}");
    }
}

#[test]
fn content_length_with_transfer_encoding_is_refused_and_its_tail_is_never_run() {
    let sim = sim(&["sensor-17", "smuggled-1"]);
    let sever = start(&sim);
    let mut client = RawClient::connect(sever.port());
    let smuggled = disconnect_request("smuggled-1");
    let head = actions_head(&format!(
        "Content-Length: {}\r\nTransfer-Encoding: chunked\r\n",
        5 + smuggled.len()
    ));

    client.send(format!("{head}0\r\n\r\n").as_bytes()).unwrap();
    let reply = client.expect_reply();
    // The tail, in a later segment: by Content-Length, still the first request's body;
    // by the chunked framing, a second request.
    let _ = client.send(smuggled.as_bytes());

    assert_refusal(&reply, 400, "invalid_request");
    client.expect_closed(CLOSE_LIMIT);
    assert_never_run(&sim, "smuggled-1");
    assert_nothing_sent(&sim);
    let refused = metric_now(
        &sever,
        "sever_http_refusals_total",
        &[("reason", "ambiguous_length")],
    );
    assert_eq!(refused, Some(1.0));
}

#[test]
fn a_chunked_framing_error_closes_the_connection_and_what_follows_never_runs() {
    let sim = sim(&["smuggled-2"]);
    let sever = start(&sim);
    let mut client = RawClient::connect(sever.port());
    let head = actions_head("Transfer-Encoding: chunked\r\n");

    // `zz` is no chunk size; the bytes after it must not be taken as a request.
    let smuggled = disconnect_request("smuggled-2");
    client
        .send(format!("{head}zz\r\n{{}}\r\n0\r\n\r\n{smuggled}").as_bytes())
        .unwrap();
    let reply = client.expect_reply();
    let _ = client.send(smuggled.as_bytes());

    assert_refusal(&reply, 400, "invalid_request");
    client.expect_closed(CLOSE_LIMIT);
    assert_never_run(&sim, "smuggled-2");
    assert_nothing_sent(&sim);
}

#[test]
fn two_pipelined_requests_in_one_segment_are_both_answered_in_order() {
    let sim = sim(&["sensor-1", "sensor-2"]);
    let sever = start(&sim);
    let mut client = RawClient::connect(sever.port());

    let both = format!(
        "{}{}",
        disconnect_request("sensor-1"),
        disconnect_request("sensor-2")
    );
    client.send(both.as_bytes()).unwrap();
    let first = client.expect_reply();
    let second = client.expect_reply();

    assert_eq!(first.status, 200, "{first:#?}");
    assert_eq!(second.status, 200, "{second:#?}");
    assert_eq!(first.header("connection"), Some("keep-alive"), "{first:#?}");
    let calls = sim.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_disconnect_call(&calls[0], "sensor-1", CEDALO_TOKEN);
    assert_disconnect_call(&calls[1], "sensor-2", CEDALO_TOKEN);
    // And the connection still serves a third.
    client
        .send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    assert_eq!(client.expect_reply().status, 200);
}

/// Sends `head` on a fresh connection and returns the answer, after checking the server
/// then closes the connection.
fn refused_head(sever: &Sever, head: &str) -> RawReply {
    let mut client = RawClient::connect(sever.port());
    client.send(head.as_bytes()).unwrap();
    let reply = client.expect_reply();
    client.expect_closed(CLOSE_LIMIT);
    reply
}

#[test]
fn heads_sever_cannot_honour_are_answered_with_their_status_and_closed() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let body = disconnect_body("sensor-17");
    let cases = [
        (
            actions_head("Transfer-Encoding: gzip, chunked\r\n"),
            501,
            "not_implemented",
            "unsupported_transfer_coding",
        ),
        (
            actions_head(&format!(
                "Content-Encoding: gzip\r\nContent-Length: {}\r\n",
                body.len()
            )),
            415,
            "unsupported_media_type",
            "content_encoding",
        ),
        (
            actions_head(&format!(
                "Authorization: Bearer {NARROW}\r\nContent-Length: 2\r\n"
            )),
            400,
            "invalid_request",
            "duplicate_authorization",
        ),
        (
            "GET /healthz HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n".to_owned(),
            505,
            "http_version_not_supported",
            "unsupported_version",
        ),
        (
            "GET /healthz\tHTTP/1.1 nonsense\r\n\r\n".to_owned(),
            400,
            "invalid_request",
            "malformed",
        ),
        (
            format!(
                "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {}\r\n\r\n",
                "a".repeat(20_000)
            ),
            431,
            "headers_too_large",
            "head_too_large",
        ),
    ];
    for (head, status, code, reason) in cases {
        let reply = refused_head(&sever, &head);
        assert_refusal(&reply, status, code);
        let counted = metric_now(&sever, "sever_http_refusals_total", &[("reason", reason)]);
        assert_eq!(counted, Some(1.0), "{reason}");
    }
    assert_nothing_sent(&sim);
}

#[test]
fn expect_100_continue_is_answered_before_the_body_and_not_for_a_refused_request() {
    let sim = sim(&["sensor-17"]);
    let sever = start(&sim);
    let body = disconnect_body("sensor-17");
    let mut client = RawClient::connect(sever.port());

    let head = actions_head(&format!(
        "Expect: 100-continue\r\nContent-Length: {}\r\n",
        body.len()
    ));
    client.send(head.as_bytes()).unwrap();
    let interim = client.expect_reply();
    client.send(body.as_bytes()).unwrap();
    let reply = client.expect_reply();

    assert_eq!(interim.status, 100, "{interim:#?}");
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.header("connection"), Some("keep-alive"), "{reply:#?}");
    assert_one_disconnect_call(&sim, "sensor-17");

    // Without a token: the final answer at once, no 100, and the unread body closes it.
    let mut client = RawClient::connect(sever.port());
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    client.send(head.as_bytes()).unwrap();
    let reply = client.expect_reply();
    assert_eq!(reply.status, 401, "{reply:#?}");
    assert_eq!(reply.header("connection"), Some("close"), "{reply:#?}");
    client.expect_closed(CLOSE_LIMIT);
    assert_eq!(sim.calls().len(), 1);
}
