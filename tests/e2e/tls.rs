//! End to end: `server.tls` — Sever serving HTTPS (rustls through pingora) and, with
//! `client_ca_path`, requiring client certificates (mTLS) and identifying callers without a
//! bearer token by them (`auth.clients`).
//!
//! Every certificate is made here with rcgen: a CA, a server certificate for 127.0.0.1 and
//! localhost, client certificates signed by the CA, and one signed by another CA. The HTTPS
//! client (ureq with rustls) trusts only the test CA.
//!
//! Needs `cargo build --workspace` first (the `sever` binary and `libsever_cedalo.so`).
#![allow(clippy::unwrap_used)]

use crate::common::*;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use sever_tests::harness::http::{self, Client};
use sever_tests::harness::raw::RawClient;
use sever_tests::harness::{free_port, run_cli, write_config, Sever};
use sever_tests::sim::CedaloSim;
use std::io::{Read, Write};
use std::path::PathBuf;
use tempfile::TempDir;

/// A certificate and its key, as PEM.
struct Identity {
    cert_pem: String,
    key_pem: String,
}

/// A CA able to sign certificates.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    /// A certificate signed by this CA.
    fn sign(&self, params: CertificateParams) -> Identity {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate with this common name and these extra subjectAltNames.
    fn client(&self, common_name: &str, sans: &[SanType]) -> Identity {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.subject_alt_names = sans.to_vec();
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }
}

/// The test's PKI: a CA, and the server's certificate and key, written to a temp folder.
struct Pki {
    dir: TempDir,
    ca: Ca,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("sever-tls-")
            .tempdir()
            .unwrap();
        let ca = Ca::new("Sever test CA");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = ca.sign(params);
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), &server.cert_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), &server.key_pem).unwrap();
        Pki { dir, ca }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An HTTPS client trusting this CA, presenting `identity` when asked.
    fn client(&self, identity: Option<&Identity>) -> Client {
        Client::https(
            self.ca.cert.pem().as_bytes(),
            identity.map(|i| (i.cert_pem.as_bytes(), i.key_pem.as_bytes())),
        )
    }

    /// `server.tls`, with the CA as `client_ca_path` when `mtls`.
    fn server_tls(&self, mtls: bool) -> String {
        let ca = if mtls {
            format!(", client_ca_path: \"{}\"", self.path("ca.pem").display())
        } else {
            String::new()
        };
        format!(
            ", tls: {{ cert_path: \"{}\", key_path: \"{}\"{ca} }}",
            self.path("server.pem").display(),
            self.path("server.key").display()
        )
    }
}

/// Callers by certificate: `soar-bot` may disconnect on `mqtt-*`; `privx-bot` (matched by
/// a SAN DNS name) may act on `privx-*` only; `idle-bot` (by SAN URI) may do nothing.
const CLIENTS: &str = r#"  clients:
    - { name: soar-bot, subject: "CN=soar-bot", allow: [ { backends: ["mqtt-*"], actions: ["disconnect"] } ] }
    - { name: privx-bot, subject: "DNS:privx-bot.example", allow: [ { backends: ["privx-*"], actions: ["disconnect", "terminate"] } ] }
    - { name: idle-bot, subject: "URI:spiffe://corp/idle-bot", allow: [] }
"#;

/// The standard config in front of `sim`, serving HTTPS (and asking for client
/// certificates, with [`CLIENTS`], when `mtls`), plus `server_extra`.
fn tls_config(sim: &CedaloSim, pki: &Pki, mtls: bool, server_extra: &str) -> String {
    let server = format!("{}{server_extra}", pki.server_tls(mtls));
    let yaml = config_with(&sim.url(), &server);
    if !mtls {
        return yaml;
    }
    assert!(yaml.contains("\naudit: "), "the standard config changed");
    yaml.replacen("\naudit: ", &format!("\n{CLIENTS}audit: "), 1)
}

/// `POST /v1/actions` with the disconnect of `client_id` on `mqtt-eu`, through `client`.
fn disconnect_with(
    client: &Client,
    sever: &Sever,
    token: Option<&str>,
    client_id: &str,
) -> Result<http::Reply, ureq::Error> {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    let body = disconnect_body(client_id);
    client.try_send(
        "POST",
        &sever.url("/v1/actions"),
        &headers,
        Some(body.as_bytes()),
    )
}

