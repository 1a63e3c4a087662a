//! One backend against the scripted adapter and a fake upstream, on a clock that moves
//! only when told: single flight, retries through the adapter and their backoff, the
//! deadline, transport failures, plugin panics, dry-run planning, token expiry, the
//! circuit breaker and the trace context each exchange carries.

use crate::support::*;
use serde_json::json;
use sever_engine::backend::{Backend, CircuitState, FlowError, TransportError};
use sever_engine::clock::{Clock, SystemRng};
use sever_engine::config::BreakerConfig;
use sever_engine::metrics::Metrics;
use sever_engine::problem::ProblemCode;
use sever_engine::trace::TraceContext;
use sever_plugin_sdk::{Action, Outcome, Request, Success, Target};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn request(target: Target) -> Request {
    Request {
        request_id: "r".into(),
        action: if target.client_id.is_some() {
            Action::Disconnect
        } else {
            Action::Terminate
        },
        target,
        reason: None,
    }
}

fn client(id: &str) -> Request {
    request(Target {
        client_id: Some(id.into()),
        ..Target::default()
    })
}

fn connection(id: &str) -> Request {
    request(Target {
        connection_id: Some(id.into()),
        ..Target::default()
    })
}

/// A backend on `clock` with `retries` and the default breaker.
fn on_clock(retries: u32, clock: &Arc<ManualClock>, metrics: &Metrics) -> Backend {
    backend(retries, BreakerConfig::default(), ambient(clock), metrics)
}

/// Requests run on one backend: each with `budget` before its deadline, by the clock.
struct Run<'a> {
    backend: &'a Backend,
    upstream: &'a FakeUpstream,
    clock: &'a ManualClock,
    budget: Duration,
    trace: TraceContext,
}

impl Run<'_> {
    fn deadline(&self) -> Instant {
        self.clock.now() + self.budget
    }

    async fn go(&self, request: &Request) -> Result<Success, FlowError> {
        self.backend
            .execute(self.upstream, request, self.deadline(), &self.trace)
            .await
    }
}

fn run<'a>(backend: &'a Backend, upstream: &'a FakeUpstream, clock: &'a ManualClock) -> Run<'a> {
    Run {
        backend,
        upstream,
        clock,
        budget: Duration::from_secs(5),
        trace: TraceContext::continue_or_start(None, &SystemRng),
    }
}

fn metric(metrics: &Metrics, series: &str) -> Option<String> {
    let text = String::from_utf8(metrics.render()).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
}

fn adapter_code(result: &Result<Success, FlowError>) -> Option<ProblemCode> {
    match result {
        Err(FlowError::Adapter(problem)) => Some(ProblemCode::from(problem.kind)),
        _ => None,
    }
}

#[tokio::test]
async fn a_cold_token_cache_under_a_burst_sends_one_token_request() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(0, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    let r = run(&b, &upstream, &clock);
    upstream.close();
    let requests: Vec<Request> = (0..50).map(|i| client(&format!("c{i}"))).collect();
    let flows = futures_util::future::join_all(requests.iter().map(|q| r.go(q)));
    // Every flow has started (joined futures are all polled first) once the token call is
    // held: the 49 others wait for its answer.
    let release = async {
        upstream.until_held(1).await;
        upstream.open();
    };
    let (results, ()) = tokio::join!(flows, release);

    for result in results {
        assert_eq!(result.map(|s| s.outcome), Ok(Outcome::Done));
    }
    assert_eq!(upstream.calls_to("/token").len(), 1);
    assert_eq!(upstream.calls_to("/kick/").len(), 50);
    let kick = &upstream.calls_to("/kick/c0")[0];
    assert_eq!(header(kick, "authorization"), Some("Bearer tok-abc"));
}

