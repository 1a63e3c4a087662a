//! The simulator's own reading of Alibaba Cloud's RPC conventions: form/query decoding,
//! the V1 signature and the timestamp format. Written from the vendor's documents,
//! independently of the adapter (which must agree with it, or the simulator refuses it).

use std::collections::BTreeMap;
use std::fmt::Write;

use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::percent_decode_str;
use sha1::Sha1;

/// The RPC percent-encoding: bytes of `A-Z a-z 0-9 - _ . ~` as they are, every other byte
/// of the UTF-8 as `%` and two uppercase hex digits.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        if unreserved {
            out.push(char::from(byte));
        } else {
            // Writing into a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// Decodes `application/x-www-form-urlencoded` text (also a query string) the way a web
/// server does: pairs split on `&`, name and value on the first `=`, `+` read as a space,
/// then percent-decoded. Empty pairs are skipped. A value that is not UTF-8 once decoded is
/// an error naming the pair.
pub fn decode_form(text: &str) -> Result<Vec<(String, String)>, String> {
    let decode = |part: &str| {
        let spaced = part.replace('+', " ");
        percent_decode_str(&spaced)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| format!("the parameter '{part}' is not percent-encoded UTF-8"))
    };
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// `METHOD&%2F&` + encode(the sorted, encoded `name=value` pairs joined by `&`), over every
/// parameter but `Signature`.
pub fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name.as_str() != "Signature")
        .map(|(name, value)| (encode(name), encode(value)))
        .collect();
    pairs.sort();
    let query: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!("{method}&{}&{}", encode("/"), encode(&query.join("&")))
}

/// Base64 of HMAC-SHA1 over `string_to_sign`, keyed with the secret followed by `&`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let key = [secret.as_bytes(), b"&"].concat();
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&key) else {
        unreachable!("HMAC accepts keys of any length");
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Seconds since the Unix epoch of a `YYYY-MM-DDThh:mm:ssZ` timestamp (UTC, exactly that
/// shape: no fraction, no offset other than `Z`), or `None`.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    if text.len() != 20 {
        return None;
    }
    let parsed = time::PrimitiveDateTime::parse(text, &format).ok()?;
    Some(parsed.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn published() -> BTreeMap<String, String> {
        [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn the_published_vectors_verify() {
        let mut params = published();
        let get = sign("testsecret", &string_to_sign("GET", &params));
        assert_eq!(get, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
        // `Signature` itself is never signed.
        params.insert("Signature".into(), get);
        let post = sign("testsecret", &string_to_sign("POST", &params));
        assert_eq!(post, "MxbnVAM4w6sft9xjVpe/GCKueuk=");
    }

    #[test]
    fn encoding_keeps_only_unreserved_bytes() {
        assert_eq!(encode("a b*c~d+e/f"), "a%20b%2Ac~d%2Be%2Ff");
        assert_eq!(encode("ü"), "%C3%BC");
    }

    #[test]
    fn form_decoding_reads_plus_as_space_and_refuses_bad_utf8() {
        let pairs = decode_form("a=1+2&b=%2B%20&&c&d=%C3%BC").unwrap();
        let expected = [("a", "1 2"), ("b", "+ "), ("c", ""), ("d", "ü")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(pairs, expected);
        assert!(decode_form("a=%FF").is_err());
    }

    #[test]
    fn timestamps_parse_only_in_the_documented_shape() {
        assert_eq!(parse_timestamp("2016-02-23T12:46:24Z"), Some(1_456_231_584));
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        for bad in [
            "2016-02-23T12:46:24",
            "2016-02-23T12:46:24.000Z",
            "2016-02-23 12:46:24Z",
            "2016-02-23T12:46:24+00:00",
            "2016-2-23T12:46:24Z",
            "2016-02-30T12:46:24Z",
            "",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