/// The `caller` of the audit log's last line.
fn last_audited_caller(sever: &Sever) -> String {
    let lines = sever.audit_lines();
    let last = lines.last().expect("an audit line");
    last["caller"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn an_https_request_reaches_the_vendor_and_answers_200() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let metrics_port = free_port();
    let metrics = format!(", metrics_listen: \"127.0.0.1:{metrics_port}\"");
    let client = pki.client(None);
    let sever = Sever::start_https(&tls_config(&sim, &pki, false, &metrics), &env(), &client);
    assert!(sever.base_url().starts_with("https://"));

    let reply = disconnect_with(&client, &sever, Some(ONCALL), "sensor-17").unwrap();

    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_one_disconnect_call(&sim, "sensor-17");
    assert_eq!(last_audited_caller(&sever), "oncall");
    assert_eq!(client.get(&sever.url("/readyz"), None).status, 200);
    // The metrics listener stays plain HTTP.
    let scrape = http::get(&format!("http://127.0.0.1:{metrics_port}/metrics"), None);
    assert_eq!(scrape.status, 200, "{scrape:#?}");
}

#[test]
fn plain_http_to_the_tls_port_fails_and_sends_nothing() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let sever = Sever::start_https(
        &tls_config(&sim, &pki, false, ""),
        &env(),
        &pki.client(None),
    );
    let plain = format!("http://127.0.0.1:{}/v1/actions", sever.port());

    let result = http::try_send(
        "POST",
        &plain,
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {ONCALL}")),
        ],
        Some(disconnect_body("sensor-17").as_bytes()),
    );

    assert!(result.is_err(), "plain HTTP got an answer: {result:#?}");
    assert_nothing_sent(&sim);
    // An HTTPS client that does not trust the test CA is refused too.
    let untrusting = Client::https(Ca::new("other CA").cert.pem().as_bytes(), None);
    assert!(disconnect_with(&untrusting, &sever, Some(ONCALL), "sensor-17").is_err());
    assert_nothing_sent(&sim);
}

#[test]
fn a_stalled_handshake_is_closed_within_header_timeout_and_counted() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let metrics_port = free_port();
    let extra = format!(", header_timeout_ms: 1000, metrics_listen: \"127.0.0.1:{metrics_port}\"");
    let sever = Sever::start_https(
        &tls_config(&sim, &pki, false, &extra),
        &env(),
        &pki.client(None),
    );
    let failures = |reason: &str| {
        let scrape = http::get(&format!("http://127.0.0.1:{metrics_port}/metrics"), None);
        metric(
            &scrape.text,
            "sever_tls_handshake_failures_total",
            &[("reason", reason)],
        )
    };

    // Connected, and not a byte of a ClientHello: the handshake never ends.
    let started = std::time::Instant::now();
    let mut stalled = RawClient::connect(sever.port());
    stalled.expect_closed(std::time::Duration::from_secs(5));
    let took = started.elapsed();
    assert!(
        took <= std::time::Duration::from_millis(2_000),
        "header_timeout_ms is 1000: closed after {took:?}"
    );
    assert_eq!(failures("timeout"), Some(1.0));
    // Not TLS at all: the handshake fails at once, with a TLS alert, never an HTTP answer.
    let failed_before = failures("failed").unwrap_or_default();
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", sever.port())).unwrap();
    plain
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    plain.read_to_end(&mut answer).unwrap();
    assert_eq!(answer.first(), Some(&0x15), "not a TLS alert: {answer:?}");
    assert!(sever_tests::eventually(
        std::time::Duration::from_secs(5),
        || { failures("failed") == Some(failed_before + 1.0) }
    ));
    assert_nothing_sent(&sim);
}

/// An mTLS server in front of `sim`, probed for readiness with the `soar-bot` certificate.
fn start_mtls(sim: &CedaloSim, pki: &Pki) -> Sever {
    let probe = pki.client(Some(&pki.ca.client("soar-bot", &[])));
    Sever::start_https(&tls_config(sim, pki, true, ""), &env(), &probe)
}

#[test]
fn an_allowed_client_certificate_is_the_caller_without_a_token() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let sever = start_mtls(&sim, &pki);
    let soar_bot = pki.client(Some(&pki.ca.client("soar-bot", &[])));

    let reply = disconnect_with(&soar_bot, &sever, None, "sensor-17").unwrap();

    assert_eq!(reply.expect_success()["outcome"], "done");
    assert_one_disconnect_call(&sim, "sensor-17");
    assert_eq!(last_audited_caller(&sever), "soar-bot");
}

