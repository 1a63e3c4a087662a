//! Fault injection, end to end: the real `sever` and the Cedalo adapter in front of a
//! Cedalo simulator that stalls, resets the connection mid-answer, hangs up, answers
//! garbage, flaps between 200 and 500, or answers slowly under 500 concurrent requests.
//!
//! For each fault: every request gets exactly one answer (a canonical answer or problem with
//! the expected code, its `X-Request-Id` the one sent) and exactly one audit line (same
//! request id, same outcome or code); Sever's resident memory stays bounded; and once the
//! fault is cleared Sever answers normally again. The figures (requests, answers, audit
//! lines, RSS before and after) are printed to stderr (`cargo test … -- --nocapture`).
//!
//! The client is a small async HTTP/1.1 client on raw sockets (`Connection: close`, read to
//! the end), so 500 requests can be in flight at once without 500 threads, and so a second
//! answer on a connection would be seen. Faults run one after the other (a lock), each
//! with its own simulator and `sever`. Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use sever_tests::harness::Sever;
use sever_tests::sim::{CedaloSim, Fault, SimConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

const ONCALL: &str = "oncall-token-faults-7d21";
const CEDALO_TOKEN: &str = "cedalo-faults-token-41b8";
/// How much Sever's resident memory may grow over one batch.
const RSS_GROWTH_LIMIT_KIB: u64 = 64 * 1024;
/// How long the client waits for one answer before calling it missing.
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// `max_concurrency` above the largest batch, a breaker that never opens within a test (a
/// `circuit_open` answer is still accepted where failures are expected), no retries so the
/// vendor calls stay one per request.
const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 15000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_cedalo.so" } ]
auth:
  tokens:
    - { name: oncall, token_env: ONCALL_TOKEN, allow: [ { backends: ["*"], actions: ["disconnect"] } ] }
audit: { path: "audit.jsonl" }
backends:
  mqtt-eu:
    plugin: cedalo
    url: "@URL@"
    timeout_ms: @TIMEOUT@
    retries: 0
    max_concurrency: 1024
    breaker: { failures: 10000, open_ms: 1000 }
    settings: { project_id: "p1", broker_id: "b1", token: "${CEDALO_TOKEN}" }
"#;

/// One fault at a time: the figures (memory above all) are read without another batch
/// running beside them.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn start(sim: &CedaloSim, timeout_ms: u64) -> Sever {
    let config = CONFIG
        .replace("@URL@", &sim.url())
        .replace("@TIMEOUT@", &timeout_ms.to_string());
    Sever::start(
        &config,
        &[("ONCALL_TOKEN", ONCALL), ("CEDALO_TOKEN", CEDALO_TOKEN)],
    )
}

/// Sever's resident set size in KiB (`VmRSS` in `/proc/PID/status`).
fn rss_kib(sever: &Sever) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", sever.pid()))
        .unwrap_or_else(|err| panic!("cannot read sever's /proc status: {err}"));
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc status:\n{status}"))
}

/// One answer as the raw client read it.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    /// `outcome` of a success, `code` of a problem.
    label: String,
    request_id_header: Option<String>,
    body: Value,
    content_type: String,
    /// Bytes after the answer's declared length: a second answer would show here.
    trailing: usize,
}

/// Sends one canonical disconnect of `client_id` with `X-Request-Id: request_id` on a
/// fresh connection and reads until the server closes it.
async fn post(addr: SocketAddr, client_id: &str, request_id: &str) -> Result<Answer, String> {
    let body =
        json!({"action": "disconnect", "backend": "mqtt-eu", "target": {"client_id": client_id}})
            .to_string();
    let head = format!(
        "POST /v1/actions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ONCALL}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: {request_id}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        stream
            .write_all(format!("{head}{body}").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(raw)
    };
    let raw = tokio::time::timeout(ANSWER_LIMIT, exchange)
        .await
        .map_err(|_| format!("no answer within {ANSWER_LIMIT:?}"))??;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no complete answer head: {text:?}"))?;
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Content-Length: {head:?}"))?;
    let rest = rest.as_bytes();
    if rest.len() < length {
        return Err(format!("answer body cut short: {text:?}"));
    }
    let body: Value = serde_json::from_slice(&rest[..length])
        .map_err(|e| format!("answer body is not JSON ({e}): {text:?}"))?;
    let label = body
        .get(if status == 200 { "outcome" } else { "code" })
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok(Answer {
        status,
        label,
        request_id_header: headers.get("x-request-id").cloned(),
        body,
        content_type: headers.get("content-type").cloned().unwrap_or_default(),
        trailing: rest.len() - length,
    })
}

/// Sends one request per client id, at most `concurrency` at once, and returns each
/// request id with what came back.
fn batch(
    sever: &Sever,
    prefix: &str,
    clients: &[String],
    concurrency: usize,
) -> Vec<(String, Result<Answer, String>)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], sever.port()));
    runtime.block_on(async {
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut tasks = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let request_id = format!("{prefix}-{i:04}");
            let client = client.clone();
            let permits = Arc::clone(&permits);
            tasks.push(tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.unwrap();
                let answer = post(addr, &client, &request_id).await;
                (request_id, answer)
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    })
}

