//! The embedded store: one map behind one mutex, bounded by `idempotency.max_entries`.
//! Entries are ordered by when they were claimed; when full, the oldest kept answer goes
//! first (counted in `sever_idempotency_evictions_total`). A claim whose request still
//! runs is never evicted: the bound may be passed by the claims in flight (at most
//! `server.max_in_flight` of them), so that a repeat can never run the request twice. Expiry is checked lazily: on the key
//! asked for, and on the oldest entries before anything is evicted. Every operation is
//! O(log n).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use prometheus::IntCounter;

use super::{
    Claim, ClaimGuard, Fingerprint, Held, IdempotencyError, ScopeKey, StoredAnswer, ANSWER_TTL,
};
use crate::clock::Clock;

pub(super) struct MemoryStore {
    state: Mutex<State>,
    max_entries: usize,
    clock: Arc<dyn Clock>,
    evictions: IntCounter,
}

impl fmt::Debug for MemoryStore {
    // Not the entries: there may be many, and they hold answer bodies.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("entries", &self.state.lock().entries.len())
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<ScopeKey, Entry>,
    /// Claim sequence number → key, oldest first.
    order: BTreeMap<u64, ScopeKey>,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry {
    /// When claimed, in claim order; also the claim's token.
    seq: u64,
    fingerprint: Fingerprint,
    expires_at: Instant,
    answer: Option<StoredAnswer>,
}

impl State {
    fn remove(&mut self, scope: &ScopeKey) {
        if let Some(entry) = self.entries.remove(scope) {
            self.order.remove(&entry.seq);
        }
    }

    /// The oldest entry holding an answer (claims still running are skipped).
    fn oldest_answered(&self) -> Option<ScopeKey> {
        self.order
            .values()
            .find(|scope| self.entries.get(*scope).is_some_and(|e| e.answer.is_some()))
            .copied()
    }

    /// Drops expired entries from the old end, stopping at the first live one.
    fn drop_expired_oldest(&mut self, now: Instant) {
        while let Some((_, scope)) = self.order.first_key_value() {
            let scope = *scope;
            match self.entries.get(&scope) {
                Some(entry) if entry.expires_at > now => break,
                _ => {
                    self.order.pop_first();
                    self.entries.remove(&scope);
                }
            }
        }
    }
}

impl MemoryStore {
    pub(super) fn new(max_entries: usize, clock: Arc<dyn Clock>, evictions: IntCounter) -> Self {
        MemoryStore {
            state: Mutex::new(State::default()),
            max_entries: max_entries.max(1),
            clock,
            evictions,
        }
    }

    pub(super) fn claim(
        self: &Arc<Self>,
        scope: &ScopeKey,
        fingerprint: &Fingerprint,
        in_flight_ttl: Duration,
    ) -> Claim {
        let now = self.clock.now();
        let mut state = self.state.lock();
        match state.entries.get(scope) {
            Some(entry) if entry.expires_at > now => {
                return match &entry.answer {
                    _ if entry.fingerprint != *fingerprint => Claim::Conflict,
                    Some(answer) => Claim::Replay(answer.clone()),
                    None => Claim::InFlight,
                };
            }
            Some(_) => state.remove(scope),
            None => {}
        }
        state.drop_expired_oldest(now);
        while state.entries.len() >= self.max_entries {
            let Some(oldest) = state.oldest_answered() else {
                break;
            };
            state.remove(&oldest);
            self.evictions.inc();
        }
        let seq = state.next_seq;
        state.next_seq += 1;
        state.order.insert(seq, *scope);
        state.entries.insert(
            *scope,
            Entry {
                seq,
                fingerprint: *fingerprint,
                // A claim never outlives an answer (and `Duration::MAX` cannot overflow).
                expires_at: now + in_flight_ttl.min(ANSWER_TTL),
                answer: None,
            },
        );
        Claim::New(ClaimGuard::new(Held::Memory {
            store: Arc::clone(self),
            scope: *scope,
            token: seq,
        }))
    }

    pub(super) fn complete(
        &self,
        scope: &ScopeKey,
        token: u64,
        answer: StoredAnswer,
    ) -> Result<(), IdempotencyError> {
        let now = self.clock.now();
        let mut state = self.state.lock();
        match state.entries.get_mut(scope) {
            Some(entry) if entry.seq == token && entry.answer.is_none() => {
                entry.answer = Some(answer);
                entry.expires_at = now + ANSWER_TTL;
                Ok(())
            }
            _ => Err(IdempotencyError::ClaimLost),
        }
    }

