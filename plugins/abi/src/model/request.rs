//! The canonical request as an adapter sees it, and the environment of every call.

use crate::raw::*;
use serde::{Deserialize, Serialize};
use std::fmt;

codes! {
    /// A canonical action ([`SeverRequest::action`](crate::raw::SeverRequest::action)).
    #[derive(PartialOrd, Ord, Serialize, Deserialize)]
    #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
    #[serde(rename_all = "snake_case")]
    Action, "action code" {
        /// End a client's live session on a broker; it may reconnect by itself.
        Disconnect = SEVER_ACTION_DISCONNECT,
        /// End one connection (`connection_id`) or every connection of a user (`user_id`).
        Terminate = SEVER_ACTION_TERMINATE,
        /// Remove a subscription/binding so the client stops receiving from a source.
        Unbind = SEVER_ACTION_UNBIND,
    }
}

impl Action {
    /// The action's wire name (`disconnect`, `terminate`, `unbind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Disconnect => "disconnect",
            Action::Terminate => "terminate",
            Action::Unbind => "unbind",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL.iter().copied().find(|a| a.as_str() == name)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of the canonical `target` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TargetField {
    /// An MQTT client id, AMQP connection name, queue name…
    ClientId,
    /// One connection, in the vendor's own naming.
    ConnectionId,
    /// A user whose every connection is meant.
    UserId,
    /// Where messages come from (an exchange, an entity).
    Source,
    /// A topic or routing key.
    Topic,
    /// A vendor's message class (IUDX `message-type`).
    MessageType,
    /// A host whose every connection is meant (PrivX extension).
    HostId,
}

impl TargetField {
    /// Every field, in the spec's order: the order of
    /// [`SeverRequest::target`](crate::raw::SeverRequest::target).
    pub const ALL: [TargetField; SEVER_TARGET_FIELDS] = [
        TargetField::ClientId,
        TargetField::ConnectionId,
        TargetField::UserId,
        TargetField::Source,
        TargetField::Topic,
        TargetField::MessageType,
        TargetField::HostId,
    ];

    /// The field's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetField::ClientId => "client_id",
            TargetField::ConnectionId => "connection_id",
            TargetField::UserId => "user_id",
            TargetField::Source => "source",
            TargetField::Topic => "topic",
            TargetField::MessageType => "message_type",
            TargetField::HostId => "host_id",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<TargetField> {
        TargetField::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for TargetField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identifiers of a canonical request. The host has validated every present field
/// (non-empty, at most 256 bytes, no control characters, not `.` or `..`) and checked that
/// the fields form one of the sets the adapter declared for the action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Target {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_id: Option<String>,
}

impl Target {
    /// The value of one field.
    pub fn get(&self, field: TargetField) -> Option<&str> {
        match field {
            TargetField::ClientId => self.client_id.as_deref(),
            TargetField::ConnectionId => self.connection_id.as_deref(),
            TargetField::UserId => self.user_id.as_deref(),
            TargetField::Source => self.source.as_deref(),
            TargetField::Topic => self.topic.as_deref(),
            TargetField::MessageType => self.message_type.as_deref(),
            TargetField::HostId => self.host_id.as_deref(),
        }
    }

    /// A mutable slot for one field.
    pub fn slot(&mut self, field: TargetField) -> &mut Option<String> {
        match field {
            TargetField::ClientId => &mut self.client_id,
            TargetField::ConnectionId => &mut self.connection_id,
            TargetField::UserId => &mut self.user_id,
            TargetField::Source => &mut self.source,
            TargetField::Topic => &mut self.topic,
            TargetField::MessageType => &mut self.message_type,
            TargetField::HostId => &mut self.host_id,
        }
    }

    /// The fields that are present, in [`TargetField::ALL`] order.
    pub fn present(&self) -> impl Iterator<Item = TargetField> + '_ {
        TargetField::ALL
            .into_iter()
            .filter(|f| self.get(*f).is_some())
    }

    /// The value of a field the host guaranteed present (it is in every accepted set).
    /// Returns `""` if absent, which a correct host never lets happen.
    pub fn field(&self, field: TargetField) -> &str {
        self.get(field).unwrap_or_default()
    }
}

/// The canonical request as an adapter sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Sever's id for this request (also in `X-Request-Id`); adapters may pass it on.
    pub request_id: String,
    pub action: Action,
    pub target: Target,
    /// The caller's reason, for vendors that take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the host gives an adapter on every call instead of a clock and a random source,
/// so that adapters are deterministic under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    /// Wall-clock time, milliseconds since the Unix epoch (UTC).
    pub unix_ms: u64,
    /// Fresh random bytes for this call (nonces, request ids).
    pub random: [u8; 32],
}
