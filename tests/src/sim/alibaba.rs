//! A strict simulator of Alibaba Cloud ApsaraMQ for MQTT's RPC API, `CloseConnection`
//! (OnsMqtt `2020-04-20`), behind the vendor's V1 signature.
//!
//! It serves `POST /` with the parameters in an `application/x-www-form-urlencoded` body,
//! and `GET /` with them in the query string, as the vendor does. Answers are JSON
//! (`application/json;charset=utf-8`, with `x-acs-request-id`): success
//! `{"RequestId", "Code": 200, "Message": "operation success.", "Success": true}`, errors
//! `{"RequestId", "HostId", "Code", "Message", "Recommend"}`. Checks run in this order; the
//! first that fails answers:
//!
//! 1. path `/` — else 404 `InvalidAction.NotFound`; method GET or POST — else 405
//!    `UnsupportedHTTPMethod`;
//! 2. the parameters decode (form rules; a POST body counts only with the form content
//!    type) with no name twice — else 400 `InvalidParameter`;
//! 3. `Action`, `Version`, `Format`, `AccessKeyId`, `Signature`, `SignatureMethod`,
//!    `SignatureVersion`, `SignatureNonce`, `Timestamp`, `InstanceId`, `ClientId` present
//!    and non-empty — else 400 `MissingParameter` naming it; no parameter outside those and
//!    `RegionId`, `SecurityToken` (simulator strictness: the real gateway ignores extras) —
//!    else 400 `InvalidParameter`;
//! 4. `Action=CloseConnection` — else 404 `InvalidAction.NotFound`; `Version=2020-04-20` —
//!    else 400 `InvalidVersion`; `Format=JSON`, `SignatureMethod=HMAC-SHA1`,
//!    `SignatureVersion=1.0` — else 400 `InvalidParameter`;
//! 5. `Timestamp` in the form `YYYY-MM-DDThh:mm:ssZ` — else 400 `InvalidTimeStamp.Format`;
//!    within 15 minutes of the simulator's clock (the host's clock plus a settable offset)
//!    — else 400 `InvalidTimeStamp.Expired`;
//! 6. `AccessKeyId` known — else 404 `InvalidAccessKeyId.NotFound`; `SecurityToken` equal
//!    to the configured STS token, and absent when none is configured — else 400
//!    `InvalidSecurityToken.MismatchWithAccessKey` / `InvalidSecurityToken.Malformed`;
//! 7. `Signature` equal to the simulator's own computation — else 400
//!    `SignatureDoesNotMatch` (its message shows the server's string to sign, as the vendor's
//!    does);
//! 8. `SignatureNonce` never seen — else 400 `SignatureNonceUsed` (a nonce is spent once the
//!    signature checked out, whatever follows);
//! 9. the vendor-side faults answer here: [`Fault::InternalError`], and [`Fault::Answer`]
//!    (e.g. an [`AlibabaFault`]);
//! 10. `RegionId`, when sent and a region is configured, is that region — else 400
//!     `InvalidRegionId`; the key may act on instances — else 400
//!     `InstancePermissionCheckFailed`; the instance exists — else 400
//!     `MqttInstanceNotFound` (the vendor's code since its status change);
//! 11. the client is disconnected: removed from the instance's connected clients. A client
//!     that is not connected gets `Success: true` too (assumed, as in the adapter).
//!
//! Transport faults (hang up, garbage) and the delay apply before any check. Every call is
//! recorded twice: as it arrived ([`RecordedCall`], via `calls()`) and as the simulator read
//! it ([`AlibabaCall`], via `requests()`: decoded parameters, signature verdict, answer).
//!
//! [`RecordedCall`]: super::RecordedCall

mod answer;
mod checks;
mod rpc;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::request::Parts;
use axum::response::Response;
use parking_lot::Mutex;

use answer::Answer;

use super::{Call, Canned, Fault, Serving, Sim, Vendor};

pub use rpc::{decode_form, encode, parse_timestamp, sign, string_to_sign};

/// The API version `CloseConnection` belongs to.
pub const VERSION: &str = "2020-04-20";
/// How far a request's `Timestamp` may be from the simulator's clock.
pub const MAX_SKEW_SECS: i64 = 15 * 60;
const JSON_UTF8: &str = "application/json;charset=utf-8";
/// Parameters the simulator accepts; every other name is refused.
const COMMON: [&str; 9] = [
    "Action",
    "Version",
    "Format",
    "AccessKeyId",
    "Signature",
    "SignatureMethod",
    "SignatureVersion",
    "SignatureNonce",
    "Timestamp",
];
const OPTIONAL: [&str; 2] = ["RegionId", "SecurityToken"];

