//! `Idempotency-Key` (spec §3): remembers, per caller and key, the answer given once a
//! vendor call was attempted, so a repeat within 24 h gets that answer again and sends
//! nothing to any vendor.
//!
//! How the pieces fit, for the request path:
//!
//! 1. [`ScopeKey::new`] (caller name + the header's key, hashed: no raw caller input is ever
//!    a storage key) and [`Fingerprint::of_body`] (the request body's sha256).
//! 2. [`IdempotencyStore::claim`] with [`in_flight_ttl`]`(request_timeout)` answers one of
//!    - [`Claim::New`]: this request owns the key; run it, then
//!      [`ClaimGuard::complete`] with the answer when a vendor call was attempted, or drop
//!      the guard (or [`ClaimGuard::release`]) for a refusal that is not stored — dropping
//!      also covers a cancelled request;
//!    - [`Claim::Replay`]: answer the stored [`StoredAnswer`] with `Idempotent-Replayed: true`;
//!    - [`Claim::Conflict`]: `409 idempotency_conflict` (same key, other body, whether the
//!      first request is still running or done);
//!    - [`Claim::InFlight`]: `409 idempotency_in_flight`.
//! 3. Errors ([`IdempotencyError`]) from `claim` mean the store cannot be asked (Redis down,
//!    timed out, or holding something unreadable): answer 503 and send nothing. Errors from
//!    `complete` come after the answer was decided: log them, the answer stands.
//!
//! Two stores: in memory (the default; bounded by `idempotency.max_entries`, oldest evicted
//! first and counted in `sever_idempotency_evictions_total`), or Redis when
//! `idempotency.redis_url` is set, shared by every replica using it. Replays are counted in
//! `sever_idempotency_replays_total`.

mod memory;
mod redis_store;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::IdempotencyConfig;
use crate::metrics::Metrics;
use memory::MemoryStore;
use redis_store::RedisStore;

/// How long a completed answer is replayed.
pub const ANSWER_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Added to `server.request_timeout_ms` for an in-flight claim's lifetime: the request
/// itself ends by its timeout, the margin covers writing the answer and the audit line.
pub const IN_FLIGHT_MARGIN: Duration = Duration::from_secs(5);

/// The most one Redis operation (connecting included) may take before the request is
/// answered 503: well inside the request timeout, far above a healthy Redis's latency.
pub const REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long an in-flight claim holds its key when its replica never completes or releases
/// it (crashed): the request timeout plus [`IN_FLIGHT_MARGIN`].
pub fn in_flight_ttl(request_timeout: Duration) -> Duration {
    request_timeout.saturating_add(IN_FLIGHT_MARGIN)
}

/// The storage key of one caller's `Idempotency-Key`: sha256 over the caller name and
/// the key, each length-prefixed so no two pairs share a digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScopeKey([u8; 32]);

impl ScopeKey {
    /// The key `key` as sent by caller `caller` (its configured name).
    pub fn new(caller: &str, key: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [caller, key] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        ScopeKey(hash.finalize().into())
    }

    /// Lowercase hex of the digest.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeKey({})", self.hex())
    }
}

/// What makes two requests under one key "the same": the request body's sha256.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a request body, as received.
    pub fn of_body(body: &[u8]) -> Self {
        Fingerprint(Sha256::digest(body).into())
    }

    /// Lowercase hex of the digest.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.hex())
    }
}

/// The first answer under a key, as it is replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// The first answer's `request_id` (a replay carries it, spec §3).
    pub request_id: String,
    /// Headers to send again (`content-type`, `retry-after`, …), names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body bytes (base64 in Redis).
    #[serde(with = "body_base64")]
    pub body: Vec<u8>,
}

/// What [`IdempotencyStore::claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// The key was free (or its earlier claim expired or was released): this request owns it.
    New(ClaimGuard),
    /// The key holds a completed answer for the same body: answer it again.
    Replay(StoredAnswer),
    /// The key is held, running or done, for another body: `409 idempotency_conflict`.
    Conflict,
    /// The key is held by a request with the same body that is still running:
    /// `409 idempotency_in_flight`.
    InFlight,
}

