//! A vendor's throttling answer read in one place: the wait it asked for, from whichever
//! header it uses, as the canonical `Retry-After` (delta seconds).

use std::time::{Duration, UNIX_EPOCH};

use sever_plugin_abi::{Env, Problem, ProblemKind, VendorResponse};

/// The wait a throttling answer asks for, as a `Retry-After` value in whole seconds, from
/// the first header that says it:
///
/// 1. `Retry-After` (RFC 9110): delta seconds, passed on as they are; an HTTP-date, as
///    the seconds from the answer's `Date` (else from `now_ms`, the host's clock) to it —
///    or, with neither clock, the date itself;
/// 2. `X-Rate-Limit-Reset` (Okta: the UTC epoch second the limit resets at), as the
///    seconds from the answer's `Date` to it — the Okta SDKs' reading, which is immune to
///    a skew between the two clocks — else from `now_ms`.
///
/// A wait already over is `0`; a header that is not what it should be is ignored (never
/// passed on as it came).
///
/// ```
/// use sever_plugin_sdk::{vendor, VendorResponse};
/// let headers = [
///     ("date", b"Tue, 14 Nov 2023 22:13:20 GMT".as_slice()), // 1700000000
///     ("x-rate-limit-reset", b"1700000042".as_slice()),
/// ];
/// let r = VendorResponse { status: 429, headers: &headers, body: b"" };
/// assert_eq!(vendor::retry_after(&r, None).as_deref(), Some("42"));
/// let r = VendorResponse { status: 429, headers: &headers[1..], body: b"" };
/// assert_eq!(vendor::retry_after(&r, Some(1_700_000_040_500)).as_deref(), Some("2"));
/// ```
pub fn retry_after(response: &VendorResponse<'_>, now_ms: Option<u64>) -> Option<String> {
    let date = response
        .header("date")
        .and_then(http_date_s)
        .map(|s| s.saturating_mul(1000));
    let clock = date.or(now_ms);
    if let Some(value) = response.header("retry-after").map(str::trim) {
        if let Some(seconds) = delta_seconds(value) {
            return Some(seconds.to_string());
        }
        if let Some(at_s) = http_date_s(value) {
            return Some(match clock {
                Some(now_ms) => wait_s(at_s, now_ms).to_string(),
                None => httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(at_s)),
            });
        }
    }
    let reset_s = response
        .header("x-rate-limit-reset")
        .and_then(delta_seconds)?;
    Some(wait_s(reset_s, clock?).to_string())
}

/// [`ProblemKind::RateLimited`] for a throttling answer (a 429, or a vendor's throttling
/// code under another status), with what the vendor said in `vendor` and its wait as
/// [`retry_after`] reads it by the host's clock. Not retryable by the host: the caller
/// decides when to come back.
pub fn rate_limited(
    response: &VendorResponse<'_>,
    env: &Env,
    vendor_code: Option<&str>,
    vendor_message: Option<&str>,
    detail: String,
) -> Problem {
    let mut problem = super::problem_with_retry(
        ProblemKind::RateLimited,
        response,
        vendor_code,
        vendor_message,
        detail,
        false,
    );
    problem.retry_after = retry_after(response, Some(env.unix_ms));
    problem
}

