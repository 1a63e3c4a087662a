//! The backends a reload keeps: a backend whose config entry is unchanged and whose
//! plugin is the same library (same file, same metadata) is the same [`Backend`] after
//! the reload — its circuit breaker (an open one stays open), its plugin instance (a
//! cached token stays cached), its single-flight map and its concurrency slots (calls in
//! flight still count). Any change to its entry, or to its plugin, builds it anew.

use crate::backend::Backend;
use crate::config::BackendConfig;
use crate::plugin::Plugin;
use crate::Sever;
use std::sync::Arc;

/// The running Sever's backends, with the config entry each was built from.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    backends: Vec<(BackendConfig, Arc<Backend>)>,
}

/// Whether `new` is the library `old` was loaded from: `dlopen` hands the loaded library
/// again for a path already open, so the same path with the same metadata is the same code.
fn same_plugin(old: &Plugin, new: &Plugin) -> bool {
    old.path() == new.path() && old.abi_minor() == new.abi_minor() && old.info() == new.info()
}

impl Kept {
    pub(crate) fn of(sever: &Sever) -> Self {
        let backends = sever
            .config
            .backends
            .iter()
            .filter_map(|c| Some((c.clone(), Arc::clone(sever.backend(&c.name)?))))
            .collect();
        Kept { backends }
    }

    /// The running backend that `config` may keep, given the plugins now loaded.
    fn find(&self, config: &BackendConfig, plugins: &[Arc<Plugin>]) -> Option<&Arc<Backend>> {
        let (_, backend) = self.backends.iter().find(|(c, _)| c == config)?;
        let plugin = plugins.iter().find(|p| p.name() == config.plugin)?;
        same_plugin(backend.plugin(), plugin).then_some(backend)
    }

    /// The entries of `configs` that must be built (none of the running backends fits).
    pub(crate) fn to_build(
        &self,
        configs: &[BackendConfig],
        plugins: &[Arc<Plugin>],
    ) -> Vec<BackendConfig> {
        configs
            .iter()
            .filter(|c| self.find(c, plugins).is_none())
            .cloned()
            .collect()
    }

    /// Every backend of `configs`, in config order: kept, or taken from `built` (built
    /// from [`Kept::to_build`]'s entries, in their order).
    pub(crate) fn merge(
        &self,
        configs: &[BackendConfig],
        plugins: &[Arc<Plugin>],
        built: Vec<Arc<Backend>>,
    ) -> Vec<Arc<Backend>> {
        let mut built = built.into_iter();
        configs
            .iter()
            .filter_map(|c| match self.find(c, plugins) {
                Some(kept) => Some(Arc::clone(kept)),
                None => built.next(),
            })
            .collect()
    }
}
