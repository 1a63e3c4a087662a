//! The C adapter fixture (`tests/fixtures/plugins/c-cedalo/adapter.c`), built with the
//! system C compiler against the checked-in `sever_plugin.h`, once per test process, into
//! `<target>/debug/c-plugins/`. Its variants are the broken plugins the host must refuse
//! or contain.

use crate::harness::{bin_dir, workspace_dir};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// One build of the fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The working adapter, plugin `c-cedalo`.
    Cedalo,
    /// `c-null-entry`: the descriptor's `flow_resume` entry is null.
    NullEntry,
    /// `c-short`: the descriptor claims 64 bytes.
    ShortDescriptor,
    /// `c-bad-status`: `flow_start` returns the status 7.
    BadStatus,
    /// `c-bad-kind`: every failure carries problem kind 99.
    BadKind,
    /// `c-cedalo-30`: the working adapter as a plugin of ABI 3.0 (a shorter descriptor).
    Abi30,
}

impl Variant {
    /// The plugin name the variant reports.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Cedalo => "c-cedalo",
            Variant::NullEntry => "c-null-entry",
            Variant::ShortDescriptor => "c-short",
            Variant::BadStatus => "c-bad-status",
            Variant::BadKind => "c-bad-kind",
            Variant::Abi30 => "c-cedalo-30",
        }
    }

    fn define(self) -> Option<&'static str> {
        match self {
            Variant::Cedalo => None,
            Variant::NullEntry => Some("SEVER_FIXTURE_NULL_ENTRY"),
            Variant::ShortDescriptor => Some("SEVER_FIXTURE_SHORT_DESCRIPTOR"),
            Variant::BadStatus => Some("SEVER_FIXTURE_BAD_STATUS"),
            Variant::BadKind => Some("SEVER_FIXTURE_BAD_KIND"),
            Variant::Abi30 => Some("SEVER_FIXTURE_ABI_3_0"),
        }
    }
}

/// The variant's library (`lib<name with _>.so`), compiled on first use; panics with the
/// compiler's output when it does not compile (the layout `_Static_assert`s included).
pub fn library(variant: Variant) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<Variant, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    let mut built = built.lock();
    if let Some(path) = built.get(&variant) {
        return path.clone();
    }
    let dir = bin_dir().join("c-plugins");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("{}: {e}", dir.display());
    }
    let path = dir.join(format!("lib{}.so", variant.name().replace('-', "_")));
    let root = workspace_dir();
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let mut command = Command::new(&compiler);
    command
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-O1",
        ])
        .args(["-shared", "-fPIC", "-o"])
        .arg(&path)
        .arg("-I")
        .arg(root.join("plugins/abi/include"))
        .arg(format!("-DPLUGIN_NAME=\"{}\"", variant.name()));
    if let Some(define) = variant.define() {
        command.arg(format!("-D{define}"));
    }
    command.arg(root.join("tests/fixtures/plugins/c-cedalo/adapter.c"));
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => {
            panic!("cannot run the C compiler `{compiler}`: {e} (scripts/setup installs one)")
        }
    };
    assert!(
        output.status.success(),
        "the C adapter does not compile ({}):\n{}",
        variant.name(),
        String::from_utf8_lossy(&output.stderr)
    );
    built.insert(variant, path.clone());
    path
}
