//! A backend's NATS connection (crate `async-nats`): one client, opened on the first
//! request with the plugin's credentials (user and password, token, or a `.creds` text),
//! which reconnects by itself with backoff once it has connected. A request takes the
//! first reply, or with `gather_ms` every reply within that time on a fresh inbox (a
//! discovery each server of a cluster answers once).

use super::{address, bounded, LinkError, Redial};
use crate::backend::exchange::TransportError;
use async_nats::{Client, ConnectErrorKind, ConnectOptions, RequestErrorKind, StatusCode};
use futures_util::StreamExt;
use sever_plugin_abi::{ConnectionSpec, NatsReplies, NatsRequest};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::Mutex;

pub(crate) struct NatsLink {
    url: String,
    spec: ConnectionSpec,
    open: Mutex<Option<Client>>,
    redial: Redial,
}

/// The text NATS servers refuse credentials with (`-ERR 'Authorization Violation'`), which
/// the client reports only as a kind of error.
const AUTHORIZATION_VIOLATION: &str = "Authorization Violation";

impl NatsLink {
    pub(super) fn new(url: &str, spec: ConnectionSpec) -> Result<Self, LinkError> {
        address(url, 4222)?;
        if let Some(creds) = &spec.creds {
            ConnectOptions::with_credentials(creds)
                .map_err(|e| LinkError(format!("the NATS credentials cannot be read: {e}")))?;
        }
        Ok(NatsLink {
            url: url.to_owned(),
            spec,
            open: Mutex::new(None),
            redial: Redial::default(),
        })
    }

    fn options(&self, limit: Duration) -> Result<ConnectOptions, TransportError> {
        let spec = &self.spec;
        let mut options = if let Some(creds) = &spec.creds {
            ConnectOptions::with_credentials(creds)
                .map_err(|e| TransportError::Invalid(e.to_string()))?
        } else if let Some(token) = &spec.token {
            ConnectOptions::with_token(token.clone())
        } else if let (Some(user), Some(password)) = (&spec.username, &spec.password) {
            ConnectOptions::with_user_and_password(user.clone(), password.clone())
        } else {
            ConnectOptions::new()
        };
        options = options
            .name(spec.client_id.as_deref().unwrap_or("sever"))
            .connection_timeout(limit)
            .request_timeout(None)
            .ignore_discovered_servers();
        if self.url.starts_with("tls:") {
            options = options.require_tls(true);
        }
        if let Some(ca) = &spec.ca_path {
            options = options.add_root_certificates(PathBuf::from(ca));
        }
        Ok(options)
    }

    /// The client, or the server's refusal of our credentials (`Ok(Err(replies))`).
    async fn client(&self, limit: Duration) -> Result<Result<Client, NatsReplies>, TransportError> {
        let mut open = self.open.lock().await;
        if let Some(client) = open.as_ref() {
            return Ok(Ok(client.clone()));
        }
        self.redial.wait(limit).await?;
        let options = self.options(limit)?;
        let opened = bounded(limit, async {
            match options.connect(self.url.as_str()).await {
                Ok(client) => Ok(Ok(client)),
                Err(e) if e.kind() == ConnectErrorKind::AuthorizationViolation => {
                    Ok(Err(NatsReplies {
                        error: Some(AUTHORIZATION_VIOLATION.to_owned()),
                        ..NatsReplies::default()
                    }))
                }
                Err(e) if e.kind() == ConnectErrorKind::TimedOut => {
                    Err(TransportError::Timeout(limit))
                }
                Err(e) => Err(TransportError::Connect(e.to_string())),
            }
        })
        .await;
        self.redial.note(&opened);
        if let Ok(Ok(client)) = &opened {
            *open = Some(client.clone());
        }
        opened
    }

    /// Performs `request`; the client is connected first if needed.
    pub(super) async fn request(
        &self,
        request: &NatsRequest,
        limit: Duration,
    ) -> Result<NatsReplies, TransportError> {
        let client = match self.client(limit).await? {
            Ok(client) => client,
            Err(refused) => return Ok(refused),
        };
        let payload = request.payload.clone().into_bytes().into();
        if request.gather_ms == 0 {
            let asked = async_nats::Request::new()
                .payload(payload)
                .timeout(Some(limit));
            return match client.send_request(request.subject.clone(), asked).await {
                Ok(message) => Ok(NatsReplies {
                    replies: vec![String::from_utf8_lossy(&message.payload).into_owned()],
                    ..NatsReplies::default()
                }),
                Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(NatsReplies {
                    no_responders: true,
                    ..NatsReplies::default()
                }),
                Err(e) if e.kind() == RequestErrorKind::TimedOut => {
                    Err(TransportError::Timeout(limit))
                }
                Err(e) => Err(TransportError::Protocol(e.to_string())),
            };
        }
        let protocol = |e: &dyn std::fmt::Display| TransportError::Protocol(e.to_string());
        let inbox = client.new_inbox();
        let mut replies = client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| protocol(&e))?;
        client
            .publish_with_reply(request.subject.clone(), inbox, payload)
            .await
            .map_err(|e| protocol(&e))?;
        client.flush().await.map_err(|e| protocol(&e))?;
        let mut answer = NatsReplies::default();
        let until =
            tokio::time::Instant::now() + Duration::from_millis(request.gather_ms).min(limit);
        while let Ok(Some(message)) = tokio::time::timeout_at(until, replies.next()).await {
            if message.status == Some(StatusCode::NO_RESPONDERS) {
                answer.no_responders = answer.replies.is_empty();
                break;
            }
            answer
                .replies
                .push(String::from_utf8_lossy(&message.payload).into_owned());
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unreadable_credentials_are_a_config_error_before_anything_opens() {
        let spec = ConnectionSpec {
            creds: Some("not a creds file".into()),
            ..ConnectionSpec::default()
        };
        assert!(NatsLink::new("nats://127.0.0.1:4222", spec).is_err());
        assert!(NatsLink::new("nats://127.0.0.1:4222", ConnectionSpec::default()).is_ok());
    }
}
