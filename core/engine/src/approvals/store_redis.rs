//! The shared approvals store, in the Redis of `idempotency.redis_url`:
//!
//! - `sever:approval:<id>`: a hash — `held` (the JSON of what was held, never changed),
//!   `state`, `expires_ms`, and once decided `decided_by`, `decided_ms`, `result`; it
//!   lives until the expiry plus [`DECIDED_RETENTION`], and that long after a decision;
//! - `sever:approvals:pending`: a sorted set of the pending ids, scored by expiry.
//!
//! Each change is one Lua script (atomic in Redis): of several replicas deciding one id,
//! exactly one finds it pending. The connection is made on first use and remade after a
//! failure; every operation is bounded by [`REDIS_TIMEOUT`].

use super::{Approval, ApprovalStoreError, Decided, Held, State, DECIDED_RETENTION};
use crate::idempotency::REDIS_TIMEOUT;
use crate::redis_link::RedisLink;
use redis::aio::ConnectionManager;
use redis::Script;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const KEY_PREFIX: &str = "sever:approval:";
const PENDING: &str = "sever:approvals:pending";

/// KEYS: record, pending set. ARGV: id, held JSON, expires_ms, key lifetime in ms.
const INSERT: &str = r"
redis.call('HSET', KEYS[1], 'held', ARGV[2], 'state', 'pending', 'expires_ms', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
";

/// KEYS: record, pending set. ARGV: id, now_ms, target state, decided_by ('' for none),
/// retention in ms. Returns the state found before: 'missing', a decided state, or
/// 'pending' (then changed: to 'expired' when the expiry has passed, else to the target).
const DECIDE: &str = r"
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'missing'
end
if state ~= 'pending' then
  return state
end
local to = ARGV[3]
if tonumber(ARGV[2]) >= tonumber(redis.call('HGET', KEYS[1], 'expires_ms')) then
  to = 'expired'
end
redis.call('HSET', KEYS[1], 'state', to, 'decided_ms', ARGV[2])
if to ~= 'expired' and ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'decided_by', ARGV[4])
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZREM', KEYS[2], ARGV[1])
if to == 'expired' then
  return 'pending:expired'
end
return 'pending'
";

/// KEYS: record. ARGV: result JSON. approved → executed.
const FINISH: &str = r"
if redis.call('HGET', KEYS[1], 'state') == 'approved' then
  redis.call('HSET', KEYS[1], 'state', 'executed', 'result', ARGV[1])
  return 1
end
return 0
";

#[derive(Debug)]
pub struct RedisApprovals {
    link: RedisLink,
    insert: Script,
    decide: Script,
    finish: Script,
}

