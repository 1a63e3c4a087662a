//! # `iudx` — IUDX "corinthian" IoT middleware: unbind
//!
//! **Action.** `unbind` with the target `source` + `topic` + `message_type`, and
//! `client_id` as an optional field that changes the call's meaning (spec §3):
//!
//! | backend `id` | target | vendor call |
//! |---|---|---|
//! | an entity (`alice/sensor1`: has a `/`) | `client_id` absent or equal to `id` | `POST {url}/entity/unbind` |
//! | an owner (`alice`: no `/`) | `client_id` required: the owner's device whose queue is unbound | `POST {url}/owner/unbind` with `from: {client_id}` |
//!
//! Headers: `id`, `apikey`, `to: {source}`, `topic: {topic}`, `message-type:
//! {message_type}`, and `from` in owner mode; no body. On the broker this deletes the
//! binding from exchange `{source}.{message_type}` to queue `{from}` (in entity mode the
//! entity's own queue, `{id}`) with routing key `{topic}`.
//!
//! Refused with 400 `invalid_request` before any call:
//! - `message_type` other than `public`, `protected`, `private`, `diagnostics`;
//! - owner mode without `client_id`; entity mode with a `client_id` other than `id`;
//! - a header value that would not reach iudx byte for byte (checked with
//!   `sever_plugin_sdk::encode::strict_header_value`): control characters (CR, LF, tab,
//!   NUL…); non-ASCII characters (obsolete `obs-text` in HTTP, which intermediaries may
//!   rewrite — and iudx accepts only `[A-Za-z0-9-/.*#]` in `to`, `from` and `topic`
//!   anyway); a leading or trailing space (HTTP strips those from header values).
//!
//! **Settings.** `id` (owner or entity id; the mode follows it), `apikey` (secret). Both
//! must be visible ASCII without spaces (they travel in headers).
//!
//! **Answers.** Success is 200 with an empty body; errors are `{"error": "<message>"}`,
//! except that the implementation's 500 bodies put a raw newline inside the string
//! (`{"error":"unbind failed e={…} q={…} t={…}\n"}`), which is not JSON. Such a body is
//! read leniently; the problem stays clean and `vendor.message` keeps the vendor's text
//! with control characters made safe. The documents and the implementation disagree on
//! which errors are 400 and which 403, so 4xx answers map by message, not by status:
//!
//! | vendor | canonical |
//! |---|---|
//! | 200 (empty or JSON body) | `done` |
//! | 200 with any other body | 502 `upstream_error` (not what iudx answers) |
//! | 4xx `invalid id or apikey`, `unauthorized`, `you are not the owner of …`; 401 | 502 `upstream_unauthorized` |
//! | 429 | 429 `rate_limited` (the vendor's `Retry-After` passed on) |
//! | other 4xx (`inputs missing in headers`, `message-type is invalid`, `'to' is not a valid entity`, `invalid topic`, `'from' …`) | 502 `upstream_rejected` |
//! | 500 (`unbind failed …`, DB errors), other 5xx, anything unreadable | 502 `upstream_error` (retryable: the call is idempotent) |
//!
//! **Confirmed** (the IUDX unbind page and corinthian's `queue_unbind`): both paths, `POST`,
//! the headers, the message types, the mode following the id, the entity unbinding its
//! own queue, the exchange/queue/routing-key mapping, the error messages, the raw
//! newline in the 500 body, and that unbinding a binding that does not exist answers 200.
//!
//! **Assumed**: `client_id` carries the owner's device (the `from` entity); 401 (never
//! sent by corinthian) means refused credentials; a 404 means a wrong `url` (iudx never
//! reports a missing binding), so it is `upstream_rejected`, not `target_not_found`;
//! repeating an unbind is harmless (it is retried on 5xx and lost answers). The optional
//! `is-priority` header (unbind the `.priority` queue) is not sent.

mod answer;

use sever_plugin_sdk::encode::strict_header_value;
use sever_plugin_sdk::prelude::*;
use std::fmt;

/// The message types iudx knows.
pub const MESSAGE_TYPES: [&str; 4] = ["public", "protected", "private", "diagnostics"];

/// Whose queue the backend's id may unbind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `id` is an owner: unbinds the queue of one of its devices (`from`).
    Owner,
    /// `id` is an entity: unbinds its own queue.
    Entity,
}

/// One iudx backend.
pub struct Iudx {
    url: String,
    id: String,
    apikey: String,
    mode: Mode,
}

