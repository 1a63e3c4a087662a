//! Helpers for end-to-end tests that run the real `sever` binary as a child process.
//!
//! The binaries are not built by `cargo test -p sever-tests`: build them first with
//! `cargo build --workspace`. They are looked up (see [`bin_dir`]) in `$SEVER_BIN_DIR` if set,
//! else next to the running test binary (`<target>/debug`), else in
//! `$CARGO_TARGET_DIR/debug`, else in `<workspace>/target/debug`.
//!
//! Configs are YAML text with two placeholders: `{{PORT}}`, replaced by a free port (pingora
//! cannot report the port it bound, so the harness chooses one), and `{{PLUGIN_DIR}}`,
//! replaced by the folder holding the plugin `.so` files. Each [`Sever`] gets a fresh temp
//! folder holding its config, its captured stdout/stderr and (with `audit: {path:
//! "audit.jsonl"}`) its audit log, and is killed when dropped. Every wait is bounded.

pub mod http;
pub mod raw;

use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

/// How long `sever serve` may take to answer `GET /readyz` 200.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a `sever check` / `sever plugins` run may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at starting a server, each on a new port, when the port was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// The folder holding the `sever` binary and the plugin `.so` files; panics with
/// "build first: cargo build --workspace" when no candidate folder has `sever`.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match DIR.get_or_init(find_bin_dir) {
        Ok(dir) => dir,
        Err(message) => panic!("{message}"),
    }
}

fn find_bin_dir() -> Result<PathBuf, String> {
    let has_sever = |dir: &Path| dir.join("sever").is_file();
    if let Some(dir) = std::env::var_os("SEVER_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return if has_sever(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "SEVER_BIN_DIR={} has no `sever` binary; build first: cargo build --workspace",
                dir.display()
            ))
        };
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // Test binaries live in <target>/debug/deps, other binaries in <target>/debug.
        if let Some(mut dir) = exe.parent().map(Path::to_path_buf) {
            if dir.file_name().is_some_and(|name| name == "deps") {
                dir.pop();
            }
            candidates.push(dir);
        }
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(target).join("debug"));
    }
    candidates.push(workspace_dir().join("target").join("debug"));
    candidates
        .iter()
        .find(|dir| has_sever(dir))
        .cloned()
        .ok_or_else(|| {
            let searched: Vec<String> =
                candidates.iter().map(|d| d.display().to_string()).collect();
            format!(
                "no `sever` binary in {}; build first: cargo build --workspace \
             (or point SEVER_BIN_DIR at the folder holding it)",
                searched.join(", ")
            )
        })
}

/// The shipped adapters, by folder name under `plugins/` (`alibaba-mqtt`): every crate
/// there that builds a plugin library (a `cdylib`), but the template; in name order.
pub fn shipped_adapters() -> Vec<String> {
    let plugins = workspace_dir().join("plugins");
    let entries =
        std::fs::read_dir(&plugins).unwrap_or_else(|e| panic!("{}: {e}", plugins.display()));
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::read_to_string(e.path().join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.contains("\"cdylib\""))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "template")
        .collect();
    names.sort();
    names
}

/// The workspace root (the folder above this crate).
pub fn workspace_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The `sever` binary.
pub fn sever_bin() -> PathBuf {
    bin_dir().join("sever")
}

/// The folder that `{{PLUGIN_DIR}}` stands for.
pub fn plugin_dir() -> PathBuf {
    bin_dir().to_path_buf()
}

/// A plugin library by file name (`libsever_cedalo.so`); panics if it was not built.
pub fn plugin_path(file_name: &str) -> PathBuf {
    let path = plugin_dir().join(file_name);
    assert!(
        path.is_file(),
        "no plugin {}; build first: cargo build --workspace",
        path.display()
    );
    path
}

/// A port that was free a moment ago (bound to 127.0.0.1:0, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A config written into a fresh temp folder, placeholders substituted.
#[derive(Debug)]
pub struct ConfigFile {
    dir: TempDir,
    path: PathBuf,
    port: u16,
}

