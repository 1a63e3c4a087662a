//! Reading a backend's `settings` map with every problem reported at once.

use crate::model::{SettingError, SettingSpec};
use serde_json::{Map, Value};

/// A reader over a backend's settings that collects errors instead of stopping at the
/// first. Keys not declared in the plugin's [`SettingSpec`]s are refused.
///
/// ```
/// use sever_plugin_sdk::settings::Settings;
/// use sever_plugin_sdk::SettingSpec;
/// let spec = [SettingSpec { key: "token".into(), secret: true, required: true, description: String::new() }];
/// let map = serde_json::json!({"token": "t", "extra": 1});
/// let mut s = Settings::new(&spec, map.as_object().unwrap());
/// assert_eq!(s.string("token"), "t");
/// let errors = s.finish().unwrap_err();
/// assert_eq!(errors[0].key, "extra");
/// ```
#[derive(Debug)]
pub struct Settings<'a> {
    map: &'a Map<String, Value>,
    specs: &'a [SettingSpec],
    errors: Vec<SettingError>,
}

impl<'a> Settings<'a> {
    /// Starts reading; unknown keys are recorded as errors right away.
    pub fn new(specs: &'a [SettingSpec], map: &'a Map<String, Value>) -> Self {
        let mut errors = Vec::new();
        for key in map.keys() {
            if !specs.iter().any(|s| &s.key == key) {
                let known: Vec<&str> = specs.iter().map(|s| s.key.as_str()).collect();
                errors.push(SettingError::new(
                    key,
                    format!("unknown setting (expected one of: {})", known.join(", ")),
                ));
            }
        }
        Settings { map, specs, errors }
    }

    fn is_secret(&self, key: &str) -> bool {
        self.specs.iter().any(|s| s.key == key && s.secret)
    }

    /// A required, non-empty string. Records an error (and returns `""`) otherwise.
    pub fn string(&mut self, key: &str) -> String {
        match self.optional_string(key) {
            Some(v) => v,
            None => {
                if !self.errors.iter().any(|e| e.key == key) {
                    self.errors
                        .push(SettingError::new(key, "required setting is missing"));
                }
                String::new()
            }
        }
    }

