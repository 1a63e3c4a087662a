//! W3C Trace Context (`traceparent`): the identity of a canonical request's spans.
//!
//! The engine owns every id; the OpenTelemetry export in the server only reads them from
//! the spans' fields. A caller's `traceparent` is continued:
//!
//! ```text
//! caller's span (its traceparent's parent-id)
//!  └─ canonical_request: Sever's root span (`span_id`, `parent_id` = the caller's span)
//!      └─ vendor_call: one per vendor exchange (`span_id` = the parent-id of the
//!         `traceparent` that exchange sends, so the vendor's span is its child)
//! ```
//!
//! Without a (valid) `traceparent`, Sever starts a sampled trace of its own and its root
//! span has no parent. The caller's sampled flag is honoured: a trace the caller does not
//! sample is not exported, and the flag goes on to the vendors unchanged.
//!
//! Spans carry the ids as fields with these names (read by the server's exporter):
//! `trace_id` (32 hex digits), `span_id` (16), `parent_id` (16, or empty), `sampled`
//! (bool), and `otel.kind` (`server`, `client` or `internal`).

use crate::clock::Rng;
use std::fmt;

/// The `traceparent` flag for "sampled".
const SAMPLED: u8 = 0x01;

/// The trace a canonical request belongs to, and Sever's root span in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    /// The caller's span; `None` when Sever started the trace.
    parent_id: Option<[u8; 8]>,
    /// Sever's root span (`canonical_request`).
    span_id: [u8; 8],
    flags: u8,
}

/// Bytes shown as lowercase hex (without allocating: these go into log lines and span
/// fields on every request).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 32];
        for chunk in self.0.chunks(16) {
            let n = chunk.len() * 2;
            for (i, b) in chunk.iter().enumerate() {
                buf[2 * i] = DIGITS[usize::from(b >> 4)];
                buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
            }
            // Only ASCII hex digits were written.
            f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Random bytes that are not all zero (an all-zero id is invalid).
fn nonzero<const N: usize>(rng: &dyn Rng) -> [u8; N] {
    let mut id = [0u8; N];
    while id == [0; N] {
        rng.fill(&mut id);
    }
    id
}

/// A caller's `traceparent`: trace id, parent (span) id, flags.
fn parse(header: &[u8]) -> Option<([u8; 16], [u8; 8], u8)> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let mut parts = text.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != "00" {
        return None;
    }
    let trace_id: [u8; 16] = hex_bytes(trace)?;
    let parent_id: [u8; 8] = hex_bytes(parent)?;
    let [flags]: [u8; 1] = hex_bytes(flags)?;
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some((trace_id, parent_id, flags))
}

impl TraceContext {
    /// Continues the caller's `traceparent` (version `00`, lowercase hex, no all-zero ids)
    /// with a new root span for Sever, or starts a new sampled trace when there is none or
    /// it is invalid.
    pub fn continue_or_start(header: Option<&[u8]>, rng: &dyn Rng) -> Self {
        let span_id = nonzero(rng);
        match header.and_then(parse) {
            Some((trace_id, parent_id, flags)) => TraceContext {
                trace_id,
                parent_id: Some(parent_id),
                span_id,
                flags: flags & SAMPLED,
            },
            None => TraceContext {
                trace_id: nonzero(rng),
                parent_id: None,
                span_id,
                flags: SAMPLED,
            },
        }
    }

    /// The trace id (32 hex digits).
    pub fn trace_id(&self) -> Hex<'_> {
        Hex(&self.trace_id)
    }

    /// Sever's root span id (16 hex digits).
    pub fn span_id(&self) -> Hex<'_> {
        Hex(&self.span_id)
    }

    /// The caller's span id (16 hex digits), or empty when Sever started the trace.
    pub fn parent_id(&self) -> Hex<'_> {
        Hex(self.parent_id.as_ref().map_or(&[][..], |p| &p[..]))
    }

    /// Whether the trace is sampled (exported).
    pub fn sampled(&self) -> bool {
        self.flags & SAMPLED != 0
    }

    /// The identity of one vendor exchange: a fresh span id in this trace.
    pub fn exchange(&self, rng: &dyn Rng) -> ExchangeTrace {
        ExchangeTrace {
            trace_id: self.trace_id,
            span_id: nonzero(rng),
            flags: self.flags,
        }
    }
}

/// One vendor exchange's span in a trace: its `vendor_call` span id is the parent-id of
/// the `traceparent` it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExchangeTrace {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    flags: u8,
}

impl ExchangeTrace {
    /// The `vendor_call` span's id (16 hex digits).
    pub fn span_id(&self) -> Hex<'_> {
        Hex(&self.span_id)
    }

    /// The `traceparent` header value to send.
    pub fn header(&self) -> String {
        use fmt::Write as _;
        let mut s = String::with_capacity(55);
        // Writing into a String cannot fail.
        let _ = write!(
            s,
            "00-{}-{}-{}",
            Hex(&self.trace_id),
            Hex(&self.span_id),
            Hex(&[self.flags])
        );
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::SystemRng;

    const GIVEN: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_under_a_new_root_span() {
        let t = TraceContext::continue_or_start(Some(GIVEN), &SystemRng);
        assert_eq!(t.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_id().to_string(), "00f067aa0ba902b7");
        assert_eq!(t.span_id().to_string().len(), 16);
        assert_ne!(t.span_id().to_string(), "00f067aa0ba902b7");
        assert!(t.sampled());
    }

    #[test]
    fn a_vendor_exchange_carries_its_own_span_id_in_the_callers_trace() {
        let t = TraceContext::continue_or_start(Some(GIVEN), &SystemRng);
        let exchange = t.exchange(&SystemRng);
        let header = exchange.header();
        assert_eq!(
            header,
            format!(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
                exchange.span_id()
            )
        );
        assert_ne!(exchange.span_id(), t.span_id());
        let (trace, parent, flags) = parse(header.as_bytes()).unwrap();
        assert_eq!(Hex(&trace).to_string(), t.trace_id().to_string());
        assert_eq!(Hex(&parent).to_string(), exchange.span_id().to_string());
        assert_eq!(flags, 1);
    }

    #[test]
    fn an_unsampled_caller_trace_stays_unsampled_on_the_vendor_call() {
        let given = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        let t = TraceContext::continue_or_start(Some(given), &SystemRng);
        assert!(!t.sampled());
        assert!(t.exchange(&SystemRng).header().ends_with("-00"));
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            &b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"[..],
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            b"\xff",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
            let t = TraceContext::continue_or_start(Some(bad), &SystemRng);
            assert_ne!(t.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_eq!(t.parent_id().to_string(), "");
            assert!(t.sampled());
        }
    }

    #[test]
    fn without_a_caller_trace_a_new_sampled_one_is_started() {
        let a = TraceContext::continue_or_start(None, &SystemRng);
        let b = TraceContext::continue_or_start(None, &SystemRng);
        assert_ne!(a.trace_id(), b.trace_id());
        assert_eq!(a.parent_id().to_string(), "");
        let header = a.exchange(&SystemRng).header();
        assert!(parse(header.as_bytes()).is_some(), "{header}");
        assert!(header.ends_with("-01"));
    }
}