impl ConfigFile {
    /// The config file (`<dir>/sever.yaml`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temp folder holding it; removed when this is dropped.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The port `{{PORT}}` was replaced with.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Writes `yaml` to `sever.yaml` in a fresh temp folder, replacing `{{PORT}}` with a free
/// port and `{{PLUGIN_DIR}}` with [`plugin_dir`]. Every `{{PLUGIN_DIR}}/<file>` named must
/// exist (else: panic, "build first").
pub fn write_config(yaml: &str) -> ConfigFile {
    for file in plugin_files(yaml) {
        plugin_path(&file);
    }
    let port = free_port();
    let text = yaml
        .replace("{{PORT}}", &port.to_string())
        .replace("{{PLUGIN_DIR}}", &plugin_dir().display().to_string());
    let dir = tempfile::Builder::new()
        .prefix("sever-e2e-")
        .tempdir()
        .expect("create temp dir");
    let path = dir.path().join("sever.yaml");
    fs::write(&path, text).expect("write config");
    ConfigFile { dir, path, port }
}

/// The file names that follow `{{PLUGIN_DIR}}/` in a config.
fn plugin_files(yaml: &str) -> Vec<String> {
    yaml.split("{{PLUGIN_DIR}}/")
        .skip(1)
        .map(|rest| {
            let end = rest
                .find(|c: char| c.is_whitespace() || "\"',}]".contains(c))
                .unwrap_or(rest.len());
            rest[..end].to_owned()
        })
        .filter(|file| !file.is_empty())
        .collect()
}

/// Runs `sever ARGS…` (no server: `check`, `plugins`, `--version`) with extra environment
/// variables, waits at most 30 s, and returns (exit code, stdout, stderr); the exit code is
/// -1 when the process was ended by a signal.
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = tempfile::tempdir().expect("create temp dir");
    let mut command = Command::new(sever_bin());
    command.args(args);
    let mut child = spawn_captured(&mut command, out.path(), env);
    let status = wait_bounded(&mut child, CLI_TIMEOUT).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "`sever {}` did not finish within {CLI_TIMEOUT:?}",
            args.join(" ")
        )
    });
    let stdout = read_lossy(&out.path().join("stdout.log"));
    let stderr = read_lossy(&out.path().join("stderr.log"));
    (status.code().unwrap_or(-1), stdout, stderr)
}

/// A running `sever serve`, killed when dropped.
#[derive(Debug)]
pub struct Sever {
    child: Child,
    config: ConfigFile,
    /// Serves HTTPS (started with [`Sever::start_https`]).
    https: bool,
}

enum LaunchError {
    AddressInUse(String),
    Failed(String),
}

impl Sever {
    /// Writes the config (see [`write_config`]), runs `sever serve --config <file>` in the
    /// temp folder with `env` added to the environment, and waits until `GET /readyz`
    /// answers 200 (at most 15 s). Retries on a new port, up to 3 times, when the chosen
    /// port was taken meanwhile. Panics, showing sever's stderr, if it does not get ready.
    pub fn start(config_yaml: &str, env: &[(&str, &str)]) -> Sever {
        Self::start_with(config_yaml, env, None, None)
    }

    /// Like [`Sever::start`], with the process's `RLIMIT_NOFILE` (soft and hard) set to
    /// `nofile` before `sever` runs (`ulimit -n` in a shell that then execs it).
    pub fn start_with_nofile(config_yaml: &str, env: &[(&str, &str)], nofile: u64) -> Sever {
        Self::start_with(config_yaml, env, None, Some(nofile))
    }

    /// Like [`Sever::start`], for a config whose `server.tls` makes it serve HTTPS:
    /// `client` (an [`http::Client::https`] trusting its CA, with a client certificate when
    /// the server asks for one) probes `/readyz`, and [`Sever::base_url`] is
    /// `https://127.0.0.1:<port>`.
    pub fn start_https(config_yaml: &str, env: &[(&str, &str)], client: &http::Client) -> Sever {
        Self::start_with(config_yaml, env, Some(client), None)
    }

