//! The deployment files, checked without a cluster, a container engine or systemd as
//! init (none of them exists where these tests run): the systemd unit with
//! `systemd-analyze`, the Dockerfile with hadolint, the Kubernetes manifests against the
//! Kubernetes schemas (`kubernetes-validate --strict`, offline: the schemas ship in the
//! package), the ServiceMonitor and the cross-references between the files by reading
//! them, every config they carry with `sever check`, and the logrotate file by rotating
//! a running Sever's audit log with it.
//!
//! The tools come from `scripts/setup`: `systemd-analyze` and `logrotate` from Debian,
//! hadolint and kubernetes-validate pinned in the Python venv under the target dir.
#![allow(clippy::unwrap_used)]

mod kubernetes;

use crate::common::*;
use serde_yaml::Value;
use sever_tests::eventually;
use sever_tests::harness::{self, run_cli, sever_bin, write_config};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    harness::workspace_dir().join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A tool from the Python venv `scripts/setup` fills.
fn venv_tool(name: &str) -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => harness::workspace_dir().join(dir),
        None => harness::workspace_dir().join("target"),
    };
    let tool = target.join("openapi-tools/bin").join(name);
    assert!(tool.is_file(), "no {}: run scripts/setup", tool.display());
    tool
}

/// Runs a command to its end (these tools finish in seconds; each has its own limit).
fn run(command: &mut Command) -> Output {
    let program = command.get_program().to_owned();
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program:?} (scripts/setup installs it): {e}"));
    let pid = child.id();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    if !eventually(std::time::Duration::from_secs(60), || waiter.is_finished()) {
        let _ = Command::new("kill").arg(pid.to_string()).status();
        panic!("{program:?} did not finish within 60 s");
    }
    waiter.join().unwrap().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The unit with `ExecStart` pointing at the binary just built (`verify` checks that the
/// command exists), in a temp folder.
fn unit_for_verify(dir: &Path) -> PathBuf {
    let unit = read("deploy/systemd/sever.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/sever "), "{unit}");
    let path = dir.join("sever.service");
    let unit = unit.replace("/usr/local/bin/sever", &sever_bin().display().to_string());
    std::fs::write(&path, unit).unwrap();
    path
}

#[test]
fn the_systemd_unit_passes_verify_with_no_warning() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_verify(dir.path());

    let out = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&unit));

    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).trim(), "", "systemd-analyze verify warned");
}

#[test]
fn the_systemd_unit_is_locked_down_as_documented() {
    let unit = read("deploy/systemd/sever.service");
    let directives: Vec<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    for needed in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "AmbientCapabilities=",
        "StateDirectory=sever",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LimitNOFILE=65536",
    ] {
        assert!(
            directives.contains(&needed),
            "{needed} missing from the unit"
        );
    }
    // The audit log goes where the unit may write.
    let config = read("deploy/systemd/sever.yaml");
    assert!(
        config.contains("path: /var/lib/sever/audit.jsonl"),
        "{config}"
    );
}

#[test]
fn the_systemd_exposure_score_is_the_one_the_docs_report() {
    let out = run(Command::new("systemd-analyze").args([
        "security",
        "--offline=true",
        "--no-pager",
        repo("deploy/systemd/sever.service").to_str().unwrap(),
    ]));
    let report = text(&out);
    let score = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for sever.service: "))
        .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{report}"));
    let value: f64 = score.parse().unwrap();
    assert!(
        value <= 2.0,
        "exposure {score}: the unit lost some of its hardening"
    );
    for doc in ["docs/operations.md", "README.md"] {
        let text = read(doc);
        assert!(
            text.contains(&format!("**{score}**")),
            "{doc} does not report the exposure score {score} (as **{score}**)"
        );
    }
}

