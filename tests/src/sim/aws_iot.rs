//! A strict simulator of AWS IoT Core's data-plane `DeleteConnection`, behind Signature V4
//! verified by the simulator's own code ([`sigv4`]: `hmac` + `sha2`, not the adapter's
//! crate).
//!
//! ```text
//! DELETE /connections/{clientId}?cleanSession=…&preventWillMessage=…
//! authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…
//! ```
//!
//! Answers carry `x-amzn-RequestId`; errors `x-amzn-ErrorType: <Code>` and
//! `{"message": "…"}` (restJson1). Checks run in this order; the first that fails answers:
//!
//! 1. the path is `/connections/{id}` and the method `DELETE` — else 404
//!    `UnknownOperationException`;
//! 2. an `authorization` header — else 403 `MissingAuthenticationTokenException`; a complete
//!    SigV4 one — else 403 `IncompleteSignatureException`; a known access key id — else 403
//!    `UnrecognizedClientException`; `x-amz-security-token` equal to the configured STS
//!    token (absent when none is) and signed — else 403 `UnrecognizedClientException`;
//! 3. `x-amz-date` well formed, within 5 minutes of the simulator's clock (the host's plus a
//!    settable offset) and on the scope's date — else 403 `InvalidSignatureException`
//!    ("Signature expired…"); the scope's region and service are the configured ones, and
//!    `host` and `x-amz-date` are signed — else 403 `InvalidSignatureException`;
//! 4. the signature equals the simulator's own computation — else 403
//!    `InvalidSignatureException` ("The request signature we calculated does not match…");
//! 5. the key may call `iot:DeleteConnection` — else 403 `ForbiddenException`;
//! 6. vendor faults answer here ([`Fault::Answer`](super::Fault), [`Fault::InternalError`]:
//!    500 `InternalFailureException`);
//! 7. the id decodes to UTF-8, has 1–128 characters and does not start with `$`, the query
//!    holds only `cleanSession` and `preventWillMessage` (`true`/`false`), and the body is
//!    empty — else 400 `InvalidRequestException`;
//! 8. the client is connected — else 404 `ResourceNotFoundException`; it is disconnected
//!    (200, empty body). A second cut is therefore a 404.
//!
//! Transport faults and the delay apply before any check. Every signature verdict is kept
//! ([`Sim::signature_verdicts`]).

pub mod sigv4;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{header, request::Parts, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::json;

use super::calls::decode_segment;
use super::{Call, Canned, Serving, Sim, Vendor};

/// How far `x-amz-date` may be from the simulator's clock.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// What the simulated endpoint knows when it starts.
#[derive(Debug, Clone)]
pub struct AwsIotSimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    pub region: String,
    /// The signing name requests must be scoped to (`iotdata`).
    pub service: String,
    /// Access key id → secret, for keys allowed `iot:DeleteConnection`.
    pub keys: Vec<(String, String)>,
    /// Keys that sign correctly but lack `iot:DeleteConnection`.
    pub denied_keys: Vec<(String, String)>,
    /// The STS token requests must carry, if any.
    pub session_token: Option<String>,
    /// Connected client ids.
    pub clients: BTreeSet<String>,
    /// Added to the host's clock, in seconds.
    pub clock_offset_secs: i64,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl AwsIotSimConfig {
    /// One region and key, signing name `iotdata`, no client connected.
    pub fn new(region: &str, access_key_id: &str, secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: region.to_owned(),
            service: "iotdata".to_owned(),
            keys: vec![(access_key_id.to_owned(), secret.to_owned())],
            denied_keys: Vec::new(),
            session_token: None,
            clients: BTreeSet::new(),
            clock_offset_secs: 0,
            echo_calls: false,
        }
    }

    /// Connects these clients.
    pub fn with_clients<'a>(mut self, ids: impl IntoIterator<Item = &'a str>) -> Self {
        self.clients.extend(ids.into_iter().map(str::to_owned));
        self
    }

    /// Requires this STS token.
    pub fn with_session_token(mut self, token: &str) -> Self {
        self.session_token = Some(token.to_owned());
        self
    }

    /// Adds a key that signs correctly but may not disconnect.
    pub fn with_denied_key(mut self, access_key_id: &str, secret: &str) -> Self {
        self.denied_keys
            .push((access_key_id.to_owned(), secret.to_owned()));
        self
    }
}

/// A running AWS IoT simulator; stops (and closes its port) when dropped.
pub type AwsIotSim = Sim<AwsIot>;