#[test]
fn a_client_certificate_matching_no_client_is_unauthenticated() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let sever = start_mtls(&sim, &pki);
    let dns = SanType::DnsName("stranger.example".try_into().unwrap());
    let stranger = pki.client(Some(&pki.ca.client("stranger", &[dns])));

    let reply = disconnect_with(&stranger, &sever, None, "sensor-17").unwrap();

    reply.expect_problem(401, "unauthenticated");
    assert_nothing_sent(&sim);
    stranger
        .get(&sever.url("/v1/backends"), None)
        .expect_problem(401, "unauthenticated");
}

#[test]
fn a_client_outside_its_allow_rules_is_forbidden_and_nothing_is_sent() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let sever = start_mtls(&sim, &pki);
    let dns = SanType::DnsName("privx-bot.example".try_into().unwrap());
    let privx_bot = pki.client(Some(&pki.ca.client("privx-bot", &[dns])));
    let uri = SanType::URI("spiffe://corp/idle-bot".try_into().unwrap());
    let idle_bot = pki.client(Some(&pki.ca.client("idle", &[uri])));

    for (client, name) in [(&privx_bot, "privx-bot"), (&idle_bot, "idle-bot")] {
        let reply = disconnect_with(client, &sever, None, "sensor-17").unwrap();
        reply.expect_problem(403, "forbidden");
        assert_eq!(last_audited_caller(&sever), name);
        // Authenticated all the same: it may list backends.
        assert_eq!(client.get(&sever.url("/v1/backends"), None).status, 200);
    }
    assert_nothing_sent(&sim);
}

#[test]
fn the_handshake_is_refused_without_a_client_certificate_or_with_one_from_another_ca() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let sever = start_mtls(&sim, &pki);
    let no_certificate = pki.client(None);
    let foreign = pki.client(Some(&Ca::new("other CA").client("soar-bot", &[])));

    for client in [&no_certificate, &foreign] {
        let result = disconnect_with(client, &sever, Some(ONCALL), "sensor-17");
        // A failed connection (the server's alert, or the connection closed under the
        // client), never an HTTP answer.
        assert!(
            matches!(result, Err(ureq::Error::Io(_))),
            "the handshake went through: {result:#?}"
        );
        assert!(client
            .try_send("GET", &sever.url("/healthz"), &[], None)
            .is_err());
    }
    assert_nothing_sent(&sim);
    // The listener still serves good clients.
    let soar_bot = pki.client(Some(&pki.ca.client("soar-bot", &[])));
    disconnect_with(&soar_bot, &sever, None, "sensor-17")
        .unwrap()
        .expect_success();
}

#[test]
fn a_bearer_token_still_works_over_mtls_and_is_checked_before_the_certificate() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let sever = start_mtls(&sim, &pki);
    let stranger = pki.client(Some(&pki.ca.client("stranger", &[])));
    let soar_bot = pki.client(Some(&pki.ca.client("soar-bot", &[])));

    let reply = disconnect_with(&stranger, &sever, Some(ONCALL), "sensor-17").unwrap();
    reply.expect_success();
    assert_eq!(last_audited_caller(&sever), "oncall");
    assert_one_disconnect_call(&sim, "sensor-17");

    // A wrong token is not excused by a certificate that would have matched.
    let reply = disconnect_with(&soar_bot, &sever, Some("not-a-token"), "sensor-17").unwrap();
    reply.expect_problem(401, "unauthenticated");
    assert_eq!(sim.calls().len(), 1);
}

