#![allow(clippy::unwrap_used)]

use super::*;
use serde_json::json;
use std::io::Write;

/// Covers the backends in the list, for every action.
struct Names(&'static [&'static str]);

impl Coverage for Names {
    fn covers(&self, backend: &str, _: Action) -> bool {
        self.0.contains(&backend)
    }
}

const ALL: Names = Names(&["a", "b", "c"]);

fn t(second: u32) -> String {
    format!("2026-12-01T10:00:{second:02}.000Z")
}

fn intent(id: &str, s: u32, backend: &str) -> Value {
    json!({"time": t(s), "phase": "intent", "request_id": id, "caller": "oncall",
           "action": "disconnect", "backend": backend, "target": {"client_id": "c1"}, "reason": "r"})
}

fn outcome(id: &str, s: u32, backend: Option<&str>, outcome: &str) -> Value {
    json!({"time": t(s), "phase": "outcome", "request_id": id, "caller": "oncall",
           "action": "disconnect", "backend": backend, "target": {"client_id": "c1"},
           "reason": "r", "dry_run": false, "outcome": outcome, "duration_ms": 10.0})
}

fn write(lines: &[Value]) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    for line in lines {
        writeln!(file, "{line}").unwrap();
    }
    file
}

fn ids(found: &Found) -> Vec<&str> {
    found
        .entries
        .iter()
        .map(|e| e["request_id"].as_str().unwrap())
        .collect()
}

fn filter(limit: usize) -> Filter {
    Filter {
        limit,
        ..Filter::default()
    }
}

#[test]
fn entries_join_intent_and_outcomes_newest_first() {
    let file = write(&[
        intent("r1", 1, "a"),
        intent("r2", 2, "b"),
        outcome("r1", 3, Some("a"), "done"),
        outcome("r3", 10, Some("c"), "dry_run"),
    ]);
    let found = newest(file.path(), &filter(50), &ALL).unwrap();
    assert_eq!(ids(&found), ["r3", "r1", "r2"]);
    assert!(found.scan.reached_start);
    let r1 = &found.entries[1];
    assert_eq!(r1["state"], "ended");
    assert_eq!(r1["intent"]["phase"], "intent");
    assert_eq!(r1["outcomes"].as_array().unwrap().len(), 1);
    assert_eq!(r1["outcomes"][0]["outcome"], "done");
    assert_eq!(r1["backends"], json!(["a"]));
    assert_eq!(r1["time"], t(1));
    let r2 = &found.entries[2];
    assert_eq!(r2["state"], "no_outcome");
    assert_eq!(r2["outcomes"], json!([]));
    assert!(found.entries[0]["intent"].is_null());
}

#[test]
fn a_caller_never_sees_an_entry_naming_a_backend_outside_its_rules() {
    let fan_intent = json!({"time": t(1), "phase": "intent", "request_id": "f1",
        "caller": "oncall", "action": "disconnect", "backends": ["a", "b"],
        "target": {"client_id": "c1"}, "reason": null});
    let fan_line = json!({"time": t(2), "phase": "outcome", "request_id": "f1",
        "caller": "oncall", "action": "disconnect", "backend": null, "backends": ["a", "b"],
        "target": {"client_id": "c1"}, "dry_run": false, "status": 207, "duration_ms": 5.0});
    let refused_fan_out = json!({"time": t(3), "phase": "outcome", "request_id": "f2",
        "caller": "oncall", "action": "disconnect", "backend": null,
        "target": {"client_id": "c1"}, "dry_run": false, "code": "forbidden", "duration_ms": 1.0});
    let file = write(&[
        fan_intent,
        outcome("f1", 2, Some("a"), "done"),
        outcome("f1", 2, Some("b"), "done"),
        fan_line,
        refused_fan_out,
        outcome("s1", 4, Some("a"), "done"),
        outcome("s2", 5, Some("b"), "done"),
    ]);
    let only_a = Names(&["a"]);
    let found = newest(file.path(), &filter(50), &only_a).unwrap();
    assert_eq!(ids(&found), ["s1"]);
    let found = newest(file.path(), &filter(50), &ALL).unwrap();
    assert_eq!(ids(&found), ["s2", "s1", "f1"]);
    let f1 = &found.entries[2];
    assert_eq!(f1["backends"], json!(["a", "b"]));
    assert_eq!(f1["outcomes"].as_array().unwrap().len(), 3);
}

#[test]
fn filters_select_by_request_id_backend_and_time_and_limit_bounds_the_answer() {
    let mut lines = Vec::new();
    for i in 0..30u32 {
        let backend = if i % 2 == 0 { "a" } else { "b" };
        lines.push(outcome(&format!("r{i}"), i, Some(backend), "done"));
    }
    let file = write(&lines);
    let found = newest(file.path(), &filter(3), &ALL).unwrap();
    assert_eq!(ids(&found), ["r29", "r28", "r27"]);
    assert!(!found.scan.reached_start, "the scan stopped early");
    let by_backend = Filter {
        backend: Some("a".into()),
        ..filter(2)
    };
    assert_eq!(
        ids(&newest(file.path(), &by_backend, &ALL).unwrap()),
        ["r28", "r26"]
    );
    let by_id = Filter {
        request_id: Some("r7".into()),
        ..filter(50)
    };
    assert_eq!(ids(&newest(file.path(), &by_id, &ALL).unwrap()), ["r7"]);
    let since = Filter {
        since: Some(OffsetDateTime::parse(&t(26), &Rfc3339).unwrap()),
        ..filter(50)
    };
    let found = newest(file.path(), &since, &ALL).unwrap();
    assert_eq!(ids(&found), ["r29", "r28", "r27", "r26"]);
    assert!(!found.scan.reached_start, "the scan stopped past `since`");
}

#[test]
fn a_reused_request_id_gives_one_entry_per_request() {
    let file = write(&[
        intent("same", 1, "a"),
        outcome("same", 2, Some("a"), "done"),
        intent("same", 30, "a"),
        outcome("same", 31, Some("a"), "done"),
    ]);
    let found = newest(file.path(), &filter(50), &ALL).unwrap();
    assert_eq!(ids(&found), ["same", "same"]);
    assert_eq!(found.entries[0]["time"], t(30));
    assert_eq!(found.entries[1]["time"], t(1));
}

#[test]
fn other_lines_are_skipped() {
    let file = write(&[
        json!({"time": t(1), "phase": "audit_resumed", "lines_lost": 2}),
        json!("not an object"),
        outcome("r1", 2, Some("a"), "done"),
    ]);
    let mut text = std::fs::read_to_string(file.path()).unwrap();
    text.push_str("{not json}\n{\"partial\":");
    std::fs::write(file.path(), text).unwrap();
    let found = newest(file.path(), &filter(50), &ALL).unwrap();
    assert_eq!(ids(&found), ["r1"]);
}

#[test]
fn the_byte_budget_bounds_a_scan_and_it_says_so() {
    let lines: Vec<Value> = (0..2000u32)
        .map(|i| outcome(&format!("r{i}"), i % 60, Some("a"), "done"))
        .collect();
    let file = write(&lines);
    let size = std::fs::metadata(file.path()).unwrap().len();
    let budget = 64 * 1024;
    assert!(size > 4 * budget, "{size}");
    let found = newest_within(file.path(), &filter(500), &ALL, budget).unwrap();
    assert_eq!(found.scan.bytes, budget);
    assert!(!found.scan.reached_start);
    let ids = ids(&found);
    assert!(!ids.is_empty() && ids.len() < 500, "{}", ids.len());
    assert_eq!(ids[0], "r1999", "newest first");
}
