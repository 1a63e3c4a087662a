//! # `mosquitto` — Eclipse Mosquitto 2.0 dynamic security (MQTT control topic, not HTTP)
//!
//! Cuts a Mosquitto client by disabling its dynamic-security client record, which makes the
//! broker close every connection of that username (and, re-enabled in the same batch, lets
//! it reconnect). The host owns one MQTT 5 connection per backend (the admin's username,
//! password and client id from [`Adapter::connection`]), subscribes to
//! `$CONTROL/dynamic-security/v1/response` before the first command, publishes each batch on
//! `$CONTROL/dynamic-security/v1` at QoS 1, and hands back the broker's reason codes and the
//! answer that carries the batch's correlation string. Identifiers travel inside the JSON
//! payload (serde escapes them), never in a topic.
//!
//! **Exchanges.**
//!
//! | canonical | command batches, one exchange each |
//! |---|---|
//! | `terminate` + `user_id` (a dynsec username) | `{"commands":[{"command":"disableClient","username":"<user_id>","correlationData":"<c1>"}]}`; with `reenable_after_kick: true` the batch also carries `{"command":"enableClient","username":"<user_id>","correlationData":"<c2>"}` |
//! | `disconnect` + `client_id` | 1. `{"commands":[{"command":"listClients","verbose":true,"count":-1,"offset":0,"correlationData":"<c1>"}]}`, keeping the records whose `clientid` is `client_id` and that are not disabled; 2. one batch of `disableClient` + `enableClient` for each of their usernames |
//!
//! Correlation strings are `sever-<24 hex digits from the env's random bytes>-<n>`, fresh
//! for every batch and every retry. A client id is only cuttable when a dynsec record pins
//! it (`clientid`): that username can then only connect with that id, and MQTT allows one
//! connection per id, so the cut is exactly that session. A record that is already
//! disabled is left alone (re-enabling it would lift an operator's block). Every batch is
//! idempotent (disabling twice succeeds) and may be retried.
//!
//! **Settings.** `username`, `password` (secret) — a dynsec client with the `admin` role;
//! `client_id` (the admin connection's MQTT client id, default `sever-<backend>`; it must be
//! unique per Sever replica, or replicas take each other's session over);
//! `reenable_after_kick` (default `false`: `terminate` leaves the user disabled);
//! `ca_path` (a PEM file of CA certificates for `mqtts://`). The backend `url` is
//! `mqtt://host:1883` or `mqtts://host:8883`; its `timeout_ms` bounds the wait for the answer.
//!
//! **Answers.** `vendor.code` and `vendor.message` carry the dynsec error text (or the
//! reason code and its name), `vendor.command` the command it answered.
//!
//! | broker | canonical |
//! |---|---|
//! | every item without `error` | `done`, `vendor.message`: no connection count available; `vendor.users`, `vendor.reenabled` |
//! | `"Client not found"`; `disconnect`: no enabled record pins `client_id` | 404 `target_not_found` (detail: only client ids pinned by a dynsec `clientid` can be cut on Mosquitto 2.0) |
//! | `"Invalid/missing username"`, `"Username not valid UTF-8"`, `"Unknown command"`, `"Invalid correlationData data type."`, `"Payload not valid JSON"` (and the other batch-format errors) | 502 `upstream_rejected` (a Sever bug) |
//! | `disableClient` succeeded, `enableClient` failed or unanswered | 502 `upstream_error`: the cut is made, the user stays disabled (a retry re-enables it) |
//! | another error text (`"Internal error"`) | 502 `upstream_error` |
//! | `CONNACK` 0x86/0x87 (also 0x8A, 0x8C), `PUBACK` 0x87 | 502 `upstream_unauthorized` |
//! | `CONNACK` 0x88, 0x89, 0x9C, 0x9D | 502 `upstream_unavailable` (retryable) |
//! | `CONNACK` 0x9F, 0x97 / `PUBACK` 0x97 | 429 `rate_limited` |
//! | no matching answer in time (also an empty answer) | 504 `upstream_timeout` |
//! | an answer that is not a dynsec `responses` document, or lacks our command | 502 `upstream_error` |
//!
//! **Confirmed** (eclipse/mosquitto `v2.0.11`, Debian 12's version — `plugins/dynamic-security`
//! `plugin.c`, `clients.c`, `auth.c`; run on `mosquitto 2.0.11-1.2+deb12u2` with paho-mqtt
//! 2.2.0): the topics, the command JSON, one answer message per batch with items in command
//! order, the error texts above, `listClients`' verbose records with `clientid` and
//! `"disabled": true`, `count: -1` for every record; `disableClient` closes every connection
//! of that username (MQTT 5 clients get `DISCONNECT` 0x98, the will is not published), a
//! disabled client's reconnect gets `CONNACK` 0x87, `enableClient` lets it in again, the flag
//! is saved to the plugin's file; `PUBACK` 0x87 without the ACL; a record with `clientid`
//! authenticates only with that id.
//!
//! **Assumed:** that MQTT 5 is needed (3.1.1 has no PUBACK reason codes, so a refused
//! publish would only time out); the meaning of reason codes outside the table; that the
//! two-step `disconnect` flow behaves as its parts do (it was not run). Mosquitto 2.0 has
//! no kick by client id (`mosquitto_kick_client_by_clientid()` is only reachable from a
//! plugin), and `disableClient` says nothing about whether anyone was connected. With
//! `reenable_after_kick: true`, `terminate` of a user an operator had disabled enables it
//! again: the contract's exchange is one batch, with no look first.

