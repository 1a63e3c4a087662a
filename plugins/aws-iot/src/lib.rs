//! # `aws-iot` — AWS IoT Core data plane `DeleteConnection` adapter (Signature V4)
//!
//! **Action.** `disconnect` by `client_id`:
//!
//! ```text
//! DELETE {url}/connections/{client_id}?cleanSession={true|false}&preventWillMessage={true|false}
//! x-amz-date: 20231114T221320Z
//! x-amz-security-token: …        (temporary credentials only)
//! authorization: AWS4-HMAC-SHA256 Credential={akid}/{yyyymmdd}/{region}/{signing_name}/aws4_request,
//!                SignedHeaders=host;x-amz-date[;x-amz-security-token], Signature=…
//! ```
//!
//! with an empty body. The backend `url` is the account's data endpoint,
//! `https://{prefix}-ats.iot.{region}.amazonaws.com` (`aws iot describe-endpoint
//! --endpoint-type iot:Data-ATS`). The client id is one path segment, percent-encoded over
//! its UTF-8 bytes keeping only `A-Z a-z 0-9 - . _ ~`. Ids AWS refuses are refused before
//! anything is sent (400 `invalid_request`): one starting with `$`, one longer than 128
//! characters.
//!
//! **Signing** uses the maintained `aws-sigv4` crate ([`signing`]), never hand-written
//! code, with the signing name `signing_name` (default `iotdata`, botocore's model and what
//! every AWS SDK sends; the service's prose says `iotdevicegateway`, the name MQTT over
//! WebSocket signs with — configurable for that reason). The time is the host's clock from
//! the call's `Env` (the adapter never reads a clock), so a retry is signed afresh, never
//! resent. The signature and the session token are listed for redaction: a dry run shows
//! them, and the whole `authorization` header, as `<redacted>` (a signed request could be
//! replayed by whoever reads it).
//!
//! **What the cut does.** "AWS IoT Core closes the client's network connection"; with
//! `clean_session: true` the persistent session (subscriptions, queued messages) is dropped
//! too; `prevent_will_message: true` suppresses the will. The client may reconnect at
//! once (blocking it means detaching or deactivating its certificate or policy: not this
//! call).
//!
//! **Settings.** `region`, `access_key_id`, `secret_access_key` (secret), `session_token`
//! (optional, secret: STS credentials), `signing_name` (default `iotdata`), `clean_session`
//! (bool, default `false`), `prevent_will_message` (bool, default `false`). The key needs
//! `iot:DeleteConnection` on the client's resource.
//!
//! **Answers** (restJson1): the error code from the `x-amzn-ErrorType` header (the text
//! before `:`), else the body's `__type` (after `#`) or `code`; the message from the body's
//! `message`/`Message`; `vendor.request_id` from `x-amzn-RequestId`.
//!
//! | vendor | canonical |
//! |---|---|
//! | 200, empty body (or `{}`) | `done` |
//! | 404 `ResourceNotFoundException` (the client is not connected, assumed) | 404 `target_not_found` (on a retry the detail says the first attempt may have made the cut) |
//! | 401 `UnauthorizedException`, 403 `ForbiddenException`, `InvalidSignatureException`, `UnrecognizedClientException`, `AccessDeniedException`, `ExpiredTokenException`, `IncompleteSignatureException`, `MissingAuthenticationTokenException`; any other 401/403 | 502 `upstream_unauthorized` |
//! | 400 `InvalidRequestException`; a 404 with another code; any other 4xx | 502 `upstream_rejected` |
//! | 429 `ThrottlingException` (or that code with any status) | 429 `rate_limited` (the vendor's `Retry-After` passed on) |
//! | 500 `InternalFailureException`, 503 `ServiceUnavailableException`, any 5xx | 502 `upstream_error` (retryable, re-signed) |
//! | a 200 whose body is neither empty nor a JSON object; another 2xx | 502 `upstream_error` |
//!
//! **Confirmed** (AWS IoT API Reference `DeleteConnection`; aws-sdk-js-v3
//! `client-iot-data-plane`; `aws-sdk-iotdataplane` 1.103.0; botocore's `iot-data`
//! 2015-05-28 model; `aws-sigv4` 1.6.4): the method, path and query names, both flags
//! defaulting to false, the id rules (1–128, not starting with `$`, percent-encoded), the
//! 200 with no output, the error shapes (`ForbiddenException`, `InternalFailureException`,
//! `InvalidRequestException`, `ResourceNotFoundException`, `ThrottlingException`), the
//! signing name `iotdata` in the model, and the signer's default settings.
//!
//! **Assumed:** the restJson1 error convention for this service; the front door's
//! signature and credential error names; 128 counts characters; a 200 is synchronous
//! (`done`); a 404 means the client is not connected, and a second cut is 404; whether
//! the endpoint also accepts `iotdevicegateway` for this call.

mod answer;
pub mod signing;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod vectors;

use sever_plugin_sdk::prelude::*;

/// The signing name of botocore's `iot-data` model, which every AWS SDK sends.
pub const DEFAULT_SIGNING_NAME: &str = "iotdata";
/// The longest client id AWS IoT takes, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 128;

/// An AWS IoT backend's settings.
#[derive(Debug, Settings)]
pub struct AwsIotSettings {
    /// AWS region of the data endpoint (e.g. eu-west-1)
    #[setting(check = region)]
    region: String,
    /// access key id (AKIA…, or ASIA… with session_token)
    #[setting(check = settings::no_whitespace)]
    access_key_id: String,
    /// secret access key (signs every call; never sent)
    #[setting(secret, check = settings::no_whitespace)]
    secret_access_key: String,
    /// STS session token, for temporary credentials
    #[setting(secret, check = settings::no_whitespace)]
    session_token: Option<String>,
    /// SigV4 signing name (default iotdata)
    #[setting(check = signing_name)]
    signing_name: Option<String>,
    /// also drop the client's persistent session (default false)
    clean_session: Option<bool>,
    /// suppress the client's will message (default false)
    prevent_will_message: Option<bool>,
}

