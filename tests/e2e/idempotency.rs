//! End to end through the real `sever`: `Idempotency-Key` (spec §3) — a repeat replays the
//! first answer and sends nothing, another body under the key is `409
//! idempotency_conflict`, a repeat while the first runs is `409 idempotency_in_flight`,
//! refusals are not kept, keys are per caller — in memory and shared by two Sever
//! processes through a real Redis.
//!
//! Needs `cargo build --workspace` first, and `redis-server` for the Redis tests
//! (`scripts/setup` installs it).
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use serde_json::json;
use sever_tests::eventually;
use sever_tests::harness::{http, Sever};
use sever_tests::redis::RedisServer;

fn keyed(sever: &Sever, token: &str, key: &str, body: &str) -> http::Reply {
    http::send(
        "POST",
        &sever.url("/v1/actions"),
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        Some(body.as_bytes()),
    )
}

fn replayed(reply: &http::Reply) -> bool {
    reply.header("idempotent-replayed") == Some("true")
}

#[test]
fn a_repeat_replays_the_first_answer_and_sends_nothing() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    let body = disconnect_body("c1");

    let first = keyed(&sever, ONCALL, "INC-4411-c1", &body);
    let body_json = first.expect_success().clone();
    assert!(!replayed(&first));
    sim.connect_client("c1"); // were it sent again, it would cut this session

    let again = keyed(&sever, ONCALL, "INC-4411-c1", &body);

    assert_eq!(again.status, 200);
    assert!(replayed(&again), "{again:#?}");
    assert_eq!(again.json(), &body_json, "the very same answer");
    assert_eq!(
        again.header("x-request-id"),
        first.header("x-request-id"),
        "a replay carries the first answer's request id"
    );
    assert_eq!(again.header("content-type"), Some("application/json"));
    assert_one_disconnect_call(&sim, "c1");
    assert!(sim.is_connected("c1"), "nothing was sent again");

    let lines = sever.audit_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "done");
    assert_eq!(lines[1]["replayed"], true, "{:#}", lines[1]);
    assert_eq!(lines[1]["request_id"], lines[0]["request_id"]);

    assert_eq!(
        metric_now(&sever, "sever_idempotency_replays_total", &[]),
        Some(1.0)
    );
}

#[test]
fn the_same_key_with_another_body_is_a_conflict_and_sends_nothing() {
    let sim = sim(&["c1", "c2"]);
    let sever = start(&sim);
    keyed(&sever, ONCALL, "k-1", &disconnect_body("c1")).expect_success();

    let reply = keyed(&sever, ONCALL, "k-1", &disconnect_body("c2"));

    reply.expect_problem(409, "idempotency_conflict");
    assert_one_disconnect_call(&sim, "c1");
    assert!(sim.is_connected("c2"));
}

#[test]
fn a_repeat_while_the_first_runs_is_409_in_flight_then_replays() {
    let sim = sim(&["c1"]);
    let sever = start_tuned(&sim, ", request_timeout_ms: 5000", 4000, 0);
    let body = disconnect_body("c1");
    let gate = sim.hold_answers();

    std::thread::scope(|s| {
        let first = s.spawn(|| keyed(&sever, ONCALL, "k-slow", &body));
        assert!(
            eventually(Duration::from_secs(10), || gate.held() == 1),
            "the first call never started"
        );
        keyed(&sever, ONCALL, "k-slow", &body).expect_problem(409, "idempotency_in_flight");
        // Another body under the running key is a conflict, not "in flight".
        keyed(&sever, ONCALL, "k-slow", &disconnect_body("c2"))
            .expect_problem(409, "idempotency_conflict");
        gate.release();
        assert_eq!(first.join().unwrap().status, 200);
    });
    let again = keyed(&sever, ONCALL, "k-slow", &body);
    assert!(replayed(&again));
    assert_eq!(sim.calls().len(), 1);
}

