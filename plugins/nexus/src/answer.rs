//! Nexus's answers, mapped to canonical outcomes (the table in the crate doc).

use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::vendor::ProblemDocument;

use crate::{Flow, Nexus};

/// Maps one answer to the unbind call.
pub(crate) fn map(nexus: &Nexus, flow: &Flow, response: &VendorResponse<'_>) -> Step {
    let status = response.status;
    if (200..300).contains(&status) {
        if status == 204 || response.body.iter().all(u8::is_ascii_whitespace) {
            return Step::Done(vendor::done(response));
        }
        return Step::Fail(vendor::unexpected_body(
            response,
            format!("nexus answered {status} with a body, not 204 No Content"),
        ));
    }

    let problem = ProblemDocument::read(response.body);
    let message = problem.message();
    let code = match status {
        400 => ProblemKind::Rejected,
        401 | 403 => ProblemKind::CredentialsRefused,
        404 => ProblemKind::TargetNotFound,
        429 => ProblemKind::RateLimited,
        other => vendor::kind_for_status(other),
    };
    let said = message
        .as_deref()
        .map_or_else(String::new, |m| format!(": {m}"));
    let (client, connection, tenant) = (&flow.client_id, &flow.connection_id, &nexus.tenant_id);
    let detail = match code {
        ProblemKind::TargetNotFound => format!(
            "nexus: client '{client}' on identity connection '{connection}' \
             (tenant '{tenant}') not found{said}"
        ),
        ProblemKind::CredentialsRefused => format!(
            "nexus refused Sever's credentials ({} option) with {status}; the call needs \
             the client.write or client.write.all permission{said}",
            nexus.auth.option()
        ),
        ProblemKind::Rejected => format!(
            "nexus rejected disabling client '{client}' on identity connection \
             '{connection}' (tenant '{tenant}') with {status}{said}"
        ),
        ProblemKind::RateLimited => format!("nexus is rate limiting Sever ({status}){said}"),
        _ => format!("nexus answered {status}{said}"),
    };
    Step::Fail(problem.into_problem(code, response, detail))
}
