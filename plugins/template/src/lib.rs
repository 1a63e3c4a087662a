//! # `template` — the smallest complete Sever adapter
//!
//! Copy this crate to start an adapter; `docs/writing-an-adapter.md` explains each part.
//! It talks to **Tinyhub**, a made-up MQTT broker with a small REST admin API:
//!
//! **Action.** `disconnect` by `client_id`:
//! `POST {url}/v1/sessions/{client_id}/close` with `X-Api-Key: {api_key}` and no body.
//! The client id is percent-encoded as one path segment (it may hold `/`, `#`, spaces…).
//!
//! **Settings.** `api_key` (secret).
//!
//! **Answers.** Tinyhub's errors are `{"error": "<message>"}`.
//!
//! | vendor | canonical |
//! |---|---|
//! | 204 | `done` |
//! | 404 (no session for that client) | 404 `target_not_found` |
//! | anything else | by status: 401/403 `upstream_unauthorized`, 429 `rate_limited`, other 4xx `upstream_rejected`, 5xx `upstream_error` (retryable) |
//!
//! **Assumed** (say what the vendor's documents do not): closing a closed session is
//! harmless, so the call is idempotent and may be retried.

// Everything an adapter uses: the trait, the model types, `encode`, `vendor`, `settings`.
use sever_plugin_sdk::prelude::*;

/// The backend's settings, declared once: each field is one key of the backend's
/// `settings:` map, its doc comment the description `sever plugins` shows. A plain type
/// is a required key, an `Option<…>` an optional one; `secret` keys are never logged and
/// always redacted; `check` runs a check on the value. The SDK reads them with every
/// problem reported at once (unknown keys too) before `new` is called.
#[derive(Debug, Settings)]
pub struct TinyhubSettings {
    /// Tinyhub API key (sent as X-Api-Key)
    // It travels in a header as it is: visible ASCII only.
    #[setting(secret, check = settings::visible_ascii)]
    api_key: String,
}

/// One configured Tinyhub backend. The host creates one per backend in the config and
/// shares it between all requests (and threads), so it holds only what settings give.
pub struct Tinyhub {
    /// The backend's `url` (scheme, host, port, optional base path; no trailing `/`).
    url: String,
    /// The `api_key` setting. Secret: never put it in a log line, an error or a detail.
    api_key: String,
}

// `Debug` by hand, so that printing an instance never shows the key.
impl std::fmt::Debug for Tinyhub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tinyhub")
            .field("url", &self.url)
            .field("api_key", &"<redacted>")
            .finish()
    }
}

/// What a request needs to remember between its steps: here only the client id, to plan
/// the call again when the host retries it.
#[derive(Debug)]
pub struct Flow {
    client_id: String,
}

impl Tinyhub {
    /// The one vendor call. Identifiers always go through `encode` (here
    /// `url_with_segments`, which percent-encodes each segment): they are data, never
    /// URL syntax.
    fn close_request(&self, client_id: &str) -> VendorRequest {
        let url = encode::url_with_segments(&self.url, &["v1", "sessions", client_id, "close"]);
        VendorRequest::new("POST", url)
            // Sever redacts the values of secret settings wherever it shows a request
            // (dry runs); a secret that appears in another form (a Base64 credential, a
            // token taken from a cache) must be listed with `.redact(…)`.
            .header("x-api-key", self.api_key.clone())
            // Closing twice is harmless, so the host may retry this call on a lost
            // answer or a retryable problem (it asks `resume` with `Input::Retry`).
            .idempotent(true)
            // A few words shown in traces and dry-run output.
            .purpose("close session")
    }

    /// Maps Tinyhub's answer to the canonical outcome.
    fn answer(&self, client_id: &str, response: &VendorResponse<'_>) -> Step {
        if response.status == 204 {
            // `vendor::done` records the status and the vendor's request id, if any.
            return Step::Done(vendor::done(response));
        }
        // The vendor's own words go into `vendor.message` and `detail`: they tell a wrong
        // config apart from a client that is simply not connected.
        let message = response
            .json()
            .and_then(|body| body.get("error")?.as_str().map(vendor::clean))
            .unwrap_or_else(|| vendor::excerpt(response.body));
        // What the answer means, as a problem kind (the host answers each kind with one
        // canonical code). The one vendor-specific mapping; every other status maps by
        // its class.
        let (kind, detail) = match response.status {
            404 => (
                ProblemKind::TargetNotFound,
                format!("tinyhub has no session for client '{client_id}': {message}"),
            ),
            status => (
                vendor::kind_for_status(status),
                format!("tinyhub answered {status}: {message}"),
            ),
        };
        // `vendor::problem` fills `vendor` (status, message), passes `Retry-After` on
        // with 429, and marks 5xx retryable.
        Step::Fail(vendor::problem(
            kind,
            response,
            None,
            Some(&message),
            detail,
        ))
    }
}

impl Adapter for Tinyhub {
    // What backends write as `plugin: template`. Lowercase, stable: configs depend on it.
    const NAME: &'static str = "template";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    // The settings type above: the SDK lists its keys in the metadata and reads them.
    type Settings = TinyhubSettings;
    type Flow = Flow;

    /// What `sever plugins` shows and the host checks requests against.
    fn info() -> PluginInfo {
        PluginInfo::new(
            "Tinyhub MQTT broker (REST admin API) — the template adapter",
            vec![ActionSpec::new(
                Action::Disconnect,
                // One accepted target field set: `{"client_id": …}`. The host refuses
                // any other target before the adapter sees it.
                [[TargetField::ClientId]],
                "POST …/v1/sessions/{client_id}/close: ends the client's session; it may reconnect",
            )],
        )
    }

    /// Creates the backend from its settings, already read and checked by the SDK. Return
    /// errors here only for what the settings type cannot check (how two keys fit
    /// together), each naming its key and never echoing a secret.
    fn new(backend: Backend<TinyhubSettings>) -> Result<Self, Vec<SettingError>> {
        Ok(Tinyhub {
            url: backend.url,
            api_key: backend.settings.api_key,
        })
    }

    /// A new request: plan its first vendor call. The host has checked that the target
    /// holds `client_id`, so `field` cannot come back empty.
    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let client_id = request.target.field(TargetField::ClientId).to_owned();
        let step = Step::Send(self.close_request(&client_id));
        (Flow { client_id }, step)
    }

    /// The vendor answered, or the host wants the call planned again. `_env` carries the
    /// clock and random bytes (for signatures and nonces); this vendor needs neither.
    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Response(response) => self.answer(&flow.client_id, &response),
            Input::Retry { .. } => Step::Send(self.close_request(&flow.client_id)),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("template: resumed with the answer to an exchange it never plans"),
        }
    }
}

// Exports `sever_plugin_descriptor`, the one symbol Sever looks for.
export_plugin!(Tinyhub);
