//! `sever`: one endpoint to cut a client, connection, user session or binding on any
//! configured backend — the server (`serve`), its offline tools (`check`, `plugins`) and
//! a client for a running server (`act`, `backends`, `plugins --remote`, `health`).

mod app;
mod approvals_sweep;
mod client;
mod deadline;
mod drain;
mod http;
mod local;
mod logging;
mod logline;
mod out;
mod serve;
mod telemetry;
mod upstream;

use clap::{Parser, Subcommand};
use client::act::ActArgs;
use client::listing::{BackendsArgs, HealthArgs};
use client::Connection;
use logging::{init_logging, LogFormat};
use sever_engine::config;
use std::path::PathBuf;
use std::process::ExitCode;

/// Sever allocates many small, short-lived buffers per request (request and answer JSON,
/// header maps, plugin messages); mimalloc serves them with less CPU than glibc's malloc
/// (see benches/RESULTS.md for the measured gain). Built with mimalloc's `override`, it is
/// also the process's `malloc`: a loaded adapter library's allocations (its Rust allocator
/// calls `malloc`, which the dynamic linker binds to this executable's) land in it too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Sever: one canonical disconnect / terminate / unbind API in front of every backend.
///
/// Reference: docs/cli.md (commands), docs/configuration.md, docs/api.md.
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

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the proxy. SIGTERM drains (in-flight requests finish within
    /// server.shutdown_grace_ms), SIGINT stops at once, SIGHUP reloads the config file
    /// (a config with errors changes nothing) and reopens the audit log.
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
    /// List plugins (name, version, ABI, actions with target fields, settings keys):
    /// from the config's plugins list, from the given .so files, or (--remote) those a
    /// running Sever has loaded.
    Plugins {
        /// Config file whose plugins to list [default: $SEVER_CONFIG, then config/sever.yaml]
        #[arg(long, short, conflicts_with_all = ["files", "remote"])]
        config: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Ask a running Sever (GET /v1/plugins) instead of loading libraries here.
        #[arg(long, conflicts_with = "files")]
        remote: bool,
        #[command(flatten)]
        connection: Connection,
        /// Plugin libraries to load directly.
        files: Vec<PathBuf>,
    },
    /// Send one canonical request to a running Sever (POST /v1/actions).
    /// Exit status: 0 done, accepted or dry-run; 1 the request failed, or every backend
    /// did; 3 some backends failed and some did not; 4 waiting (202); 2 usage.
    Act(Box<ActArgs>),
    /// Four-eyes approvals on a running Sever: list the pending ones (default), show one,
    /// approve it (it runs: exit status as for `act`) or deny it.
    Approvals(client::approvals::ApprovalsArgs),
    /// List a running Sever's backends: name, plugin, tags, actions, breaker state.
    Backends(BackendsArgs),
    /// Exit 0 when a running Sever answers GET /healthz (or /readyz) with 200, else 1:
    /// a container's health check, no token needed.
    Health(HealthArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        // `serve` sets up logging itself: the OpenTelemetry exporter comes from the config.
        Command::Serve { config } => {
            serve::command(cli.log_format, config.unwrap_or_else(config::default_path))
        }
        Command::Check { config } => {
            init_logging(cli.log_format, None);
            local::check(&config.unwrap_or_else(config::default_path))
        }
        Command::Plugins {
            json,
            remote: true,
            connection,
            ..
        } => client::listing::plugins(&connection, json).into(),
        Command::Plugins {
            config,
            json,
            files,
            ..
        } => {
            init_logging(cli.log_format, None);
            local::plugins(config, &files, json)
        }
        Command::Act(args) => client::act::run(&args).into(),
        Command::Approvals(args) => client::approvals::run(&args).into(),
        Command::Backends(args) => client::listing::backends(&args).into(),
        Command::Health(args) => client::listing::health(&args).into(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::CommandFactory;
    use client::Exit;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command and flag is in the CLI reference (docs/cli.md).
    #[test]
    fn every_command_and_flag_is_in_the_cli_reference() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md");
        let doc = std::fs::read_to_string(path).unwrap_or_default();
        let mut missing = Vec::new();
        let mut command = Cli::command();
        command.build();
        for sub in command.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            if !doc.contains(&format!("`sever {}", sub.get_name())) {
                missing.push(format!("sever {}", sub.get_name()));
            }
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                if !doc.contains(&format!("--{long}")) {
                    missing.push(format!("sever {} --{long}", sub.get_name()));
                }
            }
        }
        assert!(missing.is_empty(), "docs/cli.md lacks {missing:?}");
    }

    #[test]
    fn usage_errors_exit_with_the_clients_usage_status() {
        let err = Cli::try_parse_from(["sever", "act"])
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.exit_code(), i32::from(Exit::Usage.code()));
    }
}