#[tokio::test]
async fn a_failed_idempotent_call_is_planned_again_with_a_fresh_nonce_after_a_jittered_pause() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(1, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|n| {
        if n == 1 {
            ok(503, "busy")
        } else {
            ok(200, "{}")
        }
    }));

    let result = run(&b, &upstream, &clock).go(&client("c")).await;

    assert_eq!(result.map(|s| s.outcome), Ok(Outcome::Done));
    let kicks = upstream.calls_to("/kick/c");
    assert_eq!(
        upstream.calls().len(),
        3,
        "token, failed kick, retried kick"
    );
    assert_ne!(
        header(&kicks[0], "x-nonce"),
        header(&kicks[1], "x-nonce"),
        "a retry is re-planned, not resent"
    );
    let slept = clock.slept();
    assert_eq!(slept.len(), 1, "{slept:?}");
    assert!(slept[0] <= Duration::from_millis(50), "{slept:?}");
}

#[tokio::test]
async fn retries_stop_at_the_configured_count_with_a_doubling_backoff_cap() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(2, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(500, "down")));

    let result = run(&b, &upstream, &clock).go(&client("c")).await;

    match &result {
        Err(FlowError::Adapter(p)) => {
            assert_eq!(ProblemCode::from(p.kind), ProblemCode::UpstreamError);
            assert_eq!(
                p.vendor.as_ref().and_then(|v| v.get("status")),
                Some(&json!(500))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(upstream.calls_to("/kick/c").len(), 3);
    let slept = clock.slept();
    assert_eq!(slept.len(), 2, "{slept:?}");
    assert!(slept[0] <= Duration::from_millis(50) && slept[1] <= Duration::from_millis(100));
    assert_eq!(
        metric(
            &metrics,
            r#"sever_upstream_requests_total{backend="b1",plugin="scripted",status_class="5xx",transport="http"}"#
        )
        .as_deref(),
        Some("3")
    );
}

#[tokio::test]
async fn a_call_not_marked_idempotent_is_never_retried() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(3, &clock, &metrics);
    let upstream = FakeUpstream::new(|_, _| ok(503, ""));

    let result = run(&b, &upstream, &clock).go(&connection("conn/1")).await;

    assert_eq!(adapter_code(&result), Some(ProblemCode::UpstreamError));
    assert_eq!(upstream.calls_to("/connections/conn%2F1").len(), 1);
    assert!(clock.slept().is_empty());
}

#[tokio::test]
async fn answers_that_are_not_retryable_are_not_retried() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(3, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(404, "no such client")));

    let result = run(&b, &upstream, &clock).go(&client("c")).await;

    assert_eq!(adapter_code(&result), Some(ProblemCode::TargetNotFound));
    assert_eq!(upstream.calls_to("/kick/c").len(), 1);
}

#[tokio::test]
async fn transport_failures_of_idempotent_calls_are_retried_then_reported() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(1, &clock, &metrics);
    let refused = FakeUpstream::new(script(|_| Err(TransportError::Connect("refused".into()))));
    let result = run(&b, &refused, &clock).go(&client("c")).await;
    assert_eq!(
        result,
        Err(FlowError::Transport(TransportError::Connect(
            "refused".into()
        )))
    );
    assert_eq!(refused.calls_to("/kick/c").len(), 2);

    let silent = FakeUpstream::new(script(|_| {
        Err(TransportError::Timeout(Duration::from_secs(1)))
    }));
    let result = run(&b, &silent, &clock).go(&client("d")).await;
    assert!(
        matches!(
            result,
            Err(FlowError::Transport(TransportError::Timeout(_)))
        ),
        "{result:?}"
    );
    assert_eq!(silent.calls_to("/kick/d").len(), 2);
    let series = |class: &str| {
        metric(
            &metrics,
            &format!(
                r#"sever_upstream_requests_total{{backend="b1",plugin="scripted",status_class="{class}",transport="http"}}"#
            ),
        )
    };
    assert_eq!(series("connect_error").as_deref(), Some("2"));
    assert_eq!(series("timeout").as_deref(), Some("2"));
}

