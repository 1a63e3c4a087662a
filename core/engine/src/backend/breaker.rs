//! A per-backend circuit breaker: after `failures` consecutive failed canonical requests the
//! backend is *open* (requests answered `503 circuit_open` at once, nothing sent) for
//! `open_ms`; then *half-open*: one request goes through as a probe while the others are
//! still refused; the probe's success closes the breaker, its failure opens it again.
//!
//! A failure is the vendor being unwell: no connection, no answer in time, a 5xx or an
//! answer the adapter cannot read (`upstream_unavailable`, `upstream_timeout`,
//! `upstream_error`). A vendor that answers "no such client" or refuses the request is
//! healthy, and so is one that throttles (429): those count as successes.

use crate::clock::Clock;
use crate::config::BreakerConfig;
use crate::problem::ProblemCode;
use parking_lot::Mutex;
use prometheus::IntGauge;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The three states, with the values `sever_circuit_state` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

impl CircuitState {
    /// The word `/v1/backends` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::HalfOpen => "half_open",
            CircuitState::Open => "open",
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// One backend's breaker.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
    gauge: IntGauge,
    clock: Arc<dyn Clock>,
}

/// Leave to send, from [`Breaker::admit`]. Report how the request went with
/// [`Permit::record`]; a permit dropped without a report (the caller went away) frees the
/// probe slot without judging the backend.
#[derive(Debug)]
#[must_use = "report the request's result with record()"]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    recorded: bool,
}

/// The breaker refused: how long until a probe may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

/// Whether a request's problem code counts against the backend's health.
pub fn is_failure(code: ProblemCode) -> bool {
    matches!(
        code,
        ProblemCode::UpstreamUnavailable
            | ProblemCode::UpstreamTimeout
            | ProblemCode::UpstreamError
    )
}

impl Breaker {
    /// A closed breaker; `gauge` is the backend's `sever_circuit_state` handle, `clock`
    /// times how long it stays open.
    pub fn new(config: BreakerConfig, gauge: IntGauge, clock: Arc<dyn Clock>) -> Self {
        gauge.set(CircuitState::Closed as i64);
        Breaker {
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
            gauge,
            clock,
        }
    }

