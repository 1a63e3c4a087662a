//! Round trips of the exchanges beyond HTTP (3.1), both directions, and the refusals.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::model::*;

fn round_trip(step: &Step) -> Step {
    let mut store = StepStore::default();
    let raw = store.view(step).unwrap();
    // SAFETY: the view points into `step` and `store`, both alive here.
    unsafe { step_from_view(&raw) }.unwrap()
}

fn exchange() -> Exchange {
    Exchange {
        idempotent: true,
        timeout_ms: Some(900),
        share: Some("list".into()),
        purpose: Some("list clients".into()),
        redact: vec!["s3cret".into()],
    }
}

#[test]
fn every_exchange_beyond_http_survives_the_view_unchanged() {
    let steps = [
        Step::Redis(RedisCommand {
            args: vec![
                "CLIENT".into(),
                "KILL".into(),
                "ID".into(),
                "7".into(),
                "".into(),
            ],
            exchange: exchange(),
        }),
        Step::Sql(SqlQuery {
            sql: "SELECT pg_terminate_backend($1::integer, $2::bigint)".into(),
            params: vec![
                SqlValue::Int4(-5),
                SqlValue::Int8(i64::MAX),
                SqlValue::Text("app é".into()),
                SqlValue::Bool(true),
                SqlValue::Null,
            ],
            exchange: Exchange::default(),
        }),
        Step::Mqtt(MqttRequest {
            topic: "$CONTROL/dynamic-security/v1".into(),
            qos: 1,
            payload: r#"{"commands":[]}"#.into(),
            response_topic: "$CONTROL/dynamic-security/v1/response".into(),
            correlation: vec!["c-1".into(), "c-2".into()],
            exchange: exchange(),
        }),
        Step::Nats(NatsRequest {
            subject: "$SYS.REQ.SERVER.PING.CONNZ".into(),
            payload: r#"{"auth":true}"#.into(),
            gather_ms: 500,
            exchange: Exchange::default(),
        }),
    ];
    for step in steps {
        assert_eq!(round_trip(&step), step);
    }
}

fn answered(resume: Resume<'_>) -> String {
    with_input_view(resume, |raw| {
        // SAFETY: the view is live for the closure.
        unsafe { with_input(raw, |input| format!("{input:?}")) }
    })
    .unwrap()
}

#[test]
fn every_answer_beyond_http_reaches_the_plugin_unchanged() {
    let replies = [
        RedisReply::Integer(-1),
        RedisReply::Simple("OK".into()),
        RedisReply::Bulk("id=7 addr=127.0.0.1:5 name=sensor-17\n".into()),
        RedisReply::Nil,
        RedisReply::Error("NOPERM this user has no permissions".into()),
        RedisReply::Array(vec!["a".into(), "".into()]),
    ];
    for reply in &replies {
        assert_eq!(
            answered(Resume::Redis(reply)),
            format!("{:?}", Input::Redis(reply))
        );
    }
    let sql = SqlResult {
        error: None,
        rows: vec![
            vec![SqlValue::Int4(7), SqlValue::Bool(true)],
            vec![SqlValue::Int4(8), SqlValue::Bool(false)],
        ],
        notices: vec![SqlMessage {
            severity: "WARNING".into(),
            code: "01000".into(),
            message: "backend with PID 8 did not terminate within 2000 milliseconds".into(),
            detail: None,
        }],
    };
    let refused = SqlResult {
        error: Some(SqlMessage {
            severity: "FATAL".into(),
            code: "28P01".into(),
            message: "password authentication failed".into(),
            detail: Some("d".into()),
        }),
        ..SqlResult::default()
    };
    for result in [&sql, &refused, &SqlResult::default()] {
        assert_eq!(
            answered(Resume::Sql(result)),
            format!("{:?}", Input::Sql(result))
        );
    }
    let mqtt = MqttResult {
        connack_reason: 0,
        puback_reason: 0x87,
        messages: vec![r#"{"responses":[]}"#.into()],
    };
    assert_eq!(
        answered(Resume::Mqtt(&mqtt)),
        format!("{:?}", Input::Mqtt(&mqtt))
    );
    let nats = NatsReplies {
        no_responders: true,
        error: Some("'Authorization Violation'".into()),
        replies: vec!["{}".into(), "{}".into()],
    };
    assert_eq!(
        answered(Resume::Nats(&nats)),
        format!("{:?}", Input::Nats(&nats))
    );
}

#[test]
fn bad_values_beyond_http_are_refused() {
    let value = crate::raw::SeverSqlValue {
        kind: crate::raw::SEVER_SQL_INT4,
        reserved: 0,
        integer: i64::from(i32::MAX) + 1,
        text: crate::raw::SeverBytes::NONE,
    };
    // SAFETY: no pointers are read.
    let error = unsafe { exchange::sql_value_from_view(&value) }.unwrap_err();
    assert_eq!(error, "int4 2147483648");
    let value = crate::raw::SeverSqlValue { kind: 9, ..value };
    // SAFETY: as above.
    let error = unsafe { exchange::sql_value_from_view(&value) }.unwrap_err();
    assert_eq!(error, "unknown SQL value kind 9");
    let mut store = StepStore::default();
    let mqtt = Step::Mqtt(MqttRequest {
        topic: "t".into(),
        qos: 3,
        payload: String::new(),
        response_topic: "r".into(),
        correlation: Vec::new(),
        exchange: Exchange::default(),
    });
    let raw = store.view(&mqtt).unwrap();
    // SAFETY: the view points into `mqtt` and `store`, alive here.
    assert_eq!(unsafe { step_from_view(&raw) }.unwrap_err(), "MQTT QoS 3");
}
