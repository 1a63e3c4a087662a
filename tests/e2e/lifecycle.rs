//! End to end through the real `sever` and the Cedalo simulator: what happens around a
//! canonical request — retries of idempotent vendor calls (within `request_timeout_ms`),
//! graceful shutdown on SIGTERM / SIGINT, connection handling (413 closes, keep-alive),
//! `X-Request-Id`, and the probes' methods.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;
use sever_tests::eventually;
use sever_tests::harness::http;
use sever_tests::sim::Fault;

// ---------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------

/// Asserts every call the simulator received is the disconnect of `client_id` (a retry is
/// the same call, planned again) and returns the statuses it answered.
fn assert_all_disconnects(sim: &sever_tests::sim::CedaloSim, client_id: &str) -> Vec<Option<u16>> {
    let calls = sim.calls();
    for call in &calls {
        assert_disconnect_call(call, client_id, CEDALO_TOKEN);
    }
    calls.iter().map(|c| c.status).collect()
}

#[test]
fn a_vendor_5xx_is_retried_once_with_retries_1_and_then_answers_upstream_error() {
    let sim = sim(&["sensor-17"]);
    sim.set_fault(Fault::InternalError);
    let sever = start_tuned(&sim, "", 500, 1);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_error");
    assert_vendor(problem, 500, "INTERNAL_ERROR");
    assert_eq!(
        assert_all_disconnects(&sim, "sensor-17"),
        [Some(500), Some(500)],
        "one call and one retry"
    );
    assert!(sim.is_connected("sensor-17"));
    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 1, "one audit line per request: {lines:#?}");
    assert_eq!(lines[0]["code"], "upstream_error", "{:#}", lines[0]);
}

#[test]
fn a_vendor_5xx_is_not_retried_with_retries_0() {
    let sim = sim(&["sensor-17"]);
    sim.set_fault(Fault::InternalError);
    let sever = start_tuned(&sim, "", 500, 0);

    let reply = disconnect(&sever, "sensor-17");

    reply.expect_problem(502, "upstream_error");
    assert_eq!(assert_all_disconnects(&sim, "sensor-17"), [Some(500)]);
}

#[test]
fn a_vendor_5xx_then_a_success_is_done_after_exactly_two_calls_with_retries_2() {
    let sim = sim(&["sensor-17"]);
    sim.fail_next(1, Fault::InternalError);
    let sever = start_tuned(&sim, "", 500, 2);

    let reply = disconnect(&sever, "sensor-17");

    let body = reply.expect_success();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_eq!(body["vendor"]["status"], 200, "{body:#}");
    assert_eq!(
        assert_all_disconnects(&sim, "sensor-17"),
        [Some(500), Some(200)],
        "the failed call and its one successful retry"
    );
    assert!(!sim.is_connected("sensor-17"));
    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "done", "{:#}", lines[0]);
    assert_eq!(lines[0]["vendor_status"], 200, "{:#}", lines[0]);
}

#[test]
fn a_vendor_404_for_a_client_not_connected_is_never_retried() {
    let sim = sim(&[]);
    let sever = start_tuned(&sim, "", 500, 2);

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(404, "target_not_found");
    assert_vendor(problem, 404, "NOT_FOUND");
    assert_eq!(assert_all_disconnects(&sim, "sensor-17"), [Some(404)]);
}

#[test]
fn retries_of_a_slow_vendor_never_run_past_the_request_timeout() {
    let sim = sim(&["sensor-17"]);
    sim.set_delay(Duration::from_secs(5)); // far beyond timeout_ms
    let sever = start_tuned(&sim, ", request_timeout_ms: 1500", 400, 5);

    let started = Instant::now();
    let reply = disconnect(&sever, "sensor-17");
    let elapsed = started.elapsed();

    reply.expect_problem(504, "upstream_timeout");
    // request_timeout_ms is 1500; a generous margin, as this is not a timing benchmark.
    // Without the cap, 6 calls of 400 ms plus backoff would take over 2.4 s (and the
    // simulator would answer each after 5 s).
    assert!(
        elapsed < Duration::from_secs(3),
        "answered after {elapsed:?}"
    );
    let calls = sim.calls();
    assert!(
        (1..=4).contains(&calls.len()),
        "1500 ms hold at most 4 calls of 400 ms: {} calls: {calls:#?}",
        calls.len()
    );
    for call in &calls {
        assert_disconnect_call(call, "sensor-17", CEDALO_TOKEN);
    }
    assert!(sim.is_connected("sensor-17"));
}