    fn start_with(
        config_yaml: &str,
        env: &[(&str, &str)],
        https_probe: Option<&http::Client>,
        nofile: Option<u64>,
    ) -> Sever {
        assert!(
            config_yaml.contains("{{PORT}}"),
            "the config must listen on 127.0.0.1:{{{{PORT}}}}"
        );
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::launch(write_config(config_yaml), env, https_probe, nofile) {
                Ok(sever) => return sever,
                Err(LaunchError::AddressInUse(stderr)) => last = stderr,
                Err(LaunchError::Failed(message)) => panic!("{message}"),
            }
        }
        panic!("sever found its port taken {START_ATTEMPTS} times; last stderr:\n{last}")
    }

    fn launch(
        config: ConfigFile,
        env: &[(&str, &str)],
        https_probe: Option<&http::Client>,
        nofile: Option<u64>,
    ) -> Result<Sever, LaunchError> {
        let mut command = match nofile {
            None => Command::new(sever_bin()),
            Some(n) => {
                let mut shell = Command::new("sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(sever_bin());
                shell
            }
        };
        command.arg("serve").arg("--config").arg(config.path());
        let child = spawn_captured(&mut command, config.dir(), env);
        let mut sever = Sever {
            child,
            config,
            https: https_probe.is_some(),
        };
        let probe = https_probe
            .cloned()
            .unwrap_or_else(|| http::Client::with_timeout(Duration::from_secs(1)));
        let ready_url = sever.url("/readyz");
        let mut decided = None;
        crate::eventually(READY_TIMEOUT, || {
            decided = sever.launch_state(&probe, &ready_url);
            decided.is_some()
        });
        match decided {
            Some(Ok(())) => Ok(sever),
            Some(Err(e)) => Err(e),
            None => Err(LaunchError::Failed(format!(
                "sever did not answer GET /readyz 200 within {READY_TIMEOUT:?}; stderr:\n{}",
                sever.stderr()
            ))),
        }
    }

    /// Whether the starting server is ready (`Some(Ok)`), cannot start (`Some(Err)`), or
    /// not ready yet (`None`).
    fn launch_state(
        &mut self,
        probe: &http::Client,
        ready_url: &str,
    ) -> Option<Result<(), LaunchError>> {
        if let Ok(Some(status)) = self.child.try_wait() {
            let stderr = self.stderr();
            let lower = stderr.to_ascii_lowercase();
            if lower.contains("address already in use") || lower.contains("addrinuse") {
                return Some(Err(LaunchError::AddressInUse(stderr)));
            }
            return Some(Err(LaunchError::Failed(format!(
                "sever exited ({status}) before it was ready; stderr:\n{stderr}"
            ))));
        }
        // pingora does not give up on a taken port: it logs "… is in use, will try
        // again" and retries for 30 s. Dropping `sever` kills it.
        let stderr = self.stderr();
        if stderr.contains(" is in use, will try again") {
            return Some(Err(LaunchError::AddressInUse(stderr)));
        }
        // The port was free when chosen, but another test's server or simulator may
        // have taken it since: probe only a listener that is this child's, so nothing
        // is sent to someone else's (and their answer is not taken for this one's).
        match listener_on(self.pid(), self.port()) {
            Listener::Other => Some(Err(LaunchError::AddressInUse(format!(
                "another process listens on port {}; sever's stderr:\n{}",
                self.port(),
                self.stderr()
            )))),
            Listener::Nobody => None, // not bound yet
            Listener::Mine | Listener::Unknown => {
                let ready = probe
                    .try_send("GET", ready_url, &[], None)
                    .is_ok_and(|reply| reply.status == 200);
                ready.then_some(Ok(()))
            }
        }
    }

    /// `http://127.0.0.1:<port>` (`https://` when started with [`Sever::start_https`]).
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.config.port())
    }

    /// `base_url()` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.config.port()
    }

    /// The temp folder: config, `stdout.log`, `stderr.log`, audit log.
    pub fn dir(&self) -> &Path {
        self.config.dir()
    }

    /// The config file as written (placeholders substituted).
    pub fn config_path(&self) -> &Path {
        self.config.path()
    }

    /// Everything it wrote to stderr so far (its logs).
    pub fn stderr(&self) -> String {
        read_lossy(&self.dir().join("stderr.log"))
    }

    /// Everything it wrote to stdout so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.dir().join("stdout.log"))
    }

    /// The raw audit log (`audit.jsonl` in the temp folder); empty if it does not exist.
    pub fn audit_text(&self) -> String {
        read_lossy(&self.dir().join("audit.jsonl"))
    }

    /// Every line of the audit log, parsed: intent and outcome lines alike (and any
    /// `audit_resumed` line); panics on a line that is not JSON (a torn line).
    pub fn audit_all_lines(&self) -> Vec<Value> {
        self.audit_text()
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("audit line is not JSON ({err}): {line:?}"))
            })
            .collect()
    }

    /// The audit log's outcome lines (how each request, or part of one, ended), parsed.
    pub fn audit_lines(&self) -> Vec<Value> {
        phase_lines(self.audit_all_lines(), "outcome")
    }

    /// The audit log's intent lines (written before a request's first vendor call).
    pub fn audit_intents(&self) -> Vec<Value> {
        phase_lines(self.audit_all_lines(), "intent")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory (`VmRSS` of `/proc/<pid>/status`) in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Sends SIGTERM (graceful shutdown: drain, then exit).
    pub fn terminate(&self) {
        self.signal(Signal::SIGTERM);
    }

    /// Sends SIGINT (stop at once).
    pub fn interrupt(&self) {
        self.signal(Signal::SIGINT);
    }

    /// Sends `signal` to the process; panics if it cannot be sent (for example because the
    /// process was already reaped).
    pub fn signal(&self, signal: Signal) {
        let pid = i32::try_from(self.pid()).expect("pid fits in i32");
        nix::sys::signal::kill(Pid::from_raw(pid), signal)
            .unwrap_or_else(|err| panic!("cannot send {signal} to sever ({pid}): {err}"));
    }

    /// Waits at most `limit` for the process to exit; its exit status, or `None` if it is
    /// still running then.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_bounded(&mut self.child, limit)
    }
}

