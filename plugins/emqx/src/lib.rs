//! # `emqx` — EMQX 5 management REST API adapter
//!
//! **Actions.** Every call goes to the dashboard/API listener (default `http://host:18083`,
//! HTTPS 18084; the backend `url` may carry a reverse proxy's base path) with
//! `Authorization: Basic base64(api_key:api_secret)` — an EMQX API key, never a dashboard
//! login. Identifiers go into one path segment or query value each, percent-encoded over
//! their UTF-8 bytes keeping only `A-Z a-z 0-9 - . _ ~`.
//!
//! | canonical target | vendor calls, one step each |
//! |---|---|
//! | `disconnect` + `client_id` | `DELETE {url}/api/v5/clients/{client_id}`, no body |
//! | `terminate` + `user_id` (an MQTT username) | `GET {url}/api/v5/clients?username={user_id}&page={n}&limit=100` for `n` = 1, 2, … while `meta.hasnext` is true, **then**, when the pages listed at least one client of that username, one `POST {url}/api/v5/clients/kickout/bulk` with `Content-Type: application/json` and the body `["<clientid>", …]` |
//!
//! **The list decides "not found".** The bulk kick answers 204 even for client ids that do
//! not exist (`kickout_clients/1` ignores them), so it cannot tell "kicked" from "nobody
//! there": the listing is the only count. Every page is read before anything is kicked
//! (the SDK's [`paging`](sever_plugin_sdk::paging) helper: a partial list would cut fewer
//! clients than asked, kicking page by page would shift the pages under the listing); a
//! listing with no client of that username is `target_not_found` and nothing is kicked.
//! Rows are kept only when their `username` is exactly `user_id` (the server's filter is
//! exact already; this guards against a server that ignores it — never a wider cut than
//! asked). The kicked ids are listed once each, in one bulk call: EMQX documents no limit
//! on its size. At most [`MAX_PAGES`] pages of [`PAGE_LIMIT`] are read.
//!
//! **What the cut does** (confirmed, `emqx_channel:process_kick/1`): the session is
//! destroyed (queued messages are lost, also for an offline persistent session), the will
//! message may be published, MQTT 5 clients get `DISCONNECT` 0x98 (administrative action);
//! it runs on every node of the cluster. It does not ban: the client may reconnect at once.
//!
//! **Settings.** `api_key` (the key's name, the Basic user: no `:`), `api_secret` (secret).
//!
//! **Answers.** Errors are `{"code": "<CODE>", "message": "<text>"}`; the code goes into
//! `vendor.code`, the message into `vendor.message` and the `detail`.
//!
//! | vendor | canonical |
//! |---|---|
//! | 204 (`DELETE` or bulk) | `done` (terminate: `vendor.closed` = the number listed, `vendor.clients` = their ids) |
//! | `DELETE` 404 `CLIENTID_NOT_FOUND` | 404 `target_not_found` (on a retry the detail says the first attempt may have made the cut) |
//! | list 200 with no client of that username | 404 `target_not_found`, bulk not sent (`vendor.listed` = 0) |
//! | 401 `BAD_API_KEY_OR_SECRET`, `AUTHORIZATION_HEADER_ERROR`, `API_KEY_NOT_ALLOW`; 403 `UNAUTHORIZED_ROLE`; any 401/403 | 502 `upstream_unauthorized` |
//! | 400 `BAD_REQUEST`, `INVALID_PARAMETER`; a 404 without `CLIENTID_NOT_FOUND` (a wrong base path); any other 4xx | 502 `upstream_rejected` |
//! | 429 | 429 `rate_limited` (the vendor's `Retry-After` passed on) |
//! | 500 `UNKNOWN_ERROR`, `NODE_DOWN`, any 5xx | 502 `upstream_error` (retryable) |
//! | a list that is not `{"data": [...], "meta": {...}}`, or a 2xx other than the call's own | 502 `upstream_error` |
//!
//! Every call is idempotent (a kick of a kicked client is a 404, a bulk kick of kicked ids
//! a 204), so the host may retry each; a retry is planned again as it was (no signature).
//!
//! **Confirmed** (emqx/emqx `emqx_mgmt_api_clients.erl`, `emqx_mgmt.erl`,
//! `emqx_channel.erl`, `emqx_dashboard.erl`; cowboy's router): the paths and methods, Basic
//! with API key and secret, the error shape and codes above, `WWW-Authenticate: Basic
//! Realm="emqx-dashboard"` on 401, the list's `data`/`meta.hasnext` shape and exact
//! `username` filter, the bulk kick's 204 for unknown ids, what a kick does, and that
//! cowboy decodes `%2F` inside a segment (so a client id with `/` is one segment).
//!
//! **Assumed:** `limit=100` is within the server's maximum; a list whose `meta` lacks
//! `hasnext` (older 5.x) has more pages while `page × limit < count`; a 404 without
//! `CLIENTID_NOT_FOUND` comes from a wrong path, not a missing client; no rate limit on
//! these endpoints (a 429 would still be `rate_limited`).

