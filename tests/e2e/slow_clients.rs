//! End to end with raw sockets: slow and greedy clients cannot take Sever down. A head
//! trickled byte by byte is cut at `server.header_timeout_ms`, a trickled body at
//! `server.request_timeout_ms` (nothing sent to the vendor); with the descriptor limit of
//! systemd's default (1024), 1,100 trickling connections leave the health probe on
//! `metrics_listen` answering; 1,000 unfinished 900 KB heads cost little memory.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use sever_tests::eventually;
use sever_tests::harness::raw::{Ended, RawClient, RawReply};
use sever_tests::harness::{free_port, http, Sever};
use sever_tests::sim::Fault;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// How long a trickle may go on before the test calls the server stuck.
const STUCK: Duration = Duration::from_secs(15);

/// Sends `bytes` one at a time, one every 200 ms (then keeps sending `a`), until an
/// answer arrives; returns it and how long it took from the first byte.
fn trickle_until_answered(client: &mut RawClient, bytes: &[u8]) -> (RawReply, Duration) {
    client.set_read_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let mut next = bytes.iter().copied().chain(std::iter::repeat(b'a'));
    loop {
        let _ = client.send(&[next.next().unwrap_or(b'a')]);
        match client.reply(false) {
            Ok(reply) => return (reply, started.elapsed()),
            Err(Ended::Silent) => {}
            Err(Ended::Closed) => panic!("closed without an answer"),
        }
        assert!(started.elapsed() < STUCK, "still open after {STUCK:?}");
    }
}

#[test]
fn a_trickled_head_is_answered_408_and_closed_within_header_timeout_and_a_second() {
    let sim = sim(&[]);
    let sever = Sever::start(
        &config_with(&sim.url(), ", header_timeout_ms: 1000"),
        &env(),
    );
    let mut client = RawClient::connect(sever.port());

    let head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let (reply, took) = trickle_until_answered(&mut client, head);

    assert_eq!(reply.status, 408, "{reply:#?}");
    assert_eq!(reply.json()["code"], "request_timeout", "{reply:#?}");
    assert_eq!(reply.header("connection"), Some("close"));
    client.expect_closed(Duration::from_secs(2));
    assert!(
        took <= Duration::from_millis(2000),
        "header_timeout_ms is 1000: answered after {took:?}"
    );
    let counted = metric_now(
        &sever,
        "sever_http_refusals_total",
        &[("reason", "header_timeout")],
    );
    assert_eq!(counted, Some(1.0));
}

#[test]
fn a_body_trickled_past_request_timeout_is_cut_with_408_and_nothing_is_sent() {
    let sim = sim(&["sensor-17"]);
    let sever = start_tuned(&sim, ", request_timeout_ms: 1000", 500, 0);
    let body = disconnect_body("sensor-17");
    let mut client = RawClient::connect(sever.port());
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    client.send(head.as_bytes()).unwrap();

    // 5 bytes a second: the body would take far longer than 1 s.
    let (reply, took) = trickle_until_answered(&mut client, body.as_bytes());

    assert_eq!(reply.status, 408, "{reply:#?}");
    assert_eq!(reply.json()["code"], "request_timeout", "{reply:#?}");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(took < STUCK);
    client.expect_closed(Duration::from_secs(5));
    assert_nothing_sent(&sim);
}

#[test]
fn a_slow_body_and_a_stalled_vendor_share_one_request_timeout() {
    let sim = sim(&["sensor-17"]);
    sim.set_fault(Fault::Stall);
    // The vendor call alone may take 10 s; the whole request only 2 s.
    let sever = start_tuned(&sim, ", request_timeout_ms: 2000", 10_000, 0);
    let body = disconnect_body("sensor-17");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut client = RawClient::connect(sever.port());
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    );
    let started = Instant::now();
    client.send(head.as_bytes()).unwrap();
    // A slow client: the second half of the body comes 1.2 s later.
    client.set_read_timeout(Duration::from_millis(1200));
    assert!(matches!(client.reply(false), Err(Ended::Silent)));
    client.send(rest.as_bytes()).unwrap();
    client.set_read_timeout(STUCK);
    let reply = client.reply(false).unwrap();
    let took = started.elapsed();

    assert_eq!(reply.status, 504, "{reply:#?}");
    assert_eq!(reply.json()["code"], "upstream_timeout", "{reply:#?}");
    // Body and vendor call share the 2 s: not 1.2 s + 2 s.
    assert!(
        took < Duration::from_millis(2_900),
        "request_timeout_ms is 2000: answered after {took:?}"
    );
    assert_eq!(sim.calls().len(), 1, "the vendor call was sent once");
}

