//! The translate path in pieces and whole, for the Cedalo and Alibaba adapters.
//!
//! Pieces (Cedalo unless named):
//! - `parse`: canonical request bytes → validated `CanonicalRequest` (+ `fit_target`);
//! - `plan/{direct,abi-static,abi-dynamic}`: the adapter's `start` called as a Rust trait
//!   method (no ABI), through the C ABI functions linked into this binary, and through the
//!   real `libsever_cedalo.so` loaded with dlopen. `abi-static` minus `direct` is what the
//!   boundary costs (the request and the step crossing as borrowed views, the step copied
//!   into the host's types); `abi-dynamic` minus `abi-static` is what loading adds;
//! - `resume/{direct,abi-static,abi-dynamic}`: the vendor's canned `200 {}` mapped to the
//!   canonical outcome, the same three ways;
//! - `answer/{json-value,typed}`: the canonical success body from a `json!` value made text
//!   (the old way) and as the API writes it now, from a typed struct (the same bytes);
//! - `signature/alibaba`: Alibaba's RPC signature V1 alone (canonical query, string to
//!   sign, HMAC-SHA1, Base64); `signature/aws-sigv4`: AWS Signature V4 alone, through the
//!   `aws-iot` adapter's signer (`aws-sigv4`), and `translate/aws-iot/static`, the whole
//!   path of a signed `DeleteConnection` (`translate/aws.rs`);
//! - `translate/{cedalo,alibaba}/{static,dynamic}`: the whole path — parse, fit, the
//!   plugin's request, plan (first ABI crossing), resume with the canned answer (second
//!   crossing), and the canonical answer body as the API writes it.
//!
//! The dynamic rows need the release libraries
//! (`cargo build --release -p sever-cedalo -p sever-alibaba-mqtt`); without them they are
//! skipped with a note.
//!
//! Allocations: a counting global allocator reports, before the timings, the allocations
//! (count and bytes) of one whole translate and of each piece. Only the statically linked
//! rows are counted completely: a loaded library allocates through its own allocator.
//!
//! `cargo bench -p sever-benches --bench translate` (criterion reports medians; compare the
//! rows of one run). `-- --allocs` prints the allocation table and exits.
#![allow(clippy::unwrap_used)]

#[path = "translate/aws.rs"]
mod aws;

use criterion::{criterion_group, Criterion};
use serde_json::json;
use sever_alibaba_mqtt::{signature, AlibabaMqtt};
use sever_benches::{
    alibaba_spec, allocations, answer_headers, cedalo_spec, Counting, ALIBABA_ANSWER,
    CANONICAL_ALIBABA, CANONICAL_DISCONNECT, CEDALO_ANSWER,
};
use sever_cedalo::Cedalo;
use sever_engine::canonical;
use sever_engine::host::{self, Instance, Plugin, Resume};
use sever_plugin_sdk::{Action, Adapter, Env, Input, Request, Step, Success, VendorResponse};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const ENV: Env = Env {
    unix_ms: 1_700_000_000_000,
    random: [7; 32],
};

/// The Alibaba backend's secret (see [`alibaba_spec`]).
const ALIBABA_SECRET: &str = "s3cr3t/Key+=";

/// The parameters the Alibaba adapter signs for one `CloseConnection`, sorted by name.
const SIGNED_PARAMETERS: [(&str, &str); 11] = [
    ("AccessKeyId", "LTAI5tTestKeyId"),
    ("Action", "CloseConnection"),
    ("ClientId", "GID_sensor@@@17"),
    ("Format", "JSON"),
    ("InstanceId", "post-cn-0pp12gl1234"),
    ("RegionId", "cn-shanghai"),
    ("SignatureMethod", "HMAC-SHA1"),
    ("SignatureNonce", "07070707-0707-4707-8707-070707070707"),
    ("SignatureVersion", "1.0"),
    ("Timestamp", "2023-11-14T22:13:20Z"),
    ("Version", "2020-04-20"),
];

const REQUEST_ID: &str = "0f0c6f0e-3c1b-4c1e-9d7e-4b8f4b0b2a11";

fn release_library(name: &str) -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    Some(target.join("release").join(name)).filter(|p| p.exists())
}

