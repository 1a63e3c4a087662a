//! The audit log when `sever` stops with requests in flight, through the real binary and
//! the Cedalo simulator: a drain that runs past `shutdown_grace_ms` (every request in
//! flight gets an `unknown` outcome line, a warning, exit status 3), and `kill -9` under
//! load (the file parses, and every vendor call has its intent line).
#![allow(clippy::unwrap_used)]

use crate::audit_log::{assert_every_call_has_an_intent, parse_lines};
use crate::common::*;
use sever_tests::eventually;
use sever_tests::harness::{http, phase_lines, Signal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a stop may take before the test calls it stuck.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[test]
fn a_drain_past_the_grace_period_writes_an_unknown_outcome_for_each_request_in_flight_and_exits_3()
{
    const N: usize = 5;
    let clients: Vec<String> = (0..N).map(|i| format!("slow-{i}")).collect();
    let ids: Vec<&str> = clients.iter().map(String::as_str).collect();
    let sim = sim(&ids);
    // The vendor holds every answer; the vendor call's limit is far beyond the grace.
    let gate = sim.hold_answers();
    let mut sever = start_tuned(
        &sim,
        ", shutdown_grace_ms: 1500, request_timeout_ms: 20000",
        15000,
        0,
    );
    let callers: Vec<_> = clients
        .iter()
        .map(|client| {
            let url = sever.url("/v1/actions");
            let body = disconnect_body(client);
            std::thread::spawn(move || {
                let headers = [
                    ("content-type", "application/json"),
                    ("authorization", &*format!("Bearer {ONCALL}")),
                ];
                http::Client::with_timeout(Duration::from_secs(30))
                    .try_send("POST", &url, &headers, Some(body.as_bytes()))
                    .is_ok()
            })
        })
        .collect();
    assert!(
        eventually(Duration::from_secs(10), || gate.held() == N),
        "not every request reached the vendor: {}",
        gate.held()
    );

    sever.terminate();

    let status = sever
        .wait_exit(EXIT_LIMIT)
        .unwrap_or_else(|| panic!("sever still runs {EXIT_LIMIT:?} after SIGTERM"));
    assert_eq!(
        status.code(),
        Some(3),
        "the exit status says the drain was cut short; stderr:\n{}",
        sever.stderr()
    );
    for caller in callers {
        assert!(!caller.join().unwrap(), "no answer after the drain was cut");
    }
    let lines = parse_lines(&sever.dir().join("audit.jsonl"));
    assert_every_call_has_an_intent(&sim, &lines);
    let outcomes = phase_lines(lines.clone(), "outcome");
    assert_eq!(outcomes.len(), N, "{lines:#?}");
    for client in &clients {
        let line = outcomes
            .iter()
            .find(|l| l["target"]["client_id"] == client.as_str())
            .unwrap_or_else(|| panic!("no outcome line for {client}: {lines:#?}"));
        assert_eq!(
            (&line["outcome"], &line["cause"]),
            (&"unknown".into(), &"shutdown".into())
        );
        assert!(line["request_id"].is_string());
    }
    let stderr = sever.stderr();
    let warning = stderr
        .lines()
        .find(|l| l.contains("drain cut short"))
        .unwrap_or_else(|| panic!("no warning about the cut drain:\n{stderr}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("\"outcome_unknown\":5"), "{warning}");
    drop(gate);
}

#[test]
fn kill_9_under_load_leaves_a_parseable_file_with_an_intent_line_for_every_vendor_call() {
    let sim = sim(&[]);
    let mut sever = start(&sim);
    let stop = Arc::new(AtomicBool::new(false));
    let loaders: Vec<_> = (0..4)
        .map(|t| {
            let url = sever.url("/v1/actions");
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let client = http::Client::with_timeout(Duration::from_secs(5));
                let headers = [
                    ("content-type", "application/json"),
                    ("authorization", &*format!("Bearer {ONCALL}")),
                ];
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 10_000 {
                    let body = disconnect_body(&format!("load-{t}-{n}"));
                    if client
                        .try_send("POST", &url, &headers, Some(body.as_bytes()))
                        .is_err()
                    {
                        break; // the server is gone
                    }
                    n += 1;
                }
            })
        })
        .collect();
    assert!(
        wait_for_calls(&sim, 200, Duration::from_secs(30)),
        "the load never reached 200 vendor calls"
    );

    sever.signal(Signal::SIGKILL);

    sever.wait_exit(EXIT_LIMIT).expect("killed");
    stop.store(true, Ordering::Relaxed);
    for loader in loaders {
        loader.join().unwrap();
    }
    let lines = parse_lines(&sever.dir().join("audit.jsonl"));
    assert!(sim.calls().len() >= 200);
    assert_every_call_has_an_intent(&sim, &lines);
}
