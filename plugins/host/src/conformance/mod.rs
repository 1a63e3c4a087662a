//! # Conformance cases: an adapter's examples, run against its built library
//!
//! An adapter declares example cases in `conformance.yaml` beside its `Cargo.toml` —
//! canonical request + settings → the vendor request it must plan; vendor answer → the
//! canonical outcome — and one test runs them all against the adapter's built `.so`
//! through the real ABI, with the checks Sever's own loader makes (magic, ABI version,
//! descriptor size, unwinding panics, names, metadata):
//!
//! ```toml
//! # Cargo.toml
//! [dev-dependencies]
//! sever-plugin-host = { workspace = true }
//! ```
//!
//! ```ignore
//! // tests/conformance.rs
//! #[test]
//! fn conformance_cases_pass_against_the_built_library() {
//!     sever_plugin_host::conformance::run(env!("CARGO_MANIFEST_DIR"), env!("CARGO_PKG_NAME"));
//! }
//! ```
//!
//! `cargo test -p <package>` builds the library and runs the cases; a failure names the
//! case and lists each difference (`step 1 request header authorization: expected "Bearer
//! tok", got "Bearer tok2"`), followed by what the plugin actually planned or answered.
//!
//! ## The file
//!
//! ```yaml
//! plugin: cedalo                    # the name the library must report
//! # library: sever_cedalo           # file stem, when not the package name with - → _
//! env: { unix_ms: 1700000000000, random: 7 }   # clock and random bytes of every call
//! backend:                          # the backend every case runs on
//!   name: mqtt-eu
//!   url: http://mc.local:8088/base
//!   settings: { project_id: p1, broker_id: b1, token: tok }
//! cases:
//!   - name: disconnect_is_a_put_with_the_client_in_the_path
//!     request: { action: disconnect, target: { client_id: "a/b" } }
//!     steps:
//!       - expect:
//!           method: PUT
//!           url: http://mc.local:8088/base/api/projects/p1/brokers/b1/clients/a%2Fb/disconnect
//!           headers: { authorization: Bearer tok }
//!           json: { clientId: a/b }
//!           idempotent: true
//!         respond: { status: 200, json: {} }
//!     outcome: done
//!     vendor: { status: 200 }
//! ```
//!
//! **Top level.** `plugin`, `backend` (`name`, `url`, `settings`) and `cases` are required;
//! `env` defaults to `{unix_ms: 1700000000000, random: 7}` (`random` is one byte repeated
//! 32 times, or 64 hex digits); `library` is the file stem of the `.so`.
//!
//! **A case** has a unique `name` and may patch the backend (`backend: {url: …, settings:
//! {token: null, region: x}}` — `null` removes a key) and the env (`env: {unix_ms: …}`).
//! Then either:
//! - `settings_errors: [token, broker_id]`: creating the instance must fail with errors
//!   for exactly these keys (any order), and no message may contain the value of a secret
//!   setting (of 4 characters or more); or
//! - a flow: `request` (`action`, `target`, optional `reason` and `request_id`), `steps`,
//!   and how it ends: `outcome` (`done`, `accepted`, or a problem code such as
//!   `target_not_found`), with optional `vendor` (keys that must be in the answer's
//!   `vendor` object, other keys ignored) and, for problems, `detail`, `retryable`,
//!   `retry_after`. `then:` lists further flows (same keys, plus `env`) run afterwards on
//!   the same instance — a cached token, for example. A request Sever itself would refuse
//!   (an undeclared action, a target outside the declared field sets) is reported as a
//!   mistake in the case.
//!
//! **A step** is one vendor call: `expect` (what the plugin must plan) and either
//! `respond` (`status`, `headers`, and `json` or `body`) or `retry: n` (the host asks the
//! plugin to plan the call again, attempt `n`); optional `env` for the `resume` after it.
//! `expect` compares only what it lists: `kind` (the exchange's kind, `http` by default);
//! `method`; `url`; `headers` (by name, ignoring
//! case); `body` (raw) or `json` (parsed, compared whole, differences listed by JSON
//! pointer) or `form` (an `application/x-www-form-urlencoded` body, by parameter);
//! `idempotent`; `share`; `purpose`; `timeout_ms`; `redact` (strings that must be listed).
//!
//! **Matching strings** (`url`, header values, `body`, form parameters, `share`,
//! `purpose`, `detail`, `retry_after`): a plain value must be equal; a rule matches
//! loosely — `{glob: "Bearer *"}` (`*` is any run of characters), `{contains: "…"}`,
//! `{present: true}`, `{absent: true}`. Volatile parts (signatures, nonces, timestamps)
//! need no rule when they derive from the env: the case fixes the clock and the random
//! bytes, so the plugin's output is exact and can be written down.
//!
//! ## Where the library is found
//!
//! `$SEVER_CONFORMANCE_LIBRARY` when set (any path: a release build, an installed `.so`);
//! otherwise `lib<stem>.so` next to the running test binary (`<target>/<profile>/deps`,
//! then `<target>/<profile>`), where `cargo test` has just built it. A missing library, or
//! one older than the adapter's sources (or, in Sever's workspace, the SDK's and the ABI's), is an error that says to build it.

