//! One Redis `CLIENT KILL ID` round trip, in one run, two ways against one real
//! redis-server:
//!
//! - `redis-kill/direct`: the command sent with the `redis` crate on an authenticated
//!   connection kept open (what a script talking to Redis itself would do);
//! - `redis-kill/sever`: the canonical `terminate` with `connection_id`, sent over a
//!   kept-alive HTTP connection to the real `sever` binary (release build, bearer token,
//!   audit log on), whose `redis` adapter plans the same command and whose host sends it on
//!   its own connection to the same server.
//!
//! Each iteration kills a fresh victim: its connection is opened and its id read before
//! the timer starts (criterion's per-iteration setup), and every answer is checked (a
//! `:1` direct, a `200 done` through Sever), so nothing but real cuts is timed.
//!
//! ```text
//! cargo build --release -p sever -p sever-redis
//! cargo bench -p sever-benches --bench redis_kill
//! ```
//!
//! Needs Debian's `redis-server` (scripts/setup installs it). The binaries are looked up
//! in `$SEVER_BIN_DIR`, by default `<workspace>/target/release`. Never run by the tests.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use sever_tests::harness::http::Client;
use sever_tests::harness::{workspace_dir, Sever};
use sever_tests::redis::RedisServer;
use std::time::Duration;

const PASSWORD: &str = "bench-redis-pw-5c1e";
const TOKEN: &str = "bench-token-redis-kill-91a3";

const CONFIG: &str = r#"server: { listen: "127.0.0.1:{{PORT}}", request_timeout_ms: 5000 }
plugins: [ { path: "{{PLUGIN_DIR}}/libsever_redis.so" } ]
auth:
  tokens:
    - { name: bench, token_env: BENCH_TOKEN, allow: [ { backends: ["cache"], actions: ["terminate"] } ] }
audit: { path: "audit.jsonl" }
backends:
  cache:
    plugin: redis
    url: "redis://127.0.0.1:@PORT@"
    timeout_ms: 2000
    retries: 0
    settings: { password: "${REDIS_PASSWORD}" }
"#;

/// A connection to be cut, and its Redis client id.
struct Victim {
    _connection: redis::Connection,
    id: i64,
}

fn victim(server: &RedisServer) -> Victim {
    let mut connection = server.connection();
    let id: i64 = redis::cmd("CLIENT")
        .arg("ID")
        .query(&mut connection)
        .expect("CLIENT ID");
    Victim {
        _connection: connection,
        id,
    }
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("SEVER_BIN_DIR").is_none() {
        // Before the harness first looks: release binaries, like a deployment's.
        std::env::set_var("SEVER_BIN_DIR", workspace_dir().join("target/release"));
    }
    let server = RedisServer::start_with_password(PASSWORD);
    let config = CONFIG.replace("@PORT@", &server.port.to_string());
    let sever = Sever::start(
        &config,
        &[("BENCH_TOKEN", TOKEN), ("REDIS_PASSWORD", PASSWORD)],
    );
    let url = sever.url("/v1/actions");
    let auth = format!("Bearer {TOKEN}");
    let http = Client::with_timeout(Duration::from_secs(5));
    let mut admin = server.connection();

    let mut group = c.benchmark_group("redis-kill");
    group.bench_function("direct", |b| {
        b.iter_batched(
            || victim(&server),
            |victim| {
                let killed: i64 = redis::cmd("CLIENT")
                    .arg("KILL")
                    .arg("ID")
                    .arg(victim.id)
                    .query(&mut admin)
                    .expect("CLIENT KILL");
                assert_eq!(killed, 1, "client {} was not killed", victim.id);
                victim
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("sever", |b| {
        b.iter_batched(
            || {
                let victim = victim(&server);
                let body = format!(
                    r#"{{"action":"terminate","backend":"cache","target":{{"connection_id":"{}"}},"reason":"bench"}}"#,
                    victim.id
                );
                (victim, body)
            },
            |(victim, body)| {
                let reply = http
                    .try_send(
                        "POST",
                        &url,
                        &[
                            ("content-type", "application/json"),
                            ("authorization", &auth),
                        ],
                        Some(body.as_bytes()),
                    )
                    .expect("Sever answers");
                assert_eq!(reply.expect_success()["outcome"], "done", "{reply:#?}");
                victim
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