/// One backend: its plugin and instance.
struct Backend {
    name: &'static str,
    plugin: Arc<Plugin>,
    instance: Instance,
}

impl Backend {
    fn new(plugin: Arc<Plugin>, spec: sever_plugin_sdk::BackendSpec) -> Self {
        let instance = plugin.instantiate(&spec).unwrap();
        let name = Box::leak(spec.name.into_boxed_str());
        Backend {
            name,
            plugin,
            instance,
        }
    }

    fn dynamic(library: &str, spec: sever_plugin_sdk::BackendSpec) -> Option<Self> {
        match release_library(library) {
            Some(path) => Some(Backend::new(host::load_file(&path).unwrap(), spec)),
            None => {
                eprintln!("{library} not built: dynamic rows skipped (cargo build --release -p …)");
                None
            }
        }
    }
}

/// The adapter's request for a parsed canonical request, as the API builds it.
fn plugin_request(backend: &Backend, body: &[u8]) -> Request {
    let parsed = canonical::parse(body).unwrap();
    let spec = backend.plugin.info().action(parsed.action).unwrap();
    let target = canonical::fit_target(&parsed.target, spec).unwrap();
    Request {
        request_id: REQUEST_ID.to_owned(),
        action: parsed.action,
        target,
        reason: parsed.reason,
    }
}

/// The whole translate path: canonical bytes in, canonical answer bytes out, with the
/// vendor's canned answer in between.
#[inline(never)]
fn translate(
    backend: &Backend,
    body: &[u8],
    answer: &[u8],
    headers: &[(String, Vec<u8>)],
) -> Vec<u8> {
    let request = plugin_request(backend, body);
    let (mut flow, step) = backend.instance.start(&request, &ENV).unwrap();
    assert!(matches!(step, Step::Send(_)));
    let answer = Resume::Response {
        status: 200,
        headers,
        body: answer,
    };
    let Step::Done(success) = flow.resume(answer, &ENV).unwrap() else {
        panic!("expected done")
    };
    typed_answer_body(&request.request_id, backend.name, &success)
}

/// The success answer's body from a `json!` value made text (how `api.rs` wrote it before
/// the typed body): the baseline of the `answer/typed` row.
fn answer_body(request_id: &str, backend: &str, success: &Success) -> Vec<u8> {
    let body = json!({
        "request_id": request_id,
        "action": Action::Disconnect,
        "backend": backend,
        "outcome": success.outcome.as_str(),
        "vendor": success.vendor,
        "duration_ms": 4.217,
    });
    body.to_string().into_bytes()
}

/// The success answer's body as the API writes it (`sever_engine::problem::success_body`).
fn typed_answer_body(request_id: &str, backend: &str, success: &Success) -> Vec<u8> {
    sever_engine::problem::success_body(request_id, Action::Disconnect, backend, success, 4.217)
}

fn bench_pieces(c: &mut Criterion, cedalo: &Backend, cedalo_dyn: Option<&Backend>) {
    let headers = answer_headers();
    c.bench_function("parse", |b| {
        b.iter(|| plugin_request(cedalo, black_box(CANONICAL_DISCONNECT)))
    });

    let request = plugin_request(cedalo, CANONICAL_DISCONNECT);
    let direct = sever_plugin_sdk::create::<Cedalo>(&cedalo_spec()).unwrap();

    c.bench_function("plan/direct", |b| {
        b.iter(|| direct.start(black_box(&request), &ENV))
    });
    c.bench_function("plan/abi-static", |b| {
        b.iter(|| cedalo.instance.start(black_box(&request), &ENV).unwrap())
    });
    if let Some(dynamic) = cedalo_dyn {
        c.bench_function("plan/abi-dynamic", |b| {
            b.iter(|| dynamic.instance.start(black_box(&request), &ENV).unwrap())
        });
    }

    let borrowed: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let (mut flow, _) = direct.start(&request, &ENV);
    c.bench_function("resume/direct", |b| {
        b.iter(|| {
            let response = VendorResponse {
                status: 200,
                headers: &borrowed,
                body: CEDALO_ANSWER,
            };
            direct.resume(&mut flow, Input::Response(black_box(response)), &ENV)
        })
    });
    let answer = Resume::Response {
        status: 200,
        headers: &headers,
        body: CEDALO_ANSWER,
    };
    let (mut flow, _) = cedalo.instance.start(&request, &ENV).unwrap();
    c.bench_function("resume/abi-static", |b| {
        b.iter(|| flow.resume(black_box(answer), &ENV).unwrap())
    });
    if let Some(dynamic) = cedalo_dyn {
        let (mut flow, _) = dynamic.instance.start(&request, &ENV).unwrap();
        c.bench_function("resume/abi-dynamic", |b| {
            b.iter(|| flow.resume(black_box(answer), &ENV).unwrap())
        });
    }
}

