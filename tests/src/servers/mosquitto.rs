//! A private Mosquitto broker with the dynamic-security plugin for one test: its config,
//! dynsec file (`mosquitto_ctrl dynsec init`: an `admin` client with the admin role) and
//! log in a temp dir, one listener on 127.0.0.1 and a free port, anonymous clients refused.
//! Never the system-wide service. Stopped (SIGTERM, then SIGKILL) when dropped.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::free_port;
use nix::sys::signal::Signal;

/// The dynsec admin `mosquitto_ctrl dynsec init` creates.
pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "mosq-admin-6f3a";
/// Where Debian's `mosquitto` package puts the plugin.
const DYNSEC: &str = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";
const START_LIMIT: Duration = Duration::from_secs(15);

/// A running private broker.
#[derive(Debug)]
pub struct MosquittoServer {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl MosquittoServer {
    /// Writes the dynsec file and config, starts the broker and waits (bounded) until it
    /// logs that it runs.
    pub fn start() -> MosquittoServer {
        assert!(
            std::path::Path::new(DYNSEC).exists(),
            "{DYNSEC} is missing: install Debian's mosquitto (scripts/setup does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let dynsec = dir.path().join("dynsec.json");
        let out = Command::new("mosquitto_ctrl")
            .args(["dynsec", "init"])
            .arg(&dynsec)
            .args([ADMIN, ADMIN_PASSWORD])
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_ctrl");
        assert!(
            out.status.success(),
            "dynsec init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\n\
                 # A temp dir owned by root: no privilege drop.\nuser root\n\
                 plugin {DYNSEC}\nplugin_opt_config_file {}\n",
                dynsec.display()
            ),
        )
        .expect("write the config");
        let mut server = MosquittoServer {
            dir,
            port,
            child: None,
        };
        let log = std::fs::File::create(server.log_path()).expect("log file");
        let child = Command::new("mosquitto")
            .arg("-v")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn mosquitto");
        server.child = Some(child);
        let ready = crate::eventually(START_LIMIT, || {
            server.log().contains("running")
                && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(
            ready,
            "mosquitto not running after {START_LIMIT:?}:\n{}",
            server.log()
        );
        server
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("mosquitto.log")
    }

    /// The broker's log (`-v`: every connection, with its client id).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `mqtt://127.0.0.1:<port>`, the backend url.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Runs `mosquitto_ctrl … dynsec <args>` as the admin; panics if it fails.
    pub fn dynsec(&self, args: &[&str]) -> String {
        let out = Command::new("mosquitto_ctrl")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-u", ADMIN, "-P", ADMIN_PASSWORD, "dynsec"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_ctrl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "dynsec {args:?}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// Stops the broker (SIGTERM, at most 10 s, then SIGKILL). Safe twice.
    pub fn stop(&mut self) {
        crate::servers::stop_child(self.child.take(), Signal::SIGTERM);
    }
}

impl Drop for MosquittoServer {
    fn drop(&mut self) {
        self.stop();
    }
}
