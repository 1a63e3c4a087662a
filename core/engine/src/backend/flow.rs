//! The flow loop: start the adapter's flow, perform each step's exchange (an HTTP request
//! through the server's client, or a command, query or request on the backend's own
//! connection), feed the answer back, until the adapter says done or failed. A retryable failure of an
//! idempotent call is planned again by the adapter after a backoff; nothing runs past the
//! request's deadline.

use super::exchange::{host_of, TransportError, Upstream};
use super::single_flight::{LeaderGuard, Shared};
use super::transport::Answer;
use super::{Backend, FlowError};
use crate::clock::Ambient;
use crate::plugin::{Request, Resume, Step, Success};
use crate::trace::{ExchangeTrace, TraceContext};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

impl Backend {
    /// Runs the flow for `request` to its end (see [`Backend::execute`], which adds the
    /// backend's limits).
    pub(super) async fn run(
        &self,
        upstream: &dyn Upstream,
        request: &Request,
        deadline: Instant,
        trace: &TraceContext,
    ) -> Result<Success, FlowError> {
        let env = || self.ambient.env();
        let (mut flow, mut step) = self
            .instance
            .start(request, &env())
            .map_err(|f| self.fault(request, f))?;
        let mut retries_used = 0u32;
        loop {
            match step {
                Step::Done(success) => return Ok(success),
                Step::Fail(problem) => return Err(FlowError::Adapter(problem)),
                ref other if !self.performs(other) => {
                    return Err(self.fault(request, self.foreign_step(other)))
                }
                _ => {}
            }
            let exchange = trace.exchange(self.ambient.rng.as_ref());
            if let Step::Send(vendor_request) = &mut step {
                if !vendor_request
                    .headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("traceparent"))
                {
                    vendor_request
                        .headers
                        .push(("traceparent".to_owned(), exchange.header()));
                }
            }
            let (idempotent, timeout_ms) = step
                .exchange()
                .map_or((false, None), |o| (o.idempotent, o.timeout_ms));
            let remaining = deadline.saturating_duration_since(self.ambient.clock.now());
            let limit = timeout_ms
                .map_or(self.timeout, Duration::from_millis)
                .min(self.timeout)
                .min(remaining);
            if limit.is_zero() {
                return Err(FlowError::DeadlinePassed);
            }
            // `leading` keeps a shared step's answer visible to newly started flows until
            // this flow has resumed with it.
            let (result, leading) = self.exchange(upstream, &step, limit, &exchange).await;
            let (next, retryable) = match result.as_ref() {
                Ok(answer) => {
                    let next = flow
                        .resume(answer.resume(), &env())
                        .map_err(|f| self.fault(request, f))?;
                    let retryable = matches!(&next, Step::Fail(p) if p.retryable);
                    (Ok(next), retryable)
                }
                Err(e) => (Err(FlowError::Transport(e.clone())), e.retryable()),
            };
            drop(leading);
            // A retryable failure of an idempotent call is planned again by the adapter
            // (fresh nonce, fresh signature), never resent byte for byte.
            if retryable && idempotent && retries_used < self.retries {
                if let Some(pause) = backoff(&self.ambient, retries_used, deadline) {
                    self.ambient.clock.sleep(pause).await;
                    retries_used += 1;
                    let retry = Resume::Retry {
                        attempt: retries_used,
                    };
                    step = flow
                        .resume(retry, &env())
                        .map_err(|f| self.fault(request, f))?;
                    continue;
                }
            }
            step = next?;
        }
    }

    /// One exchange in its `vendor_call` span: sent through `upstream` (HTTP) or the
    /// backend's own connection (the other transports), or shared with the flow already
    /// performing a step with the same sharing key; counted and timed.
    async fn exchange<'a>(
        &'a self,
        upstream: &dyn Upstream,
        step: &'a Step,
        limit: Duration,
        trace: &ExchangeTrace,
    ) -> (Shared, Option<LeaderGuard<'a>>) {
        let (method, host) = match step {
            Step::Send(r) => (r.method.as_str(), host_of(&r.url)),
            other => (other.kind().as_str(), host_of(&self.url)),
        };
        let span = tracing::info_span!(
            "vendor_call",
            otel.kind = "client",
            span_id = %trace.span_id(),
            backend = %self.name,
            transport = self.link.label(),
            method = %method,
            host = %host,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let clock = self.ambient.clock.as_ref();
        let started = clock.now();
        let (result, leading) = self
            .send(upstream, step, limit)
            .instrument(span.clone())
            .await;
        let took = clock.now().saturating_duration_since(started).as_secs_f64() * 1000.0;
        span.record("duration_ms", took);
        match result.as_ref() {
            Ok(answer) => {
                let status = answer.http_status();
                let class = answer.status_class();
                if status != 0 {
                    span.record("status", status);
                } else {
                    span.record("status", class);
                }
                span.in_scope(|| {
                    tracing::debug!(status = class, duration_ms = took, "vendor answered")
                });
            }
            Err(e) => span
                .in_scope(|| tracing::debug!(error = %e, duration_ms = took, "vendor call failed")),
        }
        (result, leading)
    }

    async fn send<'a>(
        &'a self,
        upstream: &dyn Upstream,
        step: &'a Step,
        limit: Duration,
    ) -> (Shared, Option<LeaderGuard<'a>>) {
        let attempt = || async {
            let clock = self.ambient.clock.as_ref();
            let started = clock.now();
            let result: Result<Answer, TransportError> = match step {
                Step::Send(request) => upstream.send(request, limit).await.map(Answer::Http),
                other => self.link.perform(other, limit).await,
            };
            self.upstream_metrics
                .record(&result, clock.now().saturating_duration_since(started));
            result
        };
        match step.exchange().and_then(|o| o.share) {
            Some(key) => self.flights.run(key, attempt).await,
            None => (Arc::new(attempt().await), None),
        }
    }
}

