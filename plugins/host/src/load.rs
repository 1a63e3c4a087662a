//! Opening plugin libraries and checking their descriptor before anything else is called.

use crate::plugin::{Entries, Plugin};
use libloading::os::unix::{Library, Symbol, RTLD_LOCAL, RTLD_NOW};
use sever_plugin_abi::raw::{
    SeverBuf, SeverDescriptor, SeverDescriptorFn, SEVER_ABI_MAJOR, SEVER_ABI_MINOR,
    SEVER_FLAG_PANIC_ABORTS, SEVER_MAGIC,
};
use sever_plugin_abi::{
    PluginInfo, StaticDescriptor, Status, Transport, DESCRIPTOR_MIN_SIZE, DESCRIPTOR_SYMBOL,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a library could not be used as a plugin. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `dlopen` failed (missing file, wrong architecture, missing dependency).
    #[error("{path}: cannot load: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The library does not export `sever_plugin_descriptor`.
    #[error("{path}: not a Sever plugin (no sever_plugin_descriptor symbol)")]
    NotAPlugin { path: PathBuf },
    /// The descriptor is null or its magic number is wrong.
    #[error("{path}: not a Sever plugin (bad descriptor magic)")]
    BadMagic { path: PathBuf },
    /// Built for another major ABI version.
    #[error(
        "{path} was built for Sever plugin ABI {found}, this sever speaks ABI {expected}.{minor}; \
         rebuild the plugin against sever-plugin-sdk {sdk} (or include/sever_plugin.h of this release)",
        expected = SEVER_ABI_MAJOR,
        minor = SEVER_ABI_MINOR,
        sdk = env!("CARGO_PKG_VERSION")
    )]
    AbiMismatch { path: PathBuf, found: u32 },
    /// A panic in the plugin would end the host.
    #[error("{path}: built with panic = \"abort\"; Sever plugins must unwind so a panic cannot end the server")]
    AbortOnPanic { path: PathBuf },
    /// A descriptor entry is null.
    #[error("{path}: broken plugin: the descriptor's {entry} entry is null")]
    MissingEntry { path: PathBuf, entry: &'static str },
    /// The descriptor or metadata is inconsistent.
    #[error("{path}: broken plugin: {reason}")]
    Broken { path: PathBuf, reason: String },
}

impl LoadError {
    /// True when the library is simply not a Sever plugin (no descriptor, wrong magic).
    pub fn is_not_a_plugin(&self) -> bool {
        matches!(
            self,
            LoadError::NotAPlugin { .. } | LoadError::BadMagic { .. }
        )
    }
}

/// The frozen leading fields of every descriptor of every ABI version.
#[repr(C)]
struct Header {
    magic: u64,
    abi_major: u32,
    size: u32,
}

fn open(path: &Path) -> Result<&'static Library, LoadError> {
    // SAFETY: loading a library runs its initialisers. Plugins are trusted code named by
    // the operator's config; that trust is the documented contract of native plugins.
    let library = unsafe { Library::open(Some(path), RTLD_NOW | RTLD_LOCAL) }.map_err(|e| {
        // libloading 0.9 keeps dlerror's text in the error's source.
        let reason = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        // dlerror starts with the path again: say it once.
        let reason = reason
            .strip_prefix(&format!("{}: ", path.display()))
            .map(str::to_owned)
            .unwrap_or(reason);
        LoadError::Open {
            path: path.to_owned(),
            reason,
        }
    })?;
    // Never unloaded (see the crate docs): leak the handle for the process lifetime.
    Ok(Box::leak(Box::new(library)))
}

/// Loads one plugin library and checks its descriptor and metadata.
///
/// A path without a `/` is opened as a file in the current folder (never searched for in
/// the system's library path, as `dlopen` would).
pub fn load_file(path: &Path) -> Result<Arc<Plugin>, LoadError> {
    let path = if path.components().count() == 1 && path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_owned()
    };
    let library = open(&path)?;
    // SAFETY: the symbol's type is fixed by the ABI for every version.
    let symbol: Symbol<SeverDescriptorFn> = unsafe { library.get(DESCRIPTOR_SYMBOL) }
        .map_err(|_| LoadError::NotAPlugin { path: path.clone() })?;
    // SAFETY: calling the exported entry point; it takes nothing and returns a static.
    let raw = unsafe { symbol() };
    // SAFETY: the library stays loaded for the process lifetime (leaked in `open`), so a
    // descriptor it returns is 'static if it is one at all; `check` reads only its frozen
    // header before knowing its version and size.
    unsafe { check(raw, &path) }
}

/// Registers an adapter linked into this binary (the SDK's `static_descriptor!`) through
/// the same checks and the same ABI functions as a loaded library. `origin` is shown where
/// a file path would be.
pub fn load_static(descriptor: StaticDescriptor, origin: &Path) -> Result<Arc<Plugin>, LoadError> {
    // SAFETY: a 'static reference is valid for the process lifetime, and the descriptor's
    // entries were vouched for when the `StaticDescriptor` was made.
    unsafe { check(descriptor.get(), origin) }
}