/// Cedalo's `done` for its canned answer (with a vendor request id).
fn cedalo_success() -> Success {
    let direct = sever_plugin_sdk::create::<Cedalo>(&cedalo_spec()).unwrap();
    let (mut flow, _) = direct.start(&cedalo_request(), &ENV);
    let response = VendorResponse {
        status: 200,
        headers: &[("x-request-id", b"r-1")],
        body: CEDALO_ANSWER,
    };
    match direct.resume(&mut flow, Input::Response(response), &ENV) {
        Step::Done(success) => success,
        other => panic!("expected done, got {other:?}"),
    }
}

fn bench_answer(c: &mut Criterion) {
    let success = cedalo_success();
    assert_eq!(
        answer_body(REQUEST_ID, "mqtt-eu", &success),
        typed_answer_body(REQUEST_ID, "mqtt-eu", &success)
    );
    c.bench_function("answer/json-value", |b| {
        b.iter(|| answer_body(REQUEST_ID, "mqtt-eu", black_box(&success)))
    });
    c.bench_function("answer/typed", |b| {
        b.iter(|| typed_answer_body(REQUEST_ID, "mqtt-eu", black_box(&success)))
    });
}

/// A Cedalo request without a loaded plugin (the adapter's own metadata fits it).
fn cedalo_request() -> Request {
    let parsed = canonical::parse(CANONICAL_DISCONNECT).unwrap();
    let info = Cedalo::info();
    let spec = info.action(parsed.action).unwrap();
    Request {
        request_id: REQUEST_ID.to_owned(),
        action: parsed.action,
        target: canonical::fit_target(&parsed.target, spec).unwrap(),
        reason: parsed.reason,
    }
}

fn bench(c: &mut Criterion) {
    let backends = Backends::load();
    let headers = answer_headers();
    bench_pieces(c, &backends.cedalo, backends.cedalo_dyn.as_ref());
    bench_answer(c);

    c.bench_function("signature/alibaba", |b| {
        b.iter(|| signature::signature("POST", black_box(SIGNED_PARAMETERS), ALIBABA_SECRET))
    });
    aws::bench(c, &headers);

    let rows = [
        (
            "translate/cedalo/static",
            Some(&backends.cedalo),
            CANONICAL_DISCONNECT,
            CEDALO_ANSWER,
        ),
        (
            "translate/cedalo/dynamic",
            backends.cedalo_dyn.as_ref(),
            CANONICAL_DISCONNECT,
            CEDALO_ANSWER,
        ),
        (
            "translate/alibaba/static",
            Some(&backends.alibaba),
            CANONICAL_ALIBABA,
            ALIBABA_ANSWER,
        ),
        (
            "translate/alibaba/dynamic",
            backends.alibaba_dyn.as_ref(),
            CANONICAL_ALIBABA,
            ALIBABA_ANSWER,
        ),
    ];
    for (name, backend, body, answer) in rows {
        if let Some(backend) = backend {
            c.bench_function(name, |b| {
                b.iter(|| translate(backend, black_box(body), answer, &headers))
            });
        }
    }
}

/// The four backends: each adapter linked statically and loaded from its library.
struct Backends {
    cedalo: Backend,
    cedalo_dyn: Option<Backend>,
    alibaba: Backend,
    alibaba_dyn: Option<Backend>,
}

