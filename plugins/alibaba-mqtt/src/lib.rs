//! # `alibaba-mqtt` — Alibaba Cloud ApsaraMQ for MQTT (OnsMqtt) adapter
//!
//! **Action.** `disconnect` by `client_id`: the RPC-style API `CloseConnection`
//! (OnsMqtt, version `2020-04-20`), which closes the client's online connection. The
//! device may reconnect by itself, following its client's reconnection logic.
//!
//! ```text
//! POST {url}/
//! Content-Type: application/x-www-form-urlencoded
//!
//! AccessKeyId=…&Action=CloseConnection&ClientId=…&Format=JSON&InstanceId=…[&RegionId=…]
//! [&SecurityToken=…]&SignatureMethod=HMAC-SHA1&SignatureNonce=…&SignatureVersion=1.0
//! &Timestamp=2024-05-01T12%3A00%3A00Z&Version=2020-04-20&Signature=…
//! ```
//!
//! The backend `url` is `https://onsmqtt.{region}.aliyuncs.com` in production.
//! Parameters are sorted by name, every name and value percent-encoded with the vendor's
//! rules (`A-Z a-z 0-9 - _ . ~` kept, everything else `%XY` over UTF-8, so a client id is
//! data whatever it holds). `Signature` is the vendor's RPC signature V1:
//! Base64(HMAC-SHA1(`AccessKeySecret&`, `POST&%2F&` + enc(canonicalized query))), checked
//! against Alibaba's two published test vectors. `Timestamp` (UTC,
//! `YYYY-MM-DDThh:mm:ssZ`) and `SignatureNonce` (a UUID-shaped hex string) come from the
//! host's clock and random bytes. The call is marked idempotent (closing a closed
//! connection changes nothing); a retry is planned afresh — new nonce, new timestamp, new
//! signature — never resent byte for byte. The signature, the AccessKey secret and the
//! STS token are listed for redaction, so a dry run shows them as `<redacted>`.
//!
//! **Settings.**
//!
//! | key | | |
//! |---|---|---|
//! | `instance_id` | required | the ApsaraMQ for MQTT instance (`post-cn-…`, `mqtt-cn-…`) |
//! | `access_key_id` | required | AccessKey id (an `STS.…` id with `security_token`) |
//! | `access_key_secret` | required, secret | AccessKey secret: signs, never sent |
//! | `region_id` | optional | sent as `RegionId`, e.g. `cn-shanghai` |
//! | `security_token` | optional, secret | STS token, sent as `SecurityToken` |
//!
//! **Answers.** Success is HTTP 200 `{"RequestId", "Code": 200, "Message", "Success": true}`;
//! errors are `{"RequestId", "HostId", "Code": "<string>", "Message", "Recommend"}`. The
//! vendor's `Message` goes into the problem's `detail` and `vendor.message`, its `Code`
//! into `vendor.code`, its `RequestId` into `vendor.request_id` (also the audit log's
//! `vendor_request_id`), and `Recommend` (a diagnosis link) into `vendor.recommend`.
//!
//! | vendor | canonical |
//! |---|---|
//! | 200, `Success: true` (or `"true"`) | `done` (the device may reconnect by itself) |
//! | 200, `Success: false` | mapped by its `Code` as below; an unknown code is 502 `upstream_rejected` |
//! | `Throttling*` or `*OverFlow` (e.g. 403 `SystemOverFlow`), whatever the status, or 429 | 429 `rate_limited`, the vendor's `Retry-After` passed on (`1` when it sent none) |
//! | 400 `InstancePermissionCheckFailed`, `PermissionCheckFailed`, `SignatureDoesNotMatch`, `CheckAccountInfoFailed`; 404 `InvalidAccessKeyId.NotFound`; 403 `Forbidden.RAM`, `MqttOwnerCheckError`; also `InvalidAccessKeyId*`, `InvalidSecurityToken*`, `Forbidden*`, `NoPermission*`, `IncompleteSignature`, and any other 401/403 | 502 `upstream_unauthorized` |
//! | 404 `ApiNotSupport` (the API is not offered on this instance or region — **not** a missing client) | 502 `upstream_rejected` |
//! | 400 `InvalidTimeStamp.Expired`, `SignatureNonceUsed`, `MissingParameter`, `InvalidParameter*`, `MqttInstanceNotFound`, any other 4xx | 502 `upstream_rejected` |
//! | `InternalError` / `ServiceUnavailable` (500, or 417 since the vendor's status change), any other 5xx | 502 `upstream_error` (retryable: re-signed and sent again within the backend's `retries`) |
//! | a body that is not the vendor's JSON, or a 2xx that does not say `Success` | 502 `upstream_error` |
//!
//! The error `Code` decides before the HTTP status, because the vendor has moved codes
//! between statuses (its notice "adjustment of HTTP status codes": `InternalError`
//! 500 → 417, `SystemOverFlow` 500 → 403, `MqttInstanceNotFound` 500 → 400,
//! `MqttOwnerCheckError` 500 → 403). This adapter never answers `target_not_found`: the
//! vendor documents no "no such client" error, and its 404s mean a missing API or key —
//! configuration problems, not a gone client.
//!
//! **Confirmed** (API reference `OnsMqtt 2020-04-20 CloseConnection`, the RPC
//! common-parameters page, the RPC signature V1 document): the parameters, POST with a
//! form body (or GET with a query string), the signature algorithm and its test vectors
//! for both methods, the success body, the error shape, and the codes
//! `InstancePermissionCheckFailed`, `PermissionCheckFailed` (400), `ApiNotSupport` (404),
//! `InternalError` (500). The API is documented as "testing phase, Professional Edition
//! instances in the Shanghai region only". From the vendor's ApsaraMQ for MQTT error-code
//! page and status notice (beyond the vendors file): `SystemOverFlow` is throttling,
//! `CheckAccountInfoFailed` an unreadable STS token, `MqttInstanceNotFound` an unknown
//! instance, and the status changes above; newer examples of the API family write
//! `"Code": "200"` and `"Success": "true"` as strings, which are read like the numbers.
//!
//! **Assumed** (the documents are silent):
//! - a client that is not connected answers `Success: true` (a no-op), so closing a
//!   connection twice is `done` both times — and the call is safe to retry;
//! - the gateway's other credential codes (`InvalidAccessKeyId*`, `InvalidSecurityToken*`,
//!   `Forbidden*`, `NoPermission*`, `IncompleteSignature`) mean refused credentials;
//!   `ServiceUnavailable` means a vendor failure like `InternalError`;
//! - throttling answers carry no `Retry-After`; Sever then sends `Retry-After: 1`.

