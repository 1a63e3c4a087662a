//! The audit log through the real `sever` and the Cedalo simulator when lines cannot be
//! written (docs/audit.md): a full file system (a small tmpfs the test mounts: CI runs as
//! root, so file modes prove nothing), a file-size limit (`RLIMIT_FSIZE`, set on the
//! running server with `prlimit`) that cuts writes short, rotation with SIGUSR1, and
//! characters that could spoof a viewer. What is asserted: no vendor call without its
//! intent line, every line whole JSON, `/readyz` 503 then 200, the failure metric, the
//! `Sever-Audit: incomplete` header.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use serde_json::Value;
use sever_tests::eventually;
use sever_tests::harness::{http, phase_lines, Sever, Signal};
use sever_tests::sim::CedaloSim;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long Sever may take to notice that the audit can be written again.
const RECOVERY: Duration = Duration::from_secs(10);

/// Every line of the file parsed as JSON; panics on a torn (unparseable) line.
pub(crate) fn parse_lines(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the file ends in a partial line: {text:?}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("torn line ({e}): {l:?}")))
        .collect()
}

/// Asserts that every disconnect the simulator received has an intent line (written
/// before it) naming that client.
pub(crate) fn assert_every_call_has_an_intent(sim: &CedaloSim, lines: &[Value]) {
    let intents: std::collections::HashSet<String> = phase_lines(lines.to_vec(), "intent")
        .iter()
        .filter_map(|i| i["target"]["client_id"].as_str().map(str::to_owned))
        .collect();
    for call in sim.calls() {
        let client = call.segments.get(6).cloned().unwrap_or_default();
        assert!(
            intents.contains(&client),
            "the vendor got a disconnect of {client} without an intent line; lines: {lines:#?}"
        );
    }
}

/// The standard config with the audit log at `path`.
fn config_audit_at(sim: &CedaloSim, path: &Path) -> String {
    let config = config(&sim.url());
    let standard = r#"audit: { path: "audit.jsonl" }"#;
    assert!(config.contains(standard), "the standard config changed");
    config.replace(
        standard,
        &format!("audit: {{ path: \"{}\" }}", path.display()),
    )
}

fn readyz(sever: &Sever) -> u16 {
    http::get(&sever.url("/readyz"), None).status
}

fn failures(sever: &Sever, phase: &str) -> f64 {
    metric_now(
        sever,
        "sever_audit_write_failures_total",
        &[("phase", phase)],
    )
    .unwrap_or(0.0)
}

