//! # `nats` — NATS system account `KICK` (NATS, not HTTP)
//!
//! Closes NATS client connections with the system account's `KICK` request (NATS ≥ 2.10.0).
//! The host owns one connection per backend, authenticated as a system-account user (user
//! and password, a token, or a `.creds` file, from [`Adapter::connection`]), and performs
//! each request on a fresh inbox: the first reply, or every reply within `gather_ms`.
//!
//! **Exchanges.**
//!
//! | canonical | requests, one exchange each |
//! |---|---|
//! | `terminate` + `connection_id` (`<server_id>:<cid>`, or `<cid>` with `server_id` set) | `$SYS.REQ.SERVER.<server_id>.KICK` with `{"cid":<cid>}` |
//! | `terminate` + `user_id` (the authorized user) | discovery `$SYS.REQ.SERVER.PING.CONNZ` with `{"auth":true,"user":"<user_id>","limit":1024,"offset":k}`, every page, then a `KICK` for each `(server.id, cid)` |
//! | `disconnect` + `client_id` (the connection `name`, or an MQTT client id) | discovery with `{"auth":true,"limit":1024,"offset":k}`, every page, keeping `connections[].name == client_id` (or `mqtt_client`), then a `KICK` each |
//!
//! Discovery gathers replies for `discovery_timeout_ms` (every server of a cluster answers
//! once) and asks for the next page while some server answered a full one. Identifiers are
//! data: a user or name only ever goes into the JSON options, the cid is a JSON number, and
//! a server id — from the target, the settings or a server's reply — is one subject token,
//! refused when it holds `/`, `+`, `#`, `.`, `*`, `>` or whitespace. A `cid` that is not a
//! decimal number from 1 is `400 invalid_request` before anything is sent. Sever's own
//! connection (named `sever-<backend>`) is never kicked by a discovery. Every request is
//! idempotent and retried as it was.
//!
//! **Settings.** Exactly one of `user` + `password` (secret), `token` (secret) or `creds`
//! (secret: a `.creds` file's text — user JWT and NKey seed, operator mode) of a
//! system-account user; `server_id` (optional: lets a bare cid be a `connection_id`);
//! `discovery_timeout_ms` (default `500`; keep it below the backend's `timeout_ms`). The
//! backend `url` is `nats://host:4222` or `tls://host:4222`.
//!
//! **Answers.** `vendor.code` is the server's error code (or its `-ERR` text),
//! `vendor.message` its description; `vendor.closed` counts the kicks,
//! `vendor.connections` names them `<server_id>:<cid>`.
//!
//! | server | canonical |
//! |---|---|
//! | KICK reply without `error` | `done`, `vendor.closed` = kicks (the client may reconnect; client libraries do by default) |
//! | KICK `error.code` 500 "no such client or leafnode id"; discovery finds no match, or every match is gone before its kick | 404 `target_not_found` (after a retry the detail says the first attempt may have made the cut) |
//! | no responders on `…KICK`: a server older than 2.10.0, a wrong server id, or a user outside the system account | 502 `upstream_rejected` (the detail names the three causes) |
//! | no responders on the discovery (no system account, or a user outside it) | 502 `upstream_rejected` |
//! | `error.code` 400 (options the server could not read: a Sever bug) | 502 `upstream_rejected` |
//! | another `error.code` | 502 `upstream_error` |
//! | `-ERR 'Authorization Violation'` (also `Permissions Violation`, `Authentication Expired/Revoked`) | 502 `upstream_unauthorized` |
//! | `-ERR 'Maximum Connections Exceeded'` | 502 `upstream_unavailable` (retryable) |
//! | no reply in time (a KICK the server cannot read is only logged, never answered) | 504 `upstream_timeout` |
//! | a reply that is not JSON, or lacks the server id, the connections list or a numeric cid | 502 `upstream_error` |
//!
//! A discovered kick that fails after others reports them in `vendor.closed`.
//!
//! **Confirmed** (nats-io/nats-server `server/events.go`, `server/server.go`,
//! `server/monitor.go`, snapshot 2026-08-21; PR #4298, first released in v2.10.0; run on
//! nats-server v2.15.1 and Debian's 2.9.10 with nats-py): the subjects, `{"cid":N}`, the
//! `ServerAPIResponse` shape, a reply without `error` for a kick and error 500 "no such
//! client or leafnode id" for a gone cid, no responders on 2.9 and for users outside the
//! system account, that a malformed KICK is never answered, that `user` filters only with
//! `"auth": true` and is applied before paging, `connections[].name`, `mqtt_client`,
//! `authorized_user`.
//!
//! **Assumed:** the `-ERR` texts besides `'Authorization Violation'`; that every server of
//! a cluster answers the discovery within `discovery_timeout_ms`; that 1024 pages of 1024
//! connections per server are enough (more is refused as unreadable).

