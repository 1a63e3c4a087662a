//! The checks on an HTTP request before its body is read: which endpoint (404, 405) and,
//! for `POST /v1/actions`, its content type (415).

use super::problems;
use crate::problem::ApiProblem;

/// The endpoints of spec §6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Actions,
    Backends,
    Plugins,
    Healthz,
    Readyz,
    Metrics,
    /// `GET /openapi.json` (see [`crate::openapi`]).
    OpenApi,
    /// `GET /v1/audit`: this replica's audit file read back (`audit_query.rs`).
    Audit,
    // --- four-eyes approvals (`approvals.rs`) ---
    /// `GET /v1/approvals`.
    Approvals,
    /// `GET /v1/approvals/{id}`.
    Approval,
    /// `POST /v1/approvals/{id}/approve`.
    ApprovalApprove,
    /// `POST /v1/approvals/{id}/deny`.
    ApprovalDeny,
}

impl Route {
    /// Endpoints under `/v1/` need a valid bearer token.
    pub fn needs_token(self) -> bool {
        matches!(
            self,
            Route::Actions | Route::Backends | Route::Plugins | Route::Audit
        ) || self.is_approvals()
    }

    /// The approvals endpoints.
    pub fn is_approvals(self) -> bool {
        matches!(
            self,
            Route::Approvals | Route::Approval | Route::ApprovalApprove | Route::ApprovalDeny
        )
    }
}

/// Why a method and path have no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteError {
    /// 404 `not_found`.
    NotFound,
    /// 405 `method_not_allowed`; `allow` is the `Allow` header's value.
    MethodNotAllowed { allow: &'static str },
}

impl RouteError {
    /// The problem to answer with.
    pub fn problem(self) -> ApiProblem {
        match self {
            RouteError::NotFound => problems::not_found(),
            RouteError::MethodNotAllowed { allow } => problems::method_not_allowed(allow),
        }
    }
}

/// Finds the endpoint for a method and path: 404 for an unknown path, 405 for a known
/// path with the wrong method.
pub fn route(method: &str, path: &str) -> Result<Route, RouteError> {
    let (route, allow) = match path {
        "/v1/actions" => (Route::Actions, "POST"),
        "/v1/backends" => (Route::Backends, "GET"),
        "/v1/plugins" => (Route::Plugins, "GET"),
        "/healthz" => (Route::Healthz, "GET"),
        "/readyz" => (Route::Readyz, "GET"),
        "/metrics" => (Route::Metrics, "GET"),
        "/openapi.json" => (Route::OpenApi, "GET"),
        "/v1/audit" => (Route::Audit, "GET"),
        _ => approval_route(path).ok_or(RouteError::NotFound)?,
    };
    if method == allow || (allow == "GET" && method == "HEAD") {
        Ok(route)
    } else {
        Err(RouteError::MethodNotAllowed { allow })
    }
}

/// The approvals routes: `/v1/approvals`, `/v1/approvals/{id}` and its `/approve` and
/// `/deny` (any one segment is an id here; the endpoint tells a bad one, 404).
fn approval_route(path: &str) -> Option<(Route, &'static str)> {
    if path == "/v1/approvals" {
        return Some((Route::Approvals, "GET"));
    }
    let rest = path.strip_prefix("/v1/approvals/")?;
    let (id, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if id.is_empty() {
        return None;
    }
    match tail {
        "" => Some((Route::Approval, "GET")),
        "approve" => Some((Route::ApprovalApprove, "POST")),
        "deny" => Some((Route::ApprovalDeny, "POST")),
        _ => None,
    }
}

/// The `{id}` of an approvals path.
pub(crate) fn approval_id(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/approvals/")?;
    Some(rest.split_once('/').map_or(rest, |(id, _)| id))
}

/// 415 unless the content type is `application/json` (parameters such as `charset` allowed).
pub fn check_content_type(content_type: Option<&[u8]>) -> Result<(), ApiProblem> {
    let ok = content_type
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim())
        .is_some_and(|m| m.eq_ignore_ascii_case("application/json"));
    if ok {
        Ok(())
    } else {
        Err(problems::unsupported_media_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemCode;

    #[test]
    fn a_known_path_with_another_method_is_405_with_allow_and_head_works_like_get() {
        assert_eq!(route("POST", "/v1/actions"), Ok(Route::Actions));
        assert_eq!(route("HEAD", "/metrics"), Ok(Route::Metrics));
        assert_eq!(
            route("GET", "/v1/actions"),
            Err(RouteError::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route("HEAD", "/v1/actions"),
            Err(RouteError::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(route("GET", "/v1/action"), Err(RouteError::NotFound));
        assert_eq!(RouteError::NotFound.problem().code, ProblemCode::NotFound);
    }

    #[test]
    fn approvals_paths_route_with_their_id() {
        let id = "0123456789abcdef0123456789abcdef";
        let at = |tail: &str| format!("/v1/approvals/{id}{tail}");
        assert_eq!(route("GET", "/v1/approvals"), Ok(Route::Approvals));
        assert_eq!(route("HEAD", &at("")), Ok(Route::Approval));
        assert_eq!(route("POST", &at("/approve")), Ok(Route::ApprovalApprove));
        assert_eq!(route("POST", &at("/deny")), Ok(Route::ApprovalDeny));
        assert_eq!(
            route("GET", &at("/approve")),
            Err(RouteError::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route("POST", &at("")),
            Err(RouteError::MethodNotAllowed { allow: "GET" })
        );
        for unknown in [
            "/v1/approvals/",
            "/v1/approvals//approve",
            &at("/run"),
            &at("/deny/x"),
        ] {
            assert_eq!(
                route("POST", unknown),
                Err(RouteError::NotFound),
                "{unknown}"
            );
        }
        assert_eq!(approval_id(&at("/deny")), Some(id));
        assert_eq!(approval_id(&at("")), Some(id));
        assert!(Route::ApprovalDeny.needs_token() && Route::Approvals.is_approvals());
    }

    #[test]
    fn only_json_bodies_are_taken() {
        for ok in [&b"application/json"[..], b"Application/JSON; charset=utf-8"] {
            assert_eq!(check_content_type(Some(ok)), Ok(()));
        }
        for bad in [None, Some(&b"text/plain"[..]), Some(b"application/jsonx")] {
            let problem = check_content_type(bad).err();
            assert_eq!(
                problem.map(|p| p.code),
                Some(ProblemCode::UnsupportedMediaType)
            );
        }
    }
}
