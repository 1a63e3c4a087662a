//! End to end through the real `sever`, four-eyes approvals continued (the set-up is
//! `approvals.rs`'s): the CLI lists, shows and approves; stopping with the in-memory store
//! tells how many pending approvals are dropped; a run that fails still uses its approval
//! up; a reload keeps pending approvals.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::common::*;
use serde_json::Value;
use sever_tests::harness::{phase_lines, run_cli};

use super::approvals::start;
use super::approvals::*;

#[test]
fn the_cli_lists_shows_and_approves() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let url = sever.base_url();
    let as_caller = |token: &'static str| {
        vec![
            ("SEVER_URL", url.clone()),
            ("SEVER_TOKEN", token.to_owned()),
        ]
    };
    let cli = |args: &[&str], token: &'static str| {
        let env = as_caller(token);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_cli(args, &env)
    };

    let (code, out, err) = cli(
        &[
            "act",
            "disconnect",
            "--backend",
            "mqtt-eu",
            "--client-id",
            "c1",
            "--reason",
            "INC-4411",
            "--json",
        ],
        ONCALL,
    );
    assert_eq!(code, 4, "{out}{err}");
    let id = serde_json::from_str::<Value>(&out).unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (code, out, err) = cli(&["approvals"], LEAD);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&id) && out.contains("mqtt-eu") && out.contains("oncall"),
        "{out}"
    );
    let (code, out, _) = cli(&["approvals", "show", &id], LEAD);
    assert_eq!(code, 0);
    assert!(
        out.contains("state: pending") && out.contains("would be sent"),
        "{out}"
    );
    assert!(!out.contains(CEDALO_TOKEN), "{out}");
    let (code, _, err) = cli(&["approvals", "approve", &id], ONCALL);
    assert_eq!(code, 1);
    assert!(err.contains("403 forbidden") || err.is_empty(), "{err}");
    assert_nothing_sent(&fleet.eu);

    let (code, out, err) = cli(&["approvals", "approve", &id], LEAD);

    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("done"), "{out}");
    assert_one_disconnect_call(&fleet.eu, "c1");
    let (code, _, _) = cli(&["approvals", "deny", &id], LEAD);
    assert_eq!(code, 1, "decided already");
    let (code, _, _) = cli(&["approvals", "show"], LEAD);
    assert_eq!(code, 2, "show needs an id");
}

#[test]
fn stopping_with_the_in_memory_store_tells_how_many_pending_approvals_are_dropped() {
    let fleet = Fleet::new();
    let mut sever = start(&fleet, 60_000);
    hold(&sever, &critical_body("c1"));
    hold(&sever, &critical_body("c2"));

    sever.terminate();

    assert!(sever.wait_exit(Duration::from_secs(15)).is_some());
    let stderr = sever.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("pending approvals in memory are dropped"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains(r#""dropped":2"#), "{line}");
    assert_nothing_sent(&fleet.eu);
}

#[test]
fn a_run_that_fails_still_uses_the_approval_up_with_its_result() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let id = hold(&sever, &critical_body("ghost"));

    approve(&sever, LEAD, &id).expect_problem(404, "target_not_found");

    assert_eq!(fleet.eu.calls().len(), 1, "the vendor was asked once");
    let a = show(&sever, ONCALL, &id).json().clone();
    assert_eq!(a["state"], "executed", "{a:#}");
    assert_eq!(a["result"]["status"], 404);
    assert_eq!(a["result"]["code"], "target_not_found");
    approve(&sever, SECOND, &id).expect_problem(409, "approval_decided");
    assert_eq!(fleet.eu.calls().len(), 1);
    let lines = phase_lines(sever.audit_all_lines(), "approval");
    assert_eq!(lines.last().unwrap()["result"]["code"], "target_not_found");
}

#[test]
fn a_reload_keeps_pending_approvals() {
    let fleet = Fleet::new();
    let sever = start(&fleet, 60_000);
    let id = hold(&sever, &critical_body("c1"));
    // The new config names other approvers: the held request keeps the ones it was held
    // with.
    let changed = std::fs::read_to_string(sever.config_path())
        .unwrap()
        .replace(
            "approvers: [lead, second, narrow]",
            "approvers: [bystander]",
        );
    std::fs::write(sever.config_path(), changed).unwrap();

    reload(&sever, Reload::Success);

    assert_eq!(listed(&sever, LEAD), [id.as_str()]);
    let run = approve(&sever, LEAD, &id);
    assert_eq!(run.status, 200, "{run:#?}");
    assert_one_disconnect_call(&fleet.eu, "c1");
    // New requests follow the new rule.
    let next = hold(&sever, &critical_body("c2"));
    approve(&sever, LEAD, &next).expect_problem(403, "forbidden");
    assert_eq!(approve(&sever, BYSTANDER, &next).status, 200);
}
