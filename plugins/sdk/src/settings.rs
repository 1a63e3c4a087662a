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

    /// All problems found, or `Ok`.
    pub fn finish(self) -> Result<(), Vec<SettingError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
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
}
