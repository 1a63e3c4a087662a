//! What the observability tests need besides the harness: a parser for the Prometheus text
//! exposition, the `promtool` and `prometheus` binaries (Debian's `prometheus` package,
//! installed by `scripts/setup`), and a private Prometheus server killed when dropped.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;
use sever_tests::eventually;
use sever_tests::harness::{free_port, http};
use tempfile::TempDir;

/// How long a private Prometheus may take to answer `/-/ready`.
const PROMETHEUS_READY: Duration = Duration::from_secs(30);
/// Attempts at starting Prometheus, each on a new port, when the port was taken meanwhile.
const PROMETHEUS_ATTEMPTS: usize = 3;

/// One sample line of an exposition: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape: its samples and the `# TYPE` of each metric family.
#[derive(Debug, Default)]
pub(crate) struct Scrape {
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses the Prometheus text format (0.0.4); panics, naming the line, on anything else.
    pub(crate) fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, ""));
                scrape.types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let sample = parse_sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}"));
            scrape.samples.push(sample);
        }
        scrape
    }

    /// The samples of metric `name` (exact sample name, e.g. `…_count`).
    pub(crate) fn series(&self, name: &str) -> Vec<&Sample> {
        self.samples.iter().filter(|s| s.name == name).collect()
    }

    /// The value of the sample `name` whose labels are exactly `labels`.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
    }

    /// Every sample name a PromQL expression may use: each family's name, plus `_bucket`,
    /// `_sum` and `_count` for histograms and summaries.
    pub(crate) fn exported_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for (name, kind) in &self.types {
            names.push(name.clone());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.push(format!("{name}{suffix}"));
                }
            }
        }
        names
    }
}

fn parse_sample(line: &str) -> Option<Sample> {
    let (name, rest) = match line.find(['{', ' ']) {
        Some(i) => line.split_at(i),
        None => return None,
    };
    let mut labels = BTreeMap::new();
    let mut rest = rest;
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start_matches(',');
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after_key) = inner.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after_key.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.to_owned(), value);
            inner = &after_key[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// A binary from Debian's `prometheus` package; panics with what to run when it is missing.
pub(crate) fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH: run scripts/setup (it installs Debian's `prometheus` \
             package, which ships promtool and prometheus)"
        )
    })
}

/// Runs `promtool check metrics` on `text`; (success, promtool's output).
pub(crate) fn promtool_check_metrics(text: &str) -> (bool, String) {
    let mut child = Command::new(tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run promtool: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("cannot write to promtool: {e}"));
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("promtool failed: {e}"));
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), output)
}

/// A private Prometheus server on 127.0.0.1 scraping one target every second, with its
/// storage in a temp folder; killed (and its folder removed) when dropped, also when a
/// test fails.
#[derive(Debug)]
pub(crate) struct Prometheus {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`127.0.0.1:PORT`) at `/metrics` every second and
    /// waits (at most 30 s) until it is ready. Retries on a new port when its port was taken.
    pub(crate) fn start(target: &str) -> Prometheus {
        let binary = tool("prometheus");
        let mut last = String::new();
        for _ in 0..PROMETHEUS_ATTEMPTS {
            let dir = tempfile::Builder::new()
                .prefix("sever-prometheus-")
                .tempdir()
                .expect("create temp dir");
            let config = format!(
                "global: {{ scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }}\n\
                 scrape_configs:\n  - job_name: sever\n    metrics_path: /metrics\n    \
                 static_configs: [ {{ targets: [\"{target}\"] }} ]\n"
            );
            std::fs::write(dir.path().join("prometheus.yml"), config).expect("write config");
            let port = free_port();
            let log = File::create(dir.path().join("prometheus.log")).expect("create log");
            let child = Command::new(&binary)
                .arg(format!(
                    "--config.file={}",
                    dir.path().join("prometheus.yml").display()
                ))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.path().join("data").display()
                ))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
            let mut prometheus = Prometheus { child, port, dir };
            match prometheus.wait_ready() {
                Ok(()) => return prometheus,
                Err(log) if log.contains("address already in use") => last = log,
                Err(log) => panic!("prometheus did not get ready; its log:\n{log}"),
            }
        }
        panic!("prometheus found its port taken {PROMETHEUS_ATTEMPTS} times; last log:\n{last}")
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let client = http::Client::with_timeout(Duration::from_secs(2));
        let url = format!("http://127.0.0.1:{}/-/ready", self.port);
        let mut exited = None;
        let ready = eventually(PROMETHEUS_READY, || {
            exited = self.child.try_wait().ok().flatten();
            // Probe only once the log says it listens: the port may be someone else's.
            exited.is_some()
                || (self.log().contains("Start listening for connections")
                    && client
                        .try_send("GET", &url, &[], None)
                        .is_ok_and(|reply| reply.status == 200))
        });
        match exited {
            Some(status) => Err(format!("exited ({status})\n{}", self.log())),
            None if ready => Ok(()),
            None => Err(format!(
                "not ready within {PROMETHEUS_READY:?}\n{}",
                self.log()
            )),
        }
    }

    /// Its log so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read(self.dir.path().join("prometheus.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Runs an instant PromQL query through the HTTP API; the whole JSON answer.
    pub(crate) fn query(&self, promql: &str) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/api/v1/query?query={}",
            self.port,
            utf8_percent_encode(promql, NON_ALPHANUMERIC)
        );
        let reply = http::get(&url, None);
        reply
            .json
            .clone()
            .unwrap_or_else(|| panic!("prometheus answered no JSON for {promql}: {reply:#?}"))
    }

    /// Polls `promql` (at most `limit`) until `done` accepts its answer; the last answer,
    /// and whether `done` accepted it.
    pub(crate) fn wait_for(
        &self,
        promql: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> (Value, bool) {
        let mut answer = Value::Null;
        let accepted = eventually(limit, || {
            answer = self.query(promql);
            done(&answer)
        });
        (answer, accepted)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- prometheus log ---\n{}--- end ---", self.log());
        }
    }
}

/// The values of an instant-vector answer, as (labels, value) pairs.
pub(crate) fn vector(answer: &Value) -> Vec<(Value, f64)> {
    answer["data"]["result"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|r| {
                    let value = r["value"][1]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN);
                    (r["metric"].clone(), value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The workspace file at `relative` (e.g. `config/grafana/sever-dashboard.json`).
pub(crate) fn workspace_file(relative: &str) -> PathBuf {
    sever_tests::harness::workspace_dir().join(Path::new(relative))
}
