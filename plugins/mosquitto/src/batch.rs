//! The dynamic-security command batches this adapter publishes, and their correlation
//! strings.

use serde::Serialize;
use sever_plugin_sdk::prelude::*;

/// Where commands are published (QoS 1).
pub(crate) const CONTROL_TOPIC: &str = "$CONTROL/dynamic-security/v1";
/// Where the plugin publishes every answer, to every subscriber (QoS 0).
pub(crate) const RESPONSE_TOPIC: &str = "$CONTROL/dynamic-security/v1/response";

/// One dynsec command of a batch, as the plugin reads it (fields in the order the
/// contract writes them; absent ones left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Command {
    pub(crate) command: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verbose: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    #[serde(rename = "correlationData")]
    pub(crate) correlation: String,
}

#[derive(Serialize)]
struct Batch<'a> {
    commands: &'a [Command],
}

/// What a batch is made of, before correlation strings are drawn for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// `listClients`, every record, verbose (their `clientid` and `disabled` flags).
    List,
    /// `disableClient` of each user, each followed by its `enableClient` when `reenable`.
    Disable { users: Vec<String>, reenable: bool },
}

impl Plan {
    /// The commands, with correlation strings drawn from `env`'s random bytes: a prefix
    /// of 96 random bits, then the command's position (`sever-<24 hex>-1`, `-2`…), so each
    /// retry of a batch has strings of its own and a late answer to an earlier attempt
    /// is never taken for this one.
    pub(crate) fn commands(&self, env: &Env) -> Vec<Command> {
        let prefix: String = env.random[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut n = 0;
        let mut next = |command: &'static str, username: Option<String>| {
            n += 1;
            Command {
                command,
                username,
                verbose: None,
                count: None,
                offset: None,
                correlation: format!("sever-{prefix}-{n}"),
            }
        };
        match self {
            Plan::List => {
                let mut list = next("listClients", None);
                list.verbose = Some(true);
                list.count = Some(-1);
                list.offset = Some(0);
                vec![list]
            }
            Plan::Disable { users, reenable } => {
                let mut commands = Vec::new();
                for user in users {
                    commands.push(next("disableClient", Some(user.clone())));
                    if *reenable {
                        commands.push(next("enableClient", Some(user.clone())));
                    }
                }
                commands
            }
        }
    }

    pub(crate) fn purpose(&self) -> &'static str {
        match self {
            Plan::List => "list dynsec clients",
            Plan::Disable { reenable: true, .. } => "disable and re-enable dynsec client",
            Plan::Disable {
                reenable: false, ..
            } => "disable dynsec client",
        }
    }
}

/// The MQTT exchange of a batch. The plugin answers a whole batch in one message, so the
/// first command's correlation string is enough for the host to pick that message out of
/// the answers other admins' commands get on the same topic (the adapter reads every
/// command's answer from it). Disabling or enabling twice has the effect of once, and
/// listing changes nothing: every batch may be retried.
pub(crate) fn request(plan: &Plan, commands: &[Command]) -> MqttRequest {
    // A struct of strings and numbers always serializes.
    let payload = serde_json::to_string(&Batch { commands }).unwrap_or_default();
    MqttRequest {
        topic: CONTROL_TOPIC.to_owned(),
        qos: 1,
        payload,
        response_topic: RESPONSE_TOPIC.to_owned(),
        correlation: commands
            .first()
            .map(|c| vec![c.correlation.clone()])
            .unwrap_or_default(),
        exchange: Exchange {
            idempotent: true,
            purpose: Some(plan.purpose().to_owned()),
            ..Exchange::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(byte: u8) -> Env {
        Env {
            unix_ms: 0,
            random: [byte; 32],
        }
    }

    #[test]
    fn a_batch_is_the_contracts_json_with_one_correlation_string_per_command() {
        let plan = Plan::Disable {
            users: vec!["dev \"1\"".into()],
            reenable: true,
        };
        let commands = plan.commands(&env(0xab));
        let r = request(&plan, &commands);
        let c = "sever-abababababababababababab";
        assert_eq!(
            r.payload,
            format!(
                r#"{{"commands":[{{"command":"disableClient","username":"dev \"1\"","correlationData":"{c}-1"}},{{"command":"enableClient","username":"dev \"1\"","correlationData":"{c}-2"}}]}}"#
            )
        );
        assert_eq!(r.correlation, [format!("{c}-1")]);
        assert_eq!((r.topic.as_str(), r.qos), (CONTROL_TOPIC, 1));
        assert_eq!(r.response_topic, RESPONSE_TOPIC);
        assert!(r.exchange.idempotent);
    }

    #[test]
    fn the_list_asks_for_every_record_verbosely() {
        let commands = Plan::List.commands(&env(1));
        let r = request(&Plan::List, &commands);
        assert_eq!(
            r.payload,
            r#"{"commands":[{"command":"listClients","verbose":true,"count":-1,"offset":0,"correlationData":"sever-010101010101010101010101-1"}]}"#
        );
    }

    #[test]
    fn other_random_bytes_give_other_correlation_strings() {
        let a = Plan::List.commands(&env(1));
        let b = Plan::List.commands(&env(2));
        assert_ne!(a[0].correlation, b[0].correlation);
    }
}
