//! From a loaded [`Config`] to a serving [`Sever`]: load the plugins, create one backend
//! instance per configured backend (the plugin validates its settings), open the audit
//! log. Every problem is reported as a config error line; nothing half-built is returned.

use crate::api::PendingIntents;
use crate::audit::AuditLog;
use crate::auth::Authenticator;
use crate::backend::{Backend, Upstream};
use crate::clock::Ambient;
use crate::config::{
    BackendConfig, Config, ConfigError, ConfigErrors, PluginSource, PluginSourceKind,
};
use crate::idempotency::IdempotencyStore;
use crate::metrics::{Metrics, RequestMetrics};
use crate::plugin::{host, BackendSpec, InstanceError, Plugin, SEVER_ABI_MAJOR};
use crate::reuse::Kept;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Plugins loaded from a config's `plugins` list.
#[derive(Debug, Default)]
pub struct LoadedPlugins {
    pub plugins: Vec<Arc<Plugin>>,
    /// Worth telling, not fatal (a `dir:` library built for another ABI).
    pub warnings: Vec<ConfigError>,
}

/// Loads every plugin listed (`file` names the config in error lines); duplicate names are
/// errors.
pub fn load_plugins(file: &Path, sources: &[PluginSource]) -> Result<LoadedPlugins, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut loaded = LoadedPlugins::default();
    let mut origin: HashMap<String, String> = HashMap::new();
    for source in sources {
        let at = source.config_path();
        let found = match &source.kind {
            PluginSourceKind::File(path) => match load_plugin_file(path) {
                Ok(p) => vec![p],
                Err(e) => {
                    errors.push(ConfigError::new(file, &at, e.to_string()));
                    continue;
                }
            },
            PluginSourceKind::Dir(dir) if !dir.is_dir() => {
                let error = PluginFileError::Missing(dir.clone());
                errors.push(ConfigError::new(file, &at, error.to_string()));
                continue;
            }
            PluginSourceKind::Dir(dir) => match crate::plugin_dir::load_dir(dir) {
                Ok(found) => {
                    for w in found.warnings {
                        loaded
                            .warnings
                            .push(ConfigError::new(file, &at, format!("skipped: {w}")));
                    }
                    for e in found.errors {
                        errors.push(ConfigError::new(file, &at, e.to_string()));
                    }
                    found.plugins
                }
                Err(e) => {
                    errors.push(ConfigError::new(file, &at, e.to_string()));
                    continue;
                }
            },
        };
        for plugin in found {
            let name = plugin.name().to_owned();
            if let Some(first) = origin.get(&name) {
                errors.push(ConfigError::new(
                    file,
                    &at,
                    format!(
                        "two plugins are named '{name}': {} and {first}",
                        plugin.path().display()
                    ),
                ));
                continue;
            }
            origin.insert(name, plugin.path().display().to_string());
            loaded.plugins.push(plugin);
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

/// Why one plugin library could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginFileError {
    /// Nothing at that path: usually, the adapters were not built (or not for this profile).
    #[error(
        "{}: no such file; build the adapters first (`cargo build --workspace` writes \
         target/debug/libsever_*.so, `cargo build --release` target/release/)",
        .0.display()
    )]
    Missing(std::path::PathBuf),
    /// The loader refused it.
    #[error("{}", without_repeated_path(.0))]
    Load(#[from] host::LoadError),
}

/// The loader's message without the path repeated inside it (`dlerror` names the file
/// again after the loader already did).
fn without_repeated_path(error: &host::LoadError) -> String {
    let text = error.to_string();
    match text.split_once(": ") {
        Some((path, rest)) if !path.is_empty() => {
            format!("{path}: {}", rest.replacen(&format!("{path}: "), "", 1))
        }
        _ => text,
    }
}

/// Loads one plugin library; a missing file is told apart, with a hint to build it.
pub fn load_plugin_file(path: &Path) -> Result<Arc<Plugin>, PluginFileError> {
    if !path.exists() {
        return Err(PluginFileError::Missing(path.to_owned()));
    }
    Ok(host::load_file(path)?)
}

