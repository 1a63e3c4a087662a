//! Four-eyes approvals: requests that an `approvals` rule matches wait, checked but not
//! sent, until a second caller approves (then they run) or denies them, or their `ttl_ms`
//! runs out. This module holds what is stored and the two stores; the endpoints and the
//! hold itself are `crate::api`'s (`api/approvals.rs`, `api/approval_hold.rs`).
//!
//! Every approval moves through these states, each change made exactly once even when
//! several callers (or replicas) race for it:
//!
//! ```text
//! pending ──approve──▶ approved ──run ends──▶ executed
//!    ├──────deny─────▶ denied
//!    └──ttl_ms runs out (found on access, or by the sweep)──▶ expired
//! ```
//!
//! Two stores, chosen like the idempotency keys' ([`ApprovalStore::from_config`]): in
//! memory (the default; lost when the process stops, which logs how many were pending),
//! or the Redis of `idempotency.redis_url`, shared by every replica using it (each state
//! change is one Lua script: atomic). Decided approvals stay readable for
//! [`DECIDED_RETENTION`].

mod store_memory;
mod store_redis;

use crate::config::IdempotencyConfig;
use crate::plugin::Action;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use store_memory::MemoryApprovals;
use store_redis::RedisApprovals;

/// How long a decided (or expired) approval can still be read.
pub const DECIDED_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// The most approvals the in-memory store holds (pending and decided); beyond it, new
/// requests that need approval are refused with 503 until decided ones age out.
pub const MAX_IN_MEMORY: usize = 100_000;

/// Where an approval is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting for an approver.
    Pending,
    /// Approved: its request is running.
    Approved,
    /// Denied: nothing was sent.
    Denied,
    /// Nobody decided within `ttl_ms`: nothing was sent.
    Expired,
    /// Approved and run; `result` tells how the run ended.
    Executed,
}

impl State {
    /// Every state, in the order of the diagram above.
    pub const ALL: [State; 5] = [
        State::Pending,
        State::Approved,
        State::Denied,
        State::Expired,
        State::Executed,
    ];

    /// The wire name (`pending`).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Approved => "approved",
            State::Denied => "denied",
            State::Expired => "expired",
            State::Executed => "executed",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What is fixed when a request is held: never changed afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Held {
    /// 32 lowercase hex digits (a random UUID).
    pub id: String,
    /// The caller who asked (its configured name).
    pub requester: String,
    /// The `request_id` of the request that was held.
    pub request_id: String,
    pub action: Action,
    /// Every backend the request selected, in order.
    pub backends: Vec<String>,
    /// The canonical request that runs when approved (a tag selection stored as the names
    /// it selected when checked).
    pub request: Value,
    pub target: Value,
    pub reason: Option<String>,
    /// The index of the `approvals.rules` item that matched.
    pub rule: usize,
    /// Who may approve or deny (from that rule, when the request was held).
    pub approvers: Vec<String>,
    /// Unix milliseconds.
    pub created_ms: u64,
    pub expires_ms: u64,
    /// The dry-run of the request: per backend, the vendor requests it would send (secrets
    /// redacted), as a dry-run answer shows them.
    pub plan: Value,
}

/// One approval as stored: what was held and where it is now.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub held: Held,
    pub state: State,
    /// Who approved or denied it (none for a pending or expired one).
    pub decided_by: Option<String>,
    /// When it was approved, denied or found expired (Unix milliseconds).
    pub decided_ms: Option<u64>,
    /// How its run ended (`executed` only): `{"status": …, "outcome" or "code": …}`.
    pub result: Option<Value>,
}

/// What a decision found.
#[derive(Debug, Clone, PartialEq)]
pub enum Decided {
    /// This call made the change; the approval as it is now.
    Now(Approval),
    /// No approval by this id.
    NotFound,
    /// Decided before (approved, denied, expired or executed): nothing changed.
    Already(State),
    /// Its `ttl_ms` had run out: this call marked it expired (and must tell so).
    ExpiredNow(Approval),
}

