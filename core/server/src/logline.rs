//! The JSON log line when spans are not in the log (`RUST_LOG` at `info` or coarser).
//!
//! Writes exactly what `tracing_subscriber`'s JSON format with `flatten_event(true)` writes
//! for an event outside any logged span — `{"timestamp":…,"level":…,<fields>,"target":…}` —
//! with less work per line: fields go straight into one reused buffer (strings escaped by
//! serde_json), and the date and time of day are formatted once per second. The generic
//! formatter (a `serde_json` map serializer writing through `fmt::Write` into the layer's
//! `String`, and a timestamp built from the calendar on every line) was about 14 k of the
//! 21 k instructions the one `canonical request` line per request cost.
//!
//! The tests hold it to the generic formatter, byte for byte apart from the timestamp's
//! value, for every kind of field value.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LeanJson;

/// One thread's reused line buffer and its cached second.
#[derive(Default)]
struct Scratch {
    line: Vec<u8>,
    /// A `Debug` value's text before it is escaped.
    text: String,
    /// The second `date_time` was formatted for.
    second: Option<i64>,
    /// `YYYY-MM-DDTHH:MM:SS` of that second.
    date_time: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A buffer that grew past this (a huge field) is released after its line, not kept.
const KEEP: usize = 16 * 1024;

impl<S, N> FormatEvent<S, N> for LeanJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A `log` record (pingora's) carries its own level and target.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        SCRATCH.with(|scratch| {
            // Re-entrance (a `Debug` impl that logs) gets a fresh buffer, never a panic.
            let mut fresh = Scratch::default();
            let mut borrowed = scratch.try_borrow_mut();
            let s = match borrowed.as_mut() {
                Ok(s) => &mut **s,
                Err(_) => &mut fresh,
            };
            s.line.clear();
            s.line.extend_from_slice(b"{\"timestamp\":\"");
            timestamp(s, SystemTime::now());
            s.line.extend_from_slice(b"\",\"level\":\"");
            s.line.extend_from_slice(meta.level().as_str().as_bytes());
            s.line.push(b'"');
            event.record(&mut Fields {
                line: &mut s.line,
                text: &mut s.text,
            });
            s.line.extend_from_slice(b",\"target\":");
            string(&mut s.line, meta.target());
            s.line.push(b'}');
            let written = match std::str::from_utf8(&s.line) {
                Ok(line) => writer.write_str(line),
                Err(_) => Err(fmt::Error),
            };
            if s.line.capacity() > KEEP {
                s.line = Vec::new();
            }
            written
        })?;
        writeln!(writer)
    }
}

/// Appends `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds), as `tracing_subscriber`'s
/// `SystemTime` timer writes it.
fn timestamp(s: &mut Scratch, now: SystemTime) {
    let (second, micros) = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_micros(),
        ),
        // Before 1970: a broken clock; the epoch is as good a lie as any.
        Err(_) => (0, 0),
    };
    if s.second != Some(second) {
        s.date_time.clear();
        let t = time::OffsetDateTime::from_unix_timestamp(second)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        // Writing into a Vec cannot fail.
        let _ = write!(
            s.date_time,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        );
        s.second = Some(second);
    }
    s.line.extend_from_slice(&s.date_time);
    let _ = write!(s.line, ".{micros:06}Z");
}

/// Appends `value` as a JSON string.
fn string(line: &mut Vec<u8>, value: &str) {
    // Serializing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *line, value);
}

/// Appends `,"name":value` for every field, as `tracing_serde`'s map visitor does.
struct Fields<'a> {
    line: &'a mut Vec<u8>,
    text: &'a mut String,
}

