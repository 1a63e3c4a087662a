//! Steps: written by the plugin (into storage it keeps in the flow), read and copied out
//! by the host.

use super::{array, optional, read_payload, text};
use crate::kinds::StepKind;
use crate::model::{Outcome, Problem, ProblemKind, Step, Success, VendorRequest};
use crate::raw::{
    SeverBytes, SeverDone, SeverExchange, SeverFail, SeverHeader, SeverHttpRequest, SeverStep,
};
use serde_json::{Map, Value};
use std::ffi::c_void;

/// Room for a typical final step's `vendor` object (a status, a request id, a message).
const VENDOR_CAPACITY: usize = 256;

/// Plugin side: the storage a [`SeverStep`] and its payload point into, kept in the flow
/// between calls so that its vectors are reused by every step of the flow.
#[derive(Debug)]
pub struct StepStore {
    headers: Vec<SeverHeader>,
    redact: Vec<SeverBytes>,
    vendor: Vec<u8>,
    http: SeverHttpRequest,
    done: SeverDone,
    fail: SeverFail,
}

impl Default for StepStore {
    fn default() -> Self {
        let exchange = SeverExchange {
            idempotent: 0,
            reserved: 0,
            timeout_ms: 0,
            share: SeverBytes::NONE,
            purpose: SeverBytes::NONE,
            redact: std::ptr::null(),
            redact_len: 0,
        };
        StepStore {
            headers: Vec::new(),
            redact: Vec::new(),
            vendor: Vec::new(),
            http: SeverHttpRequest {
                exchange,
                method: SeverBytes::NONE,
                url: SeverBytes::NONE,
                headers: std::ptr::null(),
                headers_len: 0,
                body: SeverBytes::NONE,
            },
            done: SeverDone {
                outcome: 0,
                reserved: 0,
                vendor: SeverBytes::NONE,
            },
            fail: SeverFail {
                problem: 0,
                retryable: 0,
                detail: SeverBytes::NONE,
                retry_after: SeverBytes::NONE,
                vendor: SeverBytes::NONE,
            },
        }
    }
}

// SAFETY: the raw pointers in the store point into the store itself or into the step it
// was last given, both owned by the same flow and moved with it; a flow is used by one
// thread at a time.
unsafe impl Send for StepStore {}

fn payload<T>(kind: StepKind, payload: &T) -> SeverStep {
    SeverStep {
        kind: kind.code(),
        size: std::mem::size_of::<T>() as u32,
        payload: (payload as *const T).cast::<c_void>(),
    }
}

impl StepStore {
    /// A view of `step`, pointing into `step` and into `self`: valid while neither is
    /// changed, moved or dropped.
    pub fn view(&mut self, step: &Step) -> Result<SeverStep, String> {
        self.headers.clear();
        self.redact.clear();
        self.vendor.clear();
        match step {
            Step::Send(request) => {
                self.headers
                    .extend(request.headers.iter().map(|(name, value)| SeverHeader {
                        name: SeverBytes::from_slice(name.as_bytes()),
                        value: SeverBytes::from_slice(value.as_bytes()),
                    }));
                self.redact.extend(
                    request
                        .redact
                        .iter()
                        .map(|secret| SeverBytes::from_slice(secret.as_bytes())),
                );
                self.http = SeverHttpRequest {
                    exchange: SeverExchange {
                        idempotent: u32::from(request.idempotent),
                        reserved: 0,
                        timeout_ms: request.timeout_ms.unwrap_or(0),
                        share: SeverBytes::from_opt(request.share.as_deref()),
                        purpose: SeverBytes::from_opt(request.purpose.as_deref()),
                        redact: self.redact.as_ptr(),
                        redact_len: self.redact.len(),
                    },
                    method: SeverBytes::from_slice(request.method.as_bytes()),
                    url: SeverBytes::from_slice(request.url.as_bytes()),
                    headers: self.headers.as_ptr(),
                    headers_len: self.headers.len(),
                    body: SeverBytes::from_slice(request.body.as_bytes()),
                };
                Ok(payload(StepKind::Http, &self.http))
            }
            Step::Done(success) => {
                // One allocation for a typical vendor object instead of doubling from 8.
                self.vendor.reserve(VENDOR_CAPACITY);
                serde_json::to_writer(&mut self.vendor, &success.vendor)
                    .map_err(|e| format!("cannot encode the vendor object: {e}"))?;
                self.done = SeverDone {
                    outcome: success.outcome.code(),
                    reserved: 0,
                    vendor: SeverBytes::from_slice(&self.vendor),
                };
                Ok(payload(StepKind::Done, &self.done))
            }
            Step::Fail(problem) => {
                let vendor = match &problem.vendor {
                    Some(map) => {
                        self.vendor.reserve(VENDOR_CAPACITY);
                        serde_json::to_writer(&mut self.vendor, map)
                            .map_err(|e| format!("cannot encode the vendor object: {e}"))?;
                        SeverBytes::from_slice(&self.vendor)
                    }
                    None => SeverBytes::NONE,
                };
                self.fail = SeverFail {
                    problem: problem.kind.code(),
                    retryable: u32::from(problem.retryable),
                    detail: SeverBytes::from_slice(problem.detail.as_bytes()),
                    retry_after: SeverBytes::from_opt(problem.retry_after.as_deref()),
                    vendor,
                };
                Ok(payload(StepKind::Fail, &self.fail))
            }
        }
    }
}

