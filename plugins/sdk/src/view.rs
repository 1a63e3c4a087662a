//! The per-request messages as borrowed `#[repr(C)]` views ([`RawRequest`], [`RawStep`]),
//! and the conversions between them and the [`crate::model`] types: the plugin side
//! (request in, step out) and the host side (request out, step in) in one place, so the two
//! cannot drift apart.

#![allow(unsafe_code)]

use crate::abi::{
    Bytes, RawHeader, RawRequest, RawStep, ACTION_DISCONNECT, ACTION_TERMINATE, ACTION_UNBIND,
    OUTCOME_ACCEPTED, OUTCOME_DONE, STEP_DONE, STEP_FAIL, STEP_SEND,
};
use crate::model::{Action, Outcome, Request, Step, Target, TargetField};

#[cfg(feature = "host")]
fn action_code(action: Action) -> u32 {
    match action {
        Action::Disconnect => ACTION_DISCONNECT,
        Action::Terminate => ACTION_TERMINATE,
        Action::Unbind => ACTION_UNBIND,
    }
}

fn action_from_code(code: u32) -> Option<Action> {
    match code {
        ACTION_DISCONNECT => Some(Action::Disconnect),
        ACTION_TERMINATE => Some(Action::Terminate),
        ACTION_UNBIND => Some(Action::Unbind),
        _ => None,
    }
}

/// Reads a borrowed string.
///
/// # Safety
/// `bytes` must describe memory that is readable for the call.
unsafe fn text(bytes: Bytes, what: &str) -> Result<String, String> {
    // SAFETY: caller contract.
    let slice = unsafe { bytes.as_slice() };
    std::str::from_utf8(slice)
        .map(str::to_owned)
        .map_err(|_| format!("{what} is not UTF-8"))
}

/// Reads a borrowed optional string ([`Bytes::NONE`] is `None`).
///
/// # Safety
/// As [`text`].
unsafe fn optional(bytes: Bytes, what: &str) -> Result<Option<String>, String> {
    if bytes.is_some() {
        // SAFETY: caller contract.
        unsafe { text(bytes, what) }.map(Some)
    } else {
        Ok(None)
    }
}

/// A borrowed array as a slice (empty for a null pointer).
///
/// # Safety
/// `ptr` must point to `len` readable values for the call (or be null).
#[cfg(feature = "host")]
unsafe fn array<'a, T>(ptr: *const T, len: usize) -> &'a [T] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: caller contract.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Host side: a view of a request, valid while `request` is.
#[cfg(feature = "host")]
pub(crate) fn request_view(request: &Request) -> RawRequest {
    let mut target = [Bytes::NONE; crate::abi::TARGET_FIELDS];
    for (slot, field) in target.iter_mut().zip(TargetField::ALL) {
        *slot = Bytes::from_opt(request.target.get(field));
    }
    RawRequest {
        request_id: Bytes::from_slice(request.request_id.as_bytes()),
        action: action_code(request.action),
        target,
        reason: Bytes::from_opt(request.reason.as_deref()),
    }
}

/// Plugin side: the request a view describes.
///
/// # Safety
/// Every pointer in `raw` must be readable for the call.
pub(crate) unsafe fn request_from_view(raw: &RawRequest) -> Result<Request, String> {
    let action = action_from_code(raw.action)
        .ok_or_else(|| format!("unknown action code {}", raw.action))?;
    let mut target = Target::default();
    for (field, value) in TargetField::ALL.into_iter().zip(raw.target) {
        // SAFETY: caller contract.
        *target.slot(field) = unsafe { optional(value, field.as_str()) }?;
    }
    Ok(Request {
        // SAFETY: caller contract.
        request_id: unsafe { text(raw.request_id, "request_id") }?,
        action,
        target,
        // SAFETY: caller contract.
        reason: unsafe { optional(raw.reason, "reason") }?,
    })
}

/// Room for a typical final step's `vendor` object (a status, a request id, a message).
const VENDOR_CAPACITY: usize = 256;

/// Plugin side: the storage a [`RawStep`] points into, kept in the flow between calls so
/// its vectors are reused by every step of the flow.
#[derive(Default)]
pub(crate) struct StepStore {
    headers: Vec<RawHeader>,
    redact: Vec<Bytes>,
    vendor: Vec<u8>,
}

