//! Sever's end-to-end test kit: vendor simulators ([`sim`]), a harness that runs the real
//! `sever` binary as a child process ([`harness`]) and a private RabbitMQ node ([`broker`]).
//! The tests themselves live in `e2e/`; `vendor-sim` (in `src/bin`) runs a simulator, or a
//! private RabbitMQ node with real clients connected, in the foreground for demos.

pub mod broker;
pub mod c_plugin;
pub mod harness;
pub mod redis;
pub mod sim;
