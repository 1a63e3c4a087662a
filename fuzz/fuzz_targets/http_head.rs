//! The HTTP/1.1 request head and body framing as Sever sees it
//! (`sever_engine::framing::scan_head`), on arbitrary bytes taken as one connection's
//! input: heads are scanned one after another, as the serve loop does, skipping each
//! served request's `Content-Length` body (a chunked body is pingora's to frame: the
//! walk stops there).
//!
//! The first input byte picks the head cap (`server.max_header_bytes`, 1 KiB to 64 KiB).
//! Beyond "no panic": a served head is no longer than the cap and than the input, ends
//! in a blank line, is incomplete at every shorter length, and is framed exactly one
//! way — never `Content-Length` together with `Transfer-Encoding`, never two
//! `Content-Length`s or `Authorization`s, a chunked body only when `Transfer-Encoding` is
//! exactly `chunked` and a length only when `Content-Length` says that number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sever_engine::framing::{scan_head, BodyFraming, Head, HeadScan, MAX_HEADERS};

/// Requests walked on one input at most.
const MAX_REQUESTS: usize = 8;

fn count(headers: &[httparse::Header<'_>], name: &str) -> usize {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case(name))
        .count()
}

fn value<'h>(headers: &[httparse::Header<'h>], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// Checks a served head against an independent reading of the same bytes.
fn check(bytes: &[u8], head: Head, cap: usize) {
    assert!(head.len <= bytes.len() && head.len <= cap, "{head:?}");
    assert!(bytes[..head.len].ends_with(b"\n"), "{head:?}");
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    let parsed = request.parse(&bytes[..head.len]);
    assert_eq!(parsed, Ok(httparse::Status::Complete(head.len)));
    let headers = request.headers;
    assert!(count(headers, "authorization") <= 1);
    let te = count(headers, "transfer-encoding");
    let cl = count(headers, "content-length");
    assert!(!(te > 0 && cl > 0), "Content-Length with Transfer-Encoding served");
    assert!(cl <= 1, "repeated Content-Length served");
    match head.body {
        BodyFraming::Chunked => {
            // Every list member of every Transfer-Encoding line, empty ones dropped.
            let members: Vec<String> = headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))
                .flat_map(|h| String::from_utf8_lossy(h.value).into_owned().split(',')
                    .map(|m| m.trim_matches([' ', '\t']).to_ascii_lowercase())
                    .filter(|m| !m.is_empty())
                    .collect::<Vec<_>>())
                .collect();
            assert_eq!(members, ["chunked"]);
            assert!(head.http11);
        }
        BodyFraming::Length(n) => {
            let length = value(headers, "content-length").unwrap_or_default();
            let length = std::str::from_utf8(length)
                .unwrap_or_default()
                .trim_matches([' ', '\t']);
            assert_eq!(length.parse::<u64>().ok(), Some(n));
            assert!(n > 0);
        }
        BodyFraming::Empty => assert_eq!(te, 0),
    }
    if head.expect_continue {
        assert!(head.http11 && head.body != BodyFraming::Empty);
    }
    // Incomplete at every shorter length (a sample of them, to stay linear).
    let step = (head.len / 8).max(1);
    for n in (0..head.len).step_by(step) {
        assert_eq!(scan_head(&bytes[..n], cap), HeadScan::Incomplete, "at {n}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, mut rest)) = data.split_first() else {
        return;
    };
    let cap = 1024 + usize::from(pick) * 252;
    for _ in 0..MAX_REQUESTS {
        match scan_head(rest, cap) {
            HeadScan::Incomplete => {
                assert!(rest.len() < cap);
                return;
            }
            HeadScan::Refused(refusal) => {
                assert!((400..=505).contains(&refusal.status()));
                return;
            }
            HeadScan::Complete(head) => {
                check(rest, head, cap);
                rest = &rest[head.len..];
                match head.body {
                    BodyFraming::Empty => {}
                    BodyFraming::Length(n) => {
                        let n = usize::try_from(n).unwrap_or(usize::MAX);
                        if n > rest.len() {
                            return;
                        }
                        rest = &rest[n..];
                    }
                    BodyFraming::Chunked => return,
                }
            }
        }
    }
});