impl StepStore {
    /// A view of `step`, pointing into `step` and into `self`: valid while neither is
    /// changed or dropped.
    pub(crate) fn view(&mut self, step: &Step) -> Result<RawStep, String> {
        self.headers.clear();
        self.redact.clear();
        self.vendor.clear();
        if !matches!(step, Step::Send(_)) {
            // One allocation for a typical vendor object instead of doubling from 8 bytes.
            self.vendor.reserve(VENDOR_CAPACITY);
        }
        match step {
            Step::Send(request) => {
                self.headers
                    .extend(request.headers.iter().map(|(name, value)| RawHeader {
                        name: Bytes::from_slice(name.as_bytes()),
                        value: Bytes::from_slice(value.as_bytes()),
                    }));
                self.redact.extend(
                    request
                        .redact
                        .iter()
                        .map(|secret| Bytes::from_slice(secret.as_bytes())),
                );
                Ok(RawStep {
                    idempotent: u32::from(request.idempotent),
                    method: Bytes::from_slice(request.method.as_bytes()),
                    url: Bytes::from_slice(request.url.as_bytes()),
                    headers: self.headers.as_ptr(),
                    headers_len: self.headers.len(),
                    body: Bytes::from_slice(request.body.as_bytes()),
                    timeout_ms: request.timeout_ms.unwrap_or(0),
                    share: Bytes::from_opt(request.share.as_deref()),
                    purpose: Bytes::from_opt(request.purpose.as_deref()),
                    redact: self.redact.as_ptr(),
                    redact_len: self.redact.len(),
                    ..RawStep::empty(STEP_SEND)
                })
            }
            Step::Done(success) => {
                serde_json::to_writer(&mut self.vendor, &success.vendor)
                    .map_err(|e| format!("cannot encode the vendor object: {e}"))?;
                Ok(RawStep {
                    outcome: match success.outcome {
                        Outcome::Done => OUTCOME_DONE,
                        Outcome::Accepted => OUTCOME_ACCEPTED,
                    },
                    vendor: Bytes::from_slice(&self.vendor),
                    ..RawStep::empty(STEP_DONE)
                })
            }
            Step::Fail(problem) => {
                let vendor = match &problem.vendor {
                    Some(map) => {
                        serde_json::to_writer(&mut self.vendor, map)
                            .map_err(|e| format!("cannot encode the vendor object: {e}"))?;
                        Bytes::from_slice(&self.vendor)
                    }
                    None => Bytes::NONE,
                };
                Ok(RawStep {
                    retryable: u32::from(problem.retryable),
                    problem: Bytes::from_slice(problem.code.as_str().as_bytes()),
                    detail: Bytes::from_slice(problem.detail.as_bytes()),
                    retry_after: Bytes::from_opt(problem.retry_after.as_deref()),
                    vendor,
                    ..RawStep::empty(STEP_FAIL)
                })
            }
        }
    }
}

