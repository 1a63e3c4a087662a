//! A fan-out (spec §5): once the checks admitted it — every selected backend authorized and
//! known before anything is sent — every backend's part runs concurrently under the one
//! request deadline, and the report holds one part per backend.

use super::report::{Part, Report, Summary};
use super::Call;
use crate::backend::Backend;
use crate::plugin::Request;
use crate::problem::ApiProblem;
use crate::Sever;
use tracing::Instrument;

impl Sever {
    /// Runs every admitted backend's part at once.
    pub(crate) async fn fan_out<'a>(
        &'a self,
        call: &'a Call<'a>,
        admitted: Vec<(&'a Backend, Result<Request, ApiProblem>)>,
    ) -> Report<'a> {
        let clock = self.ambient.clock.as_ref();
        let runs = admitted.into_iter().map(|(backend, request)| async move {
            let started = clock.now();
            let span = tracing::info_span!(
                "fan_out_backend",
                otel.kind = "internal",
                backend = %backend.name,
            );
            let ended = self.run_part(call, backend, request).instrument(span).await;
            Part {
                backend: Some(backend),
                audit_backend: Some(&backend.name),
                ended,
                took: clock.now().saturating_duration_since(started),
            }
        });
        let parts = futures_util::future::join_all(runs).await;
        Report::FanOut {
            call,
            summary: Summary::of(&parts),
            parts,
            elapsed: self.elapsed(call),
            intent: None,
        }
    }
}
