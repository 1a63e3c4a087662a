//! Reading the vendor's answer to `CloseConnection` into a canonical outcome (the mapping
//! table in the crate documentation).

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;
use std::fmt;

/// `Retry-After` passed on with a throttling answer that carried none. Assumed: the
/// vendor's API limits are per second, and its throttling answers have no such header.
pub(crate) const DEFAULT_RETRY_AFTER: &str = "1";

/// Exact error codes that mean the vendor refused Sever's credentials or permissions: the
/// ones the vendors file confirms for this API and its gateway.
/// `CheckAccountInfoFailed` (an STS token the service cannot read) and
/// `MqttOwnerCheckError` (instance ownership) come from the vendor's error-code page and
/// its notice on adjusted HTTP statuses.
const UNAUTHORIZED_CODES: [&str; 7] = [
    "InstancePermissionCheckFailed",
    "PermissionCheckFailed",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId.NotFound",
    "Forbidden.RAM",
    "CheckAccountInfoFailed",
    "MqttOwnerCheckError",
];

/// Code families of the gateway that also concern credentials (assumed from the gateway's
/// common codes: disabled or unknown keys, expired STS tokens, RAM denials, a signature
/// the gateway could not even read).
const UNAUTHORIZED_PREFIXES: [&str; 5] = [
    "InvalidAccessKeyId",
    "InvalidSecurityToken",
    "Forbidden",
    "NoPermission",
    "IncompleteSignature",
];

/// What a request was about, for the problem's `detail`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) instance_id: &'a str,
    pub(crate) access_key_id: &'a str,
}

/// The members of the vendor's answer body that Sever reads (success and error bodies
/// share them; `Code` is an integer 200 on success and a string on errors, though newer
/// examples of the API family show `"200"` as a string too).
#[derive(Debug, Default)]
struct Body {
    request_id: Option<String>,
    code: Option<String>,
    message: Option<String>,
    success: Option<bool>,
    recommend: Option<String>,
}

