//! # `rabbitmq` — RabbitMQ management HTTP API adapter
//!
//! **Actions.** Every call goes to the management plugin's HTTP API with
//! `Authorization: Basic base64(user:password)`; every path segment (the vhost, a
//! connection name such as `127.0.0.1:52341 -> 127.0.0.1:5672`, an exchange, a queue, a
//! binding's properties key) is percent-encoded, so the default vhost `/` is sent as `%2F`.
//!
//! | canonical target | vendor calls, one step each |
//! |---|---|
//! | `disconnect` + `client_id` | `GET {url}/api/vhosts/{vhost}/connections?columns=name,user,client_properties`, then `DELETE {url}/api/connections/{name}` for each connection whose `client_properties.connection_name` (AMQP) or `client_properties.client_id` (MQTT) equals `client_id` |
//! | `terminate` + `connection_id` | `DELETE {url}/api/connections/{connection_id}` |
//! | `terminate` + `user_id` | `GET {url}/api/connections/username/{user_id}?columns=name,user,vhost` (when that endpoint answers 404, `GET {url}/api/vhosts/{vhost}/connections?columns=name,user,vhost` filtered by `user`), then `DELETE {url}/api/connections/{name}` for each of the user's connections in the vhost |
//! | `unbind` + `source` + `client_id` + `topic` | `GET {url}/api/bindings/{vhost}/e/{source}/q/{client_id}`, then `DELETE {url}/api/bindings/{vhost}/e/{source}/q/{client_id}/{properties_key}` for each binding whose `routing_key` is `topic`, with the `properties_key` the broker listed |
//!
//! Connection deletes carry `X-Reason: <reason>` when the request has a reason (the
//! broker's close frame then tells the client why). Listing and deleting are idempotent:
//! a retried step is planned again as it was, and a connection that is gone when its
//! delete arrives (404) is skipped, not counted.
//!
//! **Settings.** `user`, `password` (secret), `vhost` (default `/`). The user needs the
//! `monitoring` tag to list every user's connections and `administrator` (or
//! `policymaker`/`management` on its own objects) to close them and delete bindings.
//!
//! **Answers.** Errors are `{"error": "...", "reason": "..."}`; they go into
//! `vendor.code` and `vendor.message` and, with the step that failed, into `detail`.
//!
//! | vendor | canonical |
//! |---|---|
//! | every delete 204 | `done`, `vendor`: `{"status": 204, "closed": n, "connections": [names]}` (`"unbound": n` for unbind) |
//! | no connection or binding matches, or every match was already gone | 404 `target_not_found` |
//! | `DELETE /api/connections/{id}` 404 | 404 `target_not_found` |
//! | 404 listing the vhost's connections or the bindings (unknown vhost; 3.10 answers an unknown exchange or queue with an empty list, hence "no such binding") | 404 `target_not_found`, the broker's words in `detail` |
//! | 401 / 403 | 502 `upstream_unauthorized` |
//! | 429 | 429 `rate_limited` (with `Retry-After`) |
//! | other 4xx | 502 `upstream_rejected` |
//! | 5xx | 502 `upstream_error` (retryable) |
//! | a list that is not a JSON array of objects | 502 `upstream_error` |
//!
//! A step that fails after some connections were closed reports the count so far in
//! `vendor.closed`. Closing does not stop a client from reconnecting.
//!
//! **Confirmed** against RabbitMQ 3.10.8 (Debian 12's package), by the end-to-end tests of
//! `tests/e2e/rabbitmq.rs` on a real broker: the paths, methods and Basic auth; `columns`
//! on the connection lists; `connection_name` of AMQP clients and `client_id` of MQTT
//! clients in `client_properties`; `/api/connections/username/{user}`; 204 on deletes;
//! `{"error": "Object Not Found", "reason": "Not Found"}` with 404; 401 for a wrong
//! password; the properties key read from the bindings list is accepted by the delete.
//!
//! **Assumed:** brokers older than the per-user endpoint answer its path with 404 (then
//! the vhost's list is filtered); the per-user endpoint lists connections of every vhost,
//! so its result is narrowed to the configured vhost when it carries a `vhost` column.

