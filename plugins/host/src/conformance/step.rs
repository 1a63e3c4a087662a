//! One step of a case: what the plugin must plan (`expect`) and what the vendor answers
//! (`respond`), for every exchange kind.

use super::file::EnvSpec;
use super::matcher::Matcher;
use serde::de::{Deserializer, Error as _};
use serde::Deserialize;
use serde_json::{Map, Value};
use sever_plugin_abi::{MqttResult, NatsReplies, RedisReply, SqlResult, StepKind};
use std::collections::BTreeMap;

/// One vendor call: what the plugin must plan, and what the vendor answers (or that the
/// host retries it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepSpec {
    pub(crate) expect: Expect,
    #[serde(default)]
    pub(crate) respond: Option<ResponseSpec>,
    /// Instead of an answer: the host asks the plugin to plan the call again (attempt n).
    #[serde(default)]
    pub(crate) retry: Option<u32>,
    /// The clock and random bytes of the `resume` call after this step.
    #[serde(default)]
    pub(crate) env: Option<EnvSpec>,
}

/// `expect:` — what the plugin must plan: an HTTP request (`kind` absent or `http`) or
/// another exchange (`kind: redis_command`…), of which only the parts listed are compared.
#[derive(Debug)]
pub(crate) enum Expect {
    Http(Box<RequestExpect>),
    /// Any other exchange: the listed members of its JSON form (`args`, `sql`, `params`,
    /// `topic`, `payload`, `idempotent`…), compared as parsed values.
    Exchange {
        kind: StepKind,
        fields: Map<String, Value>,
    },
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Value::Object(mut fields) = Value::deserialize(d)? else {
            return Err(D::Error::custom("`expect` must be a map"));
        };
        let kind = match fields.remove("kind") {
            None => "http".to_owned(),
            Some(Value::String(kind)) => kind,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "`expect.kind` must be a string, not {other}"
                )))
            }
        };
        let known = StepKind::ALL
            .into_iter()
            .filter(|k| k.is_exchange())
            .find(|k| k.as_str() == kind);
        match known {
            Some(StepKind::Http) => serde_json::from_value(Value::Object(fields))
                .map(|e| Expect::Http(Box::new(e)))
                .map_err(D::Error::custom),
            Some(kind) => Ok(Expect::Exchange { kind, fields }),
            None => {
                let kinds: Vec<&str> = StepKind::ALL
                    .iter()
                    .filter(|k| k.is_exchange())
                    .map(|k| k.as_str())
                    .collect();
                Err(D::Error::custom(format!(
                    "`expect.kind` {kind:?} is not an exchange kind ({})",
                    kinds.join(", ")
                )))
            }
        }
    }
}

impl Expect {
    /// The exchange kind the plugin must plan.
    pub(crate) fn kind(&self) -> StepKind {
        match self {
            Expect::Http(_) => StepKind::Http,
            Expect::Exchange { kind, .. } => *kind,
        }
    }
}

/// The parts of a planned HTTP request that matter; unlisted parts are not compared.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RequestExpect {
    pub(crate) method: Option<String>,
    pub(crate) url: Option<Matcher>,
    /// By name, case-insensitive; the first header of that name is compared.
    pub(crate) headers: BTreeMap<String, Matcher>,
    /// The raw body.
    pub(crate) body: Option<Matcher>,
    /// The body parsed as JSON, compared whole.
    pub(crate) json: Option<Value>,
    /// The body parsed as `application/x-www-form-urlencoded`, by parameter.
    pub(crate) form: BTreeMap<String, Matcher>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) share: Option<Matcher>,
    pub(crate) purpose: Option<Matcher>,
    pub(crate) timeout_ms: Option<u64>,
    /// Strings that must be listed for redaction (others may be too).
    pub(crate) redact: Vec<String>,
}

/// `respond:` — the vendor's answer: an HTTP answer (`status`, `headers`, `json` or
/// `body`), or the answer of another exchange (`redis`, `sql`, `mqtt` or `nats`, in the form
/// of the ABI's answer types).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResponseSpec {
    #[serde(default)]
    pub(crate) status: Option<u16>,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) json: Option<Value>,
    #[serde(default, deserialize_with = "via_json")]
    pub(crate) redis: Option<RedisReply>,
    #[serde(default, deserialize_with = "via_json")]
    pub(crate) sql: Option<SqlResult>,
    #[serde(default, deserialize_with = "via_json")]
    pub(crate) mqtt: Option<MqttResult>,
    #[serde(default, deserialize_with = "via_json")]
    pub(crate) nats: Option<NatsReplies>,
}

/// Reads an answer type through its JSON form: YAML's own enum syntax is tags (`!integer
/// 1`), where the ABI's types (and JSON) write a map (`{integer: 1}`).
fn via_json<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<Value>::deserialize(d)?;
    value
        .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
        .transpose()
}

impl ResponseSpec {
    /// The exchange kind this answers.
    fn kind(&self) -> Result<StepKind, String> {
        let http = self.status.is_some()
            || !self.headers.is_empty()
            || self.json.is_some()
            || self.body.is_some();
        let kinds: Vec<StepKind> = [
            (http, StepKind::Http),
            (self.redis.is_some(), StepKind::Redis),
            (self.sql.is_some(), StepKind::Sql),
            (self.mqtt.is_some(), StepKind::Mqtt),
            (self.nats.is_some(), StepKind::Nats),
        ]
        .into_iter()
        .filter_map(|(given, kind)| given.then_some(kind))
        .collect();
        match kinds.as_slice() {
            [StepKind::Http] if self.status.is_none() => {
                Err("an HTTP answer needs `status`".into())
            }
            [one] => Ok(*one),
            [] => Err(
                "`respond` is empty: give `status` (HTTP), `redis`, `sql`, `mqtt` or `nats`".into(),
            ),
            _ => Err("`respond` mixes the answers of several exchange kinds".into()),
        }
    }

    /// Header names lowercased, as the host passes them.
    pub(crate) fn raw_headers(&self) -> Vec<(String, Vec<u8>)> {
        self.headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone().into_bytes()))
            .collect()
    }

    pub(crate) fn body_bytes(&self) -> Vec<u8> {
        match (&self.json, &self.body) {
            (Some(json), _) => json.to_string().into_bytes(),
            (None, Some(body)) => body.clone().into_bytes(),
            (None, None) => Vec::new(),
        }
    }
}

impl StepSpec {
    /// The step's own rules: `respond` or `retry`, and an answer of the kind expected.
    pub(crate) fn check(&self, n: usize) -> Result<(), String> {
        match (&self.respond, self.retry) {
            (Some(_), Some(_)) => return Err(format!("step {n} has both `respond` and `retry`")),
            (None, None) => return Err(format!("step {n} needs `respond` or `retry`")),
            (Some(r), None) => {
                if r.json.is_some() && r.body.is_some() {
                    return Err(format!("step {n}: `respond` has both `json` and `body`"));
                }
                let answers = r.kind().map_err(|e| format!("step {n}: {e}"))?;
                if answers != self.expect.kind() {
                    return Err(format!(
                        "step {n}: `respond` answers a {} exchange, but `expect` is a {} one",
                        answers.as_str(),
                        self.expect.kind().as_str()
                    ));
                }
            }
            (None, Some(_)) => {}
        }
        if let Expect::Http(expect) = &self.expect {
            if expect.json.is_some() && !expect.form.is_empty() {
                return Err(format!("step {n}: `expect` has both `json` and `form`"));
            }
        }
        Ok(())
    }
}