/// Whole seconds written as 1 to 10 digits (RFC 9110 delta-seconds; longer is nonsense).
fn delta_seconds(value: &str) -> Option<u64> {
    let value = value.trim();
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// An HTTP-date (any of RFC 9110's three forms) as epoch seconds.
fn http_date_s(value: &str) -> Option<u64> {
    let at = httpdate::parse_http_date(value.trim()).ok()?;
    at.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// Whole seconds from `now_ms` until `at_s`, rounded up; 0 when it is past.
fn wait_s(at_s: u64, now_ms: u64) -> u64 {
    at_s.saturating_mul(1000)
        .saturating_sub(now_ms)
        .div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATE: &[u8] = b"Tue, 14 Nov 2023 22:13:20 GMT"; // 1_700_000_000
    const T0: u64 = 1_700_000_000_000;

    fn wait(headers: &[(&str, &[u8])], now_ms: Option<u64>) -> Option<String> {
        let r = VendorResponse {
            status: 429,
            headers,
            body: b"",
        };
        retry_after(&r, now_ms)
    }

    #[test]
    fn delta_seconds_pass_on_as_they_are() {
        assert_eq!(wait(&[("retry-after", b"12")], None).as_deref(), Some("12"));
        assert_eq!(
            wait(&[("retry-after", b" 007 ")], None).as_deref(),
            Some("7")
        );
        assert_eq!(wait(&[("retry-after", b"0")], None).as_deref(), Some("0"));
    }

    #[test]
    fn an_http_date_is_read_against_the_answers_date_then_the_hosts_clock() {
        let at = b"Tue, 14 Nov 2023 22:14:00 GMT".as_slice(); // T0 + 40 s
        let both = [("retry-after", at), ("date", DATE)];
        assert_eq!(wait(&both, Some(T0 + 5_000)).as_deref(), Some("40"));
        let alone = [("retry-after", at)];
        assert_eq!(wait(&alone, Some(T0 + 5_000)).as_deref(), Some("35"));
        assert_eq!(wait(&alone, Some(T0 + 60_000)).as_deref(), Some("0"));
        let shown = wait(&alone, None);
        assert_eq!(shown.as_deref(), Some("Tue, 14 Nov 2023 22:14:00 GMT"));
        let obsolete = [("retry-after", b"Tuesday, 14-Nov-23 22:14:00 GMT".as_slice())];
        assert_eq!(wait(&obsolete, Some(T0)).as_deref(), Some("40"));
    }

    #[test]
    fn oktas_reset_epoch_second_is_read_against_the_date_header_then_the_clock() {
        let reset = ("x-rate-limit-reset", b"1700000030".as_slice());
        assert_eq!(
            wait(&[reset, ("date", DATE)], Some(T0 + 29_000)).as_deref(),
            Some("30")
        );
        assert_eq!(wait(&[reset], Some(T0 + 29_000)).as_deref(), Some("1"));
        assert_eq!(
            wait(&[reset], Some(T0 + 29_001)).as_deref(),
            Some("1"),
            "rounded up"
        );
        assert_eq!(wait(&[reset], Some(T0 + 31_000)).as_deref(), Some("0"));
        assert_eq!(wait(&[reset], None), None, "no clock, no wait");
        let both = [("retry-after", b"3".as_slice()), reset];
        assert_eq!(
            wait(&both, Some(T0)).as_deref(),
            Some("3"),
            "Retry-After wins"
        );
    }

    #[test]
    fn headers_that_are_not_a_wait_are_ignored() {
        for bad in [
            b"soon".as_slice(),
            b"-1",
            b"1.5",
            b"99999999999",
            b"",
            b"1 2",
        ] {
            assert_eq!(wait(&[("retry-after", bad)], Some(T0)), None, "{bad:?}");
            assert_eq!(wait(&[("x-rate-limit-reset", bad)], Some(T0)), None);
        }
        let bad_date = [("retry-after", b"x".as_slice()), ("date", b"yesterday")];
        assert_eq!(wait(&bad_date, Some(T0)), None);
    }

    #[test]
    fn rate_limited_carries_the_vendors_words_and_the_wait_by_the_hosts_clock() {
        let headers = [("x-rate-limit-reset", b"1700000010".as_slice())];
        let r = VendorResponse {
            status: 429,
            headers: &headers,
            body: b"",
        };
        let env = Env {
            unix_ms: T0,
            random: [0; 32],
        };
        let p = rate_limited(&r, &env, Some("E0000047"), Some("slow"), "d".into());
        assert_eq!(p.kind, ProblemKind::RateLimited);
        assert_eq!(p.retry_after.as_deref(), Some("10"));
        assert!(!p.retryable);
        let vendor = p.vendor.unwrap_or_default();
        assert_eq!(vendor["code"], "E0000047");
        assert_eq!(vendor["message"], "slow");
        assert_eq!(vendor["status"], 429);
    }
}
