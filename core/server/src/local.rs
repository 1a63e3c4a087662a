//! The commands that need no running server: `sever check` and `sever plugins` (from a
//! config's `plugins` list or from library files).

use crate::out::Out;
use sever_engine::api::plugin_json;
use sever_engine::app::{build_backends, load_plugin_file, load_plugins};
use sever_engine::clock::Ambient;
use sever_engine::config::{self, ConfigErrors};
use sever_engine::host::Plugin;
use sever_engine::metrics::Metrics;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

fn print_errors(out: &mut Out, errors: &ConfigErrors) {
    for e in errors.iter() {
        out.line(e.to_string());
    }
}

/// `sever check`: every problem of the config and its plugins, one line each.
pub(crate) fn check(path: &Path) -> ExitCode {
    let mut out = Out::new();
    let code = check_into(&mut out, path);
    out.flush();
    code
}

fn check_into(out: &mut Out, path: &Path) -> ExitCode {
    // Every problem in one run: even when the file has errors, the plugins and the
    // backends that are valid on their own are still loaded and checked.
    let (config, mut errors, sources, backends) = match config::load_for_check(path) {
        Ok(c) => {
            let (sources, backends) = (c.plugins.clone(), c.backends.clone());
            (Some(c), ConfigErrors::new(), sources, backends)
        }
        Err((errors, partial)) => (None, errors, partial.plugins, partial.backends),
    };
    if let Some(c) = &config {
        for w in c.warnings() {
            out.line(format!("warning: {w}"));
        }
        errors.extend(c.unsupported());
    }
    let plugins = match load_plugins(path, &sources) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                out.line(format!("warning: {w}"));
            }
            loaded.plugins
        }
        Err(e) => {
            errors.extend(e);
            Vec::new()
        }
    };
    // Without every plugin loaded, "no plugin named X" would be noise: check settings
    // only when the plugin list itself is sound.
    if errors.iter().all(|e| !e.path.starts_with("plugins")) {
        let ambient = Ambient::real();
        if let Err(e) = build_backends(path, &backends, &plugins, &Metrics::new(), &ambient) {
            errors.extend(e);
        }
    }
    if !errors.is_empty() {
        print_errors(out, &errors);
        return ExitCode::FAILURE;
    }
    out.line(format!(
        "{}: ok ({} plugins, {} backends)",
        path.display(),
        plugins.len(),
        backends.len()
    ));
    ExitCode::SUCCESS
}

/// `sever plugins`: what each plugin can do, from the config's list or from files.
pub(crate) fn plugins(config: Option<PathBuf>, files: &[PathBuf], json: bool) -> ExitCode {
    let mut out = Out::new();
    let loaded = if files.is_empty() {
        from_config(&config.unwrap_or_else(config::default_path))
    } else {
        from_files(files)
    };
    let code = match loaded {
        Ok(plugins) => {
            render(&mut out, &plugins, json);
            ExitCode::SUCCESS
        }
        Err(lines) => {
            for l in lines {
                out.line(l);
            }
            ExitCode::FAILURE
        }
    };
    out.flush();
    code
}

/// The plugins a config lists. Only the `plugins` section has to be sound: listing
/// plugins needs no backend secret, so a `${VAR}` unset in `backends` does not stop it.
fn from_config(path: &Path) -> Result<Vec<Arc<Plugin>>, Vec<String>> {
    let sources = match config::load_for_check(path) {
        Ok(c) => c.plugins,
        Err((errors, partial)) => {
            // A whole-file problem (unreadable, bad YAML) or one in `plugins` itself
            // means the list is not what the file says.
            let blocking: Vec<String> = errors
                .iter()
                .filter(|e| e.path.is_empty() || e.path.starts_with("plugins"))
                .map(ToString::to_string)
                .collect();
            if !blocking.is_empty() {
                return Err(blocking);
            }
            partial.plugins
        }
    };
    load_plugins(path, &sources)
        .map(|l| l.plugins)
        .map_err(|errors| errors.iter().map(ToString::to_string).collect())
}

/// Plugins loaded straight from library files. A bare file name means the file in the
/// current folder, as it does for every other command-line tool (the dynamic loader
/// alone would search the system's library path for it instead).
fn from_files(files: &[PathBuf]) -> Result<Vec<Arc<Plugin>>, Vec<String>> {
    let mut plugins = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        let path = std::path::absolute(f).unwrap_or_else(|_| f.clone());
        match load_plugin_file(&path) {
            Ok(p) => plugins.push(p),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(plugins)
    } else {
        Err(errors)
    }
}

fn render(out: &mut Out, plugins: &[Arc<Plugin>], json: bool) {
    if json {
        let list: Vec<_> = plugins.iter().map(|p| plugin_json(p)).collect();
        out.line(serde_json::json!({ "plugins": list }).to_string());
        return;
    }
    for p in plugins {
        let info = p.info();
        out.line(format!(
            "{} {} (ABI {}, {}) — {}",
            info.name,
            info.version,
            p.abi(),
            info.transport,
            p.path().display()
        ));
        if !info.description.is_empty() {
            out.line(format!("  {}", info.description));
        }
        for a in &info.actions {
            let sets: Vec<String> = a
                .target_sets
                .iter()
                .map(|s| s.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(" + "))
                .collect();
            let mut line = format!("  action {}: target {}", a.action, sets.join(" | "));
            if !a.optional_fields.is_empty() {
                let opt: Vec<&str> = a.optional_fields.iter().map(|f| f.as_str()).collect();
                line.push_str(&format!(" [optional: {}]", opt.join(", ")));
            }
            out.line(line);
        }
        let settings: Vec<String> = info
            .settings
            .iter()
            .map(|s| {
                let mut k = s.key.clone();
                if s.secret {
                    k.push_str(" (secret)");
                }
                if !s.required {
                    k.push_str(" (optional)");
                }
                k
            })
            .collect();
        out.line(format!("  settings: {}", settings.join(", ")));
    }
}
