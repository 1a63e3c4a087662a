//! Reading Keycloak's answers to the admin calls (the mapping table of the crate doc).

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

use crate::Stage;

/// What an admin call's answer means for the flow.
#[derive(Debug)]
pub(crate) enum Read {
    /// The flow ends (or fails) here.
    Step(Step),
    /// The username lookup found this user id: log it out next.
    Found { id: String },
}

/// Keycloak's error body, `{"error", "error_description"?}`, as `vendor` shows it.
struct Said {
    code: Option<String>,
    message: Option<String>,
}

impl Said {
    fn read(response: &VendorResponse<'_>) -> Self {
        let body = response.json();
        let text = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(vendor::clean)
                .filter(|s| !s.is_empty())
        };
        let (error, description) = (text("error"), text("error_description"));
        let code_like = |e: &str| e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        match error {
            Some(error) if code_like(&error) => Said {
                code: Some(error),
                message: description,
            },
            Some(error) => Said {
                message: Some(match description {
                    Some(d) => format!("{error} ({d})"),
                    None => error,
                }),
                code: None,
            },
            None => {
                let excerpt = vendor::excerpt(response.body);
                Said {
                    code: None,
                    message: (!excerpt.is_empty()).then_some(excerpt),
                }
            }
        }
    }

    /// The vendor's words for a detail.
    fn shown(&self) -> String {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(text), None) | (None, Some(text)) => text.clone(),
            (None, None) => "no error body".into(),
        }
    }

    /// The `error` text, lowercase, for matching.
    fn lower(&self) -> String {
        self.message
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase()
    }
}

/// What the call of `stage` was about, for details.
fn about(stage: &Stage) -> String {
    match stage {
        Stage::Lookup { username } => format!("finding user '{username}'"),
        Stage::Logout { id } => format!("logging out user '{id}'"),
        Stage::DeleteSession { id } => format!("deleting session '{id}'"),
    }
}

/// Maps the answer to the admin call of `stage`. A 401 reaching this function is the one
/// after the token refresh.
pub(crate) fn read(stage: &Stage, response: &VendorResponse<'_>, env: &Env, retried: bool) -> Read {
    let status = response.status;
    if (200..300).contains(&status) {
        return success(stage, response);
    }
    let said = Said::read(response);
    let shown = said.shown();
    let lower = said.lower();
    let what = about(stage);
    let (kind, detail) = match status {
        429 => {
            let detail = format!("keycloak is rate limiting: {shown}");
            let (code, message) = (said.code.as_deref(), said.message.as_deref());
            return Read::Step(Step::Fail(vendor::rate_limited(
                response, env, code, message, detail,
            )));
        }
        401 => (
            ProblemKind::CredentialsRefused,
            format!(
                "keycloak refused the access token again after one token refresh (401): {shown}"
            ),
        ),
        403 => (
            ProblemKind::CredentialsRefused,
            format!(
                "keycloak refused {what} (403): the service account needs realm-management \
                 manage-users and query-users (without query-users an unknown user is a 403, \
                 not a 404), and a token of this realm or master: {shown}"
            ),
        ),
        404 if lower.contains("realm") => (
            ProblemKind::Rejected,
            format!("keycloak has no such realm (check the backend's realm setting): {shown}"),
        ),
        404 if target_not_found(stage, &lower) => {
            let again = if retried {
                " (this was a retry: the first attempt may have ended it)"
            } else {
                ""
            };
            (
                ProblemKind::TargetNotFound,
                format!("keycloak: {what} failed, {shown}{again}"),
            )
        }
        404 => (
            ProblemKind::Rejected,
            format!(
                "keycloak answered 404 to {what} without naming the user or session \
                 (check the backend's url and path_prefix): {shown}"
            ),
        ),
        status => (
            vendor::kind_for_status(status),
            format!("keycloak answered {status} to {what}: {shown}"),
        ),
    };
    let problem = vendor::problem(
        kind,
        response,
        said.code.as_deref(),
        said.message.as_deref(),
        detail,
    );
    Read::Step(Step::Fail(problem))
}

/// Whether a 404's `error` says the target is missing: `User not found`, or for a session
/// `Sesssion not found` (Keycloak's spelling) or `Session not found`.
fn target_not_found(stage: &Stage, lower: &str) -> bool {
    match stage {
        Stage::Logout { .. } => lower.starts_with("user not found"),
        Stage::DeleteSession { .. } => {
            lower.starts_with("sesssion not found") || lower.starts_with("session not found")
        }
        // The users list answers 404 only for a missing realm (or a wrong path).
        Stage::Lookup { .. } => false,
    }
}

/// A 2xx: `done` for a cut, the user's id for a lookup.
fn success(stage: &Stage, response: &VendorResponse<'_>) -> Read {
    let text = response.text();
    let text = text.trim();
    let body = if text.is_empty() {
        None
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(value) => Some(value),
            Err(_) => return unreadable(stage, response),
        }
    };
    match stage {
        Stage::Lookup { username } => match body {
            Some(Value::Array(users)) => found(username, &users, response),
            _ => unreadable(stage, response),
        },
        _ => Read::Step(Step::Done(vendor::done(response))),
    }
}

/// The one user of a lookup whose `username` is the one asked for (Keycloak keeps
/// usernames in lower case), or `target_not_found`.
fn found(username: &str, users: &[Value], response: &VendorResponse<'_>) -> Read {
    let matching: Vec<&str> = users
        .iter()
        .filter(|user| {
            user.get("username")
                .and_then(Value::as_str)
                .is_none_or(|name| name.eq_ignore_ascii_case(username))
        })
        .filter_map(|user| user.get("id").and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .collect();
    match matching.as_slice() {
        [id] => Read::Found {
            id: (*id).to_owned(),
        },
        [] => Read::Step(Step::Fail(vendor::problem(
            ProblemKind::TargetNotFound,
            response,
            None,
            None,
            format!("keycloak has no user with username '{username}' in this realm"),
        ))),
        several => Read::Step(Step::Fail(vendor::problem(
            ProblemKind::Rejected,
            response,
            None,
            None,
            format!(
                "keycloak lists {} users for username '{username}': refusing to guess which to \
                 log out (set user_lookup: id and pass the user's id)",
                several.len()
            ),
        ))),
    }
}

fn unreadable(stage: &Stage, response: &VendorResponse<'_>) -> Read {
    Read::Step(Step::Fail(vendor::unexpected_body(
        response,
        format!(
            "keycloak answered {} to {} with a body that is not Keycloak's: {}",
            response.status,
            about(stage),
            vendor::excerpt(response.body)
        ),
    )))
}
