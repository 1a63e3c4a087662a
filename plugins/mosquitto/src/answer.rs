//! Reading the broker's answers to a batch: the reason codes of the connection and of the
//! publish, then the plugin's `responses[]` items by correlation string.

use serde_json::{Map, Value};
use sever_plugin_sdk::prelude::*;

use crate::batch::{Command, RESPONSE_TOPIC};

/// Errors only a wrong command from Sever can cause: answered `upstream_rejected`.
const SEVER_BUGS: [&str; 8] = [
    "Invalid/missing username",
    "Username not valid UTF-8",
    "Unknown command",
    "Invalid correlationData data type.",
    "Payload not valid JSON",
    "Invalid/missing commands",
    "Missing command",
    "Command not an object",
];

/// The plugin's answer to one command.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub(crate) command: String,
    pub(crate) error: Option<String>,
    pub(crate) data: Option<Value>,
}

/// The answers to `commands`, in their order (`None` for a command the answer skipped),
/// or the problem the reason codes or the messages mean. The first command always has
/// its answer when this returns `Ok`.
pub(crate) fn responses(
    result: &MqttResult,
    commands: &[Command],
    purpose: &str,
) -> Result<Vec<Option<Item>>, Problem> {
    if result.connack_reason != 0 {
        return Err(reason_problem("CONNACK", result.connack_reason, purpose));
    }
    if result.puback_reason >= 0x80 {
        return Err(reason_problem("PUBACK", result.puback_reason, purpose));
    }
    if result.messages.is_empty() {
        return Err(Problem::new(
            ProblemKind::Timeout,
            format!("mosquitto sent no answer to {purpose} on {RESPONSE_TOPIC}"),
        ));
    }
    let mut items: Vec<(String, Item)> = Vec::new();
    let mut uncorrelated: Vec<Item> = Vec::new();
    let mut readable = false;
    for message in &result.messages {
        let Some(Value::Array(responses)) = serde_json::from_str::<Value>(message)
            .ok()
            .and_then(|v| v.get("responses").cloned())
        else {
            continue;
        };
        readable = true;
        for response in responses {
            let text = |key: &str| response.get(key).and_then(Value::as_str).map(str::to_owned);
            let item = Item {
                command: text("command").unwrap_or_default(),
                error: text("error"),
                data: response.get("data").cloned(),
            };
            match text("correlationData") {
                Some(correlation) => items.push((correlation, item)),
                // Refusals of a whole batch carry no correlation data ("Payload not valid
                // JSON"; "Invalid correlationData data type." skips the rest).
                None if item.error.is_some() => uncorrelated.push(item),
                None => {}
            }
        }
    }
    let found: Vec<Option<Item>> = commands
        .iter()
        .map(|c| {
            items
                .iter()
                .find(|(correlation, _)| *correlation == c.correlation)
                .map(|(_, item)| item.clone())
        })
        .collect();
    match found.first() {
        Some(Some(_)) => Ok(found),
        _ => {
            // Only our own batch can have been refused as a whole in an answer handed to us.
            let refusal = uncorrelated.iter().find_map(|item| {
                let error = item.error.as_deref()?;
                SEVER_BUGS.contains(&error).then_some((item, error))
            });
            if let Some((item, error)) = refusal {
                return Err(command_error(item, error, "of the batch"));
            }
            let excerpt = result
                .messages
                .first()
                .map(|m| vendor::excerpt(m.as_bytes()))
                .unwrap_or_default();
            let what = if readable {
                "has no response to our command"
            } else {
                "is not a dynamic-security answer"
            };
            let mut vendor = Map::new();
            vendor.insert("message".into(), Value::from(excerpt.as_str()));
            Err(Problem::new(
                ProblemKind::Unreadable,
                format!("mosquitto's answer to {purpose} {what}: {excerpt}"),
            )
            .with_vendor(vendor))
        }
    }
}

/// The problem for an `error` the plugin answered a command with.
pub(crate) fn command_error(item: &Item, error: &str, subject: &str) -> Problem {
    let error = vendor::clean(error);
    let command = vendor::clean(&item.command);
    let (kind, detail) = if error == "Client not found" {
        (
            ProblemKind::TargetNotFound,
            format!("mosquitto has no dynsec client {subject}: {error}"),
        )
    } else if SEVER_BUGS.contains(&error.as_str()) {
        (
            ProblemKind::Rejected,
            format!("mosquitto refused {command} for {subject} (a Sever bug): {error}"),
        )
    } else {
        (
            ProblemKind::VendorError,
            format!("mosquitto failed {command} for {subject}: {error}"),
        )
    };
    Problem::new(kind, detail).with_vendor(error_vendor(&command, &error))
}

/// `vendor` for a dynsec error: its text is the plugin's only code.
pub(crate) fn error_vendor(command: &str, error: &str) -> Map<String, Value> {
    let mut vendor = Map::new();
    vendor.insert("code".into(), Value::from(error));
    vendor.insert("message".into(), Value::from(error));
    vendor.insert("command".into(), Value::from(command));
    vendor
}

/// The problem a refusing reason code means (MQTT 5: 0x80 and above are failures).
fn reason_problem(packet: &str, code: u8, purpose: &str) -> Problem {
    let (name, kind) = match (packet, code) {
        (_, 0x87) => ("Not authorized", ProblemKind::CredentialsRefused),
        ("CONNACK", 0x86) => ("Bad User Name or Password", ProblemKind::CredentialsRefused),
        ("CONNACK", 0x8A) => ("Banned", ProblemKind::CredentialsRefused),
        ("CONNACK", 0x8C) => ("Bad authentication method", ProblemKind::CredentialsRefused),
        ("CONNACK", 0x88) => ("Server unavailable", ProblemKind::Unavailable),
        ("CONNACK", 0x89) => ("Server busy", ProblemKind::Unavailable),
        ("CONNACK", 0x9C) => ("Use another server", ProblemKind::Unavailable),
        ("CONNACK", 0x9D) => ("Server moved", ProblemKind::Unavailable),
        ("CONNACK", 0x9F) => ("Connection rate exceeded", ProblemKind::RateLimited),
        ("CONNACK", 0x85) => ("Client Identifier not valid", ProblemKind::Rejected),
        ("CONNACK", 0x84) => ("Unsupported Protocol Version", ProblemKind::Rejected),
        (_, 0x97) => ("Quota exceeded", ProblemKind::RateLimited),
        ("PUBACK", 0x90) => ("Topic Name invalid", ProblemKind::Rejected),
        ("PUBACK", 0x91) => ("Packet Identifier in use", ProblemKind::Rejected),
        ("PUBACK", 0x99) => ("Payload format invalid", ProblemKind::Rejected),
        (_, 0x80) => ("Unspecified error", ProblemKind::VendorError),
        (_, 0x83) => ("Implementation specific error", ProblemKind::VendorError),
        _ => ("another reason", ProblemKind::VendorError),
    };
    let code_text = format!("0x{code:02X}");
    let detail = match kind {
        ProblemKind::CredentialsRefused => format!(
            "mosquitto refused Sever's admin credentials or ACL ({packet} {code_text} {name}) \
             for {purpose}"
        ),
        _ => format!("mosquitto answered {packet} {code_text} ({name}) to {purpose}"),
    };
    let mut vendor = Map::new();
    vendor.insert("code".into(), Value::from(code_text));
    vendor.insert("message".into(), Value::from(name));
    vendor.insert("packet".into(), Value::from(packet));
    let mut problem = Problem::new(kind, detail).with_vendor(vendor);
    problem.retryable = kind == ProblemKind::Unavailable;
    problem
}
