//! A private RabbitMQ node for one test binary (`e2e/rabbitmq.rs`) or the demo's
//! `vendor-sim rabbitmq`: its own node name, Erlang cookie (`HOME`),
//! data, logs and config under a temp dir; AMQP, MQTT, management, distribution and epmd
//! ports on 127.0.0.1, chosen free at start. Never the system-wide service. Stopped
//! (`rabbitmqctl stop`, then its process group killed, then its own epmd) when dropped,
//! so also when a test fails.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::free_port;
use crate::harness::http::{self, Reply};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// Where Debian's `rabbitmq-server` package puts the scripts (run as is, not through the
/// `/usr/sbin` wrappers, which switch to the `rabbitmq` user).
const BIN: &str = "/usr/lib/rabbitmq/bin";
/// The management API's administrator (created by the config's `default_user`).
pub const ADMIN: &str = "sever";
pub const ADMIN_PASSWORD: &str = "sever-rmq-5b2d";
/// How long the node may take to answer on its management port.
const START_LIMIT: Duration = Duration::from_secs(90);

/// A running private node.
#[derive(Debug)]
pub struct Broker {
    dir: tempfile::TempDir,
    node: String,
    pub amqp_port: u16,
    pub mqtt_port: u16,
    pub management_port: u16,
    epmd_port: u16,
    child: Option<Child>,
    /// How long the node took to answer on its management port.
    pub startup: Duration,
}

impl Broker {
    /// Starts a node named `sever-test-<pid>@localhost` and waits (bounded) until its
    /// management API answers.
    pub fn start() -> Broker {
        Broker::start_as("sever-test")
    }

