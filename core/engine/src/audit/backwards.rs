//! A file's whole lines from its end back towards its start, in bounded chunks: at most
//! [`CHUNK`] bytes read at a time, at most `budget` bytes in all, and a line longer than
//! [`MAX_LINE`] skipped rather than held. A last line without its newline (a write in
//! progress, or a process killed in the middle of one) is never handed out.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;

/// Bytes read per `pread`.
pub(super) const CHUNK: usize = 64 * 1024;
/// Longer lines are not Sever's (its lines are bounded by the request's limits): skipped.
pub(super) const MAX_LINE: usize = 1024 * 1024;

/// How a backwards scan ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Bytes read.
    pub bytes: u64,
    /// The scan read back to the file's first byte.
    pub reached_start: bool,
}

/// Calls `line` with each whole line (without its newline), newest first, until it breaks,
/// the file's start is reached, or `budget` bytes were read.
pub(super) fn lines_backwards(
    file: &File,
    budget: u64,
    mut line: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> io::Result<Scan> {
    let mut end = file.metadata()?.len();
    let mut scan = Scan {
        bytes: 0,
        reached_start: false,
    };
    // The bytes after the newest newline seen, before the part already handed out.
    let mut carry: Vec<u8> = Vec::new();
    // The segment after the file's last newline is empty or a partial line: dropped.
    let mut in_tail = true;
    // The line being assembled passed MAX_LINE: skip it up to its newline.
    let mut overlong = false;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        if end == 0 {
            scan.reached_start = true;
            if !in_tail && !overlong && !carry.is_empty() {
                let _ = line(&carry);
            }
            return Ok(scan);
        }
        if scan.bytes >= budget {
            return Ok(scan);
        }
        let start = end.saturating_sub(CHUNK as u64);
        let size = (end - start) as usize;
        let data = &mut chunk[..size];
        file.read_exact_at(data, start)?;
        scan.bytes += size as u64;
        end = start;
        let mut line_end = data.len();
        while let Some(newline) = data[..line_end].iter().rposition(|b| *b == b'\n') {
            let piece = &data[newline + 1..line_end];
            line_end = newline;
            let whole_line_skipped = std::mem::take(&mut in_tail) || overlong;
            overlong = false;
            if whole_line_skipped {
                carry.clear();
                continue;
            }
            let flow = if carry.is_empty() {
                line(piece)
            } else {
                let mut joined = Vec::with_capacity(piece.len() + carry.len());
                joined.extend_from_slice(piece);
                joined.extend_from_slice(&carry);
                carry.clear();
                line(&joined)
            };
            if flow.is_break() {
                return Ok(scan);
            }
        }
        // What is left of the chunk is the end of a line that starts further back.
        if !overlong {
            if carry.len() + line_end > MAX_LINE {
                overlong = true;
                carry.clear();
            } else {
                let mut joined = Vec::with_capacity(line_end + carry.len());
                joined.extend_from_slice(&data[..line_end]);
                joined.extend_from_slice(&carry);
                carry = joined;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Write;

    fn collect(content: &[u8], budget: u64) -> (Vec<String>, Scan) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        let mut out = Vec::new();
        let scan = lines_backwards(&file, budget, |l| {
            out.push(String::from_utf8_lossy(l).into_owned());
            ControlFlow::Continue(())
        })
        .unwrap();
        (out, scan)
    }

    #[test]
    fn lines_come_newest_first_and_a_partial_last_line_is_dropped() {
        let (lines, scan) = collect(b"a\nbb\nccc\npartial", u64::MAX);
        assert_eq!(lines, ["ccc", "bb", "a"]);
        assert!(scan.reached_start);
        let (lines, _) = collect(b"a\n\nb\n", u64::MAX);
        assert_eq!(lines, ["b", "", "a"]);
        let (lines, _) = collect(b"", u64::MAX);
        assert!(lines.is_empty());
        let (lines, _) = collect(b"no newline at all", u64::MAX);
        assert!(lines.is_empty());
    }

    #[test]
    fn lines_across_chunks_are_joined_and_overlong_ones_skipped() {
        let long = "x".repeat(CHUNK * 2 + 17);
        let text = format!("first\n{long}\nlast\n");
        let (lines, _) = collect(text.as_bytes(), u64::MAX);
        assert_eq!(lines, ["last".to_owned(), long, "first".to_owned()]);
        let huge = "y".repeat(MAX_LINE + CHUNK);
        let text = format!("first\n{huge}\nlast\n");
        let (lines, _) = collect(text.as_bytes(), u64::MAX);
        assert_eq!(lines, ["last", "first"]);
        let text = format!("{huge}\nlast\n");
        let (lines, _) = collect(text.as_bytes(), u64::MAX);
        assert_eq!(lines, ["last"]);
    }

    #[test]
    fn the_budget_bounds_the_bytes_read() {
        let text = "line\n".repeat(CHUNK); // 5 chunks
        let (lines, scan) = collect(text.as_bytes(), CHUNK as u64);
        assert_eq!(scan.bytes, CHUNK as u64);
        assert!(!scan.reached_start);
        assert!(lines.len() < CHUNK / 5 + 1 && !lines.is_empty());
        assert!(lines.iter().all(|l| l == "line"));
    }

    #[test]
    fn the_caller_stops_the_scan() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"a\nb\nc\n").unwrap();
        let mut seen = 0;
        let scan = lines_backwards(&file, u64::MAX, |_| {
            seen += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(seen, 1);
        assert!(!scan.reached_start);
    }
}
