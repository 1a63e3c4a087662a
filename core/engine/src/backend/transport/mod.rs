//! The exchanges beyond HTTP (ABI 3.1): one long-lived, authenticated connection per
//! backend and protocol — Redis (`redis.rs`), PostgreSQL (`postgres.rs`), MQTT 5
//! (`mqtt.rs`), NATS (`nats.rs`) — held by the backend itself (so a backend kept across a
//! reload keeps its connection), opened on the first exchange, reopened after a failure
//! with a backoff, every exchange bounded by its time limit.
//!
//! Each link hands back exactly what the server said ([`Answer`]), a refused
//! authentication included (the adapter decides what it means); a connection that cannot
//! be opened is a [`TransportError::Connect`], no answer in time a
//! [`TransportError::Timeout`].

mod mqtt;
mod nats;
mod postgres;
mod redis;

use super::exchange::{TransportError, UpstreamResponse};
use crate::plugin::{Resume, Step, Transport};
use parking_lot::Mutex;
use sever_plugin_abi::{ConnectionSpec, MqttResult, NatsReplies, RedisReply, SqlResult};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What a server answered to one exchange, whatever its protocol.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    Http(UpstreamResponse),
    Redis(RedisReply),
    Sql(SqlResult),
    Mqtt(MqttResult),
    Nats(NatsReplies),
}

impl Answer {
    /// The answer as the plugin is resumed with it.
    pub(crate) fn resume(&self) -> Resume<'_> {
        match self {
            Answer::Http(r) => Resume::Response {
                status: r.status,
                headers: &r.headers,
                body: &r.body,
            },
            Answer::Redis(r) => Resume::Redis(r),
            Answer::Sql(r) => Resume::Sql(r),
            Answer::Mqtt(r) => Resume::Mqtt(r),
            Answer::Nats(r) => Resume::Nats(r),
        }
    }

    /// The `status_class` label it is counted under: an HTTP status class, or for the
    /// other protocols `ok` (the server answered) or `error` (it answered with an error:
    /// a Redis error reply, an SQL error, a refused CONNACK or PUBACK, a NATS `-ERR` or no
    /// responders).
    pub(crate) fn status_class(&self) -> &'static str {
        let failed = match self {
            Answer::Http(r) => return crate::metrics::status_class(r.status),
            Answer::Redis(r) => matches!(r, RedisReply::Error(_)),
            Answer::Sql(r) => r.error.is_some(),
            Answer::Mqtt(r) => r.connack_reason != 0 || r.puback_reason >= 0x80,
            Answer::Nats(r) => r.error.is_some() || r.no_responders,
        };
        if failed {
            "error"
        } else {
            "ok"
        }
    }

    /// What a span records as the answer's status: the HTTP status, else 0.
    pub(crate) fn http_status(&self) -> u16 {
        match self {
            Answer::Http(r) => r.status,
            _ => 0,
        }
    }
}

/// A backend's connection for a transport other than HTTP (none for HTTP: those requests
/// go through the server's pooled client).
pub(crate) enum Link {
    Http,
    Redis(redis::RedisLink),
    Postgres(postgres::PostgresLink),
    Mqtt(mqtt::MqttLink),
    Nats(nats::NatsLink),
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Link::Http => "Link::Http",
            Link::Redis(_) => "Link::Redis",
            Link::Postgres(_) => "Link::Postgres",
            Link::Mqtt(_) => "Link::Mqtt",
            Link::Nats(_) => "Link::Nats",
        })
    }
}

/// Why a backend's connection cannot be described (a config error: nothing was opened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LinkError(pub String);

impl Link {
    /// The link for a backend of `transport` at `url`, from the plugin's `spec` (`None`
    /// for HTTP): checked now, opened on the first exchange.
    pub(crate) fn new(
        transport: Transport,
        url: &str,
        spec: Option<ConnectionSpec>,
    ) -> Result<Link, LinkError> {
        if transport == Transport::Http {
            return Ok(Link::Http);
        }
        let spec = spec.unwrap_or_default();
        Ok(match transport {
            Transport::Http => Link::Http,
            Transport::Redis => Link::Redis(redis::RedisLink::new(url, spec)?),
            Transport::Postgres => Link::Postgres(postgres::PostgresLink::new(url, spec)?),
            Transport::Mqtt => Link::Mqtt(mqtt::MqttLink::new(url, spec)?),
            Transport::Nats => Link::Nats(nats::NatsLink::new(url, spec)?),
        })
    }

    /// The `transport` label of this link's exchanges.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Link::Http => Transport::Http.as_str(),
            Link::Redis(_) => Transport::Redis.as_str(),
            Link::Postgres(_) => Transport::Postgres.as_str(),
            Link::Mqtt(_) => Transport::Mqtt.as_str(),
            Link::Nats(_) => Transport::Nats.as_str(),
        }
    }

    /// Performs `step` (an exchange of this link's kind), giving up after `limit`. Boxed:
    /// the protocol clients' futures are deep, and the request path stays shallow.
    pub(crate) fn perform<'a>(
        &'a self,
        step: &'a Step,
        limit: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<Answer, TransportError>> + Send + 'a>> {
        Box::pin(self.perform_inner(step, limit))
    }

    async fn perform_inner(&self, step: &Step, limit: Duration) -> Result<Answer, TransportError> {
        let work = async {
            match (self, step) {
                (Link::Redis(l), Step::Redis(c)) => l.command(c, limit).await.map(Answer::Redis),
                (Link::Postgres(l), Step::Sql(q)) => l.query(q, limit).await.map(Answer::Sql),
                (Link::Mqtt(l), Step::Mqtt(m)) => l.request(m, limit).await.map(Answer::Mqtt),
                (Link::Nats(l), Step::Nats(n)) => l.request(n, limit).await.map(Answer::Nats),
                _ => Err(TransportError::Invalid(format!(
                    "a {} step on a {} connection",
                    step.kind().as_str(),
                    self.label()
                ))),
            }
        };
        bounded(limit, work).await
    }
}