mod answer;
pub mod signature;

use sever_plugin_sdk::prelude::*;

/// The API version `CloseConnection` belongs to.
pub const API_VERSION: &str = "2020-04-20";

/// An Alibaba backend's settings.
#[derive(Debug, Settings)]
pub struct AlibabaSettings {
    /// ApsaraMQ for MQTT instance id
    #[setting(check = settings::no_whitespace)]
    instance_id: String,
    /// AccessKey id
    #[setting(check = settings::no_whitespace)]
    access_key_id: String,
    /// AccessKey secret (signs every call; never sent)
    #[setting(secret, check = settings::no_whitespace)]
    access_key_secret: String,
    /// region, sent as RegionId (e.g. cn-shanghai)
    #[setting(check = region_id)]
    region_id: Option<String>,
    /// STS security token, for temporary credentials
    #[setting(secret, check = settings::no_whitespace)]
    security_token: Option<String>,
}

/// A region id such as `cn-shanghai`.
fn region_id(region: &str) -> Result<(), String> {
    let valid = region
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err("must be a region id such as cn-shanghai (lowercase letters, digits, '-')".into())
    }
}

/// One ApsaraMQ for MQTT instance, reached with one AccessKey.
#[derive(Debug)]
pub struct AlibabaMqtt {
    /// `{url}/`: RPC calls go to the endpoint's root.
    endpoint: String,
    instance_id: String,
    access_key_id: String,
    access_key_secret: String,
    /// HMAC-SHA1 keyed with the secret once, for every signature.
    signer: signature::Signer,
    region_id: Option<String>,
    security_token: Option<String>,
}

/// A disconnect in progress: the client id, kept to sign a retry afresh.
#[derive(Debug)]
pub struct Flow {
    client_id: String,
}

/// The most parameters a call carries (every optional one included).
const MAX_PARAMETERS: usize = 12;

