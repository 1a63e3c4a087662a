//! `server.tls`: the listener's certificate chain and key, and the CA that client
//! certificates must chain to (mTLS), read and checked when the config is loaded.
//!
//! Loading builds what the listener serves with — the certified key and, with
//! `client_ca_path`, rustls' WebPKI client verifier — so that `sever check` finds every
//! problem `sever serve` would meet: an unreadable file, a file without PEM items of the
//! expected kind, a certificate that is not X.509, a key rustls cannot sign with, a key that
//! does not belong to the certificate, a CA that cannot be a trust anchor.
//!
//! Messages name the file and the kind of problem, never the file's content (a key file's
//! bytes are a secret, so even a malformed PEM line is not quoted).

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::RootCertStore;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::error::{ConfigError, ConfigErrors};
use super::model::TlsConfig;

/// What the TLS listener needs, read from the files a [`TlsConfig`] names.
#[derive(Clone)]
pub struct TlsMaterial {
    /// The server's certificate chain (leaf first) with its private key; they are checked
    /// to belong together.
    pub certified_key: Arc<CertifiedKey>,
    /// Verifies client certificates against `client_ca_path` and refuses the handshake
    /// without one; `None` when client certificates are not asked for.
    pub client_verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl TlsMaterial {
    /// The server certificate for every handshake (Sever serves one name set).
    pub fn cert_resolver(&self) -> Arc<dyn ResolvesServerCert> {
        Arc::new(SingleCertAndKey::from(Arc::clone(&self.certified_key)))
    }
}

/// The listener's certificate, replaceable while serving: `SIGHUP` reads the files again
/// and swaps the new certificate in; handshakes from then on present it, connections
/// already open keep theirs.
#[derive(Debug)]
pub struct ReloadableCert {
    current: parking_lot::RwLock<Arc<CertifiedKey>>,
}

impl ReloadableCert {
    /// Starts with `material`'s certificate.
    pub fn new(material: &TlsMaterial) -> Arc<Self> {
        Arc::new(ReloadableCert {
            current: parking_lot::RwLock::new(Arc::clone(&material.certified_key)),
        })
    }

    /// Presents `material`'s certificate from the next handshake on.
    pub fn replace(&self, material: &TlsMaterial) {
        *self.current.write() = Arc::clone(&material.certified_key);
    }
}

impl ResolvesServerCert for ReloadableCert {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.current.read()))
    }
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("certificates", &self.certified_key.cert.len())
            .field("key", &"<redacted>")
            .field("client_verifier", &self.client_verifier.is_some())
            .finish()
    }
}

/// The crypto Sever's listener uses (pingora's rustls listener installs the same).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// Reads and checks the files; every problem as a `FILE:server.tls.<key>: message`
    /// line, `file` being the config file.
    pub fn load(&self, file: &Path) -> Result<TlsMaterial, ConfigErrors> {
        let mut errors = ConfigErrors::new();
        let mut error = |key: &str, message: String| {
            errors.push(ConfigError::new(file, format!("server.tls.{key}"), message));
        };
        let provider = provider();
        let certs = certificates(&self.cert_path).map_err(|e| error("cert_path", e));
        let key = private_key(&self.key_path, &provider).map_err(|e| error("key_path", e));
        let client_verifier = match &self.client_ca_path {
            None => Ok(None),
            Some(path) => client_verifier(path, &provider)
                .map(Some)
                .map_err(|e| error("client_ca_path", e)),
        };
        let certified_key = match (certs, key) {
            (Ok(certs), Ok(key)) => {
                let certified = CertifiedKey::new(certs, key);
                match certified.keys_match() {
                    // `Unknown`: the key type cannot tell its public key; rustls serves it.
                    Ok(())
                    | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {
                        Ok(Arc::new(certified))
                    }
                    Err(_) => {
                        error(
                            "key_path",
                            "the private key does not belong to the certificate in \
                             server.tls.cert_path"
                                .to_owned(),
                        );
                        Err(())
                    }
                }
            }
            _ => Err(()),
        };
        match (certified_key, client_verifier) {
            (Ok(certified_key), Ok(client_verifier)) if errors.is_empty() => Ok(TlsMaterial {
                certified_key,
                client_verifier,
            }),
            _ => Err(errors),
        }
    }
}

/// The file's bytes, or why it cannot be read (the OS's reason, never the content).
fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Why PEM text could not be parsed, without quoting any of it.
fn pem_problem(path: &Path, error: &pem::Error) -> String {
    let what = match error {
        pem::Error::MissingSectionEnd { .. } => "a PEM section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a PEM section is not valid base64",
        pem::Error::SectionTooLarge => "a PEM section is too large",
        _ => "it is not valid PEM",
    };
    format!("{} is not usable: {what}", path.display())
}

/// Every certificate of a PEM file (at least one), each a well-formed X.509 certificate.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_problem(path, &e))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no certificate (expected PEM `-----BEGIN CERTIFICATE-----` sections)",
            path.display()
        ));
    }
    for (i, cert) in certs.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(cert) {
            return Err(format!(
                "{}: certificate {} is not a valid X.509 certificate: {e}",
                path.display(),
                i + 1
            ));
        }
    }
    Ok(certs)
}

/// The first private key of a PEM file, loaded for signing.
fn private_key(
    path: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<dyn rustls::sign::SigningKey>, String> {
    let bytes = read(path)?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => format!(
            "{} holds no private key (expected a PEM PKCS#8, PKCS#1 or SEC1 key)",
            path.display()
        ),
        other => pem_problem(path, &other),
    })?;
    provider.key_provider.load_private_key(key).map_err(|_| {
        format!(
            "{}: the private key cannot be used (expected RSA, ECDSA P-256/P-384 or \
                 Ed25519)",
            path.display()
        )
    })
}

/// A verifier that requires a client certificate chaining to one of the file's CAs.
fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let mut roots = RootCertStore::empty();
    for (i, cert) in certificates(path)?.into_iter().enumerate() {
        roots.add(cert).map_err(|e| {
            format!(
                "{}: certificate {} cannot be a trust anchor: {e}",
                path.display(),
                i + 1
            )
        })?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))
}
