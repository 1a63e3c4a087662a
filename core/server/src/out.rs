//! What the commands print on stdout, written so that a reader that goes away early
//! (`sever plugins … | head -1`) ends the output quietly instead of panicking.
//!
//! `println!` panics when stdout is a closed pipe ("failed printing to stdout: Broken
//! pipe", exit 101). Rust ignores SIGPIPE (pingora's server needs that too), so the write
//! error is ours to handle: a broken pipe means nobody wants the rest, which is not a
//! failure of the command.

use std::io::{self, Write};

/// Text for stdout, built up and written at once by [`Out::flush`].
#[derive(Debug, Default)]
pub(crate) struct Out {
    text: String,
}

impl Out {
    pub(crate) fn new() -> Self {
        Out::default()
    }

    /// Adds one line.
    pub(crate) fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// The text so far.
    #[cfg(test)]
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Writes everything to stdout. A reader that closed the pipe is not an error; any
    /// other write error is reported on stderr.
    pub(crate) fn flush(self) {
        write_stdout(self.text.as_bytes());
    }
}

/// Writes `bytes` to stdout and flushes, tolerating a closed pipe.
pub(crate) fn write_stdout(bytes: &[u8]) {
    let mut stdout = io::stdout().lock();
    let result = stdout.write_all(bytes).and_then(|()| stdout.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(io::stderr(), "sever: cannot write to stdout: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_kept_in_order() {
        let mut out = Out::new();
        out.line("a");
        out.line(format!("{}-{}", 1, 2));
        assert_eq!(out.text, "a\n1-2\n");
    }
}
