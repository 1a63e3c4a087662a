//! A request under an `Idempotency-Key` (spec §3): the first runs and its answer is kept
//! when a vendor call was attempted; a repeat gets that answer again and sends nothing;
//! the same key with another body, or while the first still runs, is a 409.

use super::report::{Ended, Report};
use super::{problems, Call};
use crate::idempotency::{in_flight_ttl, Claim, Fingerprint, ScopeKey, StoredAnswer};
use crate::problem::ProblemCode;
use crate::problem::{Answer, ApiProblem};
use crate::Sever;

impl Sever {
    /// Runs `call` under `key` (`body` as received is what "the same request" means).
    pub(crate) async fn act_once(&self, call: &Call<'_>, key: &str, body: &[u8]) -> Answer {
        let scope = ScopeKey::new(&call.caller.name, key);
        let ttl = in_flight_ttl(self.config.server.request_timeout);
        let claim = self
            .idempotency
            .claim(&scope, &Fingerprint::of_body(body), ttl)
            .await;
        let guard = match claim {
            Ok(Claim::New(guard)) => guard,
            Ok(Claim::Replay(stored)) => {
                let elapsed = self.elapsed(call);
                return self.finish(Report::Replay {
                    call,
                    stored,
                    elapsed,
                });
            }
            Ok(Claim::Conflict) => {
                return self.refuse_keyed(call, problems::idempotency_conflict())
            }
            Ok(Claim::InFlight) => {
                return self.refuse_keyed(call, problems::idempotency_in_flight())
            }
            Err(e) => {
                tracing::error!(error = %e, request_id = call.request_id, "idempotency store");
                return self.refuse_keyed(call, problems::idempotency_store_unavailable());
            }
        };
        let report = self.run(call).await;
        let kept = keeps(&report);
        let answer = self.finish(report);
        let stored = if kept {
            let first = StoredAnswer {
                status: answer.status,
                request_id: call.request_id.to_owned(),
                headers: answer
                    .headers
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), v.clone()))
                    .collect(),
                body: answer.body.clone(),
            };
            guard.complete(first).await
        } else {
            guard.release().await
        };
        if let Err(e) = stored {
            tracing::warn!(error = %e, request_id = call.request_id, "idempotency key not updated");
        }
        answer
    }

    /// A keyed request refused before it ran: counted without a backend label, audited
    /// with the backend asked for.
    fn refuse_keyed(&self, call: &Call<'_>, problem: ApiProblem) -> Answer {
        let mut report = self.refused(call, problem);
        if let Report::One { part, .. } = &mut report {
            part.backend = None;
        }
        self.finish(report)
    }
}

/// Whether an answer is one an `Idempotency-Key` keeps: once a vendor call was attempted
/// (2xx, `target_not_found`, `upstream_*`), never a refusal before that, nor a dry-run.
fn keeps(report: &Report<'_>) -> bool {
    match report {
        Report::One { part, .. } => match &part.ended {
            Ended::Succeeded(_) => true,
            Ended::Planned(_) => false,
            Ended::Failed(problem) => matches!(
                problem.code,
                ProblemCode::TargetNotFound
                    | ProblemCode::UpstreamUnauthorized
                    | ProblemCode::UpstreamRejected
                    | ProblemCode::UpstreamError
                    | ProblemCode::UpstreamUnavailable
                    | ProblemCode::UpstreamTimeout
            ),
        },
        Report::FanOut { call, .. } => !call.request.dry_run,
        // A retry gets the same approval, never a second one.
        Report::Pending { .. } => true,
        Report::Unparsed { .. } | Report::Replay { .. } => false,
    }
}
