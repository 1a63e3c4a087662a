//! Constructors for what [`Adapter::info`](crate::Adapter::info) returns, so that an
//! adapter's metadata reads as a short list:
//!
//! ```
//! use sever_plugin_sdk::prelude::*;
//!
//! let info = PluginInfo::new(
//!     "Example broker (REST API)",
//!     vec![ActionSpec::new(
//!         Action::Disconnect,
//!         [[TargetField::ClientId]],
//!         "POST …/clients/{client_id}/kick: ends the client's session",
//!     )],
//!     vec![
//!         SettingSpec::required("tenant", "the tenant id"),
//!         SettingSpec::secret("token", "API token (sent as a bearer token)"),
//!         SettingSpec::optional("region", "region (default eu-1)"),
//!         SettingSpec::optional_secret("proxy_password", "password of the vendor's proxy"),
//!     ],
//! );
//! assert_eq!(info.secret_keys().collect::<Vec<_>>(), ["token", "proxy_password"]);
//! ```
//!
//! The types' fields stay public: a struct literal still works where a constructor does
//! not fit.

use crate::model::{Action, ActionSpec, PluginInfo, SettingSpec, TargetField};

impl PluginInfo {
    /// What a plugin can do: a one-line `description` of what the adapter talks to, its
    /// `actions` and its `settings` keys.
    ///
    /// `name` and `version` are left empty: the SDK fills them in from
    /// [`Adapter::NAME`](crate::Adapter::NAME) and
    /// [`Adapter::VERSION`](crate::Adapter::VERSION) when the host asks for the metadata.
    pub fn new(
        description: impl Into<String>,
        actions: Vec<ActionSpec>,
        settings: Vec<SettingSpec>,
    ) -> Self {
        PluginInfo {
            name: String::new(),
            version: String::new(),
            description: description.into(),
            actions,
            settings,
        }
    }
}

impl ActionSpec {
    /// One supported `action`, the target field sets it accepts (alternatives: a request's
    /// target must hold every field of exactly one set) and a sentence on what the vendor
    /// call does. No optional fields; add them with [`ActionSpec::optional_fields`].
    ///
    /// The sets can be arrays or vectors: `[[TargetField::ClientId]]` (one set of one
    /// field), `[[TargetField::ClientId, TargetField::ConnectionId]]` (one set of two), or
    /// `[[TargetField::ConnectionId], [TargetField::UserId]]` (either field).
    pub fn new<Sets, Set>(action: Action, target_sets: Sets, description: impl Into<String>) -> Self
    where
        Sets: IntoIterator<Item = Set>,
        Set: IntoIterator<Item = TargetField>,
    {
        ActionSpec {
            action,
            target_sets: target_sets
                .into_iter()
                .map(|set| set.into_iter().collect())
                .collect(),
            optional_fields: Vec::new(),
            description: description.into(),
        }
    }

    /// Declares fields outside the sets that change the call's meaning when present (the
    /// host passes them on; other extra fields are dropped). Replaces any declared before.
    ///
    /// ```
    /// use sever_plugin_sdk::{Action, ActionSpec, TargetField};
    /// let spec = ActionSpec::new(Action::Unbind, [[TargetField::Source]], "unbind")
    ///     .optional_fields([TargetField::ClientId]);
    /// assert_eq!(spec.optional_fields, [TargetField::ClientId]);
    /// ```
    pub fn optional_fields(mut self, fields: impl IntoIterator<Item = TargetField>) -> Self {
        self.optional_fields = fields.into_iter().collect();
        self
    }
}

impl SettingSpec {
    fn with(key: &str, secret: bool, required: bool, description: &str) -> Self {
        SettingSpec {
            key: key.to_owned(),
            secret,
            required,
            description: description.to_owned(),
        }
    }

    /// A plain setting every backend must set (an id, a region). Read it with
    /// [`Settings::string`](crate::settings::Settings::string).
    pub fn required(key: &str, description: &str) -> Self {
        SettingSpec::with(key, false, true, description)
    }

    /// A plain setting a backend may leave out. Read it with
    /// [`Settings::optional_string`](crate::settings::Settings::optional_string).
    pub fn optional(key: &str, description: &str) -> Self {
        SettingSpec::with(key, false, false, description)
    }

    /// A secret every backend must set (a token, a password): never logged, always
    /// redacted, never echoed in a settings error.
    pub fn secret(key: &str, description: &str) -> Self {
        SettingSpec::with(key, true, true, description)
    }

    /// A secret a backend may leave out (an STS token, the password of an alternative
    /// auth option).
    pub fn optional_secret(key: &str, description: &str) -> Self {
        SettingSpec::with(key, true, false, description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_constructors_set_secret_and_required() {
        let cases = [
            (SettingSpec::required("a", "d"), false, true),
            (SettingSpec::optional("a", "d"), false, false),
            (SettingSpec::secret("a", "d"), true, true),
            (SettingSpec::optional_secret("a", "d"), true, false),
        ];
        for (spec, secret, required) in cases {
            assert_eq!(
                spec,
                SettingSpec {
                    key: "a".into(),
                    secret,
                    required,
                    description: "d".into(),
                }
            );
        }
    }

    #[test]
    fn action_spec_takes_sets_as_arrays_or_vectors() {
        let from_arrays = ActionSpec::new(
            Action::Terminate,
            [[TargetField::ConnectionId], [TargetField::UserId]],
            "terminate",
        );
        let literal = ActionSpec {
            action: Action::Terminate,
            target_sets: vec![vec![TargetField::ConnectionId], vec![TargetField::UserId]],
            optional_fields: Vec::new(),
            description: "terminate".into(),
        };
        assert_eq!(from_arrays, literal);
        let from_vectors = ActionSpec::new(
            Action::Terminate,
            vec![vec![TargetField::ConnectionId], vec![TargetField::UserId]],
            String::from("terminate"),
        );
        assert_eq!(from_vectors, literal);
    }

    #[test]
    fn optional_fields_replace_the_empty_default() {
        let spec = ActionSpec::new(Action::Unbind, [[TargetField::Source]], "u")
            .optional_fields([TargetField::ClientId, TargetField::Topic]);
        assert_eq!(
            spec.optional_fields,
            [TargetField::ClientId, TargetField::Topic]
        );
        let spec = spec.optional_fields([]);
        assert!(spec.optional_fields.is_empty());
    }

    #[test]
    fn plugin_info_leaves_name_and_version_to_the_sdk() {
        let info = PluginInfo::new(
            "d",
            vec![ActionSpec::new(
                Action::Disconnect,
                [[TargetField::ClientId]],
                "x",
            )],
            vec![SettingSpec::secret("token", "t")],
        );
        assert_eq!(info.name, "");
        assert_eq!(info.version, "");
        assert_eq!(info.description, "d");
        assert!(info.action(Action::Disconnect).is_some());
        assert_eq!(info.secret_keys().collect::<Vec<_>>(), ["token"]);
    }
}
