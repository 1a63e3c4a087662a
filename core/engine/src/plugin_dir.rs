//! Sever's policy for a `plugins: - dir:` entry (spec §2): which libraries in the folder it
//! loads, which it skips silently, which it skips with a warning, which are errors.

use crate::host::{self, LoadError, Plugin};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What loading a `dir:` found.
#[derive(Debug, Default)]
pub struct DirLoad {
    /// Plugins loaded, in file-name order.
    pub plugins: Vec<Arc<Plugin>>,
    /// Libraries skipped with a reason worth telling (built for another ABI, not loadable).
    pub warnings: Vec<LoadError>,
    /// Libraries that looked like plugins but are broken.
    pub errors: Vec<LoadError>,
}

/// Loads every `lib*.so` in a folder that exports the Sever ABI. Other libraries are skipped
/// silently; one built for another ABI version, or that does not even open (wrong
/// architecture, missing dependency), is skipped with a warning; a broken plugin is an error.
pub fn load_dir(dir: &Path) -> Result<DirLoad, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Open {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lib") && n.ends_with(".so"))
                && p.is_file()
        })
        .collect();
    paths.sort();
    let mut found = DirLoad::default();
    for path in paths {
        match host::load_file(&path) {
            Ok(plugin) => found.plugins.push(plugin),
            Err(e) if e.is_not_a_plugin() => {}
            Err(e @ (LoadError::Open { .. } | LoadError::AbiMismatch { .. })) => {
                found.warnings.push(e);
            }
            Err(e) => found.errors.push(e),
        }
    }
    Ok(found)
}
