//! W3C Trace Context (`traceparent`) for vendor calls.
//!
//! A caller's `traceparent` is continued: every vendor call carries the caller's trace id
//! with a fresh parent (span) id, so the vendor's logs line up with the caller's trace.
//! Without one (or with an invalid one), Sever starts a new trace per canonical request.

use rand::RngCore;

/// The trace a canonical request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    flags: u8,
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

impl TraceContext {
    /// Parses a `traceparent` header value (version `00`, lowercase hex, no all-zero ids);
    /// `None` for anything else.
    pub fn parse(header: &[u8]) -> Option<Self> {
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
        Some(TraceContext { trace_id, flags })
    }

    /// The caller's trace, or a new sampled one.
    pub fn continue_or_start(header: Option<&[u8]>) -> Self {
        header.and_then(Self::parse).unwrap_or_else(|| {
            let mut trace_id = [0u8; 16];
            while trace_id == [0; 16] {
                rand::rng().fill_bytes(&mut trace_id);
            }
            TraceContext {
                trace_id,
                flags: 0x01,
            }
        })
    }

    /// The trace id as 32 lowercase hex digits.
    pub fn trace_id(&self) -> String {
        hex::encode(self.trace_id)
    }

    /// A `traceparent` value for one vendor call: this trace, a fresh span id.
    pub fn child_header(&self) -> String {
        let mut span = [0u8; 8];
        while span == [0; 8] {
            rand::rng().fill_bytes(&mut span);
        }
        // `hex` rather than `write!("{:02x}")` per byte: this runs on every vendor call.
        let mut s = String::with_capacity(55);
        s.push_str("00-");
        s.push_str(&hex::encode(self.trace_id));
        s.push('-');
        s.push_str(&hex::encode(span));
        s.push('-');
        s.push_str(&hex::encode([self.flags]));
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const GIVEN: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_continued_with_a_new_span() {
        let t = TraceContext::parse(GIVEN).unwrap();
        assert_eq!(t.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = t.child_header();
        assert!(
            child.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{child}"
        );
        assert!(child.ends_with("-01"));
        assert_eq!(child.len(), 55);
        assert_ne!(&child[36..52], "00f067aa0ba902b7");
    }

    #[test]
    fn invalid_traceparents_are_refused() {
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
            assert_eq!(
                TraceContext::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn without_a_caller_trace_a_new_one_is_started() {
        let a = TraceContext::continue_or_start(None);
        let b = TraceContext::continue_or_start(Some(b"garbage"));
        assert_ne!(a.trace_id(), b.trace_id());
        assert!(TraceContext::parse(a.child_header().as_bytes()).is_some());
    }
}