mod answer;
mod config;
mod connz;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

pub use config::NatsSettings;
use connz::Wanted;

/// The `discovery_timeout_ms` of a backend that sets none.
const DEFAULT_DISCOVERY_TIMEOUT_MS: u32 = 500;

/// Said after a retry, when nothing was there to kick.
const RETRIED: &str =
    " (the request was retried after a lost answer: the first attempt may have made the cut)";

/// One NATS server or cluster, reached through its system account.
pub struct Nats {
    connection: ConnectionSpec,
    server_id: Option<String>,
    discovery_timeout_ms: u32,
}

// By hand, so that printing an instance never shows a secret.
impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("user", &self.connection.username)
            .field("name", &self.connection.client_id)
            .field("server_id", &self.server_id)
            .field("discovery_timeout_ms", &self.discovery_timeout_ms)
            .finish_non_exhaustive()
    }
}

/// What a flow waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    /// A page of discovery.
    Discovery {
        wanted: Wanted,
        offset: usize,
        pages: u32,
    },
    /// The KICK of `pending[0]`.
    Kick,
}

/// A flow in progress.
#[derive(Debug)]
pub struct Flow {
    waiting: Waiting,
    /// What the request is about, for messages ("user 'dev1'", "connection NB4Q:8").
    subject: String,
    /// A `terminate` by connection id: its one KICK's "no such client" is the answer.
    direct: bool,
    /// The request in flight, planned again on a retry.
    last: Option<NatsRequest>,
    retried: bool,
    /// `(server id, cid)` still to kick; the first is in flight.
    pending: Vec<(String, u64)>,
    /// Those kicked so far.
    kicked: Vec<(String, u64)>,
}

impl Flow {
    fn new(subject: String) -> Self {
        Flow {
            waiting: Waiting::Kick,
            subject,
            direct: false,
            last: None,
            retried: false,
            pending: Vec::new(),
            kicked: Vec::new(),
        }
    }

    fn send(&mut self, request: NatsRequest) -> Step {
        self.last = Some(request.clone());
        Step::Nats(request)
    }

    /// The KICK of `pending[0]`, or the end of the flow when nothing is left.
    fn next_kick(&mut self) -> Step {
        let Some((server, cid)) = self.pending.first() else {
            return self.finished();
        };
        let request = NatsRequest {
            subject: format!("$SYS.REQ.SERVER.{server}.KICK"),
            payload: format!("{{\"cid\":{cid}}}"),
            gather_ms: 0,
            exchange: Exchange {
                idempotent: true,
                purpose: Some("kick connection".to_owned()),
                ..Exchange::default()
            },
        };
        self.waiting = Waiting::Kick;
        self.send(request)
    }

    fn vendor(&self) -> Map<String, Value> {
        let mut vendor = Map::new();
        vendor.insert("closed".into(), Value::from(self.kicked.len()));
        vendor
    }

    fn not_found(&self, what: String, vendor: Map<String, Value>) -> Step {
        let retried = if self.retried { RETRIED } else { "" };
        Step::Fail(
            Problem::new(ProblemKind::TargetNotFound, format!("{what}{retried}"))
                .with_vendor(vendor),
        )
    }