    /// The current state (an open breaker whose time is up reads as half-open).
    pub fn state(&self) -> CircuitState {
        match &*self.state.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if self.clock.now() >= *until => CircuitState::HalfOpen,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Lets a request through, or refuses it while the breaker is open (or half-open with
    /// its probe under way).
    pub fn admit(&self) -> Result<Permit<'_>, Refused> {
        let mut state = self.state.lock();
        let probe = match &mut *state {
            State::Closed { .. } => false,
            State::Open { until } => {
                let now = self.clock.now();
                if now < *until {
                    return Err(Refused {
                        retry_after: *until - now,
                    });
                }
                *state = State::HalfOpen { probing: true };
                self.gauge.set(CircuitState::HalfOpen as i64);
                true
            }
            State::HalfOpen { probing } => {
                if *probing {
                    // The probe's answer is at most one request timeout away.
                    return Err(Refused {
                        retry_after: Duration::from_secs(1),
                    });
                }
                *probing = true;
                true
            }
        };
        Ok(Permit {
            breaker: self,
            probe,
            recorded: false,
        })
    }

    fn set(&self, state: &mut State, next: State) {
        let value = match next {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        };
        *state = next;
        self.gauge.set(value as i64);
    }

    fn opened(&self) -> State {
        State::Open {
            until: self.clock.now() + self.config.open,
        }
    }

    fn report(&self, probe: bool, failed: bool) {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let next = match state {
            State::Closed { failures } if failed => {
                *failures += 1;
                (*failures >= self.config.failures.max(1)).then(|| self.opened())
            }
            State::Closed { failures } => {
                *failures = 0;
                None
            }
            // Only the probe's result moves a half-open breaker; results of requests
            // admitted before it opened are stale.
            State::HalfOpen { .. } if probe && failed => Some(self.opened()),
            State::HalfOpen { .. } if probe => Some(State::Closed { failures: 0 }),
            _ => None,
        };
        if let Some(next) = next {
            self.set(state, next);
        }
    }
}

impl Permit<'_> {
    /// Reports how the request went: `failed` when the vendor was unwell (see
    /// [`is_failure`]).
    pub fn record(mut self, failed: bool) {
        self.recorded = true;
        self.breaker.report(self.probe, failed);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.recorded {
            let mut state = self.breaker.state.lock();
            if let State::HalfOpen { probing } = &mut *state {
                *probing = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::testing::ManualClock;

    fn breaker(failures: u32, open_ms: u64) -> (Breaker, IntGauge) {
        let (b, gauge, _) = on_clock(failures, open_ms);
        (b, gauge)
    }

    fn on_clock(failures: u32, open_ms: u64) -> (Breaker, IntGauge, Arc<ManualClock>) {
        let gauge = IntGauge::new("g", "g").unwrap();
        let config = BreakerConfig {
            failures,
            open: Duration::from_millis(open_ms),
        };
        let clock = ManualClock::new();
        (
            Breaker::new(config, gauge.clone(), clock.clone()),
            gauge,
            clock,
        )
    }

    #[test]
    fn an_open_breaker_refuses_until_its_time_is_up_then_admits_one_probe() {
        let (b, gauge, clock) = on_clock(1, 10_000);
        b.admit().unwrap().record(true);
        assert_eq!(b.admit().unwrap_err().retry_after, Duration::from_secs(10));
        clock.advance(Duration::from_millis(9_999));
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(b.admit().unwrap_err().retry_after, Duration::from_millis(1));
        clock.advance(Duration::from_millis(1));
        assert_eq!(b.state(), CircuitState::HalfOpen);
        let probe = b.admit().unwrap();
        assert_eq!(gauge.get(), 1);
        probe.record(false);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let (b, gauge) = breaker(3, 60_000);
        b.admit().unwrap().record(true);
        b.admit().unwrap().record(true);
        b.admit().unwrap().record(false); // resets the count
        b.admit().unwrap().record(true);
        b.admit().unwrap().record(true);
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(gauge.get(), 0);
        b.admit().unwrap().record(true);
        assert_eq!(b.state(), CircuitState::Open);
        assert_eq!(gauge.get(), 2);
        let refused = b.admit().unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(60));
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_success_closes() {
        let (b, gauge) = breaker(1, 0);
        b.admit().unwrap().record(true);
        assert_eq!(b.state(), CircuitState::HalfOpen); // open time already up
        let probe = b.admit().unwrap();
        assert_eq!(gauge.get(), 1);
        assert!(
            b.admit().is_err(),
            "a second request while probing is refused"
        );
        probe.record(false);
        assert_eq!(b.state(), CircuitState::Closed);
        assert_eq!(gauge.get(), 0);
        b.admit().unwrap().record(false);
    }

    #[test]
    fn a_failed_probe_opens_again() {
        let (b, gauge) = breaker(1, 0);
        b.admit().unwrap().record(true);
        b.admit().unwrap().record(true); // the probe fails
        assert_eq!(gauge.get(), 2);
        // open_ms is 0, so the next request is a probe again; this one succeeds.
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn a_dropped_probe_frees_the_slot() {
        let (b, _) = breaker(1, 0);
        b.admit().unwrap().record(true);
        drop(b.admit().unwrap());
        assert_eq!(b.state(), CircuitState::HalfOpen);
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn stale_results_do_not_move_a_half_open_breaker() {
        let (b, _) = breaker(1, 0);
        let early = b.admit().unwrap(); // admitted while closed
        b.admit().unwrap().record(true); // opens
        let probe = b.admit().unwrap();
        early.record(false); // stale success: must not close
        assert_eq!(b.state(), CircuitState::HalfOpen);
        probe.record(true);
        assert_ne!(b.state(), CircuitState::Closed);
    }

    #[test]
    fn only_vendor_health_problems_count() {
        assert!(is_failure(ProblemCode::UpstreamTimeout));
        assert!(is_failure(ProblemCode::UpstreamUnavailable));
        assert!(is_failure(ProblemCode::UpstreamError));
        assert!(!is_failure(ProblemCode::TargetNotFound));
        assert!(!is_failure(ProblemCode::UpstreamRejected));
        assert!(!is_failure(ProblemCode::RateLimited));
        assert!(!is_failure(ProblemCode::Internal));
    }
}
