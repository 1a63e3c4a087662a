//! The one way the tests wait for something another process or thread does: poll a
//! condition until it holds, within a timeout. No test sleeps otherwise (the simulators'
//! delay switches, which make a vendor slow on purpose, are not waits).
//!
//! Polls start 5 ms apart and back off to 100 ms, so a quick condition is seen quickly
//! and a slow one (a process starting, a metric scraped) is not asked in a tight loop.

use std::future::Future;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_millis(5);
const LONGEST_PAUSE: Duration = Duration::from_millis(100);

/// Polls `condition` until it is true or `timeout` has passed; whether it became true.
/// It is always asked at least once, and once more at the timeout.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if condition() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// [`eventually`] for async tests: the condition is a future made afresh each time, and
/// the pauses are tokio's.
pub async fn eventually_async<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if condition().await {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_condition_that_holds_at_once_is_asked_once() {
        let asked = Cell::new(0);
        assert!(eventually(Duration::from_secs(5), || {
            asked.set(asked.get() + 1);
            true
        }));
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn a_condition_that_never_holds_is_false_and_asked_again_at_the_timeout() {
        let asked = Cell::new(0);
        assert!(!eventually(Duration::ZERO, || {
            asked.set(asked.get() + 1);
            false
        }));
        assert_eq!(asked.get(), 1);
        assert!(!eventually(Duration::from_millis(20), || {
            asked.set(asked.get() + 1);
            false
        }));
        assert!(asked.get() >= 3, "asked {} times", asked.get());
    }

    #[test]
    fn a_condition_that_comes_true_later_is_seen() {
        let asked = Cell::new(0);
        assert!(eventually(Duration::from_secs(5), || {
            asked.set(asked.get() + 1);
            asked.get() == 4
        }));
        assert_eq!(asked.get(), 4);
    }
}
