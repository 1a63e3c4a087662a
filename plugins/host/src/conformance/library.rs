//! The library under test, opened through the host's own loader ([`crate::load_file`]): the
//! checks Sever's own loader performs (magic, ABI version, descriptor size, unwinding
//! panics, names, metadata) and the calls through the function table are Sever's own.
//!
//! Like Sever, the host never unloads a library (unloading Rust libraries is unsound in
//! practice): the handle is leaked for the life of the test process.

use super::ConformanceError;
use crate::Plugin;
use std::path::Path;
use std::sync::Arc;

/// Opens and checks a plugin library, which must be the plugin the case file describes.
pub(crate) fn open(path: &Path, expected: &str) -> Result<Arc<Plugin>, ConformanceError> {
    let plugin = crate::load_file(path)?;
    if plugin.name() != expected {
        return Err(ConformanceError::WrongPlugin {
            path: plugin.path().to_owned(),
            found: plugin.name().to_owned(),
            expected: expected.to_owned(),
        });
    }
    Ok(plugin)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::LoadError;

    #[test]
    fn a_library_that_does_not_load_is_refused_with_the_hosts_message() {
        let path = Path::new("/nonexistent/libsever_none.so");
        let error = open(path, "none").unwrap_err();
        assert!(
            matches!(error, ConformanceError::Load(LoadError::Open { .. })),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("/nonexistent/libsever_none.so: cannot load: "),
            "{error}"
        );
    }
}