mod answer;
mod list;

#[cfg(test)]
mod tests;

use serde_json::Value;
use sever_plugin_sdk::paging::{Listing, Position, Progress};
use sever_plugin_sdk::prelude::*;

/// Clients asked for per list page.
pub const PAGE_LIMIT: u64 = 100;
/// Pages read at most for one `terminate` (10,000 clients of one username).
pub const MAX_PAGES: u32 = 100;

/// An EMQX backend's settings: an API key and its secret (HTTP Basic).
#[derive(Debug, Settings)]
pub struct EmqxSettings {
    /// API key (Dashboard → API keys): the Basic user
    #[setting(check = api_key)]
    api_key: String,
    /// the API key's secret
    #[setting(secret, check = settings::visible_ascii)]
    api_secret: String,
}

/// The API key is the user of HTTP Basic: visible ASCII, no colon.
fn api_key(value: &str) -> Result<(), String> {
    settings::visible_ascii(value)?;
    settings::no_colon(value)
}

/// One EMQX cluster, reached through one API listener with one API key.
pub struct Emqx {
    url: String,
    /// `base64(api_key:api_secret)`: reveals the secret, so it is listed for redaction.
    credentials: String,
}

impl std::fmt::Debug for Emqx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emqx")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What a flow waits for.
#[derive(Debug)]
enum Waiting {
    /// The answer to `DELETE /clients/{client_id}`.
    Kick { client_id: String },
    /// A page of the user's clients.
    List {
        user: String,
        listing: Listing<String>,
    },
    /// The answer to the bulk kick of `clients`.
    Bulk { user: String, clients: Vec<String> },
}

/// A flow in progress: what it waits for, the call in flight (planned again on a retry),
/// and whether that call is a retry.
#[derive(Debug)]
pub struct Flow {
    waiting: Waiting,
    last: VendorRequest,
    retried: bool,
}

impl Emqx {
    fn call(&self, method: &str, url: String, purpose: &str) -> VendorRequest {
        VendorRequest::new(method, url)
            .header("authorization", format!("Basic {}", self.credentials))
            .header("accept", "application/json")
            .idempotent(true)
            .purpose(purpose)
            .redact(self.credentials.clone())
    }

    fn kick(&self, client_id: &str) -> VendorRequest {
        let url = encode::url_with_segments(&self.url, &["api", "v5", "clients", client_id]);
        self.call("DELETE", url, "kick client")
    }

    fn list_page(&self, user: &str, position: &Position) -> VendorRequest {
        let page = match position {
            Position::Number(n) => *n,
            // The listing starts at page 1 and only ever moves to page numbers.
            Position::Offset(_) | Position::Cursor(_) => 1,
        };
        let mut url = encode::url_with_segments(&self.url, &["api", "v5", "clients"]);
        url.push_str("?username=");
        encode::push_component(&mut url, user);
        url.push_str(&format!("&page={page}&limit={PAGE_LIMIT}"));
        self.call("GET", url, "list the user's clients")
    }

