//! The JSON messages read once, at load: the plugin's metadata, a backend's spec, settings errors.

use super::{Action, TargetField};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// The protocol a plugin's exchanges speak: which step kinds it plans, and so which
/// client the host needs for its backends.
///
/// A host refuses at load a plugin whose transport it does not know (a plugin built for
/// a later minor version of the ABI), naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// HTTP/1.1 requests ([`SEVER_STEP_HTTP`](crate::raw::SEVER_STEP_HTTP)).
    #[default]
    Http,
    /// (3.1) Redis commands ([`SEVER_STEP_REDIS`](crate::raw::SEVER_STEP_REDIS)).
    Redis,
    /// (3.1) PostgreSQL queries ([`SEVER_STEP_SQL`](crate::raw::SEVER_STEP_SQL)).
    Postgres,
    /// (3.1) MQTT 5 requests ([`SEVER_STEP_MQTT`](crate::raw::SEVER_STEP_MQTT)).
    Mqtt,
    /// (3.1) NATS requests ([`SEVER_STEP_NATS`](crate::raw::SEVER_STEP_NATS)).
    Nats,
}

impl Transport {
    /// Every transport this version of the ABI knows.
    pub const ALL: &'static [Transport] = &[
        Transport::Http,
        Transport::Redis,
        Transport::Postgres,
        Transport::Mqtt,
        Transport::Nats,
    ];

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Transport> {
        Transport::ALL.iter().copied().find(|t| t.as_str() == name)
    }

    /// The wire name (`http`, `redis`, `postgres`, `mqtt`, `nats`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Redis => "redis",
            Transport::Postgres => "postgres",
            Transport::Mqtt => "mqtt",
            Transport::Nats => "nats",
        }
    }

    /// The URL schemes a backend of this transport may use when the plugin declares none.
    pub fn default_schemes(self) -> &'static [&'static str] {
        match self {
            Transport::Http => &["http", "https"],
            Transport::Redis => &["redis", "rediss"],
            Transport::Postgres => &["postgres", "postgresql"],
            Transport::Mqtt => &["mqtt", "mqtts"],
            Transport::Nats => &["nats", "tls"],
        }
    }

    /// The step kind this transport's exchanges are (a plugin plans no other).
    pub fn step_kind(self) -> crate::StepKind {
        match self {
            Transport::Http => crate::StepKind::Http,
            Transport::Redis => crate::StepKind::Redis,
            Transport::Postgres => crate::StepKind::Sql,
            Transport::Mqtt => crate::StepKind::Mqtt,
            Transport::Nats => crate::StepKind::Nats,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin can do, shown by `sever plugins` and `GET /v1/plugins`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PluginInfo {
    /// The name backends refer to (`plugin: cedalo`): equal to the descriptor's.
    pub name: String,
    /// The plugin's own version: equal to the descriptor's.
    pub version: String,
    /// One line on what the adapter talks to.
    #[serde(default)]
    pub description: String,
    /// The protocol of its exchanges (`http` when absent).
    #[serde(default)]
    pub transport: Transport,
    /// The URL schemes a backend's `url` may have, lowercase; empty for the transport's
    /// own (`http`, `https`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub url_schemes: Vec<String>,
    pub actions: Vec<ActionSpec>,
    pub settings: Vec<SettingSpec>,
}

impl PluginInfo {
    /// The spec of one action, if supported.
    pub fn action(&self, action: Action) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.action == action)
    }

    /// The URL schemes a backend of this plugin may use.
    pub fn schemes(&self) -> Vec<&str> {
        if self.url_schemes.is_empty() {
            self.transport.default_schemes().to_vec()
        } else {
            self.url_schemes.iter().map(String::as_str).collect()
        }
    }

    /// The settings keys marked secret.
    pub fn secret_keys(&self) -> impl Iterator<Item = &str> {
        self.settings
            .iter()
            .filter(|s| s.secret)
            .map(|s| s.key.as_str())
    }
}

