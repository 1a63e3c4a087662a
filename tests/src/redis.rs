//! A private `redis-server` for one test: 127.0.0.1 on a free port, its working dir in a
//! temp dir, nothing saved (`--save "" --appendonly no`). Never the system-wide service.
//! Stopped (SIGTERM, then SIGKILL when it lingers) when dropped, so also when a test fails.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::free_port;
use nix::sys::signal::Signal;

/// How long the server may take to answer `PING`.
const START_LIMIT: Duration = Duration::from_secs(15);

/// A running private Redis.
#[derive(Debug)]
pub struct RedisServer {
    dir: tempfile::TempDir,
    pub port: u16,
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server without a password and waits (bounded) until it answers.
    pub fn start() -> RedisServer {
        RedisServer::launch(None)
    }

    /// Starts a server that requires `password` (`requirepass`).
    pub fn start_with_password(password: &str) -> RedisServer {
        RedisServer::launch(Some(password.to_owned()))
    }

    fn launch(password: Option<String>) -> RedisServer {
        let mut server = RedisServer {
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
            password,
            child: None,
        };
        server.run();
        server
    }

    /// Starts the process (again, on the same port and dir) and waits until it answers
    /// `PING`. Panics, with its log, when it does not in time.
    fn run(&mut self) {
        assert!(
            Command::new("redis-server")
                .arg("--version")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            "redis-server is missing: install Debian's redis-server (scripts/setup does)"
        );
        let port = self.port.to_string();
        let dir = self.dir.path().to_string_lossy().into_owned();
        let log = self.log_path().to_string_lossy().into_owned();
        let mut command = Command::new("redis-server");
        command.args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port,
            "--dir",
            &dir,
            "--logfile",
            &log,
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]);
        if let Some(password) = &self.password {
            command.args(["--requirepass", password]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        self.child = Some(command.spawn().expect("spawn redis-server"));
        let mut exited = None;
        let answering = crate::eventually(START_LIMIT, || {
            exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            exited.is_some() || self.answers_ping()
        });
        if let Some(status) = exited {
            panic!("redis-server exited ({status}):\n{}", self.log_tail());
        }
        if answering {
            return;
        }
        panic!(
            "redis-server not answering after {START_LIMIT:?}:\n{}",
            self.log_tail()
        );
    }

    fn answers_ping(&self) -> bool {
        let Ok(client) = ::redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut connection) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return false;
        };
        ::redis::cmd("PING")
            .query::<String>(&mut connection)
            .is_ok_and(|pong| pong == "PONG")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }

    /// `redis://[:password@]127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => format!("redis://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("redis://127.0.0.1:{}/0", self.port),
        }
    }

    /// A fresh synchronous connection, for looking at what was stored.
    pub fn connection(&self) -> ::redis::Connection {
        ::redis::Client::open(self.url())
            .expect("redis url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test redis")
    }

    /// Every key in database 0, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = ::redis::cmd("KEYS")
            .arg("*")
            .query(&mut self.connection())
            .expect("KEYS");
        keys.sort();
        keys
    }

    /// Stops the server (SIGTERM, at most 10 s, then SIGKILL); the port is then closed.
    /// Safe to call twice.
    pub fn stop(&mut self) {
        crate::servers::stop_child(self.child.take(), Signal::SIGTERM);
    }

    /// Starts a stopped server again on the same port (its data is gone: nothing is saved).
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
