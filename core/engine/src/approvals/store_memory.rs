//! The in-memory approvals store: one map under one lock, so every state change is
//! exactly once within the process. Lost when the process stops.

use super::{Approval, ApprovalStoreError, Decided, Held, State};
use parking_lot::Mutex;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug)]
pub struct MemoryApprovals {
    entries: Mutex<HashMap<String, Approval>>,
    max: usize,
}

impl MemoryApprovals {
    pub(super) fn new(max: usize) -> Self {
        MemoryApprovals {
            entries: Mutex::new(HashMap::new()),
            max: max.max(1),
        }
    }

    pub(super) fn insert(&self, held: &Held, _now: u64) -> Result<(), ApprovalStoreError> {
        let mut entries = self.entries.lock();
        if entries.len() >= self.max {
            return Err(ApprovalStoreError::Full);
        }
        entries.insert(
            held.id.clone(),
            Approval {
                held: held.clone(),
                state: State::Pending,
                decided_by: None,
                decided_ms: None,
                result: None,
            },
        );
        Ok(())
    }

    pub(super) fn get(&self, id: &str) -> Option<Approval> {
        self.entries.lock().get(id).cloned()
    }

    pub(super) fn pending(&self) -> Vec<Approval> {
        self.entries
            .lock()
            .values()
            .filter(|a| a.state == State::Pending)
            .cloned()
            .collect()
    }

    pub(crate) fn count_pending(&self) -> usize {
        self.entries
            .lock()
            .values()
            .filter(|a| a.state == State::Pending)
            .count()
    }

    pub(super) fn decide(&self, id: &str, to: State, by: Option<&str>, now: u64) -> Decided {
        let mut entries = self.entries.lock();
        let Some(approval) = entries.get_mut(id) else {
            return Decided::NotFound;
        };
        if approval.state != State::Pending {
            return Decided::Already(approval.state);
        }
        approval.decided_ms = Some(now);
        if now >= approval.held.expires_ms {
            approval.state = State::Expired;
            return Decided::ExpiredNow(approval.clone());
        }
        approval.state = to;
        approval.decided_by = by.map(str::to_owned);
        Decided::Now(approval.clone())
    }

    pub(super) fn finish(&self, id: &str, result: &Value, _now: u64) {
        if let Some(approval) = self.entries.lock().get_mut(id) {
            if approval.state == State::Approved {
                approval.state = State::Executed;
                approval.result = Some(result.clone());
            }
        }
    }

    /// Forgets approvals decided before `cutoff` (Unix ms).
    pub(super) fn forget_older_than(&self, cutoff: u64) {
        self.entries
            .lock()
            .retain(|_, a| a.decided_ms.is_none_or(|at| at >= cutoff));
    }
}
