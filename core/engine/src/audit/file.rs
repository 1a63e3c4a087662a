//! The audit file: whole lines or nothing.
//!
//! - **One `write(2)` per line** on an `O_APPEND` file: a line is never interleaved with
//!   another, and never written in pieces by several calls.
//! - **A short or failed write is repaired** before anything else is written: the file is
//!   truncated back to just after its last newline, so a torn line never stays in the file
//!   and the next line never glues onto one. Until that truncation succeeds, nothing is
//!   written (the write fails, and requests are refused).
//! - **`fsync` per line** when configured (`audit.fsync: per_line`): a line is then on
//!   disk, not only in the page cache, before the request goes on.
//! - **Health**: any failure marks the log failing (`/readyz` answers 503); the next line
//!   that is written whole marks it healthy again, preceded in the same write by a
//!   `"phase":"audit_resumed"` line telling how many lines were lost. While failing,
//!   [`AuditLog::ready`] tries to write that line on its own, so a replica that load
//!   balancers stopped sending requests to still becomes ready once the disk has room.

use super::safe_text;
use parking_lot::Mutex;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// When a written line is forced to disk (`audit.fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fsync {
    /// Never: a line is in the kernel's page cache when `write` returns (survives a crash
    /// of Sever, not a crash of the machine).
    #[default]
    Never,
    /// `fdatasync` after every line: it survives a power loss too.
    PerLine,
}

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    per_line_fsync: AtomicBool,
    state: Mutex<State>,
    /// No failure since the last line written whole.
    healthy: AtomicBool,
}

#[derive(Debug)]
struct State {
    file: Option<File>,
    /// A write failed after possibly writing part of a line: truncate before writing.
    torn: bool,
    /// Lines not written since the log began failing (0 while healthy).
    lost: u64,
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
    // Read access only to find the last newline when repairing a torn line.
    OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
}

/// Truncates `file` to just after its last newline (to nothing if it has none). Returns
/// how many bytes were dropped.
fn drop_partial_line(file: &File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|b| *b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end != len {
        file.set_len(end)?;
    }
    Ok(len - end)
}

/// The line written before the first line after a failure.
#[derive(Serialize)]
struct Resumed {
    time: String,
    phase: &'static str,
    lines_lost: u64,
}

impl AuditLog {
    /// Opens (creating) the file for appending. A partial last line (Sever was killed in
    /// the middle of writing it) is dropped first, and the drop logged.
    pub fn open(path: &Path, fsync: Fsync) -> Result<Self, AuditError> {
        let err = |source| AuditError {
            path: path.to_owned(),
            source,
        };
        let file = open(path).map_err(err)?;
        let dropped = drop_partial_line(&file).map_err(err)?;
        if dropped > 0 {
            tracing::warn!(
                path = %path.display(),
                bytes = dropped,
                "the audit log ended in a partial line: dropped it"
            );
        }
        Ok(AuditLog {
            path: path.to_owned(),
            per_line_fsync: AtomicBool::new(fsync == Fsync::PerLine),
            state: Mutex::new(State {
                file: Some(file),
                torn: false,
                lost: 0,
            }),
            healthy: AtomicBool::new(true),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Applies a (re)loaded `audit.fsync`.
    pub fn set_fsync(&self, fsync: Fsync) {
        self.per_line_fsync
            .store(fsync == Fsync::PerLine, Ordering::Relaxed);
    }

    /// Closes the file and opens the path again (log rotation: after the old file was
    /// renamed, lines go to a new file at the configured path). When the path cannot be
    /// opened, requests are refused (`503 audit_unavailable`) until it can.
    pub fn reopen(&self) -> Result<(), AuditError> {
        let mut state = self.state.lock();
        state.file = None;
        match open(&self.path) {
            Ok(file) => {
                state.file = Some(file);
                Ok(())
            }
            Err(e) => {
                self.healthy.store(false, Ordering::Release);
                Err(self.error(e))
            }
        }
    }

    /// True when the last line was written whole. While not, tries to write the
    /// `audit_resumed` line (so that readiness comes back once the file is writable).
    pub fn ready(&self) -> bool {
        if self.healthy.load(Ordering::Acquire) {
            return true;
        }
        self.append(&[]).is_ok()
    }

    /// Appends one record as one line (bidi controls and invisible characters escaped:
    /// see `safe_text`).
    pub fn write<T: Serialize + ?Sized>(&self, record: &T) -> Result<(), AuditError> {
        let mut line = Vec::with_capacity(384);
        safe_text::to_writer(&mut line, record).map_err(|e| self.error(e.into()))?;
        line.push(b'\n');
        self.append(&line)
    }

    /// Appends `line`, serialized already (with [`super::safe_text`]) and ending in a
    /// newline.
    pub fn write_line(&self, line: &[u8]) -> Result<(), AuditError> {
        debug_assert!(line.ends_with(b"\n"));
        self.append(line)
    }

    /// Writes the bytes of whole lines with one `write(2)` (after the `audit_resumed`
    /// line when the log was failing), or nothing: a partial write is truncated away.
    fn append(&self, lines: &[u8]) -> Result<(), AuditError> {
        let mut state = self.state.lock();
        let result = self.append_locked(&mut state, lines);
        match &result {
            Ok(()) => {
                state.lost = 0;
                self.healthy.store(true, Ordering::Release);
            }
            Err(_) => {
                if !lines.is_empty() {
                    state.lost += 1;
                }
                self.healthy.store(false, Ordering::Release);
            }
        }
        result
    }

    fn append_locked(&self, state: &mut State, lines: &[u8]) -> Result<(), AuditError> {
        if state.file.is_none() {
            state.file = Some(open(&self.path).map_err(|e| self.error(e))?);
        }
        let Some(file) = state.file.as_ref() else {
            return Err(self.error(std::io::Error::other("not open")));
        };
        if state.torn {
            drop_partial_line(file).map_err(|e| self.error(e))?;
            state.torn = false;
        }
        let resumed;
        let bytes: &[u8] = if state.lost > 0 || !self.healthy.load(Ordering::Acquire) {
            let mut buf = Vec::with_capacity(96 + lines.len());
            let marker = Resumed {
                time: super::now_rfc3339(),
                phase: "audit_resumed",
                lines_lost: state.lost,
            };
            safe_text::to_writer(&mut buf, &marker).map_err(|e| self.error(e.into()))?;
            buf.push(b'\n');
            buf.extend_from_slice(lines);
            resumed = buf;
            &resumed
        } else if lines.is_empty() {
            return Ok(());
        } else {
            lines
        };
        let written = (&*file).write(bytes);
        let failure = match written {
            Ok(n) if n == bytes.len() => None,
            Ok(n) => Some(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("short write: {n} of {} bytes", bytes.len()),
            )),
            Err(e) => Some(e),
        };
        if let Some(e) = failure {
            // Repair at once when possible; otherwise before the next write.
            state.torn = drop_partial_line(file).is_err();
            return Err(self.error(e));
        }
        if self.per_line_fsync.load(Ordering::Relaxed) {
            file.sync_data().map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Holds the file for the rest of the process: no line is written after this, so an
    /// exit right after it cannot cut one in half.
    pub fn freeze(&self) {
        std::mem::forget(self.state.lock());
    }

    fn error(&self, source: std::io::Error) -> AuditError {
        AuditError {
            path: self.path.clone(),
            source,
        }
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