/// Checks a descriptor and reads the plugin's metadata.
///
/// # Safety
/// `raw` must be null or point to memory that stays valid for the process lifetime, that
/// starts with the frozen descriptor header and that holds at least `size` bytes.
unsafe fn check(raw: *const SeverDescriptor, path: &Path) -> Result<Arc<Plugin>, LoadError> {
    let path = path.to_owned();
    if raw.is_null() {
        return Err(LoadError::BadMagic { path });
    }
    // SAFETY: every descriptor version starts with the frozen header; only it is read
    // before the version and size are known.
    let header = unsafe { &*raw.cast::<Header>() };
    if header.magic != SEVER_MAGIC {
        return Err(LoadError::BadMagic { path });
    }
    if header.abi_major != SEVER_ABI_MAJOR {
        return Err(LoadError::AbiMismatch {
            path,
            found: header.abi_major,
        });
    }
    if header.size < DESCRIPTOR_MIN_SIZE {
        return Err(LoadError::Broken {
            path,
            reason: format!(
                "descriptor size {} is less than ABI {SEVER_ABI_MAJOR}.0's {DESCRIPTOR_MIN_SIZE}",
                header.size
            ),
        });
    }
    // SAFETY: magic, major version and size check out: the plugin's descriptor holds at
    // least every field of 3.0, and `size` bytes are readable (static for the life of the
    // never-unloaded library). It is copied up to what both sides know: entries added in
    // a later minor are ignored, those a plugin of an earlier minor lacks read as null.
    let descriptor: &'static SeverDescriptor = unsafe { copy_descriptor(raw, header.size) };
    if descriptor.flags & SEVER_FLAG_PANIC_ABORTS != 0 {
        return Err(LoadError::AbortOnPanic { path });
    }
    let entries = Entries::check(descriptor).map_err(|entry| LoadError::MissingEntry {
        path: path.clone(),
        entry,
    })?;
    let broken = |reason: String| LoadError::Broken {
        path: path.clone(),
        reason,
    };
    // SAFETY: name/version point to static strings in the library.
    let (name, version) = unsafe { (descriptor.name.as_slice(), descriptor.version.as_slice()) };
    let name = std::str::from_utf8(name).map_err(|_| broken("name is not UTF-8".into()))?;
    let version =
        std::str::from_utf8(version).map_err(|_| broken("version is not UTF-8".into()))?;
    if !valid_name(name) {
        return Err(broken(format!(
            "plugin name {name:?} must match [a-z0-9][a-z0-9_-]{{0,62}}"
        )));
    }
    let info = metadata(&entries).map_err(&broken)?;
    if info.name != name || info.version != version {
        return Err(broken(format!(
            "metadata names {} {} but the descriptor {name} {version}",
            info.name, info.version
        )));
    }
    for spec in &info.actions {
        if spec.target_sets.is_empty() || spec.target_sets.iter().any(Vec::is_empty) {
            return Err(broken(format!(
                "action {} declares an empty target field set",
                spec.action
            )));
        }
    }
    if info.actions.is_empty() {
        return Err(broken("the plugin declares no action".into()));
    }
    if info.transport != Transport::Http && entries.instance_connection.is_none() {
        return Err(broken(format!(
            "its transport is {} but the descriptor has no instance_connection entry \
             (ABI {SEVER_ABI_MAJOR}.1): the host could not connect",
            info.transport
        )));
    }
    Ok(Arc::new(Plugin::new(
        path.clone(),
        descriptor.abi_minor,
        entries,
        info,
    )))
}

/// A copy of the first `size` bytes of a descriptor (at most our own size), the rest zero
/// (null entries), leaked for the life of the process like the library itself.
///
/// # Safety
/// `raw` must point to at least `min(size, size_of::<SeverDescriptor>())` readable bytes.
unsafe fn copy_descriptor(raw: *const SeverDescriptor, size: u32) -> &'static SeverDescriptor {
    let mut copy = std::mem::MaybeUninit::<SeverDescriptor>::zeroed();
    let n = (size as usize).min(std::mem::size_of::<SeverDescriptor>());
    // SAFETY: `n` readable bytes at `raw` (caller contract) fit in `copy`; every field of a
    // descriptor is an integer, a `SeverBytes` or an `Option` of a function pointer, all of
    // which are valid when zero.
    unsafe {
        std::ptr::copy_nonoverlapping(raw.cast::<u8>(), copy.as_mut_ptr().cast::<u8>(), n);
        Box::leak(Box::new(copy.assume_init()))
    }
}

/// Reads the plugin's metadata through its `metadata` entry.
fn metadata(entries: &Entries) -> Result<PluginInfo, String> {
    let mut out = SeverBuf::EMPTY;
    // SAFETY: `out` is a valid local; the entry was checked non-null at load.
    let status = unsafe { (entries.metadata)(&mut out) };
    let bytes = entries.take(out);
    match Status::try_from(status) {
        Ok(Status::Ok) => {}
        Ok(_) => {
            return Err(format!(
                "metadata failed: {}",
                String::from_utf8_lossy(&bytes)
            ))
        }
        Err(e) => return Err(format!("metadata returned an {e}")),
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("unreadable metadata: {e}"))?;
    if let Some(transport) = value.get("transport").and_then(serde_json::Value::as_str) {
        if Transport::parse(transport).is_none() {
            let known: Vec<&str> = Transport::ALL.iter().map(|t| t.as_str()).collect();
            return Err(format!(
                "its transport {transport:?} is not one this sever (ABI {SEVER_ABI_MAJOR}.{SEVER_ABI_MINOR}) \
                 performs ({}): upgrade sever",
                known.join(", ")
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("unreadable metadata: {e}"))
}

/// Plugin names: `[a-z0-9][a-z0-9_-]{0,62}`.
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}