#[test]
fn the_dockerfile_passes_hadolint_and_builds_a_non_root_image_with_a_health_check() {
    let out = run(Command::new(venv_tool("hadolint"))
        .args(["--no-color", "--failure-threshold", "info"])
        .arg(repo("Dockerfile")));
    assert!(out.status.success(), "hadolint:\n{}", text(&out));

    let dockerfile = read("Dockerfile");
    let froms = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(froms >= 2, "not a multi-stage build");
    let runtime = dockerfile.rsplit("\nFROM ").next().unwrap();
    assert!(
        runtime.contains("\nUSER 65532:65532"),
        "the runtime stage must not run as root"
    );
    assert!(
        runtime
            .contains(r#"CMD ["/usr/local/bin/sever", "health", "--url", "http://127.0.0.1:8080""#),
        "HEALTHCHECK must use `sever health`"
    );
    for plugin in shipped_plugins() {
        assert!(
            dockerfile.contains(&format!("target/release/{plugin}")),
            "{plugin} not in the image"
        );
    }
}

/// The shipped adapters' library names (every plugin crate under `plugins/` but the
/// template).
fn shipped_plugins() -> Vec<String> {
    let names: Vec<String> = sever_tests::harness::shipped_adapters()
        .iter()
        .map(|n| format!("libsever_{}.so", n.replace('-', "_")))
        .collect();
    assert!(names.len() >= 6, "{names:?}");
    names
}

/// Every `${VAR}` and `token_env: VAR` of a config.
fn variables(config: &str) -> Vec<String> {
    let mut vars: Vec<String> = config
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
        .collect();
    vars.extend(config.lines().filter_map(|line| {
        let value = line.split_once("token_env:")?.1;
        Some(value.split('#').next()?.trim().trim_matches('"').to_owned())
    }));
    vars
}

#[test]
fn every_config_in_deploy_passes_check() {
    let configs = [
        (
            "deploy/container/sever.yaml",
            read("deploy/container/sever.yaml"),
        ),
        (
            "deploy/systemd/sever.yaml",
            read("deploy/systemd/sever.yaml"),
        ),
        (
            "deploy/kubernetes/configmap.yaml",
            kubernetes::configmap_config(),
        ),
    ];
    for (name, text) in configs {
        assert!(text.contains("dir: /usr/local/lib/sever"), "{name}");
        // The installed adapters' folder is this build's; the state dir a temp one.
        let yaml = text
            .replace("/usr/local/lib/sever", "{{PLUGIN_DIR}}")
            .replace("/var/lib/sever/audit.jsonl", "audit.jsonl")
            .replace("${REDIS_URL}", "redis://127.0.0.1:1/0");
        let config = write_config(&yaml);
        // Distinct values: two tokens with one value are a config error.
        let vars: Vec<(String, String)> = variables(&yaml)
            .into_iter()
            .map(|v| (v.clone(), format!("placeholder-{v}")))
            .collect();
        let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (code, stdout, stderr) = run_cli(
            &["check", "--config", config.path().to_str().unwrap()],
            &env,
        );
        assert_eq!(code, 0, "{name}: {stdout}{stderr}");
        let (_, listed, _) = run_cli(
            &["plugins", "--config", config.path().to_str().unwrap()],
            &env,
        );
        for plugin in [
            "cedalo",
            "alibaba-mqtt",
            "privx",
            "nexus",
            "iudx",
            "rabbitmq",
        ] {
            assert!(
                listed.lines().any(|l| l.starts_with(&format!("{plugin} "))),
                "{name}: {listed}"
            );
        }
    }
}

#[test]
fn the_logrotate_file_rotates_a_running_severs_audit_log_without_losing_a_line() {
    let sim = sim(&["sensor-17", "sensor-18"]);
    let sever = start(&sim);
    disconnect(&sever, "sensor-17").expect_success();
    let audit = sever.dir().join("audit.jsonl");
    let conf = read("deploy/logrotate/sever")
        .replace("/var/lib/sever/audit.jsonl", &audit.display().to_string())
        .replace(
            "systemctl kill --kill-whom=main --signal=USR1 sever.service",
            &format!("kill -USR1 {}", sever.pid()),
        );
    assert!(
        conf.contains("kill -USR1"),
        "the postrotate command changed: {conf}"
    );
    let conf_path = sever.dir().join("logrotate.conf");
    std::fs::write(&conf_path, conf).unwrap();

    let out = run(Command::new("logrotate")
        .arg("--force")
        .arg("--state")
        .arg(sever.dir().join("logrotate.state"))
        .arg(&conf_path));
    assert!(out.status.success(), "{}", text(&out));

    let rotated = sever.dir().join("audit.jsonl.1");
    assert!(rotated.is_file(), "{}", text(&out));
    // Sever reopens the path on SIGUSR1; the next line goes to the new file.
    let recreated = eventually(std::time::Duration::from_secs(10), || audit.exists());
    assert!(recreated, "audit.jsonl not recreated by Sever");
    disconnect(&sever, "sensor-18").expect_success();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&audit).unwrap();
    assert!(
        old.contains("\"sensor-17\"") && !old.contains("\"sensor-18\""),
        "{old}"
    );
    assert!(
        new.contains("\"sensor-18\"") && !new.contains("\"sensor-17\""),
        "{new}"
    );
}