fn key(id: &str) -> String {
    format!("{KEY_PREFIX}{id}")
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisApprovals {
    pub(super) fn new(url: &str) -> Result<Self, ApprovalStoreError> {
        Ok(RedisApprovals {
            link: RedisLink::new(url).map_err(ApprovalStoreError::Config)?,
            insert: Script::new(INSERT),
            decide: Script::new(DECIDE),
            finish: Script::new(FINISH),
        })
    }

    async fn connection(&self) -> Result<ConnectionManager, ApprovalStoreError> {
        self.link
            .connection()
            .await
            .map_err(ApprovalStoreError::Unavailable)
    }

    /// Runs `work` on the connection, bounded by [`REDIS_TIMEOUT`].
    async fn bounded<T, F>(&self, work: F) -> Result<T, ApprovalStoreError>
    where
        F: AsyncFnOnce(&mut ConnectionManager) -> redis::RedisResult<T>,
    {
        let run = async {
            let mut connection = self.connection().await?;
            work(&mut connection)
                .await
                .map_err(ApprovalStoreError::Unavailable)
        };
        tokio::time::timeout(REDIS_TIMEOUT, run)
            .await
            .unwrap_or(Err(ApprovalStoreError::Timeout))
    }

    pub(super) async fn insert(&self, held: &Held) -> Result<(), ApprovalStoreError> {
        let json = serde_json::to_string(held).map_err(|_| ApprovalStoreError::Corrupt)?;
        let lifetime = held
            .expires_ms
            .saturating_sub(held.created_ms)
            .saturating_add(ms(DECIDED_RETENTION))
            .max(1);
        let record = key(&held.id);
        let _: i64 = self
            .bounded(async |c| {
                self.insert
                    .key(&record)
                    .key(PENDING)
                    .arg(&held.id)
                    .arg(&json)
                    .arg(held.expires_ms)
                    .arg(lifetime)
                    .invoke_async(c)
                    .await
            })
            .await?;
        Ok(())
    }

    pub(super) async fn get(&self, id: &str) -> Result<Option<Approval>, ApprovalStoreError> {
        let record = key(id);
        let fields: HashMap<String, String> = self
            .bounded(async |c| redis::cmd("HGETALL").arg(&record).query_async(c).await)
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        read(&fields).map(Some)
    }

    pub(super) async fn pending(&self) -> Result<Vec<Approval>, ApprovalStoreError> {
        let ids: Vec<String> = self
            .bounded(async |c| {
                redis::cmd("ZRANGE")
                    .arg(PENDING)
                    .arg(0)
                    .arg(-1)
                    .query_async(c)
                    .await
            })
            .await?;
        let mut list = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(approval) = self.get(&id).await? {
                if approval.state == State::Pending {
                    list.push(approval);
                }
            }
        }
        Ok(list)
    }

    pub(super) async fn count_pending(&self) -> Result<usize, ApprovalStoreError> {
        self.bounded(async |c| redis::cmd("ZCARD").arg(PENDING).query_async(c).await)
            .await
    }

    pub(super) async fn decide(
        &self,
        id: &str,
        to: State,
        by: Option<&str>,
        now: u64,
    ) -> Result<Decided, ApprovalStoreError> {
        let record = key(id);
        let found: String = self
            .bounded(async |c| {
                self.decide
                    .key(&record)
                    .key(PENDING)
                    .arg(id)
                    .arg(now)
                    .arg(to.as_str())
                    .arg(by.unwrap_or(""))
                    .arg(ms(DECIDED_RETENTION))
                    .invoke_async(c)
                    .await
            })
            .await?;
        match found.as_str() {
            "missing" => Ok(Decided::NotFound),
            "pending" | "pending:expired" => {
                let approval = self.get(id).await?.ok_or(ApprovalStoreError::Corrupt)?;
                if found == "pending" {
                    Ok(Decided::Now(approval))
                } else {
                    Ok(Decided::ExpiredNow(approval))
                }
            }
            other => State::parse(other)
                .map(Decided::Already)
                .ok_or(ApprovalStoreError::Corrupt),
        }
    }

    pub(super) async fn finish(&self, id: &str, result: &Value) -> Result<(), ApprovalStoreError> {
        let record = key(id);
        let json = result.to_string();
        let _: i64 = self
            .bounded(async |c| self.finish.key(&record).arg(&json).invoke_async(c).await)
            .await?;
        Ok(())
    }
}

/// An approval from its hash's fields.
fn read(fields: &HashMap<String, String>) -> Result<Approval, ApprovalStoreError> {
    let corrupt = || ApprovalStoreError::Corrupt;
    let held: Held =
        serde_json::from_str(fields.get("held").ok_or_else(corrupt)?).map_err(|_| corrupt())?;
    let state = fields
        .get("state")
        .and_then(|s| State::parse(s))
        .ok_or_else(corrupt)?;
    let result = match fields.get("result") {
        Some(text) => Some(serde_json::from_str(text).map_err(|_| corrupt())?),
        None => None,
    };
    Ok(Approval {
        held,
        state,
        decided_by: fields.get("decided_by").cloned(),
        decided_ms: fields.get("decided_ms").and_then(|t| t.parse().ok()),
        result,
    })
}
