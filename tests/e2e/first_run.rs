//! End to end: what a new user ran into on a first try (issue 19), each now behaving as
//! they expected — piping `sever plugins` into `head`, a bare file name, listing plugins
//! before the backends' secrets are set, a plugin library that was not built, a vendor
//! that is not running, and `sever serve --help`.
//!
//! Needs `cargo build --workspace` first.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use sever_tests::eventually;
use sever_tests::harness::{free_port, plugin_dir, plugin_path, run_cli, sever_bin, write_config};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `sever ARGS` with stdout a pipe whose reading end is already closed, as when
/// `| head -1` has exited; its exit code and stderr.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut child = Command::new(sever_bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut status = None;
    let finished = eventually(Duration::from_secs(30), || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    assert!(finished, "sever did not finish");
    let status = status.unwrap();
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    (status.code(), stderr)
}

#[test]
fn plugins_into_a_reader_that_went_away_ends_quietly_instead_of_panicking() {
    let a = plugin_path("libsever_cedalo.so");
    let b = plugin_path("libsever_nexus.so");

    let (code, stderr) = with_closed_stdout(&["plugins", a.to_str().unwrap(), b.to_str().unwrap()]);

    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn plugins_takes_a_bare_file_name_as_the_file_in_the_current_folder() {
    plugin_path("libsever_cedalo.so");
    let out = Command::new(sever_bin())
        .args(["plugins", "libsever_cedalo.so"])
        .current_dir(plugin_dir())
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("cedalo "), "{stdout}");
    assert!(stdout.contains(
        &plugin_dir()
            .join("libsever_cedalo.so")
            .display()
            .to_string()
    ));
}

#[test]
fn plugins_from_a_config_needs_none_of_the_backends_secrets() {
    let config = write_config(&config("http://127.0.0.1:9"));

    // Neither CEDALO_TOKEN nor the callers' tokens are set.
    let (code, stdout, stderr) = run_cli(
        &["plugins", "--config", config.path().to_str().unwrap()],
        &[],
    );

    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("cedalo "), "{stdout}");
}

#[test]
fn a_plugin_library_that_was_not_built_is_named_once_with_how_to_build_it() {
    let yaml = config("http://127.0.0.1:9").replace("libsever_cedalo.so", "libsever_unbuilt.so");
    let yaml = yaml.replace("{{PLUGIN_DIR}}", "/nonexistent/target/release");
    let config = write_config(&yaml);
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());

    assert_eq!(code, 1, "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{file}:plugins[0].path: ")))
        .unwrap_or_else(|| panic!("no plugins[0].path line:\n{stdout}"));
    assert_eq!(line.matches("libsever_unbuilt.so").count(), 1, "{line}");
    assert!(
        line.contains("no such file") && line.contains("cargo build"),
        "{line}"
    );

    let (code, stdout, stderr) = run_cli(&["plugins", "/nonexistent/libsever_unbuilt.so"], &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(
        stdout.trim(),
        "/nonexistent/libsever_unbuilt.so: no such file; build the adapters first \
         (`cargo build --workspace` writes target/debug/libsever_*.so, `cargo build --release` \
         target/release/)"
    );
}

#[test]
fn a_vendor_that_is_not_running_is_a_502_whose_detail_says_so_once() {
    let port = free_port();
    let sever =
        sever_tests::harness::Sever::start(&config(&format!("http://127.0.0.1:{port}")), &env());

    let reply = disconnect(&sever, "sensor-17");

    let problem = reply.expect_problem(502, "upstream_unavailable");
    let detail = problem["detail"].as_str().unwrap();
    assert_eq!(
        detail.matches(&format!("127.0.0.1:{port}")).count(),
        1,
        "{detail}"
    );
    assert!(
        detail.to_ascii_lowercase().contains("connection refused"),
        "{detail}"
    );
    for chain in ["context:", "cause:", "Peer:"] {
        assert!(!detail.contains(chain), "{detail}");
    }
}

#[test]
fn serve_help_says_what_each_signal_does() {
    let (code, stdout, stderr) = run_cli(&["serve", "--help"], &[]);

    assert_eq!(code, 0, "{stderr}");
    for signal in ["SIGTERM", "SIGINT", "SIGHUP"] {
        assert!(stdout.contains(signal), "{signal} missing:\n{stdout}");
    }
}

#[test]
fn a_file_that_is_no_library_is_named_once_with_the_loaders_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("libsever_garbage.so");
    std::fs::write(&file, b"not an ELF file").unwrap();
    let path = file.display().to_string();

    let (code, stdout, stderr) = run_cli(&["plugins", &path], &[]);

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(stdout.matches(&path).count(), 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!("{path}: cannot load: ")),
        "{stdout}"
    );
}
