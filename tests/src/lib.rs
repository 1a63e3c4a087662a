//! Sever's end-to-end test kit: vendor simulators ([`sim`]) and a harness that runs the real
//! `sever` binary as a child process ([`harness`]). The tests themselves live in `e2e/`;
//! `vendor-sim` (in `src/bin`) runs a simulator in the foreground for demos.

pub mod harness;
pub mod sim;