impl Body {
    /// The body as the vendor's JSON object, or `None` when it is something else.
    fn parse(bytes: &[u8]) -> Option<Body> {
        let Members(members) = serde_json::from_slice(bytes).ok()?;
        let [request_id, code, message, success, recommend] = members;
        let text = |value: Option<Value>| match value {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Some(Body {
            request_id: text(request_id),
            code: text(code),
            message: text(message),
            // A boolean in CloseConnection's documented example, a string ("true") in
            // newer examples of the same API family: both are read.
            success: match success {
                Some(Value::Bool(b)) => Some(b),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
                _ => None,
            },
            recommend: text(recommend),
        })
    }
}

/// The members [`Body`] reads, in [`MEMBERS`] order, from a JSON object; every other
/// member is skipped unread. Like a `serde_json::Map`, a repeated member keeps its last
/// value, and anything but an object is refused.
struct Members([Option<Value>; 5]);

const MEMBERS: [&str; 5] = ["RequestId", "Code", "Message", "Success", "Recommend"];

/// A member's name as its index in [`MEMBERS`] (`None` for the others), read without
/// allocating, escaped or not.
struct MemberKey(Option<usize>);

impl<'de> Deserialize<'de> for MemberKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = MemberKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<MemberKey, E> {
                Ok(MemberKey(MEMBERS.iter().position(|m| *m == key)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the vendor's JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members: [Option<Value>; 5] = Default::default();
                while let Some(MemberKey(key)) = map.next_key()? {
                    match key {
                        Some(i) => members[i] = Some(map.next_value()?),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// The canonical code for a vendor error `Code` (when there is one) and HTTP status. The
/// code decides first, because a `Success: false` answer arrives with status 200.
pub(crate) fn code_for(vendor_code: Option<&str>, status: u16) -> ProblemKind {
    if let Some(code) = vendor_code {
        // `SystemOverFlow` is the service's own throttling, answered with 403 since the
        // vendor adjusted its statuses (500 before): the code decides, not the status.
        if code.starts_with("Throttling") || code.ends_with("OverFlow") {
            return ProblemKind::RateLimited;
        }
        if UNAUTHORIZED_CODES.contains(&code)
            || UNAUTHORIZED_PREFIXES.iter().any(|p| code.starts_with(p))
        {
            return ProblemKind::CredentialsRefused;
        }
        if code == "ApiNotSupport" {
            // Not a missing target: the API is not offered on this instance or region.
            return ProblemKind::Rejected;
        }
        if is_failure_code(code) {
            return ProblemKind::VendorError;
        }
    }
    match status {
        429 => ProblemKind::RateLimited,
        401 | 403 => ProblemKind::CredentialsRefused,
        // Any other refusal, a 2xx with `Success: false` among them. A 404 is never
        // `target_not_found` here: the vendor has no "no such client" answer.
        200..=299 | 400..=499 => ProblemKind::Rejected,
        _ => ProblemKind::VendorError,
    }
}

/// The canonical step for the vendor's answer.
pub(crate) fn answer(context: &Context<'_>, response: &VendorResponse<'_>) -> Step {
    let Some(body) = Body::parse(response.body) else {
        return Step::Fail(unreadable(response, "a body that is not the vendor's JSON"));
    };
    if (200..300).contains(&response.status) {
        match body.success {
            Some(true) => return Step::Done(done(response, &body)),
            Some(false) => {}
            // No `Success` but an error code: the gateway's error shape with a 2xx status.
            None if body.code.as_deref().is_some_and(|c| c != "200") => {}
            None => {
                return Step::Fail(unreadable(response, "JSON that does not say `Success`"));
            }
        }
    }
    Step::Fail(failure(context, response, &body))
}

fn done(response: &VendorResponse<'_>, body: &Body) -> Success {
    let mut success = vendor::done(response);
    if let Some(id) = &body.request_id {
        success
            .vendor
            .insert("request_id".into(), Value::from(id.as_str()));
    }
    success
}

fn failure(context: &Context<'_>, response: &VendorResponse<'_>, body: &Body) -> Problem {
    let code = code_for(body.code.as_deref(), response.status);
    let message = body
        .message
        .clone()
        .unwrap_or_else(|| vendor::excerpt(response.body));
    let vendor_code = body.code.as_deref().unwrap_or("(no code)");
    let Context {
        client_id,
        instance_id,
        access_key_id,
    } = *context;
    let detail = match code {
        ProblemKind::CredentialsRefused => format!(
            "alibaba-mqtt: Alibaba Cloud refused AccessKeyId '{access_key_id}' for instance \
             '{instance_id}': {vendor_code}: {message}"
        ),
        ProblemKind::RateLimited => {
            format!("alibaba-mqtt: Alibaba Cloud throttled CloseConnection: {vendor_code}: {message}")
        }
        ProblemKind::VendorError => format!(
            "alibaba-mqtt: Alibaba Cloud failed CloseConnection (HTTP {}): {vendor_code}: {message}",
            response.status
        ),
        _ => format!(
            "alibaba-mqtt: Alibaba Cloud refused CloseConnection of client '{client_id}' on \
             instance '{instance_id}' (HTTP {}): {vendor_code}: {message}",
            response.status
        ),
    };
    let shown_message = (!message.is_empty()).then_some(message.as_str());
    // A vendor failure (5xx, `InternalError`) is worth a retry — the call is idempotent
    // and re-signed on retry — but nothing else: a throttled call is not sent again at once.
    let failed = response.status >= 500 || body.code.as_deref().is_some_and(is_failure_code);
    let retryable = code == ProblemKind::VendorError && failed;
    let mut problem = vendor::problem_with_retry(
        code,
        response,
        body.code.as_deref(),
        shown_message,
        detail,
        retryable,
    );
    if let Some(vendor) = problem.vendor.as_mut() {
        add_body_ids(vendor, body);
    }
    with_default_retry_after(problem)
}

/// A problem for an answer that is not the vendor's JSON (an HTML error page, a proxy's
/// answer, a truncated body): `upstream_error`, unless the status itself says throttled.
fn unreadable(response: &VendorResponse<'_>, what: &str) -> Problem {
    let code = if response.status == 429 {
        ProblemKind::RateLimited
    } else {
        ProblemKind::VendorError
    };
    let excerpt = vendor::excerpt(response.body);
    let detail = format!(
        "alibaba-mqtt: Alibaba Cloud answered HTTP {} with {what}: {excerpt}",
        response.status
    );
    let shown = (!excerpt.is_empty()).then_some(excerpt.as_str());
    // Retryable for a 5xx (always `upstream_error` here), as `vendor::problem` decides.
    with_default_retry_after(vendor::problem(code, response, None, shown, detail))
}

/// The vendor's own request id (from the body, where the vendor puts it) and its
/// diagnosis link, next to status, code and message.
fn add_body_ids(vendor: &mut Map<String, Value>, body: &Body) {
    if let Some(id) = &body.request_id {
        vendor.insert("request_id".into(), Value::from(id.as_str()));
    }
    if let Some(recommend) = &body.recommend {
        vendor.insert("recommend".into(), Value::from(recommend.as_str()));
    }
}

/// The error codes of a vendor failure (not a refusal): worth a retry.
fn is_failure_code(code: &str) -> bool {
    code.starts_with("InternalError") || code.starts_with("ServiceUnavailable")
}

/// Gives a throttled caller a `Retry-After` even when the vendor sent none.
fn with_default_retry_after(mut problem: Problem) -> Problem {
    if problem.kind == ProblemKind::RateLimited && problem.retry_after.is_none() {
        problem.retry_after = Some(DEFAULT_RETRY_AFTER.to_owned());
    }
    problem
}
