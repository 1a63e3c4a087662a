//! The expiry sweep of four-eyes approvals: every second, pending approvals past their
//! `ttl_ms` are marked expired (each told once — a warning, an audit line, the metric —
//! even with several replicas sharing Redis), and `sever_approvals_pending` is refreshed.
//! Expiry is also found on access (see `sever_engine::api`); the sweep makes sure an
//! approval nobody looks at still expires on time. And at exit: how many pending
//! approvals the in-memory store drops.

use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use sever_engine::live::Live;
use std::sync::Arc;
use std::time::Duration;

/// How often the sweep runs.
const EVERY: Duration = Duration::from_secs(1);

pub(crate) struct ApprovalsSweep {
    pub(crate) live: Arc<Live>,
}

#[async_trait::async_trait]
impl BackgroundService for ApprovalsSweep {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut ticks = tokio::time::interval(EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A store that cannot be asked is told once, not every second, and its return too.
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticks.tick() => {
                    let sever = self.live.load();
                    if !sever.sweeps_approvals() {
                        continue;
                    }
                    match sever.expire_approvals().await {
                        Ok(_) if failing => {
                            failing = false;
                            tracing::info!("approvals store: the expiry sweep works again");
                        }
                        Ok(_) => {}
                        Err(e) if !failing => {
                            failing = true;
                            tracing::warn!(error = %e, "approvals store: the expiry sweep failed; \
                                           expiry is found on access until it works again");
                        }
                        Err(_) => {}
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Logs how many pending approvals are dropped as the process stops (in-memory store
/// only: with Redis they stay, for the other replicas or the next start).
pub(crate) fn log_dropped(live: &Live) {
    if let Some(dropped) = live.load().approvals_in_memory() {
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "stopping: pending approvals in memory are dropped (nothing of them was sent); \
                 set idempotency.redis_url to keep them across restarts"
            );
        } else {
            tracing::info!(dropped, "stopping: no pending approvals dropped");
        }
    }
}
