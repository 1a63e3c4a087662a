//! End to end: OpenTelemetry export (`tracing.otlp_endpoint`). A fake collector (the OTLP
//! trace service over gRPC, on 127.0.0.1) records what `sever` exports: the
//! `canonical_request` span and its `vendor_call` child, linked into one chain with the
//! caller's span and the `traceparent` the vendor received (W3C Trace Context), with no
//! secret, path or body anywhere; a trace the caller does not sample is not exported. A
//! collector that is down does not stop Sever from serving, and is reported once per minute
//! at most.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use sever_tests::eventually;
use sever_tests::harness::{free_port, Sever};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CALLER_TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const CALLER_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// A fake OpenTelemetry collector: every export request it received, in order.
struct Collector {
    port: u16,
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

#[derive(Clone)]
struct Recorder(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Recorder {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    fn start() -> Collector {
        Collector::start_with(None)
    }

    /// A collector serving gRPC over TLS with this certificate and key (PEM).
    fn start_tls(cert_pem: &str, key_pem: &str) -> Collector {
        let identity = tonic::transport::Identity::from_pem(cert_pem, key_pem);
        Collector::start_with(Some(
            tonic::transport::ServerTlsConfig::new().identity(identity),
        ))
    }

    fn start_with(tls: Option<tonic::transport::ServerTlsConfig>) -> Collector {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let service = TraceServiceServer::new(Recorder(Arc::clone(&received)));
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let mut server = tonic::transport::Server::builder();
            if let Some(tls) = tls {
                server = server.tls_config(tls).unwrap();
            }
            server
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        Collector {
            port,
            received,
            runtime: Some(runtime),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn https_endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.received.lock().unwrap().clone()
    }

    /// Every span received so far.
    fn spans(&self) -> Vec<Span> {
        self.requests()
            .into_iter()
            .flat_map(|r| r.resource_spans)
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans)
            .collect()
    }

    /// Waits (at most `limit`) until spans with all of `names` arrived.
    fn wait_for(&self, names: &[&str], limit: Duration) -> bool {
        eventually(limit, || {
            let spans = self.spans();
            names.iter().all(|n| spans.iter().any(|s| s.name == *n))
        })
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

/// The standard config, exporting to `endpoint`.
fn config_exporting_to(vendor_url: &str, endpoint: &str) -> String {
    format!(
        "{}tracing: {{ otlp_endpoint: \"{endpoint}\" }}\n",
        config(vendor_url)
    )
}

/// The standard environment, with the batch processor exporting every 100 ms (the
/// default is 5 s) so that the tests need not wait.
fn env_quick() -> Vec<(&'static str, &'static str)> {
    let mut env = env();
    env.push(("OTEL_BSP_SCHEDULE_DELAY", "100"));
    env
}

fn traced_disconnect(sever: &Sever, client_id: &str) -> serde_json::Value {
    disconnect_traced(sever, client_id, CALLER_TRACE)
        .expect_success()
        .clone()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Any> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn text(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attr(attributes, key) {
        Some(Any::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn one<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "one {name} span expected: {spans:#?}");
    found[0]
}

#[test]
fn spans_reach_the_collector_in_the_callers_trace_with_no_secret() {
    let collector = Collector::start();
    let sim = sim(&["sensor-17"]);
    let sever = Sever::start(
        &config_exporting_to(&sim.url(), &collector.endpoint()),
        &env_quick(),
    );

    let answer = traced_disconnect(&sever, "sensor-17");
    assert!(
        collector.wait_for(
            &["canonical_request", "vendor_call"],
            Duration::from_secs(15)
        ),
        "no spans exported: {:#?}\nsever stderr:\n{}",
        collector.spans(),
        sever.stderr()
    );

    let spans = collector.spans();
    let request = one(&spans, "canonical_request");
    let call = one(&spans, "vendor_call");
    // One chain: the caller's span → Sever's root span → the vendor call → the span id
    // the vendor received as its parent, all in the caller's trace.
    let sent = sim.calls()[0].header("traceparent").unwrap().to_owned();
    assert_eq!(
        [hex(&request.trace_id), hex(&call.trace_id)],
        [CALLER_TRACE_ID, CALLER_TRACE_ID]
    );
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN_ID, "{request:#?}");
    assert_eq!(call.parent_span_id, request.span_id);
    assert_eq!(
        sent,
        format!("00-{CALLER_TRACE_ID}-{}-01", hex(&call.span_id)),
        "the vendor's parent is the exported vendor_call span"
    );
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert_eq!(call.kind, SpanKind::Client as i32);
    assert!(request.start_time_unix_nano <= call.start_time_unix_nano);
    assert!(call.end_time_unix_nano <= request.end_time_unix_nano);

    let a = &request.attributes;
    assert_eq!(
        text(a, "request_id").as_deref(),
        answer["request_id"].as_str()
    );
    assert_eq!(text(a, "caller").as_deref(), Some("oncall"));
    assert_eq!(text(a, "action").as_deref(), Some("disconnect"));
    assert_eq!(text(a, "backend").as_deref(), Some("mqtt-eu"));
    assert!(
        attr(a, "trace_id").is_none(),
        "the trace id is the span's own"
    );

    let a = &call.attributes;
    assert_eq!(text(a, "backend").as_deref(), Some("mqtt-eu"));
    assert_eq!(text(a, "method").as_deref(), Some("PUT"));
    let host = sim.url().trim_start_matches("http://").to_owned();
    assert_eq!(text(a, "host"), Some(host));
    assert_eq!(attr(a, "status"), Some(&Any::IntValue(200)));
    assert!(
        matches!(attr(a, "duration_ms"), Some(Any::DoubleValue(ms)) if *ms >= 0.0),
        "{a:#?}"
    );

    // The resource names the service and its version.
    let requests = collector.requests();
    let resource = requests[0].resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        text(&resource.attributes, "service.name").as_deref(),
        Some("sever")
    );
    assert_eq!(
        text(&resource.attributes, "service.version").as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );

    // No token, vendor secret, vendor path or request body anywhere in what was exported.
    let mut wire = Vec::new();
    for r in &requests {
        wire.extend(r.encode_to_vec());
    }
    let wire = String::from_utf8_lossy(&wire).into_owned();
    for leak in [
        ONCALL,
        NARROW,
        CEDALO_TOKEN,
        PROJECT,
        BROKER,
        "/api/projects",
        "credential leak INC-4411",
        "sensor-17",
    ] {
        assert!(!wire.contains(leak), "{leak:?} was exported: {requests:#?}");
    }
}

#[test]
fn without_a_caller_trace_the_exported_trace_is_the_one_sent_to_the_vendor() {
    let collector = Collector::start();
    let sim = sim(&["sensor-17"]);
    let sever = Sever::start(
        &config_exporting_to(&sim.url(), &collector.endpoint()),
        &env_quick(),
    );

    disconnect(&sever, "sensor-17").expect_success();
    assert!(
        collector.wait_for(
            &["canonical_request", "vendor_call"],
            Duration::from_secs(15)
        ),
        "no spans exported:\n{}",
        sever.stderr()
    );

    let sent = sim.calls()[0].header("traceparent").unwrap().to_owned();
    let spans = collector.spans();
    let request = one(&spans, "canonical_request");
    let call = one(&spans, "vendor_call");
    // Sever's root span has no parent; the vendor's parent is the vendor_call span.
    assert!(request.parent_span_id.is_empty(), "{request:#?}");
    assert_eq!(call.trace_id, request.trace_id);
    assert_eq!(call.parent_span_id, request.span_id);
    assert_eq!(
        sent,
        format!("00-{}-{}-01", hex(&request.trace_id), hex(&call.span_id))
    );
}

#[test]
fn a_trace_the_caller_does_not_sample_is_not_exported_and_stays_unsampled_at_the_vendor() {
    const UNSAMPLED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let collector = Collector::start();
    let sim = sim(&["a", "b"]);
    let sever = Sever::start(
        &config_exporting_to(&sim.url(), &collector.endpoint()),
        &env_quick(),
    );

    disconnect_traced(&sever, "a", UNSAMPLED).expect_success();
    traced_disconnect(&sever, "b");
    // Spans are exported in the order they end: once the sampled request's are there,
    // the unsampled one's would have been too.
    assert!(
        collector.wait_for(
            &["canonical_request", "vendor_call"],
            Duration::from_secs(15)
        ),
        "no spans exported:\n{}",
        sever.stderr()
    );

    let spans = collector.spans();
    let traces: Vec<String> = spans.iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(traces, [CALLER_TRACE_ID, CALLER_TRACE_ID], "{spans:#?}");
    let calls = sim.calls();
    let sent = calls[0].header("traceparent").unwrap();
    assert!(
        sent.starts_with("00-0af7651916cd43dd8448eb211c80319c-") && sent.ends_with("-00"),
        "the caller's trace and its flag go on to the vendor: {sent}"
    );
}

#[test]
fn queued_spans_are_flushed_when_sever_stops_on_sigterm() {
    let collector = Collector::start();
    let sim = sim(&["sensor-17"]);
    // The default 5 s batch delay: the spans leave with the flush at shutdown.
    let mut sever = Sever::start(
        &config_exporting_to(&sim.url(), &collector.endpoint()),
        &env(),
    );

    traced_disconnect(&sever, "sensor-17");
    terminate_cleanly(&mut sever);

    let spans = collector.spans();
    let request = one(&spans, "canonical_request");
    let call = one(&spans, "vendor_call");
    assert_eq!(hex(&request.trace_id), CALLER_TRACE_ID);
    assert_eq!(call.parent_span_id, request.span_id);
}

/// SIGTERM, then a bounded wait for a clean exit (the flush at shutdown included).
fn terminate_cleanly(sever: &mut Sever) {
    sever.terminate();
    let status = sever.wait_exit(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        sever.stderr()
    );
}

#[test]
fn a_collector_that_is_down_does_not_stop_sever_and_is_reported_once() {
    const FAILED: &str = "OpenTelemetry export failed";
    let sim = sim(&["a", "b", "c"]);
    // Nothing listens there: every export is refused.
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let mut sever = Sever::start(&config_exporting_to(&sim.url(), &endpoint), &env_quick());

    disconnect(&sever, "a").expect_success();
    // Bounded wait for the first failed export's warning.
    assert!(
        eventually(Duration::from_secs(15), || sever.stderr().contains(FAILED)),
        "no warning:\n{}",
        sever.stderr()
    );
    // More requests are served; their spans fail to export again, at the latest in the
    // flush at shutdown, which still ends promptly.
    disconnect(&sever, "b").expect_success();
    disconnect(&sever, "c").expect_success();
    assert_eq!(sim.calls().len(), 3);
    terminate_cleanly(&mut sever);

    let stderr = sever.stderr();
    let warnings = stderr.lines().filter(|l| l.contains(FAILED)).count();
    assert_eq!(warnings, 1, "one warning per minute at most:\n{stderr}");
    for secret in [ONCALL, NARROW, CEDALO_TOKEN] {
        assert!(!stderr.contains(secret), "a secret reached the log");
    }
}

#[test]
fn an_https_collector_is_trusted_through_the_system_roots_ssl_cert_file_included() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();

    let collector = Collector::start_tls(&cert.pem(), &key.serialize_pem());
    let sim = sim(&["sensor-17"]);
    let ca_path = ca_file.display().to_string();
    let mut env = env_quick();
    env.push(("SSL_CERT_FILE", &ca_path));
    let sever = Sever::start(
        &config_exporting_to(&sim.url(), &collector.https_endpoint()),
        &env,
    );

    traced_disconnect(&sever, "sensor-17");
    assert!(
        collector.wait_for(
            &["canonical_request", "vendor_call"],
            Duration::from_secs(15)
        ),
        "no spans exported over TLS:\n{}",
        sever.stderr()
    );
    let spans = collector.spans();
    assert_eq!(
        hex(&one(&spans, "canonical_request").trace_id),
        CALLER_TRACE_ID
    );
}
