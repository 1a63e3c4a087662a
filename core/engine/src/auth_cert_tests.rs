//! Tests of callers identified by their client certificate (mTLS): how subjects match a
//! certificate's names, which client wins, and how a token and a certificate combine.

#![allow(clippy::unwrap_used)]

use super::tests::{authenticator, client, header, rule, token};
use super::*;
use crate::config::CertSubject;

fn peer(cns: &[&str], dns: &[&str], uris: &[&str]) -> PeerCertificate {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    PeerCertificate {
        common_names: owned(cns),
        dns_names: owned(dns),
        uris: owned(uris),
    }
}

fn matches(subject: &str, peer: &PeerCertificate) -> bool {
    peer.matches(&CertSubject::parse(subject).unwrap())
}

#[test]
fn cn_matches_the_common_name_exactly_or_a_san_dns_name_or_uri() {
    let bot = peer(&["soar-bot"], &[], &[]);
    assert!(matches("CN=soar-bot", &bot));
    assert!(matches("cn=soar-bot", &bot));
    assert!(!matches("CN=Soar-Bot", &bot), "common names are exact");
    assert!(!matches("CN=soar", &bot));
    assert!(!matches("DNS:soar-bot", &bot), "DNS: looks at SANs only");

    let by_dns = peer(&["something else"], &["Soar-Bot.example"], &[]);
    assert!(
        matches("CN=soar-bot.example", &by_dns),
        "DNS names ignore ASCII case"
    );
    assert!(matches("DNS:soar-bot.EXAMPLE", &by_dns));
    assert!(!matches("URI:soar-bot.example", &by_dns));

    let by_uri = peer(&[], &[], &["spiffe://corp/soar-bot"]);
    assert!(matches("CN=spiffe://corp/soar-bot", &by_uri));
    assert!(matches("URI:spiffe://corp/soar-bot", &by_uri));
    assert!(
        !matches("URI:SPIFFE://corp/soar-bot", &by_uri),
        "URIs are exact"
    );
    assert!(!matches("DNS:spiffe://corp/soar-bot", &by_uri));
}

#[test]
fn wildcard_dns_names_in_a_certificate_are_not_expanded() {
    let wild = peer(&[], &["*.example"], &[]);
    assert!(!matches("DNS:bot.example", &wild));
    assert!(matches("DNS:*.example", &wild));
}

#[test]
fn subjects_are_one_name_with_a_known_prefix() {
    for good in [
        "CN=a",
        "DNS:bot.example",
        "URI:spiffe://x/y",
        "Cn=x y",
        "dns:a",
    ] {
        assert!(CertSubject::parse(good).is_some(), "{good}");
    }
    for bad in [
        "",
        "soar-bot",
        "CN=",
        "CN=a,O=b",
        "CN=a+UID=b",
        "CN= a",
        "O=acme",
        "DNS:",
        "EMAIL:a@b",
        "CN=a\nb",
    ] {
        assert!(CertSubject::parse(bad).is_none(), "{bad:?}");
    }
    assert_eq!(
        CertSubject::parse("dns:a").unwrap().to_string(),
        "DNS:a",
        "shown with its canonical prefix"
    );
}

fn mtls() -> Authenticator {
    authenticator(
        vec![token(
            "oncall",
            "oncall-secret",
            vec![rule(&["*"], &Action::ALL)],
        )],
        vec![
            client(
                "soar-bot",
                "CN=soar-bot",
                vec![rule(&["privx*"], &[Action::Terminate])],
            ),
            client(
                "any-bot",
                "DNS:bot.example",
                vec![rule(&["*"], &Action::ALL)],
            ),
            client("idle-bot", "URI:spiffe://corp/idle", Vec::new()),
        ],
    )
}

#[test]
fn without_a_token_the_certificate_names_the_caller_and_its_rules_apply() {
    let auth = mtls();
    let caller = auth
        .identify(None, Some(&peer(&["soar-bot"], &[], &[])))
        .unwrap();
    assert_eq!(caller.name, "soar-bot");
    assert!(!caller.is_insecure());
    assert!(auth.allows(&caller, "privx-prod", Action::Terminate));
    assert!(!auth.allows(&caller, "privx-prod", Action::Disconnect));
    assert!(!auth.allows(&caller, "mqtt-eu", Action::Terminate));

    let idle = auth
        .identify(None, Some(&peer(&[], &[], &["spiffe://corp/idle"])))
        .unwrap();
    assert_eq!(idle.name, "idle-bot");
    for action in Action::ALL {
        assert!(!auth.allows(&idle, "privx", action));
    }
}

#[test]
fn the_first_matching_client_in_file_order_wins() {
    let auth = mtls();
    let both = peer(&["soar-bot"], &["bot.example"], &[]);
    assert_eq!(auth.identify(None, Some(&both)).unwrap().name, "soar-bot");
}

#[test]
fn a_certificate_matching_no_client_is_refused() {
    let auth = mtls();
    let stranger = peer(&["stranger"], &["stranger.example"], &[]);
    assert_eq!(
        auth.identify(None, Some(&stranger)),
        Err(AuthError::UnknownCertificate)
    );
}

#[test]
fn a_token_is_checked_before_the_certificate_and_a_bad_one_is_not_excused_by_it() {
    let auth = mtls();
    let bot = peer(&["soar-bot"], &[], &[]);
    let caller = auth
        .identify(Some(&header("oncall-secret")), Some(&bot))
        .unwrap();
    assert_eq!(caller.name, "oncall");
    assert!(auth.allows(&caller, "mqtt-eu", Action::Disconnect));
    assert_eq!(
        auth.identify(Some(&header("wrong")), Some(&bot)),
        Err(AuthError::Unknown)
    );
    assert_eq!(
        auth.identify(Some(b"Basic x"), Some(&bot)),
        Err(AuthError::Malformed)
    );
}

#[test]
fn without_auth_configured_a_certificate_changes_nothing() {
    let auth = Authenticator::new(None);
    let caller = auth
        .identify(None, Some(&peer(&["soar-bot"], &[], &[])))
        .unwrap();
    assert!(caller.is_insecure());
}

#[test]
fn names_are_read_from_a_real_certificate() {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["bot.example".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "soar-bot");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Acme");
    params.subject_alt_names.push(rcgen::SanType::URI(
        "spiffe://corp/soar-bot".try_into().unwrap(),
    ));
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.self_signed(&key).unwrap();

    let peer = PeerCertificate::from_der(cert.der()).unwrap();
    assert_eq!(
        peer,
        self::peer(&["soar-bot"], &["bot.example"], &["spiffe://corp/soar-bot"])
    );
    assert!(matches("CN=soar-bot", &peer));
    assert!(!matches("CN=Acme", &peer));
}

#[test]
fn bytes_that_are_no_certificate_are_an_error() {
    assert!(matches!(
        PeerCertificate::from_der(b"not a certificate"),
        Err(CertificateError::Malformed(_))
    ));
}
