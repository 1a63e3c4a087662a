//! Steps: written by the plugin (into storage it keeps in the flow), read and copied out
//! by the host. The exchanges beyond HTTP are in [`super::exchange`].

use super::exchange::{
    mqtt_from_view, mqtt_view, nats_from_view, nats_view, redis_from_view, redis_view,
    sql_from_view, sql_view,
};
use super::{array, optional, read_payload, text};
use crate::kinds::StepKind;
use crate::model::{Outcome, Problem, ProblemKind, Step, Success, VendorRequest};
use crate::raw::{
    SeverBytes, SeverDone, SeverExchange, SeverFail, SeverHeader, SeverHttpRequest,
    SeverMqttRequest, SeverNatsRequest, SeverRedisCommand, SeverSqlQuery, SeverSqlValue, SeverStep,
};
use serde_json::{Map, Value};
use std::ffi::c_void;

/// Room for a typical final step's `vendor` object (a status, a request id, a message).
const VENDOR_CAPACITY: usize = 256;

/// The payload struct a step view points at.
#[derive(Debug)]
enum Payload {
    Empty,
    Http(SeverHttpRequest),
    Done(SeverDone),
    Fail(SeverFail),
    Redis(SeverRedisCommand),
    Sql(SeverSqlQuery),
    Mqtt(SeverMqttRequest),
    Nats(SeverNatsRequest),
}

/// Plugin side: the storage a [`SeverStep`] and its payload point into, kept in the flow
/// between calls so that its vectors are reused by every step of the flow.
#[derive(Debug)]
pub struct StepStore {
    pub(super) headers: Vec<SeverHeader>,
    pub(super) redact: Vec<SeverBytes>,
    /// Arguments (Redis) or correlation strings (MQTT).
    pub(super) list: Vec<SeverBytes>,
    pub(super) values: Vec<SeverSqlValue>,
    vendor: Vec<u8>,
    payload: Payload,
}

impl Default for StepStore {
    fn default() -> Self {
        StepStore {
            headers: Vec::new(),
            redact: Vec::new(),
            list: Vec::new(),
            values: Vec::new(),
            vendor: Vec::new(),
            payload: Payload::Empty,
        }
    }
}

// SAFETY: the raw pointers in the store point into the store itself or into the step it
// was last given, both owned by the same flow and moved with it; a flow is used by one
// thread at a time.
unsafe impl Send for StepStore {}

fn view_of<T>(kind: StepKind, payload: &T) -> SeverStep {
    SeverStep {
        kind: kind.code(),
        size: std::mem::size_of::<T>() as u32,
        payload: (payload as *const T).cast::<c_void>(),
    }
}

/// Plugin side: the common part of an exchange, with its redacted strings in `redact`.
pub(super) fn exchange_view(
    redact: &mut Vec<SeverBytes>,
    idempotent: bool,
    timeout_ms: Option<u64>,
    share: Option<&str>,
    purpose: Option<&str>,
    secrets: &[String],
) -> SeverExchange {
    redact.extend(secrets.iter().map(|s| SeverBytes::from_slice(s.as_bytes())));
    SeverExchange {
        idempotent: u32::from(idempotent),
        reserved: 0,
        timeout_ms: timeout_ms.unwrap_or(0),
        share: SeverBytes::from_opt(share),
        purpose: SeverBytes::from_opt(purpose),
        redact: redact.as_ptr(),
        redact_len: redact.len(),
    }
}

/// Host side: the common part of an exchange.
///
/// # Safety
/// Every pointer in `raw` must be readable for the call.
pub(super) unsafe fn exchange_from_view(
    raw: &SeverExchange,
) -> Result<crate::model::Exchange, String> {
    // SAFETY (every block): caller contract.
    let redact = unsafe { array(raw.redact, raw.redact_len) }
        .iter()
        .map(|secret| unsafe { text(*secret, "a redacted string") }.map(str::to_owned))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(crate::model::Exchange {
        idempotent: raw.idempotent != 0,
        timeout_ms: (raw.timeout_ms != 0).then_some(raw.timeout_ms),
        share: unsafe { optional(raw.share, "the share key") }?.map(str::to_owned),
        purpose: unsafe { optional(raw.purpose, "the purpose") }?.map(str::to_owned),
        redact,
    })
}