mod answer;
mod batch;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use answer::Item;
use batch::{Command, Plan};

/// Said when a client id cannot be cut.
const PINNED_ONLY: &str = "only client ids pinned by a dynsec clientid can be cut on Mosquitto 2.0";

/// A Mosquitto backend's settings: the dynsec admin Sever connects as.
#[derive(Debug, Settings)]
pub struct MosquittoSettings {
    /// username of a dynsec client with the admin role
    username: String,
    /// its password
    #[setting(secret)]
    password: String,
    /// MQTT client id of Sever's admin connection (default sever-<backend>; unique per Sever replica)
    client_id: Option<String>,
    /// terminate re-enables the user in the same batch, so it may reconnect (default false)
    reenable_after_kick: Option<bool>,
    /// PEM file of CA certificates for mqtts:// (default: the system's)
    ca_path: Option<String>,
}

/// One Mosquitto broker with the dynamic-security plugin.
pub struct Mosquitto {
    username: String,
    password: String,
    client_id: String,
    reenable_after_kick: bool,
    ca_path: Option<String>,
}

// By hand, so that printing an instance never shows the password.
impl std::fmt::Debug for Mosquitto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mosquitto")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("client_id", &self.client_id)
            .field("reenable_after_kick", &self.reenable_after_kick)
            .field("ca_path", &self.ca_path)
            .finish()
    }
}

/// A flow in progress: the batch in flight and what its answer means.
#[derive(Debug)]
pub struct Flow {
    /// What the request is about, for messages ("'dev1'", "pinning client id 'c'").
    subject: String,
    /// The client id a `disconnect` looks for.
    client_id: String,
    plan: Plan,
    /// The batch in flight, with its correlation strings.
    commands: Vec<Command>,
}

impl Flow {
    fn send(&mut self, plan: Plan, env: &Env) -> Step {
        self.commands = plan.commands(env);
        let request = batch::request(&plan, &self.commands);
        self.plan = plan;
        Step::Mqtt(request)
    }
}

impl Mosquitto {
    fn answer(&self, flow: &mut Flow, result: &MqttResult, env: &Env) -> Step {
        let items = match answer::responses(result, &flow.commands, flow.plan.purpose()) {
            Ok(items) => items,
            Err(problem) => return Step::Fail(problem),
        };
        match flow.plan.clone() {
            Plan::List => self.listed(flow, &items, env),
            Plan::Disable { users, reenable } => disabled(flow, &items, &users, reenable),
        }
    }

    /// Step 2 of `disconnect`: disable and re-enable every enabled record pinning the id.
    fn listed(&self, flow: &mut Flow, items: &[Option<Item>], env: &Env) -> Step {
        let Some(Some(list)) = items.first() else {
            return Step::Fail(Problem::new(
                ProblemKind::Unreadable,
                "no listClients answer",
            ));
        };
        if let Some(error) = &list.error {
            return Step::Fail(answer::command_error(list, error, &flow.subject));
        }
        let Some(Value::Array(records)) = list.data.as_ref().and_then(|d| d.get("clients")) else {
            return Step::Fail(Problem::new(
                ProblemKind::Unreadable,
                "mosquitto answered listClients without a data.clients list",
            ));
        };
        let pinning = records
            .iter()
            .filter(|r| r.get("clientid").and_then(Value::as_str) == Some(&flow.client_id));
        let (off, enabled): (Vec<&Value>, Vec<&Value>) =
            pinning.partition(|r| r.get("disabled").and_then(Value::as_bool) == Some(true));
        let users: Vec<String> = enabled
            .iter()
            .filter_map(|r| r.get("username").and_then(Value::as_str).map(str::to_owned))
            .collect();
        if users.is_empty() {
            let detail = if off.is_empty() {
                format!(
                    "mosquitto has no dynsec client {}: {PINNED_ONLY}",
                    flow.subject
                )
            } else {
                format!(
                    "mosquitto's dynsec client {} is disabled, so no session can be connected",
                    flow.subject
                )
            };
            let mut vendor = Map::new();
            vendor.insert("message".into(), Value::from(PINNED_ONLY));
            return Step::Fail(
                Problem::new(ProblemKind::TargetNotFound, detail).with_vendor(vendor),
            );
        }
        flow.send(
            Plan::Disable {
                users,
                reenable: true,
            },
            env,
        )
    }
}