mod answer;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

/// One RabbitMQ backend: the management API's URL, the credentials and the vhost.
#[derive(Debug)]
pub struct Rabbitmq {
    url: String,
    credentials: String,
    vhost: String,
}

/// Which connections a list step looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    /// Those whose client-provided name or MQTT client id is this.
    Client(String),
    /// Those of this user.
    User(String),
}

/// What the flow waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    /// A connection list; `per_user` when it is the per-user endpoint's.
    List { wanted: Wanted, per_user: bool },
    /// The bindings between the exchange and the queue.
    Bindings,
    /// The delete of `pending[0]` (a connection or a binding).
    Delete,
}

/// One thing to delete: its URL and its name for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Deletion {
    url: String,
    name: String,
}

/// A flow in progress.
#[derive(Debug)]
pub struct Flow {
    waiting: Waiting,
    /// What the request is about, for messages ("client 'c'", "user 'u'"…).
    subject: String,
    reason: Option<String>,
    /// The request the flow waits on, planned again on a retry.
    last: Option<VendorRequest>,
    /// Deletions still to make; the first is in flight while `waiting` is `Delete`.
    pending: Vec<Deletion>,
    /// Names deleted so far.
    deleted: Vec<String>,
    /// Whether deletions are bindings (else connections).
    bindings: bool,
    /// A single delete whose 404 means "no such target" (terminate by connection id).
    direct: bool,
    /// Unbind: the routing key looked for.
    topic: String,
}

impl Rabbitmq {
    fn get(&self, url: String, purpose: &str) -> VendorRequest {
        VendorRequest::new("GET", url)
            .header("authorization", format!("Basic {}", self.credentials))
            .header("accept", "application/json")
            .idempotent(true)
            .purpose(purpose)
            .redact(self.credentials.clone())
    }

    fn vhost_connections(&self, columns: &str) -> String {
        let base = encode::url_with_segments(&self.url, &["api", "vhosts", &self.vhost]);
        format!("{base}/connections?columns={columns}")
    }

    fn user_connections(&self, user: &str) -> String {
        let base = encode::url_with_segments(&self.url, &["api", "connections", "username", user]);
        format!("{base}?columns=name,user,vhost")
    }

    fn bindings_url(&self, source: &str, queue: &str) -> String {
        encode::url_with_segments(
            &self.url,
            &["api", "bindings", &self.vhost, "e", source, "q", queue],
        )
    }

    fn connection_deletion(&self, name: &str) -> Deletion {
        Deletion {
            url: encode::url_with_segments(&self.url, &["api", "connections", name]),
            name: name.to_owned(),
        }
    }

    fn send(&self, flow: &mut Flow, request: VendorRequest) -> Step {
        flow.last = Some(request.clone());
        Step::Send(request)
    }

    fn list(&self, flow: &mut Flow, wanted: Wanted, per_user: bool) -> Step {
        let url = match (&wanted, per_user) {
            (Wanted::User(user), true) => self.user_connections(user),
            (Wanted::User(_), false) => self.vhost_connections("name,user,vhost"),
            (Wanted::Client(_), _) => self.vhost_connections("name,user,client_properties"),
        };
        flow.waiting = Waiting::List { wanted, per_user };
        let request = self.get(url, "list connections");
        self.send(flow, request)
    }

