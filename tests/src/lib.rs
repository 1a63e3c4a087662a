//! Sever's end-to-end test kit: vendor simulators ([`sim`]), a harness that runs the real
//! `sever` binary as a child process ([`harness`]), a private RabbitMQ node ([`broker`]) and
//! redis-server ([`redis`]), and [`eventually`], the one way a test waits.
//! The tests themselves live in `e2e/`; `vendor-sim` (in `src/bin`) runs a simulator, or a
//! private RabbitMQ node with real clients connected, in the foreground for demos.

pub mod broker;
pub mod c_plugin;
mod eventually;
pub mod harness;
pub mod redis;
pub mod servers;
pub mod sim;

pub use eventually::{eventually, eventually_async};