/// Host side: the step a view describes, copied out (the view dies with the plugin's next
/// call on the flow).
///
/// # Safety
/// Every pointer in `raw` must be readable for the call.
#[cfg(feature = "host")]
pub(crate) unsafe fn step_from_view(raw: &RawStep) -> Result<Step, String> {
    use crate::model::{Problem, ProblemCode, Success, VendorRequest};
    use serde_json::{Map, Value};

    // SAFETY (every block below): caller contract — the view's pointers are readable.
    let vendor = |bytes: Bytes| -> Result<Option<Map<String, Value>>, String> {
        if !bytes.is_some() {
            return Ok(None);
        }
        serde_json::from_slice(unsafe { bytes.as_slice() })
            .map(Some)
            .map_err(|e| format!("the step's vendor object is unreadable: {e}"))
    };
    match raw.kind {
        STEP_SEND => {
            let headers = unsafe { array(raw.headers, raw.headers_len) }
                .iter()
                .map(|h| {
                    Ok((unsafe { text(h.name, "a header name") }?, unsafe {
                        text(h.value, "a header value")
                    }?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let redact = unsafe { array(raw.redact, raw.redact_len) }
                .iter()
                .map(|secret| unsafe { text(*secret, "a redacted string") })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Step::Send(VendorRequest {
                method: unsafe { text(raw.method, "the method") }?,
                url: unsafe { text(raw.url, "the URL") }?,
                headers,
                body: unsafe { text(raw.body, "the body") }?,
                idempotent: raw.idempotent != 0,
                timeout_ms: (raw.timeout_ms != 0).then_some(raw.timeout_ms),
                share: unsafe { optional(raw.share, "the share key") }?,
                purpose: unsafe { optional(raw.purpose, "the purpose") }?,
                redact,
            }))
        }
        STEP_DONE => Ok(Step::Done(Success {
            outcome: match raw.outcome {
                OUTCOME_DONE => Outcome::Done,
                OUTCOME_ACCEPTED => Outcome::Accepted,
                other => return Err(format!("unknown outcome code {other}")),
            },
            vendor: vendor(raw.vendor)?.unwrap_or_default(),
        })),
        STEP_FAIL => {
            let name = unsafe { text(raw.problem, "the problem code") }?;
            let code = ProblemCode::parse(&name)
                .ok_or_else(|| format!("unknown problem code {name:?}"))?;
            Ok(Step::Fail(Problem {
                code,
                detail: unsafe { text(raw.detail, "the detail") }?,
                vendor: vendor(raw.vendor)?,
                retryable: raw.retryable != 0,
                retry_after: unsafe { optional(raw.retry_after, "retry_after") }?,
            }))
        }
        other => Err(format!("unknown step kind {other}")),
    }
}

#[cfg(all(test, feature = "host"))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::{Problem, ProblemCode, Success, VendorRequest};
    use serde_json::json;

    fn round_trip(step: &Step) -> Step {
        let mut store = StepStore::default();
        let raw = store.view(step).unwrap();
        // SAFETY: the view points into `step` and `store`, both alive here.
        unsafe { step_from_view(&raw) }.unwrap()
    }

    #[test]
    fn every_step_survives_the_view_unchanged() {
        let mut send = VendorRequest::new("POST", "https://h/a?b=c".into())
            .header("authorization", "Bearer t")
            .header("x-empty", "")
            .body("{\"k\":\"ü\"}")
            .idempotent(true)
            .purpose("token")
            .share("token")
            .redact("t")
            .redact("");
        send.timeout_ms = Some(250);
        let bare = VendorRequest::new("GET", "http://h/".into());
        let done = Step::Done(Success {
            outcome: Outcome::Accepted,
            vendor: json!({"status": 202, "ids": ["a", "b"]})
                .as_object()
                .unwrap()
                .clone(),
        });
        let fail = Step::Fail(Problem {
            retry_after: Some("7".into()),
            ..Problem::new(ProblemCode::RateLimited, "slow down")
                .with_vendor(json!({"code": 429}).as_object().unwrap().clone())
                .retryable()
        });
        let plain_fail = Step::Fail(Problem::new(ProblemCode::TargetNotFound, ""));
        for step in [
            Step::Send(send),
            Step::Send(bare),
            Step::Done(Success {
                outcome: Outcome::Done,
                vendor: serde_json::Map::new(),
            }),
            done,
            fail,
            plain_fail,
        ] {
            assert_eq!(round_trip(&step), step);
        }
    }

    #[test]
    fn absent_and_empty_strings_stay_apart() {
        let mut request = Request {
            request_id: "r-1".into(),
            action: Action::Terminate,
            target: Target::default(),
            reason: Some(String::new()),
        };
        request.target.user_id = Some("alice".into());
        request.target.host_id = Some(String::new());
        let raw = request_view(&request);
        // SAFETY: the view points into `request`, alive here.
        assert_eq!(unsafe { request_from_view(&raw) }.unwrap(), request);
        request.reason = None;
        let raw = request_view(&request);
        // SAFETY: as above.
        assert_eq!(unsafe { request_from_view(&raw) }.unwrap(), request);
    }

    #[test]
    fn a_view_the_host_cannot_read_is_refused_with_the_reason() {
        let bad_utf8 = [0xffu8, 0xfe];
        let raw = RawStep {
            method: Bytes::from_slice(b"GET"),
            url: Bytes::from_slice(&bad_utf8),
            ..RawStep::empty(STEP_SEND)
        };
        // SAFETY: every pointer in the view is a live local.
        let error = unsafe { step_from_view(&raw) }.unwrap_err();
        assert_eq!(error, "the URL is not UTF-8");
        // SAFETY: no pointers.
        let error = unsafe { step_from_view(&RawStep::empty(9)) }.unwrap_err();
        assert_eq!(error, "unknown step kind 9");
        let raw = RawStep {
            problem: Bytes::from_slice(b"no_such_code"),
            ..RawStep::empty(STEP_FAIL)
        };
        // SAFETY: as above.
        let error = unsafe { step_from_view(&raw) }.unwrap_err();
        assert_eq!(error, "unknown problem code \"no_such_code\"");
        let request = Request {
            request_id: "r".into(),
            action: Action::Disconnect,
            target: Target::default(),
            reason: None,
        };
        let mut raw = request_view(&request);
        raw.action = 0;
        // SAFETY: the view points into `request`, alive here.
        let error = unsafe { request_from_view(&raw) }.unwrap_err();
        assert_eq!(error, "unknown action code 0");
    }
}