/// A region or signing name: lowercase letters, digits and `-`.
fn region(value: &str) -> Result<(), String> {
    let valid = value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err("must be lowercase letters, digits and '-' (e.g. eu-west-1)".into())
    }
}

/// A signing name: lowercase letters, digits and `-`.
fn signing_name(value: &str) -> Result<(), String> {
    region(value).map_err(|_| "must be lowercase letters, digits and '-' (e.g. iotdata)".into())
}

/// One AWS IoT data endpoint, reached with one key.
pub struct AwsIot {
    url: String,
    signer: signing::Signer,
    session_token: Option<String>,
    clean_session: bool,
    prevent_will_message: bool,
}

impl std::fmt::Debug for AwsIot {
    /// Never shows the session token (the signer shows neither secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsIot")
            .field("url", &self.url)
            .field("signer", &self.signer)
            .field("clean_session", &self.clean_session)
            .field("prevent_will_message", &self.prevent_will_message)
            .finish_non_exhaustive()
    }
}

/// A disconnect in progress: the client id, to sign a retry afresh, and whether the call
/// in flight is a retry.
#[derive(Debug)]
pub struct Flow {
    client_id: String,
    retried: bool,
}

impl AwsIot {
    /// The signed `DeleteConnection` call for this `env`'s time.
    fn delete_connection(&self, client_id: &str, env: &Env) -> Result<VendorRequest, Problem> {
        let mut url = encode::url_with_segments(&self.url, &["connections", client_id]);
        let flag = |b: bool| if b { "true" } else { "false" };
        url.push_str("?cleanSession=");
        url.push_str(flag(self.clean_session));
        url.push_str("&preventWillMessage=");
        url.push_str(flag(self.prevent_will_message));
        let signed = self
            .signer
            .sign("DELETE", &url, &[], b"", env.unix_ms)
            .map_err(|why| Problem::new(ProblemKind::InvalidTarget, why))?;
        let mut request = VendorRequest::new("DELETE", url)
            .idempotent(true)
            .purpose("DeleteConnection");
        for (name, value) in signed.headers {
            request = request.header(&name, value);
        }
        request = request.redact(signed.signature);
        if let Some(token) = &self.session_token {
            request = request.redact(token.clone());
        }
        Ok(request)
    }

    fn plan(&self, client_id: &str, env: &Env) -> Step {
        match self.delete_connection(client_id, env) {
            Ok(request) => Step::Send(request),
            Err(problem) => Step::Fail(problem),
        }
    }
}

/// The ids AWS IoT refuses, refused before anything is sent.
fn check_client_id(client_id: &str) -> Result<(), Problem> {
    if client_id.starts_with('$') {
        return Err(Problem::new(
            ProblemKind::InvalidTarget,
            "target.client_id must not start with '$' (AWS IoT reserves such ids)",
        ));
    }
    if client_id.chars().count() > MAX_CLIENT_ID_CHARS {
        return Err(Problem::new(
            ProblemKind::InvalidTarget,
            format!("target.client_id is longer than AWS IoT's {MAX_CLIENT_ID_CHARS} characters"),
        ));
    }
    Ok(())
}

impl Adapter for AwsIot {
    const NAME: &'static str = "aws-iot";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = AwsIotSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "AWS IoT Core data plane (DeleteConnection, Signature V4)",
            vec![ActionSpec::new(
                Action::Disconnect,
                [[TargetField::ClientId]],
                "DELETE /connections/{client_id}: closes the client's connection (with \
                 clean_session also its session); it may reconnect",
            )],
        )
    }

    fn new(backend: Backend<AwsIotSettings>) -> Result<Self, Vec<SettingError>> {
        let AwsIotSettings {
            region,
            access_key_id,
            secret_access_key,
            session_token,
            signing_name,
            clean_session,
            prevent_will_message,
        } = backend.settings;
        let name = signing_name.unwrap_or_else(|| DEFAULT_SIGNING_NAME.to_owned());
        let signer = signing::Signer::new(
            &access_key_id,
            &secret_access_key,
            session_token.as_deref(),
            &region,
            &name,
        );
        // A probe signature: a URL the signer cannot take is a config error now, not a
        // refusal of every request later.
        let probe = format!("{}/connections/probe", backend.url);
        if let Err(why) = signer.sign("DELETE", &probe, &[], b"", 0) {
            return Err(vec![SettingError {
                key: String::new(),
                message: format!("the backend url cannot be signed for: {why}"),
            }]);
        }
        Ok(AwsIot {
            url: backend.url,
            signer,
            session_token,
            clean_session: clean_session.unwrap_or(false),
            prevent_will_message: prevent_will_message.unwrap_or(false),
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let client_id = request.target.field(TargetField::ClientId).to_owned();
        let step = match check_client_id(&client_id) {
            Ok(()) => self.plan(&client_id, env),
            Err(problem) => Step::Fail(problem),
        };
        let flow = Flow {
            client_id,
            retried: false,
        };
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        match input {
            Input::Response(response) => answer::answer(&flow.client_id, flow.retried, &response),
            // Signed afresh with this call's time: never the same bytes.
            Input::Retry { .. } => {
                flow.retried = true;
                self.plan(&flow.client_id, env)
            }
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("aws-iot: resumed with the answer to an exchange it never plans"),
        }
    }
}

export_plugin!(AwsIot);