    /// Starts a node named `<prefix>-<pid>@localhost` and waits (bounded) until its
    /// management API answers. Panics (the node stopped) when it does not start in time.
    pub fn start_as(prefix: &str) -> Broker {
        let server = Path::new(BIN).join("rabbitmq-server");
        assert!(
            server.exists(),
            "{} is missing: install Debian's rabbitmq-server (scripts/setup does)",
            server.display()
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut broker = Broker {
            node: format!("{prefix}-{}@localhost", std::process::id()),
            amqp_port: free_port(),
            mqtt_port: free_port(),
            management_port: free_port(),
            epmd_port: free_port(),
            child: None,
            startup: Duration::ZERO,
            dir,
        };
        broker.write_files();
        let began = Instant::now();
        let log = std::fs::File::create(broker.path("server.log")).expect("server log");
        let mut command = Command::new(server);
        broker.environment(&mut command);
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .process_group(0);
        broker.child = Some(command.spawn().expect("spawn rabbitmq-server"));
        let mut exited = None;
        let ready = crate::eventually(START_LIMIT, || {
            exited = broker
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() {
                return true;
            }
            let ready = http::try_send("GET", &broker.api("/api/overview"), &broker.auth(), None)
                .is_ok_and(|r| r.status == 200);
            // The AMQP and MQTT listeners open last, after the management one.
            let listening = [broker.amqp_port, broker.mqtt_port].iter().all(|port| {
                let address = std::net::SocketAddr::from(([127, 0, 0, 1], *port));
                std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok()
            });
            ready && listening
        });
        if let Some(status) = exited {
            panic!("rabbitmq-server exited ({status}):\n{}", broker.log_tail());
        }
        if ready {
            broker.startup = began.elapsed();
            return broker;
        }
        panic!(
            "rabbitmq-server not ready after {START_LIMIT:?}:\n{}",
            broker.log_tail()
        );
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_files(&self) {
        let config = format!(
            "listeners.tcp.1 = 127.0.0.1:{amqp}\n\
             management.tcp.ip = 127.0.0.1\n\
             management.tcp.port = {management}\n\
             mqtt.listeners.tcp.1 = 127.0.0.1:{mqtt}\n\
             mqtt.allow_anonymous = false\n\
             default_user = {ADMIN}\n\
             default_pass = {ADMIN_PASSWORD}\n\
             default_user_tags.administrator = true\n\
             collect_statistics_interval = 500\n\
             log.console = true\n\
             log.console.level = warning\n",
            amqp = self.amqp_port,
            management = self.management_port,
            mqtt = self.mqtt_port,
        );
        let files = [
            ("rabbitmq.conf", config),
            (
                "enabled_plugins",
                "[rabbitmq_management,rabbitmq_mqtt].\n".to_owned(),
            ),
            ("rabbitmq-env.conf", String::new()),
        ];
        for (name, text) in files {
            std::fs::write(self.path(name), text).expect("write broker file");
        }
    }

    /// The environment that makes a node (or `rabbitmqctl`) this private one.
    fn environment(&self, command: &mut Command) {
        let dist_port = free_port();
        let vars = [
            ("HOME", self.path("")),
            ("RABBITMQ_NODENAME", self.node.clone().into()),
            ("RABBITMQ_CONFIG_FILE", self.path("rabbitmq")),
            (
                "RABBITMQ_ADVANCED_CONFIG_FILE",
                self.path("advanced.config"),
            ),
            ("RABBITMQ_CONF_ENV_FILE", self.path("rabbitmq-env.conf")),
            (
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.path("enabled_plugins"),
            ),
            ("RABBITMQ_MNESIA_BASE", self.path("mnesia")),
            ("RABBITMQ_LOG_BASE", self.path("log")),
            ("RABBITMQ_PID_FILE", self.path("node.pid")),
            ("RABBITMQ_DIST_PORT", dist_port.to_string().into()),
            ("ERL_EPMD_PORT", self.epmd_port.to_string().into()),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".into()),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}".into(),
            ),
        ];
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin:/usr/sbin:/sbin")
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8");
        for (name, value) in vars {
            command.env(name, value);
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.path("server.log")).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }

    /// The management API's base URL.
    pub fn management_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.management_port)
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.management_url())
    }

    fn auth(&self) -> Vec<(&'static str, &'static str)> {
        // base64("sever:sever-rmq-5b2d")
        vec![
            ("authorization", "Basic c2V2ZXI6c2V2ZXItcm1xLTViMmQ="),
            ("content-type", "application/json"),
        ]
    }

    /// A management API call as the administrator.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| b.to_string());
        http::send(
            method,
            &self.api(path),
            &self.auth(),
            body.as_deref().map(str::as_bytes),
        )
    }

    /// The vhost `/`'s connections: `(name, user, client name or MQTT client id)`.
    pub fn connections(&self) -> Vec<(String, String, String)> {
        let reply = self.call(
            "GET",
            "/api/vhosts/%2F/connections?columns=name,user,client_properties",
            None,
        );
        assert_eq!(reply.status, 200, "{}", reply.text);
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        let rows = reply.json().as_array().cloned().unwrap_or_default();
        rows.iter()
            .map(|row| {
                let props = &row["client_properties"];
                let client = match props["connection_name"].as_str() {
                    Some(name) => name.to_owned(),
                    None => text(&props["client_id"]),
                };
                (text(&row["name"]), text(&row["user"]), client)
            })
            .collect()
    }

    /// The client names of the vhost's connections, sorted, once they equal `expected`
    /// (polled, at most 15 s); what they were otherwise.
    pub fn wait_for_clients(&self, expected: &[&str]) -> Vec<String> {
        let mut clients = Vec::new();
        crate::eventually(Duration::from_secs(15), || {
            clients = self.connections().into_iter().map(|(_, _, c)| c).collect();
            clients.sort();
            clients == expected
        });
        clients
    }

    /// Stops the node: `rabbitmqctl stop` (bounded), then its process group and its epmd
    /// are killed whatever happened. Safe to call twice.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let mut ctl = Command::new(Path::new(BIN).join("rabbitmqctl"));
        self.environment(&mut ctl);
        ctl.args(["stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut ctl) = ctl.spawn() {
            wait_bounded(&mut ctl, Duration::from_secs(30));
        }
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        wait_bounded(&mut child, Duration::from_secs(10));
        let mut epmd = Command::new("epmd");
        epmd.args(["-port", &self.epmd_port.to_string(), "-kill"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut epmd) = epmd.spawn() {
            wait_bounded(&mut epmd, Duration::from_secs(10));
        }
    }
}

/// Waits for `child` at most `limit`, then kills it.
fn wait_bounded(child: &mut Child, limit: Duration) {
    if crate::eventually(limit, || matches!(child.try_wait(), Ok(Some(_)))) {
        return;
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}