/// Full-jitter exponential backoff before retry number `retry + 1` (at most 50 ms, 100 ms,
/// … capped at 2 s), or `None` if the pause would leave no time before the deadline.
pub(super) fn backoff(ambient: &Ambient, retry: u32, deadline: Instant) -> Option<Duration> {
    let cap = Duration::from_millis(50u64 << retry.min(5)).min(Duration::from_secs(2));
    let pause = ambient.up_to(cap);
    let remaining = deadline.saturating_duration_since(ambient.clock.now());
    // Leave the retried call at least as long as the pause itself.
    (remaining > pause * 2 + Duration::from_millis(10)).then_some(pause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::testing::ManualClock;
    use crate::clock::{Clock, SystemRng};

    fn ambient() -> (Ambient, Arc<ManualClock>) {
        let clock = ManualClock::new();
        let ambient = Ambient {
            clock: clock.clone(),
            rng: Arc::new(SystemRng),
        };
        (ambient, clock)
    }

    #[test]
    fn each_backoff_is_jittered_under_a_cap_that_doubles_up_to_two_seconds() {
        let (ambient, clock) = ambient();
        let far = clock.now() + Duration::from_secs(60);
        for (retry, cap_ms) in [(0, 50), (1, 100), (2, 200), (4, 800), (5, 1600), (9, 1600)] {
            for _ in 0..50 {
                let pause = backoff(&ambient, retry, far);
                assert!(
                    pause.is_some_and(|p| p <= Duration::from_millis(cap_ms)),
                    "retry {retry}: {pause:?}"
                );
            }
        }
    }

    #[test]
    fn no_backoff_is_taken_that_would_leave_the_retry_no_time() {
        let (ambient, clock) = ambient();
        let now = clock.now();
        // 10 ms left: even a zero pause leaves less than the 10 ms a retry needs.
        assert_eq!(backoff(&ambient, 0, now + Duration::from_millis(10)), None);
        assert_eq!(backoff(&ambient, 3, now), None);
        // 111 ms left: any pause up to the 50 ms cap leaves room.
        assert!(backoff(&ambient, 0, now + Duration::from_millis(111)).is_some());
    }
}
