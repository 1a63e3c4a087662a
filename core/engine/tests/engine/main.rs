//! The engine in process, without a server or a socket: a scripted adapter linked in, a
//! fake upstream, and a clock that moves only when told — so that time-dependent behaviour
//! (token expiry, retry backoff and the deadline, the breaker, idempotency expiry) is
//! tested without sleeping and without reading the wall clock.
//!
//! One test binary with a module per subject: `backend` (one backend's flows) and `api`
//! (whole requests through `Sever::act`: the checks, dry-runs, idempotency, the sinks).
#![allow(clippy::unwrap_used)]

mod api;
mod backend;
mod scripted;
mod support;