// ---------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------

/// How long a shutdown may take before the test calls it stuck.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

/// Asserts nothing accepts connections on `port` any more.
fn assert_port_refuses(port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert!(
        result.is_err(),
        "port {port} still accepts connections after exit"
    );
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_0_and_closes_the_port() {
    let sim = sim(&["sensor-17"]);
    let mut sever = start_tuned(&sim, ", shutdown_grace_ms: 5000", 4000, 0);
    let url = sever.url("/v1/actions");
    let gate = sim.hold_answers();

    let in_flight = std::thread::spawn(move || {
        http::Client::new().try_send(
            "POST",
            &url,
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {ONCALL}")),
            ],
            Some(disconnect_body("sensor-17").as_bytes()),
        )
    });
    // The request is in flight once the vendor holds it.
    assert!(
        eventually(Duration::from_secs(10), || gate.held() == 1),
        "the request never reached the vendor"
    );
    sever.terminate();
    // Draining has begun once the listener refuses new connections; the vendor answers
    // only then.
    let port = sever.port();
    assert!(
        eventually(EXIT_LIMIT, || {
            TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err()
        }),
        "sever still accepts connections after SIGTERM"
    );
    gate.release();

    let result = in_flight.join().unwrap();
    let reply = result.unwrap_or_else(|err| {
        panic!(
            "the request in flight when SIGTERM arrived got no answer (its vendor call was \
             released once the listener closed; shutdown_grace_ms is 5000): {err}"
        )
    });
    let body = reply.expect_success();
    assert_eq!(body["outcome"], "done", "{body:#}");
    assert_one_disconnect_call(&sim, "sensor-17");
    assert!(!sim.is_connected("sensor-17"));
    let status = sever
        .wait_exit(EXIT_LIMIT)
        .unwrap_or_else(|| panic!("sever still runs {EXIT_LIMIT:?} after SIGTERM"));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}; stderr:\n{}",
        sever.stderr()
    );
    assert_port_refuses(sever.port());
    assert_eq!(sever.audit_lines().len(), 1, "{}", sever.audit_text());
}

#[test]
fn sigterm_with_nothing_in_flight_exits_0_promptly() {
    let sim = sim(&[]);
    let mut sever = start_tuned(&sim, ", shutdown_grace_ms: 2000", 500, 0);

    sever.terminate();

    let status = sever
        .wait_exit(EXIT_LIMIT)
        .unwrap_or_else(|| panic!("sever still runs {EXIT_LIMIT:?} after SIGTERM"));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGTERM: {status}; stderr:\n{}",
        sever.stderr()
    );
    assert_port_refuses(sever.port());
}

#[test]
fn sigint_stops_the_server_promptly() {
    let sim = sim(&[]);
    let mut sever = start_tuned(&sim, ", shutdown_grace_ms: 10000", 500, 0);

    sever.interrupt();

    let status = sever.wait_exit(EXIT_LIMIT).unwrap_or_else(|| {
        panic!(
            "sever still runs {EXIT_LIMIT:?} after SIGINT; stderr:\n{}",
            sever.stderr()
        )
    });
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIGINT: {status}; stderr:\n{}",
        sever.stderr()
    );
    assert_port_refuses(sever.port());
}

// ---------------------------------------------------------------------------------------
// Connections (raw HTTP/1.1, so the test sees exactly what is on the wire)
// ---------------------------------------------------------------------------------------

/// A read timeout for raw sockets: a stuck server fails the test instead of hanging it.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// One HTTP/1.1 answer read off a raw socket.
#[derive(Debug)]
struct RawReply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {self:#?}"))
    }
}

/// A raw connection to `sever`, with read and write timeouts.
fn connect(sever: &sever_tests::harness::Sever) -> TcpStream {
    let addr = SocketAddr::from(([127, 0, 0, 1], sever.port()));
    let stream = TcpStream::connect_timeout(&addr, READ_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
    stream
}

/// Reads one answer: the head up to the blank line, then `Content-Length` bytes of body
/// (none when `head_only`, the answer to a HEAD). Leaves anything after it unread in
/// `buffer`, so several answers on one connection can be read in turn.
fn read_reply(stream: &mut TcpStream, buffer: &mut Vec<u8>, head_only: bool) -> RawReply {
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        fill(stream, buffer, "the answer's head");
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    buffer.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?} (head: {head:?})"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = if head_only {
        0
    } else {
        headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("no Content-Length: {head}"))
    };
    while buffer.len() < length {
        fill(stream, buffer, "the answer's body");
    }
    let body = buffer.drain(..length).collect();
    RawReply {
        status,
        headers,
        body,
    }
}

