//! # `redis` — Redis `CLIENT KILL` (RESP, not HTTP)
//!
//! Cuts Redis client connections with `CLIENT KILL`'s filter form. The host owns one
//! authenticated connection per backend (`AUTH <username> <password>`, or `AUTH <password>`
//! for `requirepass`, from [`Adapter::connection`]) and sends each command as an array of
//! bulk strings: an identifier is always one argument, never part of a command line.
//!
//! **Exchanges.**
//!
//! | canonical | commands, one exchange each |
//! |---|---|
//! | `terminate` + `connection_id` (a client id, decimal) | `CLIENT KILL ID <id>` → `:1` / `:0` |
//! | `terminate` + `user_id` (an ACL user name) | `CLIENT KILL USER <user_id> SKIPME yes` → `:n` |
//! | `disconnect` + `client_id` (the name set with `CLIENT SETNAME`) | `CLIENT LIST`, then `CLIENT KILL ID <id>` for each line whose `name` is `client_id` |
//!
//! A `connection_id` that is not a decimal number from 1 to 2⁶³−1 (Redis reads client ids
//! as signed 64-bit numbers and refuses 0), and a `client_id` that no Redis connection can
//! carry as its name (`CLIENT SETNAME` takes only the visible ASCII characters `!`…`~`), are
//! `400 invalid_request` before anything is sent. Every command is idempotent and retried
//! as it was; Sever's own connection has no name, so a `disconnect` never matches it, and
//! `SKIPME yes` keeps `terminate` by user from cutting it.
//!
//! **Settings.** `username` (optional: an ACL user; without it `AUTH <password>` for
//! `requirepass`), `password` (secret). The backend `url` is `redis://host:6379` or
//! `rediss://host:6380` (TLS). One backend per node: `CLIENT KILL` acts on the node it is
//! sent to. The least ACL: `ACL SETUSER sever on >… -@all +client|kill +client|list`.
//!
//! **Answers.** `vendor.code` is an error's first word (`ERR`, `NOPERM`, `WRONGPASS`),
//! `vendor.message` the rest; `vendor.closed` counts the connections killed.
//!
//! | server | canonical |
//! |---|---|
//! | `:n`, n ≥ 1 (for `disconnect` the sum over the kills) | `done`, `vendor.closed` = n (`disconnect`: `vendor.connections` = the ids) |
//! | `:0`; `-ERR No such user '…'`; no `CLIENT LIST` line with that name, or every match gone before its kill | 404 `target_not_found` (after a retry the detail says the lost first attempt may have made the cut) |
//! | `-WRONGPASS …` (also the connection's `AUTH`), `-NOAUTH …`, `-NOPERM …` | 502 `upstream_unauthorized` |
//! | `-LOADING`, `-BUSY`, `-MASTERDOWN`, `-TRYAGAIN` (assumed: the server cannot serve now) | 502 `upstream_unavailable`, retryable |
//! | any other error (`-ERR …`) | 502 `upstream_rejected` |
//! | a reply of another type (a bulk string to `CLIENT KILL`, an integer to `CLIENT LIST`, a negative count, a `CLIENT LIST` line without a numeric `id`) | 502 `upstream_error` |
//!
//! A `disconnect` that fails after some kills reports them in `vendor.closed`.
//!
//! **Confirmed** (`COMMAND DOCS client|kill` of redis-server 7.0.15, redis.io `CLIENT KILL`;
//! run on Debian's `redis-server 5:7.0.15-1~deb12u10`): the filter form and `ID` (since
//! 2.8.12), `USER` (6.2), `SKIPME`; `:1` then `:0` for the same id; `:0` for an unknown id;
//! `-ERR client-id should be greater than 0`; `-ERR No such user 'nosuch'`; `-NOPERM this
//! user has no permissions to run the 'client|kill' command`; `-WRONGPASS invalid
//! username-password pair or user is disabled.`; the `CLIENT LIST` line format.
//!
//! **Assumed:** the text of `-NOAUTH`; that connection names cannot hold spaces (so
//! splitting `CLIENT LIST` on spaces is safe); that no cluster-wide form exists; the
//! meaning of `LOADING`, `BUSY`, `MASTERDOWN` and `TRYAGAIN` here. A killed client may
//! reconnect at once with the same credentials (`ACL SETUSER <u> off` does not drop live
//! connections; blocking is not in this adapter).