/// `work`, or [`TransportError::Timeout`] once `limit` has passed.
async fn bounded<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, TransportError>>,
) -> Result<T, TransportError> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Err(TransportError::Timeout(limit)))
}

/// Host and port of a backend URL (`redis://host:6379`), the port defaulting to the
/// protocol's. User info is refused: credentials are settings, never part of the URL.
fn address(url: &str, default_port: u16) -> Result<(String, u16), LinkError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| LinkError(format!("the url cannot be read: {e}")))?;
    let authority = uri
        .authority()
        .ok_or_else(|| LinkError("the url names no host".into()))?;
    if authority.as_str().contains('@') {
        return Err(LinkError(
            "the url must not carry credentials: give them as settings".into(),
        ));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if host.is_empty() {
        return Err(LinkError("the url names no host".into()));
    }
    Ok((
        host.to_owned(),
        authority.port_u16().unwrap_or(default_port),
    ))
}

/// When a link may try to connect again: after a failure to connect (no connection, no
/// answer), a pause that doubles from 100 ms up to 5 s; reset by a success or by a refused
/// login (the server answered: its refusal is handed back to every request).
#[derive(Debug, Default)]
struct Redial {
    failed: Mutex<Option<(Instant, u32)>>,
}

impl Redial {
    /// How long to wait before the next attempt (zero when it may go now).
    fn pause(&self) -> Duration {
        match *self.failed.lock() {
            None => Duration::ZERO,
            Some((at, failures)) => {
                let pause =
                    Duration::from_millis(100u64 << failures.min(6)).min(Duration::from_secs(5));
                pause.saturating_sub(at.elapsed())
            }
        }
    }

    /// Waits out the pause if it ends within `limit`; else says the link is backing off.
    async fn wait(&self, limit: Duration) -> Result<(), TransportError> {
        let pause = self.pause();
        if pause.is_zero() {
            return Ok(());
        }
        if pause >= limit {
            return Err(TransportError::Connect(format!(
                "the last connection attempt failed; the next is in {} ms",
                pause.as_millis()
            )));
        }
        tokio::time::sleep(pause).await;
        Ok(())
    }

    fn failed(&self) {
        let mut failed = self.failed.lock();
        let failures = failed.map_or(0, |(_, n)| n.saturating_add(1));
        *failed = Some((Instant::now(), failures));
    }

    fn succeeded(&self) {
        *self.failed.lock() = None;
    }

    /// Notes how a connection attempt ended: `Ok` (connected, or refused by the server,
    /// whose answer is handed back each time, with no backoff) or `Err` (it failed).
    fn note<T, E>(&self, attempt: &Result<T, E>) {
        match attempt {
            Ok(_) => self.succeeded(),
            Err(_) => self.failed(),
        }
    }
}

/// Text with invalid UTF-8 replaced.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_address_takes_the_protocols_port_by_default_and_never_credentials() {
        assert_eq!(
            address("redis://cache.test", 6379).unwrap(),
            ("cache.test".into(), 6379)
        );
        assert_eq!(
            address("nats://127.0.0.1:14222", 4222).unwrap(),
            ("127.0.0.1".into(), 14222)
        );
        assert_eq!(
            address("mqtt://[::1]:1884", 1883).unwrap(),
            ("::1".into(), 1884)
        );
        assert!(address("redis://u:pw@cache.test", 6379).is_err());
        assert!(address("not a url", 1).is_err());
    }

    #[test]
    fn the_redial_pause_doubles_after_each_failure_and_ends_with_a_success() {
        let redial = Redial::default();
        assert!(redial.pause().is_zero());
        redial.failed();
        assert!(redial.pause() <= Duration::from_millis(100) && !redial.pause().is_zero());
        redial.failed();
        assert!(redial.pause() > Duration::from_millis(100));
        redial.succeeded();
        assert!(redial.pause().is_zero());
    }

    #[test]
    fn a_server_error_is_counted_as_error_and_any_other_answer_as_ok() {
        assert_eq!(Answer::Redis(RedisReply::Integer(1)).status_class(), "ok");
        assert_eq!(
            Answer::Redis(RedisReply::Error("ERR x".into())).status_class(),
            "error"
        );
        let refused = MqttResult {
            connack_reason: 0x87,
            ..MqttResult::default()
        };
        assert_eq!(Answer::Mqtt(refused).status_class(), "error");
        let none = NatsReplies {
            no_responders: true,
            ..NatsReplies::default()
        };
        assert_eq!(Answer::Nats(none).status_class(), "error");
        assert_eq!(Answer::Sql(SqlResult::default()).status_class(), "ok");
    }
}
