//! # `cedalo` — Cedalo Pro Mosquitto / Management Center adapter
//!
//! **Action.** `disconnect` by `client_id`:
//! `PUT {url}/api/projects/{project_id}/brokers/{broker_id}/clients/{client_id}/disconnect`
//! with `Authorization: Bearer {token}`, `Content-Type: application/json` and the body
//! `{"clientId": "<client_id>"}`. Every path segment is percent-encoded.
//!
//! **Settings.** `project_id`, `broker_id`, `token` (secret: a Management Center
//! application token).
//!
//! **Answers.** Errors have the vendor's shape `{message, code, status, info?}`:
//!
//! | vendor | canonical |
//! |---|---|
//! | 200 `{}` | `done` |
//! | 401 / 403 | 502 `upstream_unauthorized` |
//! | 404 (`NOT_FOUND`: project, broker or client unknown) | 404 `target_not_found` |
//! | 429 | 429 `rate_limited` (with `Retry-After`) |
//! | 405, other 4xx | 502 `upstream_rejected` |
//! | 5xx | 502 `upstream_error` (retryable: the call is idempotent) |
//! | anything unreadable | 502 `upstream_error` |
//!
//! **Assumed** (the vendor's documents are silent): the `{client}` path segment and the
//! body's `clientId` both carry the MQTT client id; a client that is not connected answers
//! 404. A disconnect does not block reconnection: the client may come straight back.
//! The call is treated as idempotent (disconnecting twice leaves the client disconnected).

use serde::Serialize;
use serde_json::Value;
use sever_plugin_sdk::prelude::*;

/// One Cedalo backend.
#[derive(Debug)]
pub struct Cedalo {
    project_id: String,
    broker_id: String,
    /// `{url}/api/projects/{project_id}/brokers/{broker_id}/clients`, encoded once.
    clients_url: String,
    /// `Bearer {token}`.
    authorization: String,
}

/// A Cedalo backend's settings.
#[derive(Debug, Settings)]
pub struct CedaloSettings {
    /// Management Center project id
    project_id: String,
    /// broker id within the project
    broker_id: String,
    /// application token (sent as a bearer token)
    #[setting(secret, check = settings::no_whitespace)]
    token: String,
}

/// A disconnect in progress: the client id, kept to plan a retry.
#[derive(Debug)]
pub struct Flow {
    client_id: String,
}

/// The disconnect call's body: `{"clientId": "<client_id>"}`.
#[derive(Serialize)]
struct DisconnectBody<'a> {
    #[serde(rename = "clientId")]
    client_id: &'a str,
}

impl Cedalo {
    fn disconnect_request(&self, client_id: &str) -> VendorRequest {
        // The URL's fixed part is encoded once, in `new`; the client id on every call.
        let mut url = String::with_capacity(self.clients_url.len() + 3 * client_id.len() + 12);
        url.push_str(&self.clients_url);
        url.push('/');
        encode::push_component(&mut url, client_id);
        url.push_str("/disconnect");
        VendorRequest::new("PUT", url)
            .header("authorization", self.authorization.as_str())
            .json(&DisconnectBody { client_id })
            .idempotent(true)
            .purpose("disconnect")
    }