/// What one fault is expected to do, and the figures it produced.
struct Run<'a> {
    name: &'a str,
    requests: usize,
    concurrency: usize,
    /// The answers (`outcome` or `code`) allowed while the fault holds.
    expected: &'a [&'a str],
}

/// Warms Sever up fault-free, turns the fault on with `set`, connects `requests` fresh
/// clients, runs the batch, checks answers, audit lines and memory, and returns how many of
/// each answer came back.
fn run_under_fault(
    sim: &CedaloSim,
    sever: &Sever,
    run: &Run<'_>,
    set: &dyn Fn(&CedaloSim),
) -> BTreeMap<String, usize> {
    // First connections and lazily built state, before the memory is read.
    let warm: Vec<String> = (0..20).map(|i| format!("{}-warm-{i}", run.name)).collect();
    for client in &warm {
        sim.connect_client(client);
    }
    for (id, answer) in batch(sever, &format!("{}-warm", run.name), &warm, 10) {
        let answer = answer.unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(answer.label, "done", "{id}: {answer:?}");
    }
    set(sim);

    let clients: Vec<String> = (0..run.requests)
        .map(|i| format!("{}-client-{i}", run.name))
        .collect();
    for client in &clients {
        sim.connect_client(client);
    }
    let audit_before = sever.audit_lines().len();
    let rss_before = rss_kib(sever);
    let answers = batch(sever, run.name, &clients, run.concurrency);
    let rss_after = rss_kib(sever);

    let mut counts = BTreeMap::new();
    for (id, answer) in &answers {
        let answer = answer
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {id} got no answer: {e}", run.name));
        assert_eq!(answer.trailing, 0, "{id}: more than one answer: {answer:?}");
        assert_eq!(
            answer.request_id_header.as_deref(),
            Some(id.as_str()),
            "{answer:?}"
        );
        assert_eq!(answer.body["request_id"], id.as_str(), "{answer:?}");
        let media = if answer.status == 200 {
            "application/json"
        } else {
            assert_eq!(answer.body["status"], answer.status, "{answer:?}");
            "application/problem+json"
        };
        assert!(answer.content_type.starts_with(media), "{answer:?}");
        assert!(
            run.expected.contains(&answer.label.as_str()),
            "{}: {id} answered {} {}, expected one of {:?}: {answer:?}",
            run.name,
            answer.status,
            answer.label,
            run.expected
        );
        *counts.entry(answer.label.clone()).or_insert(0) += 1;
    }

    let lines = sever.audit_lines();
    let new_lines = &lines[audit_before..];
    let prefix = format!("{}-", run.name);
    let ours: Vec<&Value> = new_lines
        .iter()
        .filter(|l| {
            l["request_id"]
                .as_str()
                .is_some_and(|id| id.starts_with(&prefix) && !id.contains("-warm-"))
        })
        .collect();
    let sent: BTreeSet<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    let audited: BTreeSet<&str> = ours
        .iter()
        .filter_map(|l| l["request_id"].as_str())
        .collect();
    assert_eq!(
        ours.len(),
        run.requests,
        "{}: one audit line per request",
        run.name
    );
    assert_eq!(
        audited, sent,
        "{}: audit lines name every request once",
        run.name
    );
    let by_id: BTreeMap<&str, &Answer> = answers
        .iter()
        .map(|(id, a)| (id.as_str(), a.as_ref().unwrap()))
        .collect();
    for line in &ours {
        let id = line["request_id"].as_str().unwrap();
        let answer = by_id[id];
        let key = if answer.status == 200 {
            "outcome"
        } else {
            "code"
        };
        assert_eq!(line[key], answer.label.as_str(), "{id}: audit {line:#}");
    }

    eprintln!(
        "fault {:<15} requests {:>4} (≤{} at once) | answers {:>4} {:?} | audit lines {:>4} | \
         sever RSS {} KiB before, {} KiB after ({:+} KiB)",
        run.name,
        run.requests,
        run.concurrency,
        answers.len(),
        counts,
        ours.len(),
        rss_before,
        rss_after,
        rss_after as i64 - rss_before as i64
    );
    assert!(
        rss_after < rss_before + RSS_GROWTH_LIMIT_KIB,
        "{}: sever's RSS grew from {rss_before} KiB to {rss_after} KiB",
        run.name
    );
    counts
}

