//! A reload keeps each backend's state when its config and plugin are unchanged, through
//! the real `sever`: SIGHUP with an unchanged file leaves an open breaker open (the vendor
//! that is down gets no traffic after logrotate's nightly SIGHUP) and a cached PrivX token
//! cached (no token request per reload); only the reload counters move.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use crate::privx;
use sever_tests::harness::{http, Sever};
use sever_tests::sim::{Fault, PrivxSim};

fn breaker(sever: &Sever) -> String {
    let reply = http::get(&sever.url("/v1/backends"), Some(ONCALL));
    reply.json()["backends"][0]["breaker"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn sighup_with_an_unchanged_file_keeps_an_open_breaker_open() {
    let sim = sim(&["c-1"]);
    sim.set_fault(Fault::InternalError);
    let standard = "    retries: 0\n";
    let config = config(&sim.url());
    assert!(config.contains(standard), "the standard config changed");
    let config = config.replace(
        standard,
        "    retries: 0\n    breaker: { failures: 2, open_ms: 600000 }\n",
    );
    let sever = Sever::start(&config, &env());
    for _ in 0..2 {
        disconnect(&sever, "c-1").expect_problem(502, "upstream_error");
    }
    disconnect(&sever, "c-1").expect_problem(503, "circuit_open");
    assert_eq!(breaker(&sever), "open");

    for _ in 0..3 {
        reload(&sever, Reload::Success);
    }

    assert_eq!(breaker(&sever), "open", "stderr:\n{}", sever.stderr());
    assert_eq!(
        metric_now(&sever, "sever_circuit_state", &[("backend", "mqtt-eu")]),
        Some(2.0)
    );
    disconnect(&sever, "c-1").expect_problem(503, "circuit_open");
    assert_eq!(
        sim.calls().len(),
        2,
        "nothing sent once open: {:#?}",
        sim.calls()
    );
}

#[test]
fn sighup_with_an_unchanged_file_keeps_a_cached_privx_token() {
    let sim = PrivxSim::start(privx::sim_config());
    let sever = privx::start(&sim);
    privx::assert_accepted(&privx::terminate_connection(&sever, privx::CONN));
    assert_eq!(sim.token_calls().len(), 1);

    for _ in 0..3 {
        reload(&sever, Reload::Success);
    }
    privx::assert_accepted(&privx::terminate_connection(&sever, privx::CONN_2));

    assert_eq!(
        sim.token_calls().len(),
        1,
        "the token fetched before the reloads is used after them: {:#?}",
        sim.calls()
    );
    assert_eq!(
        metric_now(
            &sever,
            "sever_config_reloads_total",
            &[("result", "success")]
        ),
        Some(3.0)
    );
}

#[test]
fn a_changed_backend_entry_starts_fresh_with_its_breaker_closed() {
    let sim = sim(&["c-1"]);
    sim.set_fault(Fault::InternalError);
    let breaker_of = |failures: u32| {
        config(&sim.url()).replace(
            "    retries: 0\n",
            &format!("    retries: 0\n    breaker: {{ failures: {failures}, open_ms: 600000 }}\n"),
        )
    };
    let sever = Sever::start(&breaker_of(1), &env());
    disconnect(&sever, "c-1").expect_problem(502, "upstream_error");
    assert_eq!(breaker(&sever), "open");

    let text = breaker_of(3)
        .replace("{{PORT}}", &sever.port().to_string())
        .replace(
            "{{PLUGIN_DIR}}",
            &sever_tests::harness::plugin_dir().display().to_string(),
        );
    std::fs::write(sever.config_path(), text).unwrap();
    reload(&sever, Reload::Success);

    assert_eq!(breaker(&sever), "closed");
    disconnect(&sever, "c-1").expect_problem(502, "upstream_error");
    assert_eq!(sim.calls().len(), 2);
}
