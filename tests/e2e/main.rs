//! End-to-end tests of the real `sever` binary with its real plugin libraries, against the
//! vendor simulators (and a private RabbitMQ node, Prometheus and redis-server where a suite
//! needs one): 127.0.0.1 only, ephemeral ports, a temp dir per test.
//!
//! One test binary with a module per suite, not one binary per file: every suite links the
//! same dependencies, and twenty binaries of ≈ 90 MB each cost CI minutes and gigabytes of
//! disk for nothing. `cargo test -p sever-tests --test e2e cedalo::` runs one suite.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and the adapters' `.so` files).

mod common;

mod alibaba;
mod approvals;
mod approvals_lifecycle;
mod approvals_replicas;
mod audit_drain;
mod audit_log;
mod audit_query;
mod aws_iot;
mod c_plugin;
mod cedalo;
mod cli;
mod console;
mod deploy;
mod docs;
mod emqx;
mod entra_id;
mod fanout;
mod fanout_transports;
mod faults;
mod first_run;
mod framing;
mod hivemq;
mod idempotency;
mod idempotency_store;
mod identifiers;
mod iudx;
mod keycloak;
mod lifecycle;
mod linking;
mod mosquitto;
mod nats;
mod nexus;
mod observability;
mod okta;
mod openapi;
mod operations;
mod otlp;
mod postgresql;
mod privx;
mod rabbitmq;
mod readme;
mod redis;
mod reload;
mod reload_state;
mod requests;
mod secrets;
mod slow_clients;
mod tls;
mod tracing;
mod upstream_pool;
