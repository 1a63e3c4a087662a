//! The state of one validation run and the checks every section uses: decoding a node
//! with every problem recorded at its path, numbers with bounds, durations, paths,
//! addresses and URLs.

use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::de::{kind, unknown_key_message, DeError, Node};
use super::error::ConfigError;
use super::expand::Env;
use super::model::resolve;
use super::{path, url};

/// The longest duration any `*_ms` key accepts: one day. Far larger values are typos and
/// would overflow deadline arithmetic.
const MAX_MS: u64 = 86_400_000;

/// The state of one validation run: where errors go and what paths resolve against.
pub(super) struct Ctx<'a> {
    /// The config file, as given (for error lines).
    pub(super) file: &'a Path,
    /// The absolute folder relative paths resolve against.
    pub(super) dir: PathBuf,
    /// The environment (`token_env`).
    pub(super) env: Env<'a>,
    /// Every problem so far.
    pub(super) errors: Vec<ConfigError>,
}

impl Ctx<'_> {
    /// Records a problem.
    pub(super) fn error(&mut self, at: impl Into<String>, message: impl Into<String>) {
        self.errors
            .push(ConfigError::new(self.file, at.into(), message.into()));
    }

    /// Deserializes one node, recording every problem at its exact path.
    ///
    /// serde stops at the first problem, so after one in a key of a mapping, that key is
    /// dropped and the rest decoded again: a typo in `tls` does not hide a bad `listen`.
    /// The result is then usable for checking the other keys (a dropped optional key reads
    /// as absent), but it is only `Some` when no required key was dropped.
    pub(super) fn decode<T: DeserializeOwned>(&mut self, node: &Value, at: &str) -> Option<T> {
        self.decode_partial(node, at).map(|(value, _)| value)
    }

    /// Like [`Ctx::decode`], also telling whether the value is complete (`false`: some keys
    /// were dropped, so checks that a key is absent would be misleading).
    pub(super) fn decode_partial<T: DeserializeOwned>(
        &mut self,
        node: &Value,
        at: &str,
    ) -> Option<(T, bool)> {
        let mut trimmed: Option<Value> = None;
        let mut dropped: Vec<String> = Vec::new();
        loop {
            let current = trimmed.as_ref().unwrap_or(node);
            let error = match serde_path_to_error::deserialize(Node(current)) {
                Ok(value) => return Some((value, dropped.is_empty())),
                Err(error) => error,
            };
            let first_key = match error.path().iter().next() {
                Some(serde_path_to_error::Segment::Map { key }) => Some(key.clone()),
                _ => None,
            };
            let tracked = path::join_tracked(at, error.path());
            match error.into_inner() {
                // A required key of this node: nothing usable without it. If we dropped it
                // ourselves, its problem is already reported.
                DeError::MissingKey(key) if first_key.is_none() => {
                    if !dropped.iter().any(|d| d == key) {
                        self.error(
                            path::key(&tracked, key),
                            DeError::MissingKey(key).to_string(),
                        );
                    }
                    return None;
                }
                missing @ DeError::MissingKey(key) => {
                    self.error(path::key(&tracked, key), missing.to_string());
                }
                other => self.error(tracked, other.to_string()),
            }
            let next = trimmed.get_or_insert_with(|| node.clone());
            let removed = match (first_key, next.as_mapping_mut()) {
                (Some(key), Some(map)) => {
                    let found = map.keys().find(|k| path::key_text(k) == key).cloned();
                    found.and_then(|k| map.shift_remove(&k)).map(|_| key)
                }
                _ => None,
            };
            match removed {
                Some(key) => dropped.push(key),
                None => return None,
            }
        }
    }

    /// A mapping whose keys are checked against `keys` (null counts as empty).
    pub(super) fn mapping<'v>(
        &mut self,
        node: &'v Value,
        at: &str,
        keys: &'static [&'static str],
    ) -> Option<&'v Mapping> {
        static EMPTY: std::sync::OnceLock<Mapping> = std::sync::OnceLock::new();
        let map = match node {
            Value::Null => EMPTY.get_or_init(Mapping::new),
            Value::Mapping(map) => map,
            other => {
                self.error(at, format!("expected a mapping, found {}", kind(other)));
                return None;
            }
        };
        for key in map.keys() {
            let name = path::key_text(key);
            if !keys.contains(&name.as_str()) {
                self.error(path::key(at, &name), unknown_key_message(keys));
            }
        }
        Some(map)
    }

    /// The items of a list (absent or null: none).
    pub(super) fn list<'v>(&mut self, node: Option<&'v Value>, at: &str) -> &'v [Value] {
        match node {
            None | Some(Value::Null) => &[],
            Some(Value::Sequence(items)) => items,
            Some(other) => {
                self.error(at, format!("expected a list, found {}", kind(other)));
                &[]
            }
        }
    }

    /// A path value: non-empty, resolved against the config folder.
    pub(super) fn path(&mut self, at: &str, text: &str) -> Option<PathBuf> {
        if text.is_empty() {
            self.error(at, "must not be empty");
            return None;
        }
        Some(resolve(&self.dir, text))
    }

    /// A number with a default and bounds.
    pub(super) fn bounded(
        &mut self,
        at: &str,
        value: Option<u64>,
        default: u64,
        max: u64,
    ) -> Option<u64> {
        self.bounded_from(at, value, default, 1, max)
    }

    /// A number with a default, a minimum and a maximum.
    pub(super) fn bounded_from(
        &mut self,
        at: &str,
        value: Option<u64>,
        default: u64,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let value = value.unwrap_or(default);
        if value < min {
            self.error(at, format!("must be at least {min}"));
            None
        } else if value > max {
            self.error(at, format!("must be at most {max}"));
            None
        } else {
            Some(value)
        }
    }

    /// Milliseconds as a duration (1 ms to one day).
    pub(super) fn millis(
        &mut self,
        at: &str,
        value: Option<u64>,
        default: u64,
    ) -> Option<Duration> {
        self.bounded(at, value, default, MAX_MS)
            .map(Duration::from_millis)
    }

    /// A count that sizes something in memory.
    pub(super) fn count(
        &mut self,
        at: &str,
        value: Option<u64>,
        default: u64,
        max: u64,
    ) -> Option<usize> {
        let value = self.bounded(at, value, default, max)?;
        match usize::try_from(value) {
            Ok(value) => Some(value),
            Err(_) => {
                self.error(at, "too large for this platform");
                None
            }
        }
    }

    /// An `ip:port` listen address.
    pub(super) fn socket_addr(&mut self, at: &str, text: &str) -> Option<SocketAddr> {
        match text.parse() {
            Ok(addr) => Some(addr),
            Err(_) => {
                self.error(
                    at,
                    "expected an IP address and port, like 127.0.0.1:8080 or [::1]:8080",
                );
                None
            }
        }
    }

    /// A base URL (see [`url::base_url`]).
    pub(super) fn url(&mut self, at: &str, text: &str) -> Option<String> {
        self.checked(at, url::base_url(text))
    }

    /// A backend's URL (see [`url::backend_url`]).
    pub(super) fn backend_url(&mut self, at: &str, text: &str) -> Option<String> {
        self.checked(at, url::backend_url(text))
    }

    fn checked(&mut self, at: &str, checked: Result<String, &'static str>) -> Option<String> {
        match checked {
            Ok(url) => Some(url),
            Err(message) => {
                self.error(at, message);
                None
            }
        }
    }
}
