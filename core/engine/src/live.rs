//! The Sever in force, swappable while serving: `SIGHUP` re-reads the config file (and
//! loads newly listed plugins), builds a complete new [`Sever`] beside the running one and
//! swaps it in. Requests already running finish on the Sever they started with; new
//! requests see the new one. A config with errors is reported and changes nothing.
//!
//! Every reload is counted in `sever_config_reloads_total{result}` and sets
//! `sever_config_last_reload_successful` (as Prometheus reports its own reloads), so that
//! operators and tests can tell a reload happened, and how it went, from `/metrics`.

use crate::config::{self, ConfigError, ConfigErrors};
use crate::Sever;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::sync::Arc;

/// The current [`Sever`], replaced whole on reload.
#[derive(Debug)]
pub struct Live {
    current: ArcSwap<Sever>,
    /// One reload at a time.
    reloading: Mutex<()>,
}

/// What a successful reload changed and what it could not.
#[derive(Debug)]
pub struct Reloaded {
    pub backends: usize,
    pub plugins: usize,
    /// Non-fatal findings of the new config, plus settings that only a restart applies.
    pub warnings: Vec<ConfigError>,
}

impl Live {
    /// Starts with `sever`.
    pub fn new(sever: Sever) -> Self {
        sever
            .metrics
            .config_loaded(false, true, unix_seconds(&sever));
        Live {
            current: ArcSwap::from_pointee(sever),
            reloading: Mutex::new(()),
        }
    }

    /// The Sever in force now. Hold the `Arc` for a whole request, so that a reload in
    /// the middle does not change the rules under it.
    pub fn load(&self) -> Arc<Sever> {
        self.current.load_full()
    }

    /// Re-reads the config file the current Sever was built from and swaps in a new Sever
    /// built from it. On error nothing changes except that the audit log is reopened (so
    /// that log rotation works even while the config file is being edited).
    pub fn reload(&self) -> Result<Reloaded, ConfigErrors> {
        let _one = self.reloading.lock();
        let old = self.load();
        let built = config::load(&old.config.source).and_then(|config| old.rebuild(config));
        let next = match built {
            Ok(next) => next,
            Err(errors) => {
                if let Err(e) = old.reopen_audit() {
                    tracing::error!(error = %e, "audit log not reopened");
                }
                old.metrics.config_loaded(true, false, unix_seconds(&old));
                return Err(errors);
            }
        };
        let mut warnings = next.config.warnings();
        warnings.extend(next.warnings.iter().cloned());
        warnings.extend(restart_only(&old, &next));
        let reloaded = Reloaded {
            backends: next.backends().len(),
            plugins: next.plugins().len(),
            warnings,
        };
        let (metrics, at) = (next.metrics.clone(), unix_seconds(&next));
        self.current.store(Arc::new(next));
        // Counted once the new Sever serves: whoever sees the count sees the new config.
        metrics.config_loaded(true, true, at);
        Ok(reloaded)
    }
}

/// Now, by the Sever's clock, in Unix seconds.
fn unix_seconds(sever: &Sever) -> f64 {
    sever.ambient.clock.unix_ms() as f64 / 1000.0
}

/// Settings the running listeners were built with: a changed value is reported, and takes
/// effect at the next start.
fn restart_only(old: &Sever, next: &Sever) -> Vec<ConfigError> {
    let (a, b) = (&old.config.server, &next.config.server);
    let file = next.config.source.as_path();
    let mut changed = Vec::new();
    if a.listen != b.listen {
        changed.push("server.listen");
    }
    if a.metrics_listen != b.metrics_listen {
        changed.push("server.metrics_listen");
    }
    if a.tls != b.tls {
        changed.push("server.tls");
    }
    if a.shutdown_grace != b.shutdown_grace {
        changed.push("server.shutdown_grace_ms");
    }
    if old.config.tracing != next.config.tracing {
        changed.push("tracing");
    }
    changed
        .into_iter()
        .map(|key| {
            ConfigError::new(
                file,
                key,
                "changed, but only a restart applies it; the running value stays in force",
            )
        })
        .collect()
}
