//! How a request ended, as one value — [`Report`] — that three sinks read, each in its own
//! file and each the only place for its concern: `observe.rs` (metrics and the request
//! log line), `audit_line.rs` (the audit log) and `answer.rs` (the answer). [`Sever::finish`]
//! hands a report to them, in that order: the outcome lines are written before the answer
//! leaves (the intent line was written before the first vendor call: `intent.rs`).

use super::intent::Ticket;
use super::Call;
use crate::backend::{Backend, Plan};
use crate::idempotency::StoredAnswer;
use crate::metrics::OutcomeLabel;
use crate::plugin::{Outcome, Success};
use crate::problem::{Answer, ApiProblem};
use crate::Sever;
use std::time::Duration;

/// How a canonical request, or one backend's part of a fan-out, ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The vendor reported the cut made (`done`) or acknowledged it (`accepted`).
    Succeeded(Success),
    /// A dry-run's plan (nothing was sent).
    Planned(Plan),
    /// Refused, or failed at the vendor.
    Failed(ApiProblem),
}

impl Ended {
    /// The `outcome` label it is counted under.
    pub fn label(&self) -> OutcomeLabel {
        match self {
            Ended::Succeeded(success) => OutcomeLabel::success(success.outcome),
            Ended::Planned(_) => OutcomeLabel::DRY_RUN,
            Ended::Failed(problem) => OutcomeLabel::problem(problem.code),
        }
    }

    /// The HTTP status it is answered with on its own.
    pub fn status(&self) -> u16 {
        match self {
            Ended::Succeeded(_) | Ended::Planned(_) => 200,
            Ended::Failed(problem) => problem.code.status(),
        }
    }
}

impl From<ApiProblem> for Ended {
    fn from(problem: ApiProblem) -> Self {
        Ended::Failed(problem)
    }
}

/// One result: a single-backend request's, one backend's in a fan-out, or a refusal of a
/// whole request.
#[derive(Debug)]
pub(crate) struct Part<'a> {
    /// The configured backend it concerns, whose name labels its metrics; `None` for a
    /// request refused before a backend was known to be involved.
    pub backend: Option<&'a Backend>,
    /// The backend the audit line names: the configured one, or the name asked for.
    pub audit_backend: Option<&'a str>,
    pub ended: Ended,
    /// How long this part took (a fan-out shows each backend's).
    pub took: Duration,
}

/// A fan-out's tally of its backends' results.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    pub done: u32,
    pub accepted: u32,
    pub dry_run: u32,
    pub failed: u32,
}

impl Summary {
    pub(crate) fn of(parts: &[Part<'_>]) -> Self {
        let mut summary = Summary::default();
        for part in parts {
            match &part.ended {
                Ended::Succeeded(s) if s.outcome == Outcome::Done => summary.done += 1,
                Ended::Succeeded(_) => summary.accepted += 1,
                Ended::Planned(_) => summary.dry_run += 1,
                Ended::Failed(_) => summary.failed += 1,
            }
        }
        summary
    }

    /// `200` when none failed, `207` otherwise (also when all failed).
    pub(crate) fn status(&self) -> u16 {
        if self.failed == 0 {
            200
        } else {
            207
        }
    }

    /// The `summary` member of the answer and the audit line (`dry_run` on a dry-run).
    pub(crate) fn to_json(self, dry_run: bool) -> serde_json::Value {
        let mut json = serde_json::json!({
            "done": self.done,
            "accepted": self.accepted,
            "failed": self.failed,
        });
        if dry_run {
            json["dry_run"] = serde_json::Value::from(self.dry_run);
        }
        json
    }
}

/// How one request ended: everything the three sinks read.
#[derive(Debug)]
pub(crate) enum Report<'a> {
    /// Refused before its body was a canonical request (401, 413, 415, 400): counted,
    /// and answered; there is no action, backend or target to log or audit.
    Unparsed {
        request_id: &'a str,
        problem: ApiProblem,
    },
    /// A request answered with one result: its one backend's, or a refusal of the whole.
    One {
        call: &'a Call<'a>,
        part: Part<'a>,
        /// The request's duration when it ended.
        elapsed: Duration,
        /// Its intent line, when it called a vendor.
        intent: Option<Ticket<'a>>,
    },
    /// A fan-out that ran: one part per selected backend, in selection order.
    FanOut {
        call: &'a Call<'a>,
        parts: Vec<Part<'a>>,
        summary: Summary,
        elapsed: Duration,
        /// Its intent line (`None` for a dry-run).
        intent: Option<Ticket<'a>>,
    },
    /// Checked and held for a four-eyes approval (`approval_hold.rs`): nothing was sent.
    Pending {
        call: &'a Call<'a>,
        held: Box<crate::approvals::Held>,
        elapsed: Duration,
    },
    /// An `Idempotency-Key` repeat, answered with the first answer: nothing was sent.
    Replay {
        call: &'a Call<'a>,
        stored: StoredAnswer,
        elapsed: Duration,
    },
}

/// The answer header telling that the request's audit is incomplete.
pub const AUDIT_HEADER: &str = "sever-audit";
/// Its value.
pub const AUDIT_INCOMPLETE: &str = "incomplete";

impl Sever {
    /// Hands `report` to the three sinks: metrics and the log line, the outcome lines,
    /// then the answer it renders — marked `Sever-Audit: incomplete` when an outcome line
    /// could not be written (the answer still tells what happened).
    pub(crate) fn finish(&self, mut report: Report<'_>) -> Answer {
        if let Report::One { intent, .. } | Report::FanOut { intent, .. } = &mut report {
            if let Some(ticket) = intent.take() {
                ticket.settle();
            }
        }
        self.observe(&report);
        let complete = self.audit(&report);
        let mut answer = super::answer::render(report);
        if !complete {
            answer
                .headers
                .push((AUDIT_HEADER, AUDIT_INCOMPLETE.to_owned()));
        }
        answer
    }

    /// Answers a request refused before its body was a canonical request.
    pub(crate) fn refuse(&self, problem: ApiProblem, request_id: &str) -> Answer {
        self.finish(Report::Unparsed {
            request_id,
            problem,
        })
    }
}
