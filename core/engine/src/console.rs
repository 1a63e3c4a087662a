//! The responder console: static files (HTML, CSS, JavaScript; `core/engine/console/`)
//! embedded in the binary and served at `/console` on `server.listen` while
//! `server.console` is true. No build step, no framework, nothing fetched from elsewhere.
//!
//! The page holds no data and needs no token to load; everything it shows comes from the
//! API (`/v1/backends`, `/v1/plugins`, `/v1/actions`, `/v1/audit`) with the token the
//! responder types, which the script keeps in a variable only (never in the URL, in
//! storage or in a cookie).
//!
//! Every file is served with a strict `Content-Security-Policy` (scripts and styles from
//! Sever only, no inline code, no frames, no forms posting elsewhere), `nosniff`, its
//! exact content type, and `Cache-Control: no-cache` with an `ETag`: a browser keeps a
//! copy and asks whether it changed (`304` when not), so an upgrade is seen at once.

use crate::problem::Answer;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The policy every console file is served with.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// One embedded file.
#[derive(Debug)]
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        path: "/console",
        content_type: "text/html; charset=utf-8",
        body: include_bytes!("../console/index.html"),
    },
    Asset {
        path: "/console/console.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../console/console.css"),
    },
    Asset {
        path: "/console/console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../console/console.js"),
    },
];

/// Each asset's `ETag`, from its content.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..32]))
        .collect()
});

/// The answer for a console path (`/console`, `/console/`, `/console/...`); `None` for any
/// other path. `if_none_match` is the request's `If-None-Match`.
pub fn answer(method: &str, path: &str, if_none_match: Option<&[u8]>) -> Option<Answer> {
    if path != "/console" && !path.starts_with("/console/") {
        return None;
    }
    let path = if path == "/console/" {
        "/console"
    } else {
        path
    };
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        return Some(refusal(404, "no such file in the console"));
    };
    if method != "GET" && method != "HEAD" {
        return Some(
            refusal(405, "the console's files accept GET only")
                .with_header("allow", "GET".to_owned()),
        );
    }
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let fresh = if_none_match
        .and_then(|v| std::str::from_utf8(v).ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let answer = if fresh {
        Answer::text(304, asset.content_type, Vec::new())
    } else {
        Answer::text(200, asset.content_type, asset.body)
    };
    Some(secured(answer).with_header("etag", etag.clone()))
}

/// A plain-text refusal (the console is not the API: no problem document).
fn refusal(status: u16, text: &str) -> Answer {
    secured(Answer::text(
        status,
        "text/plain; charset=utf-8",
        format!("{text}\n"),
    ))
}

fn secured(answer: Answer) -> Answer {
    answer
        .with_header(
            "content-security-policy",
            CONTENT_SECURITY_POLICY.to_owned(),
        )
        .with_header("x-content-type-options", "nosniff".to_owned())
        .with_header("x-frame-options", "DENY".to_owned())
        .with_header("referrer-policy", "no-referrer".to_owned())
        .with_header("cross-origin-opener-policy", "same-origin".to_owned())
        .with_header("cache-control", "no-cache".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
        answer
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn each_file_is_served_with_its_type_the_policy_and_an_etag() {
        for (path, kind) in [
            ("/console", "text/html; charset=utf-8"),
            ("/console/", "text/html; charset=utf-8"),
            ("/console/console.js", "text/javascript; charset=utf-8"),
            ("/console/console.css", "text/css; charset=utf-8"),
        ] {
            let a = answer("GET", path, None).unwrap();
            assert_eq!(a.status, 200, "{path}");
            assert_eq!(header(&a, "content-type"), Some(kind));
            assert_eq!(
                header(&a, "content-security-policy"),
                Some(CONTENT_SECURITY_POLICY)
            );
            assert_eq!(header(&a, "x-content-type-options"), Some("nosniff"));
            assert_eq!(header(&a, "cache-control"), Some("no-cache"));
            let etag = header(&a, "etag").unwrap().to_owned();
            let again = answer("GET", path, Some(etag.as_bytes())).unwrap();
            assert_eq!(again.status, 304);
            assert!(again.body.is_empty());
        }
    }

    #[test]
    fn other_paths_are_not_the_consoles_and_unknown_files_are_404() {
        assert!(answer("GET", "/v1/backends", None).is_none());
        assert!(answer("GET", "/consoles", None).is_none());
        assert_eq!(answer("GET", "/console/x.js", None).unwrap().status, 404);
        let post = answer("POST", "/console", None).unwrap();
        assert_eq!(post.status, 405);
        assert_eq!(header(&post, "allow"), Some("GET"));
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere() {
        let html = std::str::from_utf8(ASSETS[0].body).unwrap();
        assert!(html.contains(r#"<script src="/console/console.js" defer></script>"#));
        assert!(!html.contains("<script>") && !html.contains("style="));
        assert!(!html.contains("<style") && !html.contains("javascript:"));
        // No event handler attribute (`onclick=`, …).
        for (i, _) in html.match_indices(" on") {
            let rest = &html[i + 3..];
            let name_end = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            assert!(
                !rest[name_end..].starts_with('='),
                "an inline handler at {i}"
            );
        }
        for asset in &ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{}",
                asset.path
            );
        }
        let js = std::str::from_utf8(ASSETS[2].body).unwrap();
        for forbidden in [
            "localStorage",
            "sessionStorage",
            "document.cookie",
            "innerHTML",
            "eval(",
        ] {
            assert!(!js.contains(forbidden), "console.js uses {forbidden}");
        }
    }
}
