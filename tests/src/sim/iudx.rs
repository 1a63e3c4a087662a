//! A strict simulator of the IUDX "corinthian" middleware's unbind API.
//!
//! It serves `POST /entity/unbind` and `POST /owner/unbind` the way corinthian's
//! `queue_unbind` does (both paths run the same handler; the mode follows the `id`
//! header): headers `id`, `apikey`, `to`, `topic`, `message-type`, and `from` when the id
//! is an owner. Answers are `application/json`: 200 with an empty body, or
//! `{"error":"<message>"}` plus a newline. Checks run in corinthian's order; the first
//! that fails answers:
//!
//! 1. the path is one of the two — else 404 with no body; the method is `POST` — else 405;
//! 2. `id`, `apikey`, `to`, `topic`, `message-type` are all present — else 400
//!    `inputs missing in headers`;
//! 3. an owner id (`[a-z][a-z0-9-]{2,31}`) needs `from` — else 400 `'from' value missing
//!    in header`; a valid entity `from` — else 400 `'from' is not a valid entity`; owned
//!    by the id — else 403 `you are not the owner of 'from' entity`. An entity id
//!    unbinds its own queue (`from` = `id`, any `from` header ignored);
//! 4. `to` is a valid entity (`owner/name`, 7–65 of `[A-Za-z0-9-/]`, one `/`) — else 400
//!    `'to' is not a valid entity`;
//! 5. `message-type` is `public`, `private`, `protected` or `diagnostics` — else 400
//!    `message-type is invalid`; `private` needs the id to own `to` — else 403 `you are
//!    not the owner of 'to'`;
//! 6. `from`, `to`, `topic` use only `[A-Za-z0-9-/.*#]` — else 400 `invalid from` /
//!    `invalid to` / `invalid topic`;
//! 7. the id is registered with that apikey — else 403 `invalid id or apikey`; and is
//!    autonomous — else 403 `unauthorized`;
//! 8. for a message type other than `public` on a `to` the id does not own, an ACL entry
//!    (`from`, `{to}.{message-type}`, `topic`) — else 403 `unauthorized`;
//! 9. the exchange `{to}.{message-type}` and the queue `from` (`from.priority` with
//!    `is-priority: true`) exist on the broker — else 500 `unbind failed e={…} q={…}
//!    t={…}` **with a raw newline inside the JSON string**, as corinthian writes it.
//!
//! Then the binding (exchange → queue, routing key `topic`) is removed and the answer is
//! 200; unbinding a binding that does not exist also answers 200 (as RabbitMQ does).
//! Faults and the delay apply before any check; [`Fault::InternalError`](super::Fault)
//! answers the 500 with the raw newline. Registering an entity creates its queues and
//! exchanges.

mod contract;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use super::{Call, Canned, Serving, Sim, Vendor};

/// The message types (exchange suffixes) of every entity.
pub const MESSAGE_TYPES: [&str; 4] = ["public", "protected", "private", "diagnostics"];

/// A registered id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IudxUser {
    pub apikey: String,
    /// Only autonomous ids may (un)bind by themselves.
    pub autonomous: bool,
}

/// A binding from an exchange to a queue with a routing key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IudxBinding {
    pub exchange: String,
    pub queue: String,
    pub topic: String,
}

impl IudxBinding {
    /// A binding from `exchange` to `queue` with routing key `topic`.
    pub fn new(exchange: &str, queue: &str, topic: &str) -> Self {
        Self {
            exchange: exchange.to_owned(),
            queue: queue.to_owned(),
            topic: topic.to_owned(),
        }
    }
}

/// What the simulated middleware knows when it starts.
#[derive(Debug, Clone)]
pub struct IudxSimConfig {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Registered owners and entities by id.
    pub users: BTreeMap<String, IudxUser>,
    /// Exchanges on the broker.
    pub exchanges: BTreeSet<String>,
    /// Queues on the broker.
    pub queues: BTreeSet<String>,
    /// Bindings on the broker.
    pub bindings: BTreeSet<IudxBinding>,
    /// Read permissions (`from`, exchange, topic) granted to entities on others' exchanges.
    pub acl: BTreeSet<IudxBinding>,
    /// Print one line per answered call to stdout.
    pub echo_calls: bool,
}

impl Default for IudxSimConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl IudxSimConfig {
    /// Nobody registered, an empty broker.
    pub fn new() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: BTreeMap::new(),
            exchanges: BTreeSet::new(),
            queues: BTreeSet::new(),
            bindings: BTreeSet::new(),
            acl: BTreeSet::new(),
            echo_calls: false,
        }
    }

    /// Registers an owner (autonomous) with its apikey.
    pub fn with_owner(mut self, id: &str, apikey: &str) -> Self {
        self.users.insert(id.to_owned(), user(apikey, true));
        self
    }

    /// Registers an autonomous entity with its queues (`id`, `id.priority`) and exchanges
    /// (`id.<message-type>`).
    pub fn with_entity(self, id: &str, apikey: &str) -> Self {
        self.with_entity_as(id, apikey, true)
    }

    /// Registers an entity that may not (un)bind by itself (403 `unauthorized`).
    pub fn with_entity_not_autonomous(self, id: &str, apikey: &str) -> Self {
        self.with_entity_as(id, apikey, false)
    }

    fn with_entity_as(mut self, id: &str, apikey: &str, autonomous: bool) -> Self {
        self.users.insert(id.to_owned(), user(apikey, autonomous));
        self.queues.insert(id.to_owned());
        self.queues.insert(format!("{id}.priority"));
        for message_type in MESSAGE_TYPES {
            self.exchanges.insert(format!("{id}.{message_type}"));
        }
        self
    }

    /// Binds `exchange` to `queue` with routing key `topic`.
    pub fn with_binding(mut self, exchange: &str, queue: &str, topic: &str) -> Self {
        self.bindings
            .insert(IudxBinding::new(exchange, queue, topic));
        self
    }

    /// Grants `from` read access to `exchange` for `topic`.
    pub fn with_acl(mut self, from: &str, exchange: &str, topic: &str) -> Self {
        self.acl.insert(IudxBinding::new(exchange, from, topic));
        self
    }
}