    /// An optional string; present but empty or not a string is an error.
    pub fn optional_string(&mut self, key: &str) -> Option<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => {
                self.errors
                    .push(SettingError::new(key, "must not be empty"));
                None
            }
            Some(Value::String(s)) => {
                if s.chars().any(char::is_control) {
                    self.errors.push(SettingError::new(
                        key,
                        "must not contain control characters",
                    ));
                    return None;
                }
                Some(s.clone())
            }
            Some(Value::Number(n)) if !self.is_secret(key) => Some(n.to_string()),
            Some(_) => {
                self.errors.push(SettingError::new(key, "must be a string"));
                None
            }
        }
    }

    /// Records an error of the adapter's own (a semantic check).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(SettingError::new(key, message));
    }

    /// Checks a value that goes into an HTTP header as is (a token, an API key): anything
    /// but visible ASCII (a space, a control character, non-ASCII) records
    /// "must be visible ASCII without spaces" for `key`, without echoing the value. An
    /// empty value passes (the reader that returned it has already recorded why).
    pub fn check_visible_ascii(&mut self, key: &str, value: &str) {
        if !value.chars().all(|c| c.is_ascii_graphic()) {
            self.error(key, "must be visible ASCII without spaces");
        }
    }

    /// Which of several alternative groups of keys the backend uses (an auth method: a
    /// token, or a user name and password), when exactly one must be used.
    ///
    /// An option counts as chosen when any of its keys is set (to anything but `null`).
    /// Returns the index in `choice.options` of the one chosen option, having recorded an
    /// error for each of its `required` keys that is missing; read its keys next, with
    /// [`Settings::optional_string`], and [`Settings::finish`] reports everything at once.
    /// Returns `None`, having recorded one error for the settings as a whole (key `""`),
    /// when no option or more than one is chosen. The messages name keys, never values.
    ///
    /// ```
    /// use sever_plugin_sdk::settings::{Choice, OptionGroup, Settings};
    /// use sever_plugin_sdk::SettingSpec;
    ///
    /// const AUTH: Choice<'static> = Choice {
    ///     name: "auth",
    ///     lacking: "credentials",
    ///     options: &[
    ///         OptionGroup { name: "token", keys: &["token"], required: &["token"] },
    ///         OptionGroup { name: "HTTP Basic", keys: &["user", "password"], required: &["user", "password"] },
    ///     ],
    /// };
    /// let specs = [
    ///     SettingSpec::optional_secret("token", "API token"),
    ///     SettingSpec::optional("user", "user name"),
    ///     SettingSpec::optional_secret("password", "password"),
    /// ];
    /// let map = serde_json::json!({"user": "u"});
    /// let mut s = Settings::new(&specs, map.as_object().unwrap());
    /// assert_eq!(s.exactly_one_of(&AUTH), Some(1));
    /// let errors = s.finish().unwrap_err();
    /// assert_eq!(errors[0].key, "password");
    /// assert_eq!(errors[0].message, "required with user: the HTTP Basic option needs user and password");
    ///
    /// let map = serde_json::json!({});
    /// let mut s = Settings::new(&specs, map.as_object().unwrap());
    /// assert_eq!(s.exactly_one_of(&AUTH), None);
    /// assert_eq!(
    ///     s.finish().unwrap_err()[0].message,
    ///     "no credentials: set token (token option), or user and password (HTTP Basic option)"
    /// );
    /// ```
    pub fn exactly_one_of(&mut self, choice: &Choice<'_>) -> Option<usize> {
        let present: Vec<Vec<&str>> = choice
            .options
            .iter()
            .map(|option| {
                option
                    .keys
                    .iter()
                    .copied()
                    .filter(|key| self.map.get(*key).is_some_and(|v| !v.is_null()))
                    .collect()
            })
            .collect();
        let chosen: Vec<usize> = (0..present.len())
            .filter(|i| !present[*i].is_empty())
            .collect();
        match chosen.as_slice() {
            [] => {
                let options: Vec<String> = choice
                    .options
                    .iter()
                    .map(|o| format!("{} ({} option)", o.required.join(" and "), o.name))
                    .collect();
                self.error(
                    "",
                    format!("no {}: set {}", choice.lacking, or_list(&options)),
                );
                None
            }
            [one] => {
                let (option, set) = (&choice.options[*one], &present[*one]);
                for key in option.required.iter().filter(|k| !set.contains(k)) {
                    self.error(
                        key,
                        format!(
                            "required with {}: the {} option needs {}",
                            set.join(", "),
                            option.name,
                            option.required.join(" and ")
                        ),
                    );
                }
                Some(*one)
            }
            [first, rest @ ..] => {
                let set = |i: usize| {
                    format!(
                        "{} ({} option)",
                        present[i].join(", "),
                        choice.options[i].name
                    )
                };
                let others: Vec<String> = rest.iter().map(|i| set(*i)).collect();
                self.error(
                    "",
                    format!(
                        "choose one {} option: {} cannot be combined with {}",
                        choice.name,
                        set(*first),
                        others.join(" and ")
                    ),
                );
                None
            }
        }
    }

    /// All problems found, or `Ok`.
    pub fn finish(self) -> Result<(), Vec<SettingError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
}

/// Alternatives of which a backend must use exactly one, for
/// [`Settings::exactly_one_of`].
#[derive(Debug, Clone, Copy)]
pub struct Choice<'a> {
    /// What is chosen, in "choose one auth option: …" (`auth`).
    pub name: &'a str,
    /// What a backend that sets no option lacks, in "no credentials: set …"
    /// (`credentials`).
    pub lacking: &'a str,
    /// The options, in the order messages list them.
    pub options: &'a [OptionGroup<'a>],
}

/// One option of a [`Choice`]: a group of settings keys used together.
#[derive(Debug, Clone, Copy)]
pub struct OptionGroup<'a> {
    /// The option's name, in "the HTTP Basic option needs …" (`HTTP Basic`).
    pub name: &'a str,
    /// Every key of the option, in the order messages list them: setting any of them
    /// chooses it. Each must also be declared with a [`SettingSpec`] (usually optional).
    pub keys: &'a [&'a str],
    /// The keys the option cannot do without (some or all of `keys`).
    pub required: &'a [&'a str],
}

