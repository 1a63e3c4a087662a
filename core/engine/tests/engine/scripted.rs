//! The scripted adapter the engine's tests run: linked in, and called through the real
//! ABI functions like a loaded library.

use parking_lot::Mutex;
use sever_engine::plugin::{host, Plugin};
use sever_plugin_sdk::prelude::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The scripted adapter's API key setting (a secret).
pub(crate) const API_KEY: &str = "KEY s3cret/+";
/// The token the fake vendor hands out.
pub(crate) const TOKEN: &str = "tok-abc";
/// How long a token is used, by the host's clock.
pub(crate) const TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// A token-then-call adapter. `disconnect` fetches a bearer token (cached in the instance
/// and used for [`TOKEN_LIFETIME`] by the host's clock, `Env::unix_ms`), then
/// `POST {url}/kick/{client_id}?key=…` with a nonce from the host's random bytes,
/// idempotent. `terminate` by `connection_id` is a single non-idempotent call. A
/// `client_id` of `panic` panics.
pub(crate) struct Scripted {
    url: String,
    api_key: String,
    /// The token and when it stops being used (Unix ms).
    token: Mutex<Option<(String, u64)>>,
}

/// The scripted adapter's one setting.
#[derive(Debug, Settings)]
pub(crate) struct ScriptedSettings {
    /// API key
    #[setting(secret)]
    api_key: String,
}

pub(crate) enum Flow {
    Token(String),
    Kick(String),
    Terminate(String),
}

impl Scripted {
    fn kick(&self, client: &str, env: &Env) -> Step {
        let token = self
            .token
            .lock()
            .clone()
            .map(|(t, _)| t)
            .unwrap_or_default();
        let nonce: String = env.random[..8].iter().map(|b| format!("{b:02x}")).collect();
        let url = format!(
            "{}?key={}",
            encode::url_with_segments(&self.url, &["kick", client]),
            encode::component(&self.api_key)
        );
        Step::Send(
            VendorRequest::new("POST", url)
                .header("authorization", format!("Bearer {token}"))
                .header("x-nonce", nonce)
                .idempotent(true)
                .purpose("kick")
                .redact(token),
        )
    }

    fn token_request(&self) -> Step {
        Step::Send(
            VendorRequest::new("GET", format!("{}/token", self.url))
                .share("token")
                .idempotent(true)
                .purpose("token"),
        )
    }

    fn terminate(&self, connection: &str) -> Step {
        Step::Send(VendorRequest::new(
            "DELETE",
            encode::url_with_segments(&self.url, &["connections", connection]),
        ))
    }

    fn outcome(response: &VendorResponse<'_>) -> Step {
        match response.status {
            200 => Step::Done(Success {
                outcome: Outcome::Done,
                vendor: vendor::vendor_map(response),
            }),
            status => Step::Fail(vendor::problem(
                vendor::kind_for_status(status),
                response,
                None,
                None,
                format!("vendor answered {status}"),
            )),
        }
    }
}

impl Adapter for Scripted {
    const NAME: &'static str = "scripted";
    const VERSION: &'static str = "1.0.0";
    type Settings = ScriptedSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo {
            name: String::new(),
            version: String::new(),
            description: "test adapter".into(),
            transport: Transport::Http,
            url_schemes: Vec::new(),
            actions: vec![
                ActionSpec {
                    action: Action::Disconnect,
                    target_sets: vec![vec![TargetField::ClientId]],
                    optional_fields: vec![],
                    description: String::new(),
                },
                ActionSpec {
                    action: Action::Terminate,
                    target_sets: vec![vec![TargetField::ConnectionId], vec![TargetField::UserId]],
                    optional_fields: vec![],
                    description: String::new(),
                },
            ],
            settings: Vec::new(),
        }
    }

    fn new(
        backend: sever_plugin_sdk::Backend<ScriptedSettings>,
    ) -> Result<Self, Vec<SettingError>> {
        Ok(Scripted {
            url: backend.url,
            api_key: backend.settings.api_key,
            token: Mutex::new(None),
        })
    }

    fn start(&self, request: &Request, env: &Env) -> (Flow, Step) {
        if let Some(connection) = &request.target.connection_id {
            return (
                Flow::Terminate(connection.clone()),
                self.terminate(connection),
            );
        }
        let client = request.target.field(TargetField::ClientId).to_owned();
        assert_ne!(client, "panic", "scripted panic");
        let fresh = self
            .token
            .lock()
            .as_ref()
            .is_some_and(|(_, until)| env.unix_ms < *until);
        if fresh {
            let step = self.kick(&client, env);
            (Flow::Kick(client), step)
        } else {
            (Flow::Token(client), self.token_request())
        }
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, env: &Env) -> Step {
        match (&*flow, input) {
            (Flow::Token(client), Input::Response(r)) if r.status == 200 => {
                let until = env.unix_ms + TOKEN_LIFETIME.as_millis() as u64;
                *self.token.lock() = Some((r.text().into_owned(), until));
                let client = client.clone();
                let step = self.kick(&client, env);
                *flow = Flow::Kick(client);
                step
            }
            (Flow::Token(_), Input::Response(r)) => Self::outcome(&r),
            (Flow::Token(_), Input::Retry { .. }) => self.token_request(),
            (Flow::Kick(client), Input::Retry { .. }) => self.kick(client, env),
            (Flow::Terminate(c), Input::Retry { .. }) => self.terminate(c),
            (_, Input::Response(r)) => Self::outcome(&r),
            (_, _) => unreachable!("scripted: only HTTP exchanges are planned"),
        }
    }
}

/// The scripted adapter as a loaded plugin.
pub(crate) fn scripted_plugin() -> Arc<Plugin> {
    host::load_static(
        sever_plugin_sdk::static_descriptor!(Scripted),
        Path::new("<static scripted>"),
    )
    .expect("the scripted adapter loads")
}
