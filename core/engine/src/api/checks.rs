//! The checks of spec §4 on a parsed canonical request, in the spec's order, in one place
//! for single-backend, fan-out and dry-run requests alike:
//!
//! scope (403) → backend exists (404 `unknown_backend`) → adapter supports the action
//! (422) and the target fits its field sets (400) → Sever's own limits (503 `overloaded`
//! over `server.max_in_flight`, 503 `audit_unavailable`) → vendor calls.
//!
//! Before these, the server answered the route (404, 405), the token (401), the content
//! type (415) and the body size (413), and the body was parsed (400): see `super::serve`.
//! After them, each backend applies its own limits as it is called: its concurrency slots
//! (503 `overloaded`) and its circuit breaker (503 `circuit_open`).
//!
//! **Dry-runs and limits.** A dry-run passes every check here, Sever's own limits
//! included: it costs Sever the same work to plan as to start a cut, and its audit line is
//! written like any other. It is not subject to a backend's limits, which protect the
//! vendor: it sends nothing, so it takes no concurrency slot and an open breaker does not
//! refuse it. Single-backend and fan-out dry-runs follow the same rule.
//!
//! A fan-out is refused as a whole by the first four checks for any of its backends (one
//! forbidden backend refuses it all, one unknown name too); a backend whose adapter lacks
//! the action, or that the target does not fit, is reported as that backend's failure.

use super::{problems, Call};
use crate::backend::Backend;
use crate::canonical::{self, Selection};
use crate::plugin::Request;
use crate::problem::ApiProblem;
use crate::Sever;
use std::collections::HashSet;
use std::sync::Arc;

/// A request that passed the checks: what to run on which backend.
#[derive(Debug)]
// The common case, one backend, is not boxed: no allocation on every request's path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Admitted<'s> {
    /// A single-backend request and the adapter's request for it.
    One(&'s Backend, Request),
    /// A fan-out: for each selected backend, in order, the adapter's request or why that
    /// backend cannot take part.
    Many(Vec<(&'s Backend, Result<Request, ApiProblem>)>),
}

impl Sever {
    /// Runs the checks on `call`; the first that fails refuses the whole request.
    pub(crate) fn admit(&self, call: &Call<'_>) -> Result<Admitted<'_>, ApiProblem> {
        let admitted = match &call.request.selection {
            Selection::One(name) => {
                self.authorize(call, [name.as_str()])?;
                let backend = self.known_backend(name)?;
                Admitted::One(backend, self.adapter_request(call, backend)?)
            }
            Selection::Names(_) | Selection::Tags(_) => Admitted::Many(
                self.select(call)?
                    .into_iter()
                    .map(|b| (b, self.adapter_request(call, b)))
                    .collect(),
            ),
        };
        self.check_in_flight()?;
        self.check_audit_writable()?;
        Ok(admitted)
    }

    /// 403 unless the caller may run the action on every named backend: checked against
    /// the names asked for, before their existence, so a token learns nothing about
    /// backends it may not use.
    fn authorize<'n>(
        &self,
        call: &Call<'_>,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Result<(), ApiProblem> {
        let action = call.request.action;
        match names
            .into_iter()
            .find(|name| !self.auth.allows(call.caller, name, action))
        {
            Some(name) => Err(problems::forbidden(call.caller, action, name)),
            None => Ok(()),
        }
    }

    /// 404 unless a backend has this name.
    fn known_backend(&self, name: &str) -> Result<&Backend, ApiProblem> {
        self.backend(name)
            .map(Arc::as_ref)
            .ok_or_else(|| problems::unknown_backend(name))
    }

    /// The backends a fan-out selects, in request order for names and config order for
    /// tags: 400 for a name listed twice or tags that select nothing, 403 if any is
    /// forbidden, then 404 if a name is unknown.
    fn select(&self, call: &Call<'_>) -> Result<Vec<&Backend>, ApiProblem> {
        match &call.request.selection {
            Selection::Names(names) => {
                let mut seen = HashSet::new();
                if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
                    return Err(problems::duplicate_backend(dup));
                }
                self.authorize(call, names.iter().map(String::as_str))?;
                names.iter().map(|n| self.known_backend(n)).collect()
            }
            Selection::Tags(tags) => {
                let selected: Vec<&Backend> = self
                    .backends
                    .iter()
                    .filter(|b| tags.iter().all(|t| b.tags.contains(t)))
                    .map(Arc::as_ref)
                    .collect();
                if selected.is_empty() {
                    return Err(problems::no_backend_with_tags(tags));
                }
                self.authorize(call, selected.iter().map(|b| b.name.as_str()))?;
                Ok(selected)
            }
            Selection::One(name) => Ok(vec![self.known_backend(name)?]),
        }
    }

    /// The adapter's request for `backend`: 422 when its adapter lacks the action, 400 when
    /// the target does not fit the action's field sets.
    fn adapter_request(&self, call: &Call<'_>, backend: &Backend) -> Result<Request, ApiProblem> {
        let action = call.request.action;
        let spec = backend
            .plugin()
            .info()
            .action(action)
            .ok_or_else(|| problems::unsupported_action(backend, action))?;
        let target = canonical::fit_target(&call.request.target, spec)
            .map_err(|e| problems::target_mismatch(backend, e))?;
        Ok(Request {
            request_id: call.request_id.to_owned(),
            action,
            target,
            reason: call.request.reason.clone(),
        })
    }

    /// 503 `overloaded` when the server as a whole is over `server.max_in_flight`.
    fn check_in_flight(&self) -> Result<(), ApiProblem> {
        if self.metrics.in_flight.get() > self.config.server.max_in_flight as i64 {
            return Err(problems::server_overloaded());
        }
        Ok(())
    }

    /// 503 `audit_unavailable` when the audit log cannot be written: nothing may be sent,
    /// or planned, unaudited.
    fn check_audit_writable(&self) -> Result<(), ApiProblem> {
        match &self.audit {
            Some(audit) if !audit.ready() => Err(problems::audit_unavailable()),
            _ => Ok(()),
        }
    }
}
