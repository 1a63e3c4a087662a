//! An adapter's settings, declared once as a struct.
//!
//! ```
//! use sever_plugin_sdk::settings::{self, Settings};
//!
//! #[derive(Debug, Settings)]
//! struct TinyhubSettings {
//!     /// the tenant id
//!     tenant: String,
//!     /// API key (sent as a bearer token)
//!     #[setting(secret, check = settings::visible_ascii)]
//!     api_key: String,
//!     /// region (default eu-1)
//!     region: Option<String>,
//! }
//!
//! let specs = TinyhubSettings::specs();
//! assert_eq!(specs[1].key, "api_key");
//! assert!(specs[1].secret && specs[1].required);
//! assert!(!specs[2].required);
//! assert_eq!(specs[2].description, "region (default eu-1)");
//!
//! let map = serde_json::json!({"tenant": "t", "api_key": "has space", "regoin": "x"});
//! let errors = settings::parse::<TinyhubSettings>(map.as_object().unwrap()).unwrap_err();
//! let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
//! assert_eq!(keys, ["regoin", "api_key"]);
//! assert_eq!(errors[1].message, "must be visible ASCII without spaces");
//! ```
//!
//! `#[derive(Settings)]` makes each field one key: its name (or `#[setting(rename =
//! "key")]`), its doc comment the description `sever plugins` shows, its type the value's
//! ([`SettingValue`]: `String`, `bool`, integers, [`Multiline`] for a PEM key; `Option<…>`
//! for a key a backend may leave out). `#[setting(secret)]` marks a secret: never logged, always redacted, never echoed
//! in an error. `#[setting(check = path)]` runs `path(&value) -> Result<(), String>` on a
//! present value (the SDK's own: [`visible_ascii`], [`no_whitespace`], [`no_colon`]).
//! `#[settings(choice = CONST)]` on the struct checks a [`Choice`] of alternative groups of
//! keys (an auth method).
//!
//! Reading collects every problem at once: unknown keys (typos), missing required keys,
//! values of the wrong type, failed checks. The messages name keys, never secret values.
//! The adapter's [`Adapter::new`](crate::Adapter::new) then gets a struct that passed all of
//! them.

mod choice;
mod value;

pub use choice::{Choice, OptionGroup};
pub use sever_plugin_sdk_macros::Settings;
pub use value::{no_colon, no_whitespace, visible_ascii, Multiline, SettingValue};

use serde_json::{Map, Value};
use sever_plugin_abi::{SettingError, SettingSpec};

/// An adapter's settings as a type: what `#[derive(Settings)]` implements.
pub trait Settings: Sized {
    /// One spec per key, in declaration order: what `sever plugins` lists and what the host
    /// redacts.
    fn specs() -> Vec<SettingSpec>;

    /// Reads every key through `reader`, which records each problem; `None` when any key
    /// could not be read.
    fn read(reader: &mut Reader<'_>) -> Option<Self>;
}

/// Reads a backend's settings map into `S`, or returns every problem found.
pub fn parse<S: Settings>(map: &Map<String, Value>) -> Result<S, Vec<SettingError>> {
    let specs = S::specs();
    let mut reader = Reader::new(&specs, map);
    let settings = S::read(&mut reader);
    match (settings, reader.finish()) {
        (Some(settings), errors) if errors.is_empty() => Ok(settings),
        (_, errors) => Err(errors),
    }
}

/// A reader over a backend's settings map that collects errors instead of stopping at
/// the first: what `#[derive(Settings)]` calls.
#[derive(Debug)]
pub struct Reader<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<SettingError>,
}

impl<'a> Reader<'a> {
    /// Starts reading; keys not in `specs` are recorded as errors right away.
    pub fn new(specs: &[SettingSpec], map: &'a Map<String, Value>) -> Self {
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
        Reader { map, errors }
    }

    /// Reads one key; records why and returns `None` when it cannot.
    pub fn field<V: SettingValue>(&mut self, key: &str, secret: bool) -> Option<V> {
        let value = self.map.get(key).filter(|v| !v.is_null());
        match V::from_setting(value, secret) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(key, message);
                None
            }
        }
    }

    /// Runs `check` on a present value, recording its complaint.
    pub fn check<V: SettingValue>(
        &mut self,
        key: &str,
        value: Option<&V>,
        check: impl FnOnce(&V::Inner) -> Result<(), String>,
    ) {
        if let Some(inner) = value.and_then(SettingValue::inner) {
            if let Err(message) = check(inner) {
                self.error(key, message);
            }
        }
    }

    /// True when the key is set (to anything but `null`).
    pub fn is_set(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    /// Records a problem with a key (`""` for the settings as a whole).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(SettingError::new(key, message));
    }

    /// Every problem recorded, in order.
    pub fn finish(self) -> Vec<SettingError> {
        self.errors
    }
}

#[cfg(test)]
mod tests;