mod file;
mod library;
mod matcher;
mod runner;
mod step;

use crate::LoadError;
use file::CaseFile;
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The environment variable naming the library to test instead of the one next to the
/// test binary.
pub const LIBRARY_ENV: &str = "SEVER_CONFORMANCE_LIBRARY";

/// Why the cases could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The case file cannot be read or is not a valid case file.
    #[error("{path}: {reason}")]
    CaseFile { path: PathBuf, reason: String },
    /// The library was not built.
    #[error(
        "no plugin library {file} (looked in {searched}); build it first: cargo build -p {package}"
    )]
    Missing {
        file: String,
        searched: String,
        package: String,
    },
    /// The library is older than the code it is built from.
    #[error("{path} is older than {source_file}: rebuild it: cargo build -p {package} (cargo test -p {package} rebuilds it too)")]
    Stale {
        path: PathBuf,
        source_file: PathBuf,
        package: String,
    },
    /// The library cannot be used as a plugin (the plugin host's checks: not loadable,
    /// not a Sever plugin, another ABI version, `panic = "abort"`, broken metadata).
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The library is another plugin than the case file describes.
    #[error("{path} is the plugin `{found}`, but the case file describes `{expected}`")]
    WrongPlugin {
        path: PathBuf,
        found: String,
        expected: String,
    },
}

/// A parsed case file.
#[derive(Debug)]
pub struct Suite {
    origin: PathBuf,
    file: CaseFile,
}

impl Suite {
    /// Reads a case file.
    pub fn read(path: &Path) -> Result<Suite, ConformanceError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConformanceError::CaseFile {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Suite::parse(path, &text)
    }

    /// Parses case-file text; `origin` names it in messages.
    pub fn parse(origin: &Path, yaml: &str) -> Result<Suite, ConformanceError> {
        let bad = |reason: String| ConformanceError::CaseFile {
            path: origin.to_owned(),
            reason,
        };
        let file: CaseFile = serde_yaml::from_str(yaml).map_err(|e| bad(e.to_string()))?;
        if file.cases.is_empty() {
            return Err(bad("declares no cases".into()));
        }
        let mut names = BTreeSet::new();
        if let Some(case) = file.cases.iter().find(|c| !names.insert(c.name.as_str())) {
            return Err(bad(format!("two cases are named `{}`", case.name)));
        }
        file.env.to_env().map_err(bad)?;
        Ok(Suite {
            origin: origin.to_owned(),
            file,
        })
    }

    /// The plugin name the file describes.
    pub fn plugin(&self) -> &str {
        &self.file.plugin
    }

    /// Runs every case against a library.
    pub fn run(&self, library_path: &Path) -> Result<Report, ConformanceError> {
        let plugin = library::open(library_path, &self.file.plugin)?;
        let cases = self
            .file
            .cases
            .iter()
            .map(|case| CaseResult {
                name: case.name.clone(),
                differences: runner::run_case(&plugin, &self.file, case),
            })
            .collect();
        Ok(Report {
            origin: self.origin.clone(),
            library: plugin.path().to_owned(),
            plugin: format!("{} {}", plugin.name(), plugin.info().version),
            cases,
        })
    }
}

/// The result of one case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    /// Empty when the case passed.
    pub differences: Vec<String>,
}

/// The results of a case file.
#[derive(Debug, Clone)]
pub struct Report {
    pub origin: PathBuf,
    pub library: PathBuf,
    /// Name and version, as the library reports them.
    pub plugin: String,
    pub cases: Vec<CaseResult>,
}