#[test]
fn refusals_before_any_vendor_call_are_not_kept_but_vendor_answers_are() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    let unknown =
        json!({"action": "disconnect", "backend": "nowhere", "target": {"client_id": "c1"}})
            .to_string();

    // 404 unknown_backend twice, evaluated each time (not replayed).
    for _ in 0..2 {
        let reply = keyed(&sever, ONCALL, "k-2", &unknown);
        reply.expect_problem(404, "unknown_backend");
        assert!(!replayed(&reply));
    }
    // The key is still free: another body under it runs normally.
    keyed(&sever, ONCALL, "k-2", &disconnect_body("c1")).expect_success();

    // A vendor answer (target_not_found) is kept: the repeat replays it even though the
    // client has connected since.
    let first = keyed(&sever, ONCALL, "k-3", &disconnect_body("ghost"));
    first.expect_problem(404, "target_not_found");
    sim.connect_client("ghost");
    let again = keyed(&sever, ONCALL, "k-3", &disconnect_body("ghost"));
    assert!(replayed(&again));
    assert_eq!(again.status, 404);
    assert_eq!(again.code(), Some("target_not_found"));
    assert!(sim.is_connected("ghost"));
}

#[test]
fn keys_are_per_caller() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    let body = json!({"action": "disconnect", "backend": "mqtt-eu", "target": {"client_id": "c1"}})
        .to_string();
    keyed(&sever, ONCALL, "shared-key", &body).expect_success();
    // `narrow` may not use mqtt-eu: its request under the same key is judged on its own.
    let reply = keyed(&sever, NARROW, "shared-key", &body);
    reply.expect_problem(403, "forbidden");
    assert!(!replayed(&reply));
}

#[test]
fn malformed_keys_are_400_and_send_nothing() {
    let sim = sim(&["c1"]);
    let sever = start(&sim);
    let long = "k".repeat(129);
    for key in [long.as_str(), "has space", "tab\tkey"] {
        let reply = keyed(&sever, ONCALL, key, &disconnect_body("c1"));
        reply.expect_problem(400, "invalid_request");
    }
    let ok = "k".repeat(128);
    keyed(&sever, ONCALL, &ok, &disconnect_body("c1")).expect_success();
    assert_one_disconnect_call(&sim, "c1");
}

// ---------------------------------------------------------------------------------------
// Redis: several replicas
// ---------------------------------------------------------------------------------------

fn start_with_redis(sim: &sever_tests::sim::CedaloSim, redis: &RedisServer) -> Sever {
    let config = config_tuned(&sim.url(), ", request_timeout_ms: 5000", 4000, 0).replace(
        "audit: {",
        &format!(
            "idempotency: {{ redis_url: \"{}\" }}\naudit: {{",
            redis.url()
        ),
    );
    Sever::start(&config, &env())
}

#[test]
fn two_severs_sharing_redis_racing_on_one_key_make_exactly_one_vendor_call() {
    let redis = RedisServer::start();
    let sim = sim(&["c1"]);
    let a = start_with_redis(&sim, &redis);
    let b = start_with_redis(&sim, &redis);
    let body = disconnect_body("c1");
    // The first call to arrive is held until every other request has been answered, so
    // that all of them race while it runs.
    let gate = sim.hold_answers();
    let answered = AtomicUsize::new(0);

    let replies: Vec<http::Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let sever = if i % 2 == 0 { &a } else { &b };
                let (body, answered) = (&body, &answered);
                s.spawn(move || {
                    let reply = keyed(sever, ONCALL, "race-1", body);
                    answered.fetch_add(1, Ordering::SeqCst);
                    reply
                })
            })
            .collect();
        let racing = eventually(Duration::from_secs(20), || {
            gate.held() == 1 && answered.load(Ordering::SeqCst) == 7
        });
        assert!(
            racing,
            "held {}, answered {}",
            gate.held(),
            answered.load(Ordering::SeqCst)
        );
        gate.release();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    assert_eq!(sim.calls().len(), 1, "exactly one vendor call");
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let busy = replies
        .iter()
        .filter(|r| r.code() == Some("idempotency_in_flight"))
        .count();
    assert_eq!((ok, busy), (1, 7), "{replies:#?}");

    // Once done, either replica replays it.
    for sever in [&a, &b] {
        let again = keyed(sever, ONCALL, "race-1", &body);
        assert!(replayed(&again), "{again:#?}");
        assert_eq!(again.status, 200);
    }
    assert_eq!(sim.calls().len(), 1);
}

#[test]
fn with_redis_down_keyed_requests_are_refused_and_send_nothing() {
    let mut redis = RedisServer::start();
    let sim = sim(&["c1"]);
    let sever = start_with_redis(&sim, &redis);
    redis.stop();

    let reply = keyed(&sever, ONCALL, "k-down", &disconnect_body("c1"));

    reply.expect_problem(503, "overloaded");
    assert_nothing_sent(&sim);
    // Requests without a key do not need the store.
    disconnect(&sever, "c1").expect_success();
}