    pub(super) fn release(&self, scope: &ScopeKey, token: u64) {
        let mut state = self.state.lock();
        if state
            .entries
            .get(scope)
            .is_some_and(|e| e.seq == token && e.answer.is_none())
        {
            state.remove(scope);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let state = self.state.lock();
        assert_eq!(state.entries.len(), state.order.len());
        state.entries.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::IdempotencyStore;
    use super::*;
    use crate::clock::testing::ManualClock;
    use crate::clock::SystemClock;
    use crate::metrics::Metrics;

    const TTL: Duration = Duration::from_secs(10);

    fn store(max_entries: usize) -> (IdempotencyStore, Arc<ManualClock>, Metrics) {
        let metrics = Metrics::new();
        let clock = ManualClock::new();
        let store = IdempotencyStore::in_memory(max_entries, &metrics, clock.clone());
        (store, clock, metrics)
    }

    fn answer(status: u16, id: &str) -> StoredAnswer {
        StoredAnswer {
            status,
            request_id: id.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: format!(r#"{{"request_id":"{id}"}}"#).into_bytes(),
        }
    }

    fn key(n: u32) -> ScopeKey {
        ScopeKey::new("oncall", &format!("key-{n}"))
    }

    fn body(text: &str) -> Fingerprint {
        Fingerprint::of_body(text.as_bytes())
    }

    async fn claim(store: &IdempotencyStore, scope: &ScopeKey, fp: &Fingerprint) -> Claim {
        store.claim(scope, fp, TTL).await.unwrap()
    }

    async fn new_guard(store: &IdempotencyStore, scope: &ScopeKey, fp: &Fingerprint) -> ClaimGuard {
        match claim(store, scope, fp).await {
            Claim::New(guard) => guard,
            other => panic!("expected a new claim, got {other:?}"),
        }
    }

    fn metric(metrics: &Metrics, name: &str) -> String {
        let text = String::from_utf8(metrics.render()).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_completed_key_replays_its_answer_and_counts_the_replay() {
        let (store, _, metrics) = store(10);
        let guard = new_guard(&store, &key(1), &body("a")).await;
        guard.complete(answer(200, "first")).await.unwrap();
        for _ in 0..2 {
            match claim(&store, &key(1), &body("a")).await {
                Claim::Replay(a) => assert_eq!(a, answer(200, "first")),
                other => panic!("expected a replay, got {other:?}"),
            }
        }
        assert_eq!(metric(&metrics, "sever_idempotency_replays_total"), "2");
    }

    #[tokio::test]
    async fn the_same_key_with_another_body_conflicts_whether_running_or_done() {
        let (store, _, _) = store(10);
        let guard = new_guard(&store, &key(1), &body("a")).await;
        assert!(matches!(
            claim(&store, &key(1), &body("b")).await,
            Claim::Conflict
        ));
        guard.complete(answer(200, "first")).await.unwrap();
        assert!(matches!(
            claim(&store, &key(1), &body("b")).await,
            Claim::Conflict
        ));
    }

    #[tokio::test]
    async fn a_running_key_answers_in_flight_until_its_claim_expires() {
        let (store, clock, _) = store(10);
        let stale = new_guard(&store, &key(1), &body("a")).await;
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::InFlight
        ));
        clock.advance(TTL - Duration::from_millis(1));
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::InFlight
        ));
        clock.advance(Duration::from_millis(1));
        // The first replica "crashed": its claim expired and a retry takes the key.
        let fresh = new_guard(&store, &key(1), &body("a")).await;
        // The stale claim cannot overwrite or release the new owner's key.
        assert!(matches!(
            stale.complete(answer(502, "stale")).await,
            Err(IdempotencyError::ClaimLost)
        ));
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::InFlight
        ));
        fresh.complete(answer(200, "fresh")).await.unwrap();
        match claim(&store, &key(1), &body("a")).await {
            Claim::Replay(a) => assert_eq!(a.request_id, "fresh"),
            other => panic!("expected a replay, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stored_answer_expires_after_24_hours() {
        let (store, clock, _) = store(10);
        let guard = new_guard(&store, &key(1), &body("a")).await;
        clock.advance(Duration::from_secs(3));
        guard.complete(answer(200, "first")).await.unwrap();
        clock.advance(ANSWER_TTL - Duration::from_secs(1));
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::Replay(_)
        ));
        clock.advance(Duration::from_secs(1));
        // Expired: a new request (even with another body) owns the key again.
        new_guard(&store, &key(1), &body("b")).await;
    }

    #[tokio::test]
    async fn dropping_a_guard_releases_the_key_and_release_does_too() {
        let (store, _, _) = store(10);
        drop(new_guard(&store, &key(1), &body("a")).await);
        // Released: another body is no conflict, the key is free.
        let guard = new_guard(&store, &key(1), &body("b")).await;
        guard.release().await.unwrap();
        new_guard(&store, &key(1), &body("c")).await;
        let Backend::Memory(memory) = &store.backend else {
            panic!("memory store expected");
        };
        assert_eq!(memory.len(), 0, "every guard above was dropped or released");
    }

    #[tokio::test]
    async fn dropping_a_completed_guard_keeps_the_answer() {
        let (store, _, _) = store(10);
        let guard = new_guard(&store, &key(1), &body("a")).await;
        guard.complete(answer(404, "first")).await.unwrap();
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::Replay(_)
        ));
    }

    #[tokio::test]
    async fn when_full_the_oldest_key_is_evicted_first_and_counted() {
        let (store, _, metrics) = store(3);
        for n in 1..=3 {
            let guard = new_guard(&store, &key(n), &body("a")).await;
            guard.complete(answer(200, &format!("r{n}"))).await.unwrap();
        }
        assert_eq!(metric(&metrics, "sever_idempotency_evictions_total"), "0");
        // A fourth key pushes out key 1 (the oldest), then a fifth pushes out key 2.
        new_guard(&store, &key(4), &body("a"))
            .await
            .complete(answer(200, "r4"))
            .await
            .unwrap();
        assert_eq!(metric(&metrics, "sever_idempotency_evictions_total"), "1");
        assert!(matches!(
            claim(&store, &key(3), &body("a")).await,
            Claim::Replay(_)
        ));
        assert!(matches!(
            claim(&store, &key(2), &body("a")).await,
            Claim::Replay(_)
        ));
        // Key 1 was forgotten: it is new again, which evicts key 2.
        let again = new_guard(&store, &key(1), &body("a")).await;
        assert_eq!(metric(&metrics, "sever_idempotency_evictions_total"), "2");
        assert!(matches!(
            claim(&store, &key(3), &body("a")).await,
            Claim::Replay(_)
        ));
        assert!(matches!(
            claim(&store, &key(4), &body("a")).await,
            Claim::Replay(_)
        ));
        drop(again);
        let Backend::Memory(memory) = &store.backend else {
            panic!("memory store expected");
        };
        assert_eq!(memory.len(), 2);
    }

    #[tokio::test]
    async fn expired_entries_make_room_without_counting_an_eviction() {
        let (store, clock, metrics) = store(2);
        for n in 1..=2 {
            new_guard(&store, &key(n), &body("a"))
                .await
                .complete(answer(200, "r"))
                .await
                .unwrap();
        }
        clock.advance(ANSWER_TTL);
        for n in 3..=4 {
            new_guard(&store, &key(n), &body("a"))
                .await
                .complete(answer(200, "r"))
                .await
                .unwrap();
        }
        assert_eq!(metric(&metrics, "sever_idempotency_evictions_total"), "0");
    }

    #[tokio::test]
    async fn a_running_claim_is_never_evicted() {
        let (store, _, metrics) = store(1);
        let first = new_guard(&store, &key(1), &body("a")).await;
        // Full, and the only entry still runs: the bound is passed rather than forget it.
        let second = new_guard(&store, &key(2), &body("a")).await;
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::InFlight
        ));
        first.complete(answer(200, "r")).await.unwrap();
        second.complete(answer(200, "s")).await.unwrap();
        assert_eq!(metric(&metrics, "sever_idempotency_evictions_total"), "0");
        // A new key now evicts the oldest answered one.
        let _third = new_guard(&store, &key(3), &body("a")).await;
        assert_eq!(metric(&metrics, "sever_idempotency_evictions_total"), "2");
        assert!(matches!(
            claim(&store, &key(2), &body("a")).await,
            Claim::New(_)
        ));
    }

    #[tokio::test]
    async fn keys_are_scoped_per_caller() {
        let (store, _, _) = store(10);
        let ours = ScopeKey::new("oncall", "k");
        new_guard(&store, &ours, &body("a"))
            .await
            .complete(answer(200, "r"))
            .await
            .unwrap();
        // Another caller's identical key and body is a different key.
        new_guard(&store, &ScopeKey::new("soar", "k"), &body("a")).await;
    }

    #[tokio::test]
    async fn the_system_clock_store_works_end_to_end() {
        let metrics = Metrics::new();
        let store = IdempotencyStore::in_memory(5, &metrics, Arc::new(SystemClock));
        let guard = new_guard(&store, &key(1), &body("a")).await;
        guard.complete(answer(200, "r")).await.unwrap();
        assert!(matches!(
            claim(&store, &key(1), &body("a")).await,
            Claim::Replay(_)
        ));
    }

    use super::super::Backend;
}
