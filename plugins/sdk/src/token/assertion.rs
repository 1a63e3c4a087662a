//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): a JWT
//! signed with the client's RSA key (RS256), made afresh for every token request from the
//! host's clock and random bytes. Signing is pure computation: RSASSA-PKCS1-v1_5 is
//! deterministic, so the same `Env` gives the same assertion.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sever_plugin_abi::Env;

/// `client_assertion_type` for a JWT bearer assertion (RFC 7523 §2.2).
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long a signed assertion is valid: it is used for one token request (Okta accepts
/// at most an hour).
const LIFETIME_S: u64 = 300;

/// A client's signing key for `private_key_jwt`: claims `iss` = `sub` = the client id,
/// `aud` = the token endpoint, `iat` = now, `exp` = now + 5 min, `jti` = the host's random
/// bytes in hex; header `alg: RS256`, `typ: JWT` and `kid` when given.
#[derive(Clone)]
pub struct ClientAssertion {
    client_id: String,
    key: EncodingKey,
    header: Header,
}

// By hand: the key is never printed.
impl std::fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientAssertion")
            .field("client_id", &self.client_id)
            .field("kid", &self.header.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    jti: String,
}

impl ClientAssertion {
    /// Reads an RSA private key in PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`,
    /// 2048 bits or more) and proves it signs. The error names the problem, never the key.
    pub fn rs256(
        client_id: &str,
        private_key_pem: &str,
        key_id: Option<&str>,
    ) -> Result<Self, String> {
        let key = EncodingKey::from_rsa_pem(private_key_pem.trim().as_bytes())
            .map_err(|_| "must be an RSA private key in PEM (PKCS#1 or PKCS#8)".to_owned())?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = key_id.map(str::to_owned);
        let assertion = ClientAssertion {
            client_id: client_id.to_owned(),
            key,
            header,
        };
        // The PEM parser does not check the key itself; a signature does.
        let probe = Env {
            unix_ms: 0,
            random: [0; 32],
        };
        assertion
            .sign("https://probe.invalid/token", &probe)
            .map_err(|_| {
                "must be an RSA private key of 2048 bits or more that can sign (RS256)".to_owned()
            })?;
        Ok(assertion)
    }

    /// The client id the assertion speaks for.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// A signed assertion for `audience` (the token endpoint's URL) at the `env`'s time.
    pub fn sign(&self, audience: &str, env: &Env) -> Result<String, String> {
        let iat = env.unix_ms / 1000;
        let jti: String = env.random.iter().map(|b| format!("{b:02x}")).collect();
        let claims = Claims {
            iss: &self.client_id,
            sub: &self.client_id,
            aud: audience,
            iat,
            exp: iat.saturating_add(LIFETIME_S),
            jti,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key).map_err(|err| err.to_string())
    }
}
