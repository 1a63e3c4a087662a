//! Alibaba Cloud's RPC signature, version 1 (HMAC-SHA1), and the two values it makes
//! unique: the UTC `Timestamp` and the `SignatureNonce`.
//!
//! Public so that benchmarks and operators checking a signature can call it; the adapter is
//! its only user in Sever. Pure functions of their inputs: the clock and the randomness come from the host's
//! [`sever_plugin_sdk::Env`], so the published test vectors reproduce exactly.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sever_plugin_sdk::encode;
use sha1::Sha1;
use std::fmt;

/// The vendor's percent-encoding: `A-Z a-z 0-9 - _ . ~` kept, every other byte of the
/// UTF-8 as `%XY` (uppercase), so a space is `%20` (never `+`), `*` is `%2A`, `~` stays.
/// Exactly the SDK's form-component encoding.
pub(crate) fn percent(value: &str) -> String {
    encode::component(value)
}

/// The canonicalized query: `name=value` pairs joined by `&`, each name and value
/// percent-encoded. The parameters must come sorted by name in byte order (a
/// `BTreeMap<String, String>` iterates in that order; a slice can be sorted with
/// `sort_unstable_by`), and `Signature` must not be among them.
pub fn canonical_query<K, V>(params: impl IntoIterator<Item = (K, V)>) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut query = String::with_capacity(512);
    for (name, value) in params {
        if !query.is_empty() {
            query.push('&');
        }
        encode::push_component(&mut query, name.as_ref());
        query.push('=');
        encode::push_component(&mut query, value.as_ref());
    }
    query
}

/// `METHOD&%2F&enc(canonical query)`: the canonicalized query is encoded a second time,
/// so a `:` in the timestamp appears as `%253A`.
pub fn string_to_sign(method: &str, canonical_query: &str) -> String {
    let mut out = String::with_capacity(method.len() + 5 + canonical_query.len() * 3 / 2);
    out.push_str(method);
    out.push_str("&%2F&");
    encode::push_component(&mut out, canonical_query);
    out
}

/// HMAC-SHA1 keyed with `AccessKeySecret&`, made once per backend: every signature then
/// starts from the keyed state instead of hashing the key again.
#[derive(Clone)]
pub struct Signer {
    mac: Hmac<Sha1>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keyed state is derived from the secret: never shown.
        f.write_str("Signer(HMAC-SHA1)")
    }
}

impl Signer {
    /// A signer for one AccessKey secret.
    pub fn new(access_key_secret: &str) -> Self {
        let mut key = String::with_capacity(access_key_secret.len() + 1);
        key.push_str(access_key_secret);
        key.push('&');
        let Ok(mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
            // HMAC hashes over-long keys and pads short ones: every length is accepted.
            unreachable!("HMAC-SHA1 accepts keys of any length");
        };
        Signer { mac }
    }