/// Reads more bytes into `buffer`; panics on EOF, error or timeout.
fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>, what: &str) {
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk) {
        Ok(0) => panic!(
            "connection closed while reading {what}; got so far: {:?}",
            String::from_utf8_lossy(buffer)
        ),
        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        Err(err) => panic!(
            "reading {what} failed: {err}; got so far: {:?}",
            String::from_utf8_lossy(buffer)
        ),
    }
}

/// Asserts the server closes the connection (EOF or reset) within [`READ_TIMEOUT`],
/// sending nothing more.
fn assert_closed_by_server(stream: &mut TcpStream, buffer: &[u8]) {
    assert!(
        buffer.is_empty(),
        "bytes after the answer: {:?}",
        String::from_utf8_lossy(buffer)
    );
    let mut chunk = [0u8; 1024];
    match stream.read(&mut chunk) {
        Ok(0) => {}
        Ok(n) => panic!(
            "more bytes after the answer: {:?}",
            String::from_utf8_lossy(&chunk[..n])
        ),
        Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            panic!("the server kept the connection open for {READ_TIMEOUT:?} after a 413")
        }
        Err(err) if err.kind() == ErrorKind::ConnectionReset => {}
        Err(err) => panic!("unexpected error instead of a close: {err}"),
    }
}

/// A `POST /v1/actions` head as `oncall`, with these extra header lines (each ending in
/// CRLF).
fn actions_head(extra: &str) -> String {
    format!(
        "POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\n{extra}\r\n"
    )
}

