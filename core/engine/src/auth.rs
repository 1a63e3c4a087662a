//! Caller authentication and authorization (spec §2 `auth`, §4 401/403).
//!
//! A caller is identified, in this order:
//!
//! 1. by its bearer token when it sends an `Authorization` header (a bad or unknown token
//!    is a 401 even when a client certificate would have matched: what the caller claims
//!    is what is checked);
//! 2. else by its verified client certificate (mTLS), matched against `auth.clients` in
//!    file order, the first [`CertSubject`] that matches winning;
//! 3. else not at all: 401.
//!
//! The certificate was verified during the TLS handshake (rustls' WebPKI verifier against
//! `server.tls.client_ca_path`); the listener hands over the leaf's names as a
//! [`PeerCertificate`]. A token's or client's `allow` rules then decide every action
//! (403 outside them); an empty `allow` list authenticates but permits no action.

use crate::api::problems;
use crate::config::{AllowRule, AuthConfig, CertSubject, ClientConfig, TokenConfig};
use crate::plugin::Action;
use crate::problem::ApiProblem;
use crate::Sever;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's (or client's) configured name; `anonymous` without auth.
    pub name: String,
    /// Which configured caller this is.
    grant: Grant,
}

/// The configured caller a [`Caller`] was identified as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// `insecure_no_auth`: anyone may do anything.
    Insecure,
    /// Index into the token list.
    Token(usize),
    /// Index into the client list.
    Client(usize),
}

impl Caller {
    /// True when running without authentication.
    pub fn is_insecure(&self) -> bool {
        self.grant == Grant::Insecure
    }
}

/// The names a verified client certificate carries, read from its leaf at the end of the
/// TLS handshake. Only what [`CertSubject`] matching needs is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The subject's common names (UTF-8 ones; usually one).
    pub common_names: Vec<String>,
    /// subjectAltName DNS names.
    pub dns_names: Vec<String>,
    /// subjectAltName URIs.
    pub uris: Vec<String>,
}

/// Why a client certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// Not a DER X.509 certificate.
    #[error("not an X.509 certificate: {0}")]
    Malformed(String),
    /// Its subjectAltName extension is malformed or repeated.
    #[error("unreadable subjectAltName: {0}")]
    SubjectAltName(String),
}

impl PeerCertificate {
    /// Reads the names of a DER certificate (the leaf the client presented).
    pub fn from_der(der: &[u8]) -> Result<PeerCertificate, CertificateError> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| CertificateError::Malformed(e.to_string()))?;
        let common_names = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok())
            .map(str::to_owned)
            .collect();
        let mut peer = PeerCertificate {
            common_names,
            ..PeerCertificate::default()
        };
        let san = cert
            .subject_alternative_name()
            .map_err(|e| CertificateError::SubjectAltName(e.to_string()))?;
        for name in san.iter().flat_map(|ext| &ext.value.general_names) {
            match name {
                GeneralName::DNSName(dns) => peer.dns_names.push((*dns).to_owned()),
                GeneralName::URI(uri) => peer.uris.push((*uri).to_owned()),
                _ => {}
            }
        }
        Ok(peer)
    }

    /// Whether this certificate carries `subject` (the rule is on [`CertSubject`]).
    pub fn matches(&self, subject: &CertSubject) -> bool {
        let dns = |want: &str| self.dns_names.iter().any(|d| d.eq_ignore_ascii_case(want));
        let uri = |want: &str| self.uris.iter().any(|u| u == want);
        match subject {
            CertSubject::CommonName(want) => {
                self.common_names.iter().any(|cn| cn == want) || dns(want) || uri(want)
            }
            CertSubject::Dns(want) => dns(want),
            CertSubject::Uri(want) => uri(want),
        }
    }
}

/// Checks bearer tokens, client certificates and their `allow` rules.
#[derive(Debug)]
pub struct Authenticator {
    tokens: Vec<TokenConfig>,
    clients: Vec<ClientConfig>,
    insecure: bool,
}

/// Why a caller was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("a bearer token is required (Authorization: Bearer <token>)")]
    Missing,
    #[error("the Authorization header is not a bearer token")]
    Malformed,
    #[error("unknown bearer token")]
    Unknown,
    #[error("the client certificate matches no configured client and no bearer token was sent")]
    UnknownCertificate,
}

impl Authenticator {
    /// From the config's `auth` section; `None` means `insecure_no_auth`.
    pub fn new(auth: Option<&AuthConfig>) -> Self {
        match auth {
            Some(a) => Authenticator {
                tokens: a.tokens.clone(),
                clients: a.clients.clone(),
                insecure: false,
            },
            None => Authenticator {
                tokens: Vec::new(),
                clients: Vec::new(),
                insecure: true,
            },
        }
    }

