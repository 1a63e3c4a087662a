//! AWS's published Signature V4 test vectors (the "AWS SigV4 test suite", as also shipped
//! with `aws-sigv4` in `aws-signing-test-suite/v4/`), reproduced through this adapter's
//! [`Signer`] — the same wiring the adapter signs with (credentials into an identity, the
//! time from `Env::unix_ms`, the default settings, the headers taken back out).
//!
//! Every vector: key `AKIDEXAMPLE` / `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY`, region
//! `us-east-1`, service `service`, time 2015-08-30T12:36:00Z, host `example.amazonaws.com`,
//! signed in headers without a payload-hash header. Only vectors whose path needs no
//! encoding are taken: the suite signs paths singly encoded, this adapter (as AWS IoT needs)
//! doubly; the double encoding is checked against the simulator's own verifier end to end.
#![allow(clippy::unwrap_used)]

use crate::signing::{Signed, Signer};

const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// 2015-08-30T12:36:00Z.
const UNIX_MS: u64 = 1_440_938_160_000;
const HOST: &str = "https://example.amazonaws.com";

fn signer(token: Option<&str>) -> Signer {
    Signer::new(ACCESS_KEY_ID, SECRET, token, "us-east-1", "service")
}

fn sign(method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Signed {
    let url = format!("{HOST}{path_and_query}");
    signer(None)
        .sign(method, &url, headers, b"", UNIX_MS)
        .unwrap()
}

fn header<'a>(signed: &'a Signed, name: &str) -> Option<&'a str> {
    signed
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Asserts the vector's signature, and the `authorization` header the suite's
/// `header-signed-request.txt` shows for it.
fn assert_vector(signed: &Signed, signed_headers: &str, signature: &str) {
    assert_eq!(signed.signature, signature);
    assert_eq!(header(signed, "x-amz-date"), Some("20150830T123600Z"));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed_headers}, Signature={signature}"
    );
    assert_eq!(
        header(signed, "authorization"),
        Some(authorization.as_str())
    );
}

#[test]
fn get_vanilla() {
    let signed = sign("GET", "/", &[]);
    let expected = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn get_vanilla_query_order_key_case() {
    let signed = sign("GET", "/?Param2=value2&Param1=value1", &[]);
    let expected = "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn get_vanilla_empty_query_key() {
    let signed = sign("GET", "/?Param1=value1", &[]);
    let expected = "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn get_vanilla_query_unreserved() {
    let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let signed = sign("GET", &format!("/?{unreserved}={unreserved}"), &[]);
    let expected = "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn get_vanilla_utf8_query() {
    // The query `ሴ=bar`, percent-encoded as it goes on the wire.
    let signed = sign("GET", "/?%E1%88%B4=bar", &[]);
    let expected = "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn get_header_value_trim() {
    let headers = [("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")];
    let signed = sign("GET", "/", &headers);
    let expected = "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736";
    assert_vector(&signed, "host;my-header1;my-header2;x-amz-date", expected);
}

#[test]
fn post_vanilla() {
    let signed = sign("POST", "/", &[]);
    let expected = "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn post_vanilla_query() {
    let signed = sign("POST", "/?Param1=value1", &[]);
    let expected = "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11";
    assert_vector(&signed, "host;x-amz-date", expected);
}

#[test]
fn get_vanilla_with_session_token() {
    let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    let url = format!("{HOST}/");
    let signed = signer(Some(token))
        .sign("GET", &url, &[], b"", UNIX_MS)
        .unwrap();
    let expected = "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8";
    assert_vector(&signed, "host;x-amz-date;x-amz-security-token", expected);
    assert_eq!(header(&signed, "x-amz-security-token"), Some(token));
}

#[test]
fn the_same_request_a_second_later_has_another_signature() {
    let url = format!("{HOST}/");
    let first = signer(None).sign("GET", &url, &[], b"", UNIX_MS).unwrap();
    let later = signer(None)
        .sign("GET", &url, &[], b"", UNIX_MS + 1_000)
        .unwrap();
    assert_ne!(first.signature, later.signature);
    assert_eq!(header(&later, "x-amz-date"), Some("20150830T123601Z"));
    // Milliseconds are not part of a SigV4 time: the same second signs the same.
    let same = signer(None)
        .sign("GET", &url, &[], b"", UNIX_MS + 999)
        .unwrap();
    assert_eq!(same.signature, first.signature);
}
