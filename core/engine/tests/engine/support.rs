//! What the engine's tests share: a scripted adapter linked in (called through the real
//! ABI functions), a fake upstream that records every call and can hold answers behind a
//! gate, a clock that moves only when told, and a [`Sever`] built around them.

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::{json, Value};
use sever_engine::backend::{Backend, TransportError, Upstream, UpstreamResponse};
use sever_engine::clock::{Ambient, Clock, Rng, Sleep, SystemRng};
use sever_engine::config::{self, BackendConfig, BreakerConfig};
use sever_engine::metrics::Metrics;
use sever_engine::problem::Answer;
use sever_engine::Sever;
use sever_plugin_sdk::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub(crate) use crate::scripted::{scripted_plugin, API_KEY, TOKEN, TOKEN_LIFETIME};

// ---------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------

/// A clock that moves only when told. `sleep` moves it by the pause (and notes the pause)
/// instead of waiting.
#[derive(Debug)]
pub(crate) struct ManualClock {
    start: Instant,
    offset: Mutex<Duration>,
    slept: Mutex<Vec<Duration>>,
}

impl ManualClock {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ManualClock {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
            slept: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.offset.lock() += by;
    }

    /// Every pause slept so far.
    pub(crate) fn slept(&self) -> Vec<Duration> {
        self.slept.lock().clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock()
    }

    fn unix_ms(&self) -> u64 {
        1_800_000_000_000 + self.offset.lock().as_millis() as u64
    }

    fn sleep(&self, pause: Duration) -> Sleep {
        self.slept.lock().push(pause);
        self.advance(pause);
        Box::pin(std::future::ready(()))
    }
}

/// The manual clock with the system's randomness.
pub(crate) fn ambient(clock: &Arc<ManualClock>) -> Ambient {
    Ambient {
        clock: Arc::clone(clock) as Arc<dyn Clock>,
        rng: Arc::new(SystemRng) as Arc<dyn Rng>,
    }
}

// ---------------------------------------------------------------------------------------
// The vendor
// ---------------------------------------------------------------------------------------

/// One recorded call: method, URL, headers.
pub(crate) type Call = (String, String, Vec<(String, String)>);

/// Answers a call to `url`, the `n`th to that URL (from 1).
pub(crate) type Script =
    Box<dyn Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync>;

/// Records every request and answers from a script. Each call takes `latency` on the
/// manual clock, if it has one; while the gate is closed, answers wait until it opens.
pub(crate) struct FakeUpstream {
    calls: Mutex<Vec<Call>>,
    /// When each call arrived, on the manual clock (timed upstreams only).
    arrivals: Mutex<Vec<Instant>>,
    script: Script,
    clock: Option<(Arc<ManualClock>, Duration)>,
    gate: watch::Sender<bool>,
    held: watch::Sender<usize>,
}

impl std::fmt::Debug for FakeUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeUpstream")
    }
}

impl FakeUpstream {
    pub(crate) fn new(
        script: impl Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::build(Box::new(script), None)
    }

    /// Every call takes `latency` on `clock`.
    pub(crate) fn timed(
        clock: &Arc<ManualClock>,
        latency: Duration,
        script: impl Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Self::build(Box::new(script), Some((Arc::clone(clock), latency)))
    }

    fn build(script: Script, clock: Option<(Arc<ManualClock>, Duration)>) -> Arc<Self> {
        Arc::new(FakeUpstream {
            calls: Mutex::new(Vec::new()),
            arrivals: Mutex::new(Vec::new()),
            script,
            clock,
            gate: watch::Sender::new(true),
            held: watch::Sender::new(0),
        })
    }

    /// Holds every answer (calls are recorded on arrival) until [`FakeUpstream::open`].
    pub(crate) fn close(&self) {
        self.gate.send_replace(false);
    }

    /// Lets held and later answers go.
    pub(crate) fn open(&self) {
        self.gate.send_replace(true);
    }