/// Lets this test process hold `need` descriptors (its soft limit may be 1024).
fn raise_own_nofile(need: u64) {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft < need {
        assert!(
            hard >= need,
            "the hard RLIMIT_NOFILE {hard} is below {need}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, need, hard).unwrap();
    }
}

#[test]
fn with_nofile_1024_eleven_hundred_trickling_heads_leave_the_health_probe_answering() {
    raise_own_nofile(8192);
    let sim = sim(&[]);
    let metrics_port = free_port();
    let extra = format!(", metrics_listen: \"127.0.0.1:{metrics_port}\", header_timeout_ms: 60000");
    let sever = Sever::start_with_nofile(&config_with(&sim.url(), &extra), &env(), 1024);

    // Each sends half a head and then nothing (slowloris).
    let mut attackers = Vec::new();
    for _ in 0..1100 {
        if let Ok(mut client) = RawClient::try_connect(sever.port()) {
            let _ = client.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
            attackers.push(client);
        }
    }

    // Once listen is full, the connections past its cap are closed as they are accepted.
    let scrape_url = format!("http://127.0.0.1:{metrics_port}/metrics");
    let scrape = || http::get(&scrape_url, None).text;
    let full = eventually(Duration::from_secs(15), || {
        metric(
            &scrape(),
            "sever_http_connections_refused_total",
            &[("listener", "api")],
        )
        .is_some_and(|n| n > 0.0)
    });
    assert!(
        full,
        "the cap on listen never refused a connection:\n{}",
        scrape()
    );

    let probe = http::Client::with_timeout(Duration::from_secs(2));
    let healthz = format!("http://127.0.0.1:{metrics_port}/healthz");
    for attempt in 0..14 {
        let reply = probe.try_send("GET", &healthz, &[], None);
        let status = reply.as_ref().map(|r| r.status).ok();
        assert_eq!(status, Some(200), "probe {attempt}: {reply:?}");
    }
    let text = scrape();
    let open = metric(&text, "sever_http_connections", &[("listener", "api")]).unwrap_or(0.0);
    assert!(
        open < 1024.0,
        "{open} connections open with 1024 descriptors:\n{text}"
    );
    let mut sever = sever;
    assert!(sever.is_running());
    drop(attackers);
}

#[test]
fn a_thousand_unfinished_900_kb_heads_grow_rss_by_at_most_64_mib() {
    raise_own_nofile(8192);
    let sim = sim(&[]);
    let sever = start(&sim);
    let before = sever.rss_kib().unwrap();
    let pad = vec![b'a'; 900 * 1024];

    let mut clients = Vec::new();
    let mut peak = before;
    for i in 0..1000 {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", sever.port())) else {
            continue;
        };
        let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ");
        // As much of the 900 KB as the socket takes without waiting; never the blank line.
        stream.set_nonblocking(true).unwrap();
        let _ = stream.write(&pad);
        clients.push(stream);
        if i % 50 == 0 {
            peak = peak.max(sever.rss_kib().unwrap_or(0));
        }
    }
    eventually(Duration::from_secs(30), || {
        peak = peak.max(sever.rss_kib().unwrap_or(0));
        metric_now(
            &sever,
            "sever_http_refusals_total",
            &[("reason", "head_too_large")],
        )
        .is_some_and(|n| n >= clients.len() as f64)
    });
    peak = peak.max(sever.rss_kib().unwrap_or(0));

    let refused = metric_now(
        &sever,
        "sever_http_refusals_total",
        &[("reason", "head_too_large")],
    );
    assert_eq!(
        refused,
        Some(clients.len() as f64),
        "every head over the cap was refused"
    );
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(
        grown_mib <= 64,
        "RSS grew by {grown_mib} MiB (from {before} KiB)"
    );
    drop(clients);
}
