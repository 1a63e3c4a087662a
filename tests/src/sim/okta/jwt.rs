//! The simulator's own check of an RS256 client assertion: RSASSA-PKCS1-v1_5 verification
//! (RFC 8017 §8.2.2) written out over big integers, so it shares no code with the SDK's
//! signer (jsonwebtoken over ring). Test code: short, not constant-time, public keys only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use num_bigint::BigUint;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// DER of `DigestInfo { sha256, NULL }` before the 32-byte hash (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// An RSA public key: modulus `n`, exponent `e`, `n`'s length in bytes.
#[derive(Debug, Clone)]
pub(crate) struct PublicKey {
    n: BigUint,
    e: BigUint,
    len: usize,
}

impl PublicKey {
    /// From the modulus in hex (as `openssl rsa -noout -modulus` prints it) and e = 65537.
    pub(crate) fn from_modulus_hex(hex: &str) -> Option<Self> {
        let n = BigUint::parse_bytes(hex.trim().as_bytes(), 16)?;
        let len = n.to_bytes_be().len();
        (len >= 256).then(|| PublicKey {
            n,
            e: BigUint::from(65_537u32),
            len,
        })
    }

    /// Whether `signature` is this key's RS256 signature of `message`.
    fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.len {
            return false;
        }
        let s = BigUint::from_bytes_be(signature);
        if s >= self.n {
            return false;
        }
        let m = s.modpow(&self.e, &self.n).to_bytes_be();
        let mut em = vec![0u8; self.len - m.len()];
        em.extend_from_slice(&m);
        em == self.encoded(message)
    }

    /// `0x00 0x01 FF… 0x00 DigestInfo H(message)`.
    fn encoded(&self, message: &[u8]) -> Vec<u8> {
        let hash = Sha256::digest(message);
        let t_len = SHA256_DIGEST_INFO.len() + hash.len();
        let mut em = vec![0x00, 0x01];
        em.resize(self.len - t_len - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(&SHA256_DIGEST_INFO);
        em.extend_from_slice(&hash);
        em
    }
}

/// A compact JWS checked against `key`: its header and claims, or why not.
pub(crate) fn verify_rs256(jwt: &str, key: &PublicKey) -> Result<(Value, Value), &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err("The client_assertion is not a compact JWS.");
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).ok();
    let json = |bytes: Vec<u8>| {
        serde_json::from_slice::<Value>(&bytes)
            .ok()
            .filter(Value::is_object)
    };
    let header = decode(header)
        .and_then(json)
        .ok_or("The client_assertion header is not valid JSON.")?;
    let claims_value = decode(claims)
        .and_then(json)
        .ok_or("The client_assertion payload is not valid JSON.")?;
    if header["alg"] != "RS256" {
        return Err("The client_assertion alg must be RS256.");
    }
    let signature = decode(signature).ok_or("The client_assertion signature is invalid.")?;
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    if !key.verifies(signed.as_bytes(), &signature) {
        return Err("The client_assertion signature is invalid.");
    }
    Ok((header, claims_value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/keys/");

    fn key() -> PublicKey {
        let hex = std::fs::read_to_string(format!("{KEYS}okta-test-rsa-2048.modulus.hex")).unwrap();
        PublicKey::from_modulus_hex(&hex).unwrap()
    }

    #[test]
    fn the_openssl_signed_assertion_verifies_and_a_changed_one_does_not() {
        let jwt = std::fs::read_to_string(format!("{KEYS}okta-test-assertion.jwt")).unwrap();
        let (header, claims) = verify_rs256(jwt.trim(), &key()).unwrap();
        assert_eq!(
            (header["kid"].as_str(), claims["iss"].as_str()),
            (Some("kid-1"), Some("0oa-sever"))
        );
        let mut tampered = jwt.trim().to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify_rs256(&tampered, &key()).is_err());
        let parts: Vec<&str> = jwt.trim().split('.').collect();
        let other_claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"evil"}"#);
        let swapped = format!("{}.{other_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            verify_rs256(&swapped, &key()),
            Err("The client_assertion signature is invalid.")
        );
    }
}
