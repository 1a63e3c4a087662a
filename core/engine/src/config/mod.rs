//! The configuration file: YAML in, a validated [`Config`] out ("parse, don't validate").
//!
//! Loading runs in four steps, each reporting every problem it finds rather than the first:
//!
//! 1. read the file and parse it as YAML (a syntax error stops here, with line and column);
//! 2. replace `${VAR}` in every string value from the environment (`$${` is a literal `${`);
//! 3. deserialize each section, list item and backend on its own, against the file format
//!    in `file.rs` (unknown keys, missing keys and wrong types, with their paths);
//! 4. check each value and build the model (`validate.rs`, `auth.rs`); the TLS files
//!    named in `server.tls` are read and checked here too (`tls.rs`).
//!
//! Every problem is a [`ConfigError`] displayed as `FILE:path.to.key: message`. Messages
//! never contain a configured value that may be a secret: string values are described, not
//! quoted, and `Debug` of the model redacts token digests, backend settings and the Redis
//! URL.
//!
//! What needs the plugins (is `backends.x.plugin` loaded? are its `settings` valid?) is
//! checked by the plugin host, which reports with [`ConfigError::new`] in the same format.
//!
//! ```no_run
//! let config = match sever_engine::config::load(&sever_engine::config::default_path()) {
//!     Ok(config) => config,
//!     Err(errors) => {
//!         eprintln!("{errors}");
//!         std::process::exit(1);
//!     }
//! };
//! for warning in config.warnings() {
//!     eprintln!("warning: {warning}");
//! }
//! ```

mod approvals;
mod auth;
mod ctx;
mod de;
mod error;
mod expand;
mod file;
mod keys;
mod model;
mod path;
mod tls;
mod url;
mod validate;

#[cfg(test)]
mod tests;

pub use approvals::{ApprovalRule, ApprovalsConfig, DEFAULT_APPROVAL_TTL};
pub use error::{ConfigError, ConfigErrors};
pub use keys::schema_keys;
pub use model::{
    AllowRule, AuditConfig, AuthConfig, BackendConfig, BackendPattern, BreakerConfig, CertSubject,
    ClientConfig, Config, IdempotencyConfig, PluginSource, PluginSourceKind, ServerConfig,
    TlsConfig, TokenConfig, TracingConfig,
};
pub use tls::{ReloadableCert, TlsMaterial};
pub(crate) use url::{is_name, NAME_RULE};

use serde_yaml::Value;
use std::path::{Path, PathBuf};

/// The config file used when `--config` is not given: `$SEVER_CONFIG` if set and not
/// empty, else `config/sever.yaml`.
pub fn default_path() -> PathBuf {
    match std::env::var_os("SEVER_CONFIG") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("config/sever.yaml"),
    }
}

/// Loads and validates a config file, expanding `${VAR}` from the process environment.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// Loads and validates a config file with the given environment lookup (`Some(value)` for
/// a set variable).
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::whole_file(path, format!("cannot read the config file: {e}")))?;
    parse_str(&text, path, env)
}

/// What could be read of a config that has errors: its plugin sources and the backends
/// that are valid on their own, so that `sever check` can go on to load the plugins and
/// have them validate backend settings, and report every problem in one run.
#[derive(Debug, Clone, Default)]
pub struct Partial {
    /// Every plugin source that is valid on its own.
    pub plugins: Vec<PluginSource>,
    /// Every backend that is valid on its own.
    pub backends: Vec<BackendConfig>,
}

/// Validates config text as if read from `source` (which names the file in errors and is
/// the base of relative paths; it need not exist).
pub fn parse_str(
    text: &str,
    source: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    parse_partial(text, source, env).map_err(|(errors, _)| errors)
}

/// Loads a config for `sever check`: on errors, also what could be read of it.
pub fn load_for_check(path: &Path) -> Result<Config, (ConfigErrors, Partial)> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let error = ConfigError::whole_file(path, format!("cannot read the config file: {e}"));
        (ConfigErrors::from(error), Partial::default())
    })?;
    parse_partial(&text, path, &|name| std::env::var(name).ok())
}

fn parse_partial(
    text: &str,
    source: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, (ConfigErrors, Partial)> {
    let whole = |e: ConfigError| (ConfigErrors::from(e), Partial::default());
    let mut root: Value =
        serde_yaml::from_str(text).map_err(|e| whole(syntax_error(source, &e)))?;
    root.apply_merge().map_err(|e| {
        whole(ConfigError::whole_file(
            source,
            format!("invalid YAML merge key (`<<`): {e}"),
        ))
    })?;

    let problems = expand::expand_tree(&mut root, env);
    let mut ctx = ctx::Ctx {
        file: source,
        dir: base_dir(source),
        env,
        errors: Vec::new(),
    };
    let (config, partial) = validate::config(&root, &mut ctx);

    // A value whose expansion failed was left as written; checking it again would only
    // repeat the problem in other words.
    let mut errors: Vec<ConfigError> = problems
        .iter()
        .map(|(at, message)| ConfigError::new(source, at.as_str(), message.as_str()))
        .collect();
    errors.extend(
        ctx.errors
            .into_iter()
            .filter(|e| !problems.iter().any(|(at, _)| *at == e.path)),
    );
    sort_by_section(&mut errors, &root);
    match config {
        Some(config) if errors.is_empty() => Ok(config),
        _ => Err((errors.into(), partial)),
    }
}

/// A YAML syntax error, with its position.
fn syntax_error(source: &Path, error: &serde_yaml::Error) -> ConfigError {
    // serde_yaml leaves out a position at the very start of the file; say it anyway.
    let message = match error.location() {
        Some(at) if !error.to_string().contains(" at line ") => format!(
            "invalid YAML: {error} at line {} column {}",
            at.line(),
            at.column()
        ),
        _ => format!("invalid YAML: {error}"),
    };
    ConfigError::whole_file(source, message)
}

/// The absolute folder that relative paths in `source` resolve against.
fn base_dir(source: &Path) -> PathBuf {
    let absolute = std::path::absolute(source).unwrap_or_else(|_| source.to_path_buf());
    match absolute.parent() {
        Some(dir) => dir.to_path_buf(),
        None => absolute,
    }
}

/// Orders errors as the sections appear in the file (whole-file errors first), keeping
/// the order found within a section.
fn sort_by_section(errors: &mut [ConfigError], root: &Value) {
    let order: Vec<String> = match root {
        Value::Mapping(map) => map.keys().map(path::key_text).collect(),
        _ => Vec::new(),
    };
    let rank = |e: &ConfigError| {
        if e.path.is_empty() {
            return 0;
        }
        let section = e.path.split(['.', '[']).next().unwrap_or_default();
        order
            .iter()
            .position(|s| s == section)
            .map_or(usize::MAX, |p| p + 1)
    };
    errors.sort_by_key(rank);
}
