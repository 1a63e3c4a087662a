//! A backend's MQTT 5 connection (crate `rumqttc`, its v5 client): one session (clean
//! start, the plugin's client id and credentials), opened on the first request, driven by
//! a task that forwards what the broker sends. A request subscribes to its response topic
//! (once per session), publishes, reads the PUBACK's reason code, then gathers the
//! messages on the response topic that carry one of its correlation strings. Requests on
//! the session run one at a time, so each PUBACK is the answer to its own publish.

use super::{address, bounded, LinkError, Redial};
use crate::backend::exchange::TransportError;
use rumqttc::v5::mqttbytes::v5::{
    ConnectReturnCode, Packet, PubAckReason, PubRecReason, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, MqttOptions, StateError};
use sever_plugin_abi::{ConnectionSpec, MqttRequest, MqttResult};
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::{mpsc, Mutex};

pub(crate) struct MqttLink {
    options: MqttOptions,
    open: Mutex<Option<Session>>,
    redial: Redial,
}

/// An open session: the client, what its driver task forwards, the topics subscribed.
struct Session {
    client: AsyncClient,
    events: mpsc::UnboundedReceiver<Result<Packet, ConnectionError>>,
    subscribed: HashSet<String>,
    driver: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Why a session cannot go on.
enum Broken {
    /// The broker refused the connection (its CONNACK reason code).
    Refused(u8),
    Failed(TransportError),
}

impl MqttLink {
    pub(super) fn new(url: &str, spec: ConnectionSpec) -> Result<Self, LinkError> {
        if url.starts_with("mqtts:") {
            return Err(LinkError(
                "TLS to an MQTT broker (mqtts://) is not performed by this release of sever".into(),
            ));
        }
        let (host, port) = address(url, 1883)?;
        let id = spec.client_id.unwrap_or_else(|| "sever".to_owned());
        let mut options = MqttOptions::new(id, host, port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_start(true)
            .set_max_packet_size(Some(1 << 20));
        if let Some(user) = spec.username {
            options.set_credentials(user, spec.password.unwrap_or_default());
        }
        Ok(MqttLink {
            options,
            open: Mutex::new(None),
            redial: Redial::default(),
        })
    }

    /// Performs `request`; the session is opened first if needed.
    pub(super) async fn request(
        &self,
        request: &MqttRequest,
        limit: Duration,
    ) -> Result<MqttResult, TransportError> {
        let mut open = self.open.lock().await;
        if let Some(session) = open.as_mut() {
            // What came after the last request ended (late answers) is stale; a broken
            // session is replaced.
            if drain(session).is_err() {
                *open = None;
            }
        }
        if open.is_none() {
            match self.connect(limit).await {
                Ok(session) => *open = Some(session),
                Err(Broken::Refused(reason)) => {
                    return Ok(MqttResult {
                        connack_reason: reason,
                        ..MqttResult::default()
                    })
                }
                Err(Broken::Failed(e)) => return Err(e),
            }
        }
        let Some(session) = open.as_mut() else {
            return Err(TransportError::Connect("no session".into()));
        };
        match exchange(session, request).await {
            Ok(result) => {
                if result.puback_reason >= 0x80 {
                    *open = None;
                }
                Ok(result)
            }
            Err(e) => {
                *open = None;
                Err(e)
            }
        }
    }

    async fn connect(&self, limit: Duration) -> Result<Session, Broken> {
        self.redial.wait(limit).await.map_err(Broken::Failed)?;
        let opened = bounded(limit, async {
            let (client, mut eventloop) = AsyncClient::new(self.options.clone(), 16);
            let (tx, mut events) = mpsc::unbounded_channel();
            let driver = tokio::spawn(async move {
                loop {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(packet)) => {
                            if tx.send(Ok(packet)).is_err() {
                                break;
                            }
                        }
                        Ok(Event::Outgoing(_)) => {}
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            break;
                        }
                    }
                }
            });
            let session = |events| Session {
                client,
                events,
                subscribed: HashSet::new(),
                driver,
            };
            match events.recv().await {
                Some(Ok(Packet::ConnAck(_))) => Ok(Ok(session(events))),
                Some(Err(ConnectionError::ConnectionRefused(code))) => Ok(Err(connack_code(code))),
                Some(Err(e)) => Err(TransportError::Connect(e.to_string())),
                Some(Ok(other)) => Err(TransportError::Protocol(format!(
                    "the broker sent {other:?} before CONNACK"
                ))),
                None => Err(TransportError::Connect("the connection ended".into())),
            }
        })
        .await;
        self.redial.note(&opened);
        match opened {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(reason)) => Err(Broken::Refused(reason)),
            Err(e) => Err(Broken::Failed(e)),
        }
    }
}

