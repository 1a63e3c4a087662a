//! The translate path in pieces and whole, for the Cedalo adapter:
//!
//! - `parse`: canonical request bytes → validated `CanonicalRequest`;
//! - `plan/direct`: the adapter's `start` called as a Rust trait method (no ABI);
//! - `plan/abi-static`: the same adapter linked into this binary but called through the
//!   C ABI functions (JSON request in, JSON step out), exactly as a loaded plugin is;
//! - `plan/abi-dynamic`: the real `libsever_cedalo.so` loaded with dlopen (skipped with a
//!   note when it has not been built: `cargo build --release -p sever-cedalo`);
//! - `translate/abi-static`: parse + fit + plan + the vendor's 200 answer mapped back.
//!
//! `cargo bench -p sever-benches` (criterion reports medians; compare the rows of one run).
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use sever_benches::{cedalo_spec, CANONICAL_DISCONNECT};
use sever_cedalo::Cedalo;
use sever_engine::canonical;
use sever_engine::host::{self, Resume};
use sever_plugin_sdk::{Adapter, Env, Request, Step};
use std::hint::black_box;
use std::path::{Path, PathBuf};

const ENV: Env = Env {
    unix_ms: 1_700_000_000_000,
    random: [7; 32],
};

fn request() -> Request {
    let parsed = canonical::parse(CANONICAL_DISCONNECT).unwrap();
    Request {
        request_id: "0f0c6f0e-bench".into(),
        action: parsed.action,
        target: parsed.target,
        reason: parsed.reason,
    }
}

fn dynamic_library() -> Option<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("libsever_cedalo.so"))
        .find(|p| p.exists())
}

fn bench(c: &mut Criterion) {
    c.bench_function("parse", |b| {
        b.iter(|| canonical::parse(black_box(CANONICAL_DISCONNECT)).unwrap())
    });

    let request = request();
    let request_json = serde_json::to_vec(&request).unwrap();

    let direct = Cedalo::new(cedalo_spec()).unwrap();
    c.bench_function("plan/direct", |b| {
        b.iter(|| direct.start(black_box(&request), &ENV))
    });

    let descriptor = sever_plugin_sdk::static_descriptor!(Cedalo);
    let plugin = host::load_static(descriptor, Path::new("<static cedalo>")).unwrap();
    let instance = plugin.instantiate(&cedalo_spec()).unwrap();
    c.bench_function("plan/abi-static", |b| {
        b.iter(|| instance.start(black_box(&request_json), &ENV).unwrap())
    });

    match dynamic_library() {
        Some(path) => {
            let plugin = host::load_file(&path).unwrap();
            let instance = plugin.instantiate(&cedalo_spec()).unwrap();
            c.bench_function("plan/abi-dynamic", |b| {
                b.iter(|| instance.start(black_box(&request_json), &ENV).unwrap())
            });
        }
        None => eprintln!("plan/abi-dynamic skipped: build libsever_cedalo.so first"),
    }

    let answer_headers: Vec<(String, Vec<u8>)> =
        vec![("content-type".into(), b"application/json".to_vec())];
    c.bench_function("translate/abi-static", |b| {
        b.iter(|| {
            let parsed = canonical::parse(black_box(CANONICAL_DISCONNECT)).unwrap();
            let spec = plugin.info().action(parsed.action).unwrap();
            let target = canonical::fit_target(&parsed.target, spec).unwrap();
            let request = Request {
                request_id: "0f0c6f0e-bench".into(),
                action: parsed.action,
                target,
                reason: parsed.reason,
            };
            let json = serde_json::to_vec(&request).unwrap();
            let (mut flow, step) = instance.start(&json, &ENV).unwrap();
            assert!(matches!(step, Step::Send(_)));
            let answer = Resume::Response {
                status: 200,
                headers: &answer_headers,
                body: b"{}",
            };
            let done = flow.resume(answer, &ENV).unwrap();
            assert!(matches!(done, Step::Done(_)));
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
