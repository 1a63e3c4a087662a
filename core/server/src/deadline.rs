//! Deadlines on the request path, on pingora's coarse timer rather than tokio's.
//!
//! Registering a tokio timer that falls before the runtime's next wake-up wakes the
//! runtime through its eventfd: with one such timer per request (the wait for the next
//! head, the vendor call), strace showed one `write` and one extra `epoll_wait` result
//! per request. pingora's timer keeps each thread's timers in a map that its clock
//! thread (already running for pingora's own timeouts) checks every 10 ms: registering
//! one costs no system call, and a deadline fires up to one tick (10 ms) late.

use pingora::time::fast_timeout::fast_timeout;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The deadline passed before `future` finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Waits `pause`.
pub(crate) async fn pause(pause: Duration) {
    pingora::time::fast_timeout::fast_sleep(pause.max(SHORTEST)).await;
}

/// The shortest limit handed to pingora's timer: it rounds a deadline up to its next tick
/// by `ms - 1`, which overflows for a deadline 0 ms after the timer's own start (a limit of
/// zero right after start: a panic in debug builds, a wrapped value in release ones).
const SHORTEST: Duration = Duration::from_millis(1);

/// `future`, unless `limit` passes first.
pub(crate) async fn within<F: Future>(limit: Duration, future: F) -> Result<F::Output, Elapsed> {
    fast_timeout(limit.max(SHORTEST), future)
        .await
        .map_err(|_| Elapsed)
}

/// `future`, unless `deadline` passes first.
pub(crate) async fn until<F: Future>(deadline: Instant, future: F) -> Result<F::Output, Elapsed> {
    within(deadline.saturating_duration_since(Instant::now()), future).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_future_that_finishes_in_time_keeps_its_output() {
        assert_eq!(within(Duration::from_secs(5), async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_future_that_never_finishes_is_cut_off_near_its_deadline() {
        let started = std::time::Instant::now();
        let deadline = Instant::now() + Duration::from_millis(50);
        let cut = until(deadline, std::future::pending::<()>()).await;
        assert_eq!(cut, Err(Elapsed));
        // Not before the deadline; the upper bound only guards against a hang.
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(50), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test]
    async fn a_deadline_already_past_cuts_off_a_pending_future() {
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(
            until(past, std::future::pending::<()>()).await,
            Err(Elapsed)
        );
    }
}