/// The end of a disable batch: `done` once every user is disabled (and re-enabled when
/// asked), else the first failure. A record deleted between `disconnect`'s list and its
/// disable is skipped; when all are, the target is not found.
fn disabled(flow: &Flow, items: &[Option<Item>], users: &[String], reenable: bool) -> Step {
    let per_user = if reenable { 2 } else { 1 };
    let mut cut = Vec::new();
    let mut not_reenabled = Vec::new();
    let mut gone = None;
    for (i, user) in users.iter().enumerate() {
        let disable = items.get(i * per_user).and_then(Option::as_ref);
        let Some(disable) = disable else {
            let detail = format!("mosquitto did not answer disableClient of '{user}'");
            return Step::Fail(Problem::new(ProblemKind::Unreadable, detail));
        };
        match &disable.error {
            Some(error) if error == "Client not found" && users.len() > 1 => {
                gone = Some(answer::command_error(disable, error, &flow.subject));
                continue;
            }
            Some(error) => return Step::Fail(answer::command_error(disable, error, &flow.subject)),
            None => cut.push(user.clone()),
        }
        if reenable {
            let enable = items.get(i * per_user + 1).and_then(Option::as_ref);
            match enable.map(|e| e.error.as_deref()) {
                Some(None) => {}
                Some(Some(error)) => not_reenabled.push((user.clone(), vendor::clean(error))),
                None => not_reenabled.push((user.clone(), "no answer".to_owned())),
            }
        }
    }
    if cut.is_empty() {
        let problem = gone.unwrap_or_else(|| Problem::new(ProblemKind::TargetNotFound, "no user"));
        return Step::Fail(problem);
    }
    if let Some((user, error)) = not_reenabled.first() {
        let detail = format!(
            "mosquitto disabled '{user}' (its sessions are cut) but enableClient failed: \
             {error}; it stays disabled until enabled (a retry of this request re-enables it)"
        );
        let mut vendor = answer::error_vendor("enableClient", error);
        vendor.insert("users".into(), users_value(&cut));
        return Step::Fail(Problem::new(ProblemKind::VendorError, detail).with_vendor(vendor));
    }
    let mut vendor = Map::new();
    vendor.insert(
        "message".into(),
        Value::from(
            "no connection count available: Mosquitto 2.0 does not say how many sessions it closed",
        ),
    );
    vendor.insert("users".into(), users_value(&cut));
    vendor.insert("reenabled".into(), Value::from(reenable));
    Step::Done(Success {
        outcome: Outcome::Done,
        vendor,
    })
}

fn users_value(users: &[String]) -> Value {
    Value::Array(users.iter().map(|u| Value::from(u.as_str())).collect())
}

impl Adapter for Mosquitto {
    const NAME: &'static str = "mosquitto";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = MosquittoSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Eclipse Mosquitto 2.0 dynamic security (MQTT control topic): disable a client",
            vec![
                ActionSpec::new(
                    Action::Terminate,
                    [[TargetField::UserId]],
                    "disableClient of the dynsec username user_id: closes all its sessions; it \
                     stays disabled unless reenable_after_kick",
                ),
                ActionSpec::new(
                    Action::Disconnect,
                    [[TargetField::ClientId]],
                    "listClients, then disableClient + enableClient of the dynsec client pinning \
                     client_id: closes that session; it may reconnect",
                ),
            ],
        )
        .transport(Transport::Mqtt, &[])
    }

    fn new(backend: Backend<MosquittoSettings>) -> Result<Self, Vec<SettingError>> {
        let s = backend.settings;
        Ok(Mosquitto {
            username: s.username,
            password: s.password,
            client_id: s
                .client_id
                .unwrap_or_else(|| format!("sever-{}", backend.name)),
            reenable_after_kick: s.reenable_after_kick.unwrap_or(false),
            ca_path: s.ca_path,
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        let target = &request.target;
        let mut flow = Flow {
            subject: String::new(),
            client_id: String::new(),
            plan: Plan::List,
            commands: Vec::new(),
        };
        let plan = match (request.action, target.get(TargetField::UserId)) {
            (Action::Terminate, Some(user)) => {
                flow.subject = format!("'{user}'");
                Plan::Disable {
                    users: vec![user.to_owned()],
                    reenable: self.reenable_after_kick,
                }
            }
            _ => {
                let id = target.field(TargetField::ClientId);
                flow.subject = format!("pinning client id '{id}'");
                id.clone_into(&mut flow.client_id);
                Plan::List
            }
        };
        let step = flow.send(plan, env);
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        match input {
            Input::Mqtt(result) => self.answer(flow, result, env),
            // Every batch is idempotent; a retry gets fresh correlation strings.
            Input::Retry { .. } => flow.send(flow.plan.clone(), env),
            // The host answers only the kinds of exchange this adapter plans (MQTT).
            _ => unreachable!("mosquitto: resumed with the answer to an exchange it never plans"),
        }
    }

    fn connection(&self) -> Option<ConnectionSpec> {
        Some(ConnectionSpec {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            client_id: Some(self.client_id.clone()),
            ca_path: self.ca_path.clone(),
            ..ConnectionSpec::default()
        })
    }
}

export_plugin!(Mosquitto);