    fn finished(&self) -> Step {
        if self.kicked.is_empty() {
            let what = if matches!(self.waiting, Waiting::Discovery { .. }) {
                format!(
                    "nats has no connection of {} on any server that answered",
                    self.subject
                )
            } else {
                format!("every connection of {} ended before its kick", self.subject)
            };
            return self.not_found(what, self.vendor());
        }
        let mut vendor = self.vendor();
        let names = self
            .kicked
            .iter()
            .map(|(server, cid)| Value::from(format!("{server}:{cid}")));
        vendor.insert("connections".into(), Value::Array(names.collect()));
        Step::Done(Success {
            outcome: Outcome::Done,
            vendor,
        })
    }

    /// Adds the vendor's count so far to a problem that ends the flow.
    fn failed(&self, mut problem: Problem) -> Step {
        if !self.kicked.is_empty() {
            let vendor = problem.vendor.get_or_insert_with(Map::new);
            vendor.insert("closed".into(), Value::from(self.kicked.len()));
        }
        Step::Fail(problem)
    }
}

impl Nats {
    fn discover(&self, flow: &mut Flow, wanted: Wanted, offset: usize, pages: u32) -> Step {
        let gather = u64::from(self.discovery_timeout_ms);
        let request = connz::request(&wanted, offset, gather);
        flow.waiting = Waiting::Discovery {
            wanted,
            offset,
            pages,
        };
        flow.send(request)
    }

    fn own_name(&self) -> &str {
        self.connection.client_id.as_deref().unwrap_or_default()
    }

    fn answer(&self, flow: &mut Flow, replies: &NatsReplies) -> Step {
        match flow.waiting.clone() {
            Waiting::Discovery {
                wanted,
                offset,
                pages,
            } => {
                let gather_ms = u64::from(self.discovery_timeout_ms);
                if let Some(problem) =
                    answer::refusal(replies, answer::Asked::Discovery { gather_ms })
                {
                    return Step::Fail(problem);
                }
                let page = match connz::read(&replies.replies, &wanted, self.own_name()) {
                    Ok(page) => page,
                    Err(connz::ReadError::Api(error)) => {
                        return Step::Fail(answer::api_problem(&error, "the discovery"))
                    }
                    Err(connz::ReadError::Unreadable(what)) => {
                        let detail = format!("nats answered the discovery unreadably: {what}");
                        return Step::Fail(Problem::new(ProblemKind::Unreadable, detail));
                    }
                };
                for pair in page.matches {
                    if !flow.pending.contains(&pair) {
                        flow.pending.push(pair);
                    }
                }
                if page.more {
                    if pages >= connz::MAX_PAGES {
                        let detail = format!(
                            "nats kept answering full pages of connections after {pages} pages"
                        );
                        return Step::Fail(Problem::new(ProblemKind::Unreadable, detail));
                    }
                    return self.discover(flow, wanted, offset + connz::PAGE, pages + 1);
                }
                flow.next_kick()
            }
            Waiting::Kick => {
                let server = flow
                    .pending
                    .first()
                    .map(|(s, _)| s.clone())
                    .unwrap_or_default();
                match answer::kick(replies, &server) {
                    answer::Kick::Closed => {
                        let done = flow.pending.remove(0);
                        flow.kicked.push(done);
                        flow.next_kick()
                    }
                    answer::Kick::NoSuchClient(error) if flow.direct => {
                        let what = format!("nats has no {}: {}", flow.subject, error.description);
                        flow.not_found(what, answer::api_vendor(&error))
                    }
                    // Gone between the discovery and its kick: not ours to count.
                    answer::Kick::NoSuchClient(_) => {
                        flow.pending.remove(0);
                        flow.next_kick()
                    }
                    answer::Kick::Failed(problem) => flow.failed(problem),
                }
            }
        }
    }

