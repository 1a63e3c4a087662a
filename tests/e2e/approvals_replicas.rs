//! End to end through two real `sever` processes sharing a real, private `redis-server`
//! (`idempotency.redis_url`): a request held through one replica is listed, shown and
//! approved through the other, and runs exactly once — also when both replicas approve
//! it at the same moment; an expiry is told once across replicas; stopping a replica
//! drops no pending approval (they stay in Redis).
//!
//! Needs `cargo build --workspace` first, and `redis-server` (`scripts/setup`).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::approvals::*;
use crate::common::*;
use sever_tests::eventually;
use sever_tests::harness::{http, Sever};
use sever_tests::redis::RedisServer;

fn replicas(fleet: &Fleet, redis: &RedisServer, ttl_ms: u64) -> (Sever, Sever) {
    let store = format!("idempotency: {{ redis_url: \"{}\" }}", redis.url());
    let config = fleet.config(ttl_ms, &store);
    (
        Sever::start(&config, &approvals_env()),
        Sever::start(&config, &approvals_env()),
    )
}

#[test]
fn a_request_held_by_one_replica_is_approved_through_the_other_exactly_once() {
    let redis = RedisServer::start();
    let fleet = Fleet::new();
    let (a, b) = replicas(&fleet, &redis, 60_000);

    let id = hold(&a, &critical_body("c1"));

    assert_eq!(listed(&b, LEAD), [id.as_str()]);
    assert_eq!(show(&b, LEAD, &id).json()["state"], "pending");
    assert!(
        redis.keys().iter().any(|k| k.ends_with(&id)),
        "{:?}",
        redis.keys()
    );
    assert_nothing_sent(&fleet.eu);
    assert_eq!(approvals_total(&a, "requested"), 1.0);

    let run = approve(&b, LEAD, &id);

    assert_eq!(run.status, 200, "{run:#?}");
    assert_eq!(run.json()["outcome"], "done");
    assert_one_disconnect_call(&fleet.eu, "c1");
    approve(&a, SECOND, &id).expect_problem(409, "approval_decided");
    assert_eq!(show(&a, ONCALL, &id).json()["state"], "executed");
    assert_eq!(fleet.eu.calls().len(), 1);
    // Each replica audits what it did: the hold on a, the decision and the run on b.
    let on_a: Vec<String> = approval_events(&a).into_iter().map(|(e, _)| e).collect();
    let on_b: Vec<String> = approval_events(&b).into_iter().map(|(e, _)| e).collect();
    assert_eq!(on_a, ["requested"]);
    assert_eq!(on_b, ["approved", "executed"]);
}

#[test]
fn two_replicas_approving_at_once_run_it_once() {
    let redis = RedisServer::start();
    let fleet = Fleet::new();
    let (a, b) = replicas(&fleet, &redis, 60_000);
    let id = hold(&a, &critical_body("c1"));
    let barrier = std::sync::Barrier::new(2);

    let mut replies: Vec<http::Reply> = std::thread::scope(|s| {
        let racers: Vec<_> = [(&a, LEAD), (&b, SECOND)]
            .into_iter()
            .map(|(sever, token)| {
                let (id, barrier) = (&id, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    approve(sever, token, id)
                })
            })
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    replies.sort_by_key(|r| r.status);

    assert_eq!(replies[0].status, 200, "{:#?}", replies[0]);
    replies[1].expect_problem(409, "approval_decided");
    assert_one_disconnect_call(&fleet.eu, "c1");
    let executed = approvals_total(&a, "executed") + approvals_total(&b, "executed");
    assert_eq!(executed, 1.0);
}

#[test]
fn an_expiry_is_told_once_across_replicas_and_stopping_drops_nothing() {
    let redis = RedisServer::start();
    let fleet = Fleet::new();
    let (mut a, b) = replicas(&fleet, &redis, 400);
    let id = hold(&a, &critical_body("c1"));

    let expired = |s: &Sever| {
        approval_events(s)
            .iter()
            .filter(|(e, _)| e == "expired")
            .count()
    };
    assert!(
        eventually(Duration::from_secs(10), || expired(&a) + expired(&b) == 1),
        "never expired"
    );
    approve(&b, LEAD, &id).expect_problem(410, "approval_expired");
    approve(&a, LEAD, &id).expect_problem(410, "approval_expired");
    assert_eq!(show(&b, ONCALL, &id).json()["state"], "expired");
    assert_eq!(expired(&a) + expired(&b), 1, "told by one replica only");
    assert_nothing_sent(&fleet.eu);

    // A wide fan-out (its rule keeps the default 15 minutes) stays pending in Redis
    // when a replica stops.
    let wide = serde_json::json!({
        "action": "disconnect",
        "backends": ["mqtt-us", "mqtt-ap", "mqtt-sa"],
        "target": { "client_id": "c1" },
        "reason": "INC-4411",
    });
    let kept = hold(&a, &wide.to_string());
    a.terminate();
    assert!(a.wait_exit(Duration::from_secs(15)).is_some());
    assert!(
        !a.stderr()
            .contains("pending approvals in memory are dropped"),
        "{}",
        a.stderr()
    );
    assert_eq!(listed(&b, LEAD), [kept.as_str()]);
    let run = approve(&b, LEAD, &kept);
    assert!(matches!(run.status, 200 | 207), "{run:#?}");
    assert_eq!(fleet.us.calls().len(), 1);
    assert_nothing_sent(&fleet.eu);
}