impl fmt::Debug for Iudx {
    /// Never shows the apikey.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iudx")
            .field("url", &self.url)
            .field("id", &self.id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// An unbind in progress; `None` when the request was refused before any call.
#[derive(Debug)]
pub struct Flow(Option<Unbind>);

/// What one unbind acts on, kept to plan a retry and to word problems.
#[derive(Debug, Clone)]
struct Unbind {
    request: VendorRequest,
    /// `{source}.{message_type}`.
    exchange: String,
    /// The `from` entity (entity mode: the backend's id).
    queue: String,
    topic: String,
}

impl Iudx {
    /// Checks the target and builds the call, or says why it cannot be sent.
    fn plan(&self, target: &Target) -> Result<Unbind, Problem> {
        let source = strict_header_value("target.source", target.field(TargetField::Source))?;
        let topic = strict_header_value("target.topic", target.field(TargetField::Topic))?;
        let message_type = target.field(TargetField::MessageType);
        if !MESSAGE_TYPES.contains(&message_type) {
            return Err(invalid(format!(
                "target.message_type must be one of {} (got '{}')",
                MESSAGE_TYPES.join(", "),
                message_type.escape_default()
            )));
        }
        let from = match (self.mode, target.client_id.as_deref()) {
            (Mode::Owner, Some(client)) => Some(strict_header_value("target.client_id", client)?),
            (Mode::Owner, None) => {
                return Err(invalid(format!(
                    "target.client_id is required: the backend's id '{}' is an owner, so the \
                     unbind acts on the queue of one of its devices (sent as 'from')",
                    self.id
                )))
            }
            (Mode::Entity, Some(client)) if client != self.id => {
                return Err(invalid(format!(
                    "target.client_id cannot be used here: the backend's id '{}' is an entity, \
                     which can only unbind its own queue (leave client_id out or set it to '{}')",
                    self.id, self.id
                )))
            }
            (Mode::Entity, _) => None,
        };
        let path = match self.mode {
            Mode::Owner => "owner",
            Mode::Entity => "entity",
        };
        let url = encode::url_with_segments(&self.url, &[path, "unbind"]);
        let mut request = VendorRequest::new("POST", url)
            .header("id", self.id.as_str())
            .header("apikey", self.apikey.as_str())
            .header("to", source)
            .header("topic", topic)
            .header("message-type", message_type);
        if let Some(from) = from {
            request = request.header("from", from);
        }
        let request = request
            .idempotent(true)
            .purpose("unbind")
            .redact(self.apikey.as_str());
        Ok(Unbind {
            request,
            exchange: format!("{source}.{message_type}"),
            queue: from.unwrap_or(&self.id).to_owned(),
            topic: topic.to_owned(),
        })
    }
}

/// An IUDX backend's settings. Both travel in headers.
#[derive(Debug, Settings)]
pub struct IudxSettings {
    /// owner id (alice) or entity id (alice/sensor1); the mode follows it
    #[setting(check = settings::visible_ascii)]
    id: String,
    /// the id's apikey
    #[setting(secret, check = settings::visible_ascii)]
    apikey: String,
}

fn invalid(detail: String) -> Problem {
    Problem::new(ProblemKind::InvalidTarget, detail)
}

impl Adapter for Iudx {
    const NAME: &'static str = "iudx";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = IudxSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "IUDX corinthian IoT middleware (unbind)",
            vec![ActionSpec::new(
                Action::Unbind,
                [[
                    TargetField::Source,
                    TargetField::Topic,
                    TargetField::MessageType,
                ]],
                "POST /entity/unbind or /owner/unbind: removes the binding from exchange \
                 {source}.{message_type} to a queue with routing key {topic}; client_id names \
                 the owner's device (required when the backend's id is an owner, else absent \
                 or equal to the id)",
            )
            .optional_fields([TargetField::ClientId])],
        )
    }

    fn new(backend: Backend<IudxSettings>) -> Result<Self, Vec<SettingError>> {
        let IudxSettings { id, apikey } = backend.settings;
        let mode = if id.contains('/') {
            Mode::Entity
        } else {
            Mode::Owner
        };
        Ok(Iudx {
            url: backend.url,
            id,
            apikey,
            mode,
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        match self.plan(&request.target) {
            Ok(unbind) => {
                let step = Step::Send(unbind.request.clone());
                (Flow(Some(unbind)), step)
            }
            Err(problem) => (Flow(None), Step::Fail(problem)),
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        let Some(unbind) = &flow.0 else {
            // A refused flow ended with its first step: a host never resumes a flow that
            // ended (the ABI's call sequence), so this is a host bug, answered as one
            // (the panic becomes `500 internal`).
            unreachable!("iudx: resumed a request that was refused before any call");
        };
        match input {
            Input::Response(response) => answer::map(self, unbind, &response),
            Input::Retry { .. } => Step::Send(unbind.request.clone()),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("iudx: resumed with the answer to an exchange it never plans"),
        }
    }
}

export_plugin!(Iudx);

#[cfg(test)]
mod tests;