impl Report {
    /// The cases that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CaseResult> {
        self.cases.iter().filter(|c| !c.differences.is_empty())
    }

    /// True when every case passed.
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        writeln!(
            f,
            "conformance of {} ({}) against {}: {} cases, {failed} failed",
            self.plugin,
            self.origin.display(),
            self.library.display(),
            self.cases.len()
        )?;
        for case in &self.cases {
            if case.differences.is_empty() {
                writeln!(f, "  ok    {}", case.name)?;
            } else {
                writeln!(f, "  FAIL  {}", case.name)?;
                for difference in &case.differences {
                    writeln!(f, "          - {difference}")?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `<manifest_dir>/conformance.yaml` against the package's built library and panics
/// with the report when a case fails (or the cases cannot run). Call it from a test with
/// `env!("CARGO_MANIFEST_DIR")` and `env!("CARGO_PKG_NAME")`.
pub fn run(manifest_dir: &str, package: &str) {
    match check(manifest_dir, package) {
        Ok(report) if report.passed() => print!("{report}"),
        Ok(report) => panic!("\n{report}"),
        Err(e) => panic!("conformance of {package}: {e}"),
    }
}

/// Like [`run`], returning the report instead of panicking.
pub fn check(manifest_dir: &str, package: &str) -> Result<Report, ConformanceError> {
    let manifest_dir = Path::new(manifest_dir);
    let suite = Suite::read(&manifest_dir.join("conformance.yaml"))?;
    let stem = suite
        .file
        .library
        .clone()
        .unwrap_or_else(|| package.replace('-', "_"));
    let library = library_path(&stem, package, manifest_dir)?;
    suite.run(&library)
}

/// Finds the package's library: `$SEVER_CONFORMANCE_LIBRARY`, else next to the test
/// binary; refuses a missing or stale one.
pub fn library_path(
    stem: &str,
    package: &str,
    manifest_dir: &Path,
) -> Result<PathBuf, ConformanceError> {
    if let Some(path) = std::env::var_os(LIBRARY_ENV) {
        // Named explicitly: tested as it is, built by whatever built it.
        return Ok(PathBuf::from(path));
    }
    let file = format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        if dir.file_name().is_some_and(|n| n == "deps") {
            dirs.extend(dir.parent().map(Path::to_path_buf));
            dirs.insert(0, dir);
        } else {
            dirs.push(dir);
        }
    }
    let Some(path) = dirs.iter().map(|d| d.join(&file)).find(|p| p.is_file()) else {
        let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(ConformanceError::Missing {
            file,
            searched: searched.join(", "),
            package: package.to_owned(),
        });
    };
    let built = modified(&path).unwrap_or(SystemTime::UNIX_EPOCH);
    // What the library is built from: the adapter's files that rustc read for it (its
    // dep-info, so that test-only modules, which never rebuild the library, do not count),
    // or else its whole `src`; and (inside Sever's own workspace) the SDK and ABI crates
    // beside this one. Paths that do not exist are skipped.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources = dep_info_sources(&path, stem, manifest_dir)
        .unwrap_or_else(|| vec![manifest_dir.join("src")]);
    sources.extend([
        manifest_dir.join("Cargo.toml"),
        here.join("../sdk/src"),
        here.join("../abi/src"),
    ]);
    if let Some(newer) = sources.iter().find_map(|s| newer_file(s, built)) {
        return Err(ConformanceError::Stale {
            path,
            source_file: newer,
            package: package.to_owned(),
        });
    }
    Ok(path)
}

/// The source files rustc read to build `library`, from the dep-info file it wrote beside
/// it (`<stem>.d`, a make rule per output: `<output>: <source> <source> …`). Relative
/// paths are relative to the folder rustc ran in: the workspace root, one of the adapter's
/// folder's ancestors.
fn dep_info_sources(library: &Path, stem: &str, manifest_dir: &Path) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(library.with_file_name(format!("{stem}.d"))).ok()?;
    let target = format!("{}:", library.display());
    let line = text.lines().find(|l| l.starts_with(&target))?;
    let files: Vec<&str> = line[target.len()..].split_whitespace().collect();
    let first = Path::new(files.first()?);
    let root = if first.is_absolute() {
        PathBuf::new()
    } else {
        manifest_dir
            .ancestors()
            .find(|dir| dir.join(first).is_file())?
            .to_path_buf()
    };
    Some(files.iter().map(|f| root.join(f)).collect())
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A file at or under `path` modified after `than`, if any.
fn newer_file(path: &Path, than: SystemTime) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return (meta.modified().ok()? > than).then(|| path.to_owned());
    }
    let entries = std::fs::read_dir(path).ok()?;
    entries
        .filter_map(Result::ok)
        .find_map(|entry| newer_file(&entry.path(), than))
}
