//! The audit log (spec §7): one JSON line per canonical request that passed parsing,
//! appended and flushed before the answer is sent. No secrets, no bearer tokens.

use parking_lot::Mutex;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

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
    pub fn write(&self, record: &Value) -> Result<(), AuditError> {
        let mut line = record.to_string().into_bytes();
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
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.len() == 24, "{t}");
    }
}
