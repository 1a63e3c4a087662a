//! Opening plugin libraries and checking their descriptor.

use super::Plugin;
use crate::abi::{
    Buf, Descriptor, DescriptorFn, Status, ABI_VERSION, DESCRIPTOR_SIZE, DESCRIPTOR_SYMBOL, MAGIC,
};
use crate::PluginInfo;
use libloading::os::unix::{Library, Symbol, RTLD_LOCAL, RTLD_NOW};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a library could not be used as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `dlopen` failed (missing file, wrong architecture, missing dependency).
    #[error("{path}: cannot load: {reason}")]
    Open { path: PathBuf, reason: String },
    /// The library does not export `sever_plugin_descriptor`.
    #[error("{path}: not a Sever plugin (no sever_plugin_descriptor symbol)")]
    NotAPlugin { path: PathBuf },
    /// The descriptor's magic number is wrong.
    #[error("{path}: not a Sever plugin (bad descriptor magic)")]
    BadMagic { path: PathBuf },
    /// Built for another ABI version.
    #[error(
        "{path} was built for Sever plugin ABI {found}, this sever speaks ABI {expected}; \
         rebuild the plugin against sever-plugin-sdk {sdk}",
        sdk = env!("CARGO_PKG_VERSION")
    )]
    AbiMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// Built with `panic = "abort"`: a panic would end the host.
    #[error("{path}: built with panic = \"abort\"; Sever plugins must unwind so a panic cannot end the server")]
    AbortOnPanic { path: PathBuf },
    /// The descriptor or metadata is inconsistent.
    #[error("{path}: broken plugin: {reason}")]
    Broken { path: PathBuf, reason: String },
}

impl LoadError {
    /// True when the library is simply not a Sever plugin (skipped silently in a `dir:`).
    pub fn is_not_a_plugin(&self) -> bool {
        matches!(
            self,
            LoadError::NotAPlugin { .. } | LoadError::BadMagic { .. }
        )
    }
}

/// The frozen leading fields of every descriptor version.
#[repr(C)]
struct Header {
    magic: u64,
    abi_version: u32,
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
        LoadError::Open {
            path: path.to_owned(),
            reason,
        }
    })?;
    // Never unloaded (see the module docs): leak the handle for the process lifetime.
    Ok(Box::leak(Box::new(library)))
}

/// Loads one plugin library and checks its ABI.
pub fn load_file(path: &Path) -> Result<Arc<Plugin>, LoadError> {
    let library = open(path)?;
    // SAFETY: the symbol's type is fixed by the ABI for every version.
    let symbol: Symbol<DescriptorFn> =
        unsafe { library.get(DESCRIPTOR_SYMBOL) }.map_err(|_| LoadError::NotAPlugin {
            path: path.to_owned(),
        })?;
    // SAFETY: calling the exported entry point; it takes nothing and returns a static.
    let raw = unsafe { symbol() };
    // SAFETY: the library stays loaded for the process lifetime (leaked in `open`), so a
    // descriptor it returns is 'static if it is one at all; `check` reads it carefully.
    unsafe { check(raw, path) }
}

/// Registers an adapter linked into this binary (see [`crate::static_descriptor!`])
/// through the same checks and the same ABI functions as a loaded library. `origin` is
/// shown where a file path would be.
pub fn load_static(
    descriptor: &'static Descriptor,
    origin: &Path,
) -> Result<Arc<Plugin>, LoadError> {
    // SAFETY: a 'static reference is valid for the process lifetime.
    unsafe { check(descriptor, origin) }
}

/// Checks a descriptor and reads the plugin's metadata.
///
/// # Safety
/// `raw` must be null or point to memory that stays valid for the process lifetime and
/// starts with the frozen descriptor header.
unsafe fn check(raw: *const Descriptor, path: &Path) -> Result<Arc<Plugin>, LoadError> {
    if raw.is_null() {
        return Err(LoadError::BadMagic {
            path: path.to_owned(),
        });
    }
    // SAFETY: every descriptor version starts with the frozen header; only it is read
    // before the version is known.
    let header = unsafe { &*raw.cast::<Header>() };
    if header.magic != MAGIC {
        return Err(LoadError::BadMagic {
            path: path.to_owned(),
        });
    }
    if header.abi_version != ABI_VERSION {
        return Err(LoadError::AbiMismatch {
            path: path.to_owned(),
            found: header.abi_version,
            expected: ABI_VERSION,
        });
    }
    if header.size != DESCRIPTOR_SIZE {
        return Err(LoadError::Broken {
            path: path.to_owned(),
            reason: format!(
                "descriptor size {} differs from ABI {ABI_VERSION}'s {DESCRIPTOR_SIZE}",
                header.size
            ),
        });
    }
    // SAFETY: magic, version and size match: this is a descriptor of our ABI version, static for the life
    // of the (never unloaded) library.
    let descriptor: &'static Descriptor = unsafe { &*raw };
    if descriptor.unwind != 1 {
        return Err(LoadError::AbortOnPanic {
            path: path.to_owned(),
        });
    }
    let broken = |reason: String| LoadError::Broken {
        path: path.to_owned(),
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

    let mut out = Buf::EMPTY;
    // SAFETY: out is a valid local; the call is wrapped in catch_unwind by the SDK.
    let status = unsafe { (descriptor.metadata)(&mut out) };
    let bytes = if out.ptr.is_null() {
        Vec::new()
    } else {
        // SAFETY: plugin-owned buffer, read then freed through the plugin once.
        let copy = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
        // SAFETY: as above.
        unsafe { (descriptor.buf_free)(out) };
        copy
    };
    if status != Status::Ok {
        return Err(broken(format!(
            "metadata failed: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    let info: PluginInfo =
        serde_json::from_slice(&bytes).map_err(|e| broken(format!("unreadable metadata: {e}")))?;
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
    Ok(Arc::new(Plugin {
        path: path.to_owned(),
        descriptor,
        info,
    }))
}

/// Plugin and backend names: `[a-z0-9][a-z0-9_-]{0,62}`.
pub(crate) fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// What loading a `dir:` found.
#[derive(Debug, Default)]
pub struct DirLoad {
    /// Plugins loaded, in file-name order.
    pub plugins: Vec<Arc<Plugin>>,
    /// Libraries skipped with a reason worth telling (built for another ABI).
    pub warnings: Vec<LoadError>,
    /// Libraries that looked like plugins but failed.
    pub errors: Vec<LoadError>,
}

/// Loads every `lib*.so` in a folder that exports the Sever ABI. Other libraries are skipped
/// silently; one built for another ABI version is skipped with a warning.
pub fn load_dir(dir: &Path) -> Result<DirLoad, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::Open {
        path: dir.to_owned(),
        reason: e.to_string(),
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lib") && n.ends_with(".so"))
                && p.is_file()
        })
        .collect();
    paths.sort();
    let mut found = DirLoad::default();
    for path in paths {
        match load_file(&path) {
            Ok(plugin) => found.plugins.push(plugin),
            Err(e) if e.is_not_a_plugin() => {}
            Err(e @ LoadError::Open { .. }) => {
                // A library that does not even open (wrong architecture, missing
                // dependency) cannot be a usable plugin; tell, but do not fail the dir.
                found.warnings.push(e);
            }
            Err(e @ LoadError::AbiMismatch { .. }) => found.warnings.push(e),
            Err(e) => found.errors.push(e),
        }
    }
    Ok(found)
}