#[test]
fn a_declared_oversize_body_is_413_at_once_and_the_connection_is_closed() {
    let sim = sim(&["sensor-17"]);
    let sever = start_tuned(&sim, ", max_body_bytes: 1024", 500, 0);
    let mut stream = connect(&sever);
    let mut buffer = Vec::new();

    // A body of 10 MB is announced and none of it is sent: the answer must not wait for it.
    let head = actions_head("Content-Length: 10000000\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let reply = read_reply(&mut stream, &mut buffer, false);

    assert_eq!(reply.status, 413, "{reply:#?}");
    assert_eq!(reply.json()["code"], "payload_too_large", "{reply:#?}");
    assert_eq!(
        reply.json()["request_id"].as_str(),
        reply.header("x-request-id"),
        "{reply:#?}"
    );
    assert_closed_by_server(&mut stream, &buffer);
    assert_nothing_sent(&sim);

    // The server still serves, on a new connection.
    let reply = disconnect(&sever, "sensor-17");
    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_one_disconnect_call(&sim, "sensor-17");
}

#[test]
fn a_chunked_body_growing_past_the_limit_is_413_and_the_connection_is_closed() {
    let sim = sim(&["sensor-17"]);
    let sever = start_tuned(&sim, ", max_body_bytes: 1024", 500, 0);
    let mut stream = connect(&sever);
    let mut buffer = Vec::new();

    // One 1500-byte chunk and no last chunk: the rest of the body never comes.
    let chunk = "x".repeat(1500);
    let request = format!(
        "{}{:x}\r\n{chunk}\r\n",
        actions_head("Transfer-Encoding: chunked\r\n"),
        chunk.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let reply = read_reply(&mut stream, &mut buffer, false);

    assert_eq!(reply.status, 413, "{reply:#?}");
    assert_eq!(reply.json()["code"], "payload_too_large", "{reply:#?}");
    assert_closed_by_server(&mut stream, &buffer);
    assert_nothing_sent(&sim);

    let reply = disconnect(&sever, "sensor-17");
    assert_eq!(reply.expect_success()["outcome"], "done");
}

#[test]
fn each_request_on_one_kept_alive_connection_gets_its_own_request_id() {
    let sim = sim(&["sensor-1", "sensor-2", "sensor-3"]);
    let sever = start(&sim);
    let mut stream = connect(&sever);
    let mut buffer = Vec::new();

    let mut ids = Vec::new();
    for client in ["sensor-1", "sensor-2", "sensor-3"] {
        let body = disconnect_body(client);
        let request = format!(
            "{}{body}",
            actions_head(&format!("Content-Length: {}\r\n", body.len()))
        );
        stream.write_all(request.as_bytes()).unwrap();
        let reply = read_reply(&mut stream, &mut buffer, false);
        assert_eq!(reply.status, 200, "{client}: {reply:#?}");
        let json = reply.json();
        assert_eq!(json["outcome"], "done", "{client}: {reply:#?}");
        let id = reply
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no X-Request-Id: {reply:#?}"))
            .to_owned();
        assert_eq!(json["request_id"].as_str(), Some(id.as_str()), "{reply:#?}");
        ids.push(id);
    }
    // And a probe on the same connection gets its own, too.
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let reply = read_reply(&mut stream, &mut buffer, false);
    assert_eq!(reply.status, 200, "{reply:#?}");
    ids.push(reply.header("x-request-id").unwrap_or_default().to_owned());

    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "request ids repeat: {ids:?}");
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    assert!(sim.connected_clients().is_empty());
    assert_eq!(sim.calls().len(), 3);
    let audited: Vec<_> = sever
        .audit_lines()
        .iter()
        .map(|l| l["request_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(audited, ids[..3], "audit lines carry each request's id");
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------
// X-Request-Id
// ---------------------------------------------------------------------------------------

/// Disconnects `client` as `oncall`, sending `X-Request-Id: request_id`.
fn disconnect_with_request_id(
    sever: &sever_tests::harness::Sever,
    client: &str,
    request_id: &str,
) -> http::Reply {
    let auth = format!("Bearer {ONCALL}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("x-request-id", request_id),
    ];
    let body = disconnect_body(client);
    http::send(
        "POST",
        &sever.url("/v1/actions"),
        &headers,
        Some(body.as_bytes()),
    )
}

/// Whether `id` reads like a generated UUID (8-4-4-4-12 hex digits).
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn a_valid_caller_request_id_is_echoed_and_used_in_the_body_and_the_audit_line() {
    let sim = sim(&["sensor-17", "sensor-18"]);
    let sever = start(&sim);
    let longest = format!("inc-4411.abc:{}", "z".repeat(115)); // 128 characters
    assert_eq!(longest.len(), 128);

    for (client, given) in [("sensor-17", "inc-4411.abc"), ("sensor-18", &longest)] {
        let reply = disconnect_with_request_id(&sever, client, given);
        let body = reply.expect_success(); // also: body's request_id == X-Request-Id
        assert_eq!(reply.header("x-request-id"), Some(given), "{reply:#?}");
        assert_eq!(body["request_id"], given, "{body:#}");
    }
    // Also on a problem answer.
    let reply = disconnect_with_request_id(&sever, "sensor-99", "inc-4411.def");
    reply.expect_problem(404, "target_not_found");
    assert_eq!(reply.header("x-request-id"), Some("inc-4411.def"));

    let audited: Vec<_> = sever
        .audit_lines()
        .iter()
        .map(|l| l["request_id"].clone())
        .collect();
    assert_eq!(
        audited,
        [
            Value::from("inc-4411.abc"),
            Value::from(longest.as_str()),
            Value::from("inc-4411.def")
        ]
    );
}

#[test]
fn an_invalid_caller_request_id_is_replaced_by_a_generated_one() {
    let sim = sim(&["a", "b", "c", "d"]);
    let sever = start(&sim);
    let too_long = "a".repeat(200);
    let just_too_long = "b".repeat(129);
    let cases = [
        ("a", "inc 4411"),
        ("b", too_long.as_str()),
        ("c", just_too_long.as_str()),
        ("d", "inc/4411"),
    ];

    let mut generated = Vec::new();
    for (client, given) in cases {
        let reply = disconnect_with_request_id(&sever, client, given);
        let body = reply.expect_success();
        let id = reply.header("x-request-id").unwrap();
        assert_ne!(id, given, "{given:?} was kept: {reply:#?}");
        assert!(is_uuid(id), "{given:?} replaced by {id:?}, not a UUID");
        assert_eq!(body["request_id"], id, "{body:#}");
        generated.push(Value::from(id));
    }
    let audited: Vec<_> = sever
        .audit_lines()
        .iter()
        .map(|l| l["request_id"].clone())
        .collect();
    assert_eq!(audited, generated);
    let text = sever.audit_text();
    assert!(
        !text.contains(&too_long) && !text.contains("inc 4411"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------

#[test]
fn head_healthz_answers_200_with_no_body() {
    let sim = sim(&[]);
    let sever = start(&sim);
    let mut stream = connect(&sever);
    let mut buffer = Vec::new();

    // HEAD, then GET on the same connection: a body sent after the HEAD answer would
    // arrive in front of the GET answer. (One request at a time: pingora does not serve
    // pipelined requests.)
    stream
        .write_all(b"HEAD /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let head = read_reply(&mut stream, &mut buffer, true);
    assert_eq!(head.status, 200, "{head:#?}");
    assert!(head.header("x-request-id").is_some(), "{head:#?}");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let get = read_reply(&mut stream, &mut buffer, false);
    assert_eq!(get.status, 200, "{get:#?} (after HEAD: {head:#?})");
    assert!(buffer.is_empty(), "{:?}", String::from_utf8_lossy(&buffer));
    let _ = stream.shutdown(Shutdown::Both);

    // And through an ordinary client.
    let reply = http::send("HEAD", &sever.url("/healthz"), &[], None);
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert!(reply.text.is_empty(), "{reply:#?}");
}

#[test]
fn post_healthz_is_method_not_allowed_with_allow_get() {
    let sim = sim(&[]);
    let sever = start(&sim);

    for body in [None, Some(b"{}".as_slice())] {
        let reply = http::send(
            "POST",
            &sever.url("/healthz"),
            &[("content-type", "application/json")],
            body,
        );
        reply.expect_problem(405, "method_not_allowed");
        assert_eq!(reply.header("allow"), Some("GET"), "{reply:#?}");
    }
}

#[test]
fn sighup_reloads_without_stopping_the_server() {
    let sim = sim(&["sensor-17"]);
    let mut sever = start(&sim);

    // The reload is counted as a success: the signal was handled, not fatal.
    reload(&sever, Reload::Success);

    assert!(sever.is_running());
    disconnect(&sever, "sensor-17").expect_success();
}

// ---------------------------------------------------------------------------------------
// Load shedding: beyond the limits, 503 at once, nothing queued, nothing sent
// ---------------------------------------------------------------------------------------

/// Starts `hold` requests whose answers the simulator holds, waits until it holds them
/// all, runs `probe`, then lets the held ones finish and returns their statuses.
fn while_busy<T>(
    sever: &sever_tests::harness::Sever,
    sim: &sever_tests::sim::CedaloSim,
    hold: usize,
    probe: impl FnOnce() -> T,
) -> (T, Vec<u16>) {
    let gate = sim.hold_answers();
    std::thread::scope(|s| {
        let slow: Vec<_> = (0..hold)
            .map(|i| s.spawn(move || disconnect(sever, &format!("slow-{i}")).status))
            .collect();
        assert!(
            eventually(Duration::from_secs(10), || gate.held() == hold),
            "the held calls never started"
        );
        let result = probe();
        gate.release();
        let statuses = slow.into_iter().map(|h| h.join().unwrap()).collect();
        (result, statuses)
    })
}

#[test]
fn beyond_the_global_in_flight_limit_requests_are_503_overloaded_at_once() {
    let sim = sim(&["slow-0", "sensor-17"]);
    let sever = start_tuned(
        &sim,
        ", max_in_flight: 1, request_timeout_ms: 5000",
        4000,
        0,
    );

    let (reply, statuses) = while_busy(&sever, &sim, 1, || disconnect(&sever, "sensor-17"));

    let problem = reply.expect_problem(503, "overloaded");
    assert_eq!(
        problem["detail"], "too many requests in flight; try again shortly",
        "{problem:#}"
    );
    assert_eq!(statuses, [200]);
    assert_eq!(sim.calls().len(), 1, "the refused request sent nothing");
    assert!(sim.is_connected("sensor-17"));
    // The limit frees up with the request: the same request now goes through.
    disconnect(&sever, "sensor-17").expect_success();
}

#[test]
fn beyond_a_backends_concurrency_limit_requests_are_503_overloaded_at_once() {
    let sim = sim(&["slow-0", "slow-1", "sensor-17"]);
    let config = config_tuned(&sim.url(), ", request_timeout_ms: 5000", 4000, 0).replace(
        "    retries: 0\n",
        "    retries: 0\n    max_concurrency: 2\n",
    );
    assert!(
        config.contains("max_concurrency: 2"),
        "the standard config changed"
    );
    let sever = sever_tests::harness::Sever::start(&config, &env());

    let (reply, statuses) = while_busy(&sever, &sim, 2, || disconnect(&sever, "sensor-17"));

    let problem = reply.expect_problem(503, "overloaded");
    assert_eq!(problem["backend"], "mqtt-eu", "{problem:#}");
    assert_eq!(statuses, [200, 200]);
    assert_eq!(sim.calls().len(), 2, "the refused request sent nothing");
    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.iter().any(|l| l["code"] == "overloaded"));
}
