//! A private PostgreSQL cluster for one test: `initdb` into a temp dir (as the `postgres`
//! user: initdb refuses root) with password authentication (scram-sha-256), then the
//! server on 127.0.0.1 and a free port, its socket in the same dir. Never the system-wide
//! service. Stopped (fast shutdown, then SIGKILL) when dropped, so also when a test fails.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::free_port;
use nix::sys::signal::Signal;

/// The superuser's password.
pub const SUPERUSER_PASSWORD: &str = "pg-super-7d1e";
const START_LIMIT: Duration = Duration::from_secs(30);

/// A running private cluster.
#[derive(Debug)]
pub struct PostgresServer {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

/// The newest `/usr/lib/postgresql/<major>/bin` (Debian's layout).
fn bin_dir() -> PathBuf {
    let mut majors: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    majors.sort_unstable();
    let major = majors.last().unwrap_or_else(|| {
        panic!("PostgreSQL is missing: install Debian's postgresql (scripts/setup does)")
    });
    PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"))
}

/// The `postgres` user's uid and gid (from /etc/passwd).
fn postgres_user() -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres"))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))
                .flatten()
        })
        .unwrap_or_else(|| {
            panic!("no postgres user: install Debian's postgresql (scripts/setup does)")
        })
}

impl PostgresServer {
    /// Makes a cluster and starts it; waits (bounded) until it accepts connections.
    pub fn start() -> PostgresServer {
        let (uid, gid) = postgres_user();
        let dir = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the temp dir");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).expect("password file");
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown the password file");
        let data = dir.path().join("data");
        let out = Command::new(bin_dir().join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "scram-sha-256", "--no-sync"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = PostgresServer {
            dir,
            port: free_port(),
            child: None,
        };
        let log = std::fs::File::create(server.log_path()).expect("log file");
        std::os::unix::fs::chown(server.log_path(), Some(uid), Some(gid)).expect("chown the log");
        let child = Command::new(bin_dir().join("postgres"))
            .arg("-D")
            .arg(&data)
            .args(["-p", &server.port.to_string(), "-k"])
            .arg(server.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .uid(uid)
            .gid(gid)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("spawn postgres");
        server.child = Some(child);
        let ready = crate::eventually(START_LIMIT, || {
            std::net::TcpStream::connect(("127.0.0.1", server.port)).is_ok()
                && server.log().contains("ready to accept connections")
        });
        assert!(
            ready,
            "postgres not ready after {START_LIMIT:?}:\n{}",
            server.log()
        );
        server
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The dir holding the cluster and its socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `postgres://127.0.0.1:<port>`, the backend url.
    pub fn url(&self) -> String {
        format!("postgres://127.0.0.1:{}", self.port)
    }

    /// A connection string for `user` (tokio-postgres's key=value form).
    pub fn conninfo(&self, user: &str, password: &str, application_name: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=postgres \
             application_name={application_name} connect_timeout=5",
            self.port
        )
    }

    /// A session of `user` named `application_name`, and its backend pid; its connection
    /// is driven on `rt` until the server or the client ends it.
    pub fn session(
        &self,
        rt: &tokio::runtime::Runtime,
        user: &str,
        password: &str,
        application_name: &str,
    ) -> Result<(tokio_postgres::Client, i32), tokio_postgres::Error> {
        let conninfo = self.conninfo(user, password, application_name);
        rt.block_on(async {
            let (client, connection) =
                tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let pid: i32 = client
                .query_one("SELECT pg_backend_pid()", &[])
                .await?
                .get(0);
            Ok((client, pid))
        })
    }

    /// Stops the server (fast shutdown: SIGINT, at most 10 s, then SIGKILL). Safe twice.
    pub fn stop(&mut self) {
        crate::servers::stop_child(self.child.take(), Signal::SIGINT);
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}