    /// Base64(HMAC-SHA1(key, string to sign)).
    pub fn sign(&self, string_to_sign: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(string_to_sign.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

/// Base64(HMAC-SHA1(key = `AccessKeySecret&`, string to sign)).
pub fn sign(access_key_secret: &str, string_to_sign: &str) -> String {
    Signer::new(access_key_secret).sign(string_to_sign)
}

/// The signature of `params` (every parameter but `Signature`, sorted by name as for
/// [`canonical_query`]) sent with `method`.
pub fn signature<K, V>(
    method: &str,
    params: impl IntoIterator<Item = (K, V)>,
    access_key_secret: &str,
) -> String
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    sign(
        access_key_secret,
        &string_to_sign(method, &canonical_query(params)),
    )
}

/// Appends `value` in decimal, zero-padded to at least `width` digits.
fn push_decimal(out: &mut String, value: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut n = value;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push('0');
    }
    for &d in digits[..len].iter().rev() {
        out.push(char::from(d));
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` (UTC, whole seconds, milliseconds dropped) for a time in
/// milliseconds since the Unix epoch.
pub fn timestamp(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(20);
    for (value, width, after) in [
        (year, 4, '-'),
        (month, 2, '-'),
        (day, 2, 'T'),
        (rest / 3600, 2, ':'),
        (rest % 3600 / 60, 2, ':'),
        (rest % 60, 2, 'Z'),
    ] {
        push_decimal(&mut out, value, width);
        out.push(after);
    }
    out
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, restricted to dates on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // month from March, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A `SignatureNonce` in the shape of a version-4 UUID (`8-4-4-4-12` lowercase hex) from
/// the host's fresh random bytes: unique per request, as the vendor requires.
pub fn nonce(random: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&random[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let mut out = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    /// Alibaba's own published example (RPC signature V1 document).
    fn published_params() -> BTreeMap<String, String> {
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
    fn published_get_vector_is_reproduced_exactly() {
        let params = published_params();
        let query = canonical_query(&params);
        assert_eq!(
            query,
            "AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1\
             &SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0\
             &Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26"
        );
        assert_eq!(
            string_to_sign("GET", &query),
            "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML\
             %26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf\
             %26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z\
             %26Version%3D2014-05-26"
        );
        assert_eq!(
            signature("GET", &params, "testsecret"),
            "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
        );
    }

    #[test]
    fn published_post_vector_is_reproduced_exactly() {
        assert_eq!(
            signature("POST", &published_params(), "testsecret"),
            "MxbnVAM4w6sft9xjVpe/GCKueuk="
        );
    }

    #[test]
    fn the_secret_and_the_method_both_change_the_signature() {
        let params = published_params();
        let reference = signature("GET", &params, "testsecret");
        assert_ne!(signature("GET", &params, "testsecreT"), reference);
        assert_ne!(signature("get", &params, "testsecret"), reference);
    }

    #[test]
    fn percent_encoding_follows_the_vendors_rules() {
        assert_eq!(percent("a b"), "a%20b");
        assert_eq!(percent("a*b"), "a%2Ab");
        assert_eq!(percent("~tilde-_.AZaz09"), "~tilde-_.AZaz09");
        assert_eq!(percent("a+b=c&d/e:f"), "a%2Bb%3Dc%26d%2Fe%3Af");
        assert_eq!(percent("%2F"), "%252F");
        assert_eq!(percent("GID_test@@@test"), "GID_test%40%40%40test");
        assert_eq!(percent("é"), "%C3%A9");
        assert_eq!(percent("日本"), "%E6%97%A5%E6%9C%AC");
        assert_eq!(percent("😀"), "%F0%9F%98%80");
    }

    #[test]
    fn parameters_sort_by_byte_order_so_uppercase_comes_before_lowercase() {
        let params: BTreeMap<String, String> = [("b", "1"), ("B", "2"), ("a", "3"), ("Z", "4")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(canonical_query(&params), "B=2&Z=4&a=3&b=1");
    }

    #[test]
    fn timestamps_are_utc_whole_seconds() {
        assert_eq!(timestamp(1_456_231_584_000), "2016-02-23T12:46:24Z");
        assert_eq!(timestamp(1_456_231_584_999), "2016-02-23T12:46:24Z");
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(timestamp(4_107_542_400_000), "2100-03-01T00:00:00Z");
        assert_eq!(timestamp(1_704_067_199_000), "2023-12-31T23:59:59Z");
        assert_eq!(timestamp(253_402_300_799_000), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn timestamps_agree_with_the_time_crate_across_four_centuries() {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        // A step that is not a divisor of a day walks through every time of day and, over
        // 400 years, every kind of month and leap year.
        let step = 86_400 * 3 + 3_607;
        let mut secs: u64 = 0;
        while secs < 400 * 366 * 86_400 {
            let expected = time::OffsetDateTime::from_unix_timestamp(secs as i64)
                .unwrap()
                .format(&format)
                .unwrap();
            assert_eq!(timestamp(secs * 1000), expected, "{secs}");
            secs += step;
        }
    }

    #[test]
    fn nonces_are_uuid_shaped_and_follow_the_random_bytes() {
        let a = nonce(&[0u8; 32]);
        assert_eq!(a, "00000000-0000-4000-8000-000000000000");
        let b = nonce(&[0xff; 32]);
        assert_eq!(b, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let mut random = [0u8; 32];
        for (i, byte) in random.iter_mut().enumerate() {
            *byte = (i as u8).wrapping_mul(17);
        }
        let c = nonce(&random);
        assert_eq!(c, "00112233-4455-4677-8899-aabbccddeeff");
        assert_eq!(c.len(), 36);
        assert_eq!(percent(&c), c, "a nonce needs no encoding");
    }
}