/// Why the store could not be used. Every variant from [`IdempotencyStore::claim`] maps to
/// a 503 with nothing sent; from [`ClaimGuard::complete`] it is only logged. No variant's
/// text carries the Redis URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// `idempotency.redis_url` cannot be used by this build (at start-up).
    #[error("idempotency.redis_url: {0}")]
    Config(&'static str),
    /// Redis refused or broke the connection, or answered with an error.
    #[error("the idempotency store (Redis) is unavailable")]
    Unavailable(#[source] ::redis::RedisError),
    /// Redis did not answer within [`REDIS_TIMEOUT`].
    #[error("the idempotency store (Redis) did not answer in time")]
    Timeout,
    /// A stored record is not one this version wrote.
    #[error("the idempotency store holds a record that cannot be read")]
    Corrupt,
    /// `complete` found the claim gone: it expired (and may have been taken by another
    /// request) or was evicted. The answer is not stored.
    #[error("the idempotency claim expired or was evicted before the answer was stored")]
    ClaimLost,
}

/// The store the request path asks; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    backend: Backend,
    replays: prometheus::IntCounter,
}

#[derive(Debug, Clone)]
enum Backend {
    Memory(Arc<MemoryStore>),
    Redis(Arc<RedisStore>),
}

impl IdempotencyStore {
    /// The store the `idempotency` section asks for: Redis when `redis_url` is set (its
    /// keys expire by Redis's clock), else in memory (expiring by `clock`). Does not
    /// connect: Redis is reached on first use, so Sever starts while Redis is down and
    /// answers 503 to keyed requests until it is back.
    pub fn from_config(
        config: &IdempotencyConfig,
        metrics: &Metrics,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, IdempotencyError> {
        match &config.redis_url {
            Some(url) => Self::redis(url, metrics),
            None => Ok(Self::in_memory(config.max_entries, metrics, clock)),
        }
    }

    /// An in-memory store holding at most `max_entries` keys (at least one), expiring them
    /// by `clock`.
    pub fn in_memory(max_entries: usize, metrics: &Metrics, clock: Arc<dyn Clock>) -> Self {
        let store = MemoryStore::new(max_entries, clock, metrics.idempotency_evictions.clone());
        IdempotencyStore {
            backend: Backend::Memory(Arc::new(store)),
            replays: metrics.idempotency_replays.clone(),
        }
    }

    /// A store in the Redis at `url` (`redis://`, `redis+unix://` or `unix://`; TLS
    /// `rediss://` is not built in). Does not connect yet.
    pub fn redis(url: &str, metrics: &Metrics) -> Result<Self, IdempotencyError> {
        Ok(IdempotencyStore {
            backend: Backend::Redis(Arc::new(RedisStore::new(url)?)),
            replays: metrics.idempotency_replays.clone(),
        })
    }

    /// `"memory"` or `"redis"`, for start-up logs.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Redis(_) => "redis",
        }
    }

    /// Claims `scope` for a request whose body is `fingerprint`, or says why not. A new
    /// claim holds the key for `in_flight_ttl` (see [`in_flight_ttl`]) unless completed or
    /// released first.
    pub async fn claim(
        &self,
        scope: &ScopeKey,
        fingerprint: &Fingerprint,
        in_flight_ttl: Duration,
    ) -> Result<Claim, IdempotencyError> {
        let claim = match &self.backend {
            Backend::Memory(store) => store.claim(scope, fingerprint, in_flight_ttl),
            Backend::Redis(store) => store.claim(scope, fingerprint, in_flight_ttl).await?,
        };
        if matches!(claim, Claim::Replay(_)) {
            self.replays.inc();
        }
        Ok(claim)
    }
}

/// Ownership of a key while its request runs. [`complete`](ClaimGuard::complete) stores
/// the answer; dropping the guard without it releases the key (for Redis in a background
/// task on the current tokio runtime, or by expiry when there is none). Neither touches a
/// key that another request has claimed since (each claim carries its own token).
#[derive(Debug)]
pub struct ClaimGuard {
    /// `None` once completed or released.
    held: Option<Held>,
}

#[derive(Debug)]
enum Held {
    Memory {
        store: Arc<MemoryStore>,
        scope: ScopeKey,
        token: u64,
    },
    Redis {
        store: Arc<RedisStore>,
        scope: ScopeKey,
        /// The exact in-flight record written, unique by its token: compared before
        /// overwriting or deleting.
        record: String,
    },
}

impl ClaimGuard {
    fn new(held: Held) -> Self {
        ClaimGuard { held: Some(held) }
    }

