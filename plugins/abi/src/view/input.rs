//! Inputs (why a flow is resumed): written by the host, read by the plugin. Both sides
//! keep the usual handful of headers in stack arrays: no allocation per resume.

use super::answer::{
    mqtt_from_input, mqtt_input, nats_from_input, nats_input, redis_from_input, redis_input,
    sql_from_input, sql_input,
};
use super::{array, read_payload};
use crate::kinds::InputKind;
use crate::model::{Input, MqttResult, NatsReplies, RedisReply, SqlResult, VendorResponse};
use crate::raw::{SeverBytes, SeverHeader, SeverHttpResponse, SeverInput, SeverRetry};
use std::ffi::c_void;

/// Headers passed in stack arrays; more go to the heap.
const STACK_HEADERS: usize = 16;

/// Why the host resumes a flow, host side (owned headers, as the vendor client read them).
#[derive(Debug, Clone, Copy)]
pub enum Resume<'a> {
    /// The vendor's HTTP answer. Header names lowercase.
    Response {
        status: u16,
        headers: &'a [(String, Vec<u8>)],
        body: &'a [u8],
    },
    /// Plan the last idempotent exchange again.
    Retry { attempt: u32 },
    /// (3.1) A Redis server's reply.
    Redis(&'a RedisReply),
    /// (3.1) An SQL statement's result.
    Sql(&'a SqlResult),
    /// (3.1) An MQTT broker's answer.
    Mqtt(&'a MqttResult),
    /// (3.1) NATS servers' replies.
    Nats(&'a NatsReplies),
}

fn input<T>(kind: InputKind, payload: &T) -> SeverInput {
    SeverInput {
        kind: kind.code(),
        size: std::mem::size_of::<T>() as u32,
        payload: (payload as *const T).cast::<c_void>(),
    }
}

/// Host side: calls `f` with a view of `resume`, valid for the call.
pub fn with_input_view<R>(resume: Resume<'_>, f: impl FnOnce(&SeverInput) -> R) -> R {
    match resume {
        Resume::Response {
            status,
            headers,
            body,
        } => {
            let views = headers.iter().map(|(n, v)| SeverHeader {
                name: SeverBytes::from_slice(n.as_bytes()),
                value: SeverBytes::from_slice(v),
            });
            let empty = SeverHeader {
                name: SeverBytes::NONE,
                value: SeverBytes::NONE,
            };
            let mut stack = [empty; STACK_HEADERS];
            let heap: Vec<SeverHeader>;
            let raw_headers: &[SeverHeader] = if headers.len() <= STACK_HEADERS {
                for (slot, view) in stack.iter_mut().zip(views) {
                    *slot = view;
                }
                &stack[..headers.len()]
            } else {
                heap = views.collect();
                &heap
            };
            let response = SeverHttpResponse {
                status: u32::from(status),
                reserved: 0,
                headers: raw_headers.as_ptr(),
                headers_len: raw_headers.len(),
                body: SeverBytes::from_slice(body),
            };
            f(&input(InputKind::HttpResponse, &response))
        }
        Resume::Retry { attempt } => f(&input(InputKind::Retry, &SeverRetry { attempt })),
        Resume::Redis(reply) => redis_input(reply, f),
        Resume::Sql(result) => sql_input(result, f),
        Resume::Mqtt(result) => mqtt_input(result, f),
        Resume::Nats(replies) => nats_input(replies, f),
    }
}

/// Plugin side: calls `f` with the input a view describes. Header names that are not
/// UTF-8 are dropped (HTTP names are ASCII); an unknown kind or a status that is not
/// an HTTP status is refused.
///
/// # Safety
/// `raw` must be null (refused) or point to an input whose payload and pointers are
/// readable for the call.
pub unsafe fn with_input<R>(
    raw: *const SeverInput,
    f: impl FnOnce(Input<'_>) -> R,
) -> Result<R, String> {
    if raw.is_null() {
        return Err("no input".into());
    }
    // SAFETY (every block below): caller contract; `read_payload` checks the size.
    let raw = unsafe { *raw };
    match InputKind::try_from(raw.kind).map_err(|e| e.to_string())? {
        InputKind::HttpResponse => {
            let response: SeverHttpResponse =
                unsafe { read_payload(raw.payload, raw.size, "the HTTP response") }?;
            let status = u16::try_from(response.status)
                .ok()
                .filter(|s| (100..=999).contains(s))
                .ok_or_else(|| format!("HTTP status {} out of range", response.status))?;
            let raw_headers = unsafe { array(response.headers, response.headers_len) };
            let readable = raw_headers.iter().filter_map(|h| {
                let (name, value) = unsafe { (h.name.as_slice(), h.value.as_slice()) };
                std::str::from_utf8(name).ok().map(|n| (n, value))
            });
            let mut stack: [(&str, &[u8]); STACK_HEADERS] = [("", &[]); STACK_HEADERS];
            let heap: Vec<(&str, &[u8])>;
            let headers: &[(&str, &[u8])] = if raw_headers.len() <= STACK_HEADERS {
                let mut n = 0;
                for (slot, header) in stack.iter_mut().zip(readable) {
                    *slot = header;
                    n += 1;
                }
                &stack[..n]
            } else {
                heap = readable.collect();
                &heap
            };
            Ok(f(Input::Response(VendorResponse {
                status,
                headers,
                body: unsafe { response.body.as_slice() },
            })))
        }
        InputKind::Retry => {
            let retry: SeverRetry = unsafe { read_payload(raw.payload, raw.size, "the retry") }?;
            Ok(f(Input::Retry {
                attempt: retry.attempt,
            }))
        }
        InputKind::RedisReply => {
            let reply = unsafe { redis_from_input(raw.payload, raw.size) }?;
            Ok(f(Input::Redis(&reply)))
        }
        InputKind::SqlResult => {
            let result = unsafe { sql_from_input(raw.payload, raw.size) }?;
            Ok(f(Input::Sql(&result)))
        }
        InputKind::MqttResult => {
            let result = unsafe { mqtt_from_input(raw.payload, raw.size) }?;
            Ok(f(Input::Mqtt(&result)))
        }
        InputKind::NatsReplies => {
            let replies = unsafe { nats_from_input(raw.payload, raw.size) }?;
            Ok(f(Input::Nats(&replies)))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(resume: Resume<'_>) -> Result<String, String> {
        with_input_view(resume, |raw| {
            // SAFETY: the view is live for the closure.
            unsafe {
                with_input(raw, |input| match input {
                    Input::Response(r) => {
                        let names: Vec<&str> = r.headers.iter().map(|(n, _)| *n).collect();
                        format!("{} {} {}", r.status, names.join(","), r.text())
                    }
                    Input::Retry { attempt } => format!("retry {attempt}"),
                    other => format!("{other:?}"),
                })
            }
        })
    }

    #[test]
    fn every_header_crosses_however_many_there_are() {
        for count in [0, 1, STACK_HEADERS, STACK_HEADERS + 1, 40] {
            let headers: Vec<(String, Vec<u8>)> = (0..count)
                .map(|i| (format!("h{i}"), b"v".to_vec()))
                .collect();
            let expected: Vec<String> = (0..count).map(|i| format!("h{i}")).collect();
            let got = names(Resume::Response {
                status: 204,
                headers: &headers,
                body: b"ok",
            });
            assert_eq!(got.unwrap(), format!("204 {} ok", expected.join(",")));
        }
        assert_eq!(names(Resume::Retry { attempt: 2 }).unwrap(), "retry 2");
    }

    #[test]
    fn an_unknown_input_kind_or_status_is_refused() {
        let retry = SeverRetry { attempt: 1 };
        let unknown = SeverInput {
            kind: 7,
            size: 4,
            payload: (&retry as *const SeverRetry).cast(),
        };
        // SAFETY: points at live locals.
        let error = unsafe { with_input(&unknown, |_| ()) }.unwrap_err();
        assert_eq!(error, "unknown input kind 7");
        let response = SeverHttpResponse {
            status: 70_000,
            reserved: 0,
            headers: std::ptr::null(),
            headers_len: 0,
            body: SeverBytes::NONE,
        };
        let raw = input(InputKind::HttpResponse, &response);
        // SAFETY: as above.
        let error = unsafe { with_input(&raw, |_| ()) }.unwrap_err();
        assert_eq!(error, "HTTP status 70000 out of range");
    }
}