/// What the simulated service knows when it starts.
#[derive(Debug, Clone)]
pub struct AlibabaSimConfig {
    /// Where to listen; port 0 (the default) picks a free port.
    pub listen: SocketAddr,
    /// The AccessKey pair allowed to close connections.
    pub access_key_id: String,
    pub access_key_secret: String,
    /// AccessKey pairs that authenticate but may not act on the instances
    /// (`InstancePermissionCheckFailed`).
    pub unpermitted_keys: Vec<(String, String)>,
    /// The STS token every request must carry, if any.
    pub security_token: Option<String>,
    /// The region a sent `RegionId` must name, if any.
    pub region_id: Option<String>,
    /// Instances and their connected client ids; the first is the one `connect_client`
    /// and `is_connected` act on.
    pub instances: Vec<(String, Vec<String>)>,
    /// Added to the host's clock, in seconds, to make the simulator's clock.
    pub clock_offset_secs: i64,
    /// Print one line per answered call to stdout (`METHOD PATH -> STATUS`).
    pub echo_calls: bool,
}

impl Default for AlibabaSimConfig {
    /// Instance `post-cn-sim0001`, key `LTAI-sim-key` / `sim-secret`, no client connected.
    fn default() -> Self {
        Self::new("post-cn-sim0001", "LTAI-sim-key", "sim-secret")
    }
}

impl AlibabaSimConfig {
    /// One instance and one AccessKey pair; no client connected, no clock offset.
    pub fn new(instance_id: &str, access_key_id: &str, access_key_secret: &str) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_key_id: access_key_id.to_owned(),
            access_key_secret: access_key_secret.to_owned(),
            unpermitted_keys: Vec::new(),
            security_token: None,
            region_id: None,
            instances: vec![(instance_id.to_owned(), Vec::new())],
            clock_offset_secs: 0,
            echo_calls: false,
        }
    }

    /// Connects these clients to the first instance.
    pub fn with_clients<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Some((_, clients)) = self.instances.first_mut() {
            clients.extend(ids.into_iter().map(Into::into));
        }
        self
    }

    /// Adds another (empty) instance.
    pub fn with_instance(mut self, instance_id: &str) -> Self {
        self.instances.push((instance_id.to_owned(), Vec::new()));
        self
    }

    /// Requires this STS token on every request.
    pub fn with_security_token(mut self, token: &str) -> Self {
        self.security_token = Some(token.to_owned());
        self
    }

    /// Requires a sent `RegionId` to be this region.
    pub fn with_region(mut self, region_id: &str) -> Self {
        self.region_id = Some(region_id.to_owned());
        self
    }

    /// Adds a key pair that authenticates but may not act on the instances.
    pub fn with_unpermitted_key(mut self, id: &str, secret: &str) -> Self {
        self.unpermitted_keys
            .push((id.to_owned(), secret.to_owned()));
        self
    }

    /// Runs the simulator's clock `secs` ahead of the host's (behind when negative).
    pub fn with_clock_offset(mut self, secs: i64) -> Self {
        self.clock_offset_secs = secs;
        self
    }
}

/// ApsaraMQ's own errors, for `set_fault` and `fail_next`: each is a [`Fault::Answer`],
/// answered once the call is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlibabaFault {
    /// 429 `Throttling.User`, with `Retry-After: <secs>` when given.
    Throttling { retry_after: Option<u32> },
    /// 404 `ApiNotSupport`: the API is not offered on this instance or region.
    ApiNotSupport,
    /// 200 with `Success: false` and this error code.
    SuccessFalse(&'static str),
}

impl From<AlibabaFault> for Fault {
    fn from(fault: AlibabaFault) -> Self {
        let canned = match fault {
            AlibabaFault::Throttling { retry_after } => {
                let message = "Request was denied due to user flow control.";
                let canned = Canned::new(429, "Throttling.User", message);
                Canned {
                    retry_after: retry_after.map(|secs| secs.to_string()),
                    ..canned
                }
            }
            AlibabaFault::ApiNotSupport => {
                let message = "The specified API is not supported.";
                Canned::new(404, "ApiNotSupport", message)
            }
            AlibabaFault::SuccessFalse(code) => {
                Canned::new(200, code, format!("The operation failed ({code})."))
            }
        };
        Fault::Answer(canned)
    }
}

/// One call as the simulator read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlibabaCall {
    pub method: String,
    /// Every parameter, decoded, from the query string and (POST) the form body.
    pub params: BTreeMap<String, String>,
    /// The verdict of the simulator's own signature check; `None` when an earlier check
    /// (or a fault) answered first.
    pub signature_valid: Option<bool>,
    /// The status answered; `None` when the simulator hung up.
    pub status: Option<u16>,
    /// The vendor `Code` answered (`"200"` on success); `None` for a non-vendor answer.
    pub code: Option<String>,
}