mod answer;
mod list;

#[cfg(test)]
mod tests;

use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// The largest client id Redis reads (`CLIENT KILL ID` parses a signed 64-bit number).
const MAX_CLIENT_ID: u64 = i64::MAX.unsigned_abs();

/// A Redis backend's settings: the credentials of the host's connection.
#[derive(Debug, Settings)]
pub struct RedisSettings {
    /// ACL user name (absent: AUTH with the password only, for requirepass)
    username: Option<String>,
    /// the user's password (or requirepass)
    #[setting(secret)]
    password: String,
}

/// One Redis backend (one node).
pub struct Redis {
    username: Option<String>,
    password: String,
}

// By hand, so that printing an instance never shows the password.
impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What a flow waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// `CLIENT KILL ID` of a `terminate` by connection id.
    KillId,
    /// `CLIENT KILL USER`.
    KillUser,
    /// `CLIENT LIST`.
    List,
    /// `CLIENT KILL ID` of `pending[0]`, a connection `CLIENT LIST` named.
    KillListed,
}

/// A flow in progress.
#[derive(Debug)]
pub struct Flow {
    waiting: Waiting,
    /// What the request is about, for messages ("connection 7", "user 'app'").
    subject: String,
    /// The connection name a `disconnect` looks for.
    name: String,
    /// The command in flight, planned again on a retry.
    last: Vec<String>,
    /// True once the host retried a command (its first answer may have been lost).
    retried: bool,
    /// Ids `CLIENT LIST` named that are still to be killed; the first is in flight.
    pending: Vec<u64>,
    /// Ids killed so far.
    killed: Vec<u64>,
    /// Connections closed so far (what the kills counted).
    closed: i64,
}

impl Flow {
    fn new(waiting: Waiting, subject: String) -> Self {
        Flow {
            waiting,
            subject,
            name: String::new(),
            last: Vec::new(),
            retried: false,
            pending: Vec::new(),
            killed: Vec::new(),
            closed: 0,
        }
    }

    /// Plans `args` as the flow's next exchange.
    fn send(&mut self, args: Vec<String>, purpose: &str) -> Step {
        self.last = args;
        command(self.last.clone(), purpose)
    }

    /// Plans the kill of `pending[0]`, or ends the flow when nothing is left.
    fn next_kill(&mut self) -> Step {
        match self.pending.first() {
            Some(id) => {
                self.waiting = Waiting::KillListed;
                self.send(kill_id(*id), "kill connection")
            }
            None => answer::finished(self),
        }
    }

    fn purpose(&self) -> &'static str {
        match self.waiting {
            Waiting::KillId | Waiting::KillListed => "kill connection",
            Waiting::KillUser => "kill the user's connections",
            Waiting::List => "list connections",
        }
    }
}

/// One Redis command: idempotent (killing a killed client finds nothing; listing changes
/// nothing), so the host may retry it.
fn command(args: Vec<String>, purpose: &str) -> Step {
    Step::Redis(RedisCommand {
        args,
        exchange: Exchange {
            idempotent: true,
            purpose: Some(purpose.to_owned()),
            ..Exchange::default()
        },
    })
}

fn kill_id(id: u64) -> Vec<String> {
    ["CLIENT", "KILL", "ID"]
        .into_iter()
        .map(str::to_owned)
        .chain([id.to_string()])
        .collect()
}

/// Whether Redis accepts `name` as a connection name (`CLIENT SETNAME` refuses any
/// character outside `!`…`~`).
fn is_connection_name(name: &str) -> bool {
    name.bytes().all(|b| (b'!'..=b'~').contains(&b))
}