impl AlibabaMqtt {
    /// Every parameter of the call but `Signature`, sorted by name, in `slots`; returns
    /// how many there are.
    fn parameters<'a>(
        &'a self,
        client_id: &'a str,
        nonce: &'a str,
        timestamp: &'a str,
        slots: &mut [(&'a str, &'a str); MAX_PARAMETERS],
    ) -> usize {
        let fixed = [
            ("AccessKeyId", self.access_key_id.as_str()),
            ("Action", "CloseConnection"),
            ("ClientId", client_id),
            ("Format", "JSON"),
            ("InstanceId", self.instance_id.as_str()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", nonce),
            ("SignatureVersion", "1.0"),
            ("Timestamp", timestamp),
            ("Version", API_VERSION),
        ];
        let optional = [
            self.region_id.as_deref().map(|r| ("RegionId", r)),
            self.security_token.as_deref().map(|t| ("SecurityToken", t)),
        ];
        let mut n = 0;
        for param in fixed.into_iter().chain(optional.into_iter().flatten()) {
            slots[n] = param;
            n += 1;
        }
        // Byte order of the names, as the signature requires (uppercase before lowercase).
        slots[..n].sort_unstable_by(|a, b| a.0.cmp(b.0));
        n
    }

    /// The signed `CloseConnection` call, with this `env`'s timestamp and nonce.
    fn close_connection(&self, client_id: &str, env: &Env) -> VendorRequest {
        const METHOD: &str = "POST";
        let nonce = signature::nonce(&env.random);
        let timestamp = signature::timestamp(env.unix_ms);
        let mut slots = [("", ""); MAX_PARAMETERS];
        let n = self.parameters(client_id, &nonce, &timestamp, &mut slots);
        // The canonical query is signed and is also the body, with the signature appended.
        let mut body = signature::canonical_query(slots[..n].iter().copied());
        let signature = self.signer.sign(&signature::string_to_sign(METHOD, &body));
        let encoded_signature = signature::percent(&signature);
        body.push_str("&Signature=");
        body.push_str(&encoded_signature);
        let mut request = VendorRequest::new(METHOD, self.endpoint.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .idempotent(true)
            .purpose("CloseConnection")
            .redact(signature)
            .redact(encoded_signature)
            .redact(self.access_key_secret.clone());
        if let Some(token) = &self.security_token {
            // The body carries the token percent-encoded, which the host's redaction of
            // the raw secret value would not match.
            request = request
                .redact(signature::percent(token))
                .redact(token.clone());
        }
        request
    }
}

impl Adapter for AlibabaMqtt {
    const NAME: &'static str = "alibaba-mqtt";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = AlibabaSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Alibaba Cloud ApsaraMQ for MQTT (OnsMqtt 2020-04-20, RPC API, signature V1)",
            vec![ActionSpec::new(
                Action::Disconnect,
                [[TargetField::ClientId]],
                "CloseConnection: closes the client's online connection; the device may \
                 reconnect by itself",
            )],
        )
    }

    fn new(backend: Backend<AlibabaSettings>) -> Result<Self, Vec<SettingError>> {
        let AlibabaSettings {
            instance_id,
            access_key_id,
            access_key_secret,
            region_id,
            security_token,
        } = backend.settings;
        Ok(AlibabaMqtt {
            endpoint: format!("{}/", backend.url.trim_end_matches('/')),
            instance_id,
            access_key_id,
            signer: signature::Signer::new(&access_key_secret),
            access_key_secret,
            region_id,
            security_token,
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let client_id = request.target.field(TargetField::ClientId).to_owned();
        let step = Step::Send(self.close_connection(&client_id, env));
        (Flow { client_id }, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        match input {
            Input::Response(response) => {
                let context = answer::Context {
                    client_id: &flow.client_id,
                    instance_id: &self.instance_id,
                    access_key_id: &self.access_key_id,
                };
                answer::answer(&context, &response)
            }
            // A fresh nonce and timestamp from this call's env: a new signature.
            Input::Retry { .. } => Step::Send(self.close_connection(&flow.client_id, env)),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => {
                unreachable!("alibaba-mqtt: resumed with the answer to an exchange it never plans")
            }
        }
    }
}

export_plugin!(AlibabaMqtt);

#[cfg(test)]
mod tests;