    /// Sends the delete of `pending[0]`, or ends the flow when nothing is left.
    fn next_delete(&self, flow: &mut Flow, last: &VendorResponse<'_>) -> Step {
        let Some(next) = flow.pending.first() else {
            return answer::finished(flow, last);
        };
        let mut request = VendorRequest::new("DELETE", next.url.clone())
            .header("authorization", format!("Basic {}", self.credentials))
            .idempotent(true)
            .redact(self.credentials.clone());
        if flow.bindings {
            request = request.purpose("delete binding");
        } else {
            request = request.purpose("close connection");
            if let Some(reason) = &flow.reason {
                request = request.header("x-reason", reason.clone());
            }
        }
        flow.waiting = Waiting::Delete;
        self.send(flow, request)
    }

    fn answer(&self, flow: &mut Flow, response: &VendorResponse<'_>) -> Step {
        match flow.waiting.clone() {
            Waiting::List {
                wanted: Wanted::User(user),
                per_user: true,
            } if response.status == 404 => {
                // A broker without the per-user endpoint: list the vhost's and filter.
                self.list(flow, Wanted::User(user), false)
            }
            Waiting::List { wanted, .. } => {
                let rows = match answer::rows(flow, response, "listing connections") {
                    Ok(rows) => rows,
                    Err(problem) => return Step::Fail(problem),
                };
                flow.pending = rows
                    .iter()
                    .filter(|row| self.matches(row, &wanted))
                    .filter_map(|row| row.get("name").and_then(Value::as_str))
                    .map(|name| self.connection_deletion(name))
                    .collect();
                self.next_delete(flow, response)
            }
            Waiting::Bindings => {
                let rows = match answer::rows(flow, response, "listing bindings") {
                    Ok(rows) => rows,
                    Err(problem) => return Step::Fail(problem),
                };
                let base = flow
                    .last
                    .as_ref()
                    .map(|r| r.url.clone())
                    .unwrap_or_default();
                flow.pending = rows
                    .iter()
                    .filter(|row| {
                        row.get("routing_key").and_then(Value::as_str) == Some(&flow.topic)
                    })
                    .filter_map(|row| row.get("properties_key").and_then(Value::as_str))
                    .map(|key| Deletion {
                        url: format!("{base}/{}", encode::path_segment(key)),
                        name: key.to_owned(),
                    })
                    .collect();
                self.next_delete(flow, response)
            }
            Waiting::Delete => match response.status {
                200..=299 => {
                    let done = flow.pending.remove(0);
                    flow.deleted.push(done.name);
                    self.next_delete(flow, response)
                }
                // Gone meanwhile (closed by itself, or by someone else): not ours to count.
                404 if !flow.direct => {
                    flow.pending.remove(0);
                    self.next_delete(flow, response)
                }
                _ => Step::Fail(answer::failed(flow, response)),
            },
        }
    }

    /// Whether a listed connection is one the flow looks for.
    fn matches(&self, row: &Map<String, Value>, wanted: &Wanted) -> bool {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        match wanted {
            Wanted::Client(id) => {
                let props = row.get("client_properties");
                let name = text(props.and_then(|p| p.get("connection_name")));
                let mqtt = text(props.and_then(|p| p.get("client_id")));
                name.as_deref() == Some(id) || mqtt.as_deref() == Some(id)
            }
            Wanted::User(user) => {
                let vhost_ok = match row.get("vhost").and_then(Value::as_str) {
                    Some(vhost) => vhost == self.vhost,
                    None => true,
                };
                vhost_ok && text(row.get("user")).as_deref() == Some(user)
            }
        }
    }
}

impl Flow {
    fn new(subject: String, reason: Option<String>) -> Self {
        Flow {
            waiting: Waiting::Delete,
            subject,
            reason,
            last: None,
            pending: Vec::new(),
            deleted: Vec::new(),
            bindings: false,
            direct: false,
            topic: String::new(),
        }
    }
}

/// A RabbitMQ backend's settings: management API credentials (HTTP Basic) and the vhost.
#[derive(Debug, Settings)]
pub struct RabbitmqSettings {
    /// management API user
    #[setting(check = settings::no_colon)]
    user: String,
    /// management API password
    #[setting(secret)]
    password: String,
    /// virtual host (default /)
    vhost: Option<String>,
}