fn user(apikey: &str, autonomous: bool) -> IudxUser {
    IudxUser {
        apikey: apikey.to_owned(),
        autonomous,
    }
}

/// A running iudx simulator; stops (and closes its port) when dropped.
pub type IudxSim = Sim<Iudx>;

/// What the simulated middleware knows: ids, the broker's exchanges, queues and bindings,
/// and the ACL.
#[derive(Debug)]
pub struct Iudx {
    users: BTreeMap<String, IudxUser>,
    exchanges: BTreeSet<String>,
    queues: BTreeSet<String>,
    acl: BTreeSet<IudxBinding>,
    bindings: Mutex<BTreeSet<IudxBinding>>,
}

impl Vendor for Iudx {
    const NAME: &'static str = "iudx";
    /// Unbind takes no body.
    const MAX_BODY_BYTES: usize = 1 << 16;
    const GARBAGE: (&'static str, &'static str) =
        ("text/html", "<html><body>IUDX catalog</body></html>");
    type Config = IudxSimConfig;
    type Switch = ();

    fn new(config: IudxSimConfig) -> (Self, Serving) {
        let iudx = Iudx {
            users: config.users,
            exchanges: config.exchanges,
            queues: config.queues,
            acl: config.acl,
            bindings: Mutex::new(config.bindings),
        };
        let serving = Serving {
            listen: config.listen,
            echo_calls: config.echo_calls,
        };
        (iudx, serving)
    }

    fn internal_error(&self, parts: &Parts) -> Canned {
        unbind_failed(&parts.headers)
    }

    fn refuse(&self, error: &Canned, _: &Parts) -> Response {
        Answer::from(error.clone()).into_response()
    }

    fn serve(&self, call: Call<'_>) -> Response {
        match self.unbind(call.parts) {
            Ok(()) => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")]).into_response()
            }
            Err(answer) => answer.into_response(),
        }
    }
}

impl Sim<Iudx> {
    /// Whether the broker has this binding.
    pub fn has_binding(&self, exchange: &str, queue: &str, topic: &str) -> bool {
        let binding = IudxBinding::new(exchange, queue, topic);
        self.vendor().bindings.lock().contains(&binding)
    }

    /// Every binding on the broker, sorted.
    pub fn bindings(&self) -> Vec<IudxBinding> {
        self.vendor().bindings.lock().iter().cloned().collect()
    }
}

/// How corinthian answers a failed call.
#[derive(Debug)]
enum Answer {
    /// No such route: 404, no body.
    NoRoute,
    /// 405, no body.
    Method,
    /// `{"error":"<message>"}` and a newline, as corinthian's macros write it: the
    /// message is copied in as is, so a newline in it lands raw inside the string.
    Error(StatusCode, String),
}

impl Answer {
    fn bad_request(message: &str) -> Self {
        Answer::Error(StatusCode::BAD_REQUEST, message.to_owned())
    }

    fn forbidden(message: &str) -> Self {
        Answer::Error(StatusCode::FORBIDDEN, message.to_owned())
    }

    fn into_response(self) -> Response {
        match self {
            Answer::NoRoute => StatusCode::NOT_FOUND.into_response(),
            Answer::Method => StatusCode::METHOD_NOT_ALLOWED.into_response(),
            Answer::Error(status, message) => (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"error\":\"{message}\"}}\n"),
            )
                .into_response(),
        }
    }
}

impl From<Canned> for Answer {
    fn from(error: Canned) -> Self {
        Answer::Error(error.status_code(), error.message)
    }
}

/// corinthian's 500 for the unbind these headers ask for ([`Fault::InternalError`]).
///
/// [`Fault::InternalError`]: super::Fault::InternalError
fn unbind_failed(headers: &HeaderMap) -> Canned {
    let get = |name: &str| contract::header(headers, name).unwrap_or_default();
    let queue = contract::header(headers, "from").unwrap_or_else(|| get("id"));
    let exchange = format!("{}.{}", get("to"), get("message-type"));
    failed(&exchange, &queue, &get("topic"))
}

/// corinthian's 500 when the broker refuses the unbind: a raw newline ends the message,
/// inside the JSON string (so the body is not valid JSON).
fn failed(exchange: &str, queue: &str, topic: &str) -> Canned {
    let message = format!("unbind failed e={{{exchange}}} q={{{queue}}} t={{{topic}}}\n");
    Canned::new(500, "", message)
}

#[cfg(test)]
mod tests;
