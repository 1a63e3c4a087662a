//! The cost of recording one canonical request in the metrics (counter + histogram):
//!
//! - `metrics/label-lookup`: `with_label_values` on every request (hashing three label
//!   values, as a naive implementation would);
//! - `metrics/cached`: Sever's `RequestMetrics` handles, resolved once and reused.
//!
//! `cargo bench -p sever-benches --bench metrics` (criterion reports medians).

use criterion::{criterion_group, criterion_main, Criterion};
use sever_engine::metrics::{Metrics, OutcomeLabel, RequestMetrics};
use sever_plugin_sdk::{Action, Outcome};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let metrics = Metrics::new();
    c.bench_function("metrics/label-lookup", |b| {
        b.iter(|| {
            metrics
                .requests
                .with_label_values(&["disconnect", black_box("mqtt-eu"), "done"])
                .inc();
            metrics
                .request_duration
                .with_label_values(&["disconnect", black_box("mqtt-eu")])
                .observe(black_box(0.0031));
        })
    });

    let handles = RequestMetrics::new(&metrics, "mqtt-eu");
    c.bench_function("metrics/cached", |b| {
        b.iter(|| {
            handles.record(
                Some(black_box(Action::Disconnect)),
                OutcomeLabel::success(Outcome::Done),
                Some(black_box(0.0031)),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