#[test]
fn check_reports_missing_and_invalid_tls_files_at_their_keys_without_key_material() {
    let pki = Pki::new();
    let good = write_config(&tls_config(&sim(&[]), &pki, true, ""));
    let (code, stdout, stderr) = run_cli(
        &["check", "--config", good.path().to_str().unwrap()],
        &env(),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");

    let missing = pki.path("missing.pem");
    let not_a_key = pki.path("not-a-key.pem");
    let key_text = std::fs::read_to_string(pki.path("server.key")).unwrap();
    // Key material under a broken header: reported, never printed.
    std::fs::write(
        &not_a_key,
        key_text.replace("-----BEGIN PRIVATE KEY-----", "-----BEGIN PRIVATE KEY"),
    )
    .unwrap();
    let yaml = config_with(
        "http://127.0.0.1:9",
        &format!(
            ", tls: {{ cert_path: \"{}\", key_path: \"{}\" }}",
            missing.display(),
            not_a_key.display()
        ),
    );
    let config = write_config(&yaml);
    let file = config.path().to_str().unwrap();

    let (code, stdout, stderr) = run_cli(&["check", "--config", file], &env());

    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "{file}:server.tls.cert_path: cannot read {}: No such file or directory",
            missing.display()
        )),
        "{stdout}{stderr}"
    );
    assert!(
        stdout.contains(&format!(
            "{file}:server.tls.key_path: {} ",
            not_a_key.display()
        )),
        "{stdout}{stderr}"
    );
    let body_line = key_text.lines().nth(1).unwrap();
    assert!(
        !stdout.contains(body_line) && !stderr.contains(body_line),
        "{stdout}{stderr}"
    );

    let (code, stdout, stderr) = run_cli(&["serve", "--config", file], &env());
    assert_eq!(code, 1, "serve must not start: {stdout}{stderr}");
    assert!(stderr.contains("server.tls.cert_path"), "{stderr}");
    assert!(!stderr.contains(body_line), "{stderr}");
}

#[test]
fn the_cli_reaches_an_mtls_sever_with_its_ca_file_and_a_client_certificate() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let bot = pki.ca.client("soar-bot", &[]);
    std::fs::write(pki.path("bot.pem"), &bot.cert_pem).unwrap();
    std::fs::write(pki.path("bot.key"), &bot.key_pem).unwrap();
    let probe = pki.client(Some(&bot));
    let sever = Sever::start_https(&tls_config(&sim, &pki, true, ""), &env(), &probe);
    let url = sever.base_url();
    let ca = pki.path("ca.pem").display().to_string();
    let act = [
        "act",
        "disconnect",
        "--backend",
        "mqtt-eu",
        "--client-id",
        "sensor-17",
        "--reason",
        "INC-1",
        "--url",
        &url,
        "--ca-file",
        &ca,
    ];

    // Without a client certificate the handshake fails: no answer, nothing sent.
    let (code, stdout, stderr) = run_cli(&act, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("no answer from Sever"), "{stderr}");
    assert!(sim.calls().is_empty());

    // With it, and no token, the certificate names the caller.
    let (cert, key) = (pki.path("bot.pem"), pki.path("bot.key"));
    let mut with_cert = act.to_vec();
    with_cert.extend([
        "--cert-file",
        cert.to_str().unwrap(),
        "--key-file",
        key.to_str().unwrap(),
    ]);
    let (code, stdout, stderr) = run_cli(&with_cert, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_one_disconnect_call(&sim, "sensor-17");
    assert_eq!(last_audited_caller(&sever), "soar-bot");
}

#[test]
fn sighup_presents_the_certificate_now_in_the_files_to_new_connections() {
    let sim = sim(&["sensor-17"]);
    let pki = Pki::new();
    let old_client = pki.client(None);
    let sever = Sever::start_https(&tls_config(&sim, &pki, false, ""), &env(), &old_client);
    // A renewed certificate, from another CA so that which one is presented shows.
    let renewed_ca = Ca::new("Sever renewed CA");
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let renewed = renewed_ca.sign(params);
    std::fs::write(pki.path("server.pem"), &renewed.cert_pem).unwrap();
    std::fs::write(pki.path("server.key"), &renewed.key_pem).unwrap();
    let new_client = Client::https(renewed_ca.cert.pem().as_bytes(), None);
    let readyz = sever.url("/readyz");
    assert!(
        new_client.try_send("GET", &readyz, &[], None).is_err(),
        "the renewed certificate is not presented before SIGHUP"
    );

    sever.signal(sever_tests::harness::Signal::SIGHUP);

    assert!(
        sever_tests::eventually(std::time::Duration::from_secs(10), || new_client
            .try_send("GET", &readyz, &[], None)
            .is_ok_and(|r| r.status == 200)),
        "the renewed certificate is not presented after SIGHUP; stderr:\n{}",
        sever.stderr()
    );
    let reply = disconnect_with(&new_client, &sever, Some(ONCALL), "sensor-17").unwrap();
    assert_eq!(reply.expect_success()["outcome"], "done");
    assert!(
        Client::https(pki.ca.cert.pem().as_bytes(), None)
            .try_send("GET", &readyz, &[], None)
            .is_err(),
        "a new connection no longer gets the old certificate"
    );
    assert!(sever.stderr().contains("TLS certificate reloaded"));
}