#[tokio::test]
async fn no_vendor_call_starts_after_the_deadline_however_many_retries_are_left() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(5, &clock, &metrics);
    // Every call takes 400 ms of the clock's time and fails retryably.
    let upstream = FakeUpstream::timed(&clock, Duration::from_millis(400), script(|_| ok(503, "")));
    let mut r = run(&b, &upstream, &clock);
    r.budget = Duration::from_millis(1500);
    let deadline = r.deadline();

    let result = r.go(&client("c")).await;

    assert!(
        matches!(
            result,
            Err(FlowError::Adapter(_)) | Err(FlowError::DeadlinePassed)
        ),
        "{result:?}"
    );
    let arrivals = upstream.arrivals();
    // The token call, then kicks: at least one retry fits, and none starts past the deadline.
    assert!(arrivals.len() >= 3, "{arrivals:?}");
    assert!(arrivals.len() <= 5, "{arrivals:?}");
    assert!(arrivals.iter().all(|at| *at < deadline), "{arrivals:?}");
}

#[tokio::test]
async fn a_plugin_panic_is_reported_counted_and_the_backend_keeps_working() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(0, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    let r = run(&b, &upstream, &clock);

    assert_eq!(r.go(&client("panic")).await, Err(FlowError::Plugin));
    assert_eq!(
        metric(&metrics, r#"sever_plugin_panics_total{plugin="scripted"}"#).as_deref(),
        Some("1")
    );
    assert_eq!(
        r.go(&client("ok")).await.map(|s| s.outcome),
        Ok(Outcome::Done)
    );
}

#[tokio::test]
async fn planning_shows_the_first_step_with_every_secret_redacted_and_sends_nothing() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(0, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    // Warm the token cache so the first step is the kick, carrying token and key.
    run(&b, &upstream, &clock)
        .go(&client("warm"))
        .await
        .unwrap();
    let sent = upstream.calls().len();

    let plan = b.plan(&client("c")).unwrap();

    assert_eq!(upstream.calls().len(), sent, "planning sends nothing");
    assert_eq!(
        plan.planning_stops.as_deref(),
        Some("needs the vendor's answer to kick")
    );
    assert_eq!(plan.requests.len(), 1);
    let mut shown = plan.requests[0].clone();
    let nonce = shown["headers"]["x-nonce"].take();
    assert_eq!(nonce.as_str().map(str::len), Some(16), "{nonce}");
    assert_eq!(
        shown,
        json!({
            "method": "POST",
            "url": "http://vendor.test/kick/c?key=<redacted>",
            "headers": { "authorization": "<redacted>", "x-nonce": null },
            "body": "",
        })
    );
}

#[tokio::test]
async fn a_cached_token_is_used_until_it_expires_by_the_hosts_clock() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(0, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    let r = run(&b, &upstream, &clock);

    r.go(&client("c1")).await.unwrap();
    clock.advance(TOKEN_LIFETIME - Duration::from_millis(1));
    r.go(&client("c2")).await.unwrap();
    clock.advance(Duration::from_millis(1));
    r.go(&client("c3")).await.unwrap();

    let paths: Vec<String> = upstream
        .calls()
        .iter()
        .map(|(method, url, _)| format!("{method} {}", url.split('?').next().unwrap_or_default()))
        .collect();
    assert_eq!(
        paths,
        [
            "GET http://vendor.test/token",
            "POST http://vendor.test/kick/c1",
            "POST http://vendor.test/kick/c2",
            "GET http://vendor.test/token",
            "POST http://vendor.test/kick/c3",
        ]
    );
}

fn breaker_backend(clock: &Arc<ManualClock>, metrics: &Metrics) -> Backend {
    let breaker = BreakerConfig {
        failures: 2,
        open: Duration::from_secs(10),
    };
    backend(0, breaker, ambient(clock), metrics)
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures_refuses_without_sending_then_a_probe_closes_it(
) {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = breaker_backend(&clock, &metrics);
    let healthy = Arc::new(AtomicBool::new(false));
    let vendor = Arc::clone(&healthy);
    let upstream = FakeUpstream::new(script(move |_| {
        if vendor.load(Ordering::SeqCst) {
            ok(200, "{}")
        } else {
            ok(500, "down")
        }
    }));
    let r = run(&b, &upstream, &clock);

    for _ in 0..2 {
        assert_eq!(
            adapter_code(&r.go(&client("c")).await),
            Some(ProblemCode::UpstreamError)
        );
    }
    assert_eq!(b.circuit_state(), CircuitState::Open);
    let sent = upstream.calls().len();
    assert_eq!(
        r.go(&client("c")).await,
        Err(FlowError::CircuitOpen {
            retry_after: Duration::from_secs(10)
        })
    );
    assert_eq!(upstream.calls().len(), sent, "nothing sent while open");

    clock.advance(Duration::from_secs(4));
    assert_eq!(
        r.go(&client("c")).await,
        Err(FlowError::CircuitOpen {
            retry_after: Duration::from_secs(6)
        })
    );
    clock.advance(Duration::from_secs(6));
    assert_eq!(b.circuit_state(), CircuitState::HalfOpen);
    healthy.store(true, Ordering::SeqCst);
    assert_eq!(
        r.go(&client("c")).await.map(|s| s.outcome),
        Ok(Outcome::Done)
    );
    assert_eq!(b.circuit_state(), CircuitState::Closed);
    assert_eq!(
        metric(&metrics, r#"sever_circuit_state{backend="b1"}"#).as_deref(),
        Some("0")
    );
}

#[tokio::test]
async fn a_failed_probe_opens_the_breaker_for_another_full_period() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = breaker_backend(&clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(500, "down")));
    for _ in 0..2 {
        run(&b, &upstream, &clock)
            .go(&client("c"))
            .await
            .unwrap_err();
    }
    clock.advance(Duration::from_secs(10));

    let probe = run(&b, &upstream, &clock).go(&client("c")).await;

    assert_eq!(adapter_code(&probe), Some(ProblemCode::UpstreamError));
    assert_eq!(b.circuit_state(), CircuitState::Open);
    assert_eq!(
        run(&b, &upstream, &clock).go(&client("c")).await,
        Err(FlowError::CircuitOpen {
            retry_after: Duration::from_secs(10)
        })
    );
    assert_eq!(
        metric(&metrics, r#"sever_circuit_state{backend="b1"}"#).as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn vendor_verdicts_and_unsendable_requests_do_not_count_against_the_breaker() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = breaker_backend(&clock, &metrics);
    let gone = FakeUpstream::new(script(|_| ok(404, "no such client")));
    let unsendable = FakeUpstream::new(script(|_| {
        Err(TransportError::Invalid("bad header".into()))
    }));
    for _ in 0..3 {
        run(&b, &gone, &clock).go(&client("c")).await.unwrap_err();
        run(&b, &unsendable, &clock)
            .go(&client("c"))
            .await
            .unwrap_err();
    }
    assert_eq!(b.circuit_state(), CircuitState::Closed);
}

#[tokio::test]
async fn each_exchange_names_its_own_span_in_the_callers_trace_and_keeps_its_sampling() {
    let (clock, metrics) = (ManualClock::new(), Metrics::new());
    let b = on_clock(0, &clock, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    for (given, flags) in [
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "01",
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            "00",
        ),
    ] {
        let mut r = run(&b, &upstream, &clock);
        r.trace = TraceContext::continue_or_start(Some(given.as_bytes()), &SystemRng);
        let before = upstream.calls().len();
        // A cold cache: a token call and a kick.
        clock.advance(TOKEN_LIFETIME);
        r.go(&client("c")).await.unwrap();
        let calls = upstream.calls();
        let sent: Vec<&str> = calls[before..]
            .iter()
            .map(|c| header(c, "traceparent").unwrap_or_default())
            .collect();
        assert_eq!(sent.len(), 2);
        let mut span_ids = Vec::new();
        for header in &sent {
            let parts: Vec<&str> = header.split('-').collect();
            assert_eq!(parts.len(), 4, "{header}");
            assert_eq!(parts[1], "4bf92f3577b34da6a3ce929d0e0e4736", "{header}");
            assert_ne!(parts[2], "00f067aa0ba902b7", "{header}");
            assert_ne!(parts[2], r.trace.span_id().to_string(), "{header}");
            assert_eq!(parts[3], flags, "{header}");
            span_ids.push(parts[2].to_owned());
        }
        assert_ne!(span_ids[0], span_ids[1], "one span per exchange");
    }
}