    /// Identifies the caller from the `Authorization` header value alone.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, AuthError> {
        self.identify(authorization, None)
    }

    /// Identifies the caller from the `Authorization` header value, else from the verified
    /// client certificate of its connection (see the module doc for the order).
    pub fn identify(
        &self,
        authorization: Option<&[u8]>,
        peer: Option<&PeerCertificate>,
    ) -> Result<Caller, AuthError> {
        if self.insecure {
            return Ok(Caller {
                name: "anonymous".to_owned(),
                grant: Grant::Insecure,
            });
        }
        match (authorization, peer) {
            (Some(header), _) => self.by_token(header),
            (None, Some(peer)) => {
                let index = self
                    .clients
                    .iter()
                    .position(|c| peer.matches(&c.subject))
                    .ok_or(AuthError::UnknownCertificate)?;
                Ok(Caller {
                    name: self.clients[index].name.clone(),
                    grant: Grant::Client(index),
                })
            }
            (None, None) => Err(AuthError::Missing),
        }
    }

    fn by_token(&self, header: &[u8]) -> Result<Caller, AuthError> {
        let token = bearer(header).ok_or(AuthError::Malformed)?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        // Compare against every token, in constant time per comparison and without an
        // early exit, so timing tells nothing about which (if any) token matched.
        let mut found: Option<usize> = None;
        for (i, t) in self.tokens.iter().enumerate() {
            if bool::from(t.sha256.ct_eq(&digest)) {
                found = Some(i);
            }
        }
        let index = found.ok_or(AuthError::Unknown)?;
        Ok(Caller {
            name: self.tokens[index].name.clone(),
            grant: Grant::Token(index),
        })
    }

    /// The configured caller named `name` (a token's or a client's), as if it had called:
    /// the requester of an approved request, whose own rules the run is checked against.
    pub fn caller_named(&self, name: &str) -> Option<Caller> {
        if let Some(i) = self.tokens.iter().position(|t| t.name == name) {
            return Some(Caller {
                name: name.to_owned(),
                grant: Grant::Token(i),
            });
        }
        let i = self.clients.iter().position(|c| c.name == name)?;
        Some(Caller {
            name: name.to_owned(),
            grant: Grant::Client(i),
        })
    }

    /// True when the caller may do `action` on the backend called `backend`.
    pub fn allows(&self, caller: &Caller, backend: &str, action: Action) -> bool {
        match caller.grant {
            Grant::Insecure => self.insecure,
            Grant::Token(i) => self
                .tokens
                .get(i)
                .is_some_and(|t| t.permits(backend, action)),
            Grant::Client(i) => self
                .clients
                .get(i)
                .is_some_and(|c| c.permits(backend, action)),
        }
    }
}

/// A caller's `allow` rules, copied out of the [`Authenticator`] (for a blocking task such
/// as reading the audit file back): what [`Authenticator::allows`] would answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerRules {
    everything: bool,
    rules: Vec<AllowRule>,
}

impl CallerRules {
    /// Whether the caller may do `action` on the backend called `backend`.
    pub fn allows(&self, backend: &str, action: Action) -> bool {
        self.everything || self.rules.iter().any(|r| r.permits(backend, action))
    }
}

impl crate::audit::read::Coverage for CallerRules {
    fn covers(&self, backend: &str, action: Action) -> bool {
        self.allows(backend, action)
    }
}

impl Authenticator {
    /// The rules [`Authenticator::allows`] applies to `caller`.
    pub fn rules_of(&self, caller: &Caller) -> CallerRules {
        let rules = match caller.grant {
            Grant::Insecure => {
                return CallerRules {
                    everything: self.insecure,
                    rules: Vec::new(),
                }
            }
            Grant::Token(i) => self.tokens.get(i).map(|t| t.allow.clone()),
            Grant::Client(i) => self.clients.get(i).map(|c| c.allow.clone()),
        };
        CallerRules {
            everything: false,
            rules: rules.unwrap_or_default(),
        }
    }
}

impl Sever {
    /// 401 unless the `Authorization` header carries a known bearer token.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, ApiProblem> {
        self.auth
            .authenticate(authorization)
            .map_err(problems::unauthenticated)
    }

    /// 401 unless the `Authorization` header carries a known bearer token or, without
    /// that header, `peer` (the connection's verified client certificate) matches a
    /// configured client.
    pub fn authenticate_peer(
        &self,
        authorization: Option<&[u8]>,
        peer: Option<&PeerCertificate>,
    ) -> Result<Caller, ApiProblem> {
        self.auth
            .identify(authorization, peer)
            .map_err(problems::unauthenticated)
    }
}

/// The token of a `Bearer <token>` header value (scheme case-insensitive).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, token) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token.as_bytes())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "auth_cert_tests.rs"]
mod cert_tests;
