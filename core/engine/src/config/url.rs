//! Vendor base URLs and other small value rules shared by several sections.
//!
//! Messages never quote the value: a URL may carry credentials.

/// Which schemes a URL may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Schemes {
    /// `http` or `https` (Sever's own HTTP clients: the OTLP exporter).
    Http,
    /// Any well-formed scheme: a backend's URL, whose plugin declares the schemes its
    /// transport takes (`http`, `redis`, `postgres`, `mqtt`, `nats`…), checked once the
    /// plugin is loaded.
    Any,
}

/// Checks a base URL (`http` or `https`, a host, an optional port and base path; no
/// query, fragment or user info) and returns it without trailing `/`.
pub(super) fn base_url(text: &str) -> Result<String, &'static str> {
    url_with(text, Schemes::Http)
}

/// Checks a backend's base URL: as [`base_url`], with any well-formed scheme.
pub(super) fn backend_url(text: &str) -> Result<String, &'static str> {
    url_with(text, Schemes::Any)
}

fn url_with(text: &str, schemes: Schemes) -> Result<String, &'static str> {
    if text.is_empty() {
        return Err("must not be empty");
    }
    if text.contains('#') {
        return Err("must not have a fragment (`#…`)");
    }
    if text.contains('?') {
        return Err("must not have a query (`?…`): put parameters in settings");
    }
    let uri: http::Uri = text
        .parse()
        .map_err(|_| "not a valid URL (expected http(s)://host[:port][/base/path])")?;
    match (uri.scheme_str(), schemes) {
        (Some(s), Schemes::Http)
            if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
        (Some(_), Schemes::Http) => return Err("scheme must be http or https"),
        (None, Schemes::Http) => return Err("must start with http:// or https://"),
        // `http::Uri` accepts only RFC 3986 scheme characters.
        (Some(_), Schemes::Any) => {}
        (None, Schemes::Any) => {
            return Err(
                "must start with a scheme, like https:// (the plugin's transport says which)",
            )
        }
    }
    let Some(authority) = uri.authority() else {
        return Err("must have a host");
    };
    if authority.as_str().contains('@') {
        return Err("must not contain user information (`user@`): put credentials in settings");
    }
    if authority.host().is_empty() {
        return Err("must have a host");
    }
    // `Authority::port` is `None` for both "no port" and "not a u16": look for ourselves.
    let text_after_host = match authority.as_str().strip_prefix('[') {
        Some(v6) => v6.split_once(']').map_or("", |(_, rest)| rest),
        None => authority.as_str(),
    };
    if let Some((_, port)) = text_after_host.rsplit_once(':') {
        if !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err("invalid port (expected 1 to 65535)");
        }
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// A backend name or tag: `[a-z0-9][a-z0-9_-]{0,62}`.
pub(crate) fn is_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z' | b'0'..=b'9'))
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}

/// What [`is_name`] accepts, in words.
pub(crate) const NAME_RULE: &str =
    "use 1 to 63 characters from a-z, 0-9, `_` and `-`, starting with a letter or digit";

/// A caller's display name or a certificate subject: non-empty, printable.
pub(super) fn is_label(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_their_trailing_slashes() {
        assert_eq!(
            base_url("http://127.0.0.1:18001"),
            Ok("http://127.0.0.1:18001".into())
        );
        assert_eq!(
            base_url("https://api.example.org/"),
            Ok("https://api.example.org".into())
        );
        assert_eq!(
            base_url("https://h/base/v1//"),
            Ok("https://h/base/v1".into())
        );
        assert_eq!(
            base_url("http://[::1]:8080/x"),
            Ok("http://[::1]:8080/x".into())
        );
    }

    #[test]
    fn a_backend_url_may_have_any_scheme_its_plugin_takes() {
        assert_eq!(
            backend_url("redis://127.0.0.1:6379/"),
            Ok("redis://127.0.0.1:6379".to_owned())
        );
        assert_eq!(
            backend_url("postgres://db:5432/app"),
            Ok("postgres://db:5432/app".to_owned())
        );
        assert_eq!(
            backend_url("mqtt://broker:1883"),
            Ok("mqtt://broker:1883".to_owned())
        );
        assert_eq!(
            backend_url("h:80"),
            Err("must start with a scheme, like https:// (the plugin's transport says which)")
        );
        assert_eq!(
            backend_url("redis://u:pw@h"),
            Err("must not contain user information (`user@`): put credentials in settings")
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for (url, why) in [
            ("", "must not be empty"),
            ("ftp://h", "scheme must be http or https"),
            ("h:80", "must start with http:// or https://"),
            ("/path", "must start with http:// or https://"),
            (
                "http://h/x?a=1",
                "must not have a query (`?…`): put parameters in settings",
            ),
            ("http://h/x#top", "must not have a fragment (`#…`)"),
            (
                "http://u:pw@h/",
                "must not contain user information (`user@`): put credentials in settings",
            ),
            ("http://h:0", "invalid port (expected 1 to 65535)"),
            ("http://h:70000", "invalid port (expected 1 to 65535)"),
            ("http://h:", "invalid port (expected 1 to 65535)"),
            ("http://[::1]:99999", "invalid port (expected 1 to 65535)"),
            (
                "http://h x",
                "not a valid URL (expected http(s)://host[:port][/base/path])",
            ),
        ] {
            assert_eq!(base_url(url), Err(why), "{url}");
        }
    }

    #[test]
    fn a_backend_url_may_have_the_scheme_of_any_transport() {
        for url in [
            "redis://h:6379",
            "postgres://h",
            "mqtt://h:1883",
            "nats://h",
            "https://h",
        ] {
            assert_eq!(backend_url(url).as_deref(), Ok(url), "{url}");
        }
        // Which scheme a backend takes is its plugin's to say, once loaded.
        assert!(backend_url("ftp://h").is_ok());
        assert!(backend_url("redis://u:pw@h").is_err());
    }

    #[test]
    fn names_follow_the_backend_name_rule() {
        assert!(is_name("mqtt-eu"));
        assert!(is_name("0_a"));
        assert!(is_name(&"a".repeat(63)));
        assert!(!is_name(&"a".repeat(64)));
        assert!(!is_name(""));
        assert!(!is_name("-a"));
        assert!(!is_name("Mqtt"));
        assert!(!is_name("a.b"));
    }
}
