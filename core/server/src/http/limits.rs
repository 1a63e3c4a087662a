//! What bounds the descriptors and memory unauthenticated clients can hold: the
//! connection cap of each listener, and the descriptor budget it must fit in.

use nix::sys::resource::{getrlimit, setrlimit, Resource};
use prometheus::IntGauge;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Descriptors kept for everything but client connections on `listen`: vendor
/// connections, `metrics_listen`'s connections, the audit log, plugin libraries, the
/// runtime's own. At least this many, or an eighth of the limit when that is more.
const RESERVED_DESCRIPTORS: u64 = 256;

/// Counts a listener's open connections.
#[derive(Debug, Default)]
pub(super) struct Gate {
    open: AtomicUsize,
}

/// One admitted connection; its slot is freed when it is dropped.
pub(super) struct Slot<'a> {
    gate: &'a Gate,
    gauge: &'a IntGauge,
}

impl Gate {
    /// A slot if fewer than `limit` connections are open.
    pub(super) fn enter<'a>(&'a self, limit: usize, gauge: &'a IntGauge) -> Option<Slot<'a>> {
        let mut open = self.open.load(Ordering::Relaxed);
        loop {
            if open >= limit {
                return None;
            }
            match self.open.compare_exchange_weak(
                open,
                open + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    gauge.inc();
                    return Some(Slot { gate: self, gauge });
                }
                Err(now) => open = now,
            }
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.gate.open.fetch_sub(1, Ordering::Relaxed);
        self.gauge.dec();
    }
}

/// How many client connections on `listen` the process's descriptors allow, having
/// raised the soft `RLIMIT_NOFILE` toward the hard limit as far as `wanted` (the
/// configured `max_connections`) needs. Logs a warning when that is fewer than wanted.
/// The listener takes the smaller of this and `max_connections` as reloaded.
pub(crate) fn descriptor_budget(wanted: usize) -> usize {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return wanted;
    };
    let need = (wanted as u64)
        .saturating_add(super::METRICS_CONNECTIONS as u64)
        .saturating_add(RESERVED_DESCRIPTORS.max(wanted as u64 / 8));
    let mut soft = soft;
    if soft < need && hard > soft {
        let raised = need.min(hard);
        if setrlimit(Resource::RLIMIT_NOFILE, raised, hard).is_ok() {
            soft = raised;
        }
    }
    let budget = usize::try_from(budget_within(soft)).unwrap_or(usize::MAX);
    if budget < wanted {
        tracing::warn!(
            max_connections = wanted,
            allowed = budget,
            nofile = soft,
            "server.max_connections is more than the descriptor limit allows: at most \
             {budget} connections are taken on server.listen (raise LimitNOFILE / ulimit -n)"
        );
    }
    budget
}

/// Client connections on `listen` that fit in `nofile` descriptors.
fn budget_within(nofile: u64) -> u64 {
    let reserve = RESERVED_DESCRIPTORS.max(nofile / 8) + super::METRICS_CONNECTIONS as u64;
    nofile.saturating_sub(reserve).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_up_to_its_limit_and_frees_slots_on_drop() {
        let gate = Gate::default();
        let gauge = IntGauge::new("g", "g").unwrap_or_else(|e| panic!("{e}"));
        let a = gate.enter(2, &gauge);
        let b = gate.enter(2, &gauge);
        assert!(a.is_some() && b.is_some());
        assert!(gate.enter(2, &gauge).is_none());
        assert_eq!(gauge.get(), 2);
        drop(a);
        assert!(gate.enter(2, &gauge).is_some());
        assert_eq!(gauge.get(), 1, "the slot taken above was dropped at once");
    }

    #[test]
    fn a_small_descriptor_limit_keeps_a_reserve() {
        assert_eq!(budget_within(1024), 1024 - 256 - 64);
        assert_eq!(budget_within(65_536), 65_536 - 8192 - 64);
        assert_eq!(budget_within(10), 1);
    }
}
