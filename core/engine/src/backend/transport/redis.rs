//! A backend's Redis connection (crate `redis`): one multiplexed connection, opened on the
//! first command and authenticated with `AUTH` (whose refusal is handed back as the
//! server's error reply), reopened after it breaks.

use super::{address, bounded, text, LinkError, Redial};
use crate::backend::exchange::TransportError;
use redis::aio::MultiplexedConnection;
use redis::Value;
use sever_plugin_abi::{ConnectionSpec, RedisCommand, RedisReply};
use std::time::Duration;
use tokio::sync::Mutex;

pub(crate) struct RedisLink {
    client: redis::Client,
    username: Option<String>,
    password: Option<String>,
    /// The open, authenticated connection (a clone is a handle on it).
    open: Mutex<Option<MultiplexedConnection>>,
    redial: Redial,
}

impl RedisLink {
    pub(super) fn new(url: &str, spec: ConnectionSpec) -> Result<Self, LinkError> {
        if url.starts_with("rediss:") {
            return Err(LinkError(
                "TLS to Redis (rediss://) is not performed by this release of sever".into(),
            ));
        }
        let (host, port) = address(url, 6379)?;
        let client = redis::Client::open(redis::ConnectionAddr::Tcp(host, port))
            .map_err(|e| LinkError(e.to_string()))?;
        Ok(RedisLink {
            client,
            username: spec.username,
            password: spec.password,
            open: Mutex::new(None),
            redial: Redial::default(),
        })
    }

    /// Sends `command`; the connection is opened (and authenticated) first if needed.
    pub(super) async fn command(
        &self,
        command: &RedisCommand,
        limit: Duration,
    ) -> Result<RedisReply, TransportError> {
        let mut connection = match self.connection(limit).await? {
            Ok(connection) => connection,
            Err(refused) => return Ok(refused),
        };
        let Some((name, args)) = command.args.split_first() else {
            return Err(TransportError::Invalid("an empty Redis command".into()));
        };
        let mut cmd = redis::cmd(name);
        for arg in args {
            cmd.arg(arg.as_str());
        }
        match cmd.query_async::<Value>(&mut connection).await {
            Ok(value) => Ok(reply(value)),
            Err(e) => self.failure(e).await,
        }
    }

    /// The open connection, or the server's refusal of `AUTH` (`Ok(Err(reply))`).
    async fn connection(
        &self,
        limit: Duration,
    ) -> Result<Result<MultiplexedConnection, RedisReply>, TransportError> {
        let mut open = self.open.lock().await;
        if let Some(connection) = open.as_ref() {
            return Ok(Ok(connection.clone()));
        }
        self.redial.wait(limit).await?;
        let opened = bounded(limit, async {
            let mut connection = self
                .client
                // No limits of the crate's own: the exchange's bounds the whole.
                .get_multiplexed_async_connection_with_config(
                    &redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(None)
                        .set_response_timeout(None),
                )
                .await
                .map_err(|e| TransportError::Connect(e.to_string()))?;
            if let Some(password) = &self.password {
                let mut auth = redis::cmd("AUTH");
                if let Some(user) = &self.username {
                    auth.arg(user.as_str());
                }
                auth.arg(password.as_str());
                if let Err(e) = auth.query_async::<Value>(&mut connection).await {
                    return match server_error(&e) {
                        Some(refusal) => Ok(Err(refusal)),
                        None => Err(TransportError::Connect(e.to_string())),
                    };
                }
            }
            Ok(Ok(connection))
        })
        .await;
        self.redial.note(&opened);
        if let Ok(Ok(connection)) = &opened {
            *open = Some(connection.clone());
        }
        opened
    }

    /// A command that failed: the server's error reply, or a broken connection (dropped,
    /// so that the next command opens a new one).
    async fn failure(&self, e: redis::RedisError) -> Result<RedisReply, TransportError> {
        if let Some(refusal) = server_error(&e) {
            return Ok(refusal);
        }
        *self.open.lock().await = None;
        Err(TransportError::Protocol(e.to_string()))
    }
}

/// The server's error reply (`-NOPERM …`) as its whole text, if `e` is one.
fn server_error(e: &redis::RedisError) -> Option<RedisReply> {
    if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
        return None;
    }
    let code = e.code()?;
    Some(RedisReply::Error(match e.detail() {
        Some(detail) => format!("{code} {detail}"),
        None => code.to_owned(),
    }))
}

/// A reply as the plugin reads it (RESP3 types the host never asks for read as text).
fn reply(value: Value) -> RedisReply {
    match value {
        Value::Nil => RedisReply::Nil,
        Value::Int(n) => RedisReply::Integer(n),
        Value::Okay => RedisReply::Simple("OK".into()),
        Value::SimpleString(s) => RedisReply::Simple(s),
        Value::BulkString(b) => RedisReply::Bulk(text(&b)),
        Value::VerbatimString { text, .. } => RedisReply::Bulk(text),
        Value::Array(items) | Value::Set(items) => {
            RedisReply::Array(items.into_iter().map(item_text).collect())
        }
        Value::ServerError(e) => RedisReply::Error(match e.details() {
            Some(detail) => format!("{} {detail}", e.code()),
            None => e.code().to_owned(),
        }),
        other => RedisReply::Bulk(item_text(other)),
    }
}

fn item_text(value: Value) -> String {
    match value {
        Value::Int(n) => n.to_string(),
        Value::BulkString(b) => text(&b),
        Value::SimpleString(s) => s,
        Value::Okay => "OK".into(),
        Value::Nil => String::new(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn each_reply_type_reaches_the_plugin_as_its_own_kind() {
        assert_eq!(reply(Value::Int(1)), RedisReply::Integer(1));
        assert_eq!(reply(Value::Okay), RedisReply::Simple("OK".into()));
        assert_eq!(
            reply(Value::BulkString(b"id=7 name=a\n".to_vec())),
            RedisReply::Bulk("id=7 name=a\n".into())
        );
        assert_eq!(reply(Value::Nil), RedisReply::Nil);
        assert_eq!(
            reply(Value::Array(vec![
                Value::Int(3),
                Value::BulkString(b"x".to_vec())
            ])),
            RedisReply::Array(vec!["3".into(), "x".into()])
        );
    }

    #[test]
    fn a_rediss_url_or_one_with_credentials_is_refused_before_anything_opens() {
        assert!(RedisLink::new("rediss://cache.test", ConnectionSpec::default()).is_err());
        assert!(RedisLink::new("redis://u:p@cache.test", ConnectionSpec::default()).is_err());
        assert!(RedisLink::new("redis://cache.test:6380", ConnectionSpec::default()).is_ok());
    }
}
