//! The simulator's own Signature V4 verification: test code checking the adapter, written
//! from AWS's "Create a signed AWS API request" steps with `hmac` and `sha2` — deliberately
//! not the adapter's `aws-sigv4` crate, so a wiring mistake there cannot hide here.
//!
//! Non-S3 rules: the canonical URI is the path **as received** with every segment
//! percent-encoded again (double encoding: `a%2Fb` → `a%252Fb`); query names and values are
//! decoded, re-encoded with the unreserved set and sorted; the signed headers' values are
//! trimmed with inner runs of spaces collapsed; the payload hash is SHA-256 of the body.

use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use axum::http::HeaderMap;

/// Everything but `A-Z a-z 0-9 - . _ ~` is encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses the header; `None` when it is not a complete SigV4 authorization.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => return None,
        }
    }
    let scope: Vec<&str> = credential?.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope.as_slice() else {
        return None;
    };
    Some(Authorization {
        access_key_id: (*akid).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed?.split(';').map(str::to_owned).collect(),
        signature: signature?.to_owned(),
    })
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

/// The canonical request for what arrived.
pub fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    signed_headers: &[String],
    body: &[u8],
) -> String {
    let uri: Vec<String> = raw_path.split('/').map(encode).collect();
    let mut query: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (encode(&decode(name)), encode(&decode(value)))
        })
        .collect();
    query.sort();
    let query: Vec<String> = query.into_iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut canonical_headers = String::new();
    for name in signed_headers {
        let values: Vec<String> = headers
            .get_all(name.as_str())
            .iter()
            .map(|v| {
                let text = String::from_utf8_lossy(v.as_bytes());
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        canonical_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    let payload = hex::encode(Sha256::digest(body));
    [
        method.to_owned(),
        uri.join("/"),
        query.join("&"),
        canonical_headers,
        signed_headers.join(";"),
        payload,
    ]
    .join("\n")
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes a key of any length")
    };
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The signature of `canonical_request` at `amz_date` (`YYYYMMDDTHHMMSSZ`) for the scope of
/// `authorization`, with `secret`.
pub fn signature(secret: &str, amz_date: &str, auth: &Authorization, canonical: &str) -> String {
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let hashed = hex::encode(Sha256::digest(canonical.as_bytes()));
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashed}");
    let key = hmac(format!("AWS4{secret}").as_bytes(), &auth.date);
    let key = hmac(&key, &auth.region);
    let key = hmac(&key, &auth.service);
    let key = hmac(&key, "aws4_request");
    hex::encode(hmac(&key, &string_to_sign))
}

/// `YYYYMMDDTHHMMSSZ` as seconds since the Unix epoch.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let parsed = time::PrimitiveDateTime::parse(text, &format).ok()?;
    Some(parsed.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    /// AWS's published `get-vanilla` vector, verified with this module alone.
    #[test]
    fn the_published_get_vanilla_vector_verifies() {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.amazonaws.com"));
        headers.insert("x-amz-date", HeaderValue::from_static("20150830T123600Z"));
        let value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let auth = parse_authorization(value).unwrap();
        let canonical = canonical_request("GET", "/", "", &headers, &auth.signed_headers, b"");
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            signature(secret, "20150830T123600Z", &auth, &canonical),
            auth.signature
        );
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
    }

    #[test]
    fn the_path_is_encoded_again_and_the_query_sorted() {
        let headers = HeaderMap::new();
        let canonical = canonical_request(
            "DELETE",
            "/connections/a%2Fb%20c",
            "b=2&a=%7E1",
            &headers,
            &[],
            b"",
        );
        let lines: Vec<&str> = canonical.lines().collect();
        assert_eq!(lines[1], "/connections/a%252Fb%2520c");
        assert_eq!(lines[2], "a=~1&b=2");
    }
}
