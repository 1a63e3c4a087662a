//! Caller authentication and authorization (spec §2 `auth`, §4 401/403).

use crate::config::{AuthConfig, TokenConfig};
use sever_plugin_sdk::Action;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's (or client's) configured name; `anonymous` without auth.
    pub name: String,
    /// Index into the token list, or `None` when running with `insecure_no_auth`.
    token: Option<usize>,
}

impl Caller {
    /// True when running without authentication.
    pub fn is_insecure(&self) -> bool {
        self.token.is_none()
    }
}

/// Checks bearer tokens and their `allow` rules.
#[derive(Debug)]
pub struct Authenticator {
    tokens: Vec<TokenConfig>,
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
}

impl Authenticator {
    /// From the config's `auth` section; `None` means `insecure_no_auth`.
    pub fn new(auth: Option<&AuthConfig>) -> Self {
        match auth {
            Some(a) => Authenticator {
                tokens: a.tokens.clone(),
                insecure: false,
            },
            None => Authenticator {
                tokens: Vec::new(),
                insecure: true,
            },
        }
    }

    /// Identifies the caller from the `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Result<Caller, AuthError> {
        if self.insecure {
            return Ok(Caller {
                name: "anonymous".to_owned(),
                token: None,
            });
        }
        let header = authorization.ok_or(AuthError::Missing)?;
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
            token: Some(index),
        })
    }

    /// True when the caller may do `action` on the backend called `backend`.
    pub fn allows(&self, caller: &Caller, backend: &str, action: Action) -> bool {
        let Some(index) = caller.token else {
            return self.insecure;
        };
        self.tokens
            .get(index)
            .is_some_and(|t| t.permits(backend, action))
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
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bearer_parsing_is_strict_about_the_scheme() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }
}