impl Drop for Sever {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- sever stderr ---\n{}--- end ---", self.stderr());
        }
    }
}

/// Spawns `command` in `dir` with stdout/stderr captured to files there.
fn spawn_captured(command: &mut Command, dir: &Path, env: &[(&str, &str)]) -> Child {
    let stdout = File::create(dir.join("stdout.log")).expect("create stdout.log");
    let stderr = File::create(dir.join("stderr.log")).expect("create stderr.log");
    // The client's variables too: a test that wants them passes them in `env`.
    command
        .current_dir(dir)
        .env_remove("SEVER_CONFIG")
        .env_remove("SEVER_URL")
        .env_remove("SEVER_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run {:?}: {err}", command.get_program()))
}

/// Who listens on a port, as far as [`listener_on`] can tell.
#[derive(Debug, PartialEq, Eq)]
enum Listener {
    /// The process asked about.
    Mine,
    /// Some other process.
    Other,
    /// Nobody (yet).
    Nobody,
    /// Cannot be told (no `/proc`).
    Unknown,
}

/// Whether the socket listening on `127.0.0.1:port` belongs to process `pid` (Linux:
/// `/proc/net/tcp` and `/proc/PID/fd`).
fn listener_on(pid: u32, port: u16) -> Listener {
    const LISTEN: &str = "0A";
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return Listener::Unknown;
    };
    let local = format!("0100007F:{port:04X}");
    let sockets: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let matches = fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&LISTEN);
            matches.then(|| fields.get(9).map(|inode| format!("socket:[{inode}]")))?
        })
        .collect();
    if sockets.is_empty() {
        return Listener::Nobody;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Listener::Unknown;
    };
    let mine = fds.flatten().any(|fd| {
        fs::read_link(fd.path())
            .is_ok_and(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
    });
    if mine {
        Listener::Mine
    } else {
        Listener::Other
    }
}

fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    crate::eventually(limit, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The audit lines of one `phase`.
pub fn phase_lines(lines: Vec<Value>, phase: &str) -> Vec<Value> {
    lines
        .into_iter()
        .filter(|line| line["phase"] == phase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_files_are_read_from_placeholders() {
        let yaml = "plugins:\n  - path: \"{{PLUGIN_DIR}}/liba.so\"\n  - { path: {{PLUGIN_DIR}}/libb.so }\n";
        assert_eq!(plugin_files(yaml), ["liba.so", "libb.so"]);
    }

    #[test]
    fn a_listener_is_told_apart_from_another_process_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local address").port();
        if std::fs::metadata("/proc/net/tcp").is_err() {
            assert_eq!(listener_on(std::process::id(), port), Listener::Unknown);
            return;
        }
        assert_eq!(listener_on(std::process::id(), port), Listener::Mine);
        if let Ok(mut other) = Command::new("sleep").arg("5").spawn() {
            assert_eq!(listener_on(other.id(), port), Listener::Other);
            let _ = other.kill();
            let _ = other.wait();
        }
        drop(listener);
        assert_eq!(listener_on(std::process::id(), port), Listener::Nobody);
    }

    #[test]
    fn free_port_can_be_bound_again() {
        let port = free_port();
        assert_ne!(port, 0);
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
