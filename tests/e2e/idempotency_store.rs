//! The engine's idempotency store against a real, private `redis-server` (127.0.0.1, free
//! port, temp dir, nothing saved): claims, replays, conflicts, release, expiry, racing
//! replicas, what Redis holds, and Redis being down.

use std::sync::Arc;
use std::time::Duration;

use sever_engine::config::IdempotencyConfig;
use sever_engine::idempotency::{
    Claim, ClaimGuard, Fingerprint, IdempotencyError, IdempotencyStore, ScopeKey, StoredAnswer,
};
use sever_engine::metrics::Metrics;
use sever_tests::eventually_async;
use sever_tests::redis::RedisServer;

const TTL: Duration = Duration::from_secs(10);

fn store_at(url: &str, metrics: &Metrics) -> IdempotencyStore {
    let config = IdempotencyConfig {
        max_entries: 100,
        redis_url: Some(url.to_owned()),
    };
    // Redis keys expire by Redis's clock; the engine's clock is not asked.
    let clock = std::sync::Arc::new(sever_engine::clock::SystemClock);
    let store = IdempotencyStore::from_config(&config, metrics, clock).expect("redis store");
    assert_eq!(store.kind(), "redis");
    store
}

fn answer(status: u16, id: &str) -> StoredAnswer {
    StoredAnswer {
        status,
        request_id: id.into(),
        headers: vec![
            ("content-type".into(), "application/problem+json".into()),
            ("retry-after".into(), "3".into()),
        ],
        body: format!(r#"{{"request_id":"{id}","status":{status}}}"#).into_bytes(),
    }
}

fn body(text: &str) -> Fingerprint {
    Fingerprint::of_body(text.as_bytes())
}

async fn claim(store: &IdempotencyStore, scope: &ScopeKey, fp: &Fingerprint) -> Claim {
    store.claim(scope, fp, TTL).await.expect("claim")
}

async fn new_guard(store: &IdempotencyStore, scope: &ScopeKey, fp: &Fingerprint) -> ClaimGuard {
    match claim(store, scope, fp).await {
        Claim::New(guard) => guard,
        other => panic!("expected a new claim, got {other:?}"),
    }
}

/// Claims until the key is free again (bounded), so a test can wait for a background
/// release or an expiry without assuming how long either takes.
async fn wait_until_new(
    store: &IdempotencyStore,
    scope: &ScopeKey,
    fp: &Fingerprint,
) -> ClaimGuard {
    let guard = parking_lot::Mutex::new(None);
    let free = eventually_async(Duration::from_secs(10), || async {
        match claim(store, scope, fp).await {
            Claim::New(g) => {
                *guard.lock() = Some(g);
                true
            }
            Claim::InFlight => false,
            other => panic!("expected the key to become free, got {other:?}"),
        }
    })
    .await;
    match guard.into_inner() {
        Some(guard) if free => guard,
        _ => panic!("the key never became free"),
    }
}

fn metric(metrics: &Metrics, name: &str) -> String {
    let text = String::from_utf8(metrics.render()).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        .unwrap_or_default()
}

fn pttl(redis: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query(&mut redis.connection())
        .expect("PTTL")
}

/// Redis cannot be reached: a typed error, whichever way the connection failed.
fn assert_unavailable(err: &IdempotencyError) {
    assert!(
        matches!(
            err,
            IdempotencyError::Unavailable(_) | IdempotencyError::Timeout
        ),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_key_replays_and_another_body_conflicts() {
    let redis = RedisServer::start();
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "INC-4411-cut-1");

    let guard = new_guard(&store, &scope, &body("a")).await;
    assert!(matches!(
        claim(&store, &scope, &body("a")).await,
        Claim::InFlight
    ));
    assert!(matches!(
        claim(&store, &scope, &body("b")).await,
        Claim::Conflict
    ));
    guard
        .complete(answer(404, "first"))
        .await
        .expect("complete");

    for _ in 0..3 {
        match claim(&store, &scope, &body("a")).await {
            Claim::Replay(replayed) => assert_eq!(replayed, answer(404, "first")),
            other => panic!("expected a replay, got {other:?}"),
        }
    }
    assert!(matches!(
        claim(&store, &scope, &body("b")).await,
        Claim::Conflict
    ));
    assert_eq!(metric(&metrics, "sever_idempotency_replays_total"), "3");

    // Another caller's same key is its own key.
    new_guard(
        &store,
        &ScopeKey::new("soar-bot", "INC-4411-cut-1"),
        &body("a"),
    )
    .await
    .release()
    .await
    .expect("release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_only_hashed_keys_with_the_claim_and_answer_lifetimes() {
    let redis = RedisServer::start();
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "raw-key-from-the-caller");

    let guard = new_guard(&store, &scope, &body("a")).await;
    let keys = redis.keys();
    assert_eq!(keys, [format!("sever:idempotency:{}", scope.hex())]);
    for key in &keys {
        assert!(!key.contains("oncall") && !key.contains("raw-key"), "{key}");
    }
    let in_flight = pttl(&redis, &keys[0]);
    assert!(
        in_flight > 0 && in_flight <= 10_000,
        "in-flight PTTL {in_flight}"
    );

    guard.complete(answer(200, "r")).await.expect("complete");
    let done = pttl(&redis, &keys[0]);
    let day = 24 * 60 * 60 * 1000;
    assert!(done > day - 60_000 && done <= day, "answer PTTL {done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_or_dropped_claim_frees_the_key() {
    let redis = RedisServer::start();
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "k");

    new_guard(&store, &scope, &body("a"))
        .await
        .release()
        .await
        .expect("release");
    assert!(redis.keys().is_empty());
    // A refusal or a cancelled request just drops its guard: released in the background.
    // A retry with the same body sees the key in flight until then, and then owns it.
    // (The claim lives 10 minutes: only the release can free it within the wait.)
    let long = store
        .claim(&scope, &body("b"), Duration::from_secs(600))
        .await
        .expect("claim");
    assert!(matches!(long, Claim::New(_)), "{long:?}");
    drop(long);
    let guard = wait_until_new(&store, &scope, &body("b")).await;
    guard.complete(answer(200, "b")).await.expect("complete");
    assert!(matches!(
        claim(&store, &scope, &body("b")).await,
        Claim::Replay(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_claim_is_taken_over_and_the_stale_owner_cannot_touch_it() {
    let redis = RedisServer::start();
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "k");

    // A "crashed" replica's claim with a short lifetime.
    let stale = match store
        .claim(&scope, &body("a"), Duration::from_millis(300))
        .await
        .expect("claim")
    {
        Claim::New(guard) => guard,
        other => panic!("expected a new claim, got {other:?}"),
    };
    let fresh = wait_until_new(&store, &scope, &body("a")).await;
    assert!(matches!(
        stale.complete(answer(502, "stale")).await,
        Err(IdempotencyError::ClaimLost)
    ));
    assert!(matches!(
        claim(&store, &scope, &body("a")).await,
        Claim::InFlight
    ));
    fresh
        .complete(answer(200, "fresh"))
        .await
        .expect("complete");
    match claim(&store, &scope, &body("a")).await {
        Claim::Replay(replayed) => assert_eq!(replayed.request_id, "fresh"),
        other => panic!("expected a replay, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_from_two_replicas_make_exactly_one_owner() {
    let redis = RedisServer::start();
    let metrics = Metrics::new();
    // Two stores, two connections: two replicas sharing one Redis.
    let replicas = [
        store_at(&redis.url(), &metrics),
        store_at(&redis.url(), &metrics),
    ];
    for round in 0..5 {
        let scope = ScopeKey::new("oncall", &format!("race-{round}"));
        let start = Arc::new(tokio::sync::Barrier::new(40));
        let mut tasks = Vec::new();
        for n in 0..40 {
            let store = replicas[n % 2].clone();
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                store.claim(&scope, &body("same"), TTL).await
            }));
        }
        let mut owners = Vec::new();
        let mut in_flight = 0;
        for task in tasks {
            match task.await.expect("task").expect("claim") {
                Claim::New(guard) => owners.push(guard),
                Claim::InFlight => in_flight += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!((owners.len(), in_flight), (1, 39), "round {round}");
        let owner = owners.pop().expect("one owner");
        owner.complete(answer(200, "won")).await.expect("complete");
        for store in &replicas {
            match claim(store, &scope, &body("same")).await {
                Claim::Replay(replayed) => assert_eq!(replayed.request_id, "won"),
                other => panic!("expected a replay, got {other:?}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_a_typed_error_and_the_store_recovers_when_it_is_back() {
    let mut redis = RedisServer::start();
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "k");
    new_guard(&store, &scope, &body("a"))
        .await
        .complete(answer(200, "r"))
        .await
        .expect("complete");

    redis.stop();
    let err = store
        .claim(&scope, &body("a"), TTL)
        .await
        .expect_err("redis is down");
    assert_unavailable(&err);

    // Back (empty: nothing is saved); the same store reconnects by itself.
    redis.restart();
    let claimed = parking_lot::Mutex::new(None);
    eventually_async(Duration::from_secs(10), || async {
        match store.claim(&scope, &body("a"), TTL).await {
            Ok(Claim::New(guard)) => {
                *claimed.lock() = Some(guard);
                true
            }
            Err(_) => false,
            other => panic!("expected a new claim after the restart, got {other:?}"),
        }
    })
    .await;
    let guard = claimed
        .into_inner()
        .expect("a new claim once Redis is back");
    guard.release().await.expect("release");

    // Nothing listening at all.
    let nowhere = store_at(
        &format!("redis://127.0.0.1:{}/0", sever_tests::harness::free_port()),
        &metrics,
    );
    let err = nowhere
        .claim(&scope, &body("a"), TTL)
        .await
        .expect_err("nothing listens");
    assert_unavailable(&err);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_url_authenticates_and_never_shows_in_errors() {
    let password = "redis-pw-8c1e";
    let redis = RedisServer::start_with_password(password);
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "k");
    new_guard(&store, &scope, &body("a"))
        .await
        .release()
        .await
        .expect("release");
    assert!(!format!("{store:?}").contains(password));

    let wrong = store_at(
        &format!("redis://:wrong-pw-77@127.0.0.1:{}/0", redis.port),
        &metrics,
    );
    let err = wrong
        .claim(&scope, &body("a"), TTL)
        .await
        .expect_err("wrong password");
    assert!(matches!(err, IdempotencyError::Unavailable(_)), "{err:?}");
    let mut chain = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert!(!chain.contains("wrong-pw-77"), "{chain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_record_is_an_error_not_a_new_claim() {
    let redis = RedisServer::start();
    let metrics = Metrics::new();
    let store = store_at(&redis.url(), &metrics);
    let scope = ScopeKey::new("oncall", "k");
    let _: () = redis::cmd("SET")
        .arg(format!("sever:idempotency:{}", scope.hex()))
        .arg("not json")
        .query(&mut redis.connection())
        .expect("SET");
    let err = store
        .claim(&scope, &body("a"), TTL)
        .await
        .expect_err("corrupt");
    assert!(matches!(err, IdempotencyError::Corrupt), "{err:?}");
}
