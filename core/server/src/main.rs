//! `sever`: one endpoint to cut a client, connection, user session or binding on any
//! configured backend.

mod app;
mod logline;
mod serve;
mod telemetry;
mod upstream;

use clap::{Parser, Subcommand, ValueEnum};
use sever_engine::api::plugin_json;
use sever_engine::app::{build_backends, load_plugins};
use sever_engine::clock::Ambient;
use sever_engine::config::{self, ConfigErrors};
use sever_engine::host;
use sever_engine::metrics::Metrics;
use sever_engine::Sever;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use telemetry::{SpanExport, Telemetry, TelemetryError};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::{self, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Sever allocates many small, short-lived buffers per request (request and answer JSON,
/// header maps, plugin messages); mimalloc serves them with less CPU than glibc's malloc
/// (see benches/RESULTS.md for the measured gain). Built with mimalloc's `override`, it is
/// also the process's `malloc`: a loaded adapter library's allocations (its Rust allocator
/// calls `malloc`, which the dynamic linker binds to this executable's) land in it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sever: one canonical disconnect / terminate / unbind API in front of every backend.
#[derive(Debug, Parser)]
#[command(name = "sever", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr (default: human on a terminal, JSON lines otherwise).
    /// The level comes from RUST_LOG (default info).
    #[arg(long, value_enum, global = true, default_value_t = LogFormat::Auto)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Auto,
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the proxy. SIGTERM drains (in-flight requests finish within
    /// server.shutdown_grace_ms), SIGINT stops at once.
    Serve {
        /// Config file [default: $SEVER_CONFIG, then config/sever.yaml]
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Load the config and every plugin, validate every backend's settings with its
    /// plugin, and print one line per problem (FILE:path.to.key: message).
    /// Exit status: 0 valid, 1 invalid, 2 usage.
    Check {
        /// Config file [default: $SEVER_CONFIG, then config/sever.yaml]
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// List plugins (name, version, ABI, actions with target fields, settings keys),
    /// from the config's plugins list or from the given .so files.
    Plugins {
        /// Config file whose plugins to list [default: $SEVER_CONFIG, then config/sever.yaml]
        #[arg(long, short, conflicts_with = "files")]
        config: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Plugin libraries to load directly.
        files: Vec<PathBuf>,
    },
}

/// Logs to stderr, filtered by `RUST_LOG`; with `export`, the engine's spans also go to
/// the OpenTelemetry collector, whatever `RUST_LOG` says.
fn init_logging(format: LogFormat, export: Option<SpanExport>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // At `info` every request's log line names the request itself (request and trace id,
    // caller, action, backend, outcome, status, duration), so spans stay out of the log:
    // formatting each span's fields for the log was the largest per-request cost with
    // logging on. With `debug` (or finer) anywhere, spans are in the log again, as the
    // context of every line. The OpenTelemetry export gets its spans either way.
    let spans_in_log = filter
        .max_level_hint()
        .is_none_or(|level| level >= LevelFilter::DEBUG);
    let log = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let log = if json && !spans_in_log {
        // The same line as the generic JSON format's, with a fraction of its work.
        log.event_format(logline::LeanJson).boxed()
    } else if json {
        log.json().flatten_event(true).boxed()
    } else {
        log.boxed()
    };
    // The hint keeps `RUST_LOG`'s maximum level: without it the combined filter would have
    // none, and every disabled `log` record of pingora's would reach the filters.
    let hint = filter.max_level_hint().unwrap_or(LevelFilter::TRACE);
    let filter = filter.and(
        filter::filter_fn(move |meta| spans_in_log || !meta.is_span()).with_max_level_hint(hint),
    );
    // Without the hint, the export's filter would lift the global maximum level to trace,
    // and every disabled debug call (pingora's `log` records too) would reach the filters.
    let wants = filter::filter_fn(SpanExport::wants).with_max_level_hint(LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(log.with_filter(filter));
    // Not `.with(Option<Layer>)`: an absent layer is interested in every callsite, so every
    // span would still be built (and entered on every poll) for no layer at all.
    match export {
        Some(export) => registry.with(export.with_filter(wants)).init(),
        None => registry.init(),
    }
}

fn print_errors(errors: &ConfigErrors) {
    for e in errors.iter() {
        println!("{e}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // `serve` sets up logging itself: the OpenTelemetry exporter comes from the config.
        Command::Serve { config } => {
            serve(cli.log_format, config.unwrap_or_else(config::default_path))
        }
        Command::Check { config } => {
            init_logging(cli.log_format, None);
            check(config.unwrap_or_else(config::default_path))
        }
        Command::Plugins {
            config,
            json,
            files,
        } => {
            init_logging(cli.log_format, None);
            plugins(config, files, json)
        }
    }
}

/// Sets up logging, and span export when `tracing.otlp_endpoint` is set. Logging is set
/// up even when the exporter cannot be, so that the error can be logged.
fn start_logging(
    format: LogFormat,
    config: Option<&config::Config>,
) -> Result<Option<Telemetry>, TelemetryError> {
    let Some(endpoint) = config.and_then(|c| c.tracing.otlp_endpoint.as_deref()) else {
        init_logging(format, None);
        return Ok(None);
    };
    match Telemetry::start(endpoint) {
        Ok((telemetry, export)) => {
            init_logging(format, Some(export));
            tracing::info!(endpoint, "exporting spans over OTLP/gRPC");
            Ok(Some(telemetry))
        }
        Err(e) => {
            init_logging(format, None);
            Err(e)
        }
    }
}

fn serve(log_format: LogFormat, path: PathBuf) -> ExitCode {
    let loaded = config::load(&path);
    let telemetry = match start_logging(log_format, loaded.as_ref().ok()) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match loaded {
        Ok(c) => c,
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    for w in config.warnings() {
        tracing::warn!("{w}");
    }
    let unsupported = config.unsupported();
    if !unsupported.is_empty() {
        for e in &unsupported {
            tracing::error!("{e}");
        }
        return ExitCode::FAILURE;
    }
    if config.server.insecure_no_auth && config.auth.is_none() {
        tracing::warn!(
            "server.insecure_no_auth is true: ANY caller can disconnect ANY client on every \
             backend. Use this for local trials only."
        );
    }
    let sever = match Sever::build(config, serve::upstream()) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors.iter() {
                tracing::error!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    for w in &sever.warnings {
        tracing::warn!("{w}");
    }
    let server = &sever.config.server;
    let addresses: Vec<_> = std::iter::once(server.listen)
        .chain(server.metrics_listen)
        .collect();
    if let Err(e) = serve::check_free(&addresses) {
        tracing::error!("{e}");
        return ExitCode::FAILURE;
    }
    serve::run(sever, telemetry);
    ExitCode::SUCCESS
}

fn check(path: PathBuf) -> ExitCode {
    // Every problem in one run: even when the file has errors, the plugins and the
    // backends that are valid on their own are still loaded and checked.
    let (config, mut errors, sources, backends) = match config::load_for_check(&path) {
        Ok(c) => {
            let (sources, backends) = (c.plugins.clone(), c.backends.clone());
            (Some(c), ConfigErrors::new(), sources, backends)
        }
        Err((errors, partial)) => (None, errors, partial.plugins, partial.backends),
    };
    if let Some(c) = &config {
        for w in c.warnings() {
            println!("warning: {w}");
        }
        errors.extend(c.unsupported());
    }
    let plugins = match load_plugins(&path, &sources) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("warning: {w}");
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
        if let Err(e) = build_backends(&path, &backends, &plugins, &Metrics::new(), &ambient) {
            errors.extend(e);
        }
    }
    if !errors.is_empty() {
        print_errors(&errors);
        return ExitCode::FAILURE;
    }
    println!(
        "{}: ok ({} plugins, {} backends)",
        path.display(),
        plugins.len(),
        backends.len()
    );
    ExitCode::SUCCESS
}

fn plugins(config: Option<PathBuf>, files: Vec<PathBuf>, json: bool) -> ExitCode {
    let plugins = if files.is_empty() {
        let path = config.unwrap_or_else(config::default_path);
        let loaded = config::load(&path).and_then(|c| load_plugins(&c.source, &c.plugins));
        match loaded {
            Ok(l) => l.plugins,
            Err(errors) => {
                print_errors(&errors);
                return ExitCode::FAILURE;
            }
        }
    } else {
        let mut plugins = Vec::new();
        let mut failed = false;
        for f in &files {
            match host::load_file(f) {
                Ok(p) => plugins.push(p),
                Err(e) => {
                    println!("{e}");
                    failed = true;
                }
            }
        }
        if failed {
            return ExitCode::FAILURE;
        }
        plugins
    };
    if json {
        let list: Vec<_> = plugins.iter().map(|p| plugin_json(p)).collect();
        println!("{}", serde_json::json!({ "plugins": list }));
        return ExitCode::SUCCESS;
    }
    for p in &plugins {
        let info = p.info();
        println!(
            "{} {} (ABI {}) — {}",
            info.name,
            info.version,
            p.abi_version(),
            p.path().display()
        );
        if !info.description.is_empty() {
            println!("  {}", info.description);
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
            println!("{line}");
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
        println!("  settings: {}", settings.join(", "));
    }
    ExitCode::SUCCESS
}
