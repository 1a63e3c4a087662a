//! `server.tls`: the files are read and checked at load, every problem reported at its key
//! without quoting a file's content.

use super::*;
use crate::config::CertSubject;
use std::path::PathBuf;

/// Files written by [`write_files`].
pub(super) struct TlsFiles {
    /// `tls/server.pem`: the server certificate, signed by the CA.
    pub(super) cert: PathBuf,
    /// `tls/server.key`: its key (PKCS#8).
    pub(super) key: PathBuf,
    /// `tls/ca.pem`: the CA certificate.
    pub(super) ca: PathBuf,
}

/// Writes a CA, a server certificate for localhost signed by it, and the server's key
/// under `dir/tls/`.
pub(super) fn write_files(dir: &Path) -> TlsFiles {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let files = TlsFiles {
        cert: tls.join("server.pem"),
        key: tls.join("server.key"),
        ca: tls.join("ca.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(&files.ca, ca.pem()).unwrap();
    files
}

/// A config with `server.tls` naming these paths (and a client CA when given).
fn tls_yaml(cert: &Path, key: &Path, ca: Option<&Path>) -> String {
    let ca = ca
        .map(|p| format!(", client_ca_path: '{}'", p.display()))
        .unwrap_or_default();
    format!(
        "server:\n  tls: {{ cert_path: '{}', key_path: '{}'{ca} }}\n{AUTH}",
        cert.display(),
        key.display()
    )
}

#[test]
fn good_files_load_into_a_certified_key_and_a_client_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());

    let config = valid(&tls_yaml(&files.cert, &files.key, Some(&files.ca)));
    let tls = config.server.tls.as_ref().unwrap();
    let material = tls.load(Path::new(FILE)).unwrap();
    assert_eq!(material.certified_key.cert.len(), 1);
    assert!(material.client_verifier.is_some());
    assert!(!format!("{material:?}").contains("PRIVATE"));

    let plain = valid(&tls_yaml(&files.cert, &files.key, None));
    let material = plain.server.tls.unwrap().load(Path::new(FILE)).unwrap();
    assert!(material.client_verifier.is_none());
}

#[test]
fn missing_files_are_reported_at_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let missing = |name: &str| dir.path().join(name);
    let errors = errors(&tls_yaml(
        &missing("c.pem"),
        &missing("k.pem"),
        Some(&missing("ca.pem")),
    ));
    let expected: Vec<String> = ["cert_path", "key_path", "client_ca_path"]
        .iter()
        .zip(["c.pem", "k.pem", "ca.pem"])
        .map(|(key, file)| {
            format!(
                "{FILE}:server.tls.{key}: cannot read {}: No such file or directory (os error 2)",
                missing(file).display()
            )
        })
        .collect();
    assert_eq!(errors, expected);
}

#[test]
fn files_without_the_expected_pem_items_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();

    // The key where the certificate belongs and the reverse; an empty CA file.
    let errors = errors(&tls_yaml(&files.key, &files.cert, Some(&empty)));
    assert_eq!(
        errors,
        vec![
            format!(
                "{FILE}:server.tls.cert_path: {} holds no certificate (expected PEM \
                 `-----BEGIN CERTIFICATE-----` sections)",
                files.key.display()
            ),
            format!(
                "{FILE}:server.tls.key_path: {} holds no private key (expected a PEM PKCS#8, \
                 PKCS#1 or SEC1 key)",
                files.cert.display()
            ),
            format!(
                "{FILE}:server.tls.client_ca_path: {} holds no certificate (expected PEM \
                 `-----BEGIN CERTIFICATE-----` sections)",
                empty.display()
            ),
        ]
    );
}

#[test]
fn a_key_of_another_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let other = rcgen::KeyPair::generate().unwrap();
    let other_key = dir.path().join("other.key");
    std::fs::write(&other_key, other.serialize_pem()).unwrap();

    assert_error(
        &tls_yaml(&files.cert, &other_key, None),
        "server.tls.key_path: the private key does not belong to the certificate in \
         server.tls.cert_path",
    );
}

#[test]
fn a_broken_key_file_is_described_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let broken = dir.path().join("broken.key");
    let secret = "c2VjcmV0LWtleS1tYXRlcmlhbA";
    std::fs::write(
        &broken,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}!!\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let unterminated = dir.path().join("unterminated.key");
    std::fs::write(
        &unterminated,
        format!("-----BEGIN PRIVATE KEY-----\n{secret}\n"),
    )
    .unwrap();

    for (file, what) in [
        (&broken, "a PEM section is not valid base64"),
        (&unterminated, "a PEM section has no END line"),
    ] {
        let lines = errors(&tls_yaml(&files.cert, file, None));
        assert_eq!(
            lines,
            vec![format!(
                "{FILE}:server.tls.key_path: {} is not usable: {what}",
                file.display()
            )]
        );
        assert!(!lines[0].contains(secret));
    }
}

#[test]
fn a_certificate_that_is_not_x509_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let bogus = dir.path().join("bogus.pem");
    // Valid PEM and base64, but the DER inside is no certificate.
    std::fs::write(
        &bogus,
        "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let lines = errors(&tls_yaml(&bogus, &files.key, None));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "{FILE}:server.tls.cert_path: {}: certificate 1 is not a valid X.509 certificate",
            bogus.display()
        )),
        "{lines:?}"
    );
}

#[test]
fn certificate_clients_are_read_with_their_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let yaml = format!(
        "server:\n  tls: {{ cert_path: '{}', key_path: '{}', client_ca_path: '{}' }}\n\
         auth:\n  clients:\n    - {{ name: bot, subject: 'DNS:bot.example', allow: [] }}\n",
        files.cert.display(),
        files.key.display(),
        files.ca.display()
    );
    let config = valid(&yaml);
    let auth = config.auth.unwrap();
    assert!(auth.tokens.is_empty());
    assert_eq!(
        auth.clients[0].subject,
        CertSubject::Dns("bot.example".to_owned())
    );
}

#[test]
fn a_subject_that_is_no_single_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path());
    let yaml = format!(
        "server:\n  tls: {{ cert_path: '{}', key_path: '{}', client_ca_path: '{}' }}\n\
         auth:\n  clients:\n    - {{ name: a, subject: 'CN=bot,O=Acme', allow: [] }}\n    \
         - {{ name: b, subject: 'dns:x', allow: [] }}\n    \
         - {{ name: c, subject: 'DNS:x', allow: [] }}\n",
        files.cert.display(),
        files.key.display(),
        files.ca.display()
    );
    assert_eq!(
        errors(&yaml),
        vec![
            format!(
                "{FILE}:auth.clients[0].subject: must be CN=<common name>, DNS:<SAN DNS name> \
                 or URI:<SAN URI>, like CN=soar-bot (one name, not a whole distinguished name)"
            ),
            format!("{FILE}:auth.clients[2].subject: same subject as auth.clients[1]"),
        ]
    );
}
