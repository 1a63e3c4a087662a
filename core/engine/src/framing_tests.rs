use super::*;

const CAP: usize = 16 * 1024;

fn scan(head: &str) -> HeadScan {
    scan_head(head.as_bytes(), CAP)
}

fn refused(head: &str) -> Refusal {
    match scan(head) {
        HeadScan::Refused(r) => r,
        other => panic!("{head:?} not refused: {other:?}"),
    }
}

fn served(head: &str) -> Head {
    match scan(head) {
        HeadScan::Complete(h) => h,
        other => panic!("{head:?} not served: {other:?}"),
    }
}

#[test]
fn a_plain_request_is_served_with_its_length_and_framing() {
    let text = "POST /v1/actions HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"a\": 1}....";
    let head = served(text);
    assert_eq!(head.len, text.len() - 12);
    assert!(head.http11);
    assert_eq!(head.body, BodyFraming::Length(12));
    assert!(!head.expect_continue);
    let chunked = served("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
    assert_eq!(chunked.body, BodyFraming::Chunked);
    let get = served("\r\nGET /healthz HTTP/1.0\n\n");
    assert_eq!((get.http11, get.body), (false, BodyFraming::Empty));
}

#[test]
fn a_head_is_incomplete_until_its_blank_line_and_too_large_past_the_cap() {
    assert_eq!(scan("GET / HTTP/1.1\r\nHost: a\r\n"), HeadScan::Incomplete);
    assert_eq!(scan(""), HeadScan::Incomplete);
    assert_eq!(scan("\r\n\r\n"), HeadScan::Incomplete);
    let long = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "x".repeat(CAP)
    );
    assert_eq!(refused(&long), Refusal::TooLarge);
    // The blank line past the cap does not count.
    let text = format!("GET / HTTP/1.1\r\nX: {}", "x".repeat(100));
    assert_eq!(
        scan_head(text.as_bytes(), 64),
        HeadScan::Refused(Refusal::TooLarge)
    );
    let many: String = (0..300).map(|i| format!("X-{i}: v\r\n")).collect();
    assert_eq!(
        refused(&format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n")),
        Refusal::TooLarge
    );
}

#[test]
fn content_length_with_transfer_encoding_is_refused_whatever_the_order() {
    for head in [
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
    ] {
        assert_eq!(refused(head), Refusal::AmbiguousLength);
    }
}

#[test]
fn transfer_codings_other_than_a_single_chunked_are_refused() {
    let te = |v: &str| format!("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: {v}\r\n\r\n");
    assert_eq!(
        refused(&te("gzip, chunked")),
        Refusal::UnsupportedTransferCoding
    );
    assert_eq!(refused(&te("gzip")), Refusal::InvalidTransferEncoding);
    assert_eq!(
        refused(&te("chunked, gzip")),
        Refusal::InvalidTransferEncoding
    );
    assert_eq!(
        refused(&te("chunked, chunked")),
        Refusal::InvalidTransferEncoding
    );
    assert_eq!(refused(&te("")), Refusal::InvalidTransferEncoding);
    let two = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(refused(two), Refusal::UnsupportedTransferCoding);
    let http10 = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(refused(http10), Refusal::InvalidTransferEncoding);
}

#[test]
fn content_lengths_must_be_one_number() {
    let cl = |v: &str| format!("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {v}\r\n\r\n");
    for bad in [
        "-1",
        "+5",
        "5, 5",
        "0x10",
        "",
        "99999999999999999999",
        "1 2",
    ] {
        assert_eq!(refused(&cl(bad)), Refusal::InvalidLength, "{bad:?}");
    }
    let two = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
    assert_eq!(refused(two), Refusal::InvalidLength);
    assert_eq!(served(&cl(" 7 ")).body, BodyFraming::Length(7));
    assert_eq!(served(&cl("0")).body, BodyFraming::Empty);
}

#[test]
fn encodings_duplicate_credentials_and_hosts_are_refused() {
    let with = |h: &str| format!("POST / HTTP/1.1\r\nHost: a\r\n{h}\r\n\r\n");
    assert_eq!(
        refused(&with("Content-Encoding: gzip")),
        Refusal::ContentEncoding
    );
    assert_eq!(
        served(&with("Content-Encoding: identity")).body,
        BodyFraming::Empty
    );
    let auth = with("Authorization: Bearer a\r\nAuthorization: Bearer b");
    assert_eq!(refused(&auth), Refusal::DuplicateAuthorization);
    assert_eq!(refused(&with("Host: b")), Refusal::InvalidHost);
    assert_eq!(refused("GET / HTTP/1.1\r\n\r\n"), Refusal::InvalidHost);
    assert_eq!(served("GET / HTTP/1.0\r\n\r\n").body, BodyFraming::Empty);
}

#[test]
fn other_versions_are_505_and_garbage_is_400() {
    assert_eq!(
        refused("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
        Refusal::UnsupportedVersion
    );
    assert_eq!(
        refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Refusal::UnsupportedVersion
    );
    assert_eq!(
        refused("GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
        Refusal::UnsupportedVersion
    );
    for bad in [
        "GET /\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01\x00\n\n",
        "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
    ] {
        assert_eq!(refused(bad), Refusal::Malformed, "{bad:?}");
    }
}

#[test]
fn expect_continue_is_noted_only_for_an_http11_request_with_a_body() {
    let with =
        |v: &str, body: &str| format!("POST / HTTP/1.1\r\nHost: a\r\nExpect: {v}\r\n{body}\r\n");
    assert!(served(&with("100-Continue", "Content-Length: 3\r\n")).expect_continue);
    assert!(!served(&with("100-continue", "")).expect_continue);
    assert!(!served(&with("something-else", "Content-Length: 3\r\n")).expect_continue);
    let http10 = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
    assert!(!served(http10).expect_continue);
}

#[test]
fn every_refusal_has_a_distinct_label_and_an_error_status() {
    let mut labels: Vec<&str> = Refusal::ALL.iter().map(|r| r.label()).collect();
    labels.sort_unstable();
    labels.dedup();
    assert_eq!(labels.len(), Refusal::ALL.len());
    for r in Refusal::ALL {
        assert!((400..600).contains(&r.status()), "{r:?}");
        assert!(!r.detail().is_empty());
    }
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_seen_complete_exactly_at_its_end() {
    let text = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /next";
    let end = text.len() - b"GET /next".len();
    for n in 0..=text.len() {
        let scan = scan_head(&text[..n], CAP);
        if n < end {
            assert_eq!(scan, HeadScan::Incomplete, "{n}");
        } else {
            assert!(matches!(scan, HeadScan::Complete(h) if h.len == end), "{n}");
        }
    }
}