impl Adapter for Rabbitmq {
    const NAME: &'static str = "rabbitmq";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = RabbitmqSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "RabbitMQ management HTTP API (close connections, delete bindings)",
            vec![
                ActionSpec::new(
                    Action::Disconnect,
                    [[TargetField::ClientId]],
                    "lists the vhost's connections, then DELETE /api/connections/{name} for \
                     each whose AMQP connection name or MQTT client id is client_id",
                ),
                ActionSpec::new(
                    Action::Terminate,
                    [[TargetField::ConnectionId], [TargetField::UserId]],
                    "DELETE /api/connections/{connection_id}, or every connection of user_id \
                     in the vhost",
                ),
                ActionSpec::new(
                    Action::Unbind,
                    [[
                        TargetField::Source,
                        TargetField::ClientId,
                        TargetField::Topic,
                    ]],
                    "deletes the binding from exchange source to queue client_id with \
                     routing key topic",
                ),
            ],
        )
    }

    fn new(backend: Backend<RabbitmqSettings>) -> Result<Self, Vec<SettingError>> {
        let RabbitmqSettings {
            user,
            password,
            vhost,
        } = backend.settings;
        Ok(Rabbitmq {
            url: backend.url,
            credentials: encode::basic_auth(&user, &password),
            vhost: vhost.unwrap_or_else(|| "/".to_owned()),
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let target = &request.target;
        let field = |f| target.field(f).to_owned();
        let reason = match request
            .reason
            .as_deref()
            .map(|r| encode::header_value("reason", r))
        {
            Some(Err(problem)) => return (Flow::new(String::new(), None), Step::Fail(problem)),
            Some(Ok(reason)) => Some(reason.to_owned()),
            None => None,
        };
        let vhost = &self.vhost;
        match request.action {
            Action::Disconnect => {
                let id = field(TargetField::ClientId);
                let mut flow = Flow::new(format!("client '{id}' in vhost '{vhost}'"), reason);
                let step = self.list(&mut flow, Wanted::Client(id), false);
                (flow, step)
            }
            Action::Terminate => match target.get(TargetField::UserId) {
                Some(user) => {
                    let mut flow = Flow::new(format!("user '{user}' in vhost '{vhost}'"), reason);
                    let step = self.list(&mut flow, Wanted::User(user.to_owned()), true);
                    (flow, step)
                }
                None => {
                    let id = field(TargetField::ConnectionId);
                    let mut flow = Flow::new(format!("connection '{id}'"), reason);
                    flow.direct = true;
                    flow.pending = vec![self.connection_deletion(&id)];
                    let step = self.next_delete(&mut flow, &answer::NOTHING_YET);
                    (flow, step)
                }
            },
            Action::Unbind => {
                let (source, queue) = (field(TargetField::Source), field(TargetField::ClientId));
                let topic = field(TargetField::Topic);
                let mut flow = Flow::new(
                    format!("binding of exchange '{source}' to queue '{queue}' in vhost '{vhost}' with key '{topic}'"),
                    reason,
                );
                flow.bindings = true;
                flow.topic = topic;
                flow.waiting = Waiting::Bindings;
                let request = self.get(self.bindings_url(&source, &queue), "list bindings");
                let step = self.send(&mut flow, request);
                (flow, step)
            }
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Response(response) => self.answer(flow, &response),
            // Every step is idempotent and unsigned: planning it again gives the same call.
            Input::Retry { .. } => match flow.last.clone() {
                Some(request) => Step::Send(request),
                // The host retries only a step it was given: a host bug, answered as one
                // (the panic becomes `500 internal`).
                None => unreachable!("rabbitmq: asked to retry before any call"),
            },
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("rabbitmq: resumed with the answer to an exchange it never plans"),
        }
    }
}

export_plugin!(Rabbitmq);