    /// The `(server id, cid)` a `connection_id` names, or why it cannot be kicked.
    fn connection_target(&self, id: &str) -> Result<(String, u64), Problem> {
        let (server, cid) = match (id.split_once(':'), &self.server_id) {
            (Some((server, cid)), _) => (server, cid),
            (None, Some(server)) => (server.as_str(), id),
            (None, None) => {
                return Err(Problem::new(
                    ProblemKind::InvalidTarget,
                    "target.connection_id must be <server_id>:<cid> (this backend sets no \
                     server_id for a bare cid)",
                ))
            }
        };
        let server = encode::subject_token("the server id of target.connection_id", server)?;
        let cid = encode::decimal_id("the cid of target.connection_id", cid, u64::MAX)?;
        Ok((server.to_owned(), cid))
    }
}

impl Adapter for Nats {
    const NAME: &'static str = "nats";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = NatsSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "NATS system account KICK (NATS ≥ 2.10): by connection id, user or connection name",
            vec![
                ActionSpec::new(
                    Action::Terminate,
                    [[TargetField::ConnectionId], [TargetField::UserId]],
                    "$SYS.REQ.SERVER.<server_id>.KICK of connection_id (<server_id>:<cid>), or \
                     of every connection of user_id found by $SYS.REQ.SERVER.PING.CONNZ; the \
                     client may reconnect",
                ),
                ActionSpec::new(
                    Action::Disconnect,
                    [[TargetField::ClientId]],
                    "KICK of every connection named client_id (or with that MQTT client id) \
                     found by $SYS.REQ.SERVER.PING.CONNZ; the client may reconnect",
                ),
            ],
        )
        .transport(Transport::Nats, &[])
    }

    fn new(backend: Backend<NatsSettings>) -> Result<Self, Vec<SettingError>> {
        let s = backend.settings;
        Ok(Nats {
            connection: ConnectionSpec {
                username: s.user,
                password: s.password,
                token: s.token,
                creds: s.creds.map(|c| c.0),
                client_id: Some(format!("sever-{}", backend.name)),
                ..ConnectionSpec::default()
            },
            server_id: s.server_id,
            discovery_timeout_ms: s
                .discovery_timeout_ms
                .unwrap_or(DEFAULT_DISCOVERY_TIMEOUT_MS),
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let target = &request.target;
        match (request.action, target.get(TargetField::UserId)) {
            (Action::Terminate, Some(user)) => {
                let mut flow = Flow::new(format!("user '{user}'"));
                let step = self.discover(&mut flow, Wanted::User(user.to_owned()), 0, 1);
                (flow, step)
            }
            (Action::Terminate, None) => {
                let id = target.field(TargetField::ConnectionId);
                let mut flow = Flow::new(format!("connection {id}"));
                flow.direct = true;
                match self.connection_target(id) {
                    Ok(pair) => {
                        flow.pending = vec![pair];
                        let step = flow.next_kick();
                        (flow, step)
                    }
                    Err(problem) => (flow, Step::Fail(problem)),
                }
            }
            (_, _) => {
                let name = target.field(TargetField::ClientId);
                let mut flow = Flow::new(format!("name '{name}'"));
                let step = self.discover(&mut flow, Wanted::Name(name.to_owned()), 0, 1);
                (flow, step)
            }
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Nats(replies) => self.answer(flow, replies),
            // Every request is idempotent: planning it again gives the same one.
            Input::Retry { .. } => match flow.last.clone() {
                Some(request) => {
                    flow.retried = true;
                    Step::Nats(request)
                }
                // The host retries only a step it was given: a host bug, answered as one.
                None => unreachable!("nats: asked to retry before any request"),
            },
            // The host answers only the kinds of exchange this adapter plans (NATS).
            _ => unreachable!("nats: resumed with the answer to an exchange it never plans"),
        }
    }

    fn connection(&self) -> Option<ConnectionSpec> {
        Some(self.connection.clone())
    }
}

export_plugin!(Nats);