/// Reads a step's `vendor` object.
///
/// # Safety
/// `bytes` must be readable for the call.
unsafe fn vendor(bytes: SeverBytes) -> Result<Option<Map<String, Value>>, String> {
    if !bytes.is_some() {
        return Ok(None);
    }
    // SAFETY: caller contract.
    serde_json::from_slice(unsafe { bytes.as_slice() })
        .map(Some)
        .map_err(|e| format!("the step's vendor object is not a JSON object: {e}"))
}

/// Host side: the step a view describes, copied out (the view dies with the plugin's next
/// call on the flow). An unknown kind, code or non-UTF-8 text is refused with the reason.
///
/// # Safety
/// The view's payload, and every pointer in it, must be readable for the call.
pub unsafe fn step_from_view(raw: &SeverStep) -> Result<Step, String> {
    let kind = StepKind::try_from(raw.kind).map_err(|e| e.to_string())?;
    // SAFETY (every block below): caller contract — the payload and its pointers are
    // readable; `read_payload` checks the size.
    match kind {
        StepKind::Http => {
            let http: SeverHttpRequest =
                unsafe { read_payload(raw.payload, raw.size, "the HTTP step") }?;
            let exchange = http.exchange;
            let headers = unsafe { array(http.headers, http.headers_len) }
                .iter()
                .map(|h| {
                    Ok((
                        unsafe { text(h.name, "a header name") }?.to_owned(),
                        unsafe { text(h.value, "a header value") }?.to_owned(),
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            let redact = unsafe { array(exchange.redact, exchange.redact_len) }
                .iter()
                .map(|secret| unsafe { text(*secret, "a redacted string") }.map(str::to_owned))
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Step::Send(VendorRequest {
                method: unsafe { text(http.method, "the method") }?.to_owned(),
                url: unsafe { text(http.url, "the URL") }?.to_owned(),
                headers,
                body: unsafe { text(http.body, "the body") }?.to_owned(),
                idempotent: exchange.idempotent != 0,
                timeout_ms: (exchange.timeout_ms != 0).then_some(exchange.timeout_ms),
                share: unsafe { optional(exchange.share, "the share key") }?.map(str::to_owned),
                purpose: unsafe { optional(exchange.purpose, "the purpose") }?.map(str::to_owned),
                redact,
            }))
        }
        StepKind::Done => {
            let done: SeverDone = unsafe { read_payload(raw.payload, raw.size, "the done step") }?;
            Ok(Step::Done(Success {
                outcome: Outcome::try_from(done.outcome).map_err(|e| e.to_string())?,
                vendor: unsafe { vendor(done.vendor) }?.unwrap_or_default(),
            }))
        }
        StepKind::Fail => {
            let fail: SeverFail = unsafe { read_payload(raw.payload, raw.size, "the fail step") }?;
            Ok(Step::Fail(Problem {
                kind: ProblemKind::try_from(fail.problem).map_err(|e| e.to_string())?,
                detail: unsafe { text(fail.detail, "the detail") }?.to_owned(),
                vendor: unsafe { vendor(fail.vendor) }?,
                retryable: fail.retryable != 0,
                retry_after: unsafe { optional(fail.retry_after, "retry_after") }?
                    .map(str::to_owned),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
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
            ..Problem::new(ProblemKind::RateLimited, "slow down")
                .with_vendor(json!({"code": 429}).as_object().unwrap().clone())
                .retryable()
        });
        let plain_fail = Step::Fail(Problem::new(ProblemKind::TargetNotFound, ""));
        let mut steps = vec![
            Step::Send(send),
            Step::Send(bare),
            Step::Done(Success {
                outcome: Outcome::Done,
                vendor: Map::new(),
            }),
            done,
            fail,
            plain_fail,
        ];
        steps.extend(
            ProblemKind::ALL
                .iter()
                .map(|kind| Step::Fail(Problem::new(*kind, kind.as_str()))),
        );
        for step in steps {
            assert_eq!(round_trip(&step), step);
        }
    }

    #[test]
    fn a_view_the_host_cannot_read_is_refused_with_the_reason() {
        fn refuse<T>(kind: StepKind, payload: &T, size: usize) -> String {
            let raw = SeverStep {
                kind: kind.code(),
                size: size as u32,
                payload: (payload as *const T).cast(),
            };
            // SAFETY: the payload is a live local whose pointers point at live locals.
            unsafe { step_from_view(&raw) }.unwrap_err()
        }
        let bad_utf8 = [0xffu8, 0xfe];
        let mut store = StepStore::default();
        // Alive for the whole test: the payload points into it.
        let get = Step::Send(VendorRequest::new("GET", "http://h/".into()));
        store.view(&get).unwrap();
        let mut http = store.http;
        http.url = SeverBytes::from_slice(&bad_utf8);
        let size = std::mem::size_of::<SeverHttpRequest>();
        assert_eq!(refuse(StepKind::Http, &http, size), "the URL is not UTF-8");
        assert_eq!(
            refuse(StepKind::Http, &http, 16),
            "the HTTP step payload is 16 bytes, less than its 128"
        );
        let null = SeverStep {
            kind: StepKind::Http.code(),
            size: size as u32,
            payload: std::ptr::null(),
        };
        // SAFETY: a null payload is refused before anything is read.
        let error = unsafe { step_from_view(&null) }.unwrap_err();
        assert_eq!(error, "the HTTP step has no payload");
        let unknown = SeverStep { kind: 9, ..null };
        // SAFETY: as above.
        let error = unsafe { step_from_view(&unknown) }.unwrap_err();
        assert_eq!(error, "unknown step kind 9");

        let fail_size = std::mem::size_of::<SeverFail>();
        for problem in [0, 99] {
            let fail = SeverFail {
                problem,
                retryable: 0,
                detail: SeverBytes::from_slice(b"x"),
                retry_after: SeverBytes::NONE,
                vendor: SeverBytes::NONE,
            };
            assert_eq!(
                refuse(StepKind::Fail, &fail, fail_size),
                format!("unknown problem kind {problem}")
            );
        }
        let done_size = std::mem::size_of::<SeverDone>();
        let done = SeverDone {
            outcome: 3,
            reserved: 0,
            vendor: SeverBytes::NONE,
        };
        assert_eq!(
            refuse(StepKind::Done, &done, done_size),
            "unknown outcome code 3"
        );
        let done = SeverDone {
            outcome: 1,
            reserved: 0,
            vendor: SeverBytes::from_slice(b"[1]"),
        };
        assert!(refuse(StepKind::Done, &done, done_size)
            .starts_with("the step's vendor object is not a JSON object"));
    }
}