/// Drops what is queued; fails if the session broke meanwhile.
fn drain(session: &mut Session) -> Result<(), TransportError> {
    loop {
        match session.events.try_recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(TransportError::Protocol(e.to_string())),
            Err(mpsc::error::TryRecvError::Empty) => return Ok(()),
            Err(mpsc::error::TryRecvError::Disconnected) => {
                return Err(TransportError::Protocol("the session ended".into()))
            }
        }
    }
}

/// Why no packet came: the broker refused an acknowledged packet (the crate reports a
/// refused SUBACK, PUBACK or PUBREC as an error), or the session ended.
enum Stop {
    Refused(u8),
    Broken(TransportError),
}

/// The next packet from the broker.
async fn next(session: &mut Session) -> Result<Packet, Stop> {
    match session.events.recv().await {
        Some(Ok(packet)) => Ok(packet),
        Some(Err(ConnectionError::MqttState(state))) => match state {
            StateError::SubFail { reason } => {
                Err(Stop::Refused(suback_failure(&reason).unwrap_or(0x80)))
            }
            StateError::PubAckFail { reason } => Err(Stop::Refused(puback_code(reason))),
            StateError::PubRecFail { reason } => Err(Stop::Refused(pubrec_code(reason))),
            other => Err(Stop::Broken(TransportError::Protocol(other.to_string()))),
        },
        Some(Err(e)) => Err(Stop::Broken(TransportError::Protocol(e.to_string()))),
        None => Err(Stop::Broken(TransportError::Protocol(
            "the session ended".into(),
        ))),
    }
}

fn qos(level: u8) -> Result<QoS, TransportError> {
    match level {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        n => Err(TransportError::Invalid(format!("MQTT QoS {n}"))),
    }
}

/// One request on the session; a refusal is the broker's answer (and ends the session:
/// the crate's state is reset).
async fn exchange(
    session: &mut Session,
    request: &MqttRequest,
) -> Result<MqttResult, TransportError> {
    match gather(session, request).await {
        Ok(result) => Ok(result),
        Err(Stop::Refused(reason)) => Ok(MqttResult {
            puback_reason: reason,
            ..MqttResult::default()
        }),
        Err(Stop::Broken(e)) => Err(e),
    }
}

async fn gather(session: &mut Session, request: &MqttRequest) -> Result<MqttResult, Stop> {
    let level = qos(request.qos).map_err(Stop::Broken)?;
    let client_error =
        |e: rumqttc::v5::ClientError| Stop::Broken(TransportError::Protocol(e.to_string()));
    if !session.subscribed.contains(&request.response_topic) {
        session
            .client
            .subscribe(request.response_topic.as_str(), QoS::AtLeastOnce)
            .await
            .map_err(client_error)?;
        loop {
            if let Packet::SubAck(ack) = next(session).await? {
                // A refused subscription reads as a refused publish would: no answer
                // could come.
                if let Some(code) = ack.return_codes.iter().find_map(suback_failure) {
                    return Ok(MqttResult {
                        puback_reason: code,
                        ..MqttResult::default()
                    });
                }
                break;
            }
        }
        session.subscribed.insert(request.response_topic.clone());
    }
    session
        .client
        .publish(
            request.topic.as_str(),
            level,
            false,
            request.payload.clone().into_bytes(),
        )
        .await
        .map_err(client_error)?;
    let mut result = MqttResult::default();
    if level != QoS::AtMostOnce {
        loop {
            match next(session).await? {
                Packet::PubAck(ack) => {
                    result.puback_reason = puback_code(ack.reason);
                    break;
                }
                Packet::PubRec(rec) => {
                    result.puback_reason = pubrec_code(rec.reason);
                    break;
                }
                _ => {}
            }
        }
        if result.puback_reason >= 0x80 {
            return Ok(result);
        }
    }
    let mut waiting: Vec<&str> = request.correlation.iter().map(String::as_str).collect();
    while !waiting.is_empty() {
        if let Packet::Publish(message) = next(session).await? {
            if message.topic.as_ref() != request.response_topic.as_bytes() {
                continue;
            }
            let payload = String::from_utf8_lossy(&message.payload).into_owned();
            let before = waiting.len();
            waiting.retain(|c| !payload.contains(c));
            if waiting.len() < before {
                result.messages.push(payload);
            }
        }
    }
    Ok(result)
}