/// Why the store could not be used. No variant's text carries the Redis URL.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalStoreError {
    /// `idempotency.redis_url` cannot be used by this build.
    #[error("idempotency.redis_url: {0}")]
    Config(&'static str),
    #[error("the approvals store (Redis) is unavailable")]
    Unavailable(#[source] ::redis::RedisError),
    #[error("the approvals store (Redis) did not answer in time")]
    Timeout,
    #[error("the approvals store holds a record that cannot be read")]
    Corrupt,
    #[error("the in-memory approvals store is full ({MAX_IN_MEMORY} approvals)")]
    Full,
}

/// The store the API asks; cheap to clone (shared state).
#[derive(Debug, Clone)]
pub enum ApprovalStore {
    Memory(Arc<MemoryApprovals>),
    Redis(Arc<RedisApprovals>),
}

impl ApprovalStore {
    /// In the Redis of `idempotency.redis_url` when set, else in memory. Does not connect.
    pub fn from_config(config: &IdempotencyConfig) -> Result<Self, ApprovalStoreError> {
        match &config.redis_url {
            Some(url) => Ok(ApprovalStore::Redis(Arc::new(RedisApprovals::new(url)?))),
            None => Ok(ApprovalStore::Memory(Arc::new(MemoryApprovals::new(
                MAX_IN_MEMORY,
            )))),
        }
    }

    /// `"memory"` or `"redis"`.
    pub fn kind(&self) -> &'static str {
        match self {
            ApprovalStore::Memory(_) => "memory",
            ApprovalStore::Redis(_) => "redis",
        }
    }

    /// Stores a new pending approval.
    pub async fn insert(&self, held: &Held) -> Result<(), ApprovalStoreError> {
        match self {
            ApprovalStore::Memory(m) => m.insert(held, now_ms()),
            ApprovalStore::Redis(r) => r.insert(held).await,
        }
    }

    /// The approval by this id, in whatever state.
    pub async fn get(&self, id: &str) -> Result<Option<Approval>, ApprovalStoreError> {
        match self {
            ApprovalStore::Memory(m) => Ok(m.get(id)),
            ApprovalStore::Redis(r) => r.get(id).await,
        }
    }

    /// Every approval still marked pending (some may have expired since: see
    /// [`ApprovalStore::expire_due`]), oldest first.
    pub async fn pending(&self) -> Result<Vec<Approval>, ApprovalStoreError> {
        let mut list = match self {
            ApprovalStore::Memory(m) => m.pending(),
            ApprovalStore::Redis(r) => r.pending().await?,
        };
        list.sort_by_key(|a| a.held.created_ms);
        Ok(list)
    }

    /// How many are pending.
    pub async fn count_pending(&self) -> Result<usize, ApprovalStoreError> {
        match self {
            ApprovalStore::Memory(m) => Ok(m.count_pending()),
            ApprovalStore::Redis(r) => r.count_pending().await,
        }
    }

    /// Moves a pending approval to `to` (approved or denied, by `by`), exactly once: of
    /// several racing callers one gets [`Decided::Now`], the others
    /// [`Decided::Already`]. A pending approval past its expiry becomes expired instead.
    pub async fn decide(
        &self,
        id: &str,
        to: State,
        by: &str,
    ) -> Result<Decided, ApprovalStoreError> {
        let now = now_ms();
        match self {
            ApprovalStore::Memory(m) => Ok(m.decide(id, to, Some(by), now)),
            ApprovalStore::Redis(r) => r.decide(id, to, Some(by), now).await,
        }
    }

    /// Records how the run of an approved approval ended (approved → executed).
    pub async fn finish(&self, id: &str, result: &Value) -> Result<(), ApprovalStoreError> {
        match self {
            ApprovalStore::Memory(m) => {
                m.finish(id, result, now_ms());
                Ok(())
            }
            ApprovalStore::Redis(r) => r.finish(id, result).await,
        }
    }

    /// Marks expired every pending approval whose expiry has passed; returns those this
    /// call expired (each is returned to exactly one caller, whichever replica it runs
    /// on). Also forgets decided approvals older than [`DECIDED_RETENTION`] (memory).
    pub async fn expire_due(&self) -> Result<Vec<Approval>, ApprovalStoreError> {
        let now = now_ms();
        let mut expired = Vec::new();
        for approval in self.pending().await? {
            if approval.held.expires_ms > now {
                continue;
            }
            let decided = match self {
                ApprovalStore::Memory(m) => m.decide(&approval.held.id, State::Expired, None, now),
                ApprovalStore::Redis(r) => {
                    r.decide(&approval.held.id, State::Expired, None, now)
                        .await?
                }
            };
            if let Decided::ExpiredNow(approval) = decided {
                expired.push(approval);
            }
        }
        if let ApprovalStore::Memory(m) = self {
            m.forget_older_than(now.saturating_sub(millis(DECIDED_RETENTION)));
        }
        Ok(expired)
    }
}

/// A new approval id: 32 lowercase hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Whether `text` could be an approval id (checked before any store is asked).
pub fn is_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Now, in Unix milliseconds (wall time: expiries are compared across replicas).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (as the audit log writes times).
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests;