/// One supported action and the target field sets it accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub action: Action,
    /// Alternatives: the request's target must contain every field of exactly one set.
    /// privx `terminate`: `[[connection_id], [user_id]]`.
    pub target_sets: Vec<Vec<TargetField>>,
    /// Fields outside the sets that change the call's meaning (iudx `client_id`). They
    /// are passed on when present; other extra fields are dropped by the host.
    #[serde(default)]
    pub optional_fields: Vec<TargetField>,
    /// What the vendor call does, in a sentence.
    #[serde(default)]
    pub description: String,
}

/// One settings key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingSpec {
    pub key: String,
    /// Never logged, always redacted.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub description: String,
}

/// What a plugin receives when the host creates a backend instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// The backend's name in the config.
    pub name: String,
    /// The vendor base URL, without a trailing `/`.
    pub url: String,
    /// The backend's `settings` map, `${VAR}` already expanded.
    #[serde(default)]
    pub settings: Map<String, Value>,
}

/// (3.1) How the host connects to a backend whose transport is not HTTP: what the plugin's
/// `instance_connection` returns, from the settings it validated. Each transport reads the
/// members it needs; `password`, `token` and `creds` are secrets (never shown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionSpec {
    /// The user name to authenticate with (Redis ACL user, PostgreSQL role, MQTT or NATS
    /// user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Its password (Redis `requirepass` without a user name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A token (NATS `auth_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// NATS credentials: a user JWT and NKey seed, as a `.creds` file's text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creds: Option<String>,
    /// The connection's own client id or name (MQTT client id, NATS connection name,
    /// PostgreSQL application name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The database to connect to (PostgreSQL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// TLS: `disable`, `prefer`, `require` or `verify_full` (certificate and name checked);
    /// absent: what the URL's scheme says (`rediss`, `mqtts`, `tls` verify in full).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// A PEM file of CA certificates to verify the server with, instead of the system's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_path: Option<String>,
}

/// A bad setting, reported as a config error naming the backend and key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingError {
    /// The settings key (`token`), or `""` for the settings as a whole.
    pub key: String,
    /// What is wrong. Never include a secret value.
    pub message: String,
}

impl SettingError {
    /// An error about one key.
    pub fn new(key: &str, message: impl Into<String>) -> Self {
        SettingError {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for SettingError {}

// Constructors, so that an adapter's metadata reads as a short list.

impl PluginInfo {
    /// What a plugin can do: a one-line `description` of what the adapter talks to and its
    /// `actions`, over HTTP (see [`PluginInfo::transport`] for other protocols).
    ///
    /// `name`, `version` and `settings` are left empty: the Rust SDK fills them in from the
    /// adapter's `NAME`, `VERSION` and settings type when the host asks for the metadata.
    pub fn new(description: impl Into<String>, actions: Vec<ActionSpec>) -> Self {
        PluginInfo {
            name: String::new(),
            version: String::new(),
            description: description.into(),
            transport: Transport::Http,
            url_schemes: Vec::new(),
            actions,
            settings: Vec::new(),
        }
    }

    /// Declares the transport and, when they differ from its own, the URL schemes a
    /// backend's `url` may use.
    pub fn transport(mut self, transport: Transport, url_schemes: &[&str]) -> Self {
        self.transport = transport;
        self.url_schemes = url_schemes.iter().map(|s| (*s).to_owned()).collect();
        self
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
    /// use sever_plugin_abi::{Action, ActionSpec, TargetField};
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
    /// a non-`Option` field of the settings type.
    pub fn required(key: &str, description: &str) -> Self {
        SettingSpec::with(key, false, true, description)
    }

    /// A plain setting a backend may leave out. Read it with
    /// an `Option` field.
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
        );
        assert_eq!(info.name, "");
        assert_eq!(info.version, "");
        assert_eq!(info.description, "d");
        assert_eq!(info.transport, Transport::Http);
        assert_eq!(info.schemes(), ["http", "https"]);
        assert!(info.action(Action::Disconnect).is_some());
        assert!(info.settings.is_empty());
    }
}