/// Creates one backend per configured backend, each validated by its plugin (`file` names
/// the config in error lines).
pub fn build_backends(
    file: &Path,
    configs: &[BackendConfig],
    plugins: &[Arc<Plugin>],
    metrics: &Metrics,
    ambient: &Ambient,
) -> Result<Vec<Arc<Backend>>, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut backends = Vec::with_capacity(configs.len());
    for b in configs {
        let at = format!("backends.{}", b.name);
        let Some(plugin) = plugins.iter().find(|p| p.name() == b.plugin) else {
            let names: Vec<&str> = plugins.iter().map(|p| p.name()).collect();
            errors.push(ConfigError::new(
                file,
                format!("{at}.plugin"),
                format!(
                    "no loaded plugin is named '{}' (loaded: {})",
                    b.plugin,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
            continue;
        };
        if let Some(problem) = scheme_problem(plugin, &b.url) {
            errors.push(ConfigError::new(file, format!("{at}.url"), problem));
            continue;
        }
        let spec = BackendSpec {
            name: b.name.clone(),
            url: b.url.clone(),
            settings: b.settings.clone(),
        };
        match plugin.instantiate(&spec) {
            // A transport other than HTTP: the plugin's connection spec is checked here;
            // nothing connects (`sever check`, a reload) before the first exchange.
            Ok(instance) => match Backend::new(b, instance, metrics, ambient.clone()) {
                Ok(backend) => backends.push(Arc::new(backend)),
                Err(e) => errors.push(ConfigError::new(file, format!("{at}.url"), e.to_string())),
            },
            Err(InstanceError::Settings(list)) => {
                for e in list {
                    let path = if e.key.is_empty() {
                        format!("{at}.settings")
                    } else {
                        format!("{at}.settings.{}", e.key)
                    };
                    errors.push(ConfigError::new(file, path, e.message));
                }
            }
            Err(InstanceError::Fault(f)) => {
                errors.push(ConfigError::new(file, &at, f.to_string()));
            }
        }
    }
    if errors.is_empty() {
        Ok(backends)
    } else {
        Err(errors)
    }
}

/// Why a backend's URL does not fit its plugin: a scheme the plugin does not declare (an
/// HTTP adapter given `redis://…`). The message names schemes, never the URL.
fn scheme_problem(plugin: &Plugin, url: &str) -> Option<String> {
    let scheme = url.split_once("://").map_or("", |(s, _)| s);
    let schemes = plugin.info().schemes();
    if schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    Some(format!(
        "the {} plugin ({} transport) takes {} URLs",
        plugin.name(),
        plugin.info().transport,
        schemes.join(" or ")
    ))
}

/// Everything a running Sever needs, built from one config.
#[derive(Debug)]
pub struct Sever {
    pub config: Config,
    pub(crate) auth: Authenticator,
    pub(crate) plugins: Vec<Arc<Plugin>>,
    pub(crate) backends: Vec<Arc<Backend>>,
    pub(crate) by_name: HashMap<String, usize>,
    pub(crate) metrics: Metrics,
    /// Request metrics for the empty `backend` label (backend unknown or not yet known).
    pub(crate) unlabeled: RequestMetrics,
    pub(crate) audit: Option<Arc<AuditLog>>,
    /// Requests whose intent line is written and outcome not yet (kept across reloads).
    pub(crate) pending: Arc<PendingIntents>,
    /// Remembered `Idempotency-Key` answers (kept across reloads while the section is
    /// unchanged).
    pub(crate) idempotency: IdempotencyStore,
    /// Requests waiting for a four-eyes approval (kept across reloads while
    /// `idempotency.redis_url` is unchanged).
    pub(crate) approvals: crate::approvals::ApprovalStore,
    pub(crate) upstream: Arc<dyn Upstream>,
    /// The clock and randomness of everything this Sever runs.
    pub(crate) ambient: Ambient,
    /// Plugins linked into the program rather than listed in the config (tests).
    pub(crate) linked: Vec<Arc<Plugin>>,
    pub(crate) ready: AtomicBool,
    /// Non-fatal problems found while building (shown by `sever check`, logged by serve).
    pub warnings: Vec<ConfigError>,
}

/// Builds a [`Sever`] with more than a config and an upstream: another clock and
/// randomness, plugins linked into the program. What [`Sever::build`] does with defaults.
#[derive(Debug)]
pub struct SeverBuilder {
    config: Config,
    upstream: Arc<dyn Upstream>,
    ambient: Ambient,
    linked: Vec<Arc<Plugin>>,
}

impl SeverBuilder {
    /// Everything built reads time and randomness from `ambient` (default: the system's).
    pub fn ambient(mut self, ambient: Ambient) -> Self {
        self.ambient = ambient;
        self
    }

    /// Adds a plugin that is linked into the program (`host::load_static`) to those the
    /// config lists; backends may name it. Kept across reloads.
    pub fn plugin(mut self, plugin: Arc<Plugin>) -> Self {
        self.linked.push(plugin);
        self
    }

    /// Loads plugins, creates backends and opens the audit log.
    pub fn build(self) -> Result<Sever, ConfigErrors> {
        let metrics = Metrics::new();
        let parts = Parts {
            upstream: self.upstream,
            pending: Arc::new(PendingIntents::new(&metrics)),
            metrics,
            ambient: self.ambient,
            linked: self.linked,
        };
        Sever::assemble(self.config, parts, None)
    }
}

/// What a Sever is built with besides its config, and keeps across reloads.
struct Parts {
    upstream: Arc<dyn Upstream>,
    pending: Arc<PendingIntents>,
    metrics: Metrics,
    ambient: Ambient,
    linked: Vec<Arc<Plugin>>,
}

impl Sever {
    /// Loads plugins, creates backends and opens the audit log.
    pub fn build(config: Config, upstream: Arc<dyn Upstream>) -> Result<Sever, ConfigErrors> {
        Self::builder(config, upstream).build()
    }

    /// A [`SeverBuilder`] for `config` and `upstream`.
    pub fn builder(config: Config, upstream: Arc<dyn Upstream>) -> SeverBuilder {
        SeverBuilder {
            config,
            upstream,
            ambient: Ambient::real(),
            linked: Vec::new(),
        }
    }

    /// Builds a new Sever from a new config for a live reload, keeping what outlives a
    /// config: the metrics registry (counters go on counting), the vendor client and its
    /// connection pool, the requests whose outcome is pending, the audit log when its path
    /// is unchanged (reopened, for log rotation), the idempotency store when its section
    /// is unchanged, and every backend whose config and plugin are unchanged — the same
    /// backend, with its breaker, plugin instance (token cache, flow state), single-flight
    /// map and concurrency slots. Nothing of `self` changes; on error the old one simply
    /// stays in force.
    pub fn rebuild(&self, config: Config) -> Result<Sever, ConfigErrors> {
        let parts = Parts {
            upstream: Arc::clone(&self.upstream),
            pending: Arc::clone(&self.pending),
            metrics: self.metrics.clone(),
            ambient: self.ambient.clone(),
            linked: self.linked.clone(),
        };
        let next = Self::assemble(config, parts, Some(self))?;
        for gone in self
            .backends
            .iter()
            .filter(|b| next.backend(&b.name).is_none())
        {
            // A removed backend's breaker gauge would otherwise stay frozen in scrapes.
            let _ = self
                .metrics
                .circuit_state
                .remove_label_values(&[gone.name.as_str()]);
        }
        if self.ready.load(std::sync::atomic::Ordering::Acquire) {
            next.set_ready();
        }
        Ok(next)
    }

    fn assemble(
        config: Config,
        parts: Parts,
        previous: Option<&Sever>,
    ) -> Result<Sever, ConfigErrors> {
        let Parts {
            upstream,
            pending,
            metrics,
            ambient,
            linked,
        } = parts;
        let mut loaded = load_plugins(&config.source, &config.plugins)?;
        loaded.plugins.extend(linked.iter().cloned());
        let kept = previous.map(Kept::of).unwrap_or_default();
        let built = build_backends(
            &config.source,
            &kept.to_build(&config.backends, &loaded.plugins),
            &loaded.plugins,
            &metrics,
            &ambient,
        )?;
        let backends = kept.merge(&config.backends, &loaded.plugins, built);
        let audit_error = |e: crate::audit::AuditError| {
            let mut errors = ConfigErrors::new();
            errors.push(ConfigError::new(
                &config.source,
                "audit.path",
                e.to_string(),
            ));
            errors
        };
        let current_audit = previous.and_then(|p| p.audit.as_ref());
        let audit = match (&config.audit, current_audit) {
            (Some(a), Some(current)) if current.path() == a.path => {
                current.reopen().map_err(audit_error)?;
                current.set_fsync(a.fsync);
                Some(Arc::clone(current))
            }
            (Some(a), _) => Some(Arc::new(
                AuditLog::open(&a.path, a.fsync).map_err(audit_error)?,
            )),
            (None, _) => None,
        };
        let idempotency = match previous {
            Some(p) if p.config.idempotency == config.idempotency => p.idempotency.clone(),
            _ => IdempotencyStore::from_config(
                &config.idempotency,
                &metrics,
                Arc::clone(&ambient.clock),
            )
            .map_err(|e| {
                let mut errors = ConfigErrors::new();
                errors.push(ConfigError::new(
                    &config.source,
                    "idempotency.redis_url",
                    e.to_string(),
                ));
                errors
            })?,
        };
        let approvals = match previous {
            Some(p) if p.config.idempotency.redis_url == config.idempotency.redis_url => {
                p.approvals.clone()
            }
            _ => {
                crate::approvals::ApprovalStore::from_config(&config.idempotency).map_err(|e| {
                    let mut errors = ConfigErrors::new();
                    errors.push(ConfigError::new(
                        &config.source,
                        "idempotency.redis_url",
                        e.to_string(),
                    ));
                    errors
                })?
            }
        };
        for p in &loaded.plugins {
            metrics
                .plugin_info
                .with_label_values(&[p.name(), &p.info().version, &SEVER_ABI_MAJOR.to_string()])
                .set(1);
        }
        let by_name = backends
            .iter()
            .enumerate()
            .map(|(i, b)| (b.name.clone(), i))
            .collect();
        Ok(Sever {
            unlabeled: RequestMetrics::new(&metrics, ""),
            auth: Authenticator::new(config.auth.as_ref()),
            plugins: loaded.plugins,
            backends,
            by_name,
            metrics,
            audit,
            pending,
            idempotency,
            approvals,
            upstream,
            ambient,
            linked,
            ready: AtomicBool::new(false),
            warnings: loaded.warnings,
            config,
        })
    }

    /// Reopens the audit log (log rotation) without other changes.
    pub fn reopen_audit(&self) -> Result<(), crate::audit::AuditError> {
        match &self.audit {
            Some(audit) => audit.reopen(),
            None => Ok(()),
        }
    }

    /// The loaded plugins.
    pub fn plugins(&self) -> &[Arc<Plugin>] {
        &self.plugins
    }

    /// The configured backends, in config order.
    pub fn backends(&self) -> &[Arc<Backend>] {
        &self.backends
    }

    /// One backend by name.
    pub fn backend(&self, name: &str) -> Option<&Arc<Backend>> {
        self.by_name.get(name).map(|i| &self.backends[*i])
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Canonical requests being processed now.
    pub fn in_flight(&self) -> i64 {
        self.metrics.in_flight.get()
    }

    /// Marks the server ready (`/readyz` answers 200 from then on).
    pub fn set_ready(&self) {
        self.ready.store(true, std::sync::atomic::Ordering::Release);
    }
}
