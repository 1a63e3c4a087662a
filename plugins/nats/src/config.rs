//! The backend's settings: one way to authenticate as a system-account user, and how to
//! find connections.

use serde_json::Value;
use sever_plugin_sdk::prelude::*;
use sever_plugin_sdk::settings::{Choice, OptionGroup, SettingValue};

/// The three ways to authenticate, of which a backend sets exactly one.
const AUTH: Choice<'static> = Choice {
    name: "auth",
    lacking: "credentials",
    options: &[
        OptionGroup {
            name: "user and password",
            keys: &["user", "password"],
            required: &["user", "password"],
        },
        OptionGroup {
            name: "token",
            keys: &["token"],
            required: &["token"],
        },
        OptionGroup {
            name: "credentials",
            keys: &["creds"],
            required: &["creds"],
        },
    ],
};

/// A NATS backend's settings.
#[derive(Debug, Settings)]
#[settings(choice = AUTH)]
pub struct NatsSettings {
    /// a system-account user
    pub(crate) user: Option<String>,
    /// its password
    #[setting(secret)]
    pub(crate) password: Option<String>,
    /// an auth token (instead of user and password)
    #[setting(secret)]
    pub(crate) token: Option<String>,
    /// a .creds file's text: user JWT and NKey seed, for operator mode (instead of user and password)
    #[setting(secret, check = creds)]
    pub(crate) creds: Option<Creds>,
    /// id of the server whose cid a bare connection_id names
    #[setting(check = server_id)]
    pub(crate) server_id: Option<String>,
    /// how long discovery gathers the servers' replies, in ms (default 500)
    pub(crate) discovery_timeout_ms: Option<u32>,
}

/// The text of a `.creds` file: a user JWT and an NKey seed, each between its armour
/// lines, so it spans lines (which a plain string setting refuses).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Creds(pub(crate) String);

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A seed is a private key: never printed.
        f.write_str("Creds(..)")
    }
}

impl SettingValue for Creds {
    type Inner = String;
    const REQUIRED: bool = true;

    fn from_setting(value: Option<&Value>, _secret: bool) -> Result<Self, String> {
        match value {
            None => Err("required setting is missing".into()),
            Some(Value::String(s)) if s.trim().is_empty() => Err("must not be empty".into()),
            Some(Value::String(s))
                if s.chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) =>
            {
                Err("must not contain control characters other than line breaks and tabs".into())
            }
            Some(Value::String(s)) => Ok(Creds(s.clone())),
            Some(_) => Err("must be a string".into()),
        }
    }

    fn inner(&self) -> Option<&String> {
        Some(&self.0)
    }
}

fn creds(text: &str) -> Result<(), String> {
    let armour = [
        "-----BEGIN NATS USER JWT-----",
        "-----BEGIN USER NKEY SEED-----",
    ];
    if armour.iter().all(|line| text.contains(line)) {
        Ok(())
    } else {
        Err("must be a .creds file's text: a NATS USER JWT and a USER NKEY SEED block".into())
    }
}

fn server_id(id: &str) -> Result<(), String> {
    encode::subject_token("server_id", id)
        .map(|_| ())
        .map_err(|_| {
            "must not contain '/', '+', '#', '.', '*', '>' or whitespace: it is one token of \
             the $SYS.REQ.SERVER.<id>.KICK subject"
                .into()
        })
}