    /// Stores `answer` under the key for [`ANSWER_TTL`].
    pub async fn complete(mut self, answer: StoredAnswer) -> Result<(), IdempotencyError> {
        match self.held.take() {
            Some(Held::Memory {
                store,
                scope,
                token,
            }) => store.complete(&scope, token, answer),
            Some(Held::Redis {
                store,
                scope,
                record,
            }) => store.complete(&scope, &record, answer).await,
            None => Ok(()),
        }
    }

    /// Releases the key now (a refusal that is not stored), waiting for Redis to confirm.
    pub async fn release(mut self) -> Result<(), IdempotencyError> {
        match self.held.take() {
            Some(Held::Memory {
                store,
                scope,
                token,
            }) => {
                store.release(&scope, token);
                Ok(())
            }
            Some(Held::Redis {
                store,
                scope,
                record,
            }) => store.release(&scope, &record).await,
            None => Ok(()),
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        match self.held.take() {
            Some(Held::Memory {
                store,
                scope,
                token,
            }) => store.release(&scope, token),
            Some(Held::Redis {
                store,
                scope,
                record,
            }) => {
                // Without a runtime the claim simply expires after its TTL.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if let Err(e) = store.release(&scope, &record).await {
                            tracing::debug!(error = %e, "idempotency claim left to expire");
                        }
                    });
                }
            }
            None => {}
        }
    }
}

/// `Vec<u8>` as a base64 string (standard alphabet, padded).
mod body_base64 {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(body: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(body))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scope_keys_differ_by_caller_and_by_key_and_never_collide_by_concatenation() {
        let a = ScopeKey::new("oncall", "k1");
        assert_eq!(a, ScopeKey::new("oncall", "k1"));
        assert_ne!(a, ScopeKey::new("soar", "k1"));
        assert_ne!(a, ScopeKey::new("oncall", "k2"));
        assert_ne!(ScopeKey::new("ab", "c"), ScopeKey::new("a", "bc"));
        assert_eq!(a.hex().len(), 64);
        assert!(!format!("{a:?}").contains("oncall"));
    }

    #[test]
    fn fingerprint_is_the_sha256_of_the_body() {
        assert_eq!(
            Fingerprint::of_body(b"").hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(Fingerprint::of_body(b"{}"), Fingerprint::of_body(b"{ }"));
    }

    #[test]
    fn a_stored_answer_survives_json_with_any_body_bytes() {
        let answer = StoredAnswer {
            status: 502,
            request_id: "r-1".into(),
            headers: vec![("content-type".into(), "application/problem+json".into())],
            body: vec![0, 159, 146, 150, b'{', b'}'],
        };
        let text = serde_json::to_string(&answer).unwrap();
        assert!(text.contains(r#""body":"AJ+Slnt9""#), "{text}");
        assert_eq!(serde_json::from_str::<StoredAnswer>(&text).unwrap(), answer);
    }

    #[test]
    fn in_flight_ttl_is_the_request_timeout_plus_the_margin() {
        assert_eq!(
            in_flight_ttl(Duration::from_millis(5000)),
            Duration::from_millis(10_000)
        );
        assert_eq!(in_flight_ttl(Duration::MAX), Duration::MAX);
    }

    #[test]
    fn from_config_builds_memory_by_default_and_redis_when_a_url_is_set() {
        let metrics = Metrics::new();
        let clock = || Arc::new(crate::clock::SystemClock) as Arc<dyn Clock>;
        let memory =
            IdempotencyStore::from_config(&IdempotencyConfig::default(), &metrics, clock());
        assert_eq!(memory.map(|s| s.kind()).ok(), Some("memory"));
        let config = IdempotencyConfig {
            max_entries: 10,
            redis_url: Some("redis://:secret-pw@127.0.0.1:6379/0".into()),
        };
        let redis = IdempotencyStore::from_config(&config, &metrics, clock()).unwrap();
        assert_eq!(redis.kind(), "redis");
        assert!(!format!("{redis:?}").contains("secret-pw"));
        let tls = IdempotencyConfig {
            max_entries: 10,
            redis_url: Some("rediss://:secret-pw@127.0.0.1:6379/0".into()),
        };
        let err = IdempotencyStore::from_config(&tls, &metrics, clock()).unwrap_err();
        assert!(matches!(err, IdempotencyError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("secret-pw"));
    }
}
