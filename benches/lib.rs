//! Shared fixtures for Sever's benchmarks (see `benches/translate.rs`).
//!
//! Run with `cargo bench -p sever-benches`; criterion prints the median per iteration.

#![allow(unsafe_code)] // the counting allocator

use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::hint::black_box;

/// A canonical Cedalo disconnect request, as a caller sends it.
pub const CANONICAL_DISCONNECT: &[u8] = br#"{"action":"disconnect","backend":"mqtt-eu","target":{"client_id":"sensor-17"},"reason":"credential leak INC-4411"}"#;

/// The same request addressed to the Alibaba backend.
pub const CANONICAL_ALIBABA: &[u8] = br#"{"action":"disconnect","backend":"mqtt-cn","target":{"client_id":"GID_sensor@@@17"},"reason":"credential leak INC-4411"}"#;

/// Cedalo's documented success: `200 {}`.
pub const CEDALO_ANSWER: &[u8] = b"{}";

/// Alibaba's documented `CloseConnection` success.
pub const ALIBABA_ANSWER: &[u8] = br#"{"RequestId":"8B5D2D6C-6E6A-4D5B-9E2B-1B2F0A7C3D4E","Code":200,"Message":"operation success.","Success":true}"#;

/// The answer headers both canned vendors send.
pub fn answer_headers() -> Vec<(String, Vec<u8>)> {
    vec![
        ("content-type".into(), b"application/json".to_vec()),
        ("date".into(), b"Tue, 14 Nov 2023 22:13:20 GMT".to_vec()),
    ]
}

/// The Cedalo backend's settings.
pub fn cedalo_spec() -> sever_plugin_sdk::BackendSpec {
    let settings = serde_json::json!({"project_id": "p1", "broker_id": "b1", "token": "app-token"});
    sever_plugin_sdk::BackendSpec {
        name: "mqtt-eu".into(),
        url: "http://127.0.0.1:18001".into(),
        settings: settings.as_object().cloned().unwrap_or_default(),
    }
}

/// The Alibaba backend's settings.
pub fn alibaba_spec() -> sever_plugin_sdk::BackendSpec {
    let settings = serde_json::json!({
        "instance_id": "post-cn-0pp12gl1234",
        "access_key_id": "LTAI5tTestKeyId",
        "access_key_secret": "s3cr3t/Key+=",
        "region_id": "cn-shanghai",
    });
    sever_plugin_sdk::BackendSpec {
        name: "mqtt-cn".into(),
        url: "http://127.0.0.1:18002".into(),
        settings: settings.as_object().cloned().unwrap_or_default(),
    }
}

/// Counts this thread's allocations (count, bytes); reallocations count as one allocation
/// of the new size. Thread-local, so counting costs no atomic operation. A bench binary
/// installs it with `#[global_allocator]`; [`allocations`] reads it.
///
/// Allocates through mimalloc, `sever`'s global allocator, so the benches time the
/// allocations the server makes (a loaded adapter library allocates through its own,
/// glibc's malloc, in the benches as in the server).
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static COUNTS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn count(bytes: usize) {
    // `try_with`: the allocator may run while the thread's locals are being torn down.
    let _ = COUNTS.try_with(|c| {
        let (n, b) = c.get();
        c.set((n + 1, b + bytes as u64));
    });
}

// SAFETY: every call is forwarded unchanged to mimalloc; counting touches only
// a thread-local `Cell` (no allocation, no reentrancy).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded caller contract.
        unsafe { MiMalloc.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: forwarded caller contract.
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded caller contract.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: forwarded caller contract.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (count, bytes) made by one call of `f`, averaged over 100 calls.
pub fn allocations<R>(mut f: impl FnMut() -> R) -> (f64, f64) {
    const RUNS: u64 = 100;
    drop(f()); // warm caches that allocate once
    let (n0, b0) = COUNTS.with(Cell::get);
    for _ in 0..RUNS {
        drop(black_box(f()));
    }
    let (n1, b1) = COUNTS.with(Cell::get);
    (
        (n1 - n0) as f64 / RUNS as f64,
        (b1 - b0) as f64 / RUNS as f64,
    )
}