    /// Waits until `n` calls are held behind the gate (a test that gets stuck here fails
    /// after 10 s instead of hanging).
    pub(crate) async fn until_held(&self, n: usize) {
        let mut held = self.held.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), held.wait_for(|h| *h >= n));
        assert!(
            matches!(waited.await, Ok(Ok(_))),
            "{n} calls never arrived at the vendor"
        );
    }

    /// When each call arrived, by the manual clock of a [`FakeUpstream::timed`] one.
    pub(crate) fn arrivals(&self) -> Vec<Instant> {
        self.arrivals.lock().clone()
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.calls.lock().clone()
    }

    pub(crate) fn calls_to(&self, needle: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|(_, url, _)| url.contains(needle))
            .collect()
    }
}

#[async_trait]
impl Upstream for FakeUpstream {
    async fn send(
        &self,
        request: &VendorRequest,
        _timeout: Duration,
    ) -> Result<UpstreamResponse, TransportError> {
        let n = {
            let mut calls = self.calls.lock();
            calls.push((
                request.method.clone(),
                request.url.clone(),
                request.headers.clone(),
            ));
            calls.iter().filter(|(_, u, _)| *u == request.url).count()
        };
        if let Some((clock, _)) = &self.clock {
            self.arrivals.lock().push(clock.now());
        }
        let mut gate = self.gate.subscribe();
        if !*gate.borrow() {
            self.held.send_modify(|h| *h += 1);
            let _ = gate.wait_for(|open| *open).await;
            self.held.send_modify(|h| *h -= 1);
        }
        if let Some((clock, latency)) = &self.clock {
            clock.advance(*latency);
        }
        (self.script)(&request.url, n)
    }
}

pub(crate) fn ok(status: u16, body: &str) -> Result<UpstreamResponse, TransportError> {
    Ok(UpstreamResponse {
        status,
        headers: vec![("x-request-id".into(), b"v-1".to_vec())],
        body: body.as_bytes().to_vec(),
    })
}

/// Token requests answer [`TOKEN`]; kicks (and everything else) answer per `kick`.
pub(crate) fn script(
    kick: impl Fn(usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static,
) -> impl Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static {
    move |url, n| {
        if url.ends_with("/token") {
            ok(200, TOKEN)
        } else {
            kick(n)
        }
    }
}

/// The value of header `name` in a recorded call.
pub(crate) fn header<'a>(call: &'a Call, name: &str) -> Option<&'a str> {
    call.2
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------
// A backend alone
// ---------------------------------------------------------------------------------------

/// A scripted backend `b1` at `http://vendor.test`.
pub(crate) fn backend(
    retries: u32,
    breaker: BreakerConfig,
    ambient: Ambient,
    metrics: &Metrics,
) -> Backend {
    let settings = json!({ "api_key": API_KEY });
    let config = BackendConfig {
        name: "b1".into(),
        plugin: "scripted".into(),
        url: "http://vendor.test".into(),
        timeout: Duration::from_secs(1),
        retries,
        max_concurrency: 100,
        breaker,
        tags: vec![],
        settings: settings.as_object().cloned().unwrap_or_default(),
    };
    let instance = scripted_plugin()
        .instantiate(&BackendSpec {
            name: config.name.clone(),
            url: config.url.clone(),
            settings: config.settings.clone(),
        })
        .expect("valid settings");
    Backend::new(&config, instance, metrics, ambient).expect("an HTTP backend")
}

// ---------------------------------------------------------------------------------------
// A whole Sever
// ---------------------------------------------------------------------------------------

/// The bearer token of the test caller `oncall`.
pub(crate) const ONCALL: &[u8] = b"Bearer test";

/// A config with `server_extra` keys (e.g. `", max_in_flight: 1"`), the audit log in
/// `dir`, and `backends` (YAML lines under `backends:`). The caller `oncall` may do
/// anything.
pub(crate) fn config_yaml(dir: &Path, server_extra: &str, backends: &str) -> String {
    format!(
        r#"server: {{ listen: "127.0.0.1:1", request_timeout_ms: 5000 {server_extra} }}
auth:
  tokens:
    - name: oncall
      token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      allow: [ {{ backends: ["*"], actions: [disconnect, terminate, unbind] }} ]
audit: {{ path: "{}" }}
backends:
{backends}"#,
        dir.join("audit.jsonl").display()
    )
}