fn suback_failure(code: &SubscribeReasonCode) -> Option<u8> {
    Some(match code {
        SubscribeReasonCode::Success(_) => return None,
        SubscribeReasonCode::Failure | SubscribeReasonCode::Unspecified => 0x80,
        SubscribeReasonCode::ImplementationSpecific => 0x83,
        SubscribeReasonCode::NotAuthorized => 0x87,
        SubscribeReasonCode::TopicFilterInvalid => 0x8F,
        SubscribeReasonCode::PkidInUse => 0x91,
        SubscribeReasonCode::QuotaExceeded => 0x97,
        SubscribeReasonCode::SharedSubscriptionsNotSupported => 0x9E,
        SubscribeReasonCode::SubscriptionIdNotSupported => 0xA1,
        SubscribeReasonCode::WildcardSubscriptionsNotSupported => 0xA2,
    })
}

/// The MQTT 5 reason code of a CONNACK (the crate names them).
fn connack_code(code: ConnectReturnCode) -> u8 {
    use ConnectReturnCode as C;
    match code {
        C::Success => 0,
        C::UnspecifiedError => 0x80,
        C::MalformedPacket => 0x81,
        C::ProtocolError => 0x82,
        C::ImplementationSpecificError => 0x83,
        C::UnsupportedProtocolVersion | C::RefusedProtocolVersion => 0x84,
        C::ClientIdentifierNotValid | C::BadClientId => 0x85,
        C::BadUserNamePassword => 0x86,
        C::NotAuthorized => 0x87,
        C::ServerUnavailable | C::ServiceUnavailable => 0x88,
        C::ServerBusy => 0x89,
        C::Banned => 0x8A,
        C::BadAuthenticationMethod => 0x8C,
        C::TopicNameInvalid => 0x90,
        C::PacketTooLarge => 0x95,
        C::QuotaExceeded => 0x97,
        C::PayloadFormatInvalid => 0x99,
        C::RetainNotSupported => 0x9A,
        C::QoSNotSupported => 0x9B,
        C::UseAnotherServer => 0x9C,
        C::ServerMoved => 0x9D,
        C::ConnectionRateExceeded => 0x9F,
    }
}

/// The MQTT 5 reason code of a PUBREC.
fn pubrec_code(reason: PubRecReason) -> u8 {
    use PubRecReason as R;
    match reason {
        R::Success => 0,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

/// The MQTT 5 reason code of a PUBACK.
fn puback_code(reason: PubAckReason) -> u8 {
    use PubAckReason as R;
    match reason {
        R::Success => 0,
        R::NoMatchingSubscribers => 0x10,
        R::UnspecifiedError => 0x80,
        R::ImplementationSpecificError => 0x83,
        R::NotAuthorized => 0x87,
        R::TopicNameInvalid => 0x90,
        R::PacketIdentifierInUse => 0x91,
        R::QuotaExceeded => 0x97,
        R::PayloadFormatInvalid => 0x99,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refusals_reach_the_plugin_as_their_mqtt_5_reason_codes() {
        assert_eq!(connack_code(ConnectReturnCode::BadUserNamePassword), 0x86);
        assert_eq!(connack_code(ConnectReturnCode::NotAuthorized), 0x87);
        assert_eq!(puback_code(PubAckReason::NotAuthorized), 0x87);
        assert_eq!(puback_code(PubAckReason::Success), 0);
        assert_eq!(
            suback_failure(&SubscribeReasonCode::NotAuthorized),
            Some(0x87)
        );
        assert_eq!(
            suback_failure(&SubscribeReasonCode::Success(QoS::AtLeastOnce)),
            None
        );
    }

    #[test]
    fn an_mqtts_url_is_a_config_error() {
        assert!(MqttLink::new("mqtts://broker.test", ConnectionSpec::default()).is_err());
        assert!(MqttLink::new("mqtt://broker.test", ConnectionSpec::default()).is_ok());
    }
}