/// What the simulated endpoint knows: keys, clients, its clock, and its verdicts.
#[derive(Debug)]
pub struct AwsIot {
    region: String,
    service: String,
    /// Access key id → (secret, allowed to disconnect).
    keys: HashMap<String, (String, bool)>,
    session_token: Option<String>,
    clients: Mutex<BTreeSet<String>>,
    clock_offset_secs: Mutex<i64>,
    /// Signature verdicts by call index.
    verdicts: Mutex<HashMap<usize, bool>>,
    requests: AtomicU64,
}

/// An AWS error: status, `x-amzn-ErrorType`, message.
#[derive(Debug)]
struct AwsError(StatusCode, String, String);

fn aws_error(status: StatusCode, code: &str, message: impl Into<String>) -> AwsError {
    AwsError(status, code.to_owned(), message.into())
}

impl Vendor for AwsIot {
    const NAME: &'static str = "aws-iot";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html",
        "<html><body>AWS IoT (not really)</body></html>",
    );
    const ERRORS_AFTER_AUTH: bool = true;
    type Config = AwsIotSimConfig;
    type Switch = ();

    fn new(config: AwsIotSimConfig) -> (Self, Serving) {
        let mut keys = HashMap::new();
        for (id, secret) in config.denied_keys {
            keys.insert(id, (secret, false));
        }
        for (id, secret) in config.keys {
            keys.insert(id, (secret, true));
        }
        let iot = AwsIot {
            region: config.region,
            service: config.service,
            keys,
            session_token: config.session_token,
            clients: Mutex::new(config.clients),
            clock_offset_secs: Mutex::new(config.clock_offset_secs),
            verdicts: Mutex::default(),
            requests: AtomicU64::new(0),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (iot, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        Canned::new(
            500,
            "InternalFailureException",
            "Internal failure. Please try again later.",
        )
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        self.respond(Err(aws_error(
            error.status_code(),
            &error.code,
            &error.message,
        )))
    }

    fn serve(&self, call: Call<'_>) -> Response {
        let answer = self.delete_connection(&call);
        let response = self.respond(answer);
        // A fault's vendor error carries its `Retry-After` when it is what was answered.
        match &call.error {
            Some(canned) if canned.status == response.status().as_u16() => {
                canned.headers_onto(response)
            }
            _ => response,
        }
    }

    fn calls_cleared(&self) {
        self.verdicts.lock().clear();
    }
}

impl AwsIot {
    fn respond(&self, answer: Result<(), AwsError>) -> Response {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = format!("5a1f0c3e-0000-4000-8000-{n:012}");
        let mut response = match answer {
            Ok(()) => StatusCode::OK.into_response(),
            Err(AwsError(status, code, message)) => {
                let body = json!({"message": message}).to_string();
                let mut r =
                    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
                if let Ok(value) = HeaderValue::from_str(&code) {
                    r.headers_mut().insert("x-amzn-errortype", value);
                }
                r
            }
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-amzn-requestid", value);
        }
        response
    }

    fn now(&self) -> i64 {
        let host = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        host.saturating_add(*self.clock_offset_secs.lock())
    }

    fn delete_connection(&self, call: &Call<'_>) -> Result<(), AwsError> {
        let parts = call.parts;
        let raw: Vec<&str> = parts.uri.path().split('/').collect();
        let segment = match raw.as_slice() {
            ["", "connections", id] if parts.method == Method::DELETE && !id.is_empty() => *id,
            _ => {
                let message = format!("Unknown operation {} {}", parts.method, parts.uri.path());
                return Err(aws_error(
                    StatusCode::NOT_FOUND,
                    "UnknownOperationException",
                    message,
                ));
            }
        };
        let allowed = self.authenticate(call)?;
        if !allowed {
            let message = "User is not authorized to perform: iot:DeleteConnection";
            return Err(aws_error(
                StatusCode::FORBIDDEN,
                "ForbiddenException",
                message,
            ));
        }
        if let Some(canned) = &call.error {
            return Err(aws_error(
                canned.status_code(),
                &canned.code,
                &canned.message,
            ));
        }
        let invalid =
            |message: &str| aws_error(StatusCode::BAD_REQUEST, "InvalidRequestException", message);
        let client = decode_segment(segment).ok_or_else(|| invalid("clientId is not UTF-8"))?;
        if client.starts_with('$') || client.chars().count() > 128 {
            return Err(invalid(
                "clientId must match ^[^$].* and be 1 to 128 characters",
            ));
        }
        for pair in parts
            .uri
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let valid = matches!(
                pair,
                "cleanSession=true"
                    | "cleanSession=false"
                    | "preventWillMessage=true"
                    | "preventWillMessage=false"
            );
            if !valid {
                return Err(invalid(&format!("invalid query parameter {pair}")));
            }
        }
        if !call.body.is_empty() {
            return Err(invalid("DeleteConnection takes no body"));
        }
        if !self.clients.lock().remove(&client) {
            let message = format!("No connection found for client {client}");
            return Err(aws_error(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                message,
            ));
        }
        Ok(())
    }

    /// Verifies the signature; whether the key may disconnect.
    fn authenticate(&self, call: &Call<'_>) -> Result<bool, AwsError> {
        let headers = &call.parts.headers;
        let forbidden = |code: &str, message: &str| aws_error(StatusCode::FORBIDDEN, code, message);
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(value) = text("authorization") else {
            return Err(forbidden(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        };
        let Some(auth) = sigv4::parse_authorization(value) else {
            let message =
                "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders'";
            return Err(forbidden("IncompleteSignatureException", message));
        };
        let unrecognized = "The security token included in the request is invalid.";
        let Some((secret, allowed)) = self.keys.get(&auth.access_key_id) else {
            return Err(forbidden("UnrecognizedClientException", unrecognized));
        };
        let token = text("x-amz-security-token");
        let token_signed = auth
            .signed_headers
            .iter()
            .any(|h| h == "x-amz-security-token");
        if token != self.session_token.as_deref() || (token.is_some() && !token_signed) {
            return Err(forbidden("UnrecognizedClientException", unrecognized));
        }
        let invalid = |message: String| forbidden("InvalidSignatureException", &message);
        let amz_date = text("x-amz-date").unwrap_or_default();
        let Some(signed_at) = sigv4::parse_amz_date(amz_date) else {
            return Err(invalid(format!("Invalid X-Amz-Date '{amz_date}'")));
        };
        let now = self.now();
        if (now - signed_at).abs() > MAX_SKEW_SECS || !amz_date.starts_with(&auth.date) {
            return Err(invalid(format!(
                "Signature expired: {amz_date} is now earlier or later than the server's time \
                 by more than 5 minutes ({} s)",
                now - signed_at
            )));
        }
        if auth.region != self.region || auth.service != self.service {
            return Err(invalid(format!(
                "Credential should be scoped to a valid region and service: '{}/{}' is not '{}/{}'",
                auth.region, auth.service, self.region, self.service
            )));
        }
        let signed = |h: &str| auth.signed_headers.iter().any(|s| s == h);
        if !signed("host") || !signed("x-amz-date") {
            return Err(invalid("'Host' and 'X-Amz-Date' must be signed".to_owned()));
        }
        let parts = call.parts;
        let canonical = sigv4::canonical_request(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query().unwrap_or_default(),
            headers,
            &auth.signed_headers,
            call.body,
        );
        let valid = sigv4::signature(secret, amz_date, &auth, &canonical) == auth.signature;
        self.verdicts.lock().insert(call.index, valid);
        if !valid {
            return Err(invalid(
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. Consult the service \
                 documentation for details."
                    .to_owned(),
            ));
        }
        Ok(*allowed)
    }
}

impl Sim<AwsIot> {
    /// Whether a client is connected.
    pub fn is_connected(&self, client_id: &str) -> bool {
        self.vendor().clients.lock().contains(client_id)
    }

    /// Connects a client.
    pub fn connect(&self, client_id: &str) {
        self.vendor().clients.lock().insert(client_id.to_owned());
    }

    /// The connected clients, sorted.
    pub fn connected_clients(&self) -> Vec<String> {
        self.vendor().clients.lock().iter().cloned().collect()
    }

    /// The simulator's signature verdict on each call, in arrival order (`None`: an earlier
    /// check or a fault answered first).
    pub fn signature_verdicts(&self) -> Vec<Option<bool>> {
        let verdicts = self.vendor().verdicts.lock();
        (0..self.calls().len())
            .map(|i| verdicts.get(&i).copied())
            .collect()
    }

    /// Runs the simulator's clock `secs` ahead of the host's (behind when negative).
    pub fn set_clock_offset(&self, secs: i64) {
        *self.vendor().clock_offset_secs.lock() = secs;
    }
}
