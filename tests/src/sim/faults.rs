//! The fault switches every simulator shares: what a simulator can be told to do instead of
//! following its contract ([`Fault`], [`Canned`]), and the switches that hold it while it
//! runs: a standing fault, a fault for the next N calls, and a delay ([`Switches`]).

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

/// A way for the simulated vendor to misbehave, settable while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Fault {
    /// Follow the vendor's contract.
    #[default]
    None,
    /// Answer with the vendor's own 500 error.
    InternalError,
    /// Answer `200 OK` with a body that is not JSON.
    Garbage,
    /// Read the request, then close the connection without answering.
    HangUp,
    /// Read the request, then never answer: the connection stays open and silent until the
    /// caller gives up (or the simulator stops).
    Stall,
    /// Start the vendor's answer — the status line, headers announcing a longer body, and
    /// the first bytes of that body — then close the connection mid-answer.
    ResetMidAnswer,
    /// Alternate by arrival: the first call follows the contract, the next gets the
    /// vendor's own 500 error ([`Fault::InternalError`]), the next follows the contract…
    Flapping,
    /// Answer with this vendor error, written in the vendor's own error shape.
    Answer(Canned),
}

/// A vendor error a simulator answers on demand: the status, the vendor's error code (Nexus:
/// the problem's title) and message, and an optional `Retry-After`. Each simulator writes it
/// in its vendor's error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canned {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub retry_after: Option<String>,
}

impl Canned {
    /// An error answer with this status, vendor code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// Adds a `Retry-After` header.
    pub fn retry_after(mut self, value: impl Into<String>) -> Self {
        self.retry_after = Some(value.into());
        self
    }

    /// The status as an HTTP status code (500 if it is not one).
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Adds this answer's `Retry-After`, if any, to `response`.
    pub(crate) fn headers_onto(&self, mut response: Response) -> Response {
        let retry_after = self.retry_after.as_deref();
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<Canned> for Fault {
    fn from(canned: Canned) -> Self {
        Fault::Answer(canned)
    }
}

/// The fault switches of a simulator, or of one of its endpoints (see [`super::Switch`]).
#[derive(Debug, Default)]
pub(crate) struct Switches {
    /// The fault every call gets once no one-off fault is pending.
    standing: Fault,
    /// The next N calls (by arrival) get this fault instead.
    next: (usize, Fault),
    /// How long every answer (faults included) is held back.
    delay: Duration,
    /// Calls that met a standing [`Fault::Flapping`] so far: even ones behave, odd ones fail.
    flaps: usize,
}

impl Switches {
    /// Makes every call misbehave with `fault` (or behave again with [`Fault::None`]).
    pub(crate) fn set(&mut self, fault: Fault) {
        self.standing = fault;
    }

    /// Makes the next `count` calls misbehave with `fault`, before the standing fault applies
    /// again. Replaces any count still pending; `count` 0 turns it off.
    pub(crate) fn fail_next(&mut self, count: usize, fault: Fault) {
        self.next = (count, fault);
    }

    /// Delays every answer (faults included) by `delay`; zero turns it off.
    pub(crate) fn set_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }

    /// What a call gets on arrival: a one-off fault, claimed now so that the first N calls to
    /// arrive get it, and the delay.
    pub(crate) fn claim(&mut self) -> (Option<Fault>, Duration) {
        let one_off = (self.next.0 > 0).then(|| {
            self.next.0 -= 1;
            self.next.1.clone()
        });
        (one_off.map(|fault| self.resolve(fault)), self.delay)
    }

    /// The standing fault (read once the delay is over), with [`Fault::Flapping`] resolved.
    pub(crate) fn standing(&mut self) -> Fault {
        let standing = self.standing.clone();
        self.resolve(standing)
    }

    /// Resolves [`Fault::Flapping`] by arrival at this point (a standing one and a one-off
    /// one share the count): [`Fault::None`], then [`Fault::InternalError`], then
    /// [`Fault::None`]… Other faults are returned as they are.
    fn resolve(&mut self, fault: Fault) -> Fault {
        if fault != Fault::Flapping {
            return fault;
        }
        self.flaps += 1;
        if self.flaps % 2 == 1 {
            Fault::None
        } else {
            Fault::InternalError
        }
    }
}
