//! The audit log (spec §7): one JSON line per canonical request that passed parsing,
//! appended and flushed before the answer is sent. No secrets, no bearer tokens.

use crate::plugin::{Action, Target};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One audit line (spec §7). Members that only some lines carry are left out when unset.
#[derive(Debug, Serialize)]
pub struct AuditRecord<'a> {
    pub time: String,
    pub request_id: &'a str,
    pub caller: &'a str,
    pub action: Action,
    /// The backend of a single request or of one part of a fan-out; null on a fan-out's
    /// own line.
    pub backend: Option<&'a str>,
    /// A fan-out's own line: the backends it selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backends: Option<&'a [&'a str]>,
    pub target: &'a Target,
    pub reason: Option<&'a str>,
    pub dry_run: bool,
    /// `done`, `accepted` or `dry_run` for an answered request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'a str>,
    /// The problem code of a refused or failed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    pub vendor_status: Option<&'a Value>,
    pub vendor_request_id: Option<&'a Value>,
    /// The server's own error code and message (a SQLSTATE, a Redis error word, a dynsec
    /// error text, a NATS error), when the vendor answer carried them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_code: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor_message: Option<&'a Value>,
    pub duration_ms: f64,
    /// The HTTP status of a fan-out's or a replay's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// A fan-out's tally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<&'a Value>,
    /// An `Idempotency-Key` replay: nothing was sent.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replayed: bool,
    /// Sever runs without caller authentication.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
}

/// The audit log cannot be written.
#[derive(Debug, thiserror::Error)]
#[error("audit log {path}: {source}")]
pub struct AuditError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AuditLog {
    /// Opens (creating) the file for appending.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let file = open(path).map_err(|source| AuditError {
            path: path.to_owned(),
            source,
        })?;
        Ok(AuditLog {
            path: path.to_owned(),
            file: Mutex::new(Some(file)),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the file and opens the path again (log rotation: after the old file was
    /// renamed, lines go to a new file at the configured path). When the path cannot be
    /// opened, requests are refused (`503 audit_unavailable`) until it can.
    pub fn reopen(&self) -> Result<(), AuditError> {
        let mut file = self.file.lock();
        *file = None;
        *file = Some(open(&self.path).map_err(|source| AuditError {
            path: self.path.clone(),
            source,
        })?);
        Ok(())
    }

    /// True when a line can be written now (reopening the file after an earlier failure).
    /// Checked before any vendor call so that nothing is sent unaudited.
    pub fn ready(&self) -> bool {
        let mut file = self.file.lock();
        if file.is_none() {
            *file = open(&self.path).ok();
        }
        file.is_some()
    }

    /// Appends one record as a line and hands it to the OS before returning.
    pub fn write<T: Serialize + ?Sized>(&self, record: &T) -> Result<(), AuditError> {
        let mut line = Vec::with_capacity(384);
        serde_json::to_writer(&mut line, record).map_err(|e| AuditError {
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        let mut guard = self.file.lock();
        if guard.is_none() {
            *guard = open(&self.path).ok();
        }
        let result = match guard.as_mut() {
            // One write_all of a whole line on an O_APPEND file: lines never interleave.
            Some(f) => f.write_all(&line).and_then(|()| f.flush()),
            None => Err(std::io::Error::other("not open")),
        };
        if let Err(source) = result {
            *guard = None;
            return Err(AuditError {
                path: self.path.clone(),
                source,
            });
        }
        Ok(())
    }
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_record_is_one_line_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        log.write(&serde_json::json!({"a": 1})).unwrap();
        log.write(&serde_json::json!({"b": "x\ny"})).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1], r#"{"b":"x\ny"}"#);
    }

    #[test]
    fn reopen_starts_a_new_file_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let rotated = dir.path().join("audit.jsonl.1");
        let log = AuditLog::open(&path).unwrap();
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

    #[test]
    fn an_unopenable_path_makes_the_log_unready() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let log = AuditLog::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap(); // a folder where the file was
        assert!(log.reopen().is_err());
        assert!(!log.ready());
        assert!(log.write(&serde_json::json!({})).is_err());
        std::fs::remove_dir(&path).unwrap();
        assert!(log.ready(), "ready again once the path can be opened");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
    }
}
