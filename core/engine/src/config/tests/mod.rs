//! Tests of the whole loader: valid files, each kind of mistake, secrets.

#![allow(clippy::unwrap_used)]

mod mistakes;
mod secrets;
mod tls;
mod valid;

use super::{parse_str, Config, ConfigErrors};
use std::path::Path;

/// Where the test configs pretend to live.
const FILE: &str = "/etc/sever/sever.yaml";

/// A valid `token_sha256` (sha256 of "test").
const DIGEST: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// An `auth` section that is valid on its own.
const AUTH: &str = "
auth:
  tokens:
    - name: oncall
      token_sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
      allow: [{ backends: ['*'], actions: [disconnect] }]
";

/// The test environment.
fn env(name: &str) -> Option<String> {
    match name {
        "CEDALO_TOKEN" => Some("cedalo-token-value".to_owned()),
        "ONCALL_TOKEN" => Some("test".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn parse(yaml: &str) -> Result<Config, ConfigErrors> {
    parse_str(yaml, Path::new(FILE), &env)
}

/// Parses a config that must be valid.
fn valid(yaml: &str) -> Config {
    match parse(yaml) {
        Ok(config) => config,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

/// The error lines of a config that must be invalid.
fn errors(yaml: &str) -> Vec<String> {
    match parse(yaml) {
        Ok(config) => panic!("expected errors, got {config:#?}"),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

/// Asserts exactly one error line, `FILE:<line>`.
fn assert_error(yaml: &str, line: &str) {
    assert_eq!(errors(yaml), vec![format!("{FILE}:{line}")]);
}