/// A tmpfs of `size` mounted at a new temp folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status();
        match status {
            Ok(s) if s.success() => Some(Tmpfs { dir }),
            other => {
                eprintln!("SKIPPED: cannot mount a tmpfs here (needs root): {other:?}");
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file until the file system is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = [b'x'; 4096];
        while file.write_all(&chunk).is_ok() {}
        // The last page may take some bytes more.
        while file.write_all(b"x").is_ok() {}
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn on_a_full_file_system_requests_are_refused_nothing_is_sent_and_service_resumes_once_space_is_freed(
) {
    let Some(fs) = Tmpfs::mount("64k") else {
        return;
    };
    let audit = fs.path("audit.jsonl");
    let sim = sim(&["c-1", "c-2"]);
    let sever = Sever::start(&config_audit_at(&sim, &audit), &env());
    // The file exists, empty: it holds no page of the file system, so once the rest is
    // full, not a byte of a line fits.
    let filler = fs.fill();

    let refused = disconnect(&sever, "c-1");

    refused.expect_problem(503, "audit_unavailable");
    assert_nothing_sent(&sim);
    assert!(failures(&sever, "intent") >= 1.0);
    assert_eq!(
        readyz(&sever),
        503,
        "/readyz while the audit cannot be written"
    );
    assert!(parse_lines(&audit).is_empty());

    std::fs::remove_file(&filler).unwrap();
    assert!(
        eventually(RECOVERY, || readyz(&sever) == 200),
        "/readyz did not recover once space was freed; stderr:\n{}",
        sever.stderr()
    );
    disconnect(&sever, "c-2").expect_success();
    let lines = parse_lines(&audit);
    assert_every_call_has_an_intent(&sim, &lines);
    let phases: Vec<&str> = lines.iter().map(|l| l["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["audit_resumed", "intent", "outcome"], "{lines:#?}");
    assert_eq!(
        lines[0]["lines_lost"], 2,
        "c-1's intent and its refusal's outcome"
    );
    assert_eq!(lines[2]["outcome"], "done");
    assert_eq!(lines[2]["target"]["client_id"], "c-2");
}

/// Sets the soft `RLIMIT_FSIZE` of process `pid` to `bytes` (the hard one stays, so that
/// it can be raised again).
fn limit_file_size(pid: u32, bytes: &str) -> bool {
    Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={bytes}:")])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn writes_cut_short_by_rlimit_fsize_leave_no_torn_line_and_an_unwritten_outcome_is_signalled() {
    let sim = sim(&["c-1", "c-2", "c-3", "c-4"]);
    let sever = Sever::start(&config(&sim.url()), &env());
    let audit = sever.dir().join("audit.jsonl");
    disconnect(&sever, "c-1").expect_success();
    let size = std::fs::metadata(&audit).unwrap().len();
    let intent_len = std::fs::read_to_string(&audit)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .len() as u64;
    // Room for c-2's intent line (same length as c-1's) but not for its outcome line.
    if !limit_file_size(sever.pid(), &(size + intent_len + 1 + 20).to_string()) {
        eprintln!("SKIPPED: prlimit cannot set RLIMIT_FSIZE on the server here");
        return;
    }

    let cut = disconnect(&sever, "c-2");

    let body = cut.expect_success();
    assert_eq!(
        body["outcome"], "done",
        "the caller still gets the truth: {body:#}"
    );
    assert_eq!(cut.header("sever-audit"), Some("incomplete"));
    assert_eq!(failures(&sever, "outcome"), 1.0);
    assert_eq!(readyz(&sever), 503);
    // While failing, a request is refused before its intent line is even tried (the
    // check finds that no line can be written): nothing sent.
    disconnect(&sever, "c-3").expect_problem(503, "audit_unavailable");
    assert_eq!(sim.calls().len(), 2, "c-1 and c-2 only: {:#?}", sim.calls());
    assert_eq!(failures(&sever, "intent"), 0.0);
    assert_eq!(
        failures(&sever, "outcome"),
        2.0,
        "c-3's refusal is not written either"
    );
    let lines = parse_lines(&audit);
    assert_every_call_has_an_intent(&sim, &lines);

    assert!(limit_file_size(sever.pid(), "unlimited"));
    assert!(
        eventually(RECOVERY, || readyz(&sever) == 200),
        "/readyz did not recover; stderr:\n{}",
        sever.stderr()
    );
    let done = disconnect(&sever, "c-4");
    done.expect_success();
    assert_eq!(done.header("sever-audit"), None);
    let lines = parse_lines(&audit);
    assert_every_call_has_an_intent(&sim, &lines);
    let resumed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["phase"] == "audit_resumed")
        .collect();
    assert_eq!(resumed.len(), 1, "{lines:#?}");
    assert_eq!(
        resumed[0]["lines_lost"], 2,
        "c-2's outcome and c-3's refusal"
    );
    // (Sever's error lines about it are lost: the limit applies to its stderr file too.)
}

#[test]
fn sigusr1_after_the_file_was_renamed_writes_to_a_fresh_file() {
    let sim = sim(&["c-1", "c-2"]);
    let sever = Sever::start(&config(&sim.url()), &env());
    let audit = sever.dir().join("audit.jsonl");
    let rotated = sever.dir().join("audit.jsonl.1");
    disconnect(&sever, "c-1").expect_success();
    std::fs::rename(&audit, &rotated).unwrap();

    sever.signal(Signal::SIGUSR1);

    assert!(
        eventually(RECOVERY, || audit.exists()),
        "no fresh file after SIGUSR1; stderr:\n{}",
        sever.stderr()
    );
    disconnect(&sever, "c-2").expect_success();
    let old = parse_lines(&rotated);
    let new = parse_lines(&audit);
    let clients = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .map(|l| l["target"]["client_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        clients(&old),
        ["c-1", "c-1"],
        "intent and outcome: {old:#?}"
    );
    assert_eq!(
        clients(&new),
        ["c-2", "c-2"],
        "intent and outcome: {new:#?}"
    );
    assert_eq!(
        metric_now(
            &sever,
            "sever_config_reloads_total",
            &[("result", "success")]
        ),
        Some(0.0),
        "SIGUSR1 reopens the file and reloads nothing"
    );
}

#[test]
fn bidi_controls_zero_width_characters_and_separators_are_escaped_in_the_file() {
    let target = "evil\u{202E}gnp.exe\u{200B}\u{2028}x";
    let sim = sim(&[target]);
    let sever = Sever::start(&config(&sim.url()), &env());

    disconnect(&sever, target).expect_success();

    let text = sever.audit_text();
    for raw in ['\u{202E}', '\u{200B}', '\u{2028}'] {
        assert!(!text.contains(raw), "{raw:?} written raw: {text}");
    }
    assert!(text.contains(r"evil\u202egnp.exe\u200b\u2028x"), "{text}");
    let lines = sever.audit_all_lines();
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(
        lines.iter().all(|l| l["target"]["client_id"] == target),
        "a JSON reader gets the exact identifier back: {lines:#?}"
    );
    assert_one_disconnect_call(&sim, target);
}