/// A scripted backend entry for [`config_yaml`].
pub(crate) fn scripted_backend(name: &str, extra: &str) -> String {
    format!(
        "  {name}:\n    plugin: scripted\n    url: \"http://{name}.test\"\n    retries: 0\n    settings: {{ api_key: \"{API_KEY}\" }}\n{extra}"
    )
}

/// A Sever on the manual clock and the fake upstream.
pub(crate) struct TestSever {
    pub(crate) sever: Sever,
    pub(crate) upstream: Arc<FakeUpstream>,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) dir: tempfile::TempDir,
}

impl TestSever {
    /// Builds one from [`config_yaml`]'s pieces.
    pub(crate) fn start(
        server_extra: &str,
        backends: &str,
        clock: Arc<ManualClock>,
        upstream: Arc<FakeUpstream>,
    ) -> TestSever {
        let dir = tempfile::tempdir().expect("temp dir");
        let yaml = config_yaml(dir.path(), server_extra, backends);
        let config = config::parse_str(&yaml, &dir.path().join("sever.yaml"), &|_| None)
            .unwrap_or_else(|e| panic!("invalid test config:\n{e}\n{yaml}"));
        let sever = Sever::builder(config, upstream.clone() as Arc<dyn Upstream>)
            .ambient(ambient(&clock))
            .plugin(scripted_plugin())
            .build()
            .unwrap_or_else(|e| panic!("cannot build:\n{e}"));
        TestSever {
            sever,
            upstream,
            clock,
            dir,
        }
    }

    /// `POST /v1/actions` with `body` as `oncall`, optionally under an `Idempotency-Key`.
    pub(crate) async fn act(&self, body: &Value, key: Option<&str>) -> Reply {
        self.act_traced(body, key, None).await
    }

    /// [`TestSever::act`] with a `traceparent`.
    pub(crate) async fn act_traced(
        &self,
        body: &Value,
        key: Option<&str>,
        traceparent: Option<&str>,
    ) -> Reply {
        let caller = self.sever.authenticate(Some(ONCALL)).expect("oncall");
        let answer = self
            .sever
            .act(
                &caller,
                body.to_string().as_bytes(),
                "req-1",
                traceparent.map(str::as_bytes),
                key.map(str::as_bytes),
            )
            .await;
        Reply::from(answer)
    }

    /// Every audit line written so far.
    pub(crate) fn audit_lines(&self) -> Vec<Value> {
        self.audit_phase("outcome")
    }

    /// The intent lines (written before the first vendor call of a request).
    pub(crate) fn audit_intents(&self) -> Vec<Value> {
        self.audit_phase("intent")
    }

    fn audit_phase(&self, phase: &str) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("an audit line is JSON"))
            .filter(|l| l["phase"] == phase)
            .collect()
    }

    /// The value of the sample of metric `name` with exactly these labels, if any.
    pub(crate) fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let text = String::from_utf8(self.sever.metrics().render()).unwrap_or_default();
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let have: Vec<&str> = if labels.is_empty() {
                Vec::new()
            } else {
                labels.split(',').collect()
            };
            let same =
                have.len() == wanted.len() && wanted.iter().all(|w| have.contains(&w.as_str()));
            same.then(|| value.trim().parse().ok())?
        })
    }
}

/// An answer, with its body parsed.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) json: Value,
}

impl From<Answer> for Reply {
    fn from(answer: Answer) -> Self {
        Reply {
            status: answer.status,
            json: serde_json::from_slice(&answer.body).expect("every answer is JSON"),
            headers: answer.headers,
        }
    }
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a problem answer with this status and code; returns the document.
    pub(crate) fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            (self.status, self.json["code"].as_str()),
            (status, Some(code)),
            "{:#}",
            self.json
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        &self.json
    }
}

/// A disconnect of `client` on `backend`.
pub(crate) fn disconnect(backend: &str, client: &str) -> Value {
    json!({"action": "disconnect", "backend": backend, "target": {"client_id": client}})
}
