//! Time and randomness, injected: one [`Clock`] and one [`Rng`], carried together as an
//! [`Ambient`] from the [`crate::Sever`] to every part of the request path that reads
//! either — the flow loop (deadlines, the [`Env`] an adapter is given), the retry backoff
//! (its pause and jitter), the circuit breaker (how long it stays open), the idempotency
//! store (expiry) and trace identities.
//!
//! The server runs on [`Ambient::real`]; tests hand the engine a clock of their own that
//! moves only when told (and whose `sleep` moves it instead of waiting), so token expiry,
//! breaker timing, backoff and idempotency expiry are tested without sleeping. Nothing in
//! the binary can choose another clock: only library callers can.

use crate::plugin::Env;
use rand::RngCore;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A pause the caller awaits.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the engine reads the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Monotonic now: deadlines, durations, expiry.
    fn now(&self) -> Instant;
    /// Wall-clock time, milliseconds since the Unix epoch (UTC): what adapters are told.
    fn unix_ms(&self) -> u64;
    /// Waits `pause` (a retry's backoff).
    fn sleep(&self, pause: Duration) -> Sleep;
}

/// Where the engine reads randomness.
pub trait Rng: Send + Sync + fmt::Debug {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]);
}

/// The system's clocks and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn unix_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    fn sleep(&self, pause: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(pause))
    }
}

/// The thread-local CSPRNG of `rand`, seeded from the OS.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemRng;

impl Rng for SystemRng {
    fn fill(&self, out: &mut [u8]) {
        rand::rng().fill_bytes(out);
    }
}

/// The clock and randomness one [`crate::Sever`] and everything it builds use.
#[derive(Debug, Clone)]
pub struct Ambient {
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn Rng>,
}

impl Ambient {
    /// The system clock and the OS-seeded generator.
    pub fn real() -> Self {
        Ambient {
            clock: Arc::new(SystemClock),
            rng: Arc::new(SystemRng),
        }
    }

    /// The clock's time and fresh randomness, for one call into an adapter.
    pub fn env(&self) -> Env {
        let mut random = [0u8; 32];
        self.rng.fill(&mut random);
        Env {
            unix_ms: self.clock.unix_ms(),
            random,
        }
    }

    /// A random duration in `0..=bound` (nanosecond resolution; the modulo's bias is far
    /// below what a backoff's jitter cares about).
    pub fn up_to(&self, bound: Duration) -> Duration {
        let mut bytes = [0u8; 8];
        self.rng.fill(&mut bytes);
        let span = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        match span.checked_add(1) {
            Some(modulus) => Duration::from_nanos(u64::from_le_bytes(bytes) % modulus),
            None => Duration::from_nanos(u64::from_le_bytes(bytes)),
        }
    }
}

impl Default for Ambient {
    fn default() -> Self {
        Ambient::real()
    }
}

/// A clock for unit tests: moves only when told, and `sleep` moves it.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use parking_lot::Mutex;

    /// Starts at the real now; `advance` and `sleep` move it.
    #[derive(Debug)]
    pub(crate) struct ManualClock {
        start: Instant,
        start_unix_ms: u64,
        offset: Mutex<Duration>,
    }

    impl ManualClock {
        pub(crate) fn new() -> Arc<Self> {
            Arc::new(ManualClock {
                start: Instant::now(),
                start_unix_ms: 1_800_000_000_000,
                offset: Mutex::new(Duration::ZERO),
            })
        }

        pub(crate) fn advance(&self, by: Duration) {
            *self.offset.lock() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock()
        }

        fn unix_ms(&self) -> u64 {
            let offset = u64::try_from(self.offset.lock().as_millis()).unwrap_or(u64::MAX);
            self.start_unix_ms.saturating_add(offset)
        }

        fn sleep(&self, pause: Duration) -> Sleep {
            self.advance(pause);
            Box::pin(std::future::ready(()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes in a fixed sequence.
    #[derive(Debug)]
    struct Counting(parking_lot::Mutex<u8>);

    impl Rng for Counting {
        fn fill(&self, out: &mut [u8]) {
            let mut next = self.0.lock();
            for b in out {
                *b = *next;
                *next = next.wrapping_add(1);
            }
        }
    }

    #[test]
    fn up_to_stays_within_its_bound_and_zero_means_zero() {
        let ambient = Ambient {
            clock: Arc::new(SystemClock),
            rng: Arc::new(Counting(parking_lot::Mutex::new(200))),
        };
        for _ in 0..100 {
            assert!(ambient.up_to(Duration::from_millis(50)) <= Duration::from_millis(50));
        }
        assert_eq!(ambient.up_to(Duration::ZERO), Duration::ZERO);
        assert!(ambient.up_to(Duration::MAX) <= Duration::MAX);
    }

    #[test]
    fn an_env_carries_the_clocks_time_and_the_rngs_bytes() {
        let clock = testing::ManualClock::new();
        let ambient = Ambient {
            clock: clock.clone(),
            rng: Arc::new(Counting(parking_lot::Mutex::new(0))),
        };
        let first = ambient.env();
        clock.advance(Duration::from_secs(3));
        let second = ambient.env();
        assert_eq!(second.unix_ms - first.unix_ms, 3000);
        assert_eq!(first.random[..4], [0, 1, 2, 3]);
        assert_eq!(second.random[0], 32);
    }
}
