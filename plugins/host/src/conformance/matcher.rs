//! How expected values are compared with what the plugin produced: string matchers
//! (exact, glob, contains, present, absent), JSON differences by path, form bodies.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

/// An expected string. In the case file: a plain scalar is an exact value; a mapping is a
/// rule — `{glob: "Bearer *"}` (`*` stands for any run of characters), `{contains: "…"}`,
/// `{present: true}` (any value), `{absent: true}` (no value at all).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Value")]
pub(crate) enum Matcher {
    Exact(String),
    Glob(String),
    Contains(String),
    Present,
    Absent,
}

impl TryFrom<Value> for Matcher {
    type Error = String;

    fn try_from(value: Value) -> Result<Self, String> {
        let rule = match value {
            Value::String(s) => return Ok(Matcher::Exact(s)),
            Value::Number(n) => return Ok(Matcher::Exact(n.to_string())),
            Value::Bool(b) => return Ok(Matcher::Exact(b.to_string())),
            Value::Object(rule) => rule,
            other => {
                return Err(format!(
                    "expected a string or a rule ({{glob|contains|present|absent: …}}), got {other}"
                ))
            }
        };
        let mut entries = rule.into_iter();
        let (Some((kind, arg)), None) = (entries.next(), entries.next()) else {
            return Err("a rule has exactly one key: glob, contains, present or absent".into());
        };
        match (kind.as_str(), arg) {
            ("glob", Value::String(p)) => Ok(Matcher::Glob(p)),
            ("contains", Value::String(p)) => Ok(Matcher::Contains(p)),
            ("present", Value::Bool(true)) | ("absent", Value::Bool(false)) => Ok(Matcher::Present),
            ("absent", Value::Bool(true)) | ("present", Value::Bool(false)) => Ok(Matcher::Absent),
            (kind, arg) => Err(format!(
                "unknown rule {kind}: {arg} (use glob: \"…\", contains: \"…\", present: true or absent: true)"
            )),
        }
    }
}

impl Matcher {
    /// Whether `actual` (None: no such value) satisfies the expectation.
    pub(crate) fn accepts(&self, actual: Option<&str>) -> bool {
        match (self, actual) {
            (Matcher::Absent, actual) => actual.is_none(),
            (_, None) => false,
            (Matcher::Exact(want), Some(got)) => want == got,
            (Matcher::Glob(pattern), Some(got)) => glob(pattern, got),
            (Matcher::Contains(part), Some(got)) => got.contains(part.as_str()),
            (Matcher::Present, Some(_)) => true,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Glob(p) => write!(f, "glob {p:?}"),
            Matcher::Contains(p) => write!(f, "containing {p:?}"),
            Matcher::Present => f.write_str("any value"),
            Matcher::Absent => f.write_str("(absent)"),
        }
    }
}

/// Shows an actual optional string the way mismatches print it.
pub(crate) fn shown(actual: Option<&str>) -> String {
    match actual {
        Some(s) => format!("{s:?}"),
        None => "(absent)".to_owned(),
    }
}

/// `*` matches any run of characters (also none); every other character itself.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently stands for.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Every difference between two JSON values, one line each, by JSON pointer:
/// `/clientId: expected "a", got "b"`.
pub(crate) fn json_diff(expected: &Value, actual: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("", expected, actual, &mut out);
    out
}

fn diff_at(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let p = format!("{path}/{key}");
                match a.get(key) {
                    Some(av) => diff_at(&p, ev, av, out),
                    None => out.push(format!("{p}: expected {ev}, got (absent)")),
                }
            }
            for (key, av) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                out.push(format!("{path}/{key}: expected (absent), got {av}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_at(&format!("{path}/{i}"), ev, av, out);
            }
            if e.len() != a.len() {
                out.push(format!(
                    "{}: expected {} items, got {}",
                    if path.is_empty() { "/" } else { path },
                    e.len(),
                    a.len()
                ));
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!(
            "{}: expected {e}, got {a}",
            if path.is_empty() { "/" } else { path }
        )),
    }
}

/// Differences for the keys `expected` lists; keys it does not list are not compared.
pub(crate) fn subset_diff(
    expected: &Map<String, Value>,
    actual: &Map<String, Value>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (key, ev) in expected {
        let p = format!("/{key}");
        match actual.get(key) {
            Some(av) => diff_at(&p, ev, av, &mut out),
            None => out.push(format!("{p}: expected {ev}, got (absent)")),
        }
    }
    out
}

/// The parameters of an `application/x-www-form-urlencoded` body, decoded, in order.
pub(crate) fn form_params(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn matcher(yaml: &str) -> Result<Matcher, String> {
        serde_yaml::from_str::<Matcher>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn scalars_are_exact_and_mappings_are_rules() {
        assert_eq!(
            matcher("Bearer tok").unwrap(),
            Matcher::Exact("Bearer tok".into())
        );
        assert_eq!(matcher("3").unwrap(), Matcher::Exact("3".into()));
        assert_eq!(matcher("{glob: 'a*'}").unwrap(), Matcher::Glob("a*".into()));
        assert_eq!(matcher("{present: true}").unwrap(), Matcher::Present);
        assert_eq!(matcher("{absent: true}").unwrap(), Matcher::Absent);
        assert!(matcher("{glob: a, contains: b}")
            .unwrap_err()
            .contains("exactly one key"));
        assert!(matcher("{regex: a}")
            .unwrap_err()
            .contains("unknown rule regex"));
    }

    #[test]
    fn matchers_accept_what_they_say() {
        assert!(Matcher::Exact("a".into()).accepts(Some("a")));
        assert!(!Matcher::Exact("a".into()).accepts(None));
        assert!(Matcher::Absent.accepts(None));
        assert!(!Matcher::Absent.accepts(Some("")));
        assert!(Matcher::Present.accepts(Some("")));
        assert!(Matcher::Contains("lo w".into()).accepts(Some("hello world")));
    }

    #[test]
    fn glob_stars_match_any_run_of_characters() {
        for (pattern, text, expected) in [
            ("Bearer *", "Bearer abc", true),
            ("Bearer *", "Bearer ", true),
            ("Bearer *", "Basic abc", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("*é/", "xé/", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn json_differences_are_listed_by_pointer() {
        let diff = json_diff(
            &json!({"a": 1, "b": {"c": [1, 2]}, "d": "x"}),
            &json!({"a": 2, "b": {"c": [1]}, "e": true}),
        );
        assert_eq!(
            diff,
            [
                "/a: expected 1, got 2",
                "/b/c: expected 2 items, got 1",
                "/d: expected \"x\", got (absent)",
                "/e: expected (absent), got true",
            ]
        );
        assert!(json_diff(&json!({"a": [1]}), &json!({"a": [1]})).is_empty());
        assert_eq!(
            json_diff(&json!(1), &json!("1")),
            ["/: expected 1, got \"1\""]
        );
    }

    #[test]
    fn a_subset_compares_only_listed_keys() {
        let expected = json!({"status": 404}).as_object().unwrap().clone();
        let actual = json!({"status": 404, "request_id": "r"})
            .as_object()
            .unwrap()
            .clone();
        assert!(subset_diff(&expected, &actual).is_empty());
        let actual = json!({"status": 500}).as_object().unwrap().clone();
        assert_eq!(
            subset_diff(&expected, &actual),
            ["/status: expected 404, got 500"]
        );
    }

    #[test]
    fn form_bodies_are_decoded() {
        assert_eq!(
            form_params("a=1&b=x%20y%2B&c=p+q&flag"),
            [
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), "x y+".to_owned()),
                ("c".to_owned(), "p q".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
    }
}