    fn answer(&self, client_id: &str, response: &VendorResponse<'_>) -> Step {
        if response.status == 200 {
            // The documented success body is `{}`; anything that is not JSON means we are
            // not talking to a Management Center.
            return match response.json() {
                Some(Value::Object(_)) => Step::Done(vendor::done(response)),
                _ => Step::Fail(vendor::unexpected_body(
                    response,
                    "cedalo answered 200 with a body that is not JSON".to_owned(),
                )),
            };
        }
        let body = response.json();
        let field = |name: &str| {
            body.as_ref()
                .and_then(|b| b.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let vendor_code = field("code");
        let message = field("message").unwrap_or_else(|| vendor::excerpt(response.body));
        let kind = vendor::kind_for_status(response.status);
        let detail = match kind {
            ProblemKind::TargetNotFound => format!(
                "cedalo: client '{client_id}' not found (project '{}', broker '{}'): {message}",
                self.project_id, self.broker_id
            ),
            ProblemKind::CredentialsRefused => {
                format!("cedalo refused the application token: {message}")
            }
            _ => format!("cedalo answered {}: {message}", response.status),
        };
        let message = (!message.is_empty()).then_some(message);
        Step::Fail(vendor::problem(
            kind,
            response,
            vendor_code.as_deref(),
            message.as_deref(),
            detail,
        ))
    }
}

impl Adapter for Cedalo {
    const NAME: &'static str = "cedalo";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Settings = CedaloSettings;
    type Flow = Flow;

    fn info() -> PluginInfo {
        PluginInfo::new(
            "Cedalo Pro Mosquitto Management Center (REST API, Clients Control)",
            vec![ActionSpec::new(
                Action::Disconnect,
                [[TargetField::ClientId]],
                "PUT …/clients/{client_id}/disconnect: ends the client's session; it may \
                 reconnect",
            )],
        )
    }

    fn new(backend: Backend<CedaloSettings>) -> Result<Self, Vec<SettingError>> {
        let CedaloSettings {
            project_id,
            broker_id,
            token,
        } = backend.settings;
        let clients_url = encode::url_with_segments(
            &backend.url,
            &[
                "api",
                "projects",
                &project_id,
                "brokers",
                &broker_id,
                "clients",
            ],
        );
        Ok(Cedalo {
            project_id,
            broker_id,
            clients_url,
            authorization: format!("Bearer {token}"),
        })
    }

    fn start(&self, request: &Request, _env: &Env) -> (Flow, Step) {
        let client_id = request.target.field(TargetField::ClientId).to_owned();
        let step = Step::Send(self.disconnect_request(&client_id));
        (Flow { client_id }, step)
    }

    fn resume(&self, flow: &mut Flow, input: Input<'_>, _env: &Env) -> Step {
        match input {
            Input::Response(response) => self.answer(&flow.client_id, &response),
            Input::Retry { .. } => Step::Send(self.disconnect_request(&flow.client_id)),
            // The host answers only the kinds of exchange this adapter plans (HTTP).
            _ => unreachable!("cedalo: resumed with the answer to an exchange it never plans"),
        }
    }
}

export_plugin!(Cedalo);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const ENV: Env = Env {
        unix_ms: 1_700_000_000_000,
        random: [7; 32],
    };

    fn backend() -> Cedalo {
        sever_plugin_sdk::create::<Cedalo>(&BackendSpec {
            name: "mqtt-eu".into(),
            url: "http://mc.local:8088/base".into(),
            settings: json!({"project_id": "p 1", "broker_id": "b/1", "token": "tok"})
                .as_object()
                .unwrap()
                .clone(),
        })
        .unwrap()
    }

    fn request(client_id: &str) -> Request {
        Request {
            request_id: "r1".into(),
            action: Action::Disconnect,
            target: Target {
                client_id: Some(client_id.into()),
                ..Target::default()
            },
            reason: None,
        }
    }

    fn respond(status: u16, body: &str) -> Step {
        let cedalo = backend();
        let (mut flow, _) = cedalo.start(&request("c"), &ENV);
        let response = VendorResponse {
            status,
            headers: &[],
            body: body.as_bytes(),
        };
        cedalo.resume(&mut flow, Input::Response(response), &ENV)
    }

    #[test]
    fn disconnect_is_a_put_with_encoded_segments_bearer_token_and_client_id_body() {
        let (_, step) = backend().start(&request("a/b c#é"), &ENV);
        let Step::Send(r) = step else {
            panic!("expected a request, got {step:?}")
        };
        assert_eq!(r.method, "PUT");
        assert_eq!(
            r.url,
            "http://mc.local:8088/base/api/projects/p%201/brokers/b%2F1/clients/a%2Fb%20c%23%C3%A9/disconnect"
        );
        assert!(r
            .headers
            .contains(&("authorization".into(), "Bearer tok".into())));
        assert!(r
            .headers
            .contains(&("content-type".into(), "application/json".into())));
        assert_eq!(
            serde_json::from_str::<Value>(&r.body).unwrap(),
            json!({"clientId": "a/b c#é"})
        );
        assert!(r.idempotent);
    }

    #[test]
    fn vendor_200_is_done() {
        let Step::Done(s) = respond(200, "{}") else {
            panic!()
        };
        assert_eq!(s.outcome, Outcome::Done);
        assert_eq!(s.vendor["status"], 200);
    }

    #[test]
    fn vendor_404_is_target_not_found_with_the_vendor_message() {
        let Step::Fail(p) = respond(
            404,
            r#"{"message":"Client not found","code":"NOT_FOUND","status":404}"#,
        ) else {
            panic!()
        };
        assert_eq!(p.kind, ProblemKind::TargetNotFound);
        let vendor = p.vendor.unwrap();
        assert_eq!(vendor["code"], "NOT_FOUND");
        assert_eq!(vendor["message"], "Client not found");
        assert!(p.detail.contains("Client not found"));
    }

    #[test]
    fn vendor_statuses_map_per_the_vendors_table() {
        let cases = [
            (401, ProblemKind::CredentialsRefused),
            (403, ProblemKind::CredentialsRefused),
            (405, ProblemKind::Rejected),
            (400, ProblemKind::Rejected),
            (429, ProblemKind::RateLimited),
            (500, ProblemKind::VendorError),
            (502, ProblemKind::VendorError),
        ];
        for (status, code) in cases {
            let Step::Fail(p) = respond(status, r#"{"message":"m","code":"X","status":1}"#) else {
                panic!("{status}")
            };
            assert_eq!(p.kind, code, "status {status}");
        }
    }

    #[test]
    fn garbage_answers_are_upstream_errors() {
        let Step::Fail(p) = respond(200, "<html>proxy</html>") else {
            panic!()
        };
        assert_eq!(p.kind, ProblemKind::Unreadable);
        let Step::Fail(p) = respond(500, "\u{0}\u{1}garbage") else {
            panic!()
        };
        assert_eq!(p.kind, ProblemKind::VendorError);
    }

    #[test]
    fn retry_plans_the_same_call_again() {
        let cedalo = backend();
        let (mut flow, first) = cedalo.start(&request("c"), &ENV);
        let again = cedalo.resume(&mut flow, Input::Retry { attempt: 1 }, &ENV);
        assert_eq!(first, again);
    }

    #[test]
    fn settings_are_validated_with_every_problem_named_and_no_secret_echoed() {
        let errors = sever_plugin_sdk::create::<Cedalo>(&BackendSpec {
            name: "x".into(),
            url: "http://h".into(),
            settings: json!({"project_id": "", "token": "has space", "tokn": "s3cret"})
                .as_object()
                .unwrap()
                .clone(),
        })
        .unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["tokn", "project_id", "broker_id", "token"]);
        assert!(errors
            .iter()
            .all(|e| !e.message.contains("s3cret") && !e.message.contains("has space")));
    }
}