impl StepStore {
    /// A view of `step`, pointing into `step` and into `self`: valid while neither is
    /// changed, moved or dropped.
    pub fn view(&mut self, step: &Step) -> Result<SeverStep, String> {
        self.headers.clear();
        self.redact.clear();
        self.list.clear();
        self.values.clear();
        self.vendor.clear();
        self.payload = match step {
            Step::Send(request) => Payload::Http(self.http_view(request)),
            Step::Done(success) => {
                // One allocation for a typical vendor object instead of doubling from 8.
                self.vendor.reserve(VENDOR_CAPACITY);
                serde_json::to_writer(&mut self.vendor, &success.vendor)
                    .map_err(|e| format!("cannot encode the vendor object: {e}"))?;
                Payload::Done(SeverDone {
                    outcome: success.outcome.code(),
                    reserved: 0,
                    vendor: SeverBytes::from_slice(&self.vendor),
                })
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
                Payload::Fail(SeverFail {
                    problem: problem.kind.code(),
                    retryable: u32::from(problem.retryable),
                    detail: SeverBytes::from_slice(problem.detail.as_bytes()),
                    retry_after: SeverBytes::from_opt(problem.retry_after.as_deref()),
                    vendor,
                })
            }
            Step::Redis(command) => Payload::Redis(redis_view(self, command)),
            Step::Sql(query) => Payload::Sql(sql_view(self, query)),
            Step::Mqtt(request) => Payload::Mqtt(mqtt_view(self, request)),
            Step::Nats(request) => Payload::Nats(nats_view(self, request)),
        };
        Ok(match &self.payload {
            Payload::Http(p) => view_of(StepKind::Http, p),
            Payload::Done(p) => view_of(StepKind::Done, p),
            Payload::Fail(p) => view_of(StepKind::Fail, p),
            Payload::Redis(p) => view_of(StepKind::Redis, p),
            Payload::Sql(p) => view_of(StepKind::Sql, p),
            Payload::Mqtt(p) => view_of(StepKind::Mqtt, p),
            Payload::Nats(p) => view_of(StepKind::Nats, p),
            Payload::Empty => return Err("no step".into()),
        })
    }

    fn http_view(&mut self, request: &VendorRequest) -> SeverHttpRequest {
        self.headers
            .extend(request.headers.iter().map(|(name, value)| SeverHeader {
                name: SeverBytes::from_slice(name.as_bytes()),
                value: SeverBytes::from_slice(value.as_bytes()),
            }));
        let exchange = exchange_view(
            &mut self.redact,
            request.idempotent,
            request.timeout_ms,
            request.share.as_deref(),
            request.purpose.as_deref(),
            &request.redact,
        );
        SeverHttpRequest {
            exchange,
            method: SeverBytes::from_slice(request.method.as_bytes()),
            url: SeverBytes::from_slice(request.url.as_bytes()),
            headers: self.headers.as_ptr(),
            headers_len: self.headers.len(),
            body: SeverBytes::from_slice(request.body.as_bytes()),
        }
    }

    #[cfg(test)]
    fn http_payload(&self) -> Option<SeverHttpRequest> {
        match self.payload {
            Payload::Http(p) => Some(p),
            _ => None,
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
    let (payload, size) = (raw.payload, raw.size);
    // SAFETY (every block below): caller contract — the payload and its pointers are
    // readable; `read_payload` checks the size.
    match kind {
        StepKind::Http => {
            let http: SeverHttpRequest = unsafe { read_payload(payload, size, "the HTTP step") }?;
            let exchange = unsafe { exchange_from_view(&http.exchange) }?;
            let headers = unsafe { array(http.headers, http.headers_len) }
                .iter()
                .map(|h| {
                    Ok((
                        unsafe { text(h.name, "a header name") }?.to_owned(),
                        unsafe { text(h.value, "a header value") }?.to_owned(),
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(Step::Send(VendorRequest {
                method: unsafe { text(http.method, "the method") }?.to_owned(),
                url: unsafe { text(http.url, "the URL") }?.to_owned(),
                headers,
                body: unsafe { text(http.body, "the body") }?.to_owned(),
                idempotent: exchange.idempotent,
                timeout_ms: exchange.timeout_ms,
                share: exchange.share,
                purpose: exchange.purpose,
                redact: exchange.redact,
            }))
        }
        StepKind::Done => {
            let done: SeverDone = unsafe { read_payload(payload, size, "the done step") }?;
            Ok(Step::Done(Success {
                outcome: Outcome::try_from(done.outcome).map_err(|e| e.to_string())?,
                vendor: unsafe { vendor(done.vendor) }?.unwrap_or_default(),
            }))
        }
        StepKind::Fail => {
            let fail: SeverFail = unsafe { read_payload(payload, size, "the fail step") }?;
            Ok(Step::Fail(Problem {
                kind: ProblemKind::try_from(fail.problem).map_err(|e| e.to_string())?,
                detail: unsafe { text(fail.detail, "the detail") }?.to_owned(),
                vendor: unsafe { vendor(fail.vendor) }?,
                retryable: fail.retryable != 0,
                retry_after: unsafe { optional(fail.retry_after, "retry_after") }?
                    .map(str::to_owned),
            }))
        }
        StepKind::Redis => unsafe { redis_from_view(payload, size) }.map(Step::Redis),
        StepKind::Sql => unsafe { sql_from_view(payload, size) }.map(Step::Sql),
        StepKind::Mqtt => unsafe { mqtt_from_view(payload, size) }.map(Step::Mqtt),
        StepKind::Nats => unsafe { nats_from_view(payload, size) }.map(Step::Nats),
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
        let mut http = store.http_payload().unwrap();
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
