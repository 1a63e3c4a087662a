//! The README's "Running it" and its CLI session, run as written: the simulator started
//! with the README's `vendor-sim` line, Sever with `config/sever.yaml`, the tokens of its
//! `export` line, and every `$ ` command of the session in one bash, each command's output
//! compared with the README's (`…` matches anything within a line).
//!
//! Only what a test must not do is changed: the simulator and Sever listen on free ports
//! instead of 18001 and 8080 (the config and `$SEVER_URL` are pointed at them, and those
//! ports are written back as 18001 and 8080 before comparing), and the audit log goes to a
//! temp folder.
//!
//! Needs `cargo build --workspace` first (`sever`, `libsever_cedalo.so`, `vendor-sim`).
#![allow(clippy::unwrap_used)]

use sever_tests::eventually;
use sever_tests::harness::{bin_dir, free_port, workspace_dir, Sever};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MARK: &str = "<!-- tested by tests/e2e/readme.rs";
const END: &str = "@@sever-readme-end@@";

fn readme() -> String {
    std::fs::read_to_string(workspace_dir().join("README.md")).unwrap()
}

/// The lines of the first fenced block after `after` (the fence lines left out).
fn block_after<'a>(text: &'a str, after: &str) -> Vec<&'a str> {
    let start = text
        .find(after)
        .unwrap_or_else(|| panic!("README has no {after:?}"));
    let mut lines = text[start..].lines().skip_while(|l| !l.starts_with("```"));
    lines.next();
    lines.take_while(|l| !l.starts_with("```")).collect()
}

/// `NAME=value` pairs of the setup block's `export` line that sets the tokens.
fn exported(setup: &[&str]) -> Vec<(String, String)> {
    let line = setup
        .iter()
        .find(|l| l.starts_with("export ") && l.contains("ONCALL_TOKEN="))
        .expect("the setup block exports ONCALL_TOKEN");
    line.trim_start_matches("export ")
        .split('#')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The setup block's `vendor-sim …` arguments (without the trailing `&` and comment).
fn vendor_sim_args(setup: &[&str]) -> Vec<String> {
    let line = setup
        .iter()
        .find(|l| l.starts_with("vendor-sim "))
        .expect("the setup block starts vendor-sim");
    let command = line.split('#').next().unwrap().trim().trim_end_matches('&');
    let args: Vec<String> = command
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert!(
        !args.iter().any(|a| a == "--listen"),
        "the test chooses the port itself"
    );
    args
}

/// A child process killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(port: u16, child: &mut Child) {
    let listening = eventually(Duration::from_secs(15), || {
        assert!(child.try_wait().unwrap().is_none(), "vendor-sim exited");
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(listening, "vendor-sim did not listen on {port}");
}

/// One `$ command` of the session and the output the README shows for it.
struct Step {
    command: String,
    expected: Vec<String>,
}

fn steps(session: &[&str]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in session {
        match line.strip_prefix("$ ") {
            Some(command) => steps.push(Step {
                command: command.to_owned(),
                expected: Vec::new(),
            }),
            None => steps
                .last_mut()
                .expect("the session starts with a command")
                .expected
                .push((*line).to_owned()),
        }
    }
    steps
}

/// Whether `actual` is `expected`, where each `…` in `expected` stands for any text.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[test]
fn the_readme_cli_session_runs_as_written() {
    let text = readme();
    let setup = block_after(&text, "## Running it");
    let session = block_after(&text, MARK);
    let env = exported(&setup);
    let token = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let cedalo_token = token("CEDALO_TOKEN").expect("CEDALO_TOKEN exported");
    let oncall_token = token("ONCALL_TOKEN").expect("ONCALL_TOKEN exported");

    let sim_port = free_port();
    let mut sim = Command::new(bin_dir().join("vendor-sim"))
        .args(vendor_sim_args(&setup))
        .args(["--listen", &format!("127.0.0.1:{sim_port}")])
        .env("CEDALO_TOKEN", &cedalo_token)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vendor-sim (cargo build --workspace builds it)");
    wait_listening(sim_port, &mut sim);
    let _sim = Guard(sim);

    let config = std::fs::read_to_string(workspace_dir().join("config/sever.yaml")).unwrap();
    for original in [
        "\"127.0.0.1:8080\"",
        "\"http://127.0.0.1:18001\"",
        "../target/debug/",
    ] {
        assert!(
            config.contains(original),
            "config/sever.yaml changed: no {original}"
        );
    }
    let config = config
        .replace("\"127.0.0.1:8080\"", "\"127.0.0.1:{{PORT}}\"")
        .replace(
            "\"http://127.0.0.1:18001\"",
            &format!("\"http://127.0.0.1:{sim_port}\""),
        )
        .replace("../target/debug/", "{{PLUGIN_DIR}}/");
    let env_pairs = [
        ("CEDALO_TOKEN", cedalo_token.as_str()),
        ("ONCALL_TOKEN", oncall_token.as_str()),
    ];
    let sever = Sever::start(&config, &env_pairs);

    let steps = steps(&session);
    assert!(steps.len() >= 5, "the session is too short to say much");
    let mut script = String::new();
    for step in &steps {
        script.push_str(&step.command);
        script.push_str(&format!("\n__s=$?; printf '\\n{END}\\n'; (exit $__s)\n"));
    }
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let work = tempfile::tempdir().unwrap();
    let mut shell = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .current_dir(work.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", work.path())
        .env("SEVER_URL", sever.base_url())
        .envs(env_pairs)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let finished = eventually(Duration::from_secs(60), || {
        shell.try_wait().unwrap().is_some()
    });
    assert!(finished, "the session did not finish within 60 s");
    let output = shell.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout)
        .replace(&format!("127.0.0.1:{sim_port}"), "127.0.0.1:18001")
        .replace(&format!("127.0.0.1:{}", sever.port()), "127.0.0.1:8080");

    let chunks: Vec<&str> = stdout.split(&format!("\n{END}\n")).collect();
    for (i, step) in steps.iter().enumerate() {
        let actual: Vec<&str> = chunks.get(i).copied().unwrap_or_default().lines().collect();
        let actual: Vec<&str> = trim_blank_end(&actual);
        let expected: Vec<&str> = step.expected.iter().map(String::as_str).collect();
        let expected = trim_blank_end(&expected);
        let same = actual.len() == expected.len()
            && expected
                .iter()
                .zip(&actual)
                .all(|(e, a)| line_matches(e, a));
        assert!(
            same,
            "`$ {}` printed:\n{}\n--- the README shows:\n{}",
            step.command,
            actual.join("\n"),
            expected.join("\n")
        );
    }
}

fn trim_blank_end<'a>(lines: &[&'a str]) -> Vec<&'a str> {
    let mut lines = lines.to_vec();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    while lines.first().is_some_and(|l| l.is_empty()) {
        lines.remove(0);
    }
    lines
}

#[test]
fn an_ellipsis_matches_any_text_within_a_line() {
    assert!(line_matches("request …", "request 0f0c-1"));
    assert!(line_matches("a … b … c", "a 1 b 2 c"));
    assert!(!line_matches("a … c", "a 1 b"));
    assert!(line_matches("exact", "exact"));
    assert!(!line_matches("exact", "exactly"));
}