    fn bulk_kick(&self, clients: &[String]) -> VendorRequest {
        let url =
            encode::url_with_segments(&self.url, &["api", "v5", "clients", "kickout", "bulk"]);
        self.call("POST", url, "kick the user's clients")
            .json(clients)
    }

    fn send(&self, flow: &mut Flow, request: VendorRequest) -> Step {
        flow.last = request.clone();
        flow.retried = false;
        Step::Send(request)
    }

    fn answer(&self, flow: &mut Flow, response: &VendorResponse<'_>) -> Step {
        match &mut flow.waiting {
            Waiting::Kick { client_id } => answer::kick(client_id, flow.retried, response),
            Waiting::List { user, listing } => {
                let page = match list::page(user, listing.position(), response) {
                    Ok(page) => page,
                    Err(problem) => return Step::Fail(problem),
                };
                match listing.add(page) {
                    Ok(Progress::More) => {
                        let request = self.list_page(user, listing.position());
                        self.send(flow, request)
                    }
                    Ok(Progress::Complete) if listing.items().is_empty() => {
                        Step::Fail(answer::nobody_listed(user, response))
                    }
                    Ok(Progress::Complete) => {
                        let (user, clients) = (user.clone(), listing.items().to_vec());
                        let request = self.bulk_kick(&clients);
                        flow.waiting = Waiting::Bulk { user, clients };
                        self.send(flow, request)
                    }
                    Err(error) => {
                        let what = format!("the clients of user '{user}'");
                        let vendor = vendor::vendor_map(response);
                        Step::Fail(error.into_problem(&what).with_vendor(vendor))
                    }
                }
            }
            Waiting::Bulk { user, clients } => answer::bulk(user, clients, response),
        }
    }
}

impl Adapter for Emqx {
    const NAME: &'static str = "emqx";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = EmqxSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "EMQX 5 management REST API (kick clients; API key over HTTP Basic)",
            vec![
                ActionSpec::new(
                    Action::Disconnect,
                    [[TargetField::ClientId]],
                    "DELETE /api/v5/clients/{client_id}: kicks the client and destroys its \
                     session (cluster-wide); it may reconnect at once",
                ),
                ActionSpec::new(
                    Action::Terminate,
                    [[TargetField::UserId]],
                    "lists every client of the MQTT username user_id (all pages), then one \
                     POST /api/v5/clients/kickout/bulk; they may reconnect at once",
                ),
            ],
        )
    }

    fn new(backend: Backend<EmqxSettings>) -> Result<Self, Vec<SettingError>> {
        let EmqxSettings {
            api_key,
            api_secret,
        } = backend.settings;
        Ok(Emqx {
            url: backend.url,
            credentials: encode::basic_auth(&api_key, &api_secret),
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let target = &request.target;
        let (waiting, call) = match request.action {
            Action::Terminate => {
                let user = target.field(TargetField::UserId).to_owned();
                let listing = Listing::new(Position::Number(1), MAX_PAGES);
                let call = self.list_page(&user, listing.position());
                (Waiting::List { user, listing }, call)
            }
            // `disconnect`: the only other action declared.
            _ => {
                let client_id = target.field(TargetField::ClientId).to_owned();
                let call = self.kick(&client_id);
                (Waiting::Kick { client_id }, call)
            }
        };
        let step = Step::Send(call.clone());
        let flow = Flow {
            waiting,
            last: call,
            retried: false,
        };
        (flow, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Response(response) => self.answer(flow, &response),
            // Every call is idempotent and unsigned: the same call again (a list retry
            // asks for the same page: the listing has not moved).
            Input::Retry { .. } => {
                flow.retried = true;
                Step::Send(flow.last.clone())
            }
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("emqx: resumed with the answer to an exchange it never plans"),
        }
    }
}

/// A JSON string member of an object, made safe to show; `None` when absent or empty.
fn text_member(body: Option<&Value>, name: &str) -> Option<String> {
    body.and_then(|b| b.get(name))
        .and_then(Value::as_str)
        .map(vendor::clean)
        .filter(|s| !s.is_empty())
}

export_plugin!(Emqx);