impl Fields<'_> {
    fn key(&mut self, field: &Field) {
        self.line.push(b',');
        string(self.line, field.name());
        self.line.push(b':');
    }

    fn number<T: serde::Serialize>(&mut self, field: &Field, value: T) {
        self.key(field);
        // Numbers (a non-finite float becomes `null`) into a Vec: cannot fail.
        let _ = serde_json::to_writer(&mut *self.line, &value);
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        string(self.line, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.number(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.text.clear();
        let _ = write!(self.text, "{value:?}");
        string(self.line, self.text);
        if self.text.capacity() > KEEP {
            *self.text = String::new();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Buffer;
        fn make_writer(&'a self) -> Buffer {
            self.clone()
        }
    }

    impl Buffer {
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines().map(str::to_owned).collect()
        }
    }

    #[derive(Debug)]
    struct Oops;
    impl fmt::Display for Oops {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("it \"broke\"\n")
        }
    }
    impl std::error::Error for Oops {}

    /// Every kind of field value tracing records, and text that needs escaping.
    fn events() {
        tracing::info!(
            request_id = "r-1",
            caller = "on\"call\\\n\t\u{1}é€😀",
            status = 200u16,
            delta = -7i64,
            big = u64::MAX,
            duration_ms = 84.483,
            whole = 2.0,
            nan = f64::NAN,
            infinite = f64::INFINITY,
            dry_run = true,
            refused = false,
            debugged = ?vec!["a", "b\""],
            shown = %"display \"me\"",
            "canonical request"
        );
        tracing::warn!(
            error = &Oops as &(dyn std::error::Error + 'static),
            "vendor said {}",
            "no"
        );
        tracing::error!(target: "sever::custom", r#type = "raw", "raw key");
        tracing::info!(wide = 12345678901234567890u128, small = -3i128);
        tracing::info!("");
        // One expression: the record borrows the `format_args!` temporary.
        tracing_log::format_trace(
            &log::Record::builder()
                .args(format_args!("pingora says {}", 1))
                .level(log::Level::Warn)
                .target("pingora_core::listeners")
                .module_path_static(Some("pingora_core::listeners"))
                .file_static(Some("src/listeners/mod.rs"))
                .line(Some(42))
                .build(),
        )
        .unwrap();
    }

    fn run(lean: bool) -> Vec<String> {
        let buffer = Buffer::default();
        let layer = tracing_subscriber::fmt::layer().with_writer(buffer.clone());
        let subscriber = tracing_subscriber::layer::SubscriberExt::with(
            tracing_subscriber::registry(),
            if lean {
                layer.event_format(LeanJson).boxed()
            } else {
                layer.json().flatten_event(true).boxed()
            },
        );
        tracing::subscriber::with_default(subscriber, events);
        buffer.lines()
    }

    use tracing_subscriber::Layer as _;

    /// The line with its timestamp's value taken out (checked for shape separately).
    fn without_timestamp(line: &str) -> String {
        let prefix = "{\"timestamp\":\"";
        assert!(line.starts_with(prefix), "{line}");
        let stamp = &line[prefix.len()..prefix.len() + 27];
        let shape = stamp.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 | 16 => b == b':',
            19 => b == b'.',
            26 => b == b'Z',
            _ => b.is_ascii_digit(),
        });
        assert!(shape, "timestamp {stamp:?} in {line}");
        format!("{prefix}{}", &line[prefix.len() + 27..])
    }

    #[test]
    fn writes_what_the_generic_json_formatter_writes() {
        let generic = run(false);
        let lean = run(true);
        assert_eq!(generic.len(), 6, "{generic:#?}");
        assert_eq!(lean.len(), generic.len(), "{lean:#?}");
        for (lean, generic) in lean.iter().zip(&generic) {
            assert_eq!(without_timestamp(lean), without_timestamp(generic));
            // And it is JSON with the fields one expects.
            let _: serde_json::Value = serde_json::from_str(lean).unwrap();
        }
        let first: serde_json::Value = serde_json::from_str(&lean[0]).unwrap();
        assert_eq!(first["caller"], "on\"call\\\n\t\u{1}é€😀");
        assert_eq!(first["duration_ms"], 84.483);
        assert_eq!(first["nan"], serde_json::Value::Null);
        let pingora: serde_json::Value = serde_json::from_str(&lean[5]).unwrap();
        assert_eq!(pingora["level"], "WARN");
        assert_eq!(pingora["target"], "pingora_core::listeners");
        assert_eq!(pingora["message"], "pingora says 1");
    }

    #[test]
    fn the_timestamp_is_utc_with_microseconds_and_follows_the_clock() {
        let mut s = Scratch::default();
        let at = |secs: u64, micros: u64| {
            UNIX_EPOCH + std::time::Duration::from_micros(secs * 1_000_000 + micros)
        };
        let mut stamp = |when| {
            s.line.clear();
            timestamp(&mut s, when);
            String::from_utf8(s.line.clone()).unwrap()
        };
        // 2026-11-23T20:40:01Z is 1795466401.
        assert_eq!(stamp(at(1_795_466_401, 7)), "2026-11-23T20:40:01.000007Z");
        assert_eq!(
            stamp(at(1_795_466_401, 999_999)),
            "2026-11-23T20:40:01.999999Z"
        );
        // The next second (and a new day) is formatted afresh, not taken from the cache.
        assert_eq!(stamp(at(1_795_466_402, 0)), "2026-11-23T20:40:02.000000Z");
        assert_eq!(stamp(at(1_795_478_400, 5)), "2026-11-24T00:00:00.000005Z");
        assert_eq!(stamp(at(951_782_400, 0)), "2000-02-29T00:00:00.000000Z");
        assert_eq!(
            stamp(UNIX_EPOCH - std::time::Duration::from_secs(5)),
            "1970-01-01T00:00:00.000000Z"
        );
    }
}