/// Clears the fault and checks that Sever answers normally again.
fn assert_recovers(sim: &CedaloSim, sever: &Sever, name: &str) {
    sim.set_fault(Fault::None);
    sim.set_delay(Duration::ZERO);
    let clients: Vec<String> = (0..10).map(|i| format!("{name}-after-{i}")).collect();
    for client in &clients {
        sim.connect_client(client);
    }
    let answers = batch(sever, &format!("{name}-after"), &clients, 5);
    for ((id, answer), client) in answers.iter().zip(&clients) {
        let answer = answer.as_ref().unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(
            (answer.status, answer.label.as_str()),
            (200, "done"),
            "{name}: after the fault cleared, {id}: {answer:?}"
        );
        assert!(!sim.is_connected(client), "{client} still connected");
    }
    eprintln!(
        "fault {name:<15} cleared: {} of {} requests done",
        answers.len(),
        clients.len()
    );
}

/// Runs one fault end to end with its own simulator and `sever`: `set` turns it on (after
/// the warm-up, before the batch); then it is cleared and Sever must answer normally.
fn fault_case(
    name: &str,
    timeout_ms: u64,
    set: impl Fn(&CedaloSim),
    requests: usize,
    concurrency: usize,
    expected: &[&str],
) -> BTreeMap<String, usize> {
    let _one = one_at_a_time();
    let sim = CedaloSim::start(SimConfig::new("p1", "b1", CEDALO_TOKEN));
    let sever = start(&sim, timeout_ms);
    let run = Run {
        name,
        requests,
        concurrency,
        expected,
    };
    let counts = run_under_fault(&sim, &sever, &run, &set);
    assert_recovers(&sim, &sever, name);
    counts
}

// ---------------------------------------------------------------------------------------
// The faults
// ---------------------------------------------------------------------------------------

#[test]
fn a_stalling_vendor_gives_every_request_one_upstream_timeout_and_one_audit_line() {
    let counts = fault_case(
        "stall",
        500,
        |sim| sim.set_fault(Fault::Stall),
        100,
        100,
        &["upstream_timeout", "circuit_open"],
    );
    assert!(
        counts.get("upstream_timeout").is_some_and(|n| *n > 0),
        "{counts:?}"
    );
}

#[test]
fn a_vendor_resetting_mid_answer_gives_every_request_one_bad_gateway_and_one_audit_line() {
    let counts = fault_case(
        "reset",
        2000,
        |sim| sim.set_fault(Fault::ResetMidAnswer),
        200,
        50,
        &["upstream_error", "upstream_unavailable", "circuit_open"],
    );
    assert!(!counts.contains_key("done"), "{counts:?}");
}

#[test]
fn a_vendor_hanging_up_gives_every_request_one_bad_gateway_and_one_audit_line() {
    fault_case(
        "hangup",
        2000,
        |sim| sim.set_fault(Fault::HangUp),
        200,
        50,
        &["upstream_error", "upstream_unavailable", "circuit_open"],
    );
}

#[test]
fn a_vendor_answering_garbage_gives_every_request_one_upstream_error_and_one_audit_line() {
    let counts = fault_case(
        "garbage",
        2000,
        |sim| sim.set_fault(Fault::Garbage),
        200,
        50,
        &["upstream_error", "circuit_open"],
    );
    assert!(
        counts.get("upstream_error").is_some_and(|n| *n > 0),
        "{counts:?}"
    );
}

#[test]
fn a_vendor_flapping_between_200_and_500_gives_each_request_one_matching_answer() {
    let counts = fault_case(
        "flapping",
        2000,
        |sim| sim.set_fault(Fault::Flapping),
        200,
        20,
        &["done", "upstream_error", "circuit_open"],
    );
    // The simulator alternates by arrival: half its answers are 200, half 500.
    assert_eq!(counts.get("done"), Some(&100), "{counts:?}");
    assert_eq!(
        counts.get("upstream_error").copied().unwrap_or(0)
            + counts.get("circuit_open").copied().unwrap_or(0),
        100,
        "{counts:?}"
    );
}

#[test]
fn a_slow_vendor_under_500_concurrent_requests_answers_each_once_and_audits_each_once() {
    let counts = fault_case(
        "slow",
        10_000,
        |sim| sim.set_delay(Duration::from_millis(300)),
        500,
        500,
        &["done"],
    );
    assert_eq!(counts.get("done"), Some(&500), "{counts:?}");
}
