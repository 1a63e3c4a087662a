#![allow(clippy::unwrap_used)]
use super::*;

fn log_at(dir: &tempfile::TempDir) -> (AuditLog, PathBuf) {
    let path = dir.path().join("audit.jsonl");
    (AuditLog::open(&path, Fsync::Never).unwrap(), path)
}

#[test]
fn each_record_is_one_line_appended() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = log_at(&dir);
    log.write(&serde_json::json!({"a": 1})).unwrap();
    log.write(&serde_json::json!({"b": "x\ny"})).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], r#"{"b":"x\ny"}"#);
}

#[test]
fn per_line_fsync_writes_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(&path, Fsync::PerLine).unwrap();
    log.write(&serde_json::json!({"a": 1})).unwrap();
    log.set_fsync(Fsync::Never);
    log.write(&serde_json::json!({"a": 2})).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"a\":1}\n{\"a\":2}\n"
    );
}

#[test]
fn a_partial_last_line_is_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "{\"n\":1}\n{\"n\":2}\n{\"time\":\"20").unwrap();
    let log = AuditLog::open(&path, Fsync::Never).unwrap();
    log.write(&serde_json::json!({"n": 3})).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"
    );
}

#[test]
fn a_file_without_any_newline_is_emptied_by_the_repair() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "x".repeat(10_000)).unwrap();
    let file = open(&path).unwrap();
    assert_eq!(drop_partial_line(&file).unwrap(), 10_000);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn a_failing_file_makes_the_log_unready_and_counts_lost_lines() {
    // Every write to /dev/full fails with ENOSPC, as on a full file system.
    let log = AuditLog::open(Path::new("/dev/full"), Fsync::Never).unwrap();
    assert!(log.ready());
    assert!(log.write(&serde_json::json!({"n": 1})).is_err());
    assert!(log.write(&serde_json::json!({"n": 2})).is_err());
    assert!(!log.ready());
    assert_eq!(log.state.lock().lost, 2);
}

#[test]
fn after_a_failure_the_next_line_follows_an_audit_resumed_line() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = log_at(&dir);
    log.write(&serde_json::json!({"n": 1})).unwrap();
    // A folder where the file was: reopening fails, so does the write.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert!(log.reopen().is_err());
    assert!(log.write(&serde_json::json!({"n": 2})).is_err());
    assert!(!log.ready());
    std::fs::remove_dir(&path).unwrap();
    assert!(log.ready(), "ready again once the path can be opened");
    log.write(&serde_json::json!({"n": 3})).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["phase"], "audit_resumed");
    assert_eq!(lines[0]["lines_lost"], 1);
    assert_eq!(lines[1]["n"], 3);
}

#[test]
fn reopen_starts_a_new_file_after_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let (log, path) = log_at(&dir);
    let rotated = dir.path().join("audit.jsonl.1");
    log.write(&serde_json::json!({"n": 1})).unwrap();
    std::fs::rename(&path, &rotated).unwrap();
    log.write(&serde_json::json!({"n": 2})).unwrap(); // still the renamed file
    log.reopen().unwrap();
    log.write(&serde_json::json!({"n": 3})).unwrap();
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap(),
        "{\"n\":1}\n{\"n\":2}\n"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"n\":3}\n");
}