impl Redis {
    fn answer(&self, flow: &mut Flow, reply: &RedisReply) -> Step {
        if let RedisReply::Error(text) = reply {
            return Step::Fail(answer::error(flow, text));
        }
        match flow.waiting {
            Waiting::KillId | Waiting::KillUser => match answer::count(flow, reply) {
                Ok(0) => Step::Fail(answer::not_found(flow, None)),
                Ok(n) => {
                    flow.closed = n;
                    answer::finished(flow)
                }
                Err(problem) => Step::Fail(problem),
            },
            Waiting::List => match list::named(reply, &flow.name) {
                Ok(ids) => {
                    flow.pending = ids;
                    flow.next_kill()
                }
                Err(problem) => Step::Fail(problem),
            },
            Waiting::KillListed => match answer::count(flow, reply) {
                Ok(n) => {
                    let id = flow.pending.remove(0);
                    // 0: the connection ended between the list and its kill; not ours to count.
                    if n > 0 {
                        flow.closed += n;
                        flow.killed.push(id);
                    }
                    flow.next_kill()
                }
                Err(problem) => Step::Fail(problem),
            },
        }
    }
}

impl Adapter for Redis {
    const NAME: &'static str = "redis";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = RedisSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Redis CLIENT KILL (RESP): by client id, by ACL user, or every connection of a name",
            vec![
                ActionSpec::new(
                    Action::Terminate,
                    [[TargetField::ConnectionId], [TargetField::UserId]],
                    "CLIENT KILL ID <connection_id>, or CLIENT KILL USER <user_id> SKIPME yes: \
                     closes the connections; the client may reconnect",
                ),
                ActionSpec::new(
                    Action::Disconnect,
                    [[TargetField::ClientId]],
                    "CLIENT LIST, then CLIENT KILL ID <id> for each connection named client_id \
                     (CLIENT SETNAME); the client may reconnect",
                ),
            ],
        )
        .transport(Transport::Redis, &[])
    }

    fn new(backend: Backend<RedisSettings>) -> Result<Self, Vec<SettingError>> {
        Ok(Redis {
            username: backend.settings.username,
            password: backend.settings.password,
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let target = &request.target;
        match (request.action, target.get(TargetField::UserId)) {
            (Action::Terminate, Some(user)) => {
                let mut flow = Flow::new(Waiting::KillUser, format!("user '{user}'"));
                let args = ["CLIENT", "KILL", "USER", user, "SKIPME", "yes"];
                let step = flow.send(args.map(str::to_owned).to_vec(), flow.purpose());
                (flow, step)
            }
            (Action::Terminate, None) => {
                let id = target.field(TargetField::ConnectionId);
                let mut flow = Flow::new(Waiting::KillId, format!("connection {id}"));
                match encode::decimal_id("target.connection_id", id, MAX_CLIENT_ID) {
                    Ok(id) => {
                        let step = flow.send(kill_id(id), flow.purpose());
                        (flow, step)
                    }
                    Err(problem) => (flow, Step::Fail(problem)),
                }
            }
            (_, _) => {
                let name = target.field(TargetField::ClientId).to_owned();
                let mut flow = Flow::new(Waiting::List, format!("connection name '{name}'"));
                if !is_connection_name(&name) {
                    let problem = Problem::new(
                        ProblemKind::InvalidTarget,
                        "target.client_id cannot be a Redis connection name: CLIENT SETNAME \
                         takes only visible ASCII characters, without spaces",
                    );
                    return (flow, Step::Fail(problem));
                }
                flow.name = name;
                let step = flow.send(vec!["CLIENT".into(), "LIST".into()], flow.purpose());
                (flow, step)
            }
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Redis(reply) => self.answer(flow, reply),
            // Every command is idempotent and unsigned: planning it again gives the same one.
            Input::Retry { .. } => {
                flow.retried = true;
                command(flow.last.clone(), flow.purpose())
            }
            // The host answers only the kinds of exchange this adapter plans (Redis).
            _ => unreachable!("redis: resumed with the answer to an exchange it never plans"),
        }
    }

    fn connection(&self) -> Option<ConnectionSpec> {
        Some(ConnectionSpec {
            username: self.username.clone(),
            password: Some(self.password.clone()),
            ..ConnectionSpec::default()
        })
    }
}

/// The `vendor` object of an answer: what the kills counted so far, with the error's word
/// and text when there is one.
fn vendor_map(flow: &Flow, error: Option<(&str, &str)>) -> serde_json::Map<String, Value> {
    let mut vendor = serde_json::Map::new();
    if let Some((code, message)) = error {
        vendor.insert("code".into(), Value::from(code));
        vendor.insert("message".into(), Value::from(message));
    }
    vendor.insert("closed".into(), Value::from(flow.closed));
    vendor
}

export_plugin!(Redis);
