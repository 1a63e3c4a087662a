//! The dispatcher against a scripted adapter (linked statically, called through the real
//! ABI functions) and a fake upstream: single flight, retries through the adapter, the
//! deadline, transport failures, plugin panics and dry-run redaction.
#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use parking_lot::Mutex;
use serde_json::json;
use sever_engine::dispatch::{Backend, BackendParams, TransportError, Upstream, UpstreamResponse};
use sever_engine::host;
use sever_engine::metrics::Metrics;
use sever_engine::problem::ProblemCode;
use sever_plugin_sdk::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A token-then-call adapter: `disconnect` fetches a shared bearer token once (cached in
/// the instance), then `POST {url}/kick/{client_id}` with a nonce from the host's random
/// bytes, idempotent. `terminate` by `connection_id` is a single non-idempotent call.
/// A `client_id` of `panic` panics.
struct Scripted {
    url: String,
    api_key: String,
    token: Mutex<Option<String>>,
}

#[derive(Debug, Settings)]
struct ScriptedSettings {
    /// API key
    #[setting(secret)]
    api_key: String,
}

enum Flow {
    Token(String),
    Kick(String),
    Terminate(String),
}

impl Scripted {
    fn kick(&self, client: &str, env: &Env) -> Step {
        let token = self.token.lock().clone().unwrap_or_default();
        let nonce: String = env.random[..8].iter().map(|b| format!("{b:02x}")).collect();
        let url = format!(
            "{}?key={}",
            encode::url_with_segments(&self.url, &["kick", client]),
            encode::component(&self.api_key)
        );
        Step::Send(
            VendorRequest::new("POST", url)
                .header("authorization", format!("Bearer {token}"))
                .header("x-nonce", nonce)
                .idempotent(true)
                .purpose("kick")
                .redact(token),
        )
    }

    fn token_request(&self) -> Step {
        Step::Send(
            VendorRequest::new("GET", format!("{}/token", self.url))
                .share("token")
                .idempotent(true)
                .purpose("token"),
        )
    }

    fn outcome(response: &VendorResponse<'_>) -> Step {
        match response.status {
            200 => Step::Done(Success {
                outcome: Outcome::Done,
                vendor: vendor::vendor_map(response),
            }),
            status => Step::Fail(vendor::problem(
                vendor::kind_for_status(status),
                response,
                None,
                None,
                format!("vendor answered {status}"),
            )),
        }
    }
}

impl Adapter for Scripted {
    const NAME: &'static str = "scripted";
    const VERSION: &'static str = "1.0.0";
    type Settings = ScriptedSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo {
            name: String::new(),
            version: String::new(),
            description: "test adapter".into(),
            transport: Transport::Http,
            url_schemes: Vec::new(),
            actions: vec![
                ActionSpec {
                    action: Action::Disconnect,
                    target_sets: vec![vec![TargetField::ClientId]],
                    optional_fields: vec![],
                    description: String::new(),
                },
                ActionSpec {
                    action: Action::Terminate,
                    target_sets: vec![vec![TargetField::ConnectionId], vec![TargetField::UserId]],
                    optional_fields: vec![],
                    description: String::new(),
                },
            ],
            settings: Vec::new(),
        }
    }

    fn new(
        backend: sever_plugin_sdk::Backend<ScriptedSettings>,
    ) -> Result<Self, Vec<SettingError>> {
        Ok(Scripted {
            url: backend.url,
            api_key: backend.settings.api_key,
            token: Mutex::new(None),
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        if let Some(connection) = &request.target.connection_id {
            let step = Step::Send(VendorRequest::new(
                "DELETE",
                encode::url_with_segments(&self.url, &["connections", connection]),
            ));
            return (Flow::Terminate(connection.clone()), step);
        }
        let client = request.target.field(TargetField::ClientId).to_owned();
        assert_ne!(client, "panic", "scripted panic");
        if self.token.lock().is_some() {
            let step = self.kick(&client, env);
            (Flow::Kick(client), step)
        } else {
            (Flow::Token(client), self.token_request())
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        match (&*flow, input) {
            (Flow::Token(client), Input::Response(r)) if r.status == 200 => {
                *self.token.lock() = Some(r.text().into_owned());
                let client = client.clone();
                let step = self.kick(&client, env);
                *flow = Flow::Kick(client);
                step
            }
            (Flow::Token(_), Input::Response(r)) => Self::outcome(&r),
            (Flow::Token(_), Input::Retry { .. }) => self.token_request(),
            (Flow::Kick(client), Input::Retry { .. }) => self.kick(client, env),
            (Flow::Terminate(c), Input::Retry { .. }) => Step::Send(VendorRequest::new(
                "DELETE",
                encode::url_with_segments(&self.url, &["connections", c]),
            )),
            (_, Input::Response(r)) => Self::outcome(&r),
            (_, _) => unreachable!("scripted: only HTTP exchanges are planned"),
        }
    }
}

/// One recorded call: method, URL, headers.
type Call = (String, String, Vec<(String, String)>);

type Answer = Box<dyn Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync>;

/// Records every request; answers with a script keyed by path and call number.
struct FakeUpstream {
    calls: Mutex<Vec<Call>>,
    answer: Answer,
    delay: Duration,
}

impl std::fmt::Debug for FakeUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FakeUpstream")
    }
}

impl FakeUpstream {
    fn new(
        answer: impl Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(FakeUpstream {
            calls: Mutex::new(Vec::new()),
            answer: Box::new(answer),
            delay: Duration::ZERO,
        })
    }

    fn calls_to(&self, needle: &str) -> Vec<Call> {
        self.calls
            .lock()
            .iter()
            .filter(|(_, url, _)| url.contains(needle))
            .cloned()
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
        tokio::time::sleep(self.delay).await;
        (self.answer)(&request.url, n)
    }
}

fn ok(status: u16, body: &str) -> Result<UpstreamResponse, TransportError> {
    Ok(UpstreamResponse {
        status,
        headers: vec![("x-request-id".into(), b"v-1".to_vec())],
        body: body.as_bytes().to_vec(),
    })
}

fn backend(retries: u32, metrics: &Metrics) -> Arc<Backend> {
    let plugin = host::load_static(
        sever_plugin_sdk::static_descriptor!(Scripted),
        Path::new("<static scripted>"),
    )
    .unwrap();
    let instance = plugin
        .instantiate(&BackendSpec {
            name: "b1".into(),
            url: "http://vendor.test".into(),
            settings: json!({"api_key": "KEY s3cret/+"})
                .as_object()
                .unwrap()
                .clone(),
        })
        .unwrap();
    let params = BackendParams {
        name: "b1".into(),
        url: "http://vendor.test".into(),
        tags: vec![],
        timeout: Duration::from_secs(1),
        retries,
        max_concurrency: 100,
        breaker: Default::default(),
        secrets: vec!["KEY s3cret/+".into()],
    };
    Arc::new(Backend::new(params, instance, metrics))
}

fn request(target: Target) -> Request {
    Request {
        request_id: "r".into(),
        action: if target.client_id.is_some() {
            Action::Disconnect
        } else {
            Action::Terminate
        },
        target,
        reason: None,
    }
}

fn client(id: &str) -> Request {
    request(Target {
        client_id: Some(id.into()),
        ..Target::default()
    })
}

fn trace() -> sever_engine::trace::TraceContext {
    sever_engine::trace::TraceContext::continue_or_start(None)
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

/// Token requests answer a token; kicks answer per `kick`.
fn script(
    kick: impl Fn(usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static,
) -> impl Fn(&str, usize) -> Result<UpstreamResponse, TransportError> + Send + Sync + 'static {
    move |url, n| {
        if url.ends_with("/token") {
            ok(200, "tok-abc")
        } else {
            kick(n)
        }
    }
}

#[tokio::test]
async fn a_cold_token_cache_under_a_burst_sends_one_token_request() {
    let metrics = Metrics::new();
    let b = backend(0, &metrics);
    let mut upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    Arc::get_mut(&mut upstream).unwrap().delay = Duration::from_millis(50);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let (b, u) = (Arc::clone(&b), Arc::clone(&upstream));
        tasks.spawn(async move {
            b.run(u.as_ref(), &client(&format!("c{i}")), soon(), &trace())
                .await
        });
    }
    let mut done = 0;
    while let Some(result) = tasks.join_next().await {
        let (success, _) = result.unwrap().unwrap();
        assert_eq!(success.outcome, Outcome::Done);
        done += 1;
    }
    assert_eq!(done, 50);
    assert_eq!(upstream.calls_to("/token").len(), 1);
    assert_eq!(upstream.calls_to("/kick/").len(), 50);
    let kick = &upstream.calls_to("/kick/c0")[0].2;
    assert!(kick.contains(&("authorization".into(), "Bearer tok-abc".into())));
}

#[tokio::test]
async fn a_failed_idempotent_call_is_planned_again_with_a_fresh_nonce() {
    let metrics = Metrics::new();
    let b = backend(1, &metrics);
    let upstream = FakeUpstream::new(script(|n| {
        if n == 1 {
            ok(503, "busy")
        } else {
            ok(200, "{}")
        }
    }));
    let (success, calls) = b
        .run(upstream.as_ref(), &client("c"), soon(), &trace())
        .await
        .unwrap();
    assert_eq!(success.outcome, Outcome::Done);
    assert_eq!(calls, 3, "token, failed kick, retried kick");
    let kicks = upstream.calls_to("/kick/c");
    assert_eq!(kicks.len(), 2);
    let nonce =
        |h: &Vec<(String, String)>| h.iter().find(|(n, _)| n == "x-nonce").unwrap().1.clone();
    assert_ne!(
        nonce(&kicks[0].2),
        nonce(&kicks[1].2),
        "a retry is re-planned, not resent"
    );
}

#[tokio::test]
async fn retries_stop_at_the_configured_count() {
    let metrics = Metrics::new();
    let b = backend(2, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(500, "down")));
    let problem = b
        .run(upstream.as_ref(), &client("c"), soon(), &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::UpstreamError);
    assert_eq!(problem.vendor_status(), Some(500));
    assert_eq!(upstream.calls_to("/kick/c").len(), 3);
    let text = String::from_utf8(metrics.render()).unwrap();
    assert!(
        text.contains(
            r#"sever_upstream_requests_total{backend="b1",plugin="scripted",status_class="5xx"} 3"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_call_not_marked_idempotent_is_never_retried() {
    let metrics = Metrics::new();
    let b = backend(3, &metrics);
    let upstream = FakeUpstream::new(|_, _| ok(503, ""));
    let target = Target {
        connection_id: Some("conn/1".into()),
        ..Target::default()
    };
    let problem = b
        .run(upstream.as_ref(), &request(target), soon(), &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::UpstreamError);
    assert_eq!(upstream.calls_to("/connections/conn%2F1").len(), 1);
}

#[tokio::test]
async fn answers_that_are_not_retryable_are_not_retried() {
    let metrics = Metrics::new();
    let b = backend(3, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(404, "no such client")));
    let problem = b
        .run(upstream.as_ref(), &client("c"), soon(), &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::TargetNotFound);
    assert_eq!(upstream.calls_to("/kick/c").len(), 1);
}

#[tokio::test]
async fn transport_failures_of_idempotent_calls_are_retried_then_mapped() {
    let metrics = Metrics::new();
    let b = backend(1, &metrics);
    let upstream = FakeUpstream::new(script(|_| Err(TransportError::Connect("refused".into()))));
    let problem = b
        .run(upstream.as_ref(), &client("c"), soon(), &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::UpstreamUnavailable);
    assert_eq!(upstream.calls_to("/kick/c").len(), 2);

    let upstream = FakeUpstream::new(script(|_| {
        Err(TransportError::Timeout(Duration::from_secs(1)))
    }));
    let problem = b
        .run(upstream.as_ref(), &client("d"), soon(), &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::UpstreamTimeout);
    assert_eq!(upstream.calls_to("/kick/d").len(), 2);
    let text = String::from_utf8(metrics.render()).unwrap();
    assert!(
        text.contains(r#"status_class="connect_error"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"status_class="timeout"} 2"#), "{text}");
}

#[tokio::test]
async fn no_retry_is_started_that_would_end_past_the_deadline() {
    let metrics = Metrics::new();
    let b = backend(5, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(503, "")));
    let deadline = Instant::now() + Duration::from_millis(20);
    let problem = b
        .run(upstream.as_ref(), &client("c"), deadline, &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::UpstreamError);
    assert!(upstream.calls_to("/kick/c").len() <= 2);
    assert!(Instant::now() < deadline + Duration::from_millis(500));
}

#[tokio::test]
async fn a_plugin_panic_is_internal_counted_and_the_backend_keeps_working() {
    let metrics = Metrics::new();
    let b = backend(0, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    let problem = b
        .run(upstream.as_ref(), &client("panic"), soon(), &trace())
        .await
        .unwrap_err();
    assert_eq!(problem.code, ProblemCode::Internal);
    assert!(
        !problem.detail.contains("scripted panic"),
        "panic text stays in the log"
    );
    let text = String::from_utf8(metrics.render()).unwrap();
    assert!(
        text.contains(r#"sever_plugin_panics_total{plugin="scripted"} 1"#),
        "{text}"
    );
    assert!(b
        .run(upstream.as_ref(), &client("ok"), soon(), &trace())
        .await
        .is_ok());
}

#[tokio::test]
async fn planning_shows_the_first_step_with_every_secret_redacted() {
    let metrics = Metrics::new();
    let b = backend(0, &metrics);
    let upstream = FakeUpstream::new(script(|_| ok(200, "{}")));
    // Warm the token cache so the first step is the kick, carrying token and key.
    b.run(upstream.as_ref(), &client("warm"), soon(), &trace())
        .await
        .unwrap();
    let Step::Send(first) = b.plan(&client("c")).unwrap() else {
        panic!("expected a request")
    };
    let shown = b.redacted(&first).to_string();
    assert!(
        !shown.contains("KEY-s3cret") && !shown.contains("tok-abc"),
        "{shown}"
    );
    assert!(shown.contains("key=<redacted>"), "{shown}");
    assert_eq!(
        upstream.calls_to("/kick/c").len(),
        0,
        "planning sends nothing"
    );
}