impl Backends {
    fn load() -> Self {
        let origin = Path::new("<static>");
        let cedalo = host::load_static(sever_plugin_sdk::static_descriptor!(Cedalo), origin);
        let alibaba = host::load_static(sever_plugin_sdk::static_descriptor!(AlibabaMqtt), origin);
        Backends {
            cedalo: Backend::new(cedalo.unwrap(), cedalo_spec()),
            cedalo_dyn: Backend::dynamic("libsever_cedalo.so", cedalo_spec()),
            alibaba: Backend::new(alibaba.unwrap(), alibaba_spec()),
            alibaba_dyn: Backend::dynamic("libsever_alibaba_mqtt.so", alibaba_spec()),
        }
    }
}

/// Prints allocations per call: the whole translate of each adapter, then its pieces.
fn report_allocations() {
    let backends = Backends::load();
    let headers = answer_headers();
    let cedalo = &backends.cedalo;
    let request = plugin_request(cedalo, CANONICAL_DISCONNECT);
    let direct = sever_plugin_sdk::create::<Cedalo>(&cedalo_spec()).unwrap();
    let answer = Resume::Response {
        status: 200,
        headers: &headers,
        body: CEDALO_ANSWER,
    };
    let (mut flow, _) = cedalo.instance.start(&request, &ENV).unwrap();
    let success = cedalo_success();
    let rows: Vec<(&str, (f64, f64))> = vec![
        (
            "translate/cedalo/static",
            allocations(|| translate(cedalo, CANONICAL_DISCONNECT, CEDALO_ANSWER, &headers)),
        ),
        (
            "translate/alibaba/static",
            allocations(|| {
                translate(
                    &backends.alibaba,
                    CANONICAL_ALIBABA,
                    ALIBABA_ANSWER,
                    &headers,
                )
            }),
        ),
        (
            "parse (+ fit, request)",
            allocations(|| plugin_request(cedalo, CANONICAL_DISCONNECT)),
        ),
        ("plan/direct", allocations(|| direct.start(&request, &ENV))),
        (
            "plan/abi-static",
            allocations(|| cedalo.instance.start(&request, &ENV).unwrap().1),
        ),
        (
            "resume/abi-static",
            allocations(|| flow.resume(answer, &ENV).unwrap()),
        ),
        (
            "answer/json-value",
            allocations(|| answer_body(REQUEST_ID, "mqtt-eu", &success)),
        ),
        (
            "answer/typed",
            allocations(|| typed_answer_body(REQUEST_ID, "mqtt-eu", &success)),
        ),
        (
            "signature/alibaba",
            allocations(|| signature::signature("POST", SIGNED_PARAMETERS, ALIBABA_SECRET)),
        ),
    ];
    let rows = rows.into_iter().chain(aws::allocation_rows());
    println!(
        "{:<28} {:>8} {:>8}",
        "allocations per call", "count", "bytes"
    );
    for (name, (count, bytes)) in rows {
        println!("{name:<28} {count:>8.1} {bytes:>8.0}");
    }
}

criterion_group!(benches, bench);

/// `-- --profile cedalo|alibaba[-dynamic] N`: N whole translates and nothing else, for
/// `valgrind --tool=callgrind --toggle-collect='*translate::translate*'` (exact
/// instruction counts) or `perf stat -e task-clock` (CPU time, unaffected by other load).
fn profile(adapter: &str, runs: usize) {
    let backends = Backends::load();
    let headers = answer_headers();
    let (backend, body, answer) = match adapter {
        "alibaba" => (Some(&backends.alibaba), CANONICAL_ALIBABA, ALIBABA_ANSWER),
        "alibaba-dynamic" => (
            backends.alibaba_dyn.as_ref(),
            CANONICAL_ALIBABA,
            ALIBABA_ANSWER,
        ),
        "cedalo-dynamic" => (
            backends.cedalo_dyn.as_ref(),
            CANONICAL_DISCONNECT,
            CEDALO_ANSWER,
        ),
        _ => (Some(&backends.cedalo), CANONICAL_DISCONNECT, CEDALO_ANSWER),
    };
    let Some(backend) = backend else {
        return eprintln!("{adapter}: library not built");
    };
    for _ in 0..runs {
        black_box(translate(backend, body, answer, &headers));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let adapter = args.get(i + 1).map_or("cedalo", String::as_str);
        let runs = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(1000);
        return profile(adapter, runs);
    }
    report_allocations();
    if args.iter().any(|a| a == "--allocs") {
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
