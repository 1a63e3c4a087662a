//! The shared store: one Redis key per caller and `Idempotency-Key`,
//! `sever:idempotency:<sha256 hex>`, holding a JSON record:
//!
//! - `{"state":"in_flight","fingerprint":…,"token":…}` with the claim's TTL, written by
//!   `SET NX PX` (only the first of several racing replicas gets it);
//! - `{"state":"done","fingerprint":…,"answer":{…}}` for 24 h, written over the in-flight
//!   record only while that record is still the exact one this claim wrote (its token
//!   makes it unique), so a claim that expired and was taken over never overwrites or
//!   deletes the new owner's record.
//!
//! Each step is one Lua script (atomic in Redis). The connection is made on first use and
//! remade after a failure ([`ConnectionManager`]); every operation is bounded by
//! [`REDIS_TIMEOUT`].

use std::time::Duration;

use crate::redis_link::RedisLink;
use redis::aio::ConnectionManager;
use redis::Script;
use serde::{Deserialize, Serialize};

use super::{
    Claim, ClaimGuard, Fingerprint, Held, IdempotencyError, ScopeKey, StoredAnswer, ANSWER_TTL,
    REDIS_TIMEOUT,
};

/// Every key Sever writes starts with it.
const PREFIX: &str = "sever:idempotency:";

/// Claims the key, or returns what holds it (read in the same atomic step).
const CLAIM: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return false
end
return redis.call('GET', KEYS[1])
";

/// Replaces this claim's own in-flight record by the answer; 0 when the claim is gone.
const COMPLETE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Deletes this claim's own in-flight record; 0 when the claim is gone.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

#[derive(Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
enum Record {
    InFlight {
        fingerprint: String,
        token: String,
    },
    Done {
        fingerprint: String,
        answer: StoredAnswer,
    },
}

#[derive(Debug)]
pub(super) struct RedisStore {
    link: RedisLink,
    claim: Script,
    complete: Script,
    release: Script,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl RedisStore {
    pub(super) fn new(url: &str) -> Result<Self, IdempotencyError> {
        Ok(RedisStore {
            link: RedisLink::new(url).map_err(IdempotencyError::Config)?,
            claim: Script::new(CLAIM),
            complete: Script::new(COMPLETE),
            release: Script::new(RELEASE),
        })
    }

    /// The shared connection, made on first use; a clone is a cheap handle.
    async fn connection(&self) -> Result<ConnectionManager, IdempotencyError> {
        self.link
            .connection()
            .await
            .map_err(IdempotencyError::Unavailable)
    }

    /// Runs `script` on `key` with `args`, bounded by [`REDIS_TIMEOUT`].
    async fn run<T: redis::FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        args: &[&str],
    ) -> Result<T, IdempotencyError> {
        let work = async {
            let mut connection = self.connection().await?;
            let mut invocation = script.key(key);
            for arg in args {
                invocation.arg(*arg);
            }
            invocation
                .invoke_async(&mut connection)
                .await
                .map_err(IdempotencyError::Unavailable)
        };
        match tokio::time::timeout(REDIS_TIMEOUT, work).await {
            Ok(result) => result,
            Err(_) => Err(IdempotencyError::Timeout),
        }
    }

    pub(super) async fn claim(
        self: &std::sync::Arc<Self>,
        scope: &ScopeKey,
        fingerprint: &Fingerprint,
        in_flight_ttl: Duration,
    ) -> Result<Claim, IdempotencyError> {
        let key = format!("{PREFIX}{}", scope.hex());
        let ours = fingerprint.hex();
        let record = serde_json::to_string(&Record::InFlight {
            fingerprint: ours.clone(),
            token: uuid::Uuid::new_v4().simple().to_string(),
        })
        .map_err(|_| IdempotencyError::Corrupt)?;
        let ttl = millis(in_flight_ttl.min(ANSWER_TTL)).to_string();
        let held: Option<String> = self.run(&self.claim, &key, &[&record, &ttl]).await?;
        let Some(held) = held else {
            return Ok(Claim::New(ClaimGuard::new(Held::Redis {
                store: std::sync::Arc::clone(self),
                scope: *scope,
                record,
            })));
        };
        Ok(
            match serde_json::from_str(&held).map_err(|_| IdempotencyError::Corrupt)? {
                Record::InFlight { fingerprint, .. } | Record::Done { fingerprint, .. }
                    if fingerprint != ours =>
                {
                    Claim::Conflict
                }
                Record::InFlight { .. } => Claim::InFlight,
                Record::Done { answer, .. } => Claim::Replay(answer),
            },
        )
    }

    pub(super) async fn complete(
        &self,
        scope: &ScopeKey,
        record: &str,
        answer: StoredAnswer,
    ) -> Result<(), IdempotencyError> {
        let key = format!("{PREFIX}{}", scope.hex());
        let fingerprint = match serde_json::from_str(record) {
            Ok(Record::InFlight { fingerprint, .. }) => fingerprint,
            _ => return Err(IdempotencyError::Corrupt),
        };
        let done = serde_json::to_string(&Record::Done {
            fingerprint,
            answer,
        })
        .map_err(|_| IdempotencyError::Corrupt)?;
        let ttl = millis(ANSWER_TTL).to_string();
        let stored: i64 = self
            .run(&self.complete, &key, &[record, &done, &ttl])
            .await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(IdempotencyError::ClaimLost)
        }
    }

    pub(super) async fn release(
        &self,
        scope: &ScopeKey,
        record: &str,
    ) -> Result<(), IdempotencyError> {
        let key = format!("{PREFIX}{}", scope.hex());
        let _deleted: i64 = self.run(&self.release, &key, &[record]).await?;
        Ok(())
    }
}
