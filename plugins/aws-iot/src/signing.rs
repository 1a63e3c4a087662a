//! Signature V4 with the `aws-sigv4` crate (smithy-rs, the AWS SDK for Rust's signer), never
//! by hand. Signing is pure: the time is the host's clock from the call's `Env`, so every
//! call — and every retry — is signed afresh, and a test with a fixed `Env` gets exact
//! bytes.
//!
//! The crate's default settings are the ones AWS IoT's data plane needs (confirmed in its
//! `settings.rs`): `PercentEncodingMode::Double` (the canonical URI re-encodes the path, so
//! `a%2Fb` on the wire is `a%252Fb` in the canonical request — the non-S3 rule), URI
//! normalisation on, `PayloadChecksumKind::NoHeader` (the empty body's hash is signed, no
//! `x-amz-content-sha256` header), and the session token included in the signature.

use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

/// The `provider_name` the crate records for credentials (never sent).
const PROVIDER: &str = "sever";

/// What signs requests for one backend: its credentials, region and signing name.
pub struct Signer {
    identity: Identity,
    region: String,
    name: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("region", &self.region)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A signed request's additions: the headers to add (`x-amz-date`, `x-amz-security-token`
/// with temporary credentials, `authorization`), in the signer's order, and the signature
/// alone (to be listed for redaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub signature: String,
}

impl Signer {
    /// A signer for these credentials, `region` (`eu-west-1`) and signing name (`iotdata`).
    pub fn new(
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
        region: &str,
        name: &str,
    ) -> Self {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key,
            session_token.map(str::to_owned),
            None,
            PROVIDER,
        );
        Signer {
            identity: credentials.into(),
            region: region.to_owned(),
            name: name.to_owned(),
        }
    }

    /// Signs `method url` with `headers` (besides `host`, which the signer derives from
    /// the URL as the host sends it: without a default port) and `body`, at `unix_ms`.
    /// `url` must be absolute and already percent-encoded. Errors name what could not be
    /// signed, never a secret.
    pub fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        unix_ms: u64,
    ) -> Result<Signed, String> {
        let time = UNIX_EPOCH + Duration::from_millis(unix_ms);
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(&self.name)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign: {e}"))?
            .into();
        let request = SignableRequest::new(
            method,
            url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("cannot sign the request for {url}: {e}"))?;
        let (instructions, signature) = sign(request, &params)
            .map_err(|e| format!("cannot sign the request for {url}: {e}"))?
            .into_parts();
        let (added, _query) = instructions.into_parts();
        let headers = added
            .into_iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect();
        Ok(Signed { headers, signature })
    }
}
