//! What the fuzz targets share: driving an adapter through the plugin ABI — the same
//! descriptor functions (`static_descriptor!`) and the same host code (`sever_engine::host`)
//! as a loaded `.so` — with vendor answers made from the fuzzer's bytes.
//!
//! A flow is started with one of the adapter's valid canonical requests, then resumed with
//! arbitrary answers of the kind each step asks for (HTTP statuses, headers and bodies;
//! Redis replies; SQL rows, errors and notices; MQTT reason codes and messages; NATS
//! replies), now and then a retry, for as long as it asks for another exchange, at most
//! [`MAX_STEPS`] times. Every step must be a readable `Step`; a caught plugin panic, a
//! `Step` the host cannot read, or a `done` in a flow where no answer succeeded is a crash.

use std::path::Path;
use std::sync::Arc;

use arbitrary::{Result, Unstructured};
use serde_json::{json, Value};
use sever_engine::host::{self, Instance, Plugin, Resume};
use sever_plugin_sdk::abi::StaticDescriptor;
use sever_plugin_sdk::{
    BackendSpec, Env, MqttResult, NatsReplies, RedisReply, Request, SqlMessage, SqlResult,
    SqlValue, Step,
};

/// Vendor answers fed to one flow at most (PrivX and RabbitMQ take two calls; retries and
/// token refreshes add some).
pub const MAX_STEPS: usize = 6;

/// Statuses vendors answer with, to draw from more often than an arbitrary `u16`.
const STATUSES: &[u16] = &[
    200, 201, 202, 204, 301, 400, 401, 403, 404, 405, 409, 415, 422, 429, 500, 502, 503, 504,
];
/// Header names the adapters read.
const HEADERS: &[&str] = &[
    "content-type",
    "retry-after",
    "x-request-id",
    "x-acs-request-id",
    "www-authenticate",
    "content-length",
    "location",
    "x-amzn-errortype",
    "x-amzn-requestid",
    "request-id",
    "x-okta-request-id",
    "x-rate-limit-reset",
    "date",
];
/// Content types the adapters tell apart.
const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/problem+json",
    "text/html",
    "text/plain",
    "",
];

/// One adapter set up for fuzzing: a backend instance and the canonical requests (already
/// fitted to its target fields) a flow may start from.
pub struct Adapter {
    instance: Instance,
    requests: Vec<Request>,
}

impl Adapter {
    /// Checks and registers `descriptor` the way the host loads a library, creates one
    /// backend with `settings`, and keeps `requests` (`(action, target)` pairs) as the
    /// plugin's `Request`s. Panics on a bad setup: that is a bug in the target.
    pub fn new(descriptor: StaticDescriptor, settings: Value, requests: &[Value]) -> Self {
        let plugin: Arc<Plugin> = match host::load_static(descriptor, Path::new("<fuzz>")) {
            Ok(plugin) => plugin,
            Err(err) => panic!("cannot register the adapter: {err}"),
        };
        let Value::Object(settings) = settings else {
            panic!("settings must be a JSON object");
        };
        let spec = BackendSpec {
            name: "fuzzed".into(),
            url: "http://127.0.0.1:9".into(),
            settings,
        };
        let instance = match plugin.instantiate(&spec) {
            Ok(instance) => instance,
            Err(err) => panic!("the adapter refused its fuzzing settings: {err:?}"),
        };
        let requests = requests
            .iter()
            .map(|r| {
                let request = json!({
                    "request_id": "fuzz-0001",
                    "action": r["action"],
                    "target": r["target"],
                    "reason": "fuzzing",
                });
                match serde_json::from_value::<Request>(request) {
                    Ok(request) => request,
                    Err(err) => panic!("not a plugin request: {r}: {err}"),
                }
            })
            .collect();
        Adapter { instance, requests }
    }

    /// Runs one flow on the fuzzer's bytes.
    pub fn run(&self, data: &[u8]) {
        let mut u = Unstructured::new(data);
        // Running out of bytes ends the flow early; that is not a finding.
        let _ = self.flow(&mut u);
    }

    fn flow(&self, u: &mut Unstructured<'_>) -> Result<()> {
        let env = env(u)?;
        let request = u.choose(&self.requests)?;
        let (mut flow, mut step) = match self.instance.start(request, &env) {
            Ok(started) => started,
            Err(fault) => panic!("flow_start failed: {fault}"),
        };
        let mut answered_2xx = false;
        for _ in 0..MAX_STEPS {
            let env = env_after(u, &env)?;
            if u.ratio(1, 10)? && step.exchange().is_some() {
                let attempt = u.int_in_range(1..=3)?;
                step = resumed(flow.resume(Resume::Retry { attempt }, &env));
                continue;
            }
            // One arm per step kind: the answer the host would resume the flow with. A new
            // kind adds its arm here; the adapters' targets stay as they are.
            let answer = match &step {
                Step::Send(_) => Reply::Http(Answer::arbitrary(u)?),
                Step::Redis(_) => Reply::Redis(redis_reply(u)?),
                Step::Sql(_) => Reply::Sql(sql_result(u)?),
                Step::Mqtt(_) => Reply::Mqtt(MqttResult {
                    connack_reason: *u.choose(&[0, 0, 0, 0x86, 0x87])?,
                    puback_reason: *u.choose(&[0, 0, 0, 0x87, 0x80])?,
                    messages: strings(u)?,
                }),
                Step::Nats(_) => Reply::Nats(NatsReplies {
                    no_responders: u.ratio(1, 8)?,
                    error: if u.ratio(1, 8)? { Some(u.arbitrary()?) } else { None },
                    replies: strings(u)?,
                }),
                Step::Done(_) | Step::Fail(_) => return Ok(()),
            };
            answered_2xx |= answer.succeeded();
            step = resumed(flow.resume(answer.as_resume(), &env));
            if let Step::Done(_) = &step {
                assert!(
                    answered_2xx,
                    "done without any successful vendor answer (last: {answer:?})"
                );
            }
        }
        Ok(())
    }
}