/// `a, or b`; `a, b, or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn spec(key: &str, secret: bool) -> SettingSpec {
        SettingSpec {
            key: key.into(),
            secret,
            required: true,
            description: String::new(),
        }
    }

    #[test]
    fn every_problem_is_reported_and_no_value_is_echoed() {
        let specs = [spec("a", false), spec("b", true), spec("c", false)];
        let map = serde_json::json!({"b": 5, "c": "", "zz": "hunter2"});
        let mut s = Settings::new(&specs, map.as_object().unwrap());
        s.string("a");
        s.string("b");
        s.string("c");
        let errors = s.finish().unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["zz", "a", "b", "c"]);
        assert!(errors.iter().all(|e| !e.message.contains("hunter2")));
    }

    #[test]
    fn numbers_are_accepted_for_plain_settings() {
        let specs = [spec("port", false)];
        let map = serde_json::json!({"port": 8883});
        let mut s = Settings::new(&specs, map.as_object().unwrap());
        assert_eq!(s.string("port"), "8883");
        assert!(s.finish().is_ok());
    }

    const CHOICE: Choice<'static> = Choice {
        name: "auth",
        lacking: "credentials",
        options: &[
            OptionGroup {
                name: "bearer",
                keys: &["bearer", "app", "app_header"],
                required: &["bearer", "app"],
            },
            OptionGroup {
                name: "HTTP Basic",
                keys: &["user", "password"],
                required: &["user", "password"],
            },
            OptionGroup {
                name: "mTLS",
                keys: &["cert"],
                required: &["cert"],
            },
        ],
    };

    fn choose(map: serde_json::Value) -> (Option<usize>, Vec<SettingError>) {
        let specs: Vec<SettingSpec> = ["bearer", "app", "app_header", "user", "password", "cert"]
            .into_iter()
            .map(|k| SettingSpec::optional(k, ""))
            .collect();
        let mut s = Settings::new(&specs, map.as_object().unwrap());
        let chosen = s.exactly_one_of(&CHOICE);
        (chosen, s.finish().err().unwrap_or_default())
    }

    #[test]
    fn one_complete_option_is_chosen_without_errors() {
        assert_eq!(
            choose(serde_json::json!({"bearer": "b", "app": "a"})),
            (Some(0), vec![])
        );
        let basic = serde_json::json!({"user": "u", "password": "p", "bearer": null});
        assert_eq!(choose(basic), (Some(1), vec![]));
        assert_eq!(choose(serde_json::json!({"cert": "c"})), (Some(2), vec![]));
    }

    #[test]
    fn half_an_option_names_each_missing_required_key() {
        let (chosen, errors) = choose(serde_json::json!({"app_header": "X"}));
        assert_eq!(chosen, Some(0));
        let expected = "required with app_header: the bearer option needs bearer and app";
        assert_eq!(
            errors,
            [
                SettingError::new("bearer", expected),
                SettingError::new("app", expected)
            ]
        );
        // An empty value is present: the reader reports it, not the choice.
        assert_eq!(
            choose(serde_json::json!({"user": "", "password": "p"})),
            (Some(1), vec![])
        );
    }

    #[test]
    fn no_option_is_one_error_listing_every_option() {
        let (chosen, errors) = choose(serde_json::json!({"bearer": null}));
        assert_eq!(chosen, None);
        assert_eq!(
            errors,
            [SettingError::new(
                "",
                "no credentials: set bearer and app (bearer option), user and password \
                 (HTTP Basic option), or cert (mTLS option)"
            )]
        );
        assert_eq!(or_list(&["a".into(), "b".into()]), "a, or b");
    }

    #[test]
    fn several_options_are_one_error_naming_the_keys_set_never_the_values() {
        let (chosen, errors) = choose(serde_json::json!({
            "password": "pw-secret", "app": "a-secret", "bearer": "b-secret", "cert": "c"
        }));
        assert_eq!(chosen, None);
        assert_eq!(
            errors,
            [SettingError::new(
                "",
                "choose one auth option: bearer, app (bearer option) cannot be combined with \
                 password (HTTP Basic option) and cert (mTLS option)"
            )]
        );
    }

    #[test]
    fn visible_ascii_is_checked_without_echoing_the_value() {
        let specs = [spec("k", true)];
        let map = serde_json::json!({});
        let mut s = Settings::new(&specs, map.as_object().unwrap());
        s.check_visible_ascii("k", "ok-!~");
        s.check_visible_ascii("k", "");
        for bad in ["has space", "tab\t", "caf\u{e9}"] {
            s.check_visible_ascii("k", bad);
        }
        let errors = s.finish().unwrap_err();
        assert_eq!(errors.len(), 3);
        assert!(errors
            .iter()
            .all(|e| e.key == "k" && e.message == "must be visible ASCII without spaces"));
    }
}