impl AlibabaCall {
    /// One decoded parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// A running simulator; stops (and closes its port) when dropped.
pub type AlibabaSim = Sim<Alibaba>;

/// What the simulated service knows: keys, instances and their clients, spent nonces, its
/// clock, and how it read each call.
#[derive(Debug)]
pub struct Alibaba {
    /// AccessKeyId → (secret, may act on instances).
    keys: HashMap<String, (String, bool)>,
    security_token: Option<String>,
    region_id: Option<String>,
    default_instance: String,
    instances: Mutex<HashMap<String, BTreeSet<String>>>,
    nonces: Mutex<HashSet<String>>,
    clock_offset_secs: Mutex<i64>,
    /// How the contract read each call, by its position in the call log.
    read: Mutex<HashMap<usize, AlibabaCall>>,
    answers: AtomicU64,
}

impl Vendor for Alibaba {
    const NAME: &'static str = "alibaba";
    const GARBAGE: (&'static str, &'static str) = (
        "text/html; charset=utf-8",
        "<html><body>ApsaraMQ gateway (not really)</body>",
    );
    const ERRORS_AFTER_AUTH: bool = true;
    type Config = AlibabaSimConfig;
    type Switch = ();

    fn new(config: AlibabaSimConfig) -> (Self, Serving) {
        let mut keys = HashMap::new();
        for (id, secret) in &config.unpermitted_keys {
            keys.insert(id.clone(), (secret.clone(), false));
        }
        keys.insert(
            config.access_key_id.clone(),
            (config.access_key_secret.clone(), true),
        );
        let default_instance = config
            .instances
            .first()
            .map(|(id, _)| id.clone())
            .unwrap_or_default();
        let instances = config
            .instances
            .iter()
            .map(|(id, clients)| (id.clone(), clients.iter().cloned().collect()))
            .collect();
        let alibaba = Alibaba {
            keys,
            security_token: config.security_token,
            region_id: config.region_id,
            default_instance,
            instances: Mutex::new(instances),
            nonces: Mutex::default(),
            clock_offset_secs: Mutex::new(config.clock_offset_secs),
            read: Mutex::default(),
            answers: AtomicU64::new(0),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (alibaba, serving)
    }

    fn internal_error(&self, _: &Parts) -> Canned {
        let message = "An error occurred while processing your request. Try again later.";
        Canned::new(500, "InternalError", message)
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        self.respond(Answer::from(error.clone()))
    }

    fn serve(&self, call: Call<'_>) -> Response {
        let mut read = AlibabaCall::default();
        let answer = self.close_connection(call.parts, call.body, call.error, &mut read);
        read.code = Some(answer.code.clone());
        self.read.lock().insert(call.index, read);
        self.respond(answer)
    }

    /// Forgets how the calls were read too (not the spent nonces).
    fn calls_cleared(&self) {
        self.read.lock().clear();
    }
}

impl Sim<Alibaba> {
    /// Every call received so far, as the simulator read it, in arrival order.
    pub fn requests(&self) -> Vec<AlibabaCall> {
        let calls = self.calls();
        let read = self.vendor().read.lock();
        let requests = calls.into_iter().enumerate().map(|(index, call)| {
            let read = read.get(&index).cloned().unwrap_or_default();
            AlibabaCall {
                method: call.method,
                status: call.status,
                ..read
            }
        });
        requests.collect()
    }

    /// Connects a client to the first instance.
    pub fn connect_client(&self, id: &str) {
        let instance = self.vendor().default_instance.clone();
        self.connect_client_to(&instance, id);
    }

    /// Connects a client to an instance, creating the instance if it is not known yet.
    pub fn connect_client_to(&self, instance_id: &str, id: &str) {
        let mut instances = self.vendor().instances.lock();
        let clients = instances.entry(instance_id.to_owned()).or_default();
        clients.insert(id.to_owned());
    }

    /// Whether a client is connected to the first instance.
    pub fn is_connected(&self, id: &str) -> bool {
        let instances = self.vendor().instances.lock();
        instances
            .get(&self.vendor().default_instance)
            .is_some_and(|clients| clients.contains(id))
    }

    /// The clients connected to the first instance, sorted.
    pub fn connected_clients(&self) -> Vec<String> {
        let instances = self.vendor().instances.lock();
        instances
            .get(&self.vendor().default_instance)
            .map(|clients| clients.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Runs the simulator's clock `secs` ahead of the host's (behind when negative).
    pub fn set_clock_offset(&self, secs: i64) {
        *self.vendor().clock_offset_secs.lock() = secs;
    }

    /// The simulator's clock: seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        self.vendor().now()
    }
}

impl Alibaba {
    fn now(&self) -> i64 {
        let host = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        host.saturating_add(*self.clock_offset_secs.lock())
    }
}

#[cfg(test)]
mod tests;
