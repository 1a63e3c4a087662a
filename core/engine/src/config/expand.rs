//! `${VAR}` expansion in every string value of the parsed YAML tree.
//!
//! `${NAME}` (NAME: letters, digits, `_`, not starting with a digit) is replaced by the
//! variable's value; `$${` writes a literal `${`; any other `$` is kept as is. Expanded
//! text is not expanded again. A variable that is not set is an error at the value's
//! path, never an empty string. Messages name the variable but never quote the value,
//! which may be a secret.

use serde_yaml::Value;

use super::path;

/// The environment lookup: `Some(value)` when the variable is set.
pub(super) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One expansion problem: the value's path and what is wrong.
pub(super) type Problem = (String, String);

/// Expands every string value under `value` (keys are left alone) and returns the problems,
/// in file order. A string with a problem is left unexpanded.
pub(super) fn expand_tree(value: &mut Value, env: Env<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    walk(value, "", env, &mut problems);
    problems
}

fn walk(value: &mut Value, at: &str, env: Env<'_>, problems: &mut Vec<Problem>) {
    match value {
        Value::String(text) => match expand_str(text, env) {
            Ok(Some(expanded)) => *text = expanded,
            Ok(None) => {}
            Err(messages) => {
                problems.extend(messages.into_iter().map(|m| (at.to_owned(), m)));
            }
        },
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &path::index(at, i), env, problems);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                walk(item, &path::key(at, &path::key_text(key)), env, problems);
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, at, env, problems),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The message for a `${` that does not start a well-formed reference. The text itself is
/// not quoted: it may be part of a secret.
const MALFORMED: &str = "`${` must be followed by a variable name (letters, digits, `_`) and \
                         `}`; write `$${` for a literal `${`";

/// Expands one string: `Ok(None)` when there is nothing to expand, `Err` with one message
/// per problem.
pub(super) fn expand_str(text: &str, env: Env<'_>) -> Result<Option<String>, Vec<String>> {
    if !text.contains('$') {
        return Ok(None);
    }
    let mut out = String::with_capacity(text.len());
    let mut problems = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = tail.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems.push(MALFORMED.to_owned());
                rest = "";
                break;
            };
            let name = &after[..end];
            if !is_var_name(name) {
                problems.push(MALFORMED.to_owned());
            } else if let Some(value) = env(name) {
                out.push_str(&value);
            } else {
                problems.push(format!("environment variable {name} is not set"));
            }
            rest = &after[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(Some(out))
    } else {
        Err(problems)
    }
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
pub(super) fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("example.org".to_owned()),
            "EMPTY" => Some(String::new()),
            "TRICKY" => Some("${HOST}".to_owned()),
            _ => None,
        }
    }

    fn expand(text: &str) -> Result<Option<String>, Vec<String>> {
        expand_str(text, &env)
    }

    #[test]
    fn text_without_a_dollar_is_left_alone() {
        assert_eq!(expand("plain"), Ok(None));
    }

    #[test]
    fn variables_are_replaced_anywhere_in_the_text() {
        assert_eq!(
            expand("https://${HOST}:8443/${HOST}"),
            Ok(Some("https://example.org:8443/example.org".to_owned()))
        );
    }

    #[test]
    fn a_set_but_empty_variable_expands_to_nothing() {
        assert_eq!(expand("a${EMPTY}b"), Ok(Some("ab".to_owned())));
    }

    #[test]
    fn double_dollar_brace_writes_a_literal_dollar_brace() {
        assert_eq!(expand("$${HOST}"), Ok(Some("${HOST}".to_owned())));
    }

    #[test]
    fn a_lone_dollar_is_kept() {
        assert_eq!(
            expand("cost: 5$ or $$5"),
            Ok(Some("cost: 5$ or $$5".to_owned()))
        );
    }

    #[test]
    fn expanded_text_is_not_expanded_again() {
        assert_eq!(expand("${TRICKY}"), Ok(Some("${HOST}".to_owned())));
    }

    #[test]
    fn every_missing_variable_is_reported() {
        assert_eq!(
            expand("${A}-${HOST}-${B}"),
            Err(vec![
                "environment variable A is not set".to_owned(),
                "environment variable B is not set".to_owned(),
            ])
        );
    }

    #[test]
    fn malformed_references_are_errors_that_do_not_quote_the_text() {
        for text in ["s3cr3t${", "s3cr3t${}", "s3cr3t${1X}", "s3cr3t${A-B}"] {
            let errors = expand(text).unwrap_err();
            assert_eq!(errors, vec![MALFORMED.to_owned()], "{text}");
        }
    }

    #[test]
    fn variable_names_follow_the_shell_rules() {
        assert!(is_var_name("CEDALO_TOKEN"));
        assert!(is_var_name("_x1"));
        assert!(!is_var_name(""));
        assert!(!is_var_name("1X"));
        assert!(!is_var_name("A.B"));
    }

    #[test]
    fn only_values_are_expanded_and_problems_carry_their_path() {
        let mut tree: Value =
            serde_yaml::from_str("a:\n  ${HOST}: [x, '${HOST}', '${NOPE}']\n").unwrap();
        let problems = expand_tree(&mut tree, &env);
        assert_eq!(
            problems,
            vec![(
                "a.${HOST}[2]".to_owned(),
                "environment variable NOPE is not set".to_owned()
            )]
        );
        let expected: Value =
            serde_yaml::from_str("a:\n  ${HOST}: [x, example.org, '${NOPE}']\n").unwrap();
        assert_eq!(tree, expected);
    }
}
