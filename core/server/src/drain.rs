//! The end of a graceful stop (SIGTERM): exit as soon as nothing is in flight, or, when
//! `server.shutdown_grace_ms` runs out first, cut the drain short — every request still
//! in flight that had called a vendor gets its outcome line (`"outcome":"unknown"`,
//! `"cause":"shutdown"`), a warning tells how many, and the exit status is
//! [`DRAIN_CUT_SHORT`].

use crate::telemetry::Telemetry;
use sever_engine::live::Live;
use std::time::{Duration, Instant};

/// The exit status of a `sever serve` whose drain ran past `server.shutdown_grace_ms`.
pub(crate) const DRAIN_CUT_SHORT: i32 = 3;

/// Ends the process once no canonical request has been in flight for a short while
/// (the listeners are already closed), or at `deadline` with the drain cut short. Queued
/// spans are exported first.
pub(crate) fn exit_when_drained(live: &Live, telemetry: Option<&Telemetry>, deadline: Instant) {
    const POLL: Duration = Duration::from_millis(10);
    // Let pingora close the listeners and hand accepted requests to the app first.
    std::thread::sleep(Duration::from_millis(100).min(deadline - Instant::now().min(deadline)));
    let mut idle_polls = 0;
    while Instant::now() < deadline {
        if live.load().in_flight() == 0 {
            idle_polls += 1;
            if idle_polls >= 5 {
                tracing::info!("drained; exiting");
                exit(live, telemetry, 0);
            }
        } else {
            idle_polls = 0;
        }
        std::thread::sleep(POLL);
    }
    let status = cut_short(live);
    exit(live, telemetry, status);
}

/// The grace period is over: writes the outcome line of every request still pending,
/// warns, and holds the audit log so that no line is cut by the exit. Returns the exit
/// status (0 when nothing was left).
pub(crate) fn cut_short(live: &Live) -> i32 {
    let sever = live.load();
    let in_flight = sever.in_flight();
    let unknown = sever.cut_short();
    if in_flight == 0 && unknown == 0 {
        return 0;
    }
    tracing::warn!(
        in_flight,
        outcome_unknown = unknown,
        grace_ms = sever.config.server.shutdown_grace.as_millis() as u64,
        "drain cut short: server.shutdown_grace_ms ran out with requests in flight; \
         those that had called a vendor got an audit outcome line with outcome unknown"
    );
    sever.freeze_audit();
    DRAIN_CUT_SHORT
}

/// A fast stop (SIGINT): no drain. Requests still in flight get their outcome lines as
/// when a drain is cut short, queued spans are exported, and the process exits — without
/// waiting for pingora's own quick shutdown, whose accept loop can keep spinning on a
/// runtime that is being shut down.
pub(crate) fn stop_now(live: &Live, telemetry: Option<&Telemetry>) -> ! {
    let status = cut_short(live);
    exit(live, telemetry, status)
}

fn exit(live: &Live, telemetry: Option<&Telemetry>, status: i32) -> ! {
    crate::approvals_sweep::log_dropped(live);
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    std::process::exit(status)
}
