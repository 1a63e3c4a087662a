//! Alternative groups of settings keys of which a backend uses exactly one (an auth
//! method: a token, or a user name and password).

use super::Reader;

impl Reader<'_> {
    /// Which of several alternative groups of keys the backend uses (an auth method: a
    /// token, or a user name and password), when exactly one must be used.
    ///
    /// An option counts as chosen when any of its keys is set (to anything but `null`).
    /// Returns the index in `choice.options` of the one chosen option, having recorded an
    /// error for each of its `required` keys that is missing. `#[settings(choice = …)]`
    /// calls it; an adapter finds the chosen option again from which `Option` fields are
    /// `Some`.
    /// Returns `None`, having recorded one error for the settings as a whole (key `""`),
    /// when no option or more than one is chosen. The messages name keys, never values.
    ///
    /// ```
    /// use sever_plugin_sdk::settings::{self, Choice, OptionGroup, Settings};
    ///
    /// const AUTH: Choice<'static> = Choice {
    ///     name: "auth",
    ///     lacking: "credentials",
    ///     options: &[
    ///         OptionGroup { name: "token", keys: &["token"], required: &["token"] },
    ///         OptionGroup { name: "HTTP Basic", keys: &["user", "password"], required: &["user", "password"] },
    ///     ],
    /// };
    ///
    /// #[derive(Debug, Settings)]
    /// #[settings(choice = AUTH)]
    /// struct Auth {
    ///     /// API token
    ///     #[setting(secret)]
    ///     token: Option<String>,
    ///     /// user name
    ///     user: Option<String>,
    ///     /// password
    ///     #[setting(secret)]
    ///     password: Option<String>,
    /// }
    ///
    /// let map = serde_json::json!({"user": "u"});
    /// let errors = settings::parse::<Auth>(map.as_object().unwrap()).unwrap_err();
    /// assert_eq!(errors[0].key, "password");
    /// assert_eq!(errors[0].message, "required with user: the HTTP Basic option needs user and password");
    ///
    /// let map = serde_json::json!({});
    /// let errors = settings::parse::<Auth>(map.as_object().unwrap()).unwrap_err();
    /// assert_eq!(
    ///     errors[0].message,
    ///     "no credentials: set token (token option), or user and password (HTTP Basic option)"
    /// );
    /// ```
    pub fn choice(&mut self, choice: &Choice<'_>) -> Option<usize> {
        let present: Vec<Vec<&str>> = choice
            .options
            .iter()
            .map(|option| {
                option
                    .keys
                    .iter()
                    .copied()
                    .filter(|key| self.is_set(key))
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
}

/// Alternatives of which a backend must use exactly one: `#[settings(choice = CONST)]` on
/// a settings struct ([`Reader::choice`]).
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
    /// chooses it. Each must also be a field of the settings struct (usually an `Option`).
    pub keys: &'a [&'a str],
    /// The keys the option cannot do without (some or all of `keys`).
    pub required: &'a [&'a str],
}

/// `a, or b`; `a, b, or c`.
pub(super) fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}