/// The step a resume gave; panics (a finding) when the plugin panicked or its step could
/// not be read.
fn resumed(result: std::result::Result<Step, host::PluginFault>) -> Step {
    match result {
        Ok(step) => step,
        Err(fault) => panic!("flow_resume failed: {fault}"),
    }
}

fn env(u: &mut Unstructured<'_>) -> Result<Env> {
    Ok(Env {
        unix_ms: 1_700_000_000_000 + u64::from(u.arbitrary::<u32>()?),
        random: u.arbitrary()?,
    })
}

fn env_after(u: &mut Unstructured<'_>, before: &Env) -> Result<Env> {
    Ok(Env {
        unix_ms: before.unix_ms + u64::from(u.arbitrary::<u16>()?),
        random: u.arbitrary()?,
    })
}

/// An answer to any exchange kind, made from the fuzzer's bytes.
#[derive(Debug)]
enum Reply {
    Http(Answer),
    Redis(RedisReply),
    Sql(SqlResult),
    Mqtt(MqttResult),
    Nats(NatsReplies),
}

impl Reply {
    /// An answer that may end a flow `done`: an HTTP 2xx, or any answer beyond HTTP that
    /// is not an error (those vendors have no statuses: the adapter reads the content).
    fn succeeded(&self) -> bool {
        match self {
            Reply::Http(a) => (200..300).contains(&a.status),
            Reply::Redis(r) => !matches!(r, RedisReply::Error(_)),
            Reply::Sql(r) => r.error.is_none(),
            Reply::Mqtt(r) => r.connack_reason == 0 && r.puback_reason == 0,
            Reply::Nats(r) => r.error.is_none() && !r.no_responders,
        }
    }

    fn as_resume(&self) -> Resume<'_> {
        match self {
            Reply::Http(a) => a.as_resume(),
            Reply::Redis(r) => Resume::Redis(r),
            Reply::Sql(r) => Resume::Sql(r),
            Reply::Mqtt(r) => Resume::Mqtt(r),
            Reply::Nats(r) => Resume::Nats(r),
        }
    }
}

/// A few strings, mostly JSON-ish, from the fuzzer's bytes.
fn strings(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    (0..u.int_in_range(0..=3)?).map(|_| u.arbitrary()).collect()
}

fn redis_reply(u: &mut Unstructured<'_>) -> Result<RedisReply> {
    Ok(match u.int_in_range(0..=5)? {
        0 => RedisReply::Integer(u.arbitrary()?),
        1 => RedisReply::Simple(u.arbitrary()?),
        2 => RedisReply::Bulk(u.arbitrary()?),
        3 => RedisReply::Nil,
        4 => RedisReply::Error(u.arbitrary()?),
        _ => RedisReply::Array(strings(u)?),
    })
}

fn sql_value(u: &mut Unstructured<'_>) -> Result<SqlValue> {
    Ok(match u.int_in_range(0..=4)? {
        0 => SqlValue::Null,
        1 => SqlValue::Bool(u.arbitrary()?),
        2 => SqlValue::Int4(u.arbitrary()?),
        3 => SqlValue::Int8(u.arbitrary()?),
        _ => SqlValue::Text(u.arbitrary()?),
    })
}

fn sql_result(u: &mut Unstructured<'_>) -> Result<SqlResult> {
    let message = |u: &mut Unstructured<'_>| -> Result<SqlMessage> {
        Ok(SqlMessage {
            severity: (*u.choose(&["ERROR", "FATAL", "WARNING"])?).to_owned(),
            code: (*u.choose(&["42501", "28P01", "22003", "53300", "01000", "XX000"])?).to_owned(),
            message: u.arbitrary()?,
            detail: None,
        })
    };
    let columns = u.int_in_range(1..=3)?;
    let rows = (0..u.int_in_range(0..=3)?)
        .map(|_| (0..columns).map(|_| sql_value(u)).collect())
        .collect::<Result<Vec<Vec<SqlValue>>>>()?;
    Ok(SqlResult {
        error: if u.ratio(1, 4)? { Some(message(u)?) } else { None },
        rows,
        notices: (0..u.int_in_range(0..=1)?).map(|_| message(u)).collect::<Result<_>>()?,
    })
}

/// One vendor HTTP answer made from the fuzzer's bytes.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Answer {
    fn arbitrary(u: &mut Unstructured<'_>) -> Result<Self> {
        // An HTTP status is three digits: the host never reads another.
        let status = if u.ratio(7, 8)? {
            *u.choose(STATUSES)?
        } else {
            u.int_in_range(100..=999)?
        };
        let mut headers = Vec::new();
        let content_type = u.choose(CONTENT_TYPES)?;
        if !content_type.is_empty() {
            headers.push(("content-type".to_owned(), content_type.as_bytes().to_vec()));
        }
        for _ in 0..u.int_in_range(0..=3)? {
            let name = if u.ratio(3, 4)? {
                (*u.choose(HEADERS)?).to_owned()
            } else {
                u.arbitrary::<String>()?
            };
            headers.push((name, u.arbitrary::<Vec<u8>>()?));
        }
        let body = u.arbitrary::<Vec<u8>>()?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn as_resume(&self) -> Resume<'_> {
        Resume::Response {
            status: self.status,
            headers: &self.headers,
            body: &self.body,
        }
    }
}
